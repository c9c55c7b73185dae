/* wait: parking a request until its job ends, without blocking the loop. The wait subscribes to
 * the hub for the job's user (terminal events arrive from whichever instance finished the job),
 * then reads the job once, since it may have ended before the subscription; a timer bounds the
 * wait. A hub reset (missed notifications) reads the job again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs_internal.h"

struct jobs_wait {
    jobs_sub_t sub; /* first: the hub hands us this pointer */
    jobs_engine_t *e;
    char job_id[JOBS_UUID_LEN + 1];
    uv_timer_t timer;
    jobs_wait_cb cb;
    void *arg;
    db_query_t *q;
    bool done;
    arena_t arena; /* for the job reads */
};

static bool jobs__final(const char *state)
{
    return strcmp(state, "succeeded") == 0 || strcmp(state, "partial") == 0 ||
           strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0;
}

static void jobs__wait_closed(uv_handle_t *h)
{
    jobs_wait_t *w = h->data;
    arena_free(&w->arena);
    free(w);
}

/* Ends the wait: stops everything; the memory goes when the timer handle has closed. */
static void jobs__wait_end(jobs_wait_t *w)
{
    w->done = true;
    jobs_unsubscribe(w->e, &w->sub);
    if (w->q) {
        db_query_cancel(w->q);
        w->q = NULL;
    }
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, jobs__wait_closed);
}

static void jobs__wait_report(jobs_wait_t *w, const char *state)
{
    if (w->done) return;
    jobs_wait_cb cb = w->cb;
    void *arg = w->arg;
    jobs__wait_end(w);
    cb(state, arg);
}

static void jobs__wait_read_done(int status, const jobs_info_t *info, void *arg)
{
    jobs_wait_t *w = arg;
    w->q = NULL;
    if (status == DB_OK && !info) {
        jobs__wait_report(w, "failed"); /* the job vanished (its story was deleted) */
        return;
    }
    if (status == DB_OK && jobs__final(info->state)) {
        char state[16];
        jobs__copy(state, sizeof state, info->state);
        jobs__wait_report(w, state);
    }
    /* Otherwise keep waiting for the terminal event (or the timer). */
}

static void jobs__wait_read(jobs_wait_t *w)
{
    if (w->done || w->q) return;
    if (jobs_get(w->e, w->job_id, 0, &w->arena, jobs__wait_read_done, w, &w->q) != 0) w->q = NULL;
}

static void jobs__wait_event(jobs_sub_t *s, const jobs_event_t *ev)
{
    jobs_wait_t *w = (jobs_wait_t *)s;
    if (strcmp(ev->job_id, w->job_id) != 0) return;
    if (strcmp(ev->type, "job.succeeded") != 0 && strcmp(ev->type, "job.failed") != 0 &&
        strcmp(ev->type, "job.cancelled") != 0)
        return;
    /* The event carries the final state; reading the row keeps one code path for it. */
    if (w->q) {
        db_query_cancel(w->q);
        w->q = NULL;
    }
    jobs__wait_read(w);
}

static void jobs__wait_reset(jobs_sub_t *s)
{
    jobs__wait_read((jobs_wait_t *)s);
}

static void jobs__wait_shutdown(jobs_sub_t *s)
{
    jobs__wait_report((jobs_wait_t *)s, NULL);
}

static const jobs_sub_ops_t jobs__wait_ops = {
    .event = jobs__wait_event,
    .reset = jobs__wait_reset,
    .shutdown = jobs__wait_shutdown,
};

static void jobs__wait_timeout(uv_timer_t *t)
{
    jobs__wait_report(t->data, NULL);
}

int jobs_wait(jobs_engine_t *e, const char *job_id, int64_t user_id, uint64_t timeout_ms,
              jobs_wait_cb cb, void *arg, jobs_wait_t **out)
{
    if (out) *out = NULL;
    if (!e || e->shutting_down) return -ESHUTDOWN;
    jobs_wait_t *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->sub.ops = &jobs__wait_ops;
    w->sub.user_id = user_id;
    w->e = e;
    w->cb = cb;
    w->arg = arg;
    arena_init(&w->arena);
    jobs__copy(w->job_id, sizeof w->job_id, job_id);
    uv_timer_init(e->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, jobs__wait_timeout, timeout_ms, 0);
    jobs_subscribe(e, &w->sub);
    jobs__wait_read(w);
    if (out) *out = w;
    return 0;
}

void jobs_wait_cancel(jobs_wait_t *w)
{
    if (w && !w->done) jobs__wait_end(w);
}
