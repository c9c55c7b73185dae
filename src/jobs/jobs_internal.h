/* Internal structures shared by the files of the jobs module (worker.c, run.c, queue.c,
 * events.c, wait.c). Nothing outside src/jobs includes this header. */
#ifndef NOVA_JOBS_INTERNAL_H
#define NOVA_JOBS_INTERNAL_H

#include "jobs/jobs.h"

#define JOBS__BUCKETS       1024
#define JOBS__MAX_HANDLERS  16
#define JOBS__SQLSTATE_LOST "NJ001"

typedef struct jobs__run jobs__run_t;

struct jobs__run {
    jobs_run_t pub;
    const jobs_handler_t *h;
    jobs__run_t *next, *prev;
    int refs;        /* outstanding queries that point at the run (+1 while not ended) */
    bool ended;      /* a terminal report was made */
    bool finishing;  /* the finishing transaction is in flight */
    uint64_t hb_gen; /* heartbeat generation that last included the run */
    /* Events of the run, sent one statement at a time so their ids follow emission order. */
    struct jobs__ev *evq_head, *evq_tail;
    bool evq_busy;
    bool finish_deferred;   /* the terminal report waits for the queue to drain */
    jobs_outcome_t outcome; /* copy of the terminal report (strings in the arena) */
    bool outcome_wait_children;
};

struct jobs_engine {
    uv_loop_t *loop;
    db_pool_t *db;
    jobs_config_t cfg;
    char worker_id[96];

    jobs_handler_t handlers[JOBS__MAX_HANDLERS];
    size_t nhandlers;
    char kinds_param[512]; /* "{create,scene,...}" for the claim query */

    jobs__run_t runs; /* sentinel of the running list */
    int nrunning;

    bool started, shutting_down, closing, listening;
    bool claiming, claim_again;
    uv_timer_t poll_timer, hb_timer, rescue_timer, prune_timer, tick_timer, flush_timer,
        close_timer, claim_timer;
    int timers_open;
    uint64_t hb_gen;
    bool hb_busy, rescue_busy;
    void (*close_done)(void *);
    void *close_arg;
    int close_ops; /* hand-back statements still in flight at close */
    int inflight;  /* claim, heartbeat, rescue statements in flight (they point at the engine) */
    bool close_finished;

    /* hub */
    jobs_sub_t *buckets[JOBS__BUCKETS];
    size_t nsubs;
    int64_t *pending_ids;
    size_t npending, cap_pending;
    bool fetch_busy;
    db_query_t *fetch_q;

    /* metrics */
    uint64_t m_claimed, m_succeeded, m_failed, m_retried, m_rescued, m_lost, m_events_in,
        m_events_fanned, m_claim_queries;
};

/* worker.c */
void jobs__claim(jobs_engine_t *e);
const jobs_handler_t *jobs__handler(jobs_engine_t *e, const char *kind);
void jobs__run_unref(jobs__run_t *r);
void jobs__run_cancel_local(jobs_engine_t *e, const char *job_id);

/* run.c */
void jobs__run_end(jobs__run_t *r); /* after the terminal transaction (or giving up) */

/* queue.c */
void jobs__dead_rows(jobs_engine_t *e, const db_result_t *res);
void jobs__settle_parent_async(jobs_engine_t *e, const char *parent_id);
const char *jobs__param_int(arena_t *a, int64_t v);

/* events.c */
void jobs__hub_notify(const char *channel, const char *payload, void *arg);
void jobs__hub_tick(jobs_engine_t *e);
void jobs__hub_shutdown(jobs_engine_t *e);
void jobs__hub_free(jobs_engine_t *e);

/* Bounded copy helpers. */
static inline void jobs__copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    if (src)
        for (; src[n] && n + 1 < cap; n++)
            dst[n] = src[n];
    dst[n] = '\0';
}

#endif
