/* flow_scenes: generate_scenes. The parent job parses the parts, upserts one scene row per part
 * (keeping existing pictures), removes scenes the new text no longer has, and enqueues one
 * child job per scene in the same transaction, then waits. Each child has its own attempts
 * and the provider's model fallback chain; a child that fails marks only its scene failed.
 * A child's new picture goes to a new file; the scene row points at it in the transaction
 * that finishes the child, and the previous picture is removed only after that commit. The
 * last child to end settles the parent: succeeded, partial or failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "jobs/flows_int.h"
#include "jobs/jobs_internal.h"
#include "jobs/scene_parse.h"
#include "media/paths.h"
#include "media/store.h"
#include "providers/story_sheet.h"

/* ---- parent -----------------------------------------------------------------------------------
 */

typedef struct {
    flows_t *f;
    jobs_run_t *run;
    const char *parts_json; /* [{"n":1,"t":"...","title":"..."}] */
    size_t nparts;
    char **removed; /* pictures of scenes the new text no longer has */
    size_t nremoved;
    bool only; /* the request named scene_numbers: only those are drawn, the rest stay as is */
    bool reported;
} scenes__t;

static void scenes__fail(scenes__t *s, const char *error, bool retryable)
{
    if (s->reported) return;
    s->reported = true;
    if (s->run->stopping || s->run->lost) retryable = true;
    jobs_run_fail(s->run, error, retryable);
}

static void scenes__removed_rows(db_result_t *res, void *arg)
{
    scenes__t *s = arg;
    if (db_result_status(res) != DB_OK) return;
    int n = db_result_nrows(res);
    s->removed = arena_calloc(&s->run->arena, (size_t)(n + 1) * sizeof *s->removed);
    s->nremoved = 0;
    for (int i = 0; i < n; i++)
        if (!db_result_is_null(res, i, 0))
            s->removed[s->nremoved++] = arena_strdup(&s->run->arena, db_result_get(res, i, 0));
}

static void scenes__build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    scenes__t *s = arg;
    char uid[24], ma[16];
    snprintf(uid, sizeof uid, "%lld", (long long)run->user_id);
    snprintf(ma, sizeof ma, "%d", run->max_attempts);
    const char *p2[2] = {run->story_id, s->parts_json};
    db_tx_query(tx,
                "INSERT INTO story_scenes (story_id, scene_number, scene_text, status, error) "
                "SELECT $1, u.n, u.t, 'pending', NULL FROM jsonb_to_recordset($2::jsonb) AS "
                "u(n int, t text, title text) ON CONFLICT (story_id, scene_number) DO UPDATE SET "
                "scene_text = EXCLUDED.scene_text, status = 'pending', error = NULL",
                2, p2, NULL, NULL, NULL);
    if (!s->only)
        db_tx_query(tx,
                    "DELETE FROM story_scenes WHERE story_id = $1 AND scene_number NOT IN (SELECT "
                    "(e ->> 'n')::int FROM jsonb_array_elements($2::jsonb) e) RETURNING image",
                    2, p2, scenes__removed_rows, s, NULL);
    const char *p5[5] = {run->story_id, uid, run->id, ma, s->parts_json};
    db_tx_query(tx,
                "INSERT INTO jobs (kind, story_id, user_id, parent_id, scene_number, max_attempts, "
                "payload) SELECT 'scene', $1::uuid, $2::bigint, $3::uuid, u.n, $4::int, "
                "jsonb_build_object('title', u.title) FROM jsonb_to_recordset($5::jsonb) AS "
                "u(n int, t text, title text) ON CONFLICT (parent_id, scene_number) WHERE "
                "parent_id IS NOT NULL DO NOTHING",
                5, p5, NULL, NULL, NULL);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "count", (int64_t)s->nparts);
    yajl_gen_map_close(g);
    jobs_tx_event(tx, run->user_id, run->story_id, run->id, "scene.queued",
                  flows_gen_string(g, &run->arena));
}

static void scenes__committed(jobs_run_t *run, int status, void *arg)
{
    (void)run;
    scenes__t *s = arg;
    if (status != DB_OK) return;
    for (size_t i = 0; i < s->nremoved; i++)
        flows_remove_files(s->f, s->removed[i], NULL);
}

static void scenes__loaded(jobs_run_t *run, int status, flows_story_t *st, void *arg)
{
    scenes__t *s = arg;
    if (status == -ENOENT) {
        scenes__fail(s, "The story was deleted.", false);
        return;
    }
    if (status != 0) {
        scenes__fail(s, "The story could not be read.", true);
        return;
    }
    if (run->cancel_requested || run->stopping || run->lost) {
        scenes__fail(s, run->cancel_requested ? "Cancelled." : "Stopped.", !run->cancel_requested);
        return;
    }
    int max = st->story_parts > 0 ? st->story_parts : 5;
    if (max > SCENE_PARSE_MAX_PARTS) max = SCENE_PARSE_MAX_PARTS;
    scene_parts_t parts;
    if (scene_parse(st->text, strlen(st->text), max, &parts) != 0) {
        scenes__fail(s, "The story could not be split into scenes.", true);
        return;
    }
    if (parts.n == 0) {
        scene_parts_free(&parts);
        scenes__fail(s, "Story has no content. Please generate a story first.", false);
        return;
    }
    /* scene_numbers in the payload: redraw only those scenes (a failed one, say); the others
     * keep their rows and pictures. Numbers the text does not have are ignored. */
    yajl_val only = json_get(run->payload, "scene_numbers");
    s->only = only && YAJL_IS_ARRAY(only);
    yajl_gen g = json_gen_new();
    yajl_gen_array_open(g);
    size_t kept = 0;
    for (size_t i = 0; i < parts.n; i++) {
        if (s->only) {
            bool wanted = false;
            for (size_t k = 0; k < only->u.array.len && !wanted; k++) {
                yajl_val v = only->u.array.values[k];
                wanted = YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) == parts.parts[i].number;
            }
            if (!wanted) continue;
        }
        kept++;
        yajl_gen_map_open(g);
        json_kv_int(g, "n", parts.parts[i].number);
        json_kv_str(g, "t", parts.parts[i].text);
        json_kv_str(g, "title", parts.parts[i].title);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    s->parts_json = flows_gen_string(g, &run->arena);
    s->nparts = kept;
    scene_parts_free(&parts);
    if (kept == 0) {
        scenes__fail(s, "The story has none of the scenes asked for.", false);
        return;
    }
    jobs_run_progress(run, 10, "scenes queued");
    s->reported = true;
    jobs_run_wait_children(run, scenes__build, scenes__committed, s);
}

void flows__scenes_start(jobs_run_t *run)
{
    scenes__t *s = arena_calloc(&run->arena, sizeof *s);
    s->f = run->ctx;
    s->run = run;
    run->data = s;
    flows_story_load(s->f, run, scenes__loaded, s);
}

void flows__scenes_cancel(jobs_run_t *run)
{
    (void)run; /* only statements are in flight: their callbacks check the flags */
}

/* ---- child: one scene ------------------------------------------------------------------------ */

typedef struct {
    flows_t *f;
    jobs_run_t *run;
    flows_story_t *st;
    const char *scene_text, *title;
    flows__waiter_t slot;
    bool has_slot;
    struct scene__delay *delay;
    prov_call_t *call;
    uint8_t *png;
    size_t png_len;
    char path[MEDIA_STORY_PATH_MAX];
    char old_image[256];
    char prompt[2048];
    const char *provider, *model;
    const char *error;
    /* issue 12: the story's sheet, the characters of this scene, the story's seed, and what
     * the image model's moderation said */
    story_sheet_t sheet;
    prov_character_t chars[PROV_IMAGE_MAX_CHARACTERS];
    size_t nchars;
    char chars_text[1024];
    int64_t seed;
    bool softened;
    const char *moderation; /* JSON object, or NULL when the model never refused */
    bool reported;
    bool writing;
    bool final; /* the failure being reported ends the job */
} scene__t;

static void scene__release(scene__t *s)
{
    if (s->has_slot) {
        s->has_slot = false;
        flows_image_release(s->f);
    }
    flows_image_forget(s->f, &s->slot);
    free(s->png);
    s->png = NULL;
}

static void scene__fail_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    scene__t *s = arg;
    char n[16];
    snprintf(n, sizeof n, "%d", run->scene_number);
    const char *p[4] = {run->story_id, n, s->error, s->moderation};
    if (!s->final) {
        db_tx_query(
            tx,
            "UPDATE story_scenes SET status = 'pending', error = $3, moderation = "
            "coalesce($4::jsonb, moderation) WHERE story_id = $1 AND scene_number = $2::int",
            4, p, NULL, NULL, NULL);
        return;
    }
    db_tx_query(tx,
                "UPDATE story_scenes SET status = 'failed', error = $3, moderation = "
                "coalesce($4::jsonb, moderation) WHERE story_id = $1 AND scene_number = $2::int",
                4, p, NULL, NULL, NULL);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "scene_number", run->scene_number);
    json_kv_str(g, "error", s->error);
    yajl_gen_map_close(g);
    jobs_tx_event(tx, run->user_id, run->story_id, run->id, "scene.failed",
                  flows_gen_string(g, &run->arena));
}

static void scene__parent_progress(jobs_run_t *run, db_tx_t *tx)
{
    const char *p[1] = {run->parent_id};
    db_tx_query(tx,
                "WITH k AS (SELECT count(*) FILTER (WHERE state IN ('succeeded', 'failed', "
                "'cancelled', 'partial')) + 1 AS done, count(*) AS total FROM jobs WHERE "
                "parent_id = $1), u AS (UPDATE jobs p SET progress = least(99, 10 + (89 * k.done "
                "/ greatest(k.total, 1))::int), step = 'drawing scenes', updated_at = now() FROM k "
                "WHERE p.id = $1 AND p.state = 'waiting' RETURNING p.id, p.user_id, p.story_id, "
                "p.progress) SELECT job_event(u.user_id, u.story_id, u.id, 'job.progress', "
                "jsonb_build_object('percent', u.progress, 'step', 'drawing scenes', 'kind', "
                "'scenes', 'done', k.done, 'total', k.total)) FROM u, k",
                1, p, NULL, NULL, NULL);
}

static void scene__fail_build_final(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    scene__fail_build(run, tx, arg);
    if (run->parent_id[0]) scene__parent_progress(run, tx);
}

static void scene__fail_build_any(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    scene__t *s = arg;
    if (s->final)
        scene__fail_build_final(run, tx, arg);
    else
        scene__fail_build(run, tx, arg);
}

static void scene__fail(scene__t *s, const char *error, bool retryable)
{
    if (s->reported) return;
    s->reported = true;
    scene__release(s);
    jobs_run_t *run = s->run;
    if (run->stopping || run->lost) retryable = true;
    s->error = arena_strdup(&run->arena, error);
    s->final = jobs_run_failure_is_final(run, retryable);
    jobs_outcome_t o = {.state = "failed",
                        .error = s->error,
                        .retryable = retryable,
                        .build = scene__fail_build_any,
                        .arg = s};
    jobs_run_finish(run, &o);
}

static bool scene__stopped(scene__t *s)
{
    jobs_run_t *run = s->run;
    if (!run->cancel_requested && !run->stopping && !run->lost) return false;
    scene__fail(s, run->cancel_requested ? "Cancelled." : "Stopped.", !run->cancel_requested);
    return true;
}

static void scene__old_image(db_result_t *res, void *arg)
{
    scene__t *s = arg;
    if (db_result_status(res) == DB_OK && db_result_nrows(res) == 1)
        jobs__copy(s->old_image, sizeof s->old_image, db_result_get(res, 0, 0));
}

static void scene__ready_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    scene__t *s = arg;
    char n[16];
    snprintf(n, sizeof n, "%d", run->scene_number);
    char seed[24];
    snprintf(seed, sizeof seed, "%lld", (long long)s->seed);
    const char *p[8] = {run->story_id, n,        s->path, s->prompt,
                        s->provider,   s->model, seed,    s->moderation};
    db_tx_query(tx,
                "WITH old AS (SELECT id, coalesce(image, '') AS image FROM story_scenes WHERE "
                "story_id = $1 AND scene_number = $2::int FOR UPDATE) UPDATE story_scenes c SET "
                "image = $3, status = 'ready', error = NULL, prompt_used = $4, provider = $5, "
                "model = $6, seed = $7::bigint, moderation = $8::jsonb FROM old WHERE c.id = "
                "old.id RETURNING old.image",
                8, p, scene__old_image, s, NULL);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "scene_number", run->scene_number);
    json_kv_str(g, "image_url", flows_media_url(s->f, run, s->path));
    json_kv_str(g, "image", s->path);
    yajl_gen_map_close(g);
    jobs_tx_event(tx, run->user_id, run->story_id, run->id, "scene.ready",
                  flows_gen_string(g, &run->arena));
    if (run->parent_id[0]) scene__parent_progress(run, tx);
}

static void scene__ready_done(jobs_run_t *run, int status, void *arg)
{
    (void)run;
    scene__t *s = arg;
    /* Only now does the row point at the new picture: the old one can go. A failed commit
     * leaves the new file for the retry, which writes the same name. */
    if (status == DB_OK && s->old_image[0] && strcmp(s->old_image, s->path) != 0)
        flows_remove_files(s->f, s->old_image, NULL);
}

static void scene__written(int status, void *arg)
{
    scene__t *s = arg;
    s->writing = false;
    free(s->png);
    s->png = NULL;
    if (s->reported) return;
    if (status != 0) {
        scene__fail(s, "The picture could not be saved.", true);
        return;
    }
    if (scene__stopped(s)) return;
    s->reported = true;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "scene_number", s->run->scene_number);
    json_kv_str(g, "image", s->path);
    yajl_gen_map_close(g);
    jobs_outcome_t o = {.state = "succeeded",
                        .result_json = flows_gen_string(g, &s->run->arena),
                        .build = scene__ready_build,
                        .done = scene__ready_done,
                        .arg = s};
    jobs_run_finish(s->run, &o);
}

static void scene__slot(void *arg);

/* The characters of this scene from the story's sheet: those named in its title or text, and
 * the main character (the sheet's first) on every page. */
static void scene__characters(scene__t *s)
{
    char *haystack = arena_printf(&s->run->arena, "%s\n%s", s->title ? s->title : "",
                                  s->scene_text ? s->scene_text : "");
    bool take[SHEET_MAX_CHARACTERS] = {false};
    if (s->sheet.n_characters) take[0] = true;
    for (int i = story_sheet_find_in(&s->sheet, haystack, 0); i >= 0;
         i = story_sheet_find_in(&s->sheet, haystack, (size_t)i + 1))
        take[i] = true;
    size_t len = 0;
    s->chars_text[0] = '\0';
    s->nchars = 0;
    for (size_t i = 0; i < s->sheet.n_characters && s->nchars < PROV_IMAGE_MAX_CHARACTERS; i++) {
        if (!take[i]) continue;
        const sheet_character_t *c = &s->sheet.characters[i];
        prov_character_t *pc = &s->chars[s->nchars++];
        memset(pc, 0, sizeof *pc);
        pc->name = c->name;
        pc->kind = c->kind;
        for (size_t k = 0; k < c->n_colours && k < 3; k++)
            pc->colours[k] = c->colours[k];
        char entry[512];
        story_sheet_entry(c, entry, sizeof entry);
        if (len + strlen(entry) + 3 < sizeof s->chars_text)
            len += (size_t)snprintf(s->chars_text + len, sizeof s->chars_text - len, "%s%s",
                                    len ? "; " : "", entry);
    }
}

/* Writes s->prompt: the sheet, the style words and the scene, screened once more (a story's
 * words were screened when it was written; this catches what a sheet or a cut may add). */
static int scene__prompt(scene__t *s, bool softened)
{
    prov_image_t *im = providers_image(s->f->cfg.providers);
    size_t limit = scene_prompt_limit(prov_image_name(im), prov_image_model(im));
    safety_style_t style;
    safety_scene_style(prov_image_model(im), &style);
    s->softened = softened;
    for (int round = 0; round < 2; round++) {
        scene_prompt_t sp = {.template_name = s->st->template_name,
                             .title = s->title,
                             .text = s->scene_text,
                             .characters = s->chars_text,
                             .style = style.style,
                             .softened = s->softened};
        if (scene_prompt_compose(&sp, limit, s->prompt, sizeof s->prompt) < 0) return -EINVAL;
        safety_verdict_t v;
        int rc = safety_check(s->f->safety, s->prompt, strlen(s->prompt), &v);
        safety_action_t a = rc == 0 && s->f->safety ? v.action : SAFETY_BLOCK;
        if (a == SAFETY_REWRITE && v.rewritten && v.rewritten_len <= limit)
            snprintf(s->prompt, sizeof s->prompt, "%s", v.rewritten);
        safety_verdict_free(&v);
        if (a == SAFETY_ALLOW || a == SAFETY_REWRITE) return 0;
        /* Blocked: the scene's own words go, the title and the characters stay. */
        s->softened = true;
    }
    /* Even the softened words were refused: a plain, calm picture of the template. */
    scene_prompt_t plain = {
        .template_name = s->st->template_name, .style = style.style, .softened = true};
    return scene_prompt_compose(&plain, limit, s->prompt, sizeof s->prompt) < 0 ? -EINVAL : 0;
}

static void scene__rendered(int status, prov_image_result_t *res, void *arg)
{
    scene__t *s = arg;
    s->call = NULL;
    if (s->has_slot) {
        s->has_slot = false;
        flows_image_release(s->f);
    }
    if (s->reported) return;
    if (status == PROV_E_CONTENT_FILTERED && !scene__stopped(s)) {
        /* The model's moderation refused the picture: noted on the scene, and tried once more
         * with a softened prompt; a second refusal ends the scene (another attempt or model
         * must not get around it). */
        bool again = !s->softened;
        yajl_gen g = json_gen_new();
        yajl_gen_map_open(g);
        json_kv_bool(g, "moderated", true);
        json_kv_bool(g, "retried", s->softened || again);
        json_kv_str(g, "message", res->message ? res->message : "");
        json_kv_str(g, "model", res->model ? res->model : "");
        yajl_gen_map_close(g);
        s->moderation = flows_gen_string(g, &s->run->arena);
        log_info("flows", "job %s: picture moderated%s", s->run->id,
                 again ? ", trying a softened prompt" : " again");
        if (again && scene__prompt(s, true) == 0) {
            flows_image_acquire(s->f, &s->slot, scene__slot, s);
            return;
        }
        scene__fail(s, "The picture was held back by the image model's safety filter.", false);
        return;
    }
    if (status != PROV_OK || !res->png) {
        if (scene__stopped(s)) return;
        char msg[400];
        snprintf(msg, sizeof msg, "The picture could not be made (%s%s%s).",
                 prov_status_name(status), res->message && *res->message ? ": " : "",
                 res->message ? res->message : "");
        scene__fail(s, msg, status != PROV_OK && prov_status_retryable(status));
        return;
    }
    s->png = res->png;
    s->png_len = res->len;
    res->png = NULL;
    s->provider = arena_strdup(&s->run->arena, res->provider ? res->provider : "");
    s->model = arena_strdup(&s->run->arena, res->model ? res->model : "");
    if (scene__stopped(s)) return;
    int64_t ts = flows_job_ts(s->run);
    if (media_path_story_file(s->path, sizeof s->path, s->st->created_unix, s->run->story_id,
                              MEDIA_KIND_SCENE, (unsigned)s->run->scene_number, ts, NULL) < 0) {
        scene__fail(s, "The picture could not be named.", false);
        return;
    }
    jobs_run_progress(s->run, 80, "saving the picture");
    s->writing = true;
    if (media_store_write(s->f->cfg.loop, s->f->media_dir, s->path, s->png, s->png_len,
                          scene__written, s) != 0) {
        s->writing = false;
        scene__fail(s, "The picture could not be saved.", true);
    }
}

static void scene__render(scene__t *s)
{
    if (scene__stopped(s)) return;
    if (s->f->fail_word && strstr(s->scene_text, s->f->fail_word)) {
        scene__fail(s, "The picture could not be made (test: forced failure).", false);
        return;
    }
    prov_image_spec_t spec;
    memset(&spec, 0, sizeof spec);
    spec.prompt = s->prompt;
    spec.prompt_complete = true;
    spec.characters = s->chars;
    spec.ncharacters = s->nchars;
    safety_style_t style;
    safety_scene_style(prov_image_model(providers_image(s->f->cfg.providers)), &style);
    spec.negative_prompt = style.negative ? style.negative : scene_negative_prompt();
    spec.template_name = s->st->template_name;
    spec.scene_number = s->run->scene_number;
    spec.caption = s->title && *s->title ? s->title : NULL;
    if (s->f->cfg.test_image_delay_ms > 0) {
        /* Testing aid: the delay stands in for the model, so the picture itself is small. */
        spec.width = 128;
        spec.height = 192;
    }
    /* One seed per story keeps its pages in one style. */
    spec.seed = s->seed;
    jobs_run_progress(s->run, 20, "drawing");
    int rc = prov_image_render(providers_image(s->f->cfg.providers), &spec, scene__rendered, s,
                               &s->call);
    if (rc != 0) {
        if (s->has_slot) {
            s->has_slot = false;
            flows_image_release(s->f);
        }
        scene__fail(s, "The image provider could not start.", rc != -EINVAL);
    }
}

/* The testing delay's timer is malloc'd: a cancelled scene may be freed before the timer's
 * close callback runs, which then only frees the timer. */
struct scene__delay {
    uv_timer_t t;
    scene__t *s; /* NULL once orphaned by a cancellation */
};

static void scene__delay_closed(uv_handle_t *h)
{
    struct scene__delay *d = h->data;
    scene__t *s = d->s;
    free(d);
    if (!s) return;
    s->delay = NULL;
    scene__render(s);
}

static void scene__delay_fired(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, scene__delay_closed);
}

static void scene__slot(void *arg)
{
    scene__t *s = arg;
    s->has_slot = true;
    if (s->f->cfg.test_image_delay_ms > 0) {
        /* Testing aid: stands in for a model's latency, holding the slot like a real call. */
        struct scene__delay *d = calloc(1, sizeof *d);
        if (d) {
            d->s = s;
            s->delay = d;
            uv_timer_init(s->f->cfg.loop, &d->t);
            d->t.data = d;
            uv_timer_start(&d->t, scene__delay_fired, (uint64_t)s->f->cfg.test_image_delay_ms, 0);
            return;
        }
    }
    scene__render(s);
}

static void scene__started(jobs_run_t *run, int status, void *arg)
{
    scene__t *s = arg;
    if (status != DB_OK) {
        scene__fail(s, "The scene could not be updated.", true);
        return;
    }
    if (scene__stopped(s)) return;
    if (s->st->characters && *s->st->characters)
        story_sheet_parse_characters(s->st->characters, strlen(s->st->characters), &s->sheet);
    scene__characters(s);
    s->seed = flows_story_seed(s->run->story_id);
    if (scene__prompt(s, false) != 0) {
        scene__fail(s, "The picture prompt could not be written.", false);
        return;
    }
    (void)run;
    flows_image_acquire(s->f, &s->slot, scene__slot, s);
}

static void scene__start_build(jobs_run_t *run, db_tx_t *tx, void *arg)
{
    (void)arg;
    char n[16];
    snprintf(n, sizeof n, "%d", run->scene_number);
    const char *p[2] = {run->story_id, n};
    db_tx_query(tx,
                "UPDATE story_scenes SET status = 'generating' WHERE story_id = $1 AND "
                "scene_number = $2::int",
                2, p, NULL, NULL, NULL);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "scene_number", run->scene_number);
    json_kv_int(g, "attempt", run->attempt);
    yajl_gen_map_close(g);
    jobs_tx_event(tx, run->user_id, run->story_id, run->id, "scene.started",
                  flows_gen_string(g, &run->arena));
}

static void scene__row(db_result_t *res, void *arg)
{
    scene__t *s = arg;
    if (db_result_status(res) != DB_OK) {
        scene__fail(s, "The scene could not be read.", true);
        return;
    }
    if (db_result_nrows(res) != 1) {
        scene__fail(s, "The scene was removed.", false);
        return;
    }
    s->scene_text = arena_strdup(&s->run->arena, db_result_get(res, 0, 0));
    jobs_run_tx(s->run, scene__start_build, scene__started, s);
}

static void scene__loaded(jobs_run_t *run, int status, flows_story_t *st, void *arg)
{
    scene__t *s = arg;
    if (status == -ENOENT) {
        scene__fail(s, "The story was deleted.", false);
        return;
    }
    if (status != 0) {
        scene__fail(s, "The story could not be read.", true);
        return;
    }
    if (!s->f->cfg.providers) {
        scene__fail(s, "No image provider is configured.", false);
        return;
    }
    s->st = st;
    char n[16];
    snprintf(n, sizeof n, "%d", run->scene_number);
    const char *p[2] = {run->story_id, n};
    if (db_query(s->f->cfg.db,
                 "SELECT scene_text FROM story_scenes WHERE story_id = $1 AND scene_number = "
                 "$2::int",
                 2, p, scene__row, s, NULL) != 0)
        scene__fail(s, "The scene could not be read.", true);
}

void flows__scene_start(jobs_run_t *run)
{
    scene__t *s = arena_calloc(&run->arena, sizeof *s);
    s->f = run->ctx;
    s->run = run;
    run->data = s;
    s->title = json_get_str(run->payload, "title");
    flows_story_load(s->f, run, scene__loaded, s);
}

void flows__scene_cancel(jobs_run_t *run)
{
    scene__t *s = run->data;
    if (!s || s->reported) return;
    if (s->call) {
        prov_cancel(s->call);
        s->call = NULL;
        scene__stopped(s);
        return;
    }
    if (s->slot.queued) {
        flows_image_forget(s->f, &s->slot);
        scene__stopped(s);
        return;
    }
    if (s->delay) {
        struct scene__delay *d = s->delay;
        s->delay = NULL;
        d->s = NULL;
        uv_timer_stop(&d->t);
        if (!uv_is_closing((uv_handle_t *)&d->t))
            uv_close((uv_handle_t *)&d->t, scene__delay_closed);
        scene__stopped(s);
    }
}

void flows__scene_dead(jobs_engine_t *e, const jobs_dead_t *d, void *ctx)
{
    (void)ctx;
    if (!d->story_id || !*d->story_id) return;
    char n[16];
    snprintf(n, sizeof n, "%d", d->scene_number);
    const char *err = d->error && *d->error ? d->error : "The picture could not be made.";
    const char *p[3] = {d->story_id, n, err};
    db_query(jobs_engine_db(e),
             "UPDATE story_scenes SET status = 'failed', error = $3 WHERE story_id = $1 AND "
             "scene_number = $2::int AND status <> 'ready'",
             3, p, NULL, NULL, NULL);
    char data[600];
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "scene_number", d->scene_number);
    json_kv_str(g, "error", err);
    yajl_gen_map_close(g);
    const unsigned char *out;
    size_t len;
    yajl_gen_get_buf(g, &out, &len);
    snprintf(data, sizeof data, "%.*s", (int)len, (const char *)out);
    yajl_gen_free(g);
    jobs_event_emit(e, d->user_id, d->story_id, d->id, "scene.failed", data, NULL, NULL);
}

const jobs_handler_t flows__scenes_handler = {
    .kind = FLOW_SCENES,
    .start = flows__scenes_start,
    .cancel = flows__scenes_cancel,
    .dead = NULL,
};
const jobs_handler_t flows__scene_handler = {
    .kind = FLOW_SCENE,
    .start = flows__scene_start,
    .cancel = flows__scene_cancel,
    .dead = flows__scene_dead,
};
