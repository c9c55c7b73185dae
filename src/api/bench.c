/* bench: routes that exist only for tests and benchmarks (NOVA_BENCH_ROUTES=1): echo a JSON
 * body, answer after a delay without blocking the loop, send a large body, report the pid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/app.h"
#include "core/json.h"
#include "db/db.h"
#include "http/router.h"
#include "http/http.h"

void api_bench_echo(http_req_t *req);
void api_bench_sleep(http_req_t *req);
void api_bench_blob(http_req_t *req);
void api_bench_pid(http_req_t *req);
void api_bench_db(http_req_t *req);
void api_bench_pgbench(http_req_t *req);
void api_bench_upload(http_req_t *req);
extern const http_body_sink_t api_bench_upload_sink;

void api_bench_echo(http_req_t *req)
{
    yajl_val v = http_req_json(req);
    if (!v) return;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "body_bytes", (int64_t)req->body_len);
    json_kv_str(g, "type", YAJL_IS_OBJECT(v) ? "object" : YAJL_IS_ARRAY(v) ? "array" : "scalar");
    json_key(g, "keys");
    yajl_gen_array_open(g);
    if (YAJL_IS_OBJECT(v))
        for (size_t i = 0; i < v->u.object.len; i++)
            json_str(g, v->u.object.keys[i]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

typedef struct {
    uv_timer_t timer;
    http_req_t *req;
} bench__sleep_t;

static void bench__sleep_closed(uv_handle_t *h)
{
    free(h->data);
}

static void bench__sleep_abort(http_req_t *req, void *arg)
{
    bench__sleep_t *s = arg;
    (void)req;
    uv_timer_stop(&s->timer);
    http_respond(s->req, 499, NULL, NULL, 0);
    uv_close((uv_handle_t *)&s->timer, bench__sleep_closed);
}

static void bench__sleep_done(uv_timer_t *t)
{
    bench__sleep_t *s = t->data;
    static const char body[] = "{\"slept\":true}";
    http_respond(s->req, 200, "application/json", body, sizeof body - 1);
    s->timer.data = s;
    uv_close((uv_handle_t *)&s->timer, bench__sleep_closed);
}

void api_bench_sleep(http_req_t *req)
{
    app_t *app = req->app;
    const char *ms = http_req_query(req, "ms");
    long n = ms ? strtol(ms, NULL, 10) : 100;
    if (n < 0 || n > 60000) n = 100;
    bench__sleep_t *s = calloc(1, sizeof *s);
    if (!s) {
        http_respond_error(req, 503, "unavailable", "out of memory");
        return;
    }
    s->req = req;
    uv_timer_init(app->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, bench__sleep_done, (uint64_t)n, 0);
    req->on_abort = bench__sleep_abort;
    req->on_abort_arg = s;
}

void api_bench_blob(http_req_t *req)
{
    const char *sz = http_req_query(req, "size");
    long n = sz ? strtol(sz, NULL, 10) : 1024;
    if (n < 0 || n > (64L << 20)) n = 1024;
    char *body = malloc((size_t)n + 1);
    if (!body) {
        http_respond_error(req, 503, "unavailable", "out of memory");
        return;
    }
    memset(body, 'x', (size_t)n);
    http_respond(req, 200, "application/octet-stream", body, (size_t)n);
    free(body);
}

void api_bench_pid(http_req_t *req)
{
    char body[64];
    int n = snprintf(body, sizeof body, "{\"pid\":%d}", (int)getpid());
    http_respond(req, 200, "application/json", body, (size_t)n);
}

static void bench__db_done(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    if (api_db_failed(req, res)) return;
    const char *v = db_result_nrows(res) ? db_result_get(res, 0, 0) : NULL;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "value", v);
    yajl_gen_map_close(g);
    http_respond_json(req, v ? 200 : 404, g);
    yajl_gen_free(g);
}

static void bench__db_abort(http_req_t *req, void *arg)
{
    (void)req;
    db_query_cancel(arg);
    http_respond(req, 499, NULL, NULL, 0);
}

static void bench__query(http_req_t *req, const char *sql, int nparams, const char *param)
{
    app_t *app = req->app;
    if (!app->db) {
        api_db_unavailable(req);
        return;
    }
    db_query_t *q = NULL;
    const char *params[1] = {param};
    if (db_query(app->db, sql, nparams, params, bench__db_done, req, &q) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = bench__db_abort;
    req->on_abort_arg = q;
}

/* A round trip through the pool: SELECT $1 + 1. */
void api_bench_db(http_req_t *req)
{
    const char *n = http_req_query(req, "n");
    char *end = NULL;
    if (!n || strtol(n, &end, 10) < 0 || *end) n = "1";
    const char *sleep = http_req_query(req, "sleep");
    if (sleep && strcmp(sleep, "1") == 0)
        bench__query(req, "SELECT pg_sleep(5)::text", 0, NULL);
    else
        bench__query(req, "SELECT ($1::int + 1)::text", 1, n);
}

/* The same primary-key read that pgbench -S runs, for the database benchmark. */
void api_bench_pgbench(http_req_t *req)
{
    bench__query(req, "SELECT abalance::text FROM pgbench_accounts WHERE aid = $1", 1,
                 req->params[0]);
}

/* /bench/upload: a streaming body sink that counts bytes and, every 64 KiB, pauses reading for
 * a millisecond, as a sink waiting for disk writes would; it refuses a body starting with "BAD". */
typedef struct {
    uv_timer_t timer;
    http_req_t *req;
    size_t bytes, since_pause;
    unsigned pauses;
    bool first;
} bench__upload_t;

static void bench__upload_closed(uv_handle_t *h)
{
    free(h->data);
}

static void bench__upload_free(void *p)
{
    bench__upload_t *u = p;
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, bench__upload_closed);
}

static void bench__upload_resume(uv_timer_t *t)
{
    bench__upload_t *u = t->data;
    http_req_resume_body(u->req);
}

static int bench__upload_begin(http_req_t *req)
{
    app_t *app = req->app;
    bench__upload_t *u = calloc(1, sizeof *u);
    if (!u) return 503;
    u->req = req;
    u->first = true;
    uv_timer_init(app->loop, &u->timer);
    u->timer.data = u;
    req->body_ctx = u;
    arena_on_free(&req->arena, bench__upload_free, u);
    return 0;
}

static int bench__upload_data(http_req_t *req, const char *at, size_t len)
{
    bench__upload_t *u = req->body_ctx;
    if (u->first && len >= 3 && memcmp(at, "BAD", 3) == 0) {
        http_req_body_error(req, "this body starts with BAD");
        return 415;
    }
    u->first = false;
    u->bytes += len;
    u->since_pause += len;
    if (u->since_pause >= 65536) {
        u->since_pause = 0;
        u->pauses++;
        http_req_pause_body(req);
        uv_timer_start(&u->timer, bench__upload_resume, 1, 0);
    }
    return 0;
}

const http_body_sink_t api_bench_upload_sink = {bench__upload_begin, bench__upload_data};

void api_bench_upload(http_req_t *req)
{
    bench__upload_t *u = req->body_ctx;
    char body[96];
    int n = snprintf(body, sizeof body, "{\"bytes\":%zu,\"pauses\":%u}", u ? u->bytes : (size_t)0,
                     u ? u->pauses : 0u);
    http_respond(req, 200, "application/json", body, (size_t)n);
}
