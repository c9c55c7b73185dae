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
#include "providers/story_sheet.h"

#define STORY__MAX_IMAGE (32u << 20)

typedef struct {
    flows_t *f;
    jobs_run_t *run;
    flows_story_t *st;
    prov_call_t *call;
    flows_narration_t *narr;
    size_t written;  /* bytes of screened text sent as story.delta */
    size_t received; /* bytes the writer produced in this attempt */
    int last_pct;
    bool reported;
    /* safety (issue 12) */
    prov_story_spec_t spec; /* the screened request; strings in the arena */
    safety_record_t rec;    /* what the screen did, kept with the story */
    int attempt;            /* 1 after a blocked output was written again */
    bool fallback;          /* the composer writes from a fallback theme */
    bool stream_live;       /* deltas still reach the client */
    bool title_blocked;
    buf_t pending; /* streamed text waiting for a sentence end before it is screened */
    const char *store_title, *characters_json, *questions_json, *safety_json;
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
    buf_free(&s->pending);
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
    buf_free(&s->pending);
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

static void story__generate(story__t *s);
static void story__extras(story__t *s);

/* Adds src to the story's safety record; a step that only dropped or softened an input never
 * counts as a fallback (the story itself still follows the request). */
static void story__record(story__t *s, const safety_record_t *src, bool cap_at_rewritten)
{
    safety_record_t r = *src;
    if (cap_at_rewritten && r.action == SAFETY_RECORD_FALLBACK) r.action = SAFETY_RECORD_REWRITTEN;
    safety_record_merge(&s->rec, &r);
}

static void story__record_filter(story__t *s, safety_record_action_t action)
{
    safety_record_t r = {.action = action, .reasons = 1u << SAFETY_CAT_MODEL_FILTER};
    safety_record_merge(&s->rec, &r);
}

/* Screens one short input inline (prompts are at most a few kilobytes: microseconds of work).
 * Returns the text to use in the run's arena, or NULL when the input must be dropped (drop_blocked)
 * -- otherwise a blocked input becomes the fallback theme. */
static const char *story__screen_input(story__t *s, const char *text, bool drop_blocked,
                                       bool *fallback)
{
    if (!text || !*text) return text;
    safety_screen_t out;
    safety_screen_prompt(s->f->safety, text, strlen(text), s->st->template_name, &out);
    bool blocked = out.record.action == SAFETY_RECORD_FALLBACK;
    story__record(s, &out.record, drop_blocked);
    const char *use = NULL;
    if (!blocked || !drop_blocked) use = arena_strndup(&s->run->arena, out.text, out.len);
    if (fallback) *fallback = blocked;
    safety_screen_free(&out);
    return use;
}

/* Screens a short output (a generated title, a sheet entry) inline: the text to show, or NULL
 * when it is blocked. */
static const char *story__screen_short(story__t *s, const char *text)
{
    if (!text || !*text) return text;
    safety_verdict_t v;
    const char *use = NULL;
    if (safety_check(s->f->safety, text, strlen(text), &v) == 0) {
        if (v.action == SAFETY_ALLOW)
            use = text;
        else if (v.action == SAFETY_REWRITE && v.rewritten)
            use = arena_strndup(&s->run->arena, v.rewritten, v.rewritten_len);
        if (v.action != SAFETY_ALLOW) {
            safety_record_t r = {.action = SAFETY_RECORD_REWRITTEN, .reasons = v.categories};
            safety_record_merge(&s->rec, &r);
        }
    }
    safety_verdict_free(&v);
    return use;
}

static void story__text_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    story__t *s = arg;
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)run->user_id);
    if (story__is(s, FLOW_REGENERATE)) {
        /* The old text becomes a revision in the same statement that replaces it, and the
         * scenes drawn from it are marked stale (their pictures stay). */
        const char *p[10] = {run->story_id,  uid,           s->new_text,       s->system_prompt,
                             s->provider,    s->model,      s->questions_json, s->characters_json,
                             s->safety_json, s->store_title};
        db_tx_query(tx,
                    "WITH old AS (SELECT id, story_text, prompt, template FROM stories WHERE id = "
                    "$1 FOR UPDATE), rev AS (INSERT INTO story_revisions (story_id, story_text, "
                    "prompt, template, reason, created_by) SELECT id, story_text, prompt, "
                    "template, 'regenerate', NULLIF($2::bigint, 0) FROM old WHERE "
                    "old.story_text <> '' AND old.story_text <> $3), sc AS (UPDATE story_scenes "
                    "SET status = 'stale' WHERE story_id = $1 AND status <> 'stale') "
                    "UPDATE stories s SET story_text = $3, system_prompt_used = $4, provider = "
                    "$5, model = $6, questions = $7::jsonb, characters = $8::jsonb, safety = "
                    "$9::jsonb, title = coalesce($10, s.title) FROM old WHERE s.id = old.id",
                    10, p, NULL, NULL, NULL);
    } else {
        const char *p[9] = {run->story_id,      s->new_text,    s->system_prompt,
                            s->provider,        s->model,       s->questions_json,
                            s->characters_json, s->safety_json, s->store_title};
        db_tx_query(tx,
                    "UPDATE stories SET story_text = $2, system_prompt_used = $3, provider = $4, "
                    "model = $5, questions = $6::jsonb, characters = $7::jsonb, safety = "
                    "$8::jsonb, title = coalesce($9, title) WHERE id = $1",
                    9, p, NULL, NULL, NULL);
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
    /* Events go to the owner's own streams only, so the record may travel with them. */
    json_key(g, "safety");
    safety_record_to_json(&s->rec, g);
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

/* Sends the screened part of the pending streamed text: everything up to the last sentence end
 * (or all of it at the end). A sentence that the screen would block stops the live text for this
 * attempt; the finished story, screened as a whole, replaces it when story.ready arrives. */
static void story__flush(story__t *s, bool all)
{
    buf_t *b = &s->pending;
    if (!s->stream_live || !b->len) return;
    size_t cut = 0;
    if (all) {
        cut = b->len;
    } else {
        for (size_t i = b->len; i > 0; i--) {
            char c = b->data[i - 1];
            if (c == '\n' ||
                ((c == ' ' || c == '"') && i >= 2 &&
                 (b->data[i - 2] == '.' || b->data[i - 2] == '!' || b->data[i - 2] == '?'))) {
                cut = i;
                break;
            }
        }
        /* A run-on "sentence" is not held back forever. */
        if (!cut && b->len > 2000) {
            for (size_t i = b->len; i > 0 && !cut; i--)
                if (b->data[i - 1] == ' ') cut = i;
        }
    }
    if (!cut) return;
    safety_verdict_t v;
    int rc = safety_check(s->f->safety, b->data, cut, &v);
    if (rc != 0 || v.action == SAFETY_BLOCK || !s->f->safety) {
        s->stream_live = false;
    } else {
        const char *out = v.action == SAFETY_REWRITE && v.rewritten ? v.rewritten : b->data;
        size_t n = v.action == SAFETY_REWRITE && v.rewritten ? v.rewritten_len : cut;
        jobs_run_delta(s->run, out, n, s->written);
        s->written += n;
    }
    safety_verdict_free(&v);
    buf_consume(b, cut);
}

static void story__delta(const char *text, size_t len, void *arg)
{
    story__t *s = arg;
    s->received += len;
    if (s->stream_live) {
        if (buf_append(&s->pending, text, len) != 0)
            s->stream_live = false;
        else
            story__flush(s, false);
    }
    /* Progress from 15 to 58 by the share of the expected length written, every 5%. */
    size_t expect = (size_t)(s->st->max_word_count > 0 ? s->st->max_word_count : 500) * 6;
    int pct = 15 + (int)(43 * (s->received < expect ? s->received : expect) / expect);
    if (pct >= s->last_pct + 5) {
        s->last_pct = pct;
        jobs_run_progress(s->run, pct, "writing");
    }
}

/* The provider's answer broke off mid-stream and is being written again from its start (the
 * aws client retries a throttled or failed stream): the live text starts over too. Its deltas
 * carry their byte offsets, so a delta at offset 0 tells clients to replace what they show. */
static void story__restart(void *arg)
{
    story__t *s = arg;
    log_info("flows", "job %s: the model's answer broke off; it is written again", s->run->id);
    buf_reset(&s->pending);
    s->received = 0;
    s->written = 0;
    s->stream_live = s->attempt == 0 && !s->fallback;
}

/* Replaces the story with one the offline composer writes from a gentle theme. */
static void story__use_fallback(story__t *s, const char *theme)
{
    if (s->fallback) {
        /* The composer's own story was refused: nothing kinder is left to try. */
        story__fail(s, "The story could not be written safely. Please try another idea.", false);
        return;
    }
    s->fallback = true;
    uint64_t seed = (uint64_t)flows_story_seed(s->run->story_id) + (uint64_t)s->attempt;
    if (!theme || !*theme) theme = safety_fallback_theme(s->st->template_name, seed);
    s->spec.prompt = arena_strdup(&s->run->arena, theme);
    s->spec.modifications = NULL;
    s->spec.previous_text = NULL;
    s->spec.image_description = NULL;
    safety_record_t r = {.action = SAFETY_RECORD_FALLBACK};
    safety_record_merge(&s->rec, &r);
    story__generate(s);
}

static void story__screened(safety_step_t step, const safety_screen_t *out, void *arg)
{
    story__t *s = arg;
    if (s->reported || story__stopped(s)) return;
    safety_record_merge(&s->rec, &out->record);
    if (step == SAFETY_STEP_USE && out->text) {
        s->new_text = arena_strndup(&s->run->arena, out->text, out->len);
        story__extras(s);
        return;
    }
    if (s->fallback) {
        story__use_fallback(s, NULL); /* fails: see there */
        return;
    }
    if (step == SAFETY_STEP_REGENERATE && s->attempt == 0) {
        s->attempt = 1;
        story__generate(s);
        return;
    }
    story__use_fallback(s, out->text);
}

static void story__written(int status, const prov_story_result_t *res, void *arg)
{
    story__t *s = arg;
    s->call = NULL;
    if (s->reported) return;
    jobs_run_t *run = s->run;
    if (status == PROV_E_CONTENT_FILTERED && !s->fallback) {
        /* The model's own filter or Bedrock Guardrails stopped it: never an error for the
         * child. A refused request goes straight to a fallback theme; a refused answer is
         * written once more, then replaced. */
        if (story__stopped(s)) return;
        log_info("flows", "job %s: text filtered (%s, attempt %d)", run->id,
                 res->input_blocked ? "input" : "output", s->attempt);
        if (!res->input_blocked && s->attempt == 0) {
            story__record_filter(s, SAFETY_RECORD_REWRITTEN);
            s->attempt = 1;
            story__generate(s);
        } else {
            story__record_filter(s, SAFETY_RECORD_FALLBACK);
            story__use_fallback(s, NULL);
        }
        return;
    }
    if (status != PROV_OK || !res->text || res->len == 0) {
        if (story__stopped(s)) return;
        char msg[400];
        snprintf(msg, sizeof msg, "Writing the story failed (%s%s%s).", prov_status_name(status),
                 res->message && *res->message ? ": " : "", res->message ? res->message : "");
        story__fail(s, msg, status != PROV_OK && prov_status_retryable(status));
        return;
    }
    story__flush(s, true);
    s->provider = arena_strdup(&run->arena, res->provider ? res->provider : "");
    s->model = arena_strdup(&run->arena, res->model ? res->model : "");
    s->title = story__screen_short(s, arena_strdup(&run->arena, res->title ? res->title : ""));
    s->plan_json = res->plan_json ? arena_strdup(&run->arena, res->plan_json) : NULL;
    jobs_run_progress(run, 56, "checking the story");
    int rc = safety_screen_output_async(s->f->cfg.loop, s->f->safety, res->text, res->len,
                                        s->attempt, s->st->template_name, story__screened, s);
    if (rc != 0) story__fail(s, "The story could not be checked.", true);
}

static void story__generate(story__t *s)
{
    if (story__stopped(s)) return;
    jobs_run_t *run = s->run;
    prov_text_t *t = s->fallback ? providers_offline_text(s->f->cfg.providers)
                                 : providers_text(s->f->cfg.providers);
    /* The instructions a model gets, kept with the story as the reference does. */
    buf_t sys, user;
    buf_init(&sys, 1 << 20);
    buf_init(&user, 1 << 20);
    if (prov_story_prompt_build(&s->spec, &sys, &user) == 0 && sys.data)
        s->system_prompt = arena_strndup(&run->arena, sys.data, sys.len);
    else
        s->system_prompt = "";
    buf_free(&sys);
    buf_free(&user);
    /* Only the first attempt streams: a second text must not be appended to the first. */
    s->stream_live = s->attempt == 0 && !s->fallback;
    buf_reset(&s->pending);
    s->received = 0;
    s->last_pct = 15;
    jobs_run_progress(run, 15, s->attempt || s->fallback ? "writing again" : "writing");
    int rc = prov_text_write_story(t, &s->spec, story__delta, story__written, s, &s->call);
    if (rc != 0) story__fail(s, "The text provider could not start.", rc != -EINVAL);
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
    prov_story_spec_t *spec = &s->spec;
    flows_story_spec(s->st, spec);
    spec->on_restart = story__restart;
    if (story__is(s, FLOW_REGENERATE)) {
        const char *mods = json_get_str(run->payload, "modifications");
        spec->modifications =
            mods && *mods ? mods : (s->st->modifications[0] ? s->st->modifications : NULL);
        if (s->st->text[0] && strlen(s->st->text) <= PROV_STORY_MAX_PREVIOUS)
            spec->previous_text = s->st->text;
    }
    /* Everything the family wrote passes the screen before a model sees it. A blocked prompt
     * becomes a gentle fallback theme; blocked changes or a blocked picture description are
     * dropped (the story still follows the prompt). */
    bool prompt_blocked = false, title_blocked = false;
    spec->prompt = story__screen_input(s, spec->prompt, false, &prompt_blocked);
    spec->modifications = story__screen_input(s, spec->modifications, true, NULL);
    spec->image_description = story__screen_input(s, spec->image_description, true, NULL);
    const char *title = story__screen_input(s, s->st->title, true, &title_blocked);
    if (title_blocked)
        s->title_blocked = true;
    else if (title && strcmp(title, s->st->title) != 0)
        s->store_title = title;
    if (prompt_blocked) log_info("flows", "job %s: prompt replaced by a fallback theme", run->id);
    s->attempt = 0;
    story__generate(s);
}

/* ---- character sheet and questions --------------------------------------------------------- */

/* Keeps the entries of the sheet a child may see: each field passes the screen (rewritten when
 * mild); a character or question with a blocked field is dropped. */
static void story__sheet_screen(story__t *s, story_sheet_t *sh)
{
    size_t k = 0;
    for (size_t i = 0; i < sh->n_characters; i++) {
        sheet_character_t *c = &sh->characters[i];
        char *fields[] = {c->name,    c->kind,       c->role,       c->looks,
                          c->clothes, c->colours[0], c->colours[1], c->colours[2]};
        size_t caps[] = {sizeof c->name,       sizeof c->kind,      sizeof c->role,
                         sizeof c->looks,      sizeof c->clothes,   sizeof c->colours[0],
                         sizeof c->colours[1], sizeof c->colours[2]};
        bool ok = true;
        for (size_t f = 0; f < sizeof fields / sizeof fields[0] && ok; f++) {
            const char *use = story__screen_short(s, fields[f]);
            if (!use)
                ok = false;
            else if (use != fields[f])
                snprintf(fields[f], caps[f], "%s", use);
        }
        if (ok) sh->characters[k++] = *c;
    }
    sh->n_characters = k;
    k = 0;
    for (size_t i = 0; i < sh->n_questions; i++) {
        sheet_question_t *q = &sh->questions[i];
        const char *qq = story__screen_short(s, q->question);
        const char *aa = qq ? story__screen_short(s, q->answer) : NULL;
        if (!qq || !aa) continue;
        if (qq != q->question) snprintf(q->question, sizeof q->question, "%s", qq);
        if (aa != q->answer) snprintf(q->answer, sizeof q->answer, "%s", aa);
        sh->questions[k++] = *q;
    }
    sh->n_questions = k;
}

static void story__extras_done(story__t *s, const char *json)
{
    story_sheet_t *sh = arena_calloc(&s->run->arena, sizeof *sh);
    if (json && *json && story_sheet_parse(json, strlen(json), sh) != 0)
        log_warn("flows", "job %s: the character sheet answer was not JSON", s->run->id);
    story__sheet_screen(s, sh);
    yajl_gen g = json_gen_new();
    story_sheet_characters_json(sh, g);
    s->characters_json = flows_gen_string(g, &s->run->arena);
    g = json_gen_new();
    story_sheet_questions_json(sh, g);
    s->questions_json = flows_gen_string(g, &s->run->arena);
    /* A blocked title is replaced by the (screened) title the writer chose. */
    if (s->title_blocked) s->store_title = s->title && *s->title ? s->title : "A Gentle Story";
    if (s->store_title && strlen(s->store_title) > 200)
        s->store_title = arena_strndup(&s->run->arena, s->store_title, 190);
    g = json_gen_new();
    safety_record_to_json(&s->rec, g);
    s->safety_json = flows_gen_string(g, &s->run->arena);
    jobs_run_progress(s->run, 58, "saving text");
    jobs_run_tx(s->run, story__text_build, story__text_saved, s);
}

static void story__extras_cb(int status, const prov_extras_result_t *res, void *arg)
{
    story__t *s = arg;
    s->call = NULL;
    if (s->reported || story__stopped(s)) return;
    if (status != PROV_OK)
        log_warn("flows", "job %s: no character sheet (%s: %s)", s->run->id,
                 prov_status_name(status), res->message ? res->message : "");
    /* The sheet is a help for the pictures and the quiz: the story is kept without it. */
    story__extras_done(s, status == PROV_OK ? res->json : NULL);
}

static void story__extras(story__t *s)
{
    if (s->plan_json) {
        /* The composer planned the characters and questions itself. */
        story__extras_done(s, s->plan_json);
        return;
    }
    jobs_run_progress(s->run, 57, "drawing up the characters");
    int rc = prov_text_story_extras(providers_text(s->f->cfg.providers), &s->spec, s->title,
                                    s->new_text, story__extras_cb, s, &s->call);
    if (rc != 0) story__extras_done(s, NULL);
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
    /* The description is shown to the child (image.described) and goes to the writer: it
     * passes the screen first, and a blocked one is dropped. */
    const char *d = story__screen_input(s, res->text, true, NULL);
    s->st->image_description = d ? d : "";
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
    buf_init(&s->pending, 1u << 20);
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
