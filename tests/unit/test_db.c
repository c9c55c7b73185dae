/* Tests for src/db against a private PostgreSQL 15 cluster (tools/pgctl, one per binary):
 * concurrency through a small pool, queue limits, pipelining, timeouts that do not block the
 * loop, cancellation (callbacks dropped; statements stopped on the server only where a cancel
 * cannot hit another statement; one cancel request in flight per pool), transactions, outages
 * and recovery, LISTEN/NOTIFY, parameters (control bytes included), keyword-string URLs. Every
 * test closes its pool and checks uv_loop_close() == 0, so a leaked handle fails it. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <uv.h>

#include "db/db.h"
#include "test.h"

#include "pg_cluster.h"

/* ---- loop fixture ---- */

static uv_loop_t loop;
static uv_timer_t guard; /* keeps uv_run(ONCE) returning while we wait for a condition */
static db_pool_t *pool;

static void guard_cb(uv_timer_t *t)
{
    (void)t;
}

#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        uint64_t dl_ = uv_now(&loop) + (ms);                                                       \
        uv_timer_start(&guard, guard_cb, 2, 2);                                                    \
        while (!(cond) && uv_now(&loop) < dl_)                                                     \
            uv_run(&loop, UV_RUN_ONCE);                                                            \
        uv_timer_stop(&guard);                                                                     \
    } while (0)

static void base_config(db_config_t *cfg)
{
    db_config_defaults(cfg);
    cfg->url = cluster_url_get();
}

static void pool_open(const db_config_t *cfg, bool wait_ready)
{
    ASSERT_EQ(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &guard);
    ASSERT_EQ(db_pool_new(&loop, cfg, &pool), 0);
    if (wait_ready) {
        RUN_UNTIL(db_pool_ready(pool), 10000);
        ASSERT(db_pool_ready(pool));
    }
}

static void on_pool_closed(void *arg)
{
    *(int *)arg = 1;
}

static void pool_finish(void)
{
    int closed = 0;
    db_pool_close(pool, on_pool_closed, &closed);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT(closed);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    pool = NULL;
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* A "one query, remember everything" collector. */
typedef struct {
    int done;
    int status;
    char sqlstate[6];
    char v[4][256];
    bool isnull[4];
    int nrows;
    uint64_t at_ms;
} one_t;

static void one_cb(db_result_t *res, void *arg)
{
    one_t *o = arg;
    o->done++;
    o->status = db_result_status(res);
    snprintf(o->sqlstate, sizeof o->sqlstate, "%s", db_result_sqlstate(res));
    o->nrows = db_result_nrows(res);
    for (int c = 0; c < 4 && c < db_result_ncols(res); c++) {
        const char *s = db_result_get(res, 0, c);
        o->isnull[c] = db_result_is_null(res, 0, c);
        snprintf(o->v[c], sizeof o->v[c], "%s", s ? s : "");
    }
    o->at_ms = now_ms();
}

/* Runs one query to completion (the loop keeps running meanwhile). */
static one_t run1(const char *sql, int n, const char *const *params)
{
    one_t o;
    memset(&o, 0, sizeof o);
    ASSERT_EQ(db_query(pool, sql, n, params, one_cb, &o, NULL), 0);
    RUN_UNTIL(o.done, 15000);
    ASSERT_EQ(o.done, 1);
    return o;
}

/* Counts the timer ticks of a 5 ms repeating timer: proof that the loop is not blocked. */
static int ticks;
static uint64_t last_tick_ms, max_tick_gap_ms;
static void tick_cb(uv_timer_t *t)
{
    (void)t;
    uint64_t now = now_ms();
    if (last_tick_ms && now - last_tick_ms > max_tick_gap_ms) max_tick_gap_ms = now - last_tick_ms;
    last_tick_ms = now;
    ticks++;
}

static char metrics_text[16384];
static const char *metrics(void)
{
    buf_t b;
    buf_init(&b, sizeof metrics_text - 1);
    db_pool_metrics_write(pool, &b);
    snprintf(metrics_text, sizeof metrics_text, "%s", b.data ? b.data : "");
    buf_free(&b);
    return metrics_text;
}

/* Value of a metric line "name value" (name includes labels), or -1. */
static double metric(const char *name)
{
    const char *m = metrics();
    size_t n = strlen(name);
    for (const char *p = m; (p = strstr(p, name)); p += n)
        if ((p == m || p[-1] == '\n') && p[n] == ' ') return atof(p + n + 1);
    return -1;
}

/* ---- tests ---- */

/* Every C0 control byte but NUL (text cannot hold it), then DEL. */
static const char all_controls[] =
    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
    "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f";

static const char *const tricky[] = {
    "O'Reilly said \"hi\"",
    "back\\slash \\\\ \\x00 \\n",
    "unicode: h\xc3\xa9llo \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89",
    "'; DROP TABLE params_t; --",
    "SELECT * FROM pg_user WHERE 1=1 $1 $$ E'x'",
    "",
    all_controls,
    "esc \x1b[31mred\x1b[0m bell \x07 tab\tCR LF\r\n a\x01"
    "b\x7f"
    "c \x1f",
};
#define NTRICKY ((int)(sizeof tricky / sizeof tricky[0]))

typedef struct {
    db_result_t *res;
    int done;
} take_t;

static void take_cb(db_result_t *res, void *arg)
{
    take_t *t = arg;
    db_result_take(res);
    t->res = res;
    t->done++;
}

TEST(params_round_trip)
{
    db_config_t cfg;
    base_config(&cfg);
    pool_open(&cfg, true);
    for (int i = 0; i < NTRICKY; i++) {
        const char *p[2] = {tricky[i], NULL};
        one_t o =
            run1("SELECT $1::text AS v, $2::text AS n, octet_length($1::text)::text AS len", 2, p);
        ASSERT_EQ(o.status, DB_OK);
        ASSERT_STREQ(o.v[0], tricky[i]);
        ASSERT(!o.isnull[0]);
        ASSERT(o.isnull[1]);
        ASSERT_EQ(atoi(o.v[2]), strlen(tricky[i])); /* the server got exactly these bytes */
    }
    /* ...and they are the bytes 1..31 and 127 themselves, not an escaped form of them. */
    one_t ctl = run1("SELECT $1::text = (SELECT string_agg(chr(c), '' ORDER BY c) FROM "
                     "(SELECT generate_series(1, 31) AS c UNION ALL SELECT 127) s)::text",
                     1, (const char *const[]){all_controls});
    ASSERT_STREQ(ctl.v[0], "t");
    ASSERT_EQ(strlen(all_controls), 32);
    one_t o = run1("CREATE TABLE params_t (id serial PRIMARY KEY, s text)", 0, NULL);
    ASSERT_EQ(o.status, DB_OK);
    for (int i = 0; i < NTRICKY; i++) {
        const char *p[1] = {tricky[i]};
        o = run1("INSERT INTO params_t (s) VALUES ($1)", 1, p);
        ASSERT_EQ(o.status, DB_OK);
    }
    /* Read back, keeping the result after the callback (ownership transfer). */
    take_t t = {NULL, 0};
    ASSERT_EQ(db_query(pool, "SELECT id, s FROM params_t ORDER BY id", 0, NULL, take_cb, &t, NULL),
              0);
    RUN_UNTIL(t.done, 5000);
    ASSERT_EQ(t.done, 1);
    ASSERT_EQ(db_result_status(t.res), DB_OK);
    ASSERT_EQ(db_result_nrows(t.res), NTRICKY);
    ASSERT_EQ(db_result_affected(t.res), NTRICKY);
    ASSERT_EQ(db_result_col(t.res, "s"), 1);
    ASSERT_EQ(db_result_col(t.res, "nope"), -1);
    for (int i = 0; i < NTRICKY; i++)
        ASSERT_STREQ(db_result_get_by_name(t.res, i, "s"), tricky[i]);
    ASSERT(db_result_get(t.res, 99, 0) == NULL);
    ASSERT(db_result_is_null(t.res, 0, 5));
    db_result_free(t.res);
    /* The table survived the "DROP TABLE" parameter. */
    o = run1("SELECT count(*) FROM params_t", 0, NULL);
    ASSERT_EQ(atoi(o.v[0]), NTRICKY);
    /* Bad arguments are refused without a callback. */
    one_t dummy = {0};
    ASSERT_EQ(db_query(pool, NULL, 0, NULL, one_cb, &dummy, NULL), -EINVAL);
    ASSERT_EQ(db_query(pool, "SELECT 1", -1, NULL, one_cb, &dummy, NULL), -EINVAL);
    ASSERT_EQ(db_query(pool, "SELECT $1", 1, NULL, one_cb, &dummy, NULL), -EINVAL);
    pool_finish();
    ASSERT_EQ(dummy.done, 0);
}

/* db_result_int: integer columns without atoi's pitfalls (a NULL pointer for SQL NULL, silent
 * garbage for text, wrap-around past int). */
TEST(result_int_parses_strictly)
{
    db_config_t cfg;
    base_config(&cfg);
    pool_open(&cfg, true);
    take_t t = {NULL, 0};
    ASSERT_EQ(db_query(pool,
                       "SELECT 42 AS a, NULL::int AS b, 'x' AS c, '99999999999' AS d, -7 AS e, "
                       "'' AS f, '12abc' AS g, 2147483647 AS h",
                       0, NULL, take_cb, &t, NULL),
              0);
    RUN_UNTIL(t.done, 5000);
    ASSERT_EQ(t.done, 1);
    ASSERT_EQ(db_result_status(t.res), DB_OK);
    ASSERT_EQ(db_result_int(t.res, 0, "a", -1), 42);
    ASSERT_EQ(db_result_int(t.res, 0, "b", -1), -1); /* SQL NULL */
    ASSERT_EQ(db_result_int(t.res, 0, "c", -1), -1); /* not a number */
    ASSERT_EQ(db_result_int(t.res, 0, "d", -1), -1); /* past INT_MAX */
    ASSERT_EQ(db_result_int(t.res, 0, "e", 0), -7);
    ASSERT_EQ(db_result_int(t.res, 0, "f", -1), -1); /* empty */
    ASSERT_EQ(db_result_int(t.res, 0, "g", -1), -1); /* trailing garbage */
    ASSERT_EQ(db_result_int(t.res, 0, "h", -1), 2147483647);
    ASSERT_EQ(db_result_int(t.res, 0, "nope", -1), -1); /* no such column */
    ASSERT_EQ(db_result_int(t.res, 5, "a", -1), -1);    /* no such row */
    db_result_free(t.res);
    pool_finish();
}

#define NCONC 500
typedef struct {
    int id;
    int done, status;
    bool right;
    uint64_t t0, t1;
    int pid;
} conc_t;
static conc_t conc[NCONC];

static void conc_cb(db_result_t *res, void *arg)
{
    conc_t *c = arg;
    c->done++;
    c->status = db_result_status(res);
    const char *n = db_result_get(res, 0, 0);
    c->right = n && atoi(n) == c->id;
    const char *pid = db_result_get(res, 0, 1);
    c->pid = pid ? atoi(pid) : 0;
    c->t1 = now_ms();
}

static int conc_done(void)
{
    int n = 0;
    for (int i = 0; i < NCONC; i++)
        n += conc[i].done;
    return n;
}

TEST(concurrent_500_through_4)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 4;
    cfg.queue_max = 1000;
    cfg.queue_timeout_ms = 10000;
    pool_open(&cfg, true);
    static const char sql[] = "SELECT $1::int AS n, pg_backend_pid() AS pid";
    uint64_t start = now_ms();
    for (int i = 0; i < NCONC; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        const char *p[1] = {id};
        conc[i] = (conc_t){.id = i, .t0 = now_ms()};
        ASSERT_EQ(db_query(pool, sql, 1, p, conc_cb, &conc[i], NULL), 0);
    }
    ASSERT(metric("nova_db_waiters") > 0); /* most of them had to queue */
    RUN_UNTIL(conc_done() == NCONC, 20000);
    uint64_t max_wait = 0;
    int pids[8] = {0}, npids = 0;
    for (int i = 0; i < NCONC; i++) {
        ASSERT_EQ(conc[i].done, 1); /* none lost, none twice */
        ASSERT_EQ(conc[i].status, DB_OK);
        ASSERT(conc[i].right); /* each result reached its own caller */
        if (conc[i].t1 - conc[i].t0 > max_wait) max_wait = conc[i].t1 - conc[i].t0;
        bool seen = false;
        for (int k = 0; k < npids; k++)
            seen |= pids[k] == conc[i].pid;
        if (!seen && npids < 8) pids[npids++] = conc[i].pid;
    }
    printf("  500 queries via 4 connections: %llu ms total, max latency %llu ms, %d backends\n",
           (unsigned long long)(now_ms() - start), (unsigned long long)max_wait, npids);
    ASSERT(npids >= 1 && npids <= 4);
    ASSERT(max_wait < 10000);
    ASSERT_EQ(metric("nova_db_waiters"), 0);
    ASSERT_EQ(metric("nova_db_errors_total{kind=\"busy\"}"), 0);
    /* Prepared once per connection: every session holds the statement exactly once. */
    int with_stmt = 0;
    for (int i = 0; i < 16; i++) {
        const char *p[1] = {sql};
        one_t o = run1("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", 1, p);
        ASSERT_EQ(o.status, DB_OK);
        ASSERT(atoi(o.v[0]) <= 1);
        with_stmt += atoi(o.v[0]);
    }
    ASSERT(with_stmt >= 1);
    pool_finish();
}

TEST(queue_overflow_is_busy_at_once)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 1;
    cfg.pipeline_depth = 1;
    cfg.queue_max = 2;
    cfg.queue_timeout_ms = 10000;
    pool_open(&cfg, true);
    one_t o[6];
    memset(o, 0, sizeof o);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(db_query(pool, "SELECT pg_sleep(0.3)", 0, NULL, one_cb, &o[i], NULL), 0);
    /* 1 in flight + 2 waiting; the other 3 are refused without waiting for anything. */
    RUN_UNTIL(o[3].done && o[4].done && o[5].done, 2000);
    for (int i = 3; i < 6; i++) {
        ASSERT_EQ(o[i].status, DB_E_BUSY);
        ASSERT(o[i].at_ms - t0 < 100);
    }
    ASSERT_EQ(o[0].done + o[1].done + o[2].done, 0);
    RUN_UNTIL(o[0].done && o[1].done && o[2].done, 5000);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(o[i].status, DB_OK);
    ASSERT_EQ(metric("nova_db_errors_total{kind=\"busy\"}"), 3);
    pool_finish();
}

TEST(queue_timeout_is_busy)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 1;
    cfg.pipeline_depth = 1;
    cfg.queue_timeout_ms = 200;
    pool_open(&cfg, true);
    one_t a = {0}, b = {0};
    uint64_t t0 = now_ms();
    ASSERT_EQ(db_query(pool, "SELECT pg_sleep(1)", 0, NULL, one_cb, &a, NULL), 0);
    ASSERT_EQ(db_query(pool, "SELECT 1", 0, NULL, one_cb, &b, NULL), 0);
    RUN_UNTIL(b.done, 3000);
    ASSERT_EQ(b.status, DB_E_BUSY);
    ASSERT(b.at_ms - t0 >= 150 && b.at_ms - t0 < 800);
    ASSERT_EQ(a.done, 0);
    RUN_UNTIL(a.done, 3000);
    ASSERT_EQ(a.status, DB_OK);
    pool_finish();
}

#define NPIPE 20
static int pipe_order[NPIPE], pipe_n;
typedef struct {
    int idx;
    int status;
    char sqlstate[6];
    char v[32];
} pipe_t;
static pipe_t pipes[NPIPE];

static void pipe_cb(db_result_t *res, void *arg)
{
    pipe_t *p = arg;
    pipe_order[pipe_n++] = p->idx;
    p->status = db_result_status(res);
    snprintf(p->sqlstate, sizeof p->sqlstate, "%s", db_result_sqlstate(res));
    const char *v = db_result_get(res, 0, 0);
    snprintf(p->v, sizeof p->v, "%s", v ? v : "");
}

TEST(pipeline_order_and_error_isolation)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 1;
    cfg.pipeline_depth = 64;
    pool_open(&cfg, true);
    pipe_n = 0;
    for (int i = 0; i < NPIPE; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        const char *p[1] = {id};
        pipes[i] = (pipe_t){.idx = i};
        const char *sql = i == 7    ? "SELECT 1/($1::int - 7)"    /* division by zero */
                          : i == 12 ? "SELEC $1::int"             /* fails to prepare */
                          : i == 15 ? "SELECT * FROM no_such_tbl" /* 42P01 */
                                    : "SELECT $1::int";
        ASSERT_EQ(db_query(pool, sql, i == 15 ? 0 : 1, p, pipe_cb, &pipes[i], NULL), 0);
    }
    /* All of them were sent on the one connection without waiting for each other. */
    ASSERT_EQ(metric("nova_db_queries_in_flight"), NPIPE);
    RUN_UNTIL(pipe_n == NPIPE, 5000);
    ASSERT_EQ(pipe_n, NPIPE);
    for (int i = 0; i < NPIPE; i++) {
        ASSERT_EQ(pipe_order[i], i); /* results in submission order */
        if (i == 7) {
            ASSERT_EQ(pipes[i].status, DB_E_QUERY);
            ASSERT_STREQ(pipes[i].sqlstate, "22012");
        } else if (i == 12) {
            ASSERT_EQ(pipes[i].status, DB_E_QUERY);
            ASSERT_STREQ(pipes[i].sqlstate, "42601");
        } else if (i == 15) {
            ASSERT_EQ(pipes[i].status, DB_E_QUERY);
            ASSERT_STREQ(pipes[i].sqlstate, "42P01");
        } else {
            ASSERT_EQ(pipes[i].status, DB_OK);
            ASSERT_EQ(atoi(pipes[i].v), i);
        }
    }
    /* The failed statement was not cached: it fails the same way again, and the rest work. */
    one_t o = run1("SELEC $1::int", 1, (const char *const[]){"1"});
    ASSERT_STREQ(o.sqlstate, "42601");
    o = run1("SELECT $1::int", 1, (const char *const[]){"5"});
    ASSERT_STREQ(o.v[0], "5");
    ASSERT_EQ(metric("nova_db_errors_total{kind=\"query\"}"), 4);
    ASSERT_EQ(metric("nova_db_sqlstate_errors_total{class=\"42\"}"), 3);
    ASSERT_EQ(metric("nova_db_sqlstate_errors_total{class=\"22\"}"), 1);
    ASSERT(metric("nova_db_query_duration_seconds_count") >= NPIPE + 2);
    ASSERT(strstr(metrics(), "nova_db_query_duration_seconds_bucket{le=\"+Inf\"}"));
    ASSERT_EQ(metric("nova_db_connections_open"), 1);
    pool_finish();
}

TEST(statement_timeout_does_not_block_loop)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 1;
    cfg.statement_timeout_ms = 200;
    pool_open(&cfg, true);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    ticks = 0;
    last_tick_ms = max_tick_gap_ms = 0;
    uv_timer_start(&tick, tick_cb, 5, 5);
    uint64_t t0 = now_ms();
    one_t o = run1("SELECT pg_sleep(5)", 0, NULL);
    uint64_t took = o.at_ms - t0;
    uv_close((uv_handle_t *)&tick, NULL);
    printf("  server statement_timeout: %llu ms, %d ticks, max gap %llu ms\n",
           (unsigned long long)took, ticks, (unsigned long long)max_tick_gap_ms);
    ASSERT_EQ(o.status, DB_E_TIMEOUT);
    ASSERT_STREQ(o.sqlstate, "57014");
    ASSERT(took >= 150 && took < 2000);
    ASSERT(ticks >= (int)(took / 5) / 3);
    ASSERT(max_tick_gap_ms < 100);
    /* The connection is still good. */
    o = run1("SELECT 42", 0, NULL);
    ASSERT_EQ(o.status, DB_OK);
    ASSERT_STREQ(o.v[0], "42");
    pool_finish();
}

TEST(client_timeout_cancels_and_recovers)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 2;
    cfg.statement_timeout_ms = 20000;
    cfg.query_timeout_ms = 300;
    pool_open(&cfg, true);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    ticks = 0;
    last_tick_ms = max_tick_gap_ms = 0;
    uv_timer_start(&tick, tick_cb, 5, 5);
    uint64_t t0 = now_ms();
    one_t o = run1("SELECT pg_sleep(3.5) AS client_timeout_probe", 0, NULL);
    uint64_t took = o.at_ms - t0;
    uv_close((uv_handle_t *)&tick, NULL);
    printf("  client-side timeout: %llu ms, %d ticks, max gap %llu ms\n", (unsigned long long)took,
           ticks, (unsigned long long)max_tick_gap_ms);
    ASSERT_EQ(o.status, DB_E_TIMEOUT);
    ASSERT(took >= 250 && took < 2000);
    ASSERT(max_tick_gap_ms < 100);
    /* The server-side statement was cancelled from the threadpool, not left running. */
    int running = 1;
    for (int i = 0; i < 40 && running; i++) {
        o = run1("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE "
                 "'%client_timeout_probe%' AND pid <> pg_backend_pid()",
                 0, NULL);
        ASSERT_EQ(o.status, DB_OK);
        running = atoi(o.v[0]);
        if (running) RUN_UNTIL(false, 50);
    }
    ASSERT_EQ(running, 0);
    ASSERT_EQ(metric("nova_db_client_statement_timeouts_total"), 1);
    RUN_UNTIL(metric("nova_db_connections_open") == 2, 5000);
    ASSERT_EQ(metric("nova_db_connections_open"), 2);
    pool_finish();
}

static int never_called;
static void never_cb(db_result_t *res, void *arg)
{
    (void)res;
    (void)arg;
    never_called++;
}

TEST(cancel_waiting_and_in_flight)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 1;
    cfg.pipeline_depth = 1;
    cfg.queue_max = 1;
    pool_open(&cfg, true);
    never_called = 0;
    db_query_t *a = NULL, *b = NULL, *c_busy = NULL;
    ASSERT_EQ(db_query(pool, "SELECT pg_sleep(0.2)", 0, NULL, never_cb, NULL, &a), 0);
    ASSERT_EQ(db_query(pool, "SELECT 2", 0, NULL, never_cb, NULL, &b), 0);
    ASSERT_EQ(db_query(pool, "SELECT 3", 0, NULL, never_cb, NULL, &c_busy), 0);
    ASSERT(a && b && c_busy);
    ASSERT_EQ(metric("nova_db_waiters"), 1);
    db_query_cancel(c_busy); /* its DB_E_BUSY was pending delivery: suppressed */
    db_query_cancel(b);      /* waiting: removed at once */
    ASSERT_EQ(metric("nova_db_waiters"), 0);
    db_query_cancel(a); /* in flight: its callback is dropped (and the statement stopped) */
    one_t c = run1("SELECT 4", 0, NULL);
    ASSERT_EQ(c.status, DB_OK);
    RUN_UNTIL(false, 100);
    ASSERT_EQ(never_called, 0);
    pool_finish();
}

typedef struct {
    db_tx_t *tx;
    int begun, status;
    int ended, end_status;
    uint64_t end_at;
} txs_t;

static void tx_begin_cb(db_tx_t *tx, int status, void *arg)
{
    txs_t *t = arg;
    t->tx = tx;
    t->status = status;
    t->begun++;
}

static void tx_end_cb(int status, void *arg)
{
    txs_t *t = arg;
    t->end_status = status;
    t->ended++;
    t->end_at = uv_hrtime();
}

static one_t txq(db_tx_t *tx, const char *sql, int n, const char *const *p)
{
    one_t o;
    memset(&o, 0, sizeof o);
    ASSERT_EQ(db_tx_query(tx, sql, n, p, one_cb, &o, NULL), 0);
    RUN_UNTIL(o.done, 5000);
    ASSERT_EQ(o.done, 1);
    return o;
}

static txs_t tx_open(void)
{
    txs_t t;
    memset(&t, 0, sizeof t);
    ASSERT_EQ(db_tx_begin(pool, tx_begin_cb, &t, NULL), 0);
    RUN_UNTIL(t.begun, 5000);
    ASSERT_EQ(t.begun, 1);
    ASSERT_EQ(t.status, DB_OK);
    ASSERT(t.tx);
    return t;
}

TEST(transactions_commit_rollback_timeout)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 1;
    cfg.tx_timeout_ms = 300;
    pool_open(&cfg, true);
    ASSERT_EQ(run1("CREATE TABLE tx_t (v text)", 0, NULL).status, DB_OK);

    /* Commit: visible afterwards. Meanwhile a pool query waits for the pinned connection. */
    txs_t t = tx_open();
    ASSERT_EQ(
        txq(t.tx, "INSERT INTO tx_t VALUES ($1)", 1, (const char *const[]){"committed"}).status,
        DB_OK);
    one_t outside = {0};
    ASSERT_EQ(db_query(pool, "SELECT count(*) FROM tx_t", 0, NULL, one_cb, &outside, NULL), 0);
    RUN_UNTIL(false, 50);
    ASSERT_EQ(outside.done, 0);
    ASSERT_EQ(db_tx_commit(t.tx, tx_end_cb, &t), 0);
    RUN_UNTIL(t.ended && outside.done, 5000);
    ASSERT_EQ(t.end_status, DB_OK);
    ASSERT_STREQ(outside.v[0], "1");

    /* Rollback: not visible. */
    t = tx_open();
    ASSERT_EQ(txq(t.tx, "INSERT INTO tx_t VALUES ('rolled back')", 0, NULL).status, DB_OK);
    ASSERT_EQ(db_tx_rollback(t.tx, tx_end_cb, &t), 0);
    RUN_UNTIL(t.ended, 5000);
    ASSERT_EQ(t.end_status, DB_OK);

    /* A failed statement dooms the transaction: COMMIT reports it and nothing is kept. */
    t = tx_open();
    ASSERT_EQ(txq(t.tx, "INSERT INTO tx_t VALUES ('doomed')", 0, NULL).status, DB_OK);
    one_t e = txq(t.tx, "SELECT 1/0", 0, NULL);
    ASSERT_EQ(e.status, DB_E_QUERY);
    ASSERT_STREQ(e.sqlstate, "22012");
    e = txq(t.tx, "SELECT 1", 0, NULL);
    ASSERT_STREQ(e.sqlstate, "25P02");
    ASSERT_EQ(db_tx_commit(t.tx, tx_end_cb, &t), 0);
    RUN_UNTIL(t.ended, 5000);
    ASSERT_EQ(t.end_status, DB_E_QUERY);
    one_t cnt = run1("SELECT string_agg(v, ',' ORDER BY v) FROM tx_t", 0, NULL);
    ASSERT_STREQ(cnt.v[0], "committed");

    /* An abandoned transaction is rolled back after tx_timeout_ms and frees the connection. */
    t = tx_open();
    ASSERT_EQ(txq(t.tx, "INSERT INTO tx_t VALUES ('abandoned')", 0, NULL).status, DB_OK);
    uint64_t t0 = now_ms();
    one_t after = run1("SELECT count(*) FROM tx_t", 0, NULL); /* waits for the timeout */
    ASSERT_EQ(after.status, DB_OK);
    ASSERT_STREQ(after.v[0], "1");
    ASSERT(after.at_ms - t0 >= 200 && after.at_ms - t0 < 2000);
    e = txq(t.tx, "SELECT 1", 0, NULL);
    ASSERT_EQ(e.status, DB_E_TIMEOUT);
    ASSERT_EQ(db_tx_commit(t.tx, tx_end_cb, &t), 0);
    RUN_UNTIL(t.ended, 5000);
    ASSERT_EQ(t.end_status, DB_E_TIMEOUT);

    /* A cancelled BEGIN never calls back and does not keep the connection. */
    txs_t c = {0};
    db_query_t *h = NULL;
    ASSERT_EQ(db_tx_begin(pool, tx_begin_cb, &c, &h), 0);
    db_query_cancel(h);
    ASSERT_EQ(run1("SELECT 1", 0, NULL).status, DB_OK);
    ASSERT_EQ(c.begun, 0);
    pool_finish();
}

/* Rows of pg_stat_activity still running a statement whose text contains `tag` (other than the
 * probe itself). */
static int active_with(const char *tag)
{
    char like[128];
    snprintf(like, sizeof like, "%%%s%%", tag);
    one_t o = run1("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 "
                   "AND pid <> pg_backend_pid()",
                   1, (const char *const[]){like});
    ASSERT_EQ(o.status, DB_OK);
    return atoi(o.v[0]);
}

/* Polls until `n` statements tagged `tag` are running; returns how long it took or -1. */
static long wait_active(const char *tag, int n, int ms)
{
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < (uint64_t)ms) {
        if (active_with(tag) == n) return (long)(now_ms() - t0);
        RUN_UNTIL(false, 20);
    }
    return -1;
}

TEST(cancel_in_flight_stops_the_statement_on_the_server)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 2; /* the probes run on the second connection */
    cfg.statement_timeout_ms = 60000;
    pool_open(&cfg, true);
    RUN_UNTIL(metric("nova_db_connections_open") == 2, 5000);
    ASSERT_EQ(metric("nova_db_connections_open"), 2);
    never_called = 0;
    db_query_t *h = NULL;
    ASSERT_EQ(
        db_query(pool, "SELECT pg_sleep(30) AS caller_cancel_probe", 0, NULL, never_cb, NULL, &h),
        0);
    ASSERT(wait_active("caller_cancel_probe", 1, 5000) >= 0);
    uint64_t t0 = now_ms();
    db_query_cancel(h);
    long gone = wait_active("caller_cancel_probe", 0, 5000);
    printf("  cancelled statement left pg_stat_activity after %llu ms\n",
           (unsigned long long)(now_ms() - t0));
    ASSERT(gone >= 0);
    ASSERT_EQ(metric("nova_db_cancel_requests_total{reason=\"caller_cancelled\"}"), 1);
    RUN_UNTIL(metric("nova_db_errors_total{kind=\"cancelled\"}") == 1, 3000);
    /* Counted as cancelled, not as a timeout (the server answered 57014). */
    ASSERT_EQ(metric("nova_db_errors_total{kind=\"cancelled\"}"), 1);
    ASSERT_EQ(metric("nova_db_errors_total{kind=\"timeout\"}"), 0);
    RUN_UNTIL(metric("nova_db_cancel_in_flight") == 0, 3000);
    ASSERT_EQ(metric("nova_db_cancel_in_flight"), 0);
    /* The connection that ran it serves again: two overlapping statements use two backends. */
    one_t a = {0}, b = {0};
    ASSERT_EQ(db_query(pool, "SELECT pg_backend_pid()::text, pg_sleep(0.3)::text", 0, NULL, one_cb,
                       &a, NULL),
              0);
    ASSERT_EQ(db_query(pool, "SELECT pg_backend_pid()::text, pg_sleep(0.3)::text", 0, NULL, one_cb,
                       &b, NULL),
              0);
    RUN_UNTIL(a.done && b.done, 5000);
    ASSERT_EQ(a.status, DB_OK);
    ASSERT_EQ(b.status, DB_OK);
    ASSERT(strcmp(a.v[0], b.v[0]) != 0);
    ASSERT_EQ(never_called, 0);
    pool_finish();
}

/* Where a cancel request could hit the wrong statement, none is sent: a query pipelined behind
 * the cancelled one, and the rest of a transaction, are unaffected. */
TEST(cancel_never_hits_another_statement)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 1;
    cfg.pipeline_depth = 4;
    pool_open(&cfg, true);
    never_called = 0;
    /* The cancelled head finishes at once; a cancel sent for it would land on the sleeper. */
    db_query_t *h = NULL;
    one_t behind = {0};
    ASSERT_EQ(db_query(pool, "SELECT 1", 0, NULL, never_cb, NULL, &h), 0);
    ASSERT_EQ(
        db_query(pool, "SELECT 'behind', pg_sleep(0.3)::text", 0, NULL, one_cb, &behind, NULL), 0);
    db_query_cancel(h);
    RUN_UNTIL(behind.done, 5000);
    ASSERT_EQ(behind.status, DB_OK);
    ASSERT_STREQ(behind.v[0], "behind");

    /* Inside a transaction: cancelling one statement's callback keeps the transaction usable. */
    ASSERT_EQ(run1("CREATE TABLE cancel_tx_t (v text)", 0, NULL).status, DB_OK);
    txs_t t = tx_open();
    db_query_t *th = NULL;
    ASSERT_EQ(db_tx_query(t.tx, "INSERT INTO cancel_tx_t SELECT 'slow' FROM pg_sleep(0.3)", 0, NULL,
                          never_cb, NULL, &th),
              0);
    db_query_cancel(th);
    ASSERT_EQ(txq(t.tx, "INSERT INTO cancel_tx_t VALUES ('after')", 0, NULL).status, DB_OK);
    ASSERT_EQ(db_tx_commit(t.tx, tx_end_cb, &t), 0);
    RUN_UNTIL(t.ended, 5000);
    ASSERT_EQ(t.end_status, DB_OK);
    ASSERT_STREQ(run1("SELECT string_agg(v, ',' ORDER BY v) FROM cancel_tx_t", 0, NULL).v[0],
                 "after,slow");
    ASSERT_EQ(metric("nova_db_cancel_requests_total{reason=\"caller_cancelled\"}"), 0);
    ASSERT_EQ(never_called, 0);
    pool_finish();
}

/* Threadpool blockers stand in for PQcancel calls hung on an unreachable server. */
static uv_sem_t blk_sem;
static atomic_int blk_started;
static int blk_done;
static void blk_work(uv_work_t *w)
{
    (void)w;
    atomic_fetch_add(&blk_started, 1);
    uv_sem_wait(&blk_sem);
}
static void blk_after(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
    blk_done++;
}

TEST(one_cancel_in_flight_per_pool)
{
    const char *env = getenv("UV_THREADPOOL_SIZE");
    int nthreads = env ? atoi(env) : 4; /* libuv's default */
    if (nthreads < 1 || nthreads > 64) TEST_SKIP("unusual UV_THREADPOOL_SIZE");
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 3;
    cfg.statement_timeout_ms = 60000;
    cfg.query_timeout_ms = 300;
    pool_open(&cfg, true);
    RUN_UNTIL(metric("nova_db_connections_open") == 3, 5000); /* one statement per connection */
    ASSERT_EQ(metric("nova_db_connections_open"), 3);
    /* Every threadpool thread is busy, so the first cancel request stays in flight. */
    static uv_work_t blk[64];
    ASSERT_EQ(uv_sem_init(&blk_sem, 0), 0);
    atomic_store(&blk_started, 0);
    blk_done = 0;
    for (int i = 0; i < nthreads; i++)
        ASSERT_EQ(uv_queue_work(&loop, &blk[i], blk_work, blk_after), 0);
    RUN_UNTIL(atomic_load(&blk_started) == nthreads, 5000);
    ASSERT_EQ(atomic_load(&blk_started), nthreads);
    one_t o[3];
    memset(o, 0, sizeof o);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(
            db_query(pool, "SELECT pg_sleep(20) AS one_cancel_probe", 0, NULL, one_cb, &o[i], NULL),
            0);
    RUN_UNTIL(o[0].done && o[1].done && o[2].done, 5000);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(o[i].status, DB_E_TIMEOUT); /* callers are answered without the cancel */
    ASSERT_EQ(metric("nova_db_client_statement_timeouts_total"), 3);
    ASSERT_EQ(metric("nova_db_cancel_requests_total{reason=\"client_timeout\"}"), 1);
    ASSERT_EQ(metric("nova_db_cancel_requests_skipped_total"), 2);
    ASSERT_EQ(metric("nova_db_cancel_in_flight"), 1);
    /* Only one request waits for a thread; the pool keeps serving meanwhile. */
    RUN_UNTIL(metric("nova_db_connections_open") == 3, 5000);
    ASSERT_EQ(run1("SELECT 5", 0, NULL).status, DB_OK);
    ASSERT_EQ(active_with("one_cancel_probe"), 3);
    for (int i = 0; i < nthreads; i++)
        uv_sem_post(&blk_sem);
    RUN_UNTIL(blk_done == nthreads && metric("nova_db_cancel_in_flight") == 0, 5000);
    ASSERT_EQ(metric("nova_db_cancel_in_flight"), 0);
    /* The one request sent stopped its statement; the skipped ones run on until the server's
     * statement_timeout, which is what bounds them. Stop them here to clean up. */
    ASSERT(wait_active("one_cancel_probe", 2, 5000) >= 0);
    ASSERT_EQ(run1("SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE query LIKE "
                   "'%one_cancel_probe%' AND pid <> pg_backend_pid()",
                   0, NULL)
                  .status,
              DB_OK);
    ASSERT(wait_active("one_cancel_probe", 0, 5000) >= 0);
    uv_sem_destroy(&blk_sem);
    pool_finish();
}

/* Counts running statements tagged `tag` with a blocking connection of its own (for checks made
 * while no pool exists). */
static int active_blocking(const char *tag)
{
    PGconn *c = PQconnectdb(cluster_url_get());
    ASSERT(PQstatus(c) == CONNECTION_OK);
    char like[128];
    snprintf(like, sizeof like, "%%%s%%", tag);
    const char *p[1] = {like};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                               "query LIKE $1 AND pid <> pg_backend_pid()",
                               1, NULL, p, NULL, NULL, 0);
    int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    PQfinish(c);
    return n;
}

/* The pool may close while its cancel request waits for a thread: closing does not wait for it,
 * the request is still delivered afterwards, and nothing touches the freed pool. */
TEST(pool_closes_with_a_cancel_in_flight)
{
    const char *env = getenv("UV_THREADPOOL_SIZE");
    int nthreads = env ? atoi(env) : 4;
    if (nthreads < 1 || nthreads > 64) TEST_SKIP("unusual UV_THREADPOOL_SIZE");
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 1;
    cfg.statement_timeout_ms = 60000;
    cfg.query_timeout_ms = 200;
    pool_open(&cfg, true);
    static uv_work_t blk[64];
    ASSERT_EQ(uv_sem_init(&blk_sem, 0), 0);
    atomic_store(&blk_started, 0);
    blk_done = 0;
    for (int i = 0; i < nthreads; i++)
        ASSERT_EQ(uv_queue_work(&loop, &blk[i], blk_work, blk_after), 0);
    RUN_UNTIL(atomic_load(&blk_started) == nthreads, 5000);
    ASSERT_EQ(atomic_load(&blk_started), nthreads);
    one_t o = run1("SELECT pg_sleep(20) AS close_cancel_probe", 0, NULL);
    ASSERT_EQ(o.status, DB_E_TIMEOUT);
    ASSERT_EQ(metric("nova_db_cancel_in_flight"), 1);
    int closed = 0;
    db_pool_close(pool, on_pool_closed, &closed);
    pool = NULL;
    RUN_UNTIL(closed, 5000);
    ASSERT(closed);
    ASSERT_EQ(active_blocking("close_cancel_probe"), 1); /* not cancelled yet */
    for (int i = 0; i < nthreads; i++)
        uv_sem_post(&blk_sem);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(blk_done, nthreads);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    uv_sem_destroy(&blk_sem);
    int n = -1;
    for (int i = 0; i < 100 && n != 0; i++) {
        n = active_blocking("close_cancel_probe");
        if (n) usleep(20000);
    }
    ASSERT_EQ(n, 0);
}

/* DATABASE_URL may be a libpq keyword string; our session settings are merged into its own. */
TEST(keyword_string_url)
{
    const char *uri = cluster_url_get(); /* postgresql://nova@127.0.0.1:PORT/nova */
    const char *colon = strrchr(uri, ':');
    ASSERT(colon);
    int port = atoi(colon + 1);
    ASSERT(port > 0);
    char kw[512];
    snprintf(kw, sizeof kw,
             "host=127.0.0.1 port=%d dbname=nova user=nova application_name='nova kw \\'test\\'' "
             "options='-c work_mem=5MB'",
             port);
    db_config_t cfg;
    db_config_defaults(&cfg);
    cfg.url = kw;
    cfg.statement_timeout_ms = 12345;
    pool_open(&cfg, true);
    one_t o = run1("SELECT current_database(), current_user, current_setting('application_name'), "
                   "current_setting('statement_timeout')",
                   0, NULL);
    ASSERT_EQ(o.status, DB_OK);
    ASSERT_STREQ(o.v[0], "nova");
    ASSERT_STREQ(o.v[1], "nova");
    ASSERT_STREQ(o.v[2], "nova kw 'test'");
    ASSERT_STREQ(o.v[3], "12345ms");
    ASSERT_STREQ(run1("SELECT current_setting('work_mem')", 0, NULL).v[0], "5MB");
    pool_finish();
    /* Without application_name the pool's default name is used. */
    snprintf(kw, sizeof kw, "host=127.0.0.1 port=%d dbname=nova user=nova", port);
    pool_open(&cfg, true);
    ASSERT_STREQ(run1("SELECT current_setting('application_name')", 0, NULL).v[0], "nova");
    pool_finish();
    /* An unknown keyword is refused up front. */
    uv_loop_t l2;
    ASSERT_EQ(uv_loop_init(&l2), 0);
    db_pool_t *bad = NULL;
    cfg.url = "host=127.0.0.1 nosuchkeyword=1";
    ASSERT_EQ(db_pool_new(&l2, &cfg, &bad), -EINVAL);
    ASSERT(bad == NULL);
    ASSERT_EQ(uv_loop_close(&l2), 0);
}

/* ---- outage ---- */

static int spawn_done, spawn_status;
static void on_spawn_exit(uv_process_t *p, int64_t status, int sig)
{
    (void)sig;
    spawn_status = (int)status;
    spawn_done = 1;
    uv_close((uv_handle_t *)p, NULL);
}

/* Runs tools/pgctl without blocking the loop. */
static void pgctl_async(uv_process_t *proc, const char *verb, const char *flag)
{
    char *args[] = {cluster_pgctl, (char *)verb, cluster_dir, (char *)flag, NULL};
    uv_stdio_container_t io[3] = {
        {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t o = {.exit_cb = on_spawn_exit,
                              .file = cluster_pgctl,
                              .args = args,
                              .stdio = io,
                              .stdio_count = 3};
    spawn_done = 0;
    ASSERT_EQ(uv_spawn(&loop, proc, &o), 0);
}

#define NLOAD 4000
typedef struct {
    uint64_t t0, t1;
    int status, done;
} load_t;
static load_t load[NLOAD];
static int load_n, load_inflight;
static bool load_on;
static uv_timer_t load_timer;

static void load_cb(db_result_t *res, void *arg)
{
    load_t *l = arg;
    l->status = db_result_status(res);
    l->t1 = now_ms();
    l->done++;
    load_inflight--;
}

static void load_tick(uv_timer_t *t)
{
    (void)t;
    while (load_on && load_inflight < 40 && load_n < NLOAD) {
        load_t *l = &load[load_n++];
        l->t0 = now_ms();
        load_inflight++;
        if (db_query(pool, "SELECT pg_sleep(0.02)", 0, NULL, load_cb, l, NULL) != 0) {
            load_inflight--;
            l->done = -1;
        }
    }
}

TEST(outage_fails_fast_and_recovers)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 4;
    cfg.queue_timeout_ms = 10000; /* fast failures must come from outage detection */
    cfg.reconnect_max_ms = 1000;
    pool_open(&cfg, true);
    load_n = load_inflight = 0;
    load_on = true;
    uv_timer_init(&loop, &load_timer);
    uv_timer_start(&load_timer, load_tick, 0, 2);
    RUN_UNTIL(false, 300);
    int before = load_n;
    ASSERT(before > 20);

    uv_process_t proc;
    uint64_t t_kill = now_ms();
    pgctl_async(&proc, "stop", "--immediate");
    RUN_UNTIL(spawn_done, 30000);
    ASSERT(spawn_done);
    ASSERT_EQ(spawn_status, 0);
    RUN_UNTIL(false, 1000); /* load keeps coming while the server is down */
    ASSERT(!db_pool_ready(pool));
    load_on = false;
    RUN_UNTIL(load_inflight == 0, 3000);
    ASSERT_EQ(load_inflight, 0);

    int ok = 0, unavailable = 0;
    uint64_t worst = 0;
    for (int i = 0; i < load_n; i++) {
        ASSERT_EQ(load[i].done, 1); /* every query got exactly one answer */
        if (load[i].status == DB_OK) {
            ok++;
            continue;
        }
        ASSERT_EQ(load[i].status, DB_E_UNAVAILABLE);
        unavailable++;
        uint64_t from = load[i].t0 > t_kill ? load[i].t0 : t_kill;
        if (load[i].t1 - from > worst) worst = load[i].t1 - from;
    }
    printf("  outage: %d ok, %d unavailable, slowest failure %llu ms after the kill/submission\n",
           ok, unavailable, (unsigned long long)worst);
    ASSERT(unavailable > 0);
    ASSERT(worst < 1000);

    /* Restart: the same pool recovers by itself. */
    pgctl_async(&proc, "start", "--fast");
    RUN_UNTIL(spawn_done, 60000);
    ASSERT_EQ(spawn_status, 0);
    uint64_t t_up = now_ms();
    RUN_UNTIL(db_pool_ready(pool), 15000);
    ASSERT(db_pool_ready(pool));
    printf("  recovered %llu ms after the server was back\n",
           (unsigned long long)(now_ms() - t_up));
    one_t o = run1("SELECT 7", 0, NULL);
    ASSERT_EQ(o.status, DB_OK);
    ASSERT_STREQ(o.v[0], "7");
    ASSERT(metric("nova_db_reconnects_total") >= 4);
    uv_close((uv_handle_t *)&load_timer, NULL);
    pool_finish();
}

TEST(unreachable_server_fails_fast)
{
    db_config_t cfg;
    db_config_defaults(&cfg);
    cfg.url = "postgresql://nova@127.0.0.1:1/nova";
    cfg.queue_timeout_ms = 10000;
    pool_open(&cfg, false);
    uint64_t t0 = now_ms();
    one_t o = run1("SELECT 1", 0, NULL);
    ASSERT_EQ(o.status, DB_E_UNAVAILABLE);
    ASSERT(o.at_ms - t0 < 1000);
    ASSERT(!db_pool_ready(pool));
    o = run1("SELECT 1", 0, NULL);
    ASSERT_EQ(o.status, DB_E_UNAVAILABLE);
    pool_finish();

    db_pool_t *bad = NULL;
    cfg.url = "postgresql://[::1";
    uv_loop_t l2;
    uv_loop_init(&l2);
    ASSERT(db_pool_new(&l2, &cfg, &bad) < 0);
    ASSERT(bad == NULL);
    cfg.url = "host=127.0.0.1";
    cfg.pool_size = 0;
    ASSERT(db_pool_new(&l2, &cfg, &bad) < 0);
    ASSERT_EQ(uv_loop_close(&l2), 0);
}

/* ---- LISTEN/NOTIFY ---- */

typedef struct {
    int got, resyncs;
    char payload[256];
    char channel[64];
} notes_t;

static void note_cb(const char *channel, const char *payload, void *arg)
{
    notes_t *n = arg;
    if (!payload) {
        n->resyncs++;
        return;
    }
    n->got++;
    snprintf(n->payload, sizeof n->payload, "%s", payload);
    snprintf(n->channel, sizeof n->channel, "%s", channel);
}

/* NOTIFY until the subscriber hears it (the LISTEN may still be on its way at first). */
static void notify_until_heard(const char *channel, const char *payload, notes_t *n)
{
    int before = n->got;
    for (int i = 0; i < 100 && n->got == before; i++) {
        ASSERT_EQ(db_notify(pool, channel, payload, NULL, NULL), 0);
        RUN_UNTIL(n->got > before, 100);
    }
    ASSERT(n->got > before);
}

TEST(listen_notify_survives_restart)
{
    db_config_t cfg;
    base_config(&cfg);
    cfg.pool_size = 2;
    cfg.reconnect_max_ms = 1000;
    pool_open(&cfg, true);
    notes_t a = {0}, mixed = {0}, gone = {0};
    ASSERT_EQ(db_listen(pool, "bad-name", note_cb, &a), -EINVAL);
    ASSERT_EQ(db_listen(pool, "x\"; DROP TABLE t; --", note_cb, &a), -EINVAL);
    ASSERT_EQ(db_listen(pool, "", note_cb, &a), -EINVAL);
    ASSERT_EQ(db_notify(pool, "bad name", "x", NULL, NULL), -EINVAL);
    ASSERT_EQ(db_listen(pool, "nova_events", note_cb, &a), 0);
    ASSERT_EQ(db_listen(pool, "MixedCase", note_cb, &mixed), 0);
    ASSERT_EQ(db_listen(pool, "nova_gone", note_cb, &gone), 0);
    notify_until_heard("nova_events", "it's \"quoted\" \xe2\x9c\x93", &a);
    ASSERT_STREQ(a.payload, "it's \"quoted\" \xe2\x9c\x93");
    ASSERT_STREQ(a.channel, "nova_events");
    notify_until_heard("MixedCase", "case kept", &mixed);
    ASSERT_STREQ(mixed.payload, "case kept");
    ASSERT_EQ(a.resyncs, 0);
    ASSERT_EQ(db_unlisten(pool, "nova_gone", note_cb, &gone), 0);
    ASSERT_EQ(db_unlisten(pool, "nova_gone", note_cb, &gone), -ENOENT);

    uv_process_t proc;
    pgctl_async(&proc, "stop", "--immediate");
    RUN_UNTIL(spawn_done, 30000);
    ASSERT_EQ(spawn_status, 0);
    pgctl_async(&proc, "start", "--fast");
    RUN_UNTIL(spawn_done, 60000);
    ASSERT_EQ(spawn_status, 0);
    /* Subscribers are told that they may have missed notifications, then hear new ones. */
    RUN_UNTIL(a.resyncs > 0 && mixed.resyncs > 0 && db_pool_ready(pool), 15000);
    ASSERT_EQ(a.resyncs, 1);
    ASSERT_EQ(mixed.resyncs, 1);
    notify_until_heard("nova_events", "again", &a);
    ASSERT_STREQ(a.payload, "again");
    ASSERT_EQ(gone.got, 0);
    ASSERT_EQ(gone.resyncs, 0);
    ASSERT_EQ(metric("nova_db_listen_connection_up"), 1);
    pool_finish();
}

TEST_MAIN({"params_round_trip", params_round_trip},
          {"result_int_parses_strictly", result_int_parses_strictly},
          {"concurrent_500_through_4", concurrent_500_through_4},
          {"queue_overflow_is_busy_at_once", queue_overflow_is_busy_at_once},
          {"queue_timeout_is_busy", queue_timeout_is_busy},
          {"pipeline_order_and_error_isolation", pipeline_order_and_error_isolation},
          {"statement_timeout_does_not_block_loop", statement_timeout_does_not_block_loop},
          {"client_timeout_cancels_and_recovers", client_timeout_cancels_and_recovers},
          {"cancel_waiting_and_in_flight", cancel_waiting_and_in_flight},
          {"transactions_commit_rollback_timeout", transactions_commit_rollback_timeout},
          {"cancel_in_flight_stops_the_statement_on_the_server",
           cancel_in_flight_stops_the_statement_on_the_server},
          {"cancel_never_hits_another_statement", cancel_never_hits_another_statement},
          {"one_cancel_in_flight_per_pool", one_cancel_in_flight_per_pool},
          {"pool_closes_with_a_cancel_in_flight", pool_closes_with_a_cancel_in_flight},
          {"keyword_string_url", keyword_string_url},
          {"unreachable_server_fails_fast", unreachable_server_fails_fast},
          {"listen_notify_survives_restart", listen_notify_survives_restart},
          {"outage_fails_fast_and_recovers", outage_fails_fast_and_recovers})
