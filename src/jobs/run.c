/* run: what a handler calls while it runs a job: progress, events, text deltas and checkpointed
 * transactions that hold the job (all sent one at a time per run through one queue, so event ids
 * follow the order the handler made them even when a transaction emits an event; progress and
 * deltas coalesce while a statement is in flight), and
 * the terminal reports (finish with retry/backoff, hand-back at shutdown, waiting for
 * children). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "jobs/jobs_internal.h"

typedef enum { JOBS__EV_EVENT, JOBS__EV_PROGRESS, JOBS__EV_DELTA, JOBS__EV_TX } jobs__ev_kind_t;
typedef enum { JOBS__TX_PLAIN, JOBS__TX_FINAL, JOBS__TX_RETRY, JOBS__TX_WAIT } jobs__tx_mode_t;

struct jobs__ev {
    struct jobs__ev *next;
    jobs__ev_kind_t kind;
    int pct;
    size_t offset;
    char type[32];
    buf_t data; /* event JSON, progress step, or delta text */
    /* JOBS__EV_TX: a transaction that waits for the events before it (and holds those after). */
    jobs_tx_build_fn build;
    jobs_tx_done_fn done;
    void *arg;
};

static const char jobs__progress_sql[] =
    "WITH j AS (UPDATE jobs SET progress = $3::int, step = $4, updated_at = now() "
    "WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING id, user_id, story_id, kind) "
    "SELECT job_event(j.user_id, j.story_id, j.id, 'job.progress', "
    "jsonb_build_object('percent', $3::int, 'step', $4::text, 'kind', j.kind)) FROM j";

static const char jobs__event_sql[] =
    "SELECT job_event($1::bigint, $2::uuid, $3::uuid, $4, coalesce($5::jsonb, '{}'))";

static void jobs__finish_now(jobs__run_t *r);

static jobs__run_t *jobs__r(jobs_run_t *run)
{
    return (jobs__run_t *)run;
}

static void jobs__ev_free(struct jobs__ev *ev)
{
    buf_free(&ev->data);
    free(ev);
}

static void jobs__evq_pump(jobs__run_t *r);
static void jobs__tx_start(jobs__run_t *r, jobs__tx_mode_t mode, jobs_tx_build_fn build,
                           jobs_tx_done_fn done, void *arg);

void jobs__run_unref(jobs__run_t *r)
{
    if (--r->refs > 0) return;
    while (r->evq_head) {
        struct jobs__ev *ev = r->evq_head;
        r->evq_head = ev->next;
        jobs__ev_free(ev);
    }
    arena_free(&r->pub.arena);
    free(r);
}

static void jobs__evq_done(db_result_t *res, void *arg)
{
    jobs__run_t *r = arg;
    int st = db_result_status(res);
    if (st != DB_OK && st != DB_E_CLOSED)
        log_warn("jobs", "job %s: event not stored: %s", r->pub.id, db_result_error(res));
    r->evq_busy = false;
    jobs__evq_pump(r);
    jobs__run_unref(r);
}

static void jobs__evq_pump(jobs__run_t *r)
{
    if (r->evq_busy) return;
    struct jobs__ev *ev = r->evq_head;
    if (!ev) {
        if (r->finish_deferred) {
            r->finish_deferred = false;
            jobs__finish_now(r);
        }
        return;
    }
    r->evq_head = ev->next;
    if (!r->evq_head) r->evq_tail = NULL;
    if (ev->kind == JOBS__EV_TX) {
        /* The queue stays busy until the transaction commits (jobs__tx_committed pumps). */
        r->evq_busy = true;
        jobs_tx_build_fn build = ev->build;
        jobs_tx_done_fn done = ev->done;
        void *arg = ev->arg;
        jobs__ev_free(ev);
        if (r->pub.lost || r->ended) {
            r->evq_busy = false;
            if (done) done(&r->pub, DB_E_QUERY, arg);
            jobs__evq_pump(r);
            return;
        }
        jobs__tx_start(r, JOBS__TX_PLAIN, build, done, arg);
        return;
    }
    jobs_engine_t *e = r->pub.engine;
    char uid[24], pct[16];
    snprintf(uid, sizeof uid, "%lld", (long long)r->pub.user_id);
    int rc;
    r->refs++;
    r->evq_busy = true;
    if (ev->kind == JOBS__EV_PROGRESS) {
        snprintf(pct, sizeof pct, "%d", ev->pct);
        const char *params[4] = {r->pub.id, e->worker_id, pct, ev->data.data ? ev->data.data : ""};
        rc = db_query(e->db, jobs__progress_sql, 4, params, jobs__evq_done, r, NULL);
    } else {
        const char *data = ev->data.data;
        char *owned = NULL;
        if (ev->kind == JOBS__EV_DELTA) {
            yajl_gen g = json_gen_new();
            yajl_gen_map_open(g);
            json_key(g, "text");
            json_strn(g, ev->data.data ? ev->data.data : "", ev->data.len);
            json_kv_int(g, "offset", (int64_t)ev->offset);
            yajl_gen_map_close(g);
            const unsigned char *out;
            size_t len;
            yajl_gen_get_buf(g, &out, &len);
            owned = strndup((const char *)out, len);
            yajl_gen_free(g);
            data = owned;
        }
        const char *params[5] = {uid, r->pub.story_id[0] ? r->pub.story_id : NULL, r->pub.id,
                                 ev->type, data};
        rc = db_query(e->db, jobs__event_sql, 5, params, jobs__evq_done, r, NULL);
        free(owned);
    }
    jobs__ev_free(ev);
    if (rc != 0) {
        r->evq_busy = false;
        r->refs--;
        jobs__evq_pump(r);
    }
}

static struct jobs__ev *jobs__ev_push(jobs__run_t *r, jobs__ev_kind_t kind)
{
    struct jobs__ev *ev = calloc(1, sizeof *ev);
    if (!ev) return NULL;
    ev->kind = kind;
    buf_init(&ev->data, 4u << 20);
    if (r->evq_tail)
        r->evq_tail->next = ev;
    else
        r->evq_head = ev;
    r->evq_tail = ev;
    return ev;
}

void jobs_run_progress(jobs_run_t *run, int percent, const char *step)
{
    jobs__run_t *r = jobs__r(run);
    if (r->ended || run->lost) return;
    if (percent < 0) percent = 0;
    if (percent > 100) percent = 100;
    struct jobs__ev *ev = r->evq_tail;
    if (!ev || ev->kind != JOBS__EV_PROGRESS) ev = jobs__ev_push(r, JOBS__EV_PROGRESS);
    if (!ev) return;
    ev->pct = percent;
    buf_reset(&ev->data);
    buf_append_str(&ev->data, step ? step : "");
    jobs__evq_pump(r);
}

void jobs_run_event(jobs_run_t *run, const char *type, const char *data_json)
{
    jobs__run_t *r = jobs__r(run);
    if (r->ended || run->lost) return;
    struct jobs__ev *ev = jobs__ev_push(r, JOBS__EV_EVENT);
    if (!ev) return;
    jobs__copy(ev->type, sizeof ev->type, type);
    buf_append_str(&ev->data, data_json ? data_json : "{}");
    jobs__evq_pump(r);
}

void jobs_run_delta(jobs_run_t *run, const char *text, size_t len, size_t offset)
{
    jobs__run_t *r = jobs__r(run);
    if (r->ended || run->lost || len == 0) return;
    struct jobs__ev *ev = r->evq_tail;
    if (!ev || ev->kind != JOBS__EV_DELTA || ev->offset + ev->data.len != offset) {
        ev = jobs__ev_push(r, JOBS__EV_DELTA);
        if (!ev) return;
        jobs__copy(ev->type, sizeof ev->type, "story.delta");
        ev->offset = offset;
    }
    buf_append(&ev->data, text, len);
    jobs__evq_pump(r);
}

/* ---- transactions that hold the job -------------------------------------------------------- */

typedef struct {
    jobs__run_t *r;
    jobs__tx_mode_t mode;
    jobs_tx_build_fn build;
    jobs_tx_done_fn done;
    void *arg;
    int status;
    char sqlstate[8];
    char error[160];
} jobs__tx_t;

static void jobs__tx_stmt(db_result_t *res, void *arg)
{
    jobs__tx_t *t = arg;
    int st = db_result_status(res);
    if (st != DB_OK && t->status == DB_OK) {
        t->status = st;
        jobs__copy(t->sqlstate, sizeof t->sqlstate, db_result_sqlstate(res));
        jobs__copy(t->error, sizeof t->error, db_result_error(res));
    }
}

static const char jobs__final_sql[] =
    "WITH j AS (UPDATE jobs SET state = $2, result = coalesce($3::jsonb, result), error = $4, "
    "progress = CASE WHEN $2 IN ('succeeded', 'partial') THEN 100 ELSE progress END, "
    "step = CASE WHEN $2 IN ('succeeded', 'partial') THEN 'done' ELSE step END, "
    "locked_by = NULL, locked_until = NULL, finished_at = now(), updated_at = now() "
    "WHERE id = $1 RETURNING id, user_id, story_id, kind, state, error, result) "
    "SELECT job_event(j.user_id, j.story_id, j.id, CASE WHEN j.state IN ('succeeded', 'partial') "
    "THEN 'job.succeeded' WHEN j.state = 'cancelled' THEN 'job.cancelled' ELSE 'job.failed' END, "
    "jsonb_build_object('state', j.state, 'kind', j.kind, 'error', j.error, 'result', j.result)) "
    "FROM j";

static const char jobs__retry_sql[] =
    "WITH j AS (UPDATE jobs SET state = 'available', error = $2, locked_by = NULL, "
    "locked_until = NULL, updated_at = now(), run_at = now() + make_interval(secs => "
    "least($4::float8, $3::float8 / 1000.0 * power(2, greatest(attempt - 1, 0))) * "
    "(0.75 + random() * 0.5)) WHERE id = $1 "
    "RETURNING id, user_id, story_id, kind, attempt, max_attempts, run_at) "
    "SELECT job_event(j.user_id, j.story_id, j.id, 'job.retry', jsonb_build_object('kind', "
    "j.kind, 'attempt', j.attempt, 'max_attempts', j.max_attempts, 'error', $2::text, "
    "'run_at', j.run_at)) FROM j";

static const char jobs__wait_sql[] =
    "UPDATE jobs SET state = 'waiting', locked_by = NULL, locked_until = NULL, updated_at = now() "
    "WHERE id = $1";

static const char jobs__lock_sql[] = "SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE";
static const char jobs__hold_sql[] = "SELECT jobs_hold($1, $2)";

static void jobs__tx_committed(int status, void *arg)
{
    jobs__tx_t *t = arg;
    jobs__run_t *r = t->r;
    jobs_engine_t *e = r->pub.engine;
    if (status != DB_OK && t->status == DB_OK) t->status = status;
    if (t->status != DB_OK && strcmp(t->sqlstate, JOBS__SQLSTATE_LOST) == 0 && !r->pub.lost) {
        r->pub.lost = true;
        e->m_lost++;
        log_warn("jobs", "job %s: no longer held by this worker; its results are discarded",
                 r->pub.id);
    }
    if (t->mode == JOBS__TX_PLAIN) {
        if (t->status != DB_OK && !r->pub.lost)
            log_warn("jobs", "job %s: step not saved: %s %s", r->pub.id, db_status_name(t->status),
                     t->error);
        if (t->done) t->done(&r->pub, t->status, t->arg);
        free(t);
        r->evq_busy = false; /* the queue waited for this transaction */
        jobs__evq_pump(r);
        jobs__run_unref(r);
        return;
    }
    if (r->outcome.done) r->outcome.done(&r->pub, t->status, r->outcome.arg);
    if (t->status == DB_OK) {
        if (t->mode == JOBS__TX_RETRY)
            e->m_retried++;
        else if (t->mode == JOBS__TX_FINAL && strcmp(r->outcome.state, "failed") == 0)
            e->m_failed++;
        else
            e->m_succeeded++;
        log_info("jobs", "job %s (%s) %s%s%s", r->pub.id, r->pub.kind,
                 t->mode == JOBS__TX_RETRY  ? "will retry"
                 : t->mode == JOBS__TX_WAIT ? "waits for its children"
                                            : r->outcome.state,
                 r->outcome.error ? ": " : "", r->outcome.error ? r->outcome.error : "");
    } else if (!r->pub.lost) {
        /* The lease still protects the job; when it expires the rescuer runs it again, and
         * every step is idempotent. */
        log_error("jobs", "job %s: final state not saved (%s %s); it will be retried", r->pub.id,
                  db_status_name(t->status), t->error);
    }
    free(t);
    jobs__run_end(r);
}

static void jobs__tx_begun(db_tx_t *tx, int status, void *arg)
{
    jobs__tx_t *t = arg;
    jobs__run_t *r = t->r;
    jobs_engine_t *e = r->pub.engine;
    if (status != DB_OK) {
        t->status = status;
        jobs__tx_committed(status, t);
        return;
    }
    const char *one[1];
    /* Children lock their parent first: the same order as the cancel endpoint and the
     * settling of the parent, so these transactions never deadlock each other. */
    if (r->pub.parent_id[0] && t->mode != JOBS__TX_PLAIN) {
        one[0] = r->pub.parent_id;
        db_tx_query(tx, jobs__lock_sql, 1, one, jobs__tx_stmt, t, NULL);
    }
    const char *hold[2] = {r->pub.id, e->worker_id};
    db_tx_query(tx, jobs__hold_sql, 2, hold, jobs__tx_stmt, t, NULL);
    if (t->build) t->build(&r->pub, tx, t->arg);
    if (t->mode == JOBS__TX_FINAL) {
        const char *p[4] = {r->pub.id, r->outcome.state, r->outcome.result_json, r->outcome.error};
        db_tx_query(tx, jobs__final_sql, 4, p, jobs__tx_stmt, t, NULL);
        if (r->pub.parent_id[0]) jobs_tx_settle_parent(tx, r->pub.parent_id);
    } else if (t->mode == JOBS__TX_RETRY) {
        char base[16], cap[16];
        snprintf(base, sizeof base, "%d", e->cfg.backoff_base_ms);
        snprintf(cap, sizeof cap, "%d", e->cfg.backoff_max_s);
        const char *p[4] = {r->pub.id, r->outcome.error, base, cap};
        db_tx_query(tx, jobs__retry_sql, 4, p, jobs__tx_stmt, t, NULL);
    } else if (t->mode == JOBS__TX_WAIT) {
        one[0] = r->pub.id;
        db_tx_query(tx, jobs__wait_sql, 1, one, jobs__tx_stmt, t, NULL);
        db_tx_query(tx, "SELECT pg_notify('nova_jobs', 'new')", 0, NULL, jobs__tx_stmt, t, NULL);
        /* No child at all (nothing to draw): settle at once. */
        jobs_tx_settle_parent(tx, r->pub.id);
    }
    db_tx_commit(tx, jobs__tx_committed, t);
}

static void jobs__tx_start(jobs__run_t *r, jobs__tx_mode_t mode, jobs_tx_build_fn build,
                           jobs_tx_done_fn done, void *arg)
{
    jobs__tx_t *t = calloc(1, sizeof *t);
    if (!t) {
        if (mode == JOBS__TX_PLAIN) {
            if (done) done(&r->pub, -ENOMEM, arg);
        } else {
            jobs__run_end(r);
        }
        return;
    }
    t->r = r;
    t->mode = mode;
    t->build = build;
    t->done = done;
    t->arg = arg;
    if (mode == JOBS__TX_PLAIN) r->refs++;
    if (db_tx_begin(r->pub.engine->db, jobs__tx_begun, t, NULL) != 0)
        jobs__tx_committed(DB_E_CLOSED, t);
}

void jobs_run_tx(jobs_run_t *run, jobs_tx_build_fn build, jobs_tx_done_fn done, void *arg)
{
    jobs__run_t *r = jobs__r(run);
    if (run->lost || r->ended) {
        /* Report asynchronously like a failed commit would, so callers have one path. */
        if (done) done(run, DB_E_QUERY, arg);
        return;
    }
    struct jobs__ev *ev = jobs__ev_push(r, JOBS__EV_TX);
    if (!ev) {
        if (done) done(run, -ENOMEM, arg);
        return;
    }
    ev->build = build;
    ev->done = done;
    ev->arg = arg;
    jobs__evq_pump(r);
}

void jobs_tx_checkpoint(jobs_run_t *run, db_tx_t *tx, const char *json_obj)
{
    const char *p[2] = {run->id, json_obj};
    db_tx_query(tx,
                "UPDATE jobs SET checkpoint = checkpoint || $2::jsonb, updated_at = now() "
                "WHERE id = $1",
                2, p, NULL, NULL, NULL);
}

void jobs_tx_event(db_tx_t *tx, int64_t user_id, const char *story_id, const char *job_id,
                   const char *type, const char *data_json)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    const char *p[5] = {uid, story_id && *story_id ? story_id : NULL,
                        job_id && *job_id ? job_id : NULL, type, data_json};
    db_tx_query(tx, jobs__event_sql, 5, p, NULL, NULL, NULL);
}

static const char jobs__settle_sql[] =
    "WITH k AS (SELECT count(*) FILTER (WHERE state IN ('available', 'running', 'waiting')) "
    "AS active, count(*) FILTER (WHERE state = 'succeeded') AS ok, "
    "count(*) FILTER (WHERE state = 'failed') AS bad, count(*) AS total "
    "FROM jobs WHERE parent_id = $1), "
    "u AS (UPDATE jobs p SET state = CASE WHEN k.ok = k.total THEN 'succeeded' "
    "WHEN p.cancel_requested THEN 'cancelled' WHEN k.ok > 0 THEN 'partial' ELSE 'failed' END, "
    "progress = 100, step = 'done', finished_at = now(), updated_at = now(), "
    "error = CASE WHEN k.ok = k.total THEN NULL WHEN k.ok > 0 THEN k.bad || ' of ' || k.total "
    "|| ' failed' ELSE coalesce(p.error, 'every part failed') END, "
    "result = coalesce(p.result, '{}') || jsonb_build_object('total', k.total, 'succeeded', "
    "k.ok, 'failed', k.bad) FROM k WHERE p.id = $1 AND p.state = 'waiting' AND k.active = 0 "
    "RETURNING p.id, p.user_id, p.story_id, p.kind, p.state, p.error, p.result) "
    "SELECT job_event(u.user_id, u.story_id, u.id, CASE WHEN u.state IN ('succeeded', "
    "'partial') THEN 'job.succeeded' WHEN u.state = 'cancelled' THEN 'job.cancelled' "
    "ELSE 'job.failed' END, jsonb_build_object('state', u.state, 'kind', u.kind, 'error', "
    "u.error, 'result', u.result)) FROM u";

void jobs_tx_settle_parent(db_tx_t *tx, const char *parent_id)
{
    const char *p[1] = {parent_id};
    /* The lock comes in its own statement so that the counting statement, which starts after
     * the lock was granted, sees every sibling that finished before us. */
    db_tx_query(tx, jobs__lock_sql, 1, p, NULL, NULL, NULL);
    db_tx_query(tx, jobs__settle_sql, 1, p, NULL, NULL, NULL);
}

bool jobs_run_checkpoint_bool(const jobs_run_t *run, const char *key)
{
    bool v = false;
    return run->checkpoint && json_get_bool(run->checkpoint, key, &v) && v;
}

const char *jobs_run_checkpoint_str(const jobs_run_t *run, const char *key)
{
    return run->checkpoint ? json_get_str(run->checkpoint, key) : NULL;
}

/* ---- terminal reports ---------------------------------------------------------------------- */

static const char jobs__handback_one_sql[] =
    "WITH h AS (UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), "
    "locked_by = NULL, locked_until = NULL, run_at = now(), updated_at = now() "
    "WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING id) "
    "SELECT pg_notify('nova_jobs', 'new') FROM h";

static void jobs__handback_done(db_result_t *res, void *arg)
{
    jobs__run_t *r = arg;
    (void)res;
    if (r->outcome.done) r->outcome.done(&r->pub, DB_E_QUERY, r->outcome.arg);
    jobs__run_end(r);
}

static void jobs__finish_now(jobs__run_t *r)
{
    jobs_engine_t *e = r->pub.engine;
    if (r->pub.lost) {
        if (r->outcome.done) r->outcome.done(&r->pub, DB_E_QUERY, r->outcome.arg);
        jobs__run_end(r);
        return;
    }
    if (r->outcome_wait_children) {
        if (!r->pub.stopping && !r->pub.cancel_requested) {
            jobs__tx_start(r, JOBS__TX_WAIT, r->outcome.build, NULL, r->outcome.arg);
            return;
        }
        /* Stopped or cancelled before the children were enqueued: none must be. */
        r->outcome.build = NULL;
        r->outcome.state = "failed";
        r->outcome.error = "Stopped before the parts were queued.";
        r->outcome.retryable = true;
    }
    bool success =
        strcmp(r->outcome.state, "succeeded") == 0 || strcmp(r->outcome.state, "partial") == 0;
    if (!success && r->pub.stopping && r->outcome.retryable && !r->pub.cancel_requested) {
        /* Shutdown: the job goes back as it was (the attempt is not counted); another instance
         * or the next start resumes it from its checkpoint. */
        const char *p[2] = {r->pub.id, e->worker_id};
        if (db_query(e->db, jobs__handback_one_sql, 2, p, jobs__handback_done, r, NULL) != 0)
            jobs__handback_done(NULL, r);
        return;
    }
    if (!success && r->pub.cancel_requested) {
        r->outcome.state = "cancelled";
        r->outcome.error = "Cancelled.";
        r->outcome.retryable = false;
    }
    bool retry = !success && r->outcome.retryable && r->pub.attempt < r->pub.max_attempts &&
                 strcmp(r->outcome.state, "failed") == 0;
    jobs__tx_start(r, retry ? JOBS__TX_RETRY : JOBS__TX_FINAL, r->outcome.build, NULL,
                   r->outcome.arg);
}

void jobs_run_finish(jobs_run_t *run, const jobs_outcome_t *o)
{
    jobs__run_t *r = jobs__r(run);
    if (r->ended || r->finishing) {
        log_error("jobs", "job %s reported twice (ignored)", run->id);
        return;
    }
    r->finishing = true;
    r->outcome = *o;
    r->outcome.state = arena_strdup(&run->arena, o->state ? o->state : "failed");
    r->outcome.result_json = o->result_json ? arena_strdup(&run->arena, o->result_json) : NULL;
    r->outcome.error = o->error ? arena_strdup(&run->arena, o->error) : NULL;
    if (r->evq_busy || r->evq_head) {
        r->finish_deferred = true; /* after the run's last event is stored */
        return;
    }
    jobs__finish_now(r);
}

bool jobs_run_failure_is_final(const jobs_run_t *run, bool retryable)
{
    return !retryable || run->cancel_requested || run->attempt >= run->max_attempts;
}

void jobs_run_succeed(jobs_run_t *run, const char *result_json)
{
    jobs_outcome_t o = {.state = "succeeded", .result_json = result_json};
    jobs_run_finish(run, &o);
}

void jobs_run_fail(jobs_run_t *run, const char *error, bool retryable)
{
    jobs_outcome_t o = {.state = "failed", .error = error, .retryable = retryable};
    jobs_run_finish(run, &o);
}

void jobs_run_wait_children(jobs_run_t *run, jobs_tx_build_fn build, jobs_tx_done_fn done,
                            void *arg)
{
    jobs__run_t *r = jobs__r(run);
    r->outcome_wait_children = true;
    jobs_outcome_t o = {.state = "waiting", .build = build, .done = done, .arg = arg};
    jobs_run_finish(run, &o);
}
