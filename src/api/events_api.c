/* events_api: server-sent event streams of generation progress.
 *   GET  /api/events/                  every event of the caller's stories (one stream per tab)
 *   GET  /api/stories/{id}/events/     the events of one story
 *   POST /api/events/ticket/           a single-use ticket for EventSource: ?ticket=...
 * A stream authenticates with the Authorization header or a ticket (browsers' EventSource
 * cannot send headers). Every event carries its stored id; a reconnecting client sends it back
 * as Last-Event-ID (or ?last_event_id=, and 0 replays everything still stored) and gets what it
 * missed from the database before live events. The stream announces retry:, sends a comment
 * heartbeat every NOVA_SSE_HEARTBEAT_S from one process-wide timer, and sets X-Accel-Buffering.
 *
 * Memory of a slow client is bounded: at most NOVA_SSE_MAX_QUEUED_BYTES wait in its socket
 * queue. When a write does not fit, the stream stops taking live events and, once the queue
 * has drained, catches up from the database from its last written id, with text deltas merged
 * and superseded progress dropped; it returns to live events when it has caught up. A stream
 * keeps no event backlog of its own, so 10,000 idle streams cost little more than their
 * connections. At shutdown the streams end (clients reconnect elsewhere with Last-Event-ID). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/auth.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "jobs/jobs.h"
#include "jobs/sse.h"

#define SSE__PAGE 200

typedef struct {
    jobs_sub_t sub; /* first: the hub hands us this pointer */
    http_req_t *req;
    jobs_engine_t *e;
    int64_t last_id;
    db_query_t *q;
    bool catching_up; /* replaying or behind: live events wait in the database */
    bool dirty;       /* live events arrived while catching up */
    bool blocked;     /* the socket queue is full: wait for on_drain */
    bool ended;
} sse__t;

static void sse__end(sse__t *s);
static void sse__catch_up(sse__t *s);

/* Writes one event; false when the client's queue is full (the stream then catches up later)
 * or gone. */
static bool sse__write_event(sse__t *s, int64_t id, const char *type, const char *data, size_t len,
                             bool live)
{
    /* A live event goes to every stream of its user in a row: it is formatted once (the hub
     * hands every stream the same row). Replayed and merged events are formatted each time. */
    static buf_t cache;
    static int64_t cache_id;
    static const char *cache_data;
    int rc = 0;
    if (!live || id <= 0 || id != cache_id || data != cache_data) {
        if (!cache.max) buf_init(&cache, 64u << 20);
        buf_reset(&cache);
        cache_id = 0;
        rc = jobs_sse_format(&cache, id, type, data, len);
        if (rc == 0 && live) {
            cache_id = id;
            cache_data = data;
        }
    }
    if (rc == 0) rc = http_stream_write(s->req, cache.data, cache.len);
    if (rc == 0) {
        if (id > s->last_id) s->last_id = id;
        return true;
    }
    if (rc == -ENOBUFS) {
        s->blocked = true;
        s->catching_up = true;
        s->dirty = true;
    }
    return false;
}

static void sse__on_event(jobs_sub_t *sub, const jobs_event_t *ev)
{
    sse__t *s = (sse__t *)sub;
    if (s->ended) return;
    if (s->catching_up) {
        /* A late commit below what we already sent would never be re-read: send it now. */
        if (ev->id < s->last_id && !s->blocked)
            sse__write_event(s, ev->id, ev->type, ev->data, ev->data_len, true);
        else
            s->dirty = true;
        return;
    }
    sse__write_event(s, ev->id, ev->type, ev->data, ev->data_len, true);
}

static void sse__on_reset(jobs_sub_t *sub)
{
    sse__t *s = (sse__t *)sub;
    if (s->ended) return;
    s->catching_up = true;
    s->dirty = true;
    if (!s->blocked) sse__catch_up(s);
}

static void sse__on_tick(jobs_sub_t *sub)
{
    sse__t *s = (sse__t *)sub;
    if (s->ended || s->blocked) return;
    if (http_stream_write(s->req, ":\n\n", 3) == -ENOBUFS) {
        s->blocked = true;
        s->catching_up = true;
    }
}

static void sse__on_shutdown(jobs_sub_t *sub)
{
    sse__t *s = (sse__t *)sub;
    if (s->ended) return;
    app_t *app = s->req->app;
    buf_t b;
    buf_init(&b, 256);
    jobs_sse_retry(&b, app->cfg->sse_retry_ms, "server restarting");
    http_stream_write(s->req, b.data, b.len);
    buf_free(&b);
    sse__end(s);
}

static const jobs_sub_ops_t sse__ops = {
    .event = sse__on_event,
    .reset = sse__on_reset,
    .tick = sse__on_tick,
    .shutdown = sse__on_shutdown,
};

static void sse__end(sse__t *s)
{
    if (s->ended) return;
    s->ended = true;
    jobs_unsubscribe(s->e, &s->sub);
    if (s->q) {
        db_query_cancel(s->q);
        s->q = NULL;
    }
    s->req->on_abort = NULL;
    http_stream_end(s->req); /* frees the request, and s with its arena */
}

static void sse__on_abort(http_req_t *req, void *arg)
{
    (void)req;
    sse__end(arg);
}

static void sse__on_drain(http_req_t *req, void *arg)
{
    (void)req;
    sse__t *s = arg;
    if (s->ended || !s->blocked) return;
    s->blocked = false;
    sse__catch_up(s);
}

static void sse__caught(db_result_t *res, void *arg)
{
    sse__t *s = arg;
    s->q = NULL;
    if (s->ended) return;
    if (db_result_status(res) != DB_OK) {
        /* Try again at the next heartbeat or event: keep the stream, it is still resumable. */
        log_warn("sse", "catch-up failed: %s", db_result_error(res));
        s->dirty = true;
        return;
    }
    int n = db_result_nrows(res);
    const char *min_s = n > 0 ? db_result_get_by_name(res, 0, "min_id") : NULL;
    int64_t min_id = min_s ? strtoll(min_s, NULL, 10) : 0;
    if (n > 0 && s->last_id > 0 && min_id > s->last_id + 1) {
        /* Events the client missed were pruned: tell it to re-read the state. */
        if (!sse__write_event(s, 0, "reset", "{}", 2, false)) return;
    }
    arena_t a;
    arena_init(&a);
    jobs_sse_event_t *ev = arena_calloc(&a, (size_t)(n > 0 ? n : 1) * sizeof *ev);
    for (int i = 0; i < n; i++) {
        ev[i].id = strtoll(db_result_get_by_name(res, i, "id"), NULL, 10);
        ev[i].job_id = db_result_get_by_name(res, i, "job_id");
        ev[i].type = db_result_get_by_name(res, i, "type");
        ev[i].data = db_result_get_by_name(res, i, "data");
        ev[i].data_len = strlen(ev[i].data);
    }
    jobs_sse_coalesce(ev, (size_t)n, &a);
    int64_t page_last = 0;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        page_last = ev[i].id;
        if (ev[i].skip) continue;
        ok = sse__write_event(s, ev[i].id, ev[i].type, ev[i].data, ev[i].data_len, false);
    }
    arena_free(&a);
    if (!ok) return; /* blocked again: on_drain continues from last_id */
    if (page_last > s->last_id) s->last_id = page_last; /* skipped (merged) rows */
    if (n == SSE__PAGE || s->dirty) {
        s->dirty = false;
        sse__catch_up(s);
        return;
    }
    s->catching_up = false;
}

static void sse__catch_up(sse__t *s)
{
    if (s->ended || s->q || s->blocked) return;
    s->catching_up = true;
    s->dirty = false;
    if (jobs_events_since(s->e, s->sub.user_id, s->sub.story_id, s->last_id, SSE__PAGE, sse__caught,
                          s, &s->q) != 0) {
        s->q = NULL;
        s->dirty = true;
    }
}

/* Starts the stream for the (already authorized) owner of the events. */
static void sse__start(http_req_t *req, int64_t owner_id, const char *story_id)
{
    app_t *app = req->app;
    if (!app->jobs) {
        api_db_unavailable(req);
        return;
    }
    const char *last = http_req_header(req, "last-event-id");
    if (!last) last = http_req_query(req, "last_event_id");
    int64_t last_id = -1;
    if (last && *last) {
        char *end;
        long long v = strtoll(last, &end, 10);
        if (*end == '\0' && v >= 0) last_id = v;
    }
    sse__t *s = arena_calloc(&req->arena, sizeof *s);
    s->sub.ops = &sse__ops;
    s->sub.user_id = owner_id;
    if (story_id) snprintf(s->sub.story_id, sizeof s->sub.story_id, "%s", story_id);
    s->req = req;
    s->e = app->jobs;
    s->last_id = last_id > 0 ? last_id : 0;
    http_res_header(req, "Cache-Control", "no-cache");
    http_res_header(req, "X-Accel-Buffering", "no");
    if (http_stream_start(req, 200, "text/event-stream", (size_t)app->cfg->sse_max_queued_bytes,
                          sse__on_drain, s) != 0) {
        http_stream_end(req);
        return;
    }
    req->on_abort = sse__on_abort;
    req->on_abort_arg = s;
    /* The retry field and a comment go out at once, so proxies see the headers flushed. */
    buf_t b;
    buf_init(&b, 256);
    jobs_sse_retry(&b, app->cfg->sse_retry_ms, "connected");
    http_stream_write(req, b.data, b.len);
    buf_free(&b);
    /* Subscribe before replaying, so nothing falls between the replay and live events. */
    jobs_subscribe(s->e, &s->sub);
    if (last_id >= 0) sse__catch_up(s);
}

/* ---- authentication: header or ticket ------------------------------------------------------- */

typedef struct {
    const char *story_id; /* NULL for the user-wide stream */
} sse__ctx_t;

static void sse__story_checked(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    req->on_abort = NULL;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) != 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    sse__start(req, strtoll(db_result_get(res, 0, 0), NULL, 10), req->params[0]);
}

static void sse__abort_query(http_req_t *req, void *arg)
{
    db_query_cancel(arg);
    http_respond(req, 499, NULL, NULL, 0);
}

/* The stream of one story belongs to its owner's events; a superuser may watch any story. */
static void sse__authorized(http_req_t *req, int64_t user_id, bool superuser)
{
    app_t *app = req->app;
    if (req->nparams == 0) {
        sse__start(req, user_id, NULL);
        return;
    }
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    const char *params[3] = {req->params[0], uid, superuser ? "t" : "f"};
    db_query_t *h = NULL;
    if (db_query(app->db,
                 "SELECT s.user_id FROM stories s WHERE s.id = $1 AND (s.user_id = $2 OR "
                 "$3::boolean)",
                 3, params, sse__story_checked, req, &h) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = sse__abort_query;
    req->on_abort_arg = h;
}

static void sse__authed(http_req_t *req, const api_user_t *user)
{
    sse__authorized(req, user->id, user->is_superuser);
}

static void sse__ticket_used(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    req->on_abort = NULL;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) != 1) {
        api_auth_respond_401(req, "Invalid or expired ticket.");
        return;
    }
    int64_t uid = strtoll(db_result_get(res, 0, 0), NULL, 10);
    req->user_id = uid;
    sse__authorized(req, uid, db_result_get(res, 0, 1)[0] == 't');
}

static void sse__get(http_req_t *req)
{
    app_t *app = req->app;
    if (!app->db || !app->jobs) {
        api_db_unavailable(req);
        return;
    }
    const char *ticket = http_req_query(req, "ticket");
    if (!ticket || http_req_header(req, "authorization")) {
        api_auth(req, true, sse__authed);
        return;
    }
    char hash[67];
    api_token_hash_param(ticket, strlen(ticket), hash);
    const char *params[1] = {hash};
    db_query_t *h = NULL;
    /* Single use: the DELETE takes the ticket, so a replayed URL finds nothing. */
    if (db_query(app->db,
                 "WITH t AS (DELETE FROM event_tickets WHERE ticket_hash = $1::bytea AND "
                 "expires_at > now() RETURNING user_id) SELECT u.id, u.is_superuser FROM t JOIN "
                 "users u ON u.id = t.user_id WHERE u.is_active",
                 1, params, sse__ticket_used, req, &h) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = sse__abort_query;
    req->on_abort_arg = h;
}

void api_events_stream(http_req_t *req);
void api_story_events_stream(http_req_t *req);
void api_events_ticket(http_req_t *req);

void api_events_stream(http_req_t *req)
{
    sse__get(req);
}

void api_story_events_stream(http_req_t *req)
{
    sse__get(req);
}

/* ---- tickets --------------------------------------------------------------------------------- */

typedef struct {
    char key[API_TOKEN_KEY_LEN + 1];
    db_query_t *q;
} sse__ticket_t;

static void sse__ticket_stored(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    sse__ticket_t *t = req->on_abort_arg;
    req->on_abort = NULL;
    if (api_db_failed(req, res)) return;
    app_t *app = req->app;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "ticket", t->key);
    json_kv_int(g, "expires_in", app->cfg->sse_ticket_ttl_s);
    yajl_gen_map_close(g);
    http_res_header(req, "Cache-Control", "no-store");
    http_respond_json(req, 201, g);
    yajl_gen_free(g);
}

static void sse__ticket_abort(http_req_t *req, void *arg)
{
    sse__ticket_t *t = arg;
    db_query_cancel(t->q);
    http_respond(req, 499, NULL, NULL, 0);
}

static void sse__ticket_authed(http_req_t *req, const api_user_t *user)
{
    app_t *app = req->app;
    sse__ticket_t *t = arena_calloc(&req->arena, sizeof *t);
    char hash[67];
    if (api_token_new(t->key, hash) != 0) {
        http_respond_error(req, 500, "internal_error", "cannot create a ticket");
        return;
    }
    char uid[24], ttl[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user->id);
    snprintf(ttl, sizeof ttl, "%lld", (long long)app->cfg->sse_ticket_ttl_s);
    const char *params[3] = {hash, uid, ttl};
    req->on_abort = sse__ticket_abort;
    req->on_abort_arg = t;
    if (db_query(app->db,
                 "INSERT INTO event_tickets (ticket_hash, user_id, expires_at) VALUES ($1::bytea, "
                 "$2::bigint, now() + make_interval(secs => $3::int))",
                 3, params, sse__ticket_stored, req, &t->q) != 0) {
        req->on_abort = NULL;
        api_db_unavailable(req);
    }
}

void api_events_ticket(http_req_t *req)
{
    app_t *app = req->app;
    if (!app->db) {
        api_db_unavailable(req);
        return;
    }
    api_auth(req, true, sse__ticket_authed);
}
