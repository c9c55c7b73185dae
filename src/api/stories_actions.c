/* stories_actions: the per-story actions of the reference API: revisions (list, and our
 * restore), regenerate, generate_audio, generate_scenes (validated here, then handed to the
 * pipeline's hooks, see stories.h), and the voice-session pair. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/pagination.h"
#include "api/story_json.h"
#include "api/stories.h"
#include "api/stories_int.h"
#include "core/json.h"

/* ---- loading a story for an action ---------------------------------------------------------- */

static void load__done(http_req_t *req, db_result_t *res, void *ctx)
{
    stories_ctx_t *c = ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    c->title = arena_strdup(&req->arena, db_result_get_by_name(res, 0, "title"));
    c->text = arena_strdup(&req->arena, db_result_get_by_name(res, 0, "story_text"));
    const char *cu = db_result_get_by_name(res, 0, "created_unix");
    c->created_unix = strtoll(cu ? cu : "0", NULL, 10);
    c->next(req, c);
}

void stories_load(http_req_t *req, stories_ctx_t *c)
{
    c->id = req->params[0];
    const char *params[3] = {c->id, stories_int(req, c->user->id),
                             c->user->is_superuser ? "t" : "f"};
    stories_q(req,
              "SELECT s.title, s.story_text, extract(epoch FROM s.created_at)::bigint AS "
              "created_unix FROM stories s WHERE s.id = $1 AND " STORIES_VISIBLE,
              3, params, load__done, c);
}

stories_ctx_t *stories_ctx_new(http_req_t *req, const api_user_t *user)
{
    stories_ctx_t *c = arena_calloc(&req->arena, sizeof *c);
    c->user = user;
    return c;
}

static bool stories__blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\n' && *s != '\r' && *s != '\t') return false;
    return true;
}

static void stories__unavailable(http_req_t *req)
{
    api_respond_error_only(req, 503, "generation unavailable");
}

/* ---- revisions ------------------------------------------------------------------------------ */

typedef struct {
    api_page_t page;
} rev__t;

static void rev__done(http_req_t *req, db_result_t *res, void *ctx)
{
    rev__t *r = ctx;
    if (api_db_failed(req, res)) return;
    int n = db_result_nrows(res);
    if (n < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    bool empty = db_result_get_by_name(res, 0, "id") == NULL;
    if (!api_page_check_rows(req, &r->page, empty ? 0 : n)) return;
    const char *total = db_result_get_by_name(res, 0, "total_count");
    yajl_gen g = json_gen_new();
    api_page_open(g, req, &r->page, strtoll(total ? total : "0", NULL, 10));
    for (int i = 0; !empty && i < n; i++) {
        yajl_gen_map_open(g);
        json_kv_str(g, "id", db_result_get_by_name(res, i, "id"));
        json_kv_str(g, "story", req->params[0]);
        json_kv_str(g, "story_text", db_result_get_by_name(res, i, "story_text"));
        json_kv_str(g, "created_at", db_result_get_by_name(res, i, "created_at"));
        const char *by = db_result_get_by_name(res, i, "created_by");
        if (by)
            json_kv_int(g, "created_by", strtoll(by, NULL, 10));
        else
            json_kv_null(g, "created_by");
        json_kv_str(g, "created_by_name", db_result_get_by_name(res, i, "created_by_name"));
        json_kv_str(g, "prompt", db_result_get_by_name(res, i, "prompt"));
        json_kv_str(g, "template", db_result_get_by_name(res, i, "template"));
        json_kv_str(g, "reason", db_result_get_by_name(res, i, "reason"));
        yajl_gen_map_close(g);
    }
    api_page_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void rev__authed(http_req_t *req, const api_user_t *user)
{
    rev__t *r = arena_calloc(&req->arena, sizeof *r);
    if (!api_page_parse(req, NULL, 0, "r.created_at DESC", "r.id DESC", 10, &r->page)) return;
    const char *params[5] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f", r->page.limit_s, r->page.offset_s};
    /* One row per revision of the page, or one row of NULLs for a visible story without any:
     * no row at all means 404. */
    stories_q(req,
              "SELECT r.id, r.story_text, r.prompt, r.template, r.reason, r.created_by, "
              "r.created_by_name, r.created_at, (SELECT count(*) FROM story_revisions x WHERE "
              "x.story_id = s.id) AS total_count FROM stories s LEFT JOIN LATERAL (SELECT rv.id, "
              "rv.story_text, rv.prompt, rv.template, rv.reason, rv.created_by, cu.username AS "
              "created_by_name, " API_ISO_UTC(
                  "rv.created_at") " AS created_at FROM "
                                   "story_revisions rv LEFT JOIN users cu ON cu.id = rv.created_by "
                                   "WHERE rv.story_id = "
                                   "s.id ORDER BY rv.created_at DESC, rv.id DESC LIMIT $4 OFFSET "
                                   "$5) r ON true WHERE "
                                   "s.id = $1 AND " STORIES_VISIBLE,
              5, params, rev__done, r);
}

void api_stories_revisions(http_req_t *req)
{
    api_auth(req, true, rev__authed);
}

/* POST /api/stories/{id}/revisions/{rev}/restore/: the revision's text, prompt and template
 * become the story's again; the text they replace is kept as a revision (reason "restore"). */
static void restore__replaced(db_result_t *res, void *arg)
{
    stories_ctx_t *c = arg;
    http_req_t *req = c->req;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    story_respond(req, c->user, c->id, 200, "Revision restored successfully");
}

static void restore__found(http_req_t *req, db_result_t *res, void *ctx)
{
    stories_ctx_t *c = ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    app_t *app = req->app;
    c->req = req;
    if (stories_replace_text(app->db, c->id, c->user->id, "restore",
                             arena_strdup(&req->arena, db_result_get(res, 0, 0)),
                             arena_strdup(&req->arena, db_result_get(res, 0, 1)),
                             arena_strdup(&req->arena, db_result_get(res, 0, 2)), restore__replaced,
                             c) != 0)
        api_db_unavailable(req);
}

static void restore__authed(http_req_t *req, const api_user_t *user)
{
    stories_ctx_t *c = stories_ctx_new(req, user);
    c->id = req->params[0];
    const char *params[4] = {c->id, stories_int(req, user->id), user->is_superuser ? "t" : "f",
                             req->params[1]};
    stories_q(req,
              "SELECT r.story_text, r.prompt, r.template FROM stories s JOIN story_revisions r ON "
              "r.story_id = s.id WHERE s.id = $1 AND " STORIES_VISIBLE " AND r.id = $4",
              4, params, restore__found, c);
}

void api_stories_restore(http_req_t *req)
{
    api_auth(req, true, restore__authed);
}

/* ---- regenerate ------------------------------------------------------------------------------ */

static void regen__loaded(http_req_t *req, stories_ctx_t *c)
{
    const stories_generation_hooks_t *h = stories_generation_hooks();
    if (!h->regenerate) {
        stories__unavailable(req);
        return;
    }
    /* The new prompt and template become the story's when the job is created (after any
     * Idempotency-Key check, so a replayed or mismatched request changes nothing); the text
     * itself is replaced by the pipeline through stories_replace_text. */
    stories_gen_request_t g = {.kind = STORIES_GEN_REGENERATE,
                               .story_id = c->id,
                               .user_id = c->user->id,
                               .prompt = c->prompt,
                               .modifications = c->modifications,
                               .template_name = c->template_name};
    h->regenerate(req, c->user, &g);
}

static void regen__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    stories_ctx_t *c = stories_ctx_new(req, user);
    c->prompt = stories_field_text(&f, &errs, "prompt", false, true, 20000);
    if (c->prompt && stories__blank(c->prompt)) c->prompt = NULL; /* "" keeps the stored one */
    c->modifications = stories_field_text(&f, &errs, "modifications", false, true, 5000);
    c->template_name = stories_field_text(&f, &errs, "template", false, true, 20);
    if (c->template_name && !*c->template_name) c->template_name = NULL;
    if (c->template_name && !stories_template_valid(c->template_name))
        stories_errors_add(
            &errs, "template",
            arena_printf(&req->arena, "\"%s\" is not a valid choice.", c->template_name));
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return;
    }
    c->next = regen__loaded;
    stories_load(req, c);
}

void api_stories_regenerate(http_req_t *req)
{
    api_auth(req, true, regen__authed);
}

/* ---- generate_audio ------------------------------------------------------------------------ */

static void audio__loaded(http_req_t *req, stories_ctx_t *c)
{
    if (stories__blank(c->text)) {
        api_respond_error_only(req, 400,
                               "Story has no content. Please regenerate the story first.");
        return;
    }
    const stories_generation_hooks_t *h = stories_generation_hooks();
    if (!h->generate_audio) {
        stories__unavailable(req);
        return;
    }
    /* The voice becomes the story's when the job is created (see regen__loaded). */
    stories_gen_request_t g = {.kind = STORIES_GEN_AUDIO,
                               .story_id = c->id,
                               .user_id = c->user->id,
                               .voice_id = c->voice_id};
    h->generate_audio(req, c->user, &g);
}

static void audio__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    stories_ctx_t *c = stories_ctx_new(req, user);
    c->voice_id = stories_field_text(&f, &errs, "voice_id", false, true, 50);
    if (c->voice_id && !*c->voice_id) c->voice_id = NULL;
    if (c->voice_id && !stories_voice_valid(c->voice_id))
        stories_errors_add(&errs, "voice_id",
                           arena_printf(&req->arena,
                                        "\"%s\" is not a voice of the speech provider; see "
                                        "/api/stories/available_voices/.",
                                        c->voice_id));
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return;
    }
    c->next = audio__loaded;
    stories_load(req, c);
}

void api_stories_generate_audio(http_req_t *req)
{
    api_auth(req, true, audio__authed);
}

/* ---- generate_scenes ----------------------------------------------------------------------- */

static void scenes__loaded(http_req_t *req, stories_ctx_t *c)
{
    if (stories__blank(c->text)) {
        api_respond_error_only(req, 400, "Story has no content. Please generate a story first.");
        return;
    }
    stories_gen_fn fn = stories_generation_hooks()->generate_scenes;
    if (!fn) {
        stories__unavailable(req);
        return;
    }
    stories_gen_request_t g = {.kind = STORIES_GEN_SCENES,
                               .story_id = c->id,
                               .user_id = c->user->id,
                               .scene_numbers = c->scene_numbers,
                               .nscene_numbers = c->nscene_numbers};
    fn(req, c->user, &g);
}

/* Optional body {"scene_numbers": [2, 4]}: redraw only those scenes (a failed picture, say)
 * and leave the others as they are. No body (the reference frontend) redraws every scene. */
static void scenes__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    stories_ctx_t *c = stories_ctx_new(req, user);
    yajl_val v = f.json ? json_get(f.json, "scene_numbers") : NULL;
    if (v && !YAJL_IS_NULL(v)) {
        bool ok = YAJL_IS_ARRAY(v) && v->u.array.len >= 1 && v->u.array.len <= 50;
        int *nums = ok ? arena_alloc(&req->arena, v->u.array.len * sizeof *nums) : NULL;
        for (size_t i = 0; ok && i < v->u.array.len; i++) {
            yajl_val n = v->u.array.values[i];
            ok = YAJL_IS_INTEGER(n) && YAJL_GET_INTEGER(n) >= 1 && YAJL_GET_INTEGER(n) <= 1000;
            if (ok) nums[i] = (int)YAJL_GET_INTEGER(n);
        }
        if (!ok) {
            stories_errors_t errs;
            stories_errors_init(&errs, req);
            stories_errors_add(&errs, "scene_numbers",
                               "A list of 1 to 50 scene numbers (whole numbers from 1) is "
                               "expected.");
            stories_errors_respond(&errs);
            return;
        }
        c->scene_numbers = nums;
        c->nscene_numbers = v->u.array.len;
    }
    c->next = scenes__loaded;
    stories_load(req, c);
}

void api_stories_generate_scenes(http_req_t *req)
{
    api_auth(req, true, scenes__authed);
}

/* ---- voice session (the WebSocket itself is not part of this API) --------------------------- */

static void voice_start__loaded(http_req_t *req, stories_ctx_t *c)
{
    if (stories__blank(c->text)) {
        api_respond_error_only(req, 400, "Story has no content. Please generate a story first.");
        return;
    }
    const char *base = api_public_base(req);
    const char *ws = strncmp(base, "https://", 8) == 0
                         ? arena_printf(&req->arena, "wss://%s", base + 8)
                         : arena_printf(&req->arena, "ws://%s", base + 7);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "message", "Voice session ready");
    json_kv_str(g, "websocket_url",
                arena_printf(&req->arena, "%s/ws/stories/%s/voice/", ws, c->id));
    json_kv_str(g, "story_id", c->id);
    json_kv_str(g, "story_title", c->title);
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void voice_start__authed(http_req_t *req, const api_user_t *user)
{
    stories_ctx_t *c = stories_ctx_new(req, user);
    c->next = voice_start__loaded;
    stories_load(req, c);
}

void api_stories_start_voice_session(http_req_t *req)
{
    api_auth(req, true, voice_start__authed);
}

static void voice_end__loaded(http_req_t *req, stories_ctx_t *c)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "message", "Voice session ended");
    json_kv_str(g, "story_id", c->id);
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void voice_end__authed(http_req_t *req, const api_user_t *user)
{
    stories_ctx_t *c = stories_ctx_new(req, user);
    c->next = voice_end__loaded;
    stories_load(req, c);
}

void api_stories_end_voice_session(http_req_t *req)
{
    api_auth(req, true, voice_end__authed);
}
