/* db: the PostgreSQL layer on the libuv loop. A db_pool_t owns a fixed number of libpq
 * connections (non-blocking, pipeline mode), a bounded FIFO of waiting requests, one optional
 * LISTEN connection, per-connection prepared-statement caches, reconnection with capped
 * exponential backoff, and metrics. Nothing here blocks the loop (except db_migrate_run, see
 * db_migrate.h, and libpq's own host-name lookup: use an IP address or a socket path).
 *
 * Callback rules, shared by every asynchronous call in this module:
 *  - A call that returns 0 has accepted the request: its callback runs exactly once, later
 *    (never from inside the call itself), unless the request is cancelled first.
 *  - A call that returns a negative code (-EINVAL, -ENOMEM, DB_E_CLOSED) did not accept it and
 *    never calls the callback.
 *  - Pool saturation, outages and timeouts are reported through the callback as a result status
 *    (DB_E_BUSY, DB_E_UNAVAILABLE, DB_E_TIMEOUT), so callers have a single error path.
 * All functions must be called on the loop thread. */
#ifndef NOVA_DB_DB_H
#define NOVA_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/buf.h"

/* Result and error codes. They are negative and far from errno values, so a function can return
 * either kind without ambiguity. */
typedef enum {
    DB_OK = 0,
    DB_E_QUERY = -1001,       /* PostgreSQL rejected the statement: see db_result_sqlstate() */
    DB_E_BUSY = -1002,        /* wait queue full or queue timeout: answer 503 + Retry-After */
    DB_E_TIMEOUT = -1003,     /* statement or transaction exceeded its time limit; the outcome
                                 of a write is unknown */
    DB_E_CANCELLED = -1004,   /* never delivered (cancelled requests get no callback): it is
                                 the metrics kind of requests cancelled while in flight */
    DB_E_UNAVAILABLE = -1005, /* no connection to PostgreSQL (outage, restart, connection lost);
                                 a write that was in flight may or may not have committed */
    DB_E_CLOSED = -1006,      /* the pool is closing */
} db_status_t;

/* Short stable name of a status for logs and metrics labels ("ok", "query", "busy", ...). */
const char *db_status_name(int status);

/* Pool configuration, filled by the caller (start from db_config_defaults). The pool copies
 * everything it needs, strings included. */
typedef struct {
    const char *url;              /* DATABASE_URL: URI or "key=value" string (required) */
    const char *application_name; /* reported in pg_stat_activity; default "nova" */
    int pool_size;                /* query connections, 1..1000; default 8 */
    int pipeline_depth;           /* queries in flight per connection, 1..1000; default 16 */
    int queue_max;                /* requests waiting for a connection, 0..1000000; default 1024 */
    int queue_timeout_ms;         /* longest wait for a connection before DB_E_BUSY; 2000 */
    int statement_timeout_ms;     /* server-side statement_timeout; 0 = none; default 30000 */
    int query_timeout_ms;         /* client-side limit on one running statement; default 0 =
                                     statement_timeout_ms + 2000 (no limit if both are 0) */
    int connect_timeout_ms;       /* one connection attempt, 100..600000; default 5000 */
    int tx_timeout_ms;            /* a transaction held longer is rolled back; default 60000 */
    int reconnect_min_ms;         /* first reconnect delay after a failure; default 100 */
    int reconnect_max_ms;         /* backoff cap; default 5000 */
    int stmt_cache_max;           /* prepared statements kept per connection; default 512 */
} db_config_t;

void db_config_defaults(db_config_t *cfg);

typedef struct db_pool db_pool_t;
typedef struct db_query db_query_t;
typedef struct db_result db_result_t;
typedef struct db_tx db_tx_t;

/* Creates the pool and starts connecting. Returns 0 or -EINVAL (bad config or URL; a message is
 * logged) or -ENOMEM. Queries issued before the first connection is up wait in the queue; if no
 * connection can be made at all they fail with DB_E_UNAVAILABLE. */
int db_pool_new(uv_loop_t *loop, const db_config_t *cfg, db_pool_t **out);

/* True when at least one query connection is up (readiness probe). */
bool db_pool_ready(const db_pool_t *pool);

/* Closes the pool: waiting and in-flight requests complete with DB_E_CLOSED (open transactions
 * are rolled back by the server when their connection closes), connections and handles are
 * closed, then done_cb(arg) runs and all memory is freed. Transaction handles become invalid
 * when done_cb runs. done_cb may be NULL. Calling it twice is a no-op. */
void db_pool_close(db_pool_t *pool, void (*done_cb)(void *arg), void *arg);

/* Called with the result of a query. `res` belongs to the pool and is freed after the callback
 * returns, unless the callback calls db_result_take(res); it must then call db_result_free. */
typedef void (*db_query_cb)(db_result_t *res, void *arg);

/* Runs `sql` with `nparams` text parameters ($1..$n; params[i] == NULL is SQL NULL). The SQL and
 * the parameters are copied, so they may be freed when this returns. Each connection prepares
 * each distinct SQL text once and reuses the statement afterwards, so pass constant SQL and
 * never splice values into it. `cb` may be NULL (fire and forget). If `handle` is non-NULL it
 * receives a handle for db_query_cancel, valid until the callback starts.
 * Returns 0, -EINVAL (NULL sql, nparams out of 0..65535) or DB_E_CLOSED. */
int db_query(db_pool_t *pool, const char *sql, int nparams, const char *const *params,
             db_query_cb cb, void *arg, db_query_t **handle);

/* Cancels a request whose callback has not started yet: the callback will never be called and
 * all memory is reclaimed (at once if it was waiting, when PostgreSQL answers if it was already
 * sent). A statement already sent is also stopped on the server (a cancel request, sent from
 * the threadpool) when that is safe: it is the only query in flight on its connection (with
 * more behind it, the cancel could hit the next one instead) and it is not part of a
 * transaction (that would abort the owner's transaction), and no other cancel request of the
 * pool is in flight. Otherwise it runs to completion and its answer is dropped. Also accepts
 * the handle of a pending db_tx_begin: a transaction that then opens is rolled back. */
void db_query_cancel(db_query_t *q);

/* Result access. Values are PostgreSQL text format; NULL for SQL NULL or out-of-range. */
int db_result_status(const db_result_t *res);           /* DB_OK or DB_E_* */
const char *db_result_sqlstate(const db_result_t *res); /* "23505" or "" */
const char *db_result_error(const db_result_t *res);    /* message or "" when status is DB_OK */
int db_result_nrows(const db_result_t *res);
int db_result_ncols(const db_result_t *res);
int db_result_col(const db_result_t *res, const char *name); /* column index or -1 */
const char *db_result_get(const db_result_t *res, int row, int col);
const char *db_result_get_by_name(const db_result_t *res, int row, const char *name);
bool db_result_is_null(const db_result_t *res, int row, int col);
/* The value of an integer column by name, or fallback when it is SQL NULL, absent, or not a
 * whole decimal number within int range. Callers no longer need atoi's NULL check. */
int db_result_int(const db_result_t *res, int row, const char *name, int fallback);
/* Rows affected by INSERT/UPDATE/DELETE (or returned by SELECT), -1 if not applicable. */
long long db_result_affected(const db_result_t *res);
/* Keeps `res` alive after the callback returns; the caller then owns it (db_result_free). */
void db_result_take(db_result_t *res);
void db_result_free(db_result_t *res);

/* Transactions pin one connection from BEGIN to COMMIT/ROLLBACK. On success cb gets a handle
 * and status DB_OK; on failure tx is NULL and status is DB_E_*. The owner must end every
 * handle it received with db_tx_commit or db_tx_rollback, even after an error. A transaction
 * left open longer than tx_timeout_ms is rolled back and its connection released; later calls
 * on its handle then report DB_E_TIMEOUT (rollback reports DB_OK).
 * Returns 0, -ENOMEM or DB_E_CLOSED. */
typedef void (*db_tx_cb)(db_tx_t *tx, int status, void *arg);
int db_tx_begin(db_pool_t *pool, db_tx_cb cb, void *arg, db_query_t **handle);

/* A query inside the transaction; same contract as db_query. After a failed query the
 * transaction is aborted and db_tx_commit reports DB_E_QUERY. */
int db_tx_query(db_tx_t *tx, const char *sql, int nparams, const char *const *params,
                db_query_cb cb, void *arg, db_query_t **handle);

/* End the transaction. The handle is invalid once these return. cb(status, arg) may be NULL.
 * Commit reports DB_E_QUERY if a statement had failed (PostgreSQL then rolled everything back).
 * Return 0 or -ENOMEM. */
typedef void (*db_done_cb)(int status, void *arg);
int db_tx_commit(db_tx_t *tx, db_done_cb cb, void *arg);
int db_tx_rollback(db_tx_t *tx, db_done_cb cb, void *arg);

/* LISTEN/NOTIFY over one dedicated connection (opened on the first db_listen). `payload` is the
 * NOTIFY payload; after the listening connection was lost and re-established, every subscriber
 * is called once with payload == NULL, meaning "notifications may have been missed: re-read
 * your state". Channel names are 1..63 characters of [A-Za-z0-9_] and case-sensitive.
 * Returns 0, -EINVAL, -ENOMEM or DB_E_CLOSED. */
typedef void (*db_notify_cb)(const char *channel, const char *payload, void *arg);
int db_listen(db_pool_t *pool, const char *channel, db_notify_cb cb, void *arg);
/* Removes the subscription with the same channel, cb and arg; returns 0 or -ENOENT. */
int db_unlisten(db_pool_t *pool, const char *channel, db_notify_cb cb, void *arg);
/* SELECT pg_notify(channel, payload) on a pool connection (payload < 8000 bytes). */
int db_notify(db_pool_t *pool, const char *channel, const char *payload, db_query_cb cb, void *arg);

/* Appends Prometheus text-format metrics (names prefixed nova_db_). If `out` reaches its
 * maximum size the output is truncated at a line boundary that buf_t refused. */
void db_pool_metrics_write(db_pool_t *pool, buf_t *out);

#endif
