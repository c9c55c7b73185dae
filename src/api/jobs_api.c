/* jobs_api: the HTTP side of the generation pipeline.
 *   GET  /api/jobs/{id}/            a job (parents list their children)
 *   POST /api/jobs/{id}/cancel/     cancels a job and its children
 *   GET  /api/stories/{id}/jobs/    the story's jobs, newest first
 * and the story generation hooks (create, regenerate, generate_audio, generate_scenes,
 * image_changed): each enqueues a durable job (a second request while one of its kind is active
 * gets that job), then parks the request without blocking the loop for up to NOVA_SYNC_WAIT_MS
 * ("Prefer: respond-async" skips the wait, "Prefer: wait=N" sets it). A job that ends in time
 * gives the reference API's status and body with the finished content; otherwise 202 with the
 * story as it stands. Every answer adds a `job` member and a Location header for the job.
 * Idempotency-Key: the first answer is stored with a fingerprint of the request and replayed
 * for the same key; 409 while the first is in flight, 422 when the request differs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/pagination.h"
#include "api/stories.h"
#include "api/story_json.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "jobs/flows.h"
#include "jobs/jobs.h"
#include "media/backend.h"
#include "media/signed_url.h"
#include "media/store.h"
#include "media/upload.h"

void api_jobs_get(http_req_t *req);
void api_jobs_cancel(http_req_t *req);
void api_story_jobs(http_req_t *req);

static flows_t *jobs_api__flows;

typedef struct gen gen__t;
static void gen__respond_now(gen__t *c);

/* ---- job JSON ---------------------------------------------------------------------------------
 */

static void jobs_api__job_json(yajl_gen g, http_req_t *req, const jobs_info_t *j)
{
    const char *base = api_public_base(req);
    yajl_gen_map_open(g);
    json_kv_str(g, "id", j->id);
    json_kv_str(g, "kind", j->kind);
    json_kv_str(g, "state", j->state);
    json_kv_int(g, "progress", j->progress);
    json_kv_str(g, "step", j->step);
    json_kv_str(g, "error", j->error);
    json_key(g, "result");
    if (j->result_json && *j->result_json)
        yajl_gen_number(g, j->result_json, strlen(j->result_json)); /* raw JSON, from jsonb */
    else
        yajl_gen_null(g);
    json_kv_int(g, "attempt", j->attempt);
    json_kv_int(g, "max_attempts", j->max_attempts);
    json_kv_str(g, "story", j->story_id && *j->story_id ? j->story_id : NULL);
    json_kv_str(g, "parent", j->parent_id && *j->parent_id ? j->parent_id : NULL);
    if (j->scene_number > 0) json_kv_int(g, "scene_number", j->scene_number);
    json_kv_bool(g, "cancel_requested", j->cancel_requested);
    if (j->children_total > 0) {
        json_key(g, "children");
        yajl_gen_map_open(g);
        json_kv_int(g, "total", j->children_total);
        json_kv_int(g, "succeeded", j->children_succeeded);
        json_kv_int(g, "failed", j->children_failed);
        yajl_gen_map_close(g);
    }
    json_kv_str(g, "created_at", j->created_at);
    json_kv_str(g, "updated_at", j->updated_at);
    json_kv_str(g, "started_at", j->started_at);
    json_kv_str(g, "finished_at", j->finished_at);
    json_kv_str(g, "url", arena_printf(&req->arena, "%s/api/jobs/%s/", base, j->id));
    json_kv_str(g, "events_url",
                j->story_id && *j->story_id
                    ? arena_printf(&req->arena, "%s/api/stories/%s/events/", base, j->story_id)
                    : arena_printf(&req->arena, "%s/api/events/", base));
    yajl_gen_map_close(g);
}

static bool jobs_api__final(const char *state)
{
    return state && (strcmp(state, "succeeded") == 0 || strcmp(state, "partial") == 0 ||
                     strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0);
}

/* ---- GET /api/jobs/{id}/ ------------------------------------------------------------------------
 */

typedef struct {
    http_req_t *req;
    const api_user_t *user;
    jobs_info_t info;
    db_query_t *q;
} jobs_api__get_t;

static void jobs_api__abort(http_req_t *req, void *arg)
{
    db_query_t **q = arg;
    if (*q) db_query_cancel(*q);
    *q = NULL;
    http_respond(req, 499, NULL, NULL, 0);
}

static void jobs_api__children(db_result_t *res, void *arg)
{
    jobs_api__get_t *c = arg;
    http_req_t *req = c->req;
    c->q = NULL;
    req->on_abort = NULL;
    if (api_db_failed(req, res)) return;
    yajl_gen g = json_gen_new();
    /* The job object with the children appended before its closing brace. */
    yajl_gen job = json_gen_new();
    jobs_api__job_json(job, req, &c->info);
    const unsigned char *jb;
    size_t jl;
    yajl_gen_get_buf(job, &jb, &jl);
    yajl_gen_array_open(g);
    for (int i = 0; i < db_result_nrows(res); i++) {
        yajl_gen_map_open(g);
        json_kv_str(g, "id", db_result_get(res, i, 0));
        json_kv_int(g, "scene_number", strtoll(db_result_get(res, i, 1), NULL, 10));
        json_kv_str(g, "state", db_result_get(res, i, 2));
        json_kv_str(g, "error", db_result_is_null(res, i, 3) ? NULL : db_result_get(res, i, 3));
        json_kv_int(g, "attempt", strtoll(db_result_get(res, i, 4), NULL, 10));
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    const unsigned char *cb;
    size_t cl;
    yajl_gen_get_buf(g, &cb, &cl);
    char *body = arena_alloc(&req->arena, jl + cl + 32);
    int n = snprintf(body, jl + cl + 32, "%.*s,\"jobs\":%.*s}", (int)(jl - 1), (const char *)jb,
                     (int)cl, (const char *)cb);
    yajl_gen_free(job);
    yajl_gen_free(g);
    http_respond(req, 200, "application/json", body, (size_t)n);
}

static void jobs_api__got(int status, const jobs_info_t *info, void *arg)
{
    jobs_api__get_t *c = arg;
    http_req_t *req = c->req;
    c->q = NULL;
    req->on_abort = NULL;
    if (status != DB_OK) {
        api_db_unavailable(req);
        return;
    }
    if (!info) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    c->info = *info;
    app_t *app = req->app;
    const char *p[1] = {info->id};
    if (db_query(app->db,
                 "SELECT id, scene_number, state, error, attempt FROM jobs WHERE parent_id = $1 "
                 "ORDER BY scene_number, created_at",
                 1, p, jobs_api__children, c, &c->q) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = jobs_api__abort;
    req->on_abort_arg = &c->q;
}

static void jobs_api__get_authed(http_req_t *req, const api_user_t *user)
{
    app_t *app = req->app;
    jobs_api__get_t *c = arena_calloc(&req->arena, sizeof *c);
    c->req = req;
    c->user = user;
    if (jobs_get(app->jobs, req->params[0], user->is_superuser ? 0 : user->id, &req->arena,
                 jobs_api__got, c, &c->q) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = jobs_api__abort;
    req->on_abort_arg = &c->q;
}

void api_jobs_get(http_req_t *req)
{
    app_t *app = req->app;
    if (!app->jobs) {
        api_db_unavailable(req);
        return;
    }
    api_auth(req, true, jobs_api__get_authed);
}

/* ---- POST /api/jobs/{id}/cancel/
 * ----------------------------------------------------------------- */

static void jobs_api__cancelled(int status, const jobs_info_t *info, void *arg)
{
    http_req_t *req = arg;
    if (status != DB_OK) {
        api_db_unavailable(req);
        return;
    }
    if (!info) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    yajl_gen g = json_gen_new();
    jobs_api__job_json(g, req, info);
    /* 200 when it already ended (cancelled or not), 202 while running jobs wind down. */
    http_respond_json(req, jobs_api__final(info->state) ? 200 : 202, g);
    yajl_gen_free(g);
}

static void jobs_api__cancel_authed(http_req_t *req, const api_user_t *user)
{
    app_t *app = req->app;
    if (jobs_cancel(app->jobs, req->params[0], user->id, user->is_superuser, &req->arena,
                    jobs_api__cancelled, req) != 0)
        api_db_unavailable(req);
}

void api_jobs_cancel(http_req_t *req)
{
    app_t *app = req->app;
    if (!app->jobs) {
        api_db_unavailable(req);
        return;
    }
    api_auth(req, true, jobs_api__cancel_authed);
}

/* ---- GET /api/stories/{id}/jobs/ ---------------------------------------------------------------
 */

static void jobs_api__listed(db_result_t *res, void *arg)
{
    jobs_api__get_t *c = arg;
    http_req_t *req = c->req;
    c->q = NULL;
    req->on_abort = NULL;
    if (api_db_failed(req, res)) return;
    int n = db_result_nrows(res);
    if (n == 1 && db_result_is_null(res, 0, 0)) n = 0; /* the story exists but has no job */
    if (n == 0 && db_result_nrows(res) == 0) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "count", n);
    json_kv_null(g, "next");
    json_kv_null(g, "previous");
    json_key(g, "results");
    yajl_gen_array_open(g);
    for (int i = 0; i < n; i++) {
        jobs_info_t info;
        jobs_info_from_row(res, i, &req->arena, &info);
        jobs_api__job_json(g, req, &info);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void jobs_api__list_authed(http_req_t *req, const api_user_t *user)
{
    app_t *app = req->app;
    jobs_api__get_t *c = arena_calloc(&req->arena, sizeof *c);
    c->req = req;
    static char sql[3072];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "SELECT %s FROM stories s LEFT JOIN jobs j ON j.story_id = s.id AND "
                 "j.parent_id IS NULL WHERE s.id = $1 AND (s.user_id = $2 OR $3::boolean) "
                 "ORDER BY j.created_at DESC LIMIT 100",
                 jobs_info_cols);
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user->id);
    const char *p[3] = {req->params[0], uid, user->is_superuser ? "t" : "f"};
    if (db_query(app->db, sql, 3, p, jobs_api__listed, c, &c->q) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = jobs_api__abort;
    req->on_abort_arg = &c->q;
}

void api_story_jobs(http_req_t *req)
{
    app_t *app = req->app;
    if (!app->jobs) {
        api_db_unavailable(req);
        return;
    }
    api_auth(req, true, jobs_api__list_authed);
}

/* ---- generation hooks --------------------------------------------------------------------------
 */

struct gen {
    http_req_t *req;
    const api_user_t *user;
    stories_gen_request_t r;
    const char *kind;
    const char *payload;
    /* idempotency */
    const char *idem_key, *fingerprint;
    bool idem_owned; /* this request inserted the key: it stores the answer */
    /* job */
    jobs_info_t job;
    jobs_wait_t *wait;
    const char *final_state;
    db_query_t *q;
    bool aborted;
};

static void gen__abort(http_req_t *req, void *arg)
{
    gen__t *c = arg;
    (void)req;
    c->aborted = true;
    /* The job goes on; the answer is still built and stored for an Idempotency-Key replay,
     * then discarded by the http layer. A waiting request stops waiting now. */
    if (c->wait) {
        jobs_wait_t *w = c->wait;
        c->wait = NULL;
        jobs_wait_cancel(w);
        c->final_state = NULL;
        gen__respond_now(c);
    }
}

static const char *gen__kind(stories_gen_kind_t k)
{
    switch (k) {
    case STORIES_GEN_CREATE:
    case STORIES_GEN_IMAGE_CHANGED:
        return FLOW_CREATE;
    case STORIES_GEN_REGENERATE:
        return FLOW_REGENERATE;
    case STORIES_GEN_AUDIO:
        return FLOW_AUDIO;
    case STORIES_GEN_SCENES:
        return FLOW_SCENES;
    }
    return FLOW_CREATE;
}

/* Prefer: respond-async / wait=N (RFC 7240). */
static uint64_t gen__wait_ms(http_req_t *req)
{
    app_t *app = req->app;
    uint64_t ms = (uint64_t)app->cfg->sync_wait_ms;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcmp(req->headers[i].name, "prefer") != 0) continue;
        const char *v = req->headers[i].value;
        for (const char *p = v; *p;) {
            while (*p == ' ' || *p == ',' || *p == ';')
                p++;
            if (strncasecmp(p, "respond-async", 13) == 0) {
                ms = 0;
                http_res_header(req, "Preference-Applied", "respond-async");
            } else if (strncasecmp(p, "wait=", 5) == 0) {
                long long s = strtoll(p + 5, NULL, 10);
                if (s >= 0) ms = (uint64_t)(s > 60 ? 60 : s) * 1000;
            }
            while (*p && *p != ',')
                p++;
        }
    }
    return ms;
}

static void gen__store_answer(gen__t *c, int status, const char *location, const char *body,
                              size_t len)
{
    app_t *app = c->req->app;
    if (!c->idem_owned || !app->db) return;
    char uid[24], st[16];
    snprintf(uid, sizeof uid, "%lld", (long long)c->user->id);
    snprintf(st, sizeof st, "%d", status);
    char *b = strndup(body, len);
    const char *p[5] = {uid, c->idem_key, st, location, b};
    db_query(app->db,
             "UPDATE idempotency_keys SET state = 'done', status = $3::int, location = $4, body = "
             "$5 WHERE user_id = $1::bigint AND key = $2",
             5, p, NULL, NULL, NULL);
    free(b);
    c->idem_owned = false;
}

/* A request that fails before its job is queued releases its key, so a retry runs again. */
static void gen__unavailable(gen__t *c)
{
    app_t *app = c->req->app;
    if (c->idem_owned && app->db) {
        char uid[24];
        snprintf(uid, sizeof uid, "%lld", (long long)c->user->id);
        const char *p[2] = {uid, c->idem_key};
        db_query(app->db,
                 "DELETE FROM idempotency_keys WHERE user_id = $1::bigint AND key = $2 AND "
                 "state = 'in_flight'",
                 2, p, NULL, NULL, NULL);
        c->idem_owned = false;
    }
    c->req->on_abort = NULL;
    api_db_unavailable(c->req);
}

/* Sends the answer (also stored for Idempotency-Key replays). */
static void gen__send(gen__t *c, int status, const char *body, size_t len)
{
    http_req_t *req = c->req;
    const char *loc = c->job.id ? arena_printf(&req->arena, "/api/jobs/%s/", c->job.id) : NULL;
    gen__store_answer(c, status, loc, body, len);
    if (loc) http_res_header(req, "Location", loc);
    if (status == 202) http_res_header(req, "Retry-After", "1");
    req->on_abort = NULL;
    http_respond(req, status, "application/json", body, len);
}

static const char *gen__buf(yajl_gen g, http_req_t *req, size_t *len)
{
    const unsigned char *b;
    yajl_gen_get_buf(g, &b, len);
    return arena_strndup(&req->arena, (const char *)b, *len);
}

static void gen__render(gen__t *c, const db_result_t *story, const db_result_t *scenes)
{
    http_req_t *req = c->req;
    bool done = jobs_api__final(c->final_state);
    const char *state = c->job.state ? c->job.state : "";
    bool ok = strcmp(state, "succeeded") == 0 || strcmp(state, "partial") == 0;
    yajl_gen job = json_gen_new();
    jobs_api__job_json(job, req, &c->job);
    size_t jl;
    const char *jtext = gen__buf(job, req, &jl);
    yajl_gen_free(job);
    int status;
    size_t len;
    const char *body;
    if (c->r.kind == STORIES_GEN_SCENES) {
        int ready = 0;
        yajl_gen g = json_gen_new();
        yajl_gen_map_open(g);
        json_key(g, "scenes");
        yajl_gen_array_open(g);
        for (int i = 0; scenes && i < db_result_nrows(scenes); i++) {
            const char *st = db_result_get_by_name(scenes, i, "status");
            if (st && strcmp(st, "ready") == 0) ready++;
            story_json_scene_row(g, req, scenes, i);
        }
        yajl_gen_array_close(g);
        const char *msg;
        if (!done) {
            status = 202;
            msg = "Generating the scenes; follow the job for progress.";
        } else if (ok || ready > 0) {
            status = 200;
            msg = arena_printf(&req->arena, "Successfully generated %d scene(s)", ready);
        } else {
            status = 500;
            msg = NULL;
            json_kv_str(g, "error", "Failed to generate any scenes. Please try again.");
        }
        if (msg) json_kv_str(g, "message", msg);
        yajl_gen_map_close(g);
        size_t sl;
        const char *s = gen__buf(g, req, &sl);
        yajl_gen_free(g);
        char *out = arena_alloc(&req->arena, sl + jl + 16);
        len = (size_t)snprintf(out, sl + jl + 16, "%.*s,\"job\":%s}", (int)(sl - 1), s, jtext);
        body = out;
    } else {
        yajl_gen g = json_gen_new();
        if (story && db_result_nrows(story) == 1)
            story_json_detail(g, req, story, 0);
        else {
            yajl_gen_map_open(g);
            yajl_gen_map_close(g);
        }
        size_t sl;
        const char *s = gen__buf(g, req, &sl);
        yajl_gen_free(g);
        char *out = arena_alloc(&req->arena, sl + jl + 256);
        if (c->r.kind == STORIES_GEN_CREATE || c->r.kind == STORIES_GEN_IMAGE_CHANGED) {
            /* The story itself (the reference frontend reads `id`), with the job inside. */
            status = !done ? 202 : c->r.kind == STORIES_GEN_CREATE ? 201 : 200;
            len = (size_t)snprintf(out, sl + jl + 256, "%.*s,\"job\":%s}", (int)(sl - 1), s, jtext);
        } else {
            const char *msg;
            const char *key = "message";
            if (!done) {
                status = 202;
                msg = c->r.kind == STORIES_GEN_AUDIO ? "Generating the audio; follow the job."
                                                     : "Regenerating the story; follow the job.";
            } else if (c->r.kind == STORIES_GEN_AUDIO) {
                status = 200;
                msg = ok ? "Audio generated successfully" : "Audio generation failed";
            } else if (ok) {
                status = 200;
                msg = "Story regenerated successfully";
            } else {
                status = 500;
                key = "error";
                msg = "Failed to regenerate story";
            }
            yajl_gen m = json_gen_new();
            yajl_gen_map_open(m);
            json_kv_str(m, key, msg);
            yajl_gen_map_close(m);
            size_t ml;
            const char *mt = gen__buf(m, req, &ml);
            yajl_gen_free(m);
            out = arena_alloc(&req->arena, ml + sl + jl + 32);
            len = (size_t)snprintf(out, ml + sl + jl + 32, "%.*s,\"story\":%s,\"job\":%s}",
                                   (int)(ml - 1), mt, s, jtext);
        }
        body = out;
    }
    gen__send(c, status, body, len);
}

static void gen__scenes_loaded(db_result_t *res, void *arg)
{
    gen__t *c = arg;
    c->q = NULL;
    if (db_result_status(res) != DB_OK) {
        if (!api_db_failed(c->req, res)) http_respond_error(c->req, 500, "internal_error", NULL);
        return;
    }
    gen__render(c, NULL, res);
}

static void gen__story_loaded(db_result_t *res, void *arg)
{
    gen__t *c = arg;
    c->q = NULL;
    if (db_result_status(res) != DB_OK) {
        c->req->on_abort = NULL;
        api_db_failed(c->req, res);
        return;
    }
    gen__render(c, res, NULL);
}

static void gen__job_read(int status, const jobs_info_t *info, void *arg)
{
    gen__t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (status == DB_OK && info) c->job = *info;
    if (!c->final_state && jobs_api__final(c->job.state)) c->final_state = c->job.state;
    const char *p[1] = {c->r.story_id};
    int rc;
    if (c->r.kind == STORIES_GEN_SCENES)
        rc = db_query(app->db,
                      "SELECT " STORY_SCENE_COLS " FROM story_scenes c WHERE c.story_id = $1 "
                      "ORDER BY c.scene_number",
                      1, p, gen__scenes_loaded, c, &c->q);
    else
        rc = db_query(app->db,
                      "SELECT " STORY_DETAIL_COLS " FROM stories s JOIN users u ON u.id = "
                      "s.user_id WHERE s.id = $1",
                      1, p, gen__story_loaded, c, &c->q);
    if (rc != 0) {
        req->on_abort = NULL;
        api_db_unavailable(req);
    }
}

static void gen__respond_now(gen__t *c)
{
    app_t *app = c->req->app;
    if (jobs_get(app->jobs, c->job.id, 0, &c->req->arena, gen__job_read, c, NULL) != 0) {
        c->req->on_abort = NULL;
        api_db_unavailable(c->req);
    }
}

static void gen__waited(const char *final_state, void *arg)
{
    gen__t *c = arg;
    c->wait = NULL;
    c->final_state = final_state ? arena_strdup(&c->req->arena, final_state) : NULL;
    gen__respond_now(c);
}

static void gen__status_set(db_result_t *res, void *arg)
{
    gen__t *c = arg;
    (void)res;
    http_req_t *req = c->req;
    app_t *app = req->app;
    uint64_t wait = gen__wait_ms(req);
    if (wait == 0 || c->aborted || jobs_api__final(c->job.state)) {
        gen__respond_now(c);
        return;
    }
    if (jobs_wait(app->jobs, c->job.id, c->user->id, wait, gen__waited, c, &c->wait) != 0) {
        c->wait = NULL;
        gen__respond_now(c);
    }
}

static void gen__enqueued(int status, const jobs_info_t *info, void *arg)
{
    gen__t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (status != DB_OK || !info) {
        gen__unavailable(c);
        return;
    }
    c->job = *info;
    /* The story shows "generating" from the first answer on (scenes leave the story as is);
     * regeneration keeps the parent's requested changes with the story. */
    const char *st = c->r.kind == STORIES_GEN_SCENES || !info->created ? NULL : "generating";
    /* The request's prompt, template and voice become the story's only when this request made
     * the job (a request that joined a running job changes nothing). The job reads them from its
     * payload, so it does not depend on this statement having run first. */
    bool mine = info->created;
    const char *p[6] = {c->r.story_id,
                        st,
                        c->r.modifications,
                        mine ? c->r.prompt : NULL,
                        mine ? c->r.template_name : NULL,
                        mine ? c->r.voice_id : NULL};
    if (db_query(app->db,
                 "UPDATE stories SET status = coalesce($2, status), status_detail = CASE WHEN $2 "
                 "IS NULL THEN status_detail END, modifications = coalesce(NULLIF($3, ''), "
                 "modifications), prompt = coalesce($4, prompt), template = coalesce($5, "
                 "template), voice_id = coalesce($6, voice_id) WHERE id = $1",
                 6, p, gen__status_set, c, NULL) != 0)
        gen__status_set(NULL, c);
}

static void gen__enqueue(gen__t *c)
{
    http_req_t *req = c->req;
    app_t *app = req->app;
    jobs_enqueue_t e = {.kind = c->kind,
                        .story_id = c->r.story_id,
                        .user_id = c->r.user_id,
                        .payload_json = c->payload};
    req->on_abort = gen__abort;
    req->on_abort_arg = c;
    if (jobs_enqueue(app->jobs, &e, &req->arena, gen__enqueued, c) != 0) gen__unavailable(c);
}

/* ---- Idempotency-Key
 * ------------------------------------------------------------------------------ */

static void gen__dropped(db_result_t *res, void *arg)
{
    app_t *app = arg;
    if (db_result_status(res) != DB_OK || db_result_nrows(res) != 1 || db_result_is_null(res, 0, 0))
        return;
    const char *paths[1] = {db_result_get(res, 0, 0)};
    media_store_remove(app->loop, app->cfg->media_dir, paths, 1, NULL, NULL);
}

/* A duplicate create (replay, conflict, mismatch) already inserted its own story row before the
 * hook ran: it is removed with its picture, so the key still creates exactly one story. */
static void gen__drop_duplicate(gen__t *c)
{
    app_t *app = c->req->app;
    if (c->r.kind != STORIES_GEN_CREATE) return;
    const char *p[1] = {c->r.story_id};
    db_query(app->db, "DELETE FROM stories WHERE id = $1 AND status = 'draft' RETURNING image", 1,
             p, gen__dropped, app, NULL);
}

static void gen__idem_existing(db_result_t *res, void *arg)
{
    gen__t *c = arg;
    http_req_t *req = c->req;
    c->q = NULL;
    req->on_abort = NULL;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) != 1) {
        /* Pruned between the two statements: treat as new. */
        gen__enqueue(c);
        return;
    }
    const char *fp = db_result_get_by_name(res, 0, "fingerprint");
    const char *state = db_result_get_by_name(res, 0, "state");
    bool stale = db_result_get_by_name(res, 0, "stale")[0] == 't';
    if (strcmp(fp, c->fingerprint) != 0) {
        gen__drop_duplicate(c);
        http_respond_error(req, 422, "idempotency_key_reused",
                           "This Idempotency-Key was used with a different request.");
        return;
    }
    if (strcmp(state, "done") == 0) {
        gen__drop_duplicate(c);
        const char *loc = db_result_get_by_name(res, 0, "location");
        const char *body = db_result_get_by_name(res, 0, "body");
        if (loc && *loc) http_res_header(req, "Location", loc);
        http_res_header(req, "Idempotent-Replayed", "true");
        /* The schema allows a NULL status; a stored answer without a valid one replays as 500
         * instead of crashing on it. */
        int status = db_result_int(res, 0, "status", 500);
        if (status < 100 || status > 599) status = 500;
        http_respond(req, status, "application/json", body ? body : "", body ? strlen(body) : 0);
        return;
    }
    if (!stale) {
        gen__drop_duplicate(c);
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 409, "request_in_progress",
                           "A request with this Idempotency-Key is still being processed.");
        return;
    }
    /* The first request died without answering (crash): this one takes the key over. */
    c->idem_owned = true;
    gen__enqueue(c);
}

static void gen__idem_inserted(db_result_t *res, void *arg)
{
    gen__t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    c->q = NULL;
    req->on_abort = NULL;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) == 1) {
        c->idem_owned = true;
        gen__enqueue(c);
        return;
    }
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)c->user->id);
    const char *p[2] = {uid, c->idem_key};
    if (db_query(app->db,
                 "UPDATE idempotency_keys SET created_at = CASE WHEN state = 'in_flight' AND "
                 "created_at < now() - interval '5 minutes' THEN now() ELSE created_at END "
                 "WHERE user_id = $1::bigint AND key = $2 RETURNING fingerprint, state, status, "
                 "location, body, (created_at = now() AND state = 'in_flight') AS stale",
                 2, p, gen__idem_existing, c, &c->q) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = jobs_api__abort;
    req->on_abort_arg = &c->q;
}

/* The fingerprint covers the method, the path and the request's content: the JSON body as sent,
 * or a multipart form's fields and files (not its random boundary). */
static const char *gen__fingerprint(http_req_t *req)
{
    buf_t b;
    buf_init(&b, 1 << 24);
    buf_printf(&b, "%s %s\n", req->method_name, req->path);
    if (media_upload_is_multipart(req)) {
        static const char *const fields[] = {"title",        "prompt",       "template",
                                             "story_text",   "voice_id",     "language_code",
                                             "is_published", "modifications"};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            const char *v = media_upload_field(req, fields[i]);
            buf_printf(&b, "%s=%zu:%s\n", fields[i], v ? strlen(v) : 0, v ? v : "");
        }
        const media_upload_file_t *img = media_upload_file(req, "image");
        if (img) buf_printf(&b, "image=%llu:%s\n", (unsigned long long)img->size, img->filename);
    } else if (req->body) {
        buf_append(&b, req->body, req->body_len);
    }
    char hex[CRYPTO_SHA256_HEX_LEN + 1];
    crypto_sha256_hex(b.data ? b.data : "", b.len, hex);
    buf_free(&b);
    return arena_strdup(&req->arena, hex);
}

static const char *gen__idem_key(http_req_t *req)
{
    const char *v = http_req_header(req, "idempotency-key");
    if (!v) return NULL;
    size_t n = strlen(v);
    /* A Structured-Field string ("...") or a bare token. */
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') return arena_strndup(&req->arena, v + 1, n - 2);
    return v;
}

static void gen__hook(http_req_t *req, const api_user_t *user, const stories_gen_request_t *r)
{
    app_t *app = req->app;
    if (!app->jobs) {
        api_respond_error_only(req, 503, "generation unavailable");
        return;
    }
    gen__t *c = arena_calloc(&req->arena, sizeof *c);
    c->req = req;
    c->user = user;
    c->r = *r;
    c->kind = gen__kind(r->kind);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    if (r->prompt) json_kv_str(g, "prompt", r->prompt);
    if (r->modifications) json_kv_str(g, "modifications", r->modifications);
    if (r->template_name) json_kv_str(g, "template", r->template_name);
    if (r->voice_id) json_kv_str(g, "voice_id", r->voice_id);
    if (r->scene_numbers) {
        json_key(g, "scene_numbers");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < r->nscene_numbers; i++)
            yajl_gen_integer(g, r->scene_numbers[i]);
        yajl_gen_array_close(g);
    }
    json_kv_str(g, "request_id", req->request_id);
    yajl_gen_map_close(g);
    size_t pl;
    c->payload = gen__buf(g, req, &pl);
    yajl_gen_free(g);
    c->idem_key = gen__idem_key(req);
    if (!c->idem_key) {
        gen__enqueue(c);
        return;
    }
    if (!*c->idem_key || strlen(c->idem_key) > 255) {
        gen__drop_duplicate(c);
        http_respond_error(req, 400, "invalid_idempotency_key",
                           "Idempotency-Key must be 1 to 255 characters.");
        return;
    }
    c->fingerprint = gen__fingerprint(req);
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user->id);
    const char *p[5] = {uid, c->idem_key, req->method_name, req->path, c->fingerprint};
    if (db_query(app->db,
                 "INSERT INTO idempotency_keys (user_id, key, method, path, fingerprint) VALUES "
                 "($1::bigint, $2, $3, $4, $5) ON CONFLICT (user_id, key) DO NOTHING RETURNING 1",
                 5, p, gen__idem_inserted, c, &c->q) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = jobs_api__abort;
    req->on_abort_arg = &c->q;
}

/* ---- start and stop -----------------------------------------------------------------------------
 */

static void jobs_api__media_url(void *arg, const char *relpath, char *out, size_t cap)
{
    const config_t *cfg = arg;
    int64_t ttl = cfg->media_url_ttl_s > 0 ? cfg->media_url_ttl_s : 86400;
    media_backend_t *mb = media_backend_current();
    if (mb && !media_backend_proxy(mb)) {
        char *url = NULL;
        if (media_backend_presign(mb, relpath, ttl, &url) != 0 || strlen(url) >= cap)
            out[0] = '\0';
        else
            memcpy(out, url, strlen(url) + 1);
        free(url);
        return;
    }
    int64_t expires = signed_url_step_start((int64_t)time(NULL), ttl) + ttl;
    char path[512];
    snprintf(path, sizeof path, "/media/%s", relpath);
    char q[SIGNED_URL_QUERY_MAX];
    if (signed_url_make(story_media_key(cfg), CRYPTO_SHA256_LEN, path, expires, q, sizeof q) < 0) {
        out[0] = '\0';
        return;
    }
    const char *base = cfg->public_url ? cfg->public_url : "";
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    snprintf(out, cap, "%.*s%s%s", (int)bl, base, path, q);
}

int api_jobs_start(app_t *app, char *err, size_t errlen)
{
    if (!app->db) return 0;
    const config_t *cfg = app->cfg;
    jobs_config_t jc;
    jobs_config_defaults(&jc);
    jc.workers = (int)cfg->workers;
    jc.lease_s = (int)cfg->job_lease_s;
    jc.max_attempts = (int)cfg->job_max_attempts;
    jc.max_jobs_per_user = (int)cfg->max_jobs_per_user;
    jc.poll_ms = (int)cfg->job_poll_ms;
    jc.backoff_base_ms = (int)cfg->job_backoff_base_ms;
    jc.backoff_max_s = (int)cfg->job_backoff_max_s;
    jc.events_retention_h = (int)cfg->events_retention_h;
    jc.sse_heartbeat_s = (int)cfg->sse_heartbeat_s;
    int rc = jobs_engine_new(app->loop, app->db, &jc, &app->jobs);
    if (rc != 0) return snprintf(err, errlen, "cannot create the job engine (%d)", rc), rc;
    flows_config_t fc = {
        .loop = app->loop,
        .db = app->db,
        .providers = app->providers,
        .media_dir = cfg->media_dir,
        .image_max_inflight = (int)cfg->image_max_inflight,
        .media_url = jobs_api__media_url,
        .media_url_arg = (void *)cfg,
        .safety = app->safety,
    };
    if (cfg->bench_routes) {
        fc.test_image_delay_ms = (int)cfg->test_image_delay_ms;
        fc.test_image_fail_word = cfg->test_image_fail_word;
    }
    rc = flows_register(app->jobs, &fc, &jobs_api__flows);
    if (rc == 0) rc = jobs_engine_start(app->jobs);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the job engine (%d)", rc);
        jobs_engine_close(app->jobs, NULL, NULL);
        app->jobs = NULL;
        flows_free(jobs_api__flows);
        jobs_api__flows = NULL;
        return rc;
    }
    stories_generation_hooks_t hooks = {
        .create = gen__hook,
        .regenerate = gen__hook,
        .generate_audio = gen__hook,
        .generate_scenes = gen__hook,
        .image_changed = gen__hook,
    };
    stories_set_generation_hooks(&hooks);
    return 0;
}

void api_jobs_shutdown(app_t *app)
{
    if (app->jobs) jobs_engine_shutdown(app->jobs);
}

typedef struct {
    void (*done)(void *);
    void *arg;
} jobs_api__stop_t;

static void jobs_api__stopped(void *arg)
{
    jobs_api__stop_t *s = arg;
    flows_free(jobs_api__flows);
    jobs_api__flows = NULL;
    if (s->done) s->done(s->arg);
    free(s);
}

void api_jobs_stop(app_t *app, void (*done)(void *), void *arg)
{
    stories_set_generation_hooks(NULL);
    if (!app->jobs) {
        if (done) done(arg);
        return;
    }
    jobs_api__stop_t *s = malloc(sizeof *s);
    jobs_engine_t *e = app->jobs;
    app->jobs = NULL;
    if (!s) {
        jobs_engine_close(e, NULL, NULL);
        if (done) done(arg);
        return;
    }
    s->done = done;
    s->arg = arg;
    jobs_engine_close(e, jobs_api__stopped, s);
}
