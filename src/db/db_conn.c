/* db_conn: one libpq connection driven by a uv_poll_t: asynchronous connect, pipeline-mode
 * sends with a per-connection prepared-statement cache, result parsing in FIFO order,
 * client-side statement deadline, server-side cancel requests (on the threadpool, one per pool
 * at a time), and reset + reconnect with capped exponential backoff. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/db_internal.h"

static void on_poll(uv_poll_t *h, int status, int events);
static void on_timer_closed(uv_handle_t *h);

void db__conn_init(db_pool_t *pool, db_conn_t *c, int idx, bool listener)
{
    memset(c, 0, sizeof *c);
    c->pool = pool;
    c->idx = idx;
    c->listener = listener;
    c->state = DBC_INIT;
    uv_timer_init(pool->loop, &c->timer);
    c->timer.data = c;
}

bool db__conn_can_take(const db_conn_t *c, int depth)
{
    return c->state == DBC_READY && !c->listener && !c->tx && !c->held_for_cancel &&
           c->fifo.n < (size_t)depth;
}

/* ---- prepared statement cache ---- */

static uint32_t hash_sql(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static db_stmt_t *stmt_lookup(db_conn_t *c, const char *sql, uint32_t h)
{
    for (db_stmt_t *s = c->stmts[h % DB_STMT_BUCKETS]; s; s = s->next)
        if (s->hash == h && strcmp(s->sql, sql) == 0) return s;
    return NULL;
}

static db_stmt_t *stmt_add(db_conn_t *c, const char *sql, uint32_t h)
{
    size_t n = strlen(sql) + 1;
    db_stmt_t *s = malloc(sizeof *s + n);
    if (!s) return NULL;
    memcpy(s->sql, sql, n);
    s->hash = h;
    snprintf(s->name, sizeof s->name, "nv%u", ++c->stmt_seq);
    s->next = c->stmts[h % DB_STMT_BUCKETS];
    c->stmts[h % DB_STMT_BUCKETS] = s;
    c->n_stmts++;
    return s;
}

static void stmt_drop(db_conn_t *c, db_stmt_t *s)
{
    if (!s) return;
    for (db_stmt_t **pp = &c->stmts[s->hash % DB_STMT_BUCKETS]; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            free(s);
            c->n_stmts--;
            return;
        }
    }
}

static void stmt_clear(db_conn_t *c)
{
    for (int i = 0; i < DB_STMT_BUCKETS; i++) {
        while (c->stmts[i]) {
            db_stmt_t *s = c->stmts[i];
            c->stmts[i] = s->next;
            free(s);
        }
    }
    c->n_stmts = 0;
}

/* ---- socket watching ---- */

static void on_poll_closed(uv_handle_t *h)
{
    db_poll_t *p = h->data;
    db_pool_t *pool = p->conn->pool;
    /* libuv no longer watches the descriptor, so libpq may close it now. */
    if (p->finish) PQfinish(p->finish);
    free(p);
    db__pool_closed_one(pool);
}

static void poll_close(db_conn_t *c, bool finish)
{
    db_poll_t *p = c->poll;
    if (p) {
        uv_poll_stop(&p->handle);
        p->finish = finish ? c->pg : NULL;
        c->pool->pending_closes++;
        uv_close((uv_handle_t *)&p->handle, on_poll_closed);
        c->poll = NULL;
    } else if (finish && c->pg) {
        PQfinish(c->pg);
    }
    if (finish) c->pg = NULL;
}

/* Watches PQsocket() for `events`. During connection set-up libpq may close its socket and
 * open another one (next address, SSL retry), possibly under the same number, so `fresh` asks
 * for a new uv_poll_t instead of re-arming one whose descriptor may have been replaced. */
static int poll_watch(db_conn_t *c, int events, bool fresh)
{
    int fd = PQsocket(c->pg);
    if (fd < 0) return -EBADF;
    if (c->poll && (fresh || c->poll->fd != fd)) poll_close(c, false);
    if (!c->poll) {
        db_poll_t *p = calloc(1, sizeof *p);
        if (!p) return -ENOMEM;
        int rc = uv_poll_init(c->pool->loop, &p->handle, fd);
        if (rc < 0) {
            free(p);
            return rc;
        }
        p->handle.data = p;
        p->conn = c;
        p->fd = fd;
        c->poll = p;
    }
    if (c->poll->events != events) {
        int rc = uv_poll_start(&c->poll->handle, events, on_poll);
        if (rc < 0) return rc;
        c->poll->events = events;
    }
    return 0;
}

/* ---- connecting ---- */

/* libpq messages span several lines ("...\n\tThis probably means..."); logs want the first. */
static const char *first_line(const char *msg, char *buf, size_t n)
{
    size_t len = strcspn(msg ? msg : "", "\n");
    if (len >= n) len = n - 1;
    memcpy(buf, msg ? msg : "", len);
    buf[len] = '\0';
    return buf;
}

/* Server NOTICE/WARNING messages would otherwise go to stderr unformatted. */
static void on_notice(void *arg, const char *msg)
{
    db_conn_t *c = arg;
    char line[512];
    log_debug("db", "connection %d: server says: %s", c->idx, first_line(msg, line, sizeof line));
}

static void on_connect_timeout(uv_timer_t *t);
static void on_reconnect_timer(uv_timer_t *t);

static int backoff_ms(db_conn_t *c)
{
    const db_config_t *cfg = &c->pool->cfg;
    uint64_t d = (uint64_t)cfg->reconnect_min_ms;
    for (int i = 1; i < c->fails && d < (uint64_t)cfg->reconnect_max_ms; i++)
        d *= 2;
    if (d > (uint64_t)cfg->reconnect_max_ms) d = (uint64_t)cfg->reconnect_max_ms;
    /* +-25% jitter so a fleet of pools does not reconnect in lockstep. */
    return (int)(d * 3 / 4 + db__rand(c->pool) % (d / 2 + 1));
}

static void schedule_reconnect(db_conn_t *c, int delay_ms)
{
    if (c->pool->closing) return;
    c->state = DBC_BACKOFF;
    uv_timer_start(&c->timer, on_reconnect_timer, (uint64_t)delay_ms, 0);
}

static void connect_failed(db_conn_t *c, const char *why)
{
    db_pool_t *pool = c->pool;
    uv_timer_stop(&c->timer);
    poll_close(c, true);
    c->fails++;
    pool->m.connect_failures++;
    if (!c->listener) pool->had_failure = true;
    /* One warning per outage and connection, then quieter: an outage must not flood logs. */
    if (c->fails == 1)
        log_warn("db", "connection %d%s: connect failed: %s", c->idx,
                 c->listener ? " (listen)" : "", why);
    else
        log_debug("db", "connection %d: connect attempt %d failed: %s", c->idx, c->fails, why);
    schedule_reconnect(c, backoff_ms(c));
    if (!c->listener && pool->n_ready == 0)
        db__pool_fail_waiters(pool, DB_E_UNAVAILABLE, "database unavailable");
}

static void connected(db_conn_t *c)
{
    db_pool_t *pool = c->pool;
    uv_timer_stop(&c->timer);
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        connect_failed(c, PQerrorMessage(c->pg));
        return;
    }
    if (poll_watch(c, UV_READABLE, false) < 0) {
        connect_failed(c, "cannot watch the connection socket");
        return;
    }
    bool again = c->ever_up || c->fails > 0;
    c->state = DBC_READY;
    c->fails = 0;
    c->ever_up = true;
    c->want_write = false;
    if (again)
        log_info("db", "connection %d%s re-established", c->idx, c->listener ? " (listen)" : "");
    if (c->listener) {
        db__listen_on_ready(c);
        return;
    }
    pool->n_ready++;
    pool->had_failure = false;
    db__pool_dispatch(pool);
}

static void connect_step(db_conn_t *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    if (st == PGRES_POLLING_FAILED) {
        connect_failed(c, PQerrorMessage(c->pg));
    } else if (st == PGRES_POLLING_OK) {
        connected(c);
    } else if (poll_watch(c, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE, true) < 0) {
        connect_failed(c, "cannot watch the connection socket");
    }
}

void db__conn_start(db_conn_t *c)
{
    db_pool_t *pool = c->pool;
    if (pool->closing) return;
    c->state = DBC_CONNECTING;
    c->pg = PQconnectStartParams(pool->kw, pool->vals, 0);
    if (!c->pg) {
        connect_failed(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        connect_failed(c, PQerrorMessage(c->pg));
        return;
    }
    PQsetNoticeProcessor(c->pg, on_notice, c);
    uv_timer_start(&c->timer, on_connect_timeout, (uint64_t)pool->cfg.connect_timeout_ms, 0);
    /* libpq's rule: start as if PQconnectPoll had asked to wait for writability. */
    if (poll_watch(c, UV_WRITABLE, true) < 0)
        connect_failed(c, "cannot watch the connection socket");
}

static void on_connect_timeout(uv_timer_t *t)
{
    db_conn_t *c = t->data;
    if (c->state == DBC_CONNECTING) connect_failed(c, "connect timeout");
}

static void on_reconnect_timer(uv_timer_t *t)
{
    db_conn_t *c = t->data;
    if (c->state != DBC_BACKOFF) return;
    c->pool->m.reconnects++;
    db__conn_start(c);
}

/* ---- reset and shutdown ---- */

static void fail_fifo(db_conn_t *c, int head_status, int rest_status, const char *why)
{
    /* Detach the list first: callbacks may submit new work while we walk it. */
    db_qlist_t l = c->fifo;
    memset(&c->fifo, 0, sizeof c->fifo);
    int st = head_status;
    db_query_t *q;
    while ((q = db__qlist_pop(&l))) {
        q->conn = NULL;
        q->where = DBQ_NOWHERE;
        if (q->res.pg) {
            /* Without its Sync an implicit transaction is not known to have committed. */
            PQclear(q->res.pg);
            q->res.pg = NULL;
        }
        db__query_finish(q, st, NULL, why);
        st = rest_status;
    }
}

static void cancel_work(uv_work_t *req)
{
    db_cancel_t *job = req->data;
    char err[256];
    PQcancel(job->pgc, err, sizeof err);
}

static void cancel_done(uv_work_t *req, int status)
{
    db_cancel_t *job = req->data;
    db_pool_t *pool = job->pool;
    PQfreeCancel(job->pgc);
    if (pool) {
        pool->cancel_job = NULL;
        /* The request has been delivered (or given up on): the connection may take new
         * queries again, unless it was reset meanwhile (a new generation is not held). */
        db_conn_t *c = job->conn;
        if (c && c->gen == job->conn_gen) c->held_for_cancel = false;
        if (c && !pool->closing) db__pool_dispatch(pool);
    }
    free(job);
}

/* Asks the server to cancel what c's backend is running. PQcancel opens a new connection and
 * waits for it, and during a network partition that can take as long as the kernel's connect
 * timeout, so it runs on the threadpool; and at most one per pool is in flight, so hung
 * cancels cannot pin threads that argon2 hashing and MP3 encoding need. A cancel that finds
 * one in flight is skipped: the caller has already been answered (client-side timeout) or has
 * gone away, and the server's statement_timeout still bounds the statement. `hold` keeps c
 * from taking new queries until the request was delivered. Returns true if one was started. */
static bool cancel_start(db_conn_t *c, bool hold)
{
    db_pool_t *pool = c->pool;
    if (pool->closing || !c->pg) return false;
    if (pool->cancel_job) {
        pool->m.cancels_skipped++;
        return false;
    }
    db_cancel_t *job = calloc(1, sizeof *job);
    if (!job) return false;
    job->pgc = PQgetCancel(c->pg);
    if (!job->pgc) {
        free(job);
        return false;
    }
    job->pool = pool;
    job->req.data = job;
    if (hold) {
        job->conn = c;
        job->conn_gen = c->gen;
    }
    if (uv_queue_work(pool->loop, &job->req, cancel_work, cancel_done) < 0) {
        PQfreeCancel(job->pgc);
        free(job);
        return false;
    }
    pool->cancel_job = job;
    if (hold) c->held_for_cancel = true;
    return true;
}

void db__conn_cancel_query(db_query_t *q)
{
    db_conn_t *c = q->conn;
    /* Only the head of a pipeline is executing, and only when nothing is queued behind it is
     * it certain that the cancel cannot arrive after it finished and interrupt the next query
     * instead (the connection takes no new query until the cancel was delivered). A query of
     * a transaction is left alone: cancelling it would abort its owner's transaction. */
    if (!c || c->state != DBC_READY || c->listener || q->kind != DBQ_USER || q->tx || c->tx ||
        c->fifo.head != q || c->fifo.n != 1 || c->held_for_cancel)
        return;
    if (cancel_start(c, true)) c->pool->m.cancels_caller++;
}

static void conn_drop(db_conn_t *c)
{
    db_pool_t *pool = c->pool;
    if (c->state == DBC_READY && !c->listener) pool->n_ready--;
    c->gen++;
    uv_timer_stop(&c->timer);
    c->held_for_cancel = false;
    poll_close(c, true);
    stmt_clear(c);
    if (c->tx) db__tx_conn_lost(c->tx);
}

void db__conn_reset(db_conn_t *c, int head_status, int rest_status, bool outage, const char *why)
{
    db_pool_t *pool = c->pool;
    if (c->state != DBC_READY) return;
    char line[512];
    log_warn("db", "connection %d%s lost: %s", c->idx, c->listener ? " (listen)" : "",
             first_line(why, line, sizeof line));
    conn_drop(c);
    if (outage && !c->listener) pool->had_failure = true;
    /* Reconnect at once; a failing attempt then backs off (connect_failed). */
    schedule_reconnect(c, 0);
    fail_fifo(c, head_status, rest_status, why);
    if (!c->listener && pool->n_ready == 0 && pool->had_failure)
        db__pool_fail_waiters(pool, DB_E_UNAVAILABLE, "database unavailable");
}

void db__conn_shutdown(db_conn_t *c)
{
    if (c->state == DBC_CLOSED) return;
    conn_drop(c);
    c->state = DBC_CLOSED;
    fail_fifo(c, DB_E_CLOSED, DB_E_CLOSED, "database pool is closing");
    c->pool->pending_closes++;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void on_timer_closed(uv_handle_t *h)
{
    db_conn_t *c = h->data;
    db__pool_closed_one(c->pool);
}

/* ---- statement deadline ---- */

static void on_deadline(uv_timer_t *t)
{
    db_conn_t *c = t->data;
    db_pool_t *pool = c->pool;
    if (c->state != DBC_READY || !c->fifo.head) return;
    pool->m.statement_timeouts_client++;
    log_warn("db", "connection %d: statement ran longer than %d ms; cancelling it and resetting",
             c->idx, pool->query_timeout_ms);
    /* The server keeps running the statement after we hang up unless it is cancelled. */
    if (cancel_start(c, false)) pool->m.cancels_timeout++;
    db__conn_reset(c, DB_E_TIMEOUT, DB_E_UNAVAILABLE, false, "statement timeout");
}

/* Only the head of the pipeline is executing; the ones behind it have not started, so the
 * deadline is measured from the moment a query became the head. */
static void arm_deadline(db_conn_t *c)
{
    int qt = c->pool->query_timeout_ms;
    if (c->state != DBC_READY) return;
    if (!qt || !c->fifo.head) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t due = c->head_since_ms + (uint64_t)qt, now = uv_now(c->pool->loop);
    uv_timer_start(&c->timer, on_deadline, due > now ? due - now : 0, 0);
}

/* ---- sending ---- */

/* Flushes libpq's output buffer and watches for writability while data remains. Returns false
 * if the connection was reset. */
static bool flush(db_conn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0) {
        db__conn_reset(c, DB_E_UNAVAILABLE, DB_E_UNAVAILABLE, true, PQerrorMessage(c->pg));
        return false;
    }
    c->want_write = r == 1;
    if (poll_watch(c, UV_READABLE | (c->want_write ? UV_WRITABLE : 0), false) < 0) {
        db__conn_reset(c, DB_E_UNAVAILABLE, DB_E_UNAVAILABLE, true, "cannot watch socket");
        return false;
    }
    return true;
}

void db__conn_send(db_conn_t *c, db_query_t *q)
{
    const char *name = NULL;
    q->conn = c;
    q->where = DBQ_INFLIGHT;
    q->has_prep = false;
    q->stmt = NULL;
    db__qlist_push(&c->fifo, q);
    if (c->fifo.n == 1) {
        c->head_since_ms = uv_now(c->pool->loop);
        arm_deadline(c);
    }
    if (q->kind != DBQ_INTERNAL && c->pool->cfg.stmt_cache_max > 0) {
        uint32_t h = hash_sql(q->sql);
        db_stmt_t *s = stmt_lookup(c, q->sql, h);
        if (!s && c->n_stmts < c->pool->cfg.stmt_cache_max) {
            s = stmt_add(c, q->sql, h);
            if (s) {
                /* Parse goes ahead of the Execute in the same pipeline; no round trip. */
                if (!PQsendPrepare(c->pg, s->name, q->sql, q->nparams, NULL)) goto fail;
                q->has_prep = true;
                q->stmt = s;
            }
        }
        if (s) name = s->name;
    }
    q->phase = q->has_prep ? DBQ_PH_PREP : DBQ_PH_RESULT;
    int ok = name ? PQsendQueryPrepared(c->pg, name, q->nparams, q->params, NULL, NULL, 0)
                  : PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, q->params, NULL, NULL, 0);
    /* A Sync after every query: an error aborts the pipeline only up to the next Sync, so it
     * fails this query alone, and each query is its own implicit transaction. */
    if (!ok || !PQpipelineSync(c->pg)) goto fail;
    flush(c);
    return;
fail:
    db__conn_reset(c, DB_E_UNAVAILABLE, DB_E_UNAVAILABLE, true, PQerrorMessage(c->pg));
}

/* ---- receiving ---- */

static void complete_head(db_conn_t *c, db_query_t *q)
{
    PGresult *r = q->res.pg;
    q->res.pg = NULL;
    q->conn = NULL;
    q->where = DBQ_NOWHERE;
    db__query_finish(q, db__status_from_pg(c->pg, r), r, NULL);
}

/* Consumes every result that is already buffered. Results arrive in pipeline order; each
 * query yields [Parse result, NULL,] its result, NULL, then PGRES_PIPELINE_SYNC. */
static void process(db_conn_t *c)
{
    unsigned gen = c->gen;
    db_query_t *q;
    while (c->gen == gen && (q = c->fifo.head)) {
        if (PQisBusy(c->pg)) break;
        PGresult *r = PQgetResult(c->pg);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_EMPTY_QUERY;
        switch (q->phase) {
        case DBQ_PH_PREP:
            if (!r) {
                q->phase = DBQ_PH_RESULT;
                break;
            }
            if (st != PGRES_COMMAND_OK) {
                /* A statement that failed to prepare is not cached; the error is this query's. */
                stmt_drop(c, q->stmt);
                q->stmt = NULL;
                if (!q->res.pg) {
                    q->res.pg = r;
                    r = NULL;
                }
            }
            if (r) PQclear(r);
            break;
        case DBQ_PH_RESULT:
            if (!r) {
                q->phase = DBQ_PH_SYNC;
                break;
            }
            if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
                PQclear(r);
                db__conn_reset(c, DB_E_QUERY, DB_E_UNAVAILABLE, false, "COPY is not supported");
                return;
            }
            if (!q->res.pg) /* keep the first (a Parse error beats PIPELINE_ABORTED) */
                q->res.pg = r;
            else
                PQclear(r);
            break;
        default:
            if (st != PGRES_PIPELINE_SYNC) {
                if (r) PQclear(r);
                db__conn_reset(c, DB_E_UNAVAILABLE, DB_E_UNAVAILABLE, false,
                               "unexpected result order in pipeline");
                return;
            }
            PQclear(r);
            db__qlist_unlink(&c->fifo, q);
            c->head_since_ms = uv_now(c->pool->loop);
            arm_deadline(c);
            complete_head(c, q);
            break;
        }
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    db_poll_t *p = h->data;
    db_conn_t *c = p->conn;
    db_pool_t *pool = c->pool;
    if (c->poll != p) return;
    if (c->state == DBC_CONNECTING) {
        connect_step(c);
        return;
    }
    if (c->state != DBC_READY) return;
    if (status < 0) {
        /* libuv reports a socket error (EPOLLERR) as UV_EBADF and stops the watcher. Read
         * anyway so libpq finds the real reason (and any answers that arrived before it). */
        c->poll->events = 0;
        events = UV_READABLE;
    }
    unsigned gen = c->gen;
    if ((events & UV_WRITABLE) && !flush(c)) return;
    if (events & UV_READABLE) {
        if (!PQconsumeInput(c->pg)) {
            db__conn_reset(c, DB_E_UNAVAILABLE, DB_E_UNAVAILABLE, true, PQerrorMessage(c->pg));
            return;
        }
        process(c);
        PGnotify *n;
        while (c->gen == gen && !pool->closing && (n = PQnotifies(c->pg))) {
            db__listen_deliver(pool, n);
            PQfreemem(n);
        }
        if (c->gen != gen || pool->closing) return;
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            db__conn_reset(c, DB_E_UNAVAILABLE, DB_E_UNAVAILABLE, true, PQerrorMessage(c->pg));
            return;
        }
    }
    if (!flush(c)) return; /* also re-arms the watcher */
    if (!c->listener) db__pool_dispatch(pool);
}
