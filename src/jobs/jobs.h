/* jobs: the durable job engine of one process, and the event hub that feeds server-sent events.
 *
 * Jobs live in PostgreSQL (sql/0003_jobs.sql). A worker slot claims an available job with
 * FOR UPDATE SKIP LOCKED in one short statement, holds it with a lease that one heartbeat
 * statement per process renews for every running job, and finishes it only while it still holds
 * it (jobs_hold raises otherwise and the finishing transaction rolls back). Any instance rescues
 * jobs whose lease expired (crashed or partitioned workers): back to available with capped,
 * jittered exponential backoff, or failed after the last attempt. NOTIFY nova_jobs wakes idle
 * workers on every instance; polling is the fallback. Fairness: claims order candidates by how
 * many jobs their user already runs plus their rank among that user's available jobs, and
 * NOVA_MAX_JOBS_PER_USER (when > 0) caps the running ones.
 *
 * Delivery is at least once, so every handler step must be idempotent: steps save a checkpoint
 * in the same transaction as their results, media files are written under names that a retry
 * reuses, and domain rows are upserted.
 *
 * Events (job.progress, story.delta, scene.ready, ...) are rows of job_events whose id is the SSE
 * id; job_event() stores one and NOTIFYs "<id> <user>" at commit. Each process's hub LISTENs,
 * loads the announced rows for users that have local subscribers (SSE streams, parked requests)
 * in one batched query, and hands them to those subscribers.
 *
 * Everything runs on the loop thread. The engine owns its runs, timers and subscriptions list;
 * subscribers own their jobs_sub_t (embedded in their own struct). */
#ifndef NOVA_JOBS_JOBS_H
#define NOVA_JOBS_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <yajl/yajl_tree.h>

#include "core/arena.h"
#include "core/buf.h"
#include "db/db.h"

#define JOBS_UUID_LEN 36

typedef struct jobs_engine jobs_engine_t;
typedef struct jobs_run jobs_run_t;

typedef struct {
    int workers;           /* concurrent jobs in this process (NOVA_WORKERS), 0 = claim none */
    int lease_s;           /* lease length; heartbeats every lease/3 */
    int max_attempts;      /* default for new jobs */
    int max_jobs_per_user; /* running jobs of one user across instances; 0 = no cap */
    int poll_ms;           /* fallback poll interval when no NOTIFY arrives */
    int backoff_base_ms;   /* first retry delay; doubles per attempt, +/-25% jitter */
    int backoff_max_s;     /* cap of the retry delay */
    int events_retention_h;
    int sse_heartbeat_s;
    int stop_grace_ms; /* how long running jobs may take to checkpoint at shutdown */
} jobs_config_t;

void jobs_config_defaults(jobs_config_t *c);

/* Creates the engine (no I/O yet). db must outlive it. Returns 0, -EINVAL or -ENOMEM. */
int jobs_engine_new(uv_loop_t *loop, db_pool_t *db, const jobs_config_t *cfg, jobs_engine_t **out);
/* Starts listening, the timers and the claim loop. */
int jobs_engine_start(jobs_engine_t *e);
/* Shutdown, step 1 (on SIGTERM, before HTTP drains): stop claiming, end every subscription
 * (SSE streams get "retry" and end; parked requests answer now), and ask running jobs to stop
 * at their next checkpoint. */
void jobs_engine_shutdown(jobs_engine_t *e);
/* Step 2 (after HTTP drained, before the database pool closes): waits up to stop_grace_ms for
 * running jobs, hands the rest back (available again, the attempt not counted), then frees the
 * engine and calls done(arg). */
void jobs_engine_close(jobs_engine_t *e, void (*done)(void *arg), void *arg);

uv_loop_t *jobs_engine_loop(jobs_engine_t *e);
db_pool_t *jobs_engine_db(jobs_engine_t *e);
const char *jobs_engine_worker_id(const jobs_engine_t *e);
const jobs_config_t *jobs_engine_config(const jobs_engine_t *e);
/* Prometheus lines (nova_jobs_*, nova_sse_*). */
void jobs_engine_metrics_write(jobs_engine_t *e, buf_t *out);

/* ---- handlers ---------------------------------------------------------------------------- */

/* A job that can no longer run (lease expired after its last attempt, or cancelled before a
 * worker got it), for the handler's dead() hook: fix up domain rows (story status, scene). */
typedef struct {
    const char *id, *kind, *story_id, *parent_id; /* story_id/parent_id "" when NULL */
    int64_t user_id;
    int scene_number;
    const char *state; /* "failed" or "cancelled" */
    const char *error;
} jobs_dead_t;

typedef struct {
    const char *kind;
    /* Begin the work; later call jobs_run_* to report. Called on the loop thread. */
    void (*start)(jobs_run_t *run);
    /* Optional: stop in-flight provider calls as soon as possible (cancellation, lost lease,
     * shutdown). The handler must still report (any outcome; the engine decides). */
    void (*cancel)(jobs_run_t *run);
    /* Optional: see jobs_dead_t. */
    void (*dead)(jobs_engine_t *e, const jobs_dead_t *d, void *ctx);
    void *ctx; /* handed to the handler through run->ctx */
} jobs_handler_t;

/* Registers a handler (copied). Returns 0, -EEXIST or -ENOMEM. */
int jobs_register(jobs_engine_t *e, const jobs_handler_t *h);

struct jobs_run {
    jobs_engine_t *engine;
    arena_t arena; /* freed when the run ends */
    void *ctx;     /* jobs_handler_t.ctx */
    void *data;    /* the handler's state */
    char id[JOBS_UUID_LEN + 1];
    char story_id[JOBS_UUID_LEN + 1];  /* "" when NULL */
    char parent_id[JOBS_UUID_LEN + 1]; /* "" when NULL */
    const char *kind;
    int64_t user_id;
    int scene_number;
    int attempt; /* 1 for the first */
    int max_attempts;
    yajl_val payload;      /* object; lives in arena */
    yajl_val checkpoint;   /* object; lives in arena */
    bool cancel_requested; /* the user cancelled: finish as cancelled */
    bool stopping;         /* shutdown: report soon; the job is handed back */
    bool lost;             /* the lease was lost: nothing the run reports is kept */
};

/* Progress (0..100) and the step name: updates the row and emits job.progress. Cheap to call
 * often: at most one statement is in flight per run, later values replace queued ones. */
void jobs_run_progress(jobs_run_t *run, int percent, const char *step);

/* Emits an event of this run (outside any transaction). data_json is a JSON object or NULL. */
void jobs_run_event(jobs_run_t *run, const char *type, const char *data_json);
/* story.delta {text, offset}: text as the model writes it, offset = bytes written before it.
 * Deltas queued behind a statement in flight are merged into one event. */
void jobs_run_delta(jobs_run_t *run, const char *text, size_t len, size_t offset);

/* A transaction that holds the job (jobs_hold first): build() queues the domain statements
 * (db_tx_query, jobs_tx_event, jobs_tx_checkpoint) and done() runs after the commit with DB_OK,
 * or with an error status (then nothing was written; NJ001 means the job is no longer ours).
 * The transaction waits for the run's earlier events and progress to be stored, and later ones
 * wait for it, so events emitted inside it keep their place in the stream. */
typedef void (*jobs_tx_build_fn)(jobs_run_t *run, db_tx_t *tx, void *arg);
typedef void (*jobs_tx_done_fn)(jobs_run_t *run, int status, void *arg);
void jobs_run_tx(jobs_run_t *run, jobs_tx_build_fn build, jobs_tx_done_fn done, void *arg);

/* Inside jobs_run_tx's build: merge members into the checkpoint (JSON object text). */
void jobs_tx_checkpoint(jobs_run_t *run, db_tx_t *tx, const char *json_obj);
/* Inside any transaction: store and announce an event. story_id/job_id may be NULL or "". */
void jobs_tx_event(db_tx_t *tx, int64_t user_id, const char *story_id, const char *job_id,
                   const char *type, const char *data_json);

/* Checkpoint lookup helpers (on run->checkpoint). */
bool jobs_run_checkpoint_bool(const jobs_run_t *run, const char *key);
const char *jobs_run_checkpoint_str(const jobs_run_t *run, const char *key);

/* Terminal reports. Each ends the run (the struct is freed afterwards). The final update, the
 * terminal event (job.succeeded / job.failed / job.cancelled, with state and error) and the
 * optional build() statements commit together, only while the job is still held.
 *  - succeed: state "succeeded" (or "partial" through jobs_run_finish), progress 100.
 *  - fail: retryable failures go back to available with backoff while attempts remain (the
 *    error is kept on the row for the user); otherwise the job fails. The handler's dead()
 *    is NOT called for failures it reports itself: build() does the domain update.
 *  - wait_children: a parent whose children were enqueued in build(); the last child to end
 *    completes it (see jobs_children_settle). */
typedef struct {
    const char *state;       /* "succeeded", "partial", "failed", "cancelled" */
    const char *result_json; /* object or NULL */
    const char *error;       /* NULL unless failed */
    bool retryable;
    jobs_tx_build_fn build; /* optional domain statements in the same transaction */
    jobs_tx_done_fn done;   /* optional: after the commit (status DB_OK) or its failure; the
                               run is still valid during the call (e.g. remove replaced files) */
    void *arg;
} jobs_outcome_t;
/* For a failure report's build(): true when this failure ends the job (no retry follows):
 * not retryable, last attempt, or cancelled. */
bool jobs_run_failure_is_final(const jobs_run_t *run, bool retryable);
void jobs_run_finish(jobs_run_t *run, const jobs_outcome_t *o);
void jobs_run_succeed(jobs_run_t *run, const char *result_json);
void jobs_run_fail(jobs_run_t *run, const char *error, bool retryable);
void jobs_run_wait_children(jobs_run_t *run, jobs_tx_build_fn build, jobs_tx_done_fn done,
                            void *arg);

/* Inside a child's finishing transaction (build of jobs_run_finish): when every child of the
 * parent has ended, completes the parent: succeeded (all children succeeded), partial (some),
 * failed (none) or cancelled (cancel requested), with its terminal event. The parent row is
 * locked first, so siblings ending together settle it exactly once. */
void jobs_tx_settle_parent(db_tx_t *tx, const char *parent_id);

/* ---- enqueueing ------------------------------------------------------------------------- */

typedef struct {
    const char *kind;
    const char *story_id; /* required for the generation kinds */
    int64_t user_id;
    const char *payload_json; /* object or NULL */
    int max_attempts;         /* 0 = the engine default */
} jobs_enqueue_t;

/* The job row as the API shows it; strings live in the arena given to the call. */
typedef struct {
    const char *id, *kind, *state, *story_id, *parent_id, *step, *error, *result_json;
    const char *created_at, *updated_at, *started_at, *finished_at; /* ISO 8601 UTC or NULL */
    int64_t user_id;
    int progress, attempt, max_attempts, scene_number;
    bool created; /* this call inserted it (false: an active job of that kind existed) */
    bool cancel_requested;
    int children_total, children_succeeded, children_failed; /* parents only */
} jobs_info_t;

/* Inserts the job unless an active one of the same kind exists for the story, in which case
 * that one is returned (created == false). Emits job.queued for a new job and NOTIFYs workers.
 * cb gets status DB_OK and the info, or an error status and NULL. */
typedef void (*jobs_info_cb)(int status, const jobs_info_t *info, void *arg);
int jobs_enqueue(jobs_engine_t *e, const jobs_enqueue_t *req, arena_t *arena, jobs_info_cb cb,
                 void *arg);

/* Reads a job (with child counts). user_id > 0 restricts to that user's jobs; 0 = any.
 * status DB_OK with info == NULL means not found. */
int jobs_get(jobs_engine_t *e, const char *job_id, int64_t user_id, arena_t *arena, jobs_info_cb cb,
             void *arg, db_query_t **handle);

/* SQL select list and row reader for job rows aliased j (for list endpoints). */
extern const char jobs_info_cols[];
void jobs_info_from_row(const db_result_t *res, int row, arena_t *arena, jobs_info_t *out);

/* Cancels a job of the user and its children: available ones end at once (dead() hooks run),
 * running ones are asked to stop (their worker reports cancelled), waiting parents settle when
 * their children end. cb gets DB_OK with the refreshed info, or NULL when not found. */
int jobs_cancel(jobs_engine_t *e, const char *job_id, int64_t user_id, bool is_superuser,
                arena_t *arena, jobs_info_cb cb, void *arg);

/* Wakes this process's claim loop (after enqueueing from elsewhere). */
void jobs_wake(jobs_engine_t *e);

/* ---- events and subscriptions --------------------------------------------------------------- */

typedef struct {
    int64_t id, user_id;
    const char *story_id, *job_id; /* "" when NULL */
    const char *type;
    const char *data; /* JSON object text */
    size_t data_len;
} jobs_event_t;

typedef struct jobs_sub jobs_sub_t;
typedef struct {
    void (*event)(jobs_sub_t *s, const jobs_event_t *ev);
    /* Events may have been missed (the LISTEN connection was re-established): re-read. */
    void (*reset)(jobs_sub_t *s);
    /* Optional: called every heartbeat period (SSE comments). */
    void (*tick)(jobs_sub_t *s);
    /* The engine is shutting down: end now (unsubscribe inside is allowed). */
    void (*shutdown)(jobs_sub_t *s);
} jobs_sub_ops_t;

struct jobs_sub {
    const jobs_sub_ops_t *ops;
    int64_t user_id;
    char story_id[JOBS_UUID_LEN + 1]; /* "" = every story of the user */
    jobs_sub_t *next, *prev;          /* owned by the hub */
    bool subscribed;
};

/* Subscriptions never fail; unsubscribe is idempotent. Callbacks may unsubscribe s itself. */
void jobs_subscribe(jobs_engine_t *e, jobs_sub_t *s);
void jobs_unsubscribe(jobs_engine_t *e, jobs_sub_t *s);
size_t jobs_subscribers(const jobs_engine_t *e);

/* Stores and announces an event outside any job (cb may be NULL). */
int jobs_event_emit(jobs_engine_t *e, int64_t user_id, const char *story_id, const char *job_id,
                    const char *type, const char *data_json, db_query_cb cb, void *arg);

/* Reads stored events after after_id (replay), oldest first, at most limit rows. Columns: id,
 * user_id, story_id, job_id, type, data, min_id (the oldest id still stored, for "reset"). */
int jobs_events_since(jobs_engine_t *e, int64_t user_id, const char *story_id, int64_t after_id,
                      int limit, db_query_cb cb, void *arg, db_query_t **handle);

/* ---- parked requests ----------------------------------------------------------------------- */

typedef struct jobs_wait jobs_wait_t;
/* done: the job reached a final state ("succeeded", "partial", "failed", "cancelled"), or NULL
 * when the time ran out (or the engine is shutting down). */
typedef void (*jobs_wait_cb)(const char *final_state, void *arg);
/* Waits, without blocking the loop, until job_id ends or timeout_ms passes. Returns 0 (cb will
 * run exactly once unless jobs_wait_cancel is called first) or -ENOMEM / -ESHUTDOWN. */
int jobs_wait(jobs_engine_t *e, const char *job_id, int64_t user_id, uint64_t timeout_ms,
              jobs_wait_cb cb, void *arg, jobs_wait_t **out);
void jobs_wait_cancel(jobs_wait_t *w);

#endif
