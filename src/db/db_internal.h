/* db internals shared by the files of src/db (not for other modules). The pool owns everything
 * declared here. Object state is tracked as "which list am I on" (db_qlist_t membership plus
 * the `where` tag), so counting waiters or failing everything on a connection is a list walk. */
#ifndef NOVA_DB_INTERNAL_H
#define NOVA_DB_INTERNAL_H

#include <libpq-fe.h>

#include "db/db.h"

typedef struct db_conn db_conn_t;

/* An intrusive FIFO of queries (each query is on at most one list at a time). */
typedef struct {
    db_query_t *head, *tail;
    size_t n;
} db_qlist_t;

enum { DBQ_NOWHERE, DBQ_WAITING, DBQ_INFLIGHT, DBQ_DEFERRED };
enum { DBQ_USER, DBQ_TX_BEGIN, DBQ_INTERNAL };
/* Which pipeline result a sent query expects next: its Parse (if it had to prepare), its
 * Execute, then the Sync that follows every query so an error stays confined to it. */
enum { DBQ_PH_PREP, DBQ_PH_RESULT, DBQ_PH_SYNC };

struct db_result {
    int status;
    char sqlstate[6];
    const char *message; /* static text or PQresultErrorMessage(pg) */
    PGresult *pg;        /* NULL for client-side errors */
    bool taken;          /* the callback took ownership (db_result_take) */
};

typedef struct db_stmt {
    struct db_stmt *next;
    uint32_t hash;
    char name[16];
    char sql[]; /* the cache key */
} db_stmt_t;

struct db_query {
    db_pool_t *pool;
    db_query_t *prev, *next;
    uint8_t where, kind, phase;
    bool has_prep;
    bool cancelled;  /* db_query_cancel while in flight: metrics count it as "cancelled" */
    db_conn_t *conn; /* while in flight */
    db_tx_t *tx;     /* the transaction this query belongs to (or opens), or NULL */
    db_stmt_t *stmt; /* the cache entry this query prepares (to drop it if Parse fails) */
    db_query_cb cb;  /* NULL once cancelled (the result is then discarded) */
    void *arg;
    uint64_t t_submit_ms; /* uv_now at submission (queue timeout) */
    uint64_t t_start_ns;  /* uv_hrtime at submission (duration histogram) */
    db_result_t res;
    const char *sql;
    int nparams;
    const char **params; /* points into the same allocation */
};

#define DB_STMT_BUCKETS 64

enum { DBC_INIT, DBC_CONNECTING, DBC_READY, DBC_BACKOFF, DBC_CLOSED };

/* A uv_poll_t on PQsocket(). It lives in its own allocation so that it can be replaced while
 * the old one is still closing, and it carries the PGconn to PQfinish once libuv no longer
 * watches the descriptor (PQfinish closes it). */
typedef struct {
    uv_poll_t handle;
    db_conn_t *conn;
    PGconn *finish;
    int fd;
    int events;
} db_poll_t;

struct db_conn {
    db_pool_t *pool;
    int idx;
    bool listener;
    int state;
    unsigned gen; /* incremented whenever the connection is reset */
    PGconn *pg;
    db_poll_t *poll;
    uv_timer_t timer; /* connect timeout, reconnect delay, or running-statement deadline */
    db_qlist_t fifo;  /* queries sent, in the order their results will arrive */
    uint64_t head_since_ms;
    db_tx_t *tx; /* the transaction pinning this connection */
    /* A cancel request aimed at this connection's running statement is on its way: no new
     * query may be sent until it was delivered, or it could interrupt that query instead. */
    bool held_for_cancel;
    db_stmt_t *stmts[DB_STMT_BUCKETS];
    int n_stmts;
    unsigned stmt_seq;
    int fails;       /* consecutive failed connection attempts */
    bool ever_up;    /* for counting reconnects */
    bool want_write; /* PQflush left data to send */
};

enum { DBT_OPENING, DBT_OPEN, DBT_ENDING, DBT_EXPIRED, DBT_BROKEN, DBT_CLOSED };

struct db_tx {
    db_pool_t *pool;
    db_tx_t *prev, *next; /* pool->txs */
    int state;
    bool failed;          /* a statement failed: COMMIT will roll back */
    bool begin_cancelled; /* db_query_cancel on the BEGIN handle */
    bool is_commit;
    db_conn_t *conn;
    db_tx_cb cb;
    void *arg;
    db_done_cb end_cb;
    void *end_arg;
    uv_timer_t timer;
};

typedef struct db_sub {
    struct db_sub *next;
    db_notify_cb cb;
    void *arg;
    unsigned gen; /* listener generation whose LISTEN confirmed this subscription; 0 = never */
    bool removed;
    char channel[64];
} db_sub_t;

#define DB_HIST_N       14
#define DB_SQLCLASS_MAX 48
#define DB_KINDS        8

typedef struct {
    uint64_t hist[DB_HIST_N + 1]; /* last bucket is +Inf */
    double sum_s;
    uint64_t count;
    uint64_t by_kind[DB_KINDS]; /* indexed by -status - 1000 */
    struct {
        char cls[3];
        uint64_t n;
    } sqlclass[DB_SQLCLASS_MAX];
    int n_sqlclass;
    uint64_t reconnects, connect_failures, statement_timeouts_client;
    uint64_t cancels_timeout, cancels_caller; /* cancel requests sent, by reason */
    uint64_t cancels_skipped;                 /* not sent: another one was in flight */
} db_metrics_t;

/* The pool's one cancel request in flight on the threadpool (PQcancel blocks: it opens a new
 * connection to the server). The job outlives the pool if the pool closes first: the pool then
 * clears `pool`, and the job frees itself when the thread is done. */
typedef struct {
    uv_work_t req;
    PGcancel *pgc;
    db_pool_t *pool; /* NULL once the pool is gone */
    db_conn_t *conn; /* held for this cancel, or NULL */
    unsigned conn_gen;
} db_cancel_t;

struct db_pool {
    uv_loop_t *loop;
    db_config_t cfg;
    int query_timeout_ms;    /* effective client-side limit, 0 = none */
    const char **kw, **vals; /* connection parameters, NULL-terminated; own their strings */
    db_conn_t *conns;
    int nconns;
    db_conn_t *listener;
    db_qlist_t waiters;
    db_qlist_t deferred;
    uv_timer_t queue_timer;
    uv_idle_t idle; /* delivers deferred callbacks on the next loop iteration */
    int n_ready;
    bool had_failure; /* an attempt failed or a connection was lost since one was last up */
    int api_depth;    /* > 0 while inside a public function: callbacks must be deferred */
    bool closing, finishing;
    void (*close_cb)(void *);
    void *close_arg;
    int pending_closes;
    db_tx_t *txs;
    db_sub_t *subs;
    int notify_depth;
    uint64_t rng;
    db_cancel_t *cancel_job; /* at most one per pool, so hung cancels cannot pin threads */
    db_metrics_t m;
};

/* db_pool.c */
db_query_t *db__query_new(db_pool_t *pool, const char *sql, int nparams, const char *const *params,
                          db_query_cb cb, void *arg);
void db__query_free(db_query_t *q);
void db__qlist_push(db_qlist_t *l, db_query_t *q);
void db__qlist_unlink(db_qlist_t *l, db_query_t *q);
db_query_t *db__qlist_pop(db_qlist_t *l);
/* Sets the final status (taking ownership of pg) and runs or defers the callback. */
void db__query_finish(db_query_t *q, int status, PGresult *pg, const char *message);
/* Queues a user/tx-begin query at pool level: dispatches, enqueues, or fails it. */
void db__pool_submit(db_pool_t *pool, db_query_t *q);
void db__pool_dispatch(db_pool_t *pool);
void db__pool_fail_waiters(db_pool_t *pool, int status, const char *why);
void db__pool_maybe_finish(db_pool_t *pool);
/* Every uv_close callback of the pool's handles ends here (pending_closes accounting). */
void db__pool_closed_one(db_pool_t *pool);
uint64_t db__rand(db_pool_t *pool);

/* db_conn.c */
void db__conn_init(db_pool_t *pool, db_conn_t *c, int idx, bool listener);
void db__conn_start(db_conn_t *c);
/* Appends q to the pipeline. On a send failure the connection is reset (q fails with it). */
void db__conn_send(db_conn_t *c, db_query_t *q);
bool db__conn_can_take(const db_conn_t *c, int depth);
/* Drops the connection: the head query fails with head_status, the rest with rest_status;
 * then it reconnects (after a backoff when `outage`). */
void db__conn_reset(db_conn_t *c, int head_status, int rest_status, bool outage, const char *why);
void db__conn_shutdown(db_conn_t *c); /* pool close: fail with DB_E_CLOSED, close handles */
/* db_query_cancel on an in-flight query: asks the server to stop it when that is safe (it is
 * the only query on its connection and not inside a transaction); otherwise does nothing. */
void db__conn_cancel_query(db_query_t *q);

/* db_tx.c */
void db__tx_conn_lost(db_tx_t *tx);
void db__tx_close_all(db_pool_t *pool);
void db__tx_free_all(db_pool_t *pool);
/* Frees a transaction whose BEGIN was cancelled before it was sent. */
void db__tx_discard(db_tx_t *tx);

/* db_listen.c */
void db__listen_on_ready(db_conn_t *c);
void db__listen_deliver(db_pool_t *pool, const PGnotify *n);
void db__listen_free_all(db_pool_t *pool);

/* db_result.c */
/* Maps a PGresult (may be NULL) to a status and fills res. */
void db__result_set(db_result_t *res, int status, PGresult *pg, const char *message);
int db__status_from_pg(PGconn *conn, const PGresult *pg);

/* db_metrics.c */
void db__metrics_record(db_pool_t *pool, const db_query_t *q);

#endif
