/* db_pool: pool lifecycle, the bounded wait queue, dispatch to connections, callback delivery
 * and shutdown. Connection mechanics live in db_conn.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/db_internal.h"

void db_config_defaults(db_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->application_name = "nova";
    cfg->pool_size = 8;
    cfg->pipeline_depth = 16;
    cfg->queue_max = 1024;
    cfg->queue_timeout_ms = 2000;
    cfg->statement_timeout_ms = 30000;
    cfg->query_timeout_ms = 0;
    cfg->connect_timeout_ms = 5000;
    cfg->tx_timeout_ms = 60000;
    cfg->reconnect_min_ms = 100;
    cfg->reconnect_max_ms = 5000;
    cfg->stmt_cache_max = 512;
}

/* ---- query objects and lists ---- */

db_query_t *db__query_new(db_pool_t *pool, const char *sql, int nparams, const char *const *params,
                          db_query_cb cb, void *arg)
{
    /* One allocation holds the query, its SQL and copies of its parameters. */
    size_t sqllen = strlen(sql) + 1;
    size_t size = sizeof(db_query_t) + (size_t)nparams * sizeof(char *) + sqllen;
    for (int i = 0; i < nparams; i++)
        if (params[i]) size += strlen(params[i]) + 1;
    db_query_t *q = calloc(1, size);
    if (!q) return NULL;
    char *p = (char *)(q + 1);
    q->params = (const char **)p;
    p += (size_t)nparams * sizeof(char *);
    for (int i = 0; i < nparams; i++) {
        if (!params[i]) continue;
        size_t n = strlen(params[i]) + 1;
        memcpy(p, params[i], n);
        q->params[i] = p;
        p += n;
    }
    memcpy(p, sql, sqllen);
    q->sql = p;
    q->nparams = nparams;
    q->pool = pool;
    q->cb = cb;
    q->arg = arg;
    q->kind = DBQ_USER;
    q->t_submit_ms = uv_now(pool->loop);
    q->t_start_ns = uv_hrtime();
    return q;
}

void db__query_free(db_query_t *q)
{
    if (q->res.pg) PQclear(q->res.pg);
    free(q);
}

void db__qlist_push(db_qlist_t *l, db_query_t *q)
{
    q->next = NULL;
    q->prev = l->tail;
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->n++;
}

/* The ends are recognised by the list's own head and tail pointers, so unlinking the head always
 * moves l->head (db__qlist_pop relies on that). */
void db__qlist_unlink(db_qlist_t *l, db_query_t *q)
{
    if (l->head == q)
        l->head = q->next;
    else
        q->prev->next = q->next;
    if (l->tail == q)
        l->tail = q->prev;
    else
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
    l->n--;
}

db_query_t *db__qlist_pop(db_qlist_t *l)
{
    db_query_t *q = l->head;
    if (q) db__qlist_unlink(l, q);
    return q;
}

uint64_t db__rand(db_pool_t *pool)
{
    /* xorshift64: only used for reconnect jitter. */
    uint64_t x = pool->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return pool->rng = x;
}

/* ---- completion ---- */

static void deliver(db_query_t *q)
{
    q->where = DBQ_NOWHERE;
    if (!q->cb) {
        db__query_free(q);
        return;
    }
    db_query_cb cb = q->cb;
    q->cb = NULL;
    cb(&q->res, q->arg);
    if (!q->res.taken) db__query_free(q);
}

static void on_idle(uv_idle_t *h)
{
    db_pool_t *pool = h->data;
    db_query_t *q;
    /* Callbacks may defer more work; keep going until the list is empty. */
    while ((q = db__qlist_pop(&pool->deferred)))
        deliver(q);
    uv_idle_stop(&pool->idle);
    db__pool_dispatch(pool);
    db__pool_maybe_finish(pool);
}

void db__query_finish(db_query_t *q, int status, PGresult *pg, const char *message)
{
    db_pool_t *pool = q->pool;
    db__result_set(&q->res, status, pg, message);
    if (q->kind == DBQ_USER && q->tx && status != DB_OK) q->tx->failed = true;
    if (q->kind != DBQ_INTERNAL) db__metrics_record(pool, q);
    /* Inside a public call the caller's state may be half-updated, so its callbacks run on
     * the next loop iteration instead; from loop callbacks they run right away. */
    if (pool->api_depth > 0 && q->cb) {
        q->where = DBQ_DEFERRED;
        db__qlist_push(&pool->deferred, q);
        if (!uv_is_active((uv_handle_t *)&pool->idle)) uv_idle_start(&pool->idle, on_idle);
        return;
    }
    deliver(q);
}

/* ---- wait queue ---- */

static bool pool_down(const db_pool_t *pool)
{
    /* "Down" = nothing is connected and the last attempts failed. At start-up (nothing tried
     * yet) requests wait instead, so the first queries do not fail needlessly. */
    return pool->n_ready == 0 && pool->had_failure;
}

static void arm_queue_timer(db_pool_t *pool);

static void on_queue_timer(uv_timer_t *t)
{
    db_pool_t *pool = t->data;
    uint64_t now = uv_now(pool->loop);
    db_query_t *q;
    while ((q = pool->waiters.head) &&
           q->t_submit_ms + (uint64_t)pool->cfg.queue_timeout_ms <= now) {
        db__qlist_unlink(&pool->waiters, q);
        db__query_finish(q, DB_E_BUSY, NULL, "timed out waiting for a database connection");
    }
    arm_queue_timer(pool);
}

static void arm_queue_timer(db_pool_t *pool)
{
    db_query_t *q = pool->waiters.head;
    if (!q || pool->closing) {
        uv_timer_stop(&pool->queue_timer);
        return;
    }
    uint64_t due = q->t_submit_ms + (uint64_t)pool->cfg.queue_timeout_ms;
    uint64_t now = uv_now(pool->loop);
    uv_timer_start(&pool->queue_timer, on_queue_timer, due > now ? due - now : 0, 0);
}

void db__pool_fail_waiters(db_pool_t *pool, int status, const char *why)
{
    db_query_t *q;
    while ((q = db__qlist_pop(&pool->waiters)))
        db__query_finish(q, status, NULL, why);
    uv_timer_stop(&pool->queue_timer);
}

/* Picks the ready connection with the fewest queries in flight; a transaction needs one that
 * no other transaction pins. */
static db_conn_t *pick_conn(db_pool_t *pool, const db_query_t *q)
{
    db_conn_t *best = NULL;
    for (int i = 0; i < pool->nconns; i++) {
        db_conn_t *c = &pool->conns[i];
        if (!db__conn_can_take(c, pool->cfg.pipeline_depth)) continue;
        if (!best || c->fifo.n < best->fifo.n) best = c;
        if (best->fifo.n == 0) break;
    }
    (void)q;
    return best;
}

static void send_to(db_conn_t *c, db_query_t *q)
{
    if (q->kind == DBQ_TX_BEGIN) {
        c->tx = q->tx;
        q->tx->conn = c;
    }
    db__conn_send(c, q);
}

void db__pool_dispatch(db_pool_t *pool)
{
    if (pool->closing) return;
    db_query_t *q;
    while ((q = pool->waiters.head)) {
        db_conn_t *c = pick_conn(pool, q);
        if (!c) break;
        db__qlist_unlink(&pool->waiters, q);
        q->where = DBQ_NOWHERE;
        send_to(c, q);
    }
    if (!pool->waiters.head) uv_timer_stop(&pool->queue_timer);
}

void db__pool_submit(db_pool_t *pool, db_query_t *q)
{
    if (pool_down(pool)) {
        db__query_finish(q, DB_E_UNAVAILABLE, NULL, "database unavailable");
        return;
    }
    if (!pool->waiters.head) {
        db_conn_t *c = pick_conn(pool, q);
        if (c) {
            send_to(c, q);
            return;
        }
    }
    if (pool->waiters.n >= (size_t)pool->cfg.queue_max) {
        db__query_finish(q, DB_E_BUSY, NULL, "database wait queue is full");
        return;
    }
    q->where = DBQ_WAITING;
    db__qlist_push(&pool->waiters, q);
    if (pool->waiters.n == 1) arm_queue_timer(pool);
}

/* ---- public API ---- */

static bool valid_config(const db_config_t *c)
{
    return c->url && c->pool_size >= 1 && c->pool_size <= 1000 && c->pipeline_depth >= 1 &&
           c->pipeline_depth <= 1000 && c->queue_max >= 0 && c->queue_max <= 1000000 &&
           c->queue_timeout_ms >= 1 && c->statement_timeout_ms >= 0 && c->query_timeout_ms >= 0 &&
           c->connect_timeout_ms >= 100 && c->connect_timeout_ms <= 600000 &&
           c->tx_timeout_ms >= 0 && c->reconnect_min_ms >= 1 &&
           c->reconnect_max_ms >= c->reconnect_min_ms && c->stmt_cache_max >= 0;
}

static void free_params(db_pool_t *pool)
{
    if (pool->kw)
        for (int i = 0; pool->kw[i]; i++) {
            free((char *)pool->kw[i]);
            free((char *)pool->vals[i]);
        }
    free(pool->kw);
    free(pool->vals);
}

/* Turns the URL into keyword/value arrays, appending our session settings to any "options"
 * the URL has, so the server enforces statement_timeout even if the client is stuck. */
static int build_params(db_pool_t *pool, const db_config_t *cfg)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg->url, &err);
    if (!opts) {
        log_error("db", "invalid DATABASE_URL: %s", err ? err : "out of memory");
        PQfreemem(err);
        return -EINVAL;
    }
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        n++;
    pool->kw = calloc(n + 3, sizeof(char *));
    pool->vals = calloc(n + 3, sizeof(char *));
    if (!pool->kw || !pool->vals) {
        PQconninfoFree(opts);
        return -ENOMEM;
    }
    char extra[160];
    int len =
        snprintf(extra, sizeof extra, "-c statement_timeout=%d", pool->cfg.statement_timeout_ms);
    if (pool->cfg.tx_timeout_ms > 0)
        snprintf(extra + len, sizeof extra - (size_t)len,
                 " -c idle_in_transaction_session_timeout=%d", pool->cfg.tx_timeout_ms + 10000);
    size_t k = 0;
    bool have_options = false;
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword && rc == 0; o++) {
        if (!o->val) continue;
        char *val;
        if (strcmp(o->keyword, "options") == 0) {
            have_options = true;
            size_t sz = strlen(o->val) + strlen(extra) + 2;
            val = malloc(sz);
            if (val) snprintf(val, sz, "%s %s", o->val, extra);
        } else {
            val = strdup(o->val);
        }
        pool->kw[k] = strdup(o->keyword);
        pool->vals[k] = val;
        if (!pool->kw[k] || !val) rc = -ENOMEM;
        k++;
    }
    if (rc == 0 && !have_options) {
        pool->kw[k] = strdup("options");
        pool->vals[k] = strdup(extra);
        if (!pool->kw[k] || !pool->vals[k]) rc = -ENOMEM;
        k++;
    }
    if (rc == 0 && cfg->application_name) {
        pool->kw[k] = strdup("fallback_application_name");
        pool->vals[k] = strdup(cfg->application_name);
        if (!pool->kw[k] || !pool->vals[k]) rc = -ENOMEM;
    }
    PQconninfoFree(opts);
    return rc;
}

int db_pool_new(uv_loop_t *loop, const db_config_t *cfg, db_pool_t **out)
{
    *out = NULL;
    if (!loop || !cfg || !valid_config(cfg)) {
        log_error("db", "invalid database pool configuration");
        return -EINVAL;
    }
    db_pool_t *pool = calloc(1, sizeof *pool);
    if (!pool) return -ENOMEM;
    pool->loop = loop;
    pool->cfg = *cfg;
    pool->cfg.url = NULL; /* not kept: it may hold a password */
    pool->cfg.application_name = NULL;
    pool->rng = uv_hrtime() | 1;
    pool->query_timeout_ms = cfg->query_timeout_ms;
    if (!pool->query_timeout_ms && cfg->statement_timeout_ms)
        pool->query_timeout_ms = cfg->statement_timeout_ms + 2000;
    int rc = build_params(pool, cfg);
    pool->conns = calloc((size_t)cfg->pool_size, sizeof(db_conn_t));
    if (rc == 0 && !pool->conns) rc = -ENOMEM;
    if (rc < 0) {
        free_params(pool);
        free(pool->conns);
        free(pool);
        return rc;
    }
    pool->nconns = cfg->pool_size;
    uv_timer_init(loop, &pool->queue_timer);
    pool->queue_timer.data = pool;
    uv_idle_init(loop, &pool->idle);
    pool->idle.data = pool;
    for (int i = 0; i < pool->nconns; i++)
        db__conn_init(pool, &pool->conns[i], i, false);
    for (int i = 0; i < pool->nconns; i++)
        db__conn_start(&pool->conns[i]);
    *out = pool;
    return 0;
}

bool db_pool_ready(const db_pool_t *pool)
{
    return pool && !pool->closing && pool->n_ready > 0;
}

int db_query(db_pool_t *pool, const char *sql, int nparams, const char *const *params,
             db_query_cb cb, void *arg, db_query_t **handle)
{
    if (handle) *handle = NULL;
    if (!pool || !sql || nparams < 0 || nparams > 65535 || (nparams > 0 && !params)) return -EINVAL;
    if (pool->closing) return DB_E_CLOSED;
    db_query_t *q = db__query_new(pool, sql, nparams, params, cb, arg);
    if (!q) return -ENOMEM;
    if (handle) *handle = q;
    pool->api_depth++;
    db__pool_submit(pool, q);
    pool->api_depth--;
    return 0;
}

void db_query_cancel(db_query_t *q)
{
    if (!q) return;
    db_pool_t *pool = q->pool;
    if (q->kind == DBQ_TX_BEGIN) {
        /* The transaction object must go through its own teardown; see db_tx.c. */
        if (q->where == DBQ_WAITING) {
            db__qlist_unlink(&pool->waiters, q);
            db_tx_t *tx = q->tx;
            db__query_free(q);
            db__tx_discard(tx);
        } else {
            q->tx->begin_cancelled = true;
        }
        return;
    }
    switch (q->where) {
    case DBQ_WAITING:
        db__qlist_unlink(&pool->waiters, q);
        db__query_free(q);
        break;
    case DBQ_DEFERRED:
        db__qlist_unlink(&pool->deferred, q);
        db__query_free(q);
        break;
    case DBQ_INFLIGHT:
        /* PostgreSQL will still answer; the answer is dropped on arrival. Stopping the
         * statement on the server is attempted only where it is safe (see db_conn.c). */
        q->cb = NULL;
        q->cancelled = true;
        db__conn_cancel_query(q);
        break;
    default:
        q->cb = NULL;
        break;
    }
}

/* ---- shutdown ---- */

static void final_free(db_pool_t *pool)
{
    void (*cb)(void *) = pool->close_cb;
    void *arg = pool->close_arg;
    /* A cancel request still on the threadpool finishes after us; it must not touch the pool. */
    if (pool->cancel_job) pool->cancel_job->pool = NULL;
    db__tx_free_all(pool);
    db__listen_free_all(pool);
    free(pool->listener);
    free(pool->conns);
    free_params(pool);
    free(pool);
    if (cb) cb(arg);
}

void db__pool_closed_one(db_pool_t *pool)
{
    pool->pending_closes--;
    if (!pool->closing) return;
    if (!pool->finishing)
        db__pool_maybe_finish(pool);
    else if (pool->pending_closes == 0)
        final_free(pool);
}

static void on_pool_handle_closed(uv_handle_t *h)
{
    db__pool_closed_one(h->data);
}

void db__pool_maybe_finish(db_pool_t *pool)
{
    if (!pool->closing || pool->finishing || pool->pending_closes > 0 || pool->deferred.head)
        return;
    /* Every connection handle is closed and every callback delivered: close our own. */
    pool->finishing = true;
    db__tx_close_all(pool);
    pool->pending_closes += 2;
    uv_close((uv_handle_t *)&pool->queue_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->idle, on_pool_handle_closed);
}

void db_pool_close(db_pool_t *pool, void (*done_cb)(void *arg), void *arg)
{
    if (!pool || pool->closing) return;
    pool->closing = true;
    pool->close_cb = done_cb;
    pool->close_arg = arg;
    pool->api_depth++;
    db__pool_fail_waiters(pool, DB_E_CLOSED, "database pool is closing");
    for (int i = 0; i < pool->nconns; i++)
        db__conn_shutdown(&pool->conns[i]);
    if (pool->listener) db__conn_shutdown(pool->listener);
    pool->api_depth--;
    if (pool->deferred.head && !uv_is_active((uv_handle_t *)&pool->idle))
        uv_idle_start(&pool->idle, on_idle);
    db__pool_maybe_finish(pool);
}
