/* queue: the statements the API side uses on jobs: enqueue (one active job per story and kind;
 * a second request gets the running one), read one job with its children's counts, cancel a
 * job and its children, and the follow-up of jobs that ended without a worker (rescued after
 * their last attempt, cancelled while waiting): domain hooks and parent settling. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "jobs/jobs_internal.h"

#define JOBS__ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* clang-format off */
const char jobs_info_cols[] =
    "j.id, j.kind, j.state, coalesce(j.story_id::text, '') AS story_id, "
    "coalesce(j.parent_id::text, '') AS parent_id, j.step, j.error, "
    "j.result::text AS result, " JOBS__ISO("j.created_at") " AS created_at, "
    JOBS__ISO("j.updated_at") " AS updated_at, "
    JOBS__ISO("j.started_at") " AS started_at, "
    JOBS__ISO("j.finished_at") " AS finished_at, j.user_id, j.progress, j.attempt, "
    "j.max_attempts, coalesce(j.scene_number, 0) AS scene_number, j.cancel_requested, "
    "(SELECT count(*) FROM jobs c WHERE c.parent_id = j.id) AS children_total, "
    "(SELECT count(*) FROM jobs c WHERE c.parent_id = j.id AND c.state = 'succeeded') AS children_succeeded, "
    "(SELECT count(*) FROM jobs c WHERE c.parent_id = j.id AND c.state = 'failed') AS children_failed";
/* clang-format on */

static const char *jobs__col(const db_result_t *res, int row, const char *name, arena_t *a)
{
    const char *v = db_result_get_by_name(res, row, name);
    return v ? arena_strdup(a, v) : NULL;
}

static int jobs__col_int(const db_result_t *res, int row, const char *name)
{
    return db_result_int(res, row, name, 0);
}

void jobs_info_from_row(const db_result_t *res, int row, arena_t *a, jobs_info_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = jobs__col(res, row, "id", a);
    o->kind = jobs__col(res, row, "kind", a);
    o->state = jobs__col(res, row, "state", a);
    o->story_id = jobs__col(res, row, "story_id", a);
    o->parent_id = jobs__col(res, row, "parent_id", a);
    o->step = jobs__col(res, row, "step", a);
    o->error = jobs__col(res, row, "error", a);
    o->result_json = jobs__col(res, row, "result", a);
    o->created_at = jobs__col(res, row, "created_at", a);
    o->updated_at = jobs__col(res, row, "updated_at", a);
    o->started_at = jobs__col(res, row, "started_at", a);
    o->finished_at = jobs__col(res, row, "finished_at", a);
    const char *uid = db_result_get_by_name(res, row, "user_id");
    o->user_id = uid ? strtoll(uid, NULL, 10) : 0;
    o->progress = jobs__col_int(res, row, "progress");
    o->attempt = jobs__col_int(res, row, "attempt");
    o->max_attempts = jobs__col_int(res, row, "max_attempts");
    o->scene_number = jobs__col_int(res, row, "scene_number");
    const char *cr = db_result_get_by_name(res, row, "cancel_requested");
    o->cancel_requested = cr && cr[0] == 't';
    o->children_total = jobs__col_int(res, row, "children_total");
    o->children_succeeded = jobs__col_int(res, row, "children_succeeded");
    o->children_failed = jobs__col_int(res, row, "children_failed");
    const char *c = db_result_get_by_name(res, row, "created");
    o->created = c && c[0] == 't';
}

/* ---- enqueue -------------------------------------------------------------------------------- */

/* The insert and its job.queued event commit together. When an active job of the kind exists
 * the insert does nothing and the second branch returns that job. (If the other job committed
 * after this statement's snapshot, neither branch sees a row: the caller runs it again.) */
static char jobs__enqueue_sql[4096];

static const char *jobs__enqueue_query(void)
{
    if (!jobs__enqueue_sql[0])
        snprintf(jobs__enqueue_sql, sizeof jobs__enqueue_sql,
                 "WITH ins AS (INSERT INTO jobs (kind, story_id, user_id, payload, max_attempts) "
                 "VALUES ($1, $2::uuid, $3::bigint, coalesce($4::jsonb, '{}'), $5::int) "
                 "ON CONFLICT (story_id, kind) WHERE parent_id IS NULL AND state IN "
                 "('available', 'running', 'waiting') DO NOTHING RETURNING *), "
                 "ev AS (SELECT job_event(ins.user_id, ins.story_id, ins.id, 'job.queued', "
                 "jsonb_build_object('kind', ins.kind, 'state', 'available')) AS eid FROM ins) "
                 "SELECT %s, true AS created FROM ins j, ev "
                 "UNION ALL SELECT %s, false AS created FROM jobs j WHERE j.story_id = $2::uuid "
                 "AND j.kind = $1 AND j.parent_id IS NULL AND j.state IN ('available', "
                 "'running', 'waiting') AND NOT EXISTS (SELECT 1 FROM ins)",
                 jobs_info_cols, jobs_info_cols);
    return jobs__enqueue_sql;
}

typedef struct {
    jobs_engine_t *e;
    arena_t *arena;
    jobs_info_cb cb;
    void *arg;
    int tries;
    char *params[5];
} jobs__enq_t;

static void jobs__enq_free(jobs__enq_t *q)
{
    for (int i = 0; i < 5; i++)
        free(q->params[i]);
    free(q);
}

static void jobs__enq_done(db_result_t *res, void *arg);

static int jobs__enq_send(jobs__enq_t *q)
{
    return db_query(q->e->db, jobs__enqueue_query(), 5, (const char *const *)q->params,
                    jobs__enq_done, q, NULL);
}

static void jobs__enq_done(db_result_t *res, void *arg)
{
    jobs__enq_t *q = arg;
    int st = db_result_status(res);
    if (st != DB_OK) {
        if (st == DB_E_QUERY)
            log_error("jobs", "enqueue failed: %s %s", db_result_sqlstate(res),
                      db_result_error(res));
        q->cb(st, NULL, q->arg);
        jobs__enq_free(q);
        return;
    }
    if (db_result_nrows(res) == 0) {
        if (q->tries++ < 3 && jobs__enq_send(q) == 0) return;
        q->cb(DB_E_BUSY, NULL, q->arg);
        jobs__enq_free(q);
        return;
    }
    jobs_info_t info;
    jobs_info_from_row(res, 0, q->arena, &info);
    if (info.created) {
        /* Wake idle workers on every instance, and this one at once. */
        db_notify(q->e->db, "nova_jobs", "new", NULL, NULL);
        jobs__claim(q->e);
    }
    q->cb(DB_OK, &info, q->arg);
    jobs__enq_free(q);
}

int jobs_enqueue(jobs_engine_t *e, const jobs_enqueue_t *req, arena_t *arena, jobs_info_cb cb,
                 void *arg)
{
    if (!e || !req || !req->kind || !req->story_id || req->user_id <= 0 || !cb) return -EINVAL;
    jobs__enq_t *q = calloc(1, sizeof *q);
    if (!q) return -ENOMEM;
    q->e = e;
    q->arena = arena;
    q->cb = cb;
    q->arg = arg;
    char uid[24], ma[16];
    snprintf(uid, sizeof uid, "%lld", (long long)req->user_id);
    snprintf(ma, sizeof ma, "%d", req->max_attempts > 0 ? req->max_attempts : e->cfg.max_attempts);
    q->params[0] = strdup(req->kind);
    q->params[1] = strdup(req->story_id);
    q->params[2] = strdup(uid);
    q->params[3] = req->payload_json ? strdup(req->payload_json) : NULL;
    q->params[4] = strdup(ma);
    if (!q->params[0] || !q->params[1] || !q->params[2] || !q->params[4] ||
        (req->payload_json && !q->params[3])) {
        jobs__enq_free(q);
        return -ENOMEM;
    }
    int rc = jobs__enq_send(q);
    if (rc != 0) jobs__enq_free(q);
    return rc;
}

/* ---- read ----------------------------------------------------------------------------------- */

typedef struct {
    arena_t *arena;
    jobs_info_cb cb;
    void *arg;
} jobs__get_t;

static void jobs__get_done(db_result_t *res, void *arg)
{
    jobs__get_t *g = arg;
    int st = db_result_status(res);
    if (st != DB_OK) {
        g->cb(st, NULL, g->arg);
    } else if (db_result_nrows(res) == 0) {
        g->cb(DB_OK, NULL, g->arg);
    } else {
        jobs_info_t info;
        jobs_info_from_row(res, 0, g->arena, &info);
        g->cb(DB_OK, &info, g->arg);
    }
    free(g);
}

int jobs_get(jobs_engine_t *e, const char *job_id, int64_t user_id, arena_t *arena, jobs_info_cb cb,
             void *arg, db_query_t **handle)
{
    static char sql[2048];
    if (!sql[0])
        snprintf(sql, sizeof sql,
                 "SELECT %s FROM jobs j WHERE j.id = $1::uuid AND ($2::bigint = 0 OR "
                 "j.user_id = $2::bigint)",
                 jobs_info_cols);
    jobs__get_t *g = malloc(sizeof *g);
    if (!g) return -ENOMEM;
    g->arena = arena;
    g->cb = cb;
    g->arg = arg;
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    const char *params[2] = {job_id, uid};
    int rc = db_query(e->db, sql, 2, params, jobs__get_done, g, handle);
    if (rc != 0) free(g);
    return rc;
}

/* ---- jobs that ended without a worker ------------------------------------------------------ */

static void jobs__settle_begun(db_tx_t *tx, int status, void *arg)
{
    char *parent = arg;
    if (status == DB_OK) {
        jobs_tx_settle_parent(tx, parent);
        db_tx_commit(tx, NULL, NULL);
    }
    free(parent);
}

void jobs__settle_parent_async(jobs_engine_t *e, const char *parent_id)
{
    char *p = strdup(parent_id);
    if (!p) return;
    if (db_tx_begin(e->db, jobs__settle_begun, p, NULL) != 0) free(p);
}

/* Rows (id, kind, state, story_id, user_id, parent_id, scene_number, error) of jobs that just
 * became failed or cancelled without a worker reporting: their terminal events were stored by
 * the same statement; here the handler's dead() hook fixes domain rows and parents settle. */
void jobs__dead_rows(jobs_engine_t *e, const db_result_t *res)
{
    for (int i = 0; i < db_result_nrows(res); i++) {
        const char *state = db_result_get_by_name(res, i, "state");
        if (!state || strcmp(state, "available") == 0 || strcmp(state, "running") == 0 ||
            strcmp(state, "waiting") == 0)
            continue;
        jobs_dead_t d = {
            .id = db_result_get_by_name(res, i, "id"),
            .kind = db_result_get_by_name(res, i, "kind"),
            .story_id = db_result_get_by_name(res, i, "story_id"),
            .parent_id = db_result_get_by_name(res, i, "parent_id"),
            .user_id = strtoll(db_result_get_by_name(res, i, "user_id"), NULL, 10),
            .scene_number = db_result_int(res, i, "scene_number", 0),
            .state = state,
            .error = db_result_get_by_name(res, i, "error"),
        };
        const jobs_handler_t *h = jobs__handler(e, d.kind);
        if (h && h->dead) h->dead(e, &d, h->ctx);
        if (d.parent_id && d.parent_id[0]) jobs__settle_parent_async(e, d.parent_id);
    }
}

/* ---- cancel --------------------------------------------------------------------------------- */

typedef struct {
    jobs_engine_t *e;
    arena_t *arena;
    jobs_info_cb cb;
    void *arg;
    char id[JOBS_UUID_LEN + 1];
    char uid[24];
    bool superuser;
    bool found;
    db_result_t *rows; /* the cancelled/flagged rows (taken) */
    int status;
} jobs__cancel_t;

static const char jobs__cancel_own_sql[] =
    "SELECT id, coalesce(parent_id::text, '') AS parent_id FROM jobs WHERE id = $1::uuid AND "
    "(user_id = $2::bigint OR $3::bool) FOR UPDATE";
static const char jobs__cancel_children_sql[] =
    "SELECT id FROM jobs WHERE parent_id = $1::uuid ORDER BY id FOR UPDATE";
static const char jobs__cancel_sql[] =
    "WITH t AS (UPDATE jobs SET state = CASE WHEN state = 'available' THEN 'cancelled' ELSE state "
    "END, cancel_requested = true, error = CASE WHEN state = 'available' THEN 'Cancelled.' ELSE "
    "error END, finished_at = CASE WHEN state = 'available' THEN now() ELSE finished_at END, "
    "updated_at = now() WHERE (id = $1::uuid OR parent_id = $1::uuid) AND state IN "
    "('available', 'running', 'waiting') AND EXISTS (SELECT 1 FROM jobs o WHERE o.id = $1::uuid "
    "AND (o.user_id = $2::bigint OR $3::bool)) "
    "RETURNING id, kind, state, story_id, user_id, parent_id, "
    "scene_number, error), "
    "ev AS (SELECT t.id, CASE WHEN t.state = 'cancelled' THEN job_event(t.user_id, t.story_id, "
    "t.id, 'job.cancelled', jsonb_build_object('state', 'cancelled', 'kind', t.kind, 'error', "
    "t.error, 'result', NULL)) END AS eid FROM t) "
    "SELECT t.id, t.kind, t.state, coalesce(t.story_id::text, '') AS story_id, t.user_id, "
    "coalesce(t.parent_id::text, '') AS parent_id, coalesce(t.scene_number, 0) AS scene_number, "
    "t.error FROM t JOIN ev ON ev.id = t.id";

static void jobs__cancel_get_done(int status, const jobs_info_t *info, void *arg)
{
    jobs__cancel_t *c = arg;
    c->cb(status, info, c->arg);
    free(c);
}

static void jobs__cancel_committed(int status, void *arg)
{
    jobs__cancel_t *c = arg;
    if (status == DB_OK && c->status != DB_OK) status = c->status;
    if (status != DB_OK || !c->found) {
        if (c->rows) db_result_free(c->rows);
        c->cb(status, NULL, c->arg);
        free(c);
        return;
    }
    if (c->rows) {
        for (int i = 0; i < db_result_nrows(c->rows); i++) {
            const char *state = db_result_get_by_name(c->rows, i, "state");
            if (strcmp(state, "running") == 0) {
                char payload[64];
                snprintf(payload, sizeof payload, "cancel %s",
                         db_result_get_by_name(c->rows, i, "id"));
                db_notify(c->e->db, "nova_jobs", payload, NULL, NULL);
            }
        }
        jobs__dead_rows(c->e, c->rows);
        db_result_free(c->rows);
        c->rows = NULL;
    }
    if (jobs_get(c->e, c->id, 0, c->arena, jobs__cancel_get_done, c, NULL) != 0) {
        c->cb(DB_E_CLOSED, NULL, c->arg);
        free(c);
    }
}

static void jobs__cancel_rows(db_result_t *res, void *arg)
{
    jobs__cancel_t *c = arg;
    if (db_result_status(res) != DB_OK) {
        if (c->status == DB_OK) c->status = db_result_status(res);
        return;
    }
    db_result_take(res);
    c->rows = res;
}

static void jobs__cancel_owned(db_result_t *res, void *arg)
{
    jobs__cancel_t *c = arg;
    if (db_result_status(res) != DB_OK) {
        if (c->status == DB_OK) c->status = db_result_status(res);
        return;
    }
    c->found = db_result_nrows(res) == 1;
}

static void jobs__cancel_begun(db_tx_t *tx, int status, void *arg)
{
    jobs__cancel_t *c = arg;
    if (status != DB_OK) {
        c->cb(status, NULL, c->arg);
        free(c);
        return;
    }
    const char *p3[3] = {c->id, c->uid, c->superuser ? "true" : "false"};
    const char *p1[1] = {c->id};
    /* Locks: the job (a parent) first, then its children in id order, as everywhere else. The
     * update repeats the ownership condition, so a foreign id changes nothing. */
    db_tx_query(tx, jobs__cancel_own_sql, 3, p3, jobs__cancel_owned, c, NULL);
    db_tx_query(tx, jobs__cancel_children_sql, 1, p1, NULL, NULL, NULL);
    db_tx_query(tx, jobs__cancel_sql, 3, p3, jobs__cancel_rows, c, NULL);
    /* A waiting parent whose children were all still queued has nothing left to wait for. */
    jobs_tx_settle_parent(tx, c->id);
    db_tx_commit(tx, jobs__cancel_committed, c);
}

int jobs_cancel(jobs_engine_t *e, const char *job_id, int64_t user_id, bool is_superuser,
                arena_t *arena, jobs_info_cb cb, void *arg)
{
    jobs__cancel_t *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->e = e;
    c->arena = arena;
    c->cb = cb;
    c->arg = arg;
    c->superuser = is_superuser;
    jobs__copy(c->id, sizeof c->id, job_id);
    snprintf(c->uid, sizeof c->uid, "%lld", (long long)user_id);
    int rc = db_tx_begin(e->db, jobs__cancel_begun, c, NULL);
    if (rc != 0) free(c);
    return rc;
}
