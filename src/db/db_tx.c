/* db_tx: transactions on a pinned connection. BEGIN goes through the pool's wait queue like a
 * query; once it succeeds the connection serves only this transaction until COMMIT/ROLLBACK,
 * or until tx_timeout_ms passes, when the pool rolls it back and takes the connection back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/db_internal.h"

static void on_timer_closed_free(uv_handle_t *h)
{
    db_tx_t *tx = h->data;
    db_pool_t *pool = tx->pool;
    free(tx);
    db__pool_closed_one(pool);
}

static void tx_free(db_tx_t *tx)
{
    db_pool_t *pool = tx->pool;
    if (tx->prev)
        tx->prev->next = tx->next;
    else
        pool->txs = tx->next;
    if (tx->next) tx->next->prev = tx->prev;
    pool->pending_closes++;
    uv_close((uv_handle_t *)&tx->timer, on_timer_closed_free);
}

/* Releases the pinned connection. Statements of this transaction still in the pipeline keep
 * running but no longer refer to the handle, which may be freed before they complete. */
static void tx_unpin(db_tx_t *tx)
{
    db_conn_t *c = tx->conn;
    uv_timer_stop(&tx->timer);
    if (!c) return;
    if (c->tx == tx) c->tx = NULL;
    for (db_query_t *q = c->fifo.head; q; q = q->next)
        if (q->tx == tx && q->kind == DBQ_USER) q->tx = NULL;
    tx->conn = NULL;
}

void db__tx_discard(db_tx_t *tx)
{
    tx_unpin(tx);
    tx_free(tx);
}

static void send_internal(db_conn_t *c, const char *sql)
{
    db_query_t *q = db__query_new(c->pool, sql, 0, NULL, NULL, NULL);
    if (!q) {
        db__conn_reset(c, DB_E_UNAVAILABLE, DB_E_UNAVAILABLE, false, "out of memory");
        return;
    }
    q->kind = DBQ_INTERNAL;
    db__conn_send(c, q);
}

/* Rolls back and releases the connection without the owner (timeout, cancelled BEGIN). */
static void abandon(db_tx_t *tx)
{
    db_conn_t *c = tx->conn;
    tx_unpin(tx);
    if (c && c->state == DBC_READY) send_internal(c, "ROLLBACK");
    db__pool_dispatch(tx->pool);
}

static void on_tx_timeout(uv_timer_t *t)
{
    db_tx_t *tx = t->data;
    if (tx->state != DBT_OPEN) return;
    log_warn("db", "transaction open longer than %d ms: rolled back", tx->pool->cfg.tx_timeout_ms);
    tx->state = DBT_EXPIRED;
    tx->pool->m.by_kind[-DB_E_TIMEOUT - 1001]++;
    abandon(tx);
}

static void on_begin(db_result_t *res, void *arg)
{
    db_tx_t *tx = arg;
    db_pool_t *pool = tx->pool;
    int st = res->status;
    if (st == DB_OK && !tx->conn) st = DB_E_UNAVAILABLE;
    if (st == DB_OK && tx->begin_cancelled) {
        abandon(tx);
        tx_free(tx);
        return;
    }
    if (st == DB_OK) {
        tx->state = DBT_OPEN;
        if (pool->cfg.tx_timeout_ms > 0)
            uv_timer_start(&tx->timer, on_tx_timeout, (uint64_t)pool->cfg.tx_timeout_ms, 0);
        tx->cb(tx, DB_OK, tx->arg);
        return;
    }
    db_tx_cb cb = tx->cb;
    void *cb_arg = tx->arg;
    bool cancelled = tx->begin_cancelled;
    tx_unpin(tx);
    tx_free(tx);
    if (!cancelled) cb(NULL, st, cb_arg);
    db__pool_dispatch(pool);
}

void db__tx_conn_lost(db_tx_t *tx)
{
    /* BEGIN or COMMIT/ROLLBACK in flight fail with the connection and finish the handle in
     * their callbacks; an open transaction waits for its owner to end it. */
    if (tx->state == DBT_OPEN) tx->state = DBT_BROKEN;
    tx_unpin(tx);
}

int db_tx_begin(db_pool_t *pool, db_tx_cb cb, void *arg, db_query_t **handle)
{
    if (handle) *handle = NULL;
    if (!pool || !cb) return -EINVAL;
    if (pool->closing) return DB_E_CLOSED;
    db_tx_t *tx = calloc(1, sizeof *tx);
    if (!tx) return -ENOMEM;
    db_query_t *q = db__query_new(pool, "BEGIN", 0, NULL, on_begin, tx);
    if (!q) {
        free(tx);
        return -ENOMEM;
    }
    tx->pool = pool;
    tx->state = DBT_OPENING;
    tx->cb = cb;
    tx->arg = arg;
    uv_timer_init(pool->loop, &tx->timer);
    tx->timer.data = tx;
    tx->next = pool->txs;
    if (pool->txs) pool->txs->prev = tx;
    pool->txs = tx;
    q->kind = DBQ_TX_BEGIN;
    q->tx = tx;
    if (handle) *handle = q;
    pool->api_depth++;
    db__pool_submit(pool, q);
    pool->api_depth--;
    return 0;
}

int db_tx_query(db_tx_t *tx, const char *sql, int nparams, const char *const *params,
                db_query_cb cb, void *arg, db_query_t **handle)
{
    if (handle) *handle = NULL;
    if (!tx || !sql || nparams < 0 || nparams > 65535 || (nparams > 0 && !params) ||
        tx->state == DBT_ENDING || tx->state == DBT_OPENING)
        return -EINVAL;
    db_pool_t *pool = tx->pool;
    if (pool->closing) return DB_E_CLOSED;
    db_query_t *q = db__query_new(pool, sql, nparams, params, cb, arg);
    if (!q) return -ENOMEM;
    q->tx = tx;
    if (handle) *handle = q;
    pool->api_depth++;
    if (tx->state == DBT_OPEN)
        db__conn_send(tx->conn, q);
    else if (tx->state == DBT_EXPIRED)
        db__query_finish(q, DB_E_TIMEOUT, NULL, "transaction timed out and was rolled back");
    else
        db__query_finish(q, DB_E_UNAVAILABLE, NULL, "transaction lost its connection");
    pool->api_depth--;
    return 0;
}

static void on_end(db_result_t *res, void *arg)
{
    db_tx_t *tx = arg;
    db_pool_t *pool = tx->pool;
    int st = res->status;
    /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK. */
    if (st == DB_OK && tx->is_commit && res->pg && strcmp(PQcmdStatus(res->pg), "ROLLBACK") == 0)
        st = DB_E_QUERY;
    db_done_cb cb = tx->end_cb;
    void *cb_arg = tx->end_arg;
    tx_unpin(tx);
    tx_free(tx);
    if (cb) cb(st, cb_arg);
    db__pool_dispatch(pool);
}

static int tx_end(db_tx_t *tx, bool commit, db_done_cb cb, void *arg)
{
    if (!tx || tx->state == DBT_ENDING || tx->state == DBT_OPENING) return -EINVAL;
    db_pool_t *pool = tx->pool;
    if (pool->finishing) return DB_E_CLOSED; /* freed with the pool */
    db_query_t *q = db__query_new(pool, commit ? "COMMIT" : "ROLLBACK", 0, NULL, on_end, tx);
    if (!q) return -ENOMEM;
    q->kind = DBQ_INTERNAL;
    int prev = tx->state;
    tx->state = DBT_ENDING;
    tx->is_commit = commit;
    tx->end_cb = cb;
    tx->end_arg = arg;
    uv_timer_stop(&tx->timer);
    pool->api_depth++;
    if (prev == DBT_OPEN) {
        db__conn_send(tx->conn, q);
    } else {
        /* The transaction is already gone on the server; a rollback request is satisfied. */
        int st = !commit               ? DB_OK
                 : prev == DBT_EXPIRED ? DB_E_TIMEOUT
                 : prev == DBT_BROKEN  ? DB_E_UNAVAILABLE
                                       : DB_E_CLOSED;
        db__query_finish(q, st, NULL, NULL);
    }
    pool->api_depth--;
    return 0;
}

int db_tx_commit(db_tx_t *tx, db_done_cb cb, void *arg)
{
    return tx_end(tx, true, cb, arg);
}

int db_tx_rollback(db_tx_t *tx, db_done_cb cb, void *arg)
{
    return tx_end(tx, false, cb, arg);
}

static void on_timer_closed_keep(uv_handle_t *h)
{
    db_tx_t *tx = h->data;
    db__pool_closed_one(tx->pool);
}

void db__tx_close_all(db_pool_t *pool)
{
    for (db_tx_t *tx = pool->txs; tx; tx = tx->next) {
        tx->state = DBT_CLOSED;
        pool->pending_closes++;
        uv_close((uv_handle_t *)&tx->timer, on_timer_closed_keep);
    }
}

void db__tx_free_all(db_pool_t *pool)
{
    while (pool->txs) {
        db_tx_t *tx = pool->txs;
        pool->txs = tx->next;
        free(tx);
    }
}
