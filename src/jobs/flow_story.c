/* flow_story: the create, regenerate and audio jobs (see flows.h). One state machine with the
 * steps describe -> write -> narrate -> ready; the kind decides which steps run. Every step
 * first checks the job's checkpoint, so a retried or resumed job continues where the last
 * attempt committed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "jobs/flows_int.h"
#include "jobs/jobs_internal.h"

#define STORY__MAX_IMAGE (32u << 20)

typedef struct {
    flows_t *f;
    jobs_run_t *run;
    flows_story_t *st;
    prov_call_t *call;
    flows_narration_t *narr;
    size_t written;
    int last_pct;
    bool reported;
    /* step results */
    const char *new_text, *system_prompt, *provider, *model, *plan_json, *title;
    const char *audio_path, *marks_path;
    int64_t duration_ms;
    char old_audio[256], old_marks[256];
    const char *error;
} story__t;

static bool story__is(const story__t *s, const char *kind)
{
    return strcmp(s->run->kind, kind) == 0;
}

static void story__write(story__t *s);
static void story__narrate(story__t *s);

/* ---- ending ---------------------------------------------------------------------------------- */

static void story__fail_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    story__t *s = arg;
    if (!jobs_run_failure_is_final(run, true) && !run->cancel_requested) {
        /* A retry follows: the story stays "generating" with the latest reason. */
        const char *p[2] = {run->story_id, s->error};
        db_tx_query(tx, "UPDATE stories SET status_detail = $2 WHERE id = $1", 2, p, NULL, NULL,
                    NULL);
        return;
    }
    const char *p[2] = {run->story_id, run->cancel_requested ? "Cancelled." : s->error};
    db_tx_query(tx, "UPDATE stories SET status = 'failed', status_detail = $2 WHERE id = $1", 2, p,
                NULL, NULL, NULL);
}

static void story__fail_build_final(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    story__t *s = arg;
    const char *p[2] = {run->story_id, run->cancel_requested ? "Cancelled." : s->error};
    db_tx_query(tx, "UPDATE stories SET status = 'failed', status_detail = $2 WHERE id = $1", 2, p,
                NULL, NULL, NULL);
}

/* Reports a failure once. retryable failures go back to the queue while attempts remain. */
static void story__fail(story__t *s, const char *error, bool retryable)
{
    if (s->reported) return;
    s->reported = true;
    jobs_run_t *run = s->run;
    if (run->stopping || run->lost) retryable = true; /* handed back, not failed */
    s->error = arena_strdup(&run->arena, error);
    jobs_outcome_t o = {.state = "failed",
                        .error = s->error,
                        .retryable = retryable,
                        .build = retryable ? story__fail_build : story__fail_build_final,
                        .arg = s};
    jobs_run_finish(run, &o);
}

static bool story__stopped(story__t *s)
{
    jobs_run_t *run = s->run;
    if (!run->cancel_requested && !run->stopping && !run->lost) return false;
    story__fail(s, run->cancel_requested ? "Cancelled." : "Stopped.", !run->cancel_requested);
    return true;
}

static void story__ready_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    (void)arg;
    const char *p[1] = {run->story_id};
    db_tx_query(tx, "UPDATE stories SET status = 'ready', status_detail = NULL WHERE id = $1", 1, p,
                NULL, NULL, NULL);
}

static void story__succeed(story__t *s)
{
    if (s->reported) return;
    s->reported = true;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "story_id", s->run->story_id);
    if (s->audio_path) json_kv_str(g, "audio_file", s->audio_path);
    yajl_gen_map_close(g);
    jobs_outcome_t o = {.state = "succeeded",
                        .result_json = flows_gen_string(g, &s->run->arena),
                        .build = story__ready_build,
                        .arg = s};
    jobs_run_finish(s->run, &o);
}

/* ---- narrate --------------------------------------------------------------------------------- */

static void story__old_audio(db_result_t *res, void *arg)
{
    story__t *s = arg;
    if (db_result_status(res) != DB_OK || db_result_nrows(res) != 1) return;
    jobs__copy(s->old_audio, sizeof s->old_audio, db_result_get(res, 0, 0));
    jobs__copy(s->old_marks, sizeof s->old_marks, db_result_get(res, 0, 1));
}

static void story__audio_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    story__t *s = arg;
    char dur[24];
    snprintf(dur, sizeof dur, "%lld", (long long)s->duration_ms);
    const char *p[4] = {run->story_id, s->audio_path, s->marks_path, dur};
    db_tx_query(tx,
                "WITH old AS (SELECT id, coalesce(audio_file, '') AS a, coalesce(marks_file, '') "
                "AS m FROM stories WHERE id = $1 FOR UPDATE) UPDATE stories s SET audio_file = "
                "$2, marks_file = $3, audio_duration_ms = $4::int FROM old WHERE s.id = old.id "
                "RETURNING old.a, old.m",
                4, p, story__old_audio, s, NULL);
    jobs_tx_checkpoint(run, tx, "{\"audio_done\":true}");
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "audio_url", flows_media_url(s->f, run, s->audio_path));
    json_kv_str(g, "audio_file", s->audio_path);
    json_kv_str(g, "marks_url", flows_media_url(s->f, run, s->marks_path));
    json_kv_int(g, "duration_ms", s->duration_ms);
    yajl_gen_map_close(g);
    jobs_tx_event(tx, run->user_id, run->story_id, run->id, "audio.ready",
                  flows_gen_string(g, &run->arena));
}

static void story__audio_saved(jobs_run_t *run, int status, void *arg)
{
    story__t *s = arg;
    if (status != DB_OK) {
        story__fail(s, "The narration could not be saved.", true);
        return;
    }
    /* The story points at the new files: the replaced ones can go. */
    const char *a = strcmp(s->old_audio, s->audio_path) != 0 ? s->old_audio : NULL;
    const char *m = strcmp(s->old_marks, s->marks_path) != 0 ? s->old_marks : NULL;
    flows_remove_files(s->f, a, m);
    (void)run;
    story__succeed(s);
}

static void story__narrated(int status, const char *message, const char *audio_path,
                            const char *marks_path, int64_t duration_ms, void *arg)
{
    story__t *s = arg;
    s->narr = NULL;
    if (s->reported) return;
    if (status != 0) {
        if (story__stopped(s)) return;
        bool retry = status <= PROV_E_UNAVAILABLE && status >= PROV_E_NOT_SUPPORTED
                         ? prov_status_retryable(status)
                         : status != -EINVAL;
        story__fail(s, message ? message : "The narration failed.", retry);
        return;
    }
    s->audio_path = audio_path;
    s->marks_path = marks_path;
    s->duration_ms = duration_ms;
    jobs_run_tx(s->run, story__audio_build, story__audio_saved, s);
}

static void story__narrate(story__t *s)
{
    if (story__stopped(s)) return;
    if (jobs_run_checkpoint_bool(s->run, "audio_done")) {
        story__succeed(s);
        return;
    }
    if (!s->st->text[0]) {
        story__fail(s, "Story has no content. Please regenerate the story first.", false);
        return;
    }
    jobs_run_progress(s->run, 60, "narrating");
    int rc = flows_narrate(s->f, s->run, s->st, story__narrated, s, &s->narr);
    if (rc != 0 && !s->reported)
        story__fail(s,
                    rc == -ENOTSUP ? "No speech provider is configured."
                                   : "The narration could not start.",
                    rc != -ENOTSUP && rc != -EINVAL);
}

/* ---- write ----------------------------------------------------------------------------------- */

static void story__text_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    story__t *s = arg;
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)run->user_id);
    if (story__is(s, FLOW_REGENERATE)) {
        /* The old text becomes a revision in the same statement that replaces it, and the
         * scenes drawn from it are marked stale (their pictures stay). */
        const char *p[7] = {run->story_id, uid,      s->new_text, s->system_prompt,
                            s->provider,   s->model, s->plan_json};
        db_tx_query(tx,
                    "WITH old AS (SELECT id, story_text, prompt, template FROM stories WHERE id = "
                    "$1 FOR UPDATE), rev AS (INSERT INTO story_revisions (story_id, story_text, "
                    "prompt, template, reason, created_by) SELECT id, story_text, prompt, "
                    "template, 'regenerate', NULLIF($2::bigint, 0) FROM old WHERE "
                    "old.story_text <> '' AND old.story_text <> $3), sc AS (UPDATE story_scenes "
                    "SET status = 'stale' WHERE story_id = $1 AND status <> 'stale') "
                    "UPDATE stories s SET story_text = $3, system_prompt_used = $4, provider = "
                    "$5, model = $6, questions = coalesce(($7::jsonb) -> 'questions', "
                    "s.questions) FROM old WHERE s.id = old.id",
                    7, p, NULL, NULL, NULL);
    } else {
        const char *p[6] = {run->story_id, s->new_text, s->system_prompt,
                            s->provider,   s->model,    s->plan_json};
        db_tx_query(tx,
                    "UPDATE stories SET story_text = $2, system_prompt_used = $3, provider = $4, "
                    "model = $5, questions = coalesce(($6::jsonb) -> 'questions', questions) "
                    "WHERE id = $1",
                    6, p, NULL, NULL, NULL);
    }
    jobs_tx_checkpoint(run, tx, "{\"text_done\":true}");
    size_t words = 0;
    for (const char *c = s->new_text; *c; c++)
        if ((*c == ' ' || *c == '\n') && c[1] && c[1] != ' ' && c[1] != '\n') words++;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "title", s->title ? s->title : "");
    json_kv_int(g, "words", (int64_t)words + 1);
    json_kv_str(g, "provider", s->provider);
    json_kv_str(g, "model", s->model);
    yajl_gen_map_close(g);
    jobs_tx_event(tx, run->user_id, run->story_id, run->id, "story.ready",
                  flows_gen_string(g, &run->arena));
}

static void story__text_saved(jobs_run_t *run, int status, void *arg)
{
    story__t *s = arg;
    (void)run;
    if (status != DB_OK) {
        story__fail(s, "The story text could not be saved.", true);
        return;
    }
    s->st->text = s->new_text;
    story__narrate(s);
}

static void story__delta(const char *text, size_t len, void *arg)
{
    story__t *s = arg;
    jobs_run_delta(s->run, text, len, s->written);
    s->written += len;
    /* Progress from 15 to 58 by the share of the expected length written, every 5%. */
    size_t expect = (size_t)(s->st->max_word_count > 0 ? s->st->max_word_count : 500) * 6;
    int pct = 15 + (int)(43 * (s->written < expect ? s->written : expect) / expect);
    if (pct >= s->last_pct + 5) {
        s->last_pct = pct;
        jobs_run_progress(s->run, pct, "writing");
    }
}

static void story__written(int status, const prov_story_result_t *res, void *arg)
{
    story__t *s = arg;
    s->call = NULL;
    if (s->reported) return;
    jobs_run_t *run = s->run;
    if (status != PROV_OK || !res->text || res->len == 0) {
        if (story__stopped(s)) return;
        char msg[400];
        snprintf(msg, sizeof msg, "Writing the story failed (%s%s%s).", prov_status_name(status),
                 res->message && *res->message ? ": " : "", res->message ? res->message : "");
        story__fail(s, msg, status != PROV_OK && prov_status_retryable(status));
        return;
    }
    s->new_text = arena_strndup(&run->arena, res->text, res->len);
    s->provider = arena_strdup(&run->arena, res->provider ? res->provider : "");
    s->model = arena_strdup(&run->arena, res->model ? res->model : "");
    s->title = arena_strdup(&run->arena, res->title ? res->title : "");
    s->plan_json = res->plan_json ? arena_strdup(&run->arena, res->plan_json) : NULL;
    jobs_run_progress(run, 58, "saving text");
    jobs_run_tx(run, story__text_build, story__text_saved, s);
}

static void story__write(story__t *s)
{
    if (story__stopped(s)) return;
    jobs_run_t *run = s->run;
    if (story__is(s, FLOW_AUDIO) || jobs_run_checkpoint_bool(run, "text_done")) {
        story__narrate(s);
        return;
    }
    if (!s->f->cfg.providers) {
        story__fail(s, "No text provider is configured.", false);
        return;
    }
    prov_story_spec_t spec;
    flows_story_spec(s->st, &spec);
    if (story__is(s, FLOW_REGENERATE)) {
        const char *mods = json_get_str(run->payload, "modifications");
        spec.modifications =
            mods && *mods ? mods : (s->st->modifications[0] ? s->st->modifications : NULL);
        if (s->st->text[0] && strlen(s->st->text) <= PROV_STORY_MAX_PREVIOUS)
            spec.previous_text = s->st->text;
    }
    /* The instructions a model gets, kept with the story as the reference does. */
    buf_t sys, user;
    buf_init(&sys, 1 << 20);
    buf_init(&user, 1 << 20);
    if (prov_story_prompt_build(&spec, &sys, &user) == 0 && sys.data)
        s->system_prompt = arena_strndup(&run->arena, sys.data, sys.len);
    else
        s->system_prompt = "";
    buf_free(&sys);
    buf_free(&user);
    s->written = 0;
    s->last_pct = 15;
    jobs_run_progress(run, 15, "writing");
    int rc = prov_text_write_story(providers_text(s->f->cfg.providers), &spec, story__delta,
                                   story__written, s, &s->call);
    if (rc != 0) story__fail(s, "The text provider could not start.", rc != -EINVAL);
}

/* ---- describe -------------------------------------------------------------------------------- */

static void story__desc_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    story__t *s = arg;
    const char *p[2] = {run->story_id, s->st->image_description};
    db_tx_query(tx, "UPDATE stories SET image_description = $2 WHERE id = $1", 2, p, NULL, NULL,
                NULL);
    jobs_tx_checkpoint(run, tx, "{\"described\":true}");
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "description", s->st->image_description);
    yajl_gen_map_close(g);
    jobs_tx_event(tx, run->user_id, run->story_id, run->id, "image.described",
                  flows_gen_string(g, &run->arena));
}

static void story__desc_saved(jobs_run_t *run, int status, void *arg)
{
    (void)run;
    story__t *s = arg;
    if (status != DB_OK) {
        story__fail(s, "The picture description could not be saved.", true);
        return;
    }
    story__write(s);
}

static void story__described(int status, const prov_vision_result_t *res, void *arg)
{
    story__t *s = arg;
    s->call = NULL;
    if (s->reported) return;
    if (story__stopped(s)) return;
    if (status != PROV_OK || !res->text || !*res->text) {
        /* A picture we cannot describe does not stop the story: it is written without it. */
        log_warn("flows", "job %s: picture not described: %s", s->run->id,
                 res && res->message ? res->message : prov_status_name(status));
        yajl_gen g = json_gen_new();
        yajl_gen_map_open(g);
        json_kv_str(g, "description", "");
        json_kv_str(g, "error",
                    res && res->message && *res->message ? res->message : prov_status_name(status));
        yajl_gen_map_close(g);
        jobs_run_event(s->run, "image.described", flows_gen_string(g, &s->run->arena));
        story__write(s);
        return;
    }
    s->st->image_description = arena_strdup(&s->run->arena, res->text);
    jobs_run_tx(s->run, story__desc_build, story__desc_saved, s);
}

static void story__image_read(int status, uint8_t *data, size_t len, void *arg)
{
    story__t *s = arg;
    if (s->reported) {
        free(data);
        return;
    }
    if (status != 0 || story__stopped(s)) {
        free(data);
        if (!s->reported) {
            log_warn("flows", "job %s: story picture unreadable (%d)", s->run->id, status);
            story__write(s);
        }
        return;
    }
    jobs_run_progress(s->run, 5, "describing the picture");
    int rc = prov_vision_describe(providers_vision(s->f->cfg.providers), data, len,
                                  story__described, s, &s->call);
    free(data);
    if (rc != 0) story__write(s);
}

static void story__describe(story__t *s)
{
    jobs_run_t *run = s->run;
    if (story__is(s, FLOW_AUDIO) || !s->st->image[0] || s->st->image_description[0] ||
        jobs_run_checkpoint_bool(run, "described") || !s->f->cfg.providers) {
        story__write(s);
        return;
    }
    if (flows_file_read(s->f, s->st->image, STORY__MAX_IMAGE, story__image_read, s) != 0)
        story__write(s);
}

/* ---- start ----------------------------------------------------------------------------------- */

static void story__marked(jobs_run_t *run, int status, void *arg)
{
    (void)run;
    story__t *s = arg;
    if (status != DB_OK) {
        story__fail(s, "The story could not be updated.", true);
        return;
    }
    story__describe(s);
}

static void story__mark_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    (void)arg;
    const char *p[1] = {run->story_id};
    db_tx_query(tx, "UPDATE stories SET status = 'generating', status_detail = NULL WHERE id = $1",
                1, p, NULL, NULL, NULL);
}

static void story__loaded(jobs_run_t *run, int status, flows_story_t *st, void *arg)
{
    story__t *s = arg;
    if (status == -ENOENT) {
        story__fail(s, "The story was deleted.", false);
        return;
    }
    if (status != 0) {
        story__fail(s, "The story could not be read.", true);
        return;
    }
    s->st = st;
    if (story__is(s, FLOW_AUDIO) && !st->text[0]) {
        story__fail(s, "Story has no content. Please regenerate the story first.", false);
        return;
    }
    jobs_run_tx(run, story__mark_build, story__marked, s);
}

void flows__story_start(jobs_run_t *run)
{
    story__t *s = arena_calloc(&run->arena, sizeof *s);
    s->f = run->ctx;
    s->run = run;
    run->data = s;
    jobs_run_progress(run, 1, "starting");
    flows_story_load(s->f, run, story__loaded, s);
}

void flows__story_cancel(jobs_run_t *run)
{
    story__t *s = run->data;
    if (!s || s->reported) return;
    if (s->narr) {
        flows_narrate_cancel(s->narr); /* reports through story__narrated */
        return;
    }
    if (s->call) {
        prov_cancel(s->call);
        s->call = NULL;
        story__stopped(s);
    }
    /* Otherwise a statement or file operation is in flight: its callback sees the flags. */
}

void flows__story_dead(jobs_engine_t *e, const jobs_dead_t *d, void *ctx)
{
    (void)ctx;
    if (!d->story_id || !*d->story_id) return;
    const char *p[2] = {d->story_id, d->error ? d->error : "The generation failed."};
    db_query(jobs_engine_db(e),
             "UPDATE stories SET status = 'failed', status_detail = $2 WHERE id = $1 AND status = "
             "'generating'",
             2, p, NULL, NULL, NULL);
}

const jobs_handler_t flows__create_handler = {
    .kind = FLOW_CREATE,
    .start = flows__story_start,
    .cancel = flows__story_cancel,
    .dead = flows__story_dead,
};
const jobs_handler_t flows__regenerate_handler = {
    .kind = FLOW_REGENERATE,
    .start = flows__story_start,
    .cancel = flows__story_cancel,
    .dead = flows__story_dead,
};
const jobs_handler_t flows__audio_handler = {
    .kind = FLOW_AUDIO,
    .start = flows__story_start,
    .cancel = flows__story_cancel,
    .dead = flows__story_dead,
};
