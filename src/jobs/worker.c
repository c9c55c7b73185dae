/* worker: the engine of one process: its timers (poll, heartbeat, rescue, prune, SSE tick),
 * the claim loop that fills NOVA_WORKERS slots, the heartbeat that renews every lease in one
 * statement (and learns about cancellations and lost leases), the rescuer of expired leases,
 * and the two-step shutdown. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "jobs/jobs_internal.h"

void jobs_config_defaults(jobs_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->workers = 8;
    c->lease_s = 30;
    c->max_attempts = 5;
    c->max_jobs_per_user = 0;
    c->poll_ms = 2000;
    c->backoff_base_ms = 1000;
    c->backoff_max_s = 300;
    c->events_retention_h = 24;
    c->sse_heartbeat_s = 15;
    c->stop_grace_ms = 5000;
}

int jobs_engine_new(uv_loop_t *loop, db_pool_t *db, const jobs_config_t *cfg, jobs_engine_t **out)
{
    *out = NULL;
    if (!loop || !db || !cfg || cfg->lease_s < 2 || cfg->workers < 0 || cfg->poll_ms < 10 ||
        cfg->max_attempts < 1 || cfg->sse_heartbeat_s < 1)
        return -EINVAL;
    jobs_engine_t *e = calloc(1, sizeof *e);
    if (!e) return -ENOMEM;
    e->loop = loop;
    e->db = db;
    e->cfg = *cfg;
    e->runs.next = e->runs.prev = &e->runs;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    uint8_t rnd[4] = {0};
    crypto_random(rnd, sizeof rnd);
    char hex[9];
    crypto_hex_encode(rnd, sizeof rnd, hex, sizeof hex);
    snprintf(e->worker_id, sizeof e->worker_id, "%.60s:%d:%s", host, (int)getpid(), hex);
    *out = e;
    return 0;
}

uv_loop_t *jobs_engine_loop(jobs_engine_t *e)
{
    return e->loop;
}

db_pool_t *jobs_engine_db(jobs_engine_t *e)
{
    return e->db;
}

const char *jobs_engine_worker_id(const jobs_engine_t *e)
{
    return e->worker_id;
}

const jobs_config_t *jobs_engine_config(const jobs_engine_t *e)
{
    return &e->cfg;
}

int jobs_register(jobs_engine_t *e, const jobs_handler_t *h)
{
    if (!h || !h->kind || !h->start) return -EINVAL;
    if (jobs__handler(e, h->kind)) return -EEXIST;
    if (e->nhandlers == JOBS__MAX_HANDLERS) return -ENOMEM;
    e->handlers[e->nhandlers++] = *h;
    /* The claim query only takes kinds this process can run. */
    size_t n = 0;
    n += (size_t)snprintf(e->kinds_param + n, sizeof e->kinds_param - n, "{");
    for (size_t i = 0; i < e->nhandlers && n < sizeof e->kinds_param; i++)
        n += (size_t)snprintf(e->kinds_param + n, sizeof e->kinds_param - n, "%s%s", i ? "," : "",
                              e->handlers[i].kind);
    if (n < sizeof e->kinds_param) snprintf(e->kinds_param + n, sizeof e->kinds_param - n, "}");
    return 0;
}

const jobs_handler_t *jobs__handler(jobs_engine_t *e, const char *kind)
{
    for (size_t i = 0; i < e->nhandlers; i++)
        if (strcmp(e->handlers[i].kind, kind) == 0) return &e->handlers[i];
    return NULL;
}

const char *jobs__param_int(arena_t *a, int64_t v)
{
    return arena_printf(a, "%" PRId64, v);
}

/* ---- claiming ------------------------------------------------------------------------------ */

/* Fair claim: candidates are ranked by (jobs their user already runs + their rank among that
 * user's available jobs), so a user with one job goes before the 2nd..50th job of a user with
 * fifty; with a per-user cap, candidates past it are not taken. Window functions cannot carry
 * FOR UPDATE, so the ranking is a CTE and the locking select joins it. */
static const char jobs__claim_sql[] =
    "WITH busy AS (SELECT user_id, count(*)::int AS n FROM jobs WHERE state = 'running' "
    "GROUP BY user_id), "
    "cand AS (SELECT j.id, j.run_at, coalesce(b.n, 0) + row_number() OVER "
    "(PARTITION BY j.user_id ORDER BY j.run_at, j.id) AS r FROM jobs j "
    "LEFT JOIN busy b ON b.user_id = j.user_id "
    "WHERE j.state = 'available' AND j.run_at <= now() AND j.kind = ANY($5::text[])), "
    "c AS (SELECT j.id FROM jobs j JOIN cand ON cand.id = j.id WHERE j.state = 'available' "
    "AND ($3::int = 0 OR cand.r <= $3::int) ORDER BY cand.r, cand.run_at, j.id LIMIT $2::int "
    "FOR UPDATE OF j SKIP LOCKED) "
    "UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, locked_by = $1, "
    "locked_until = now() + make_interval(secs => $4::int), "
    "started_at = coalesce(j.started_at, now()), updated_at = now() FROM c WHERE j.id = c.id "
    "RETURNING j.id, j.kind, coalesce(j.story_id::text, '') AS story_id, j.user_id, "
    "coalesce(j.parent_id::text, '') AS parent_id, coalesce(j.scene_number, 0) AS scene_number, "
    "j.attempt, j.max_attempts, j.payload::text AS payload, j.checkpoint::text AS checkpoint, "
    "j.cancel_requested";

static const char jobs__handback_sql[] =
    "WITH h AS (UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), "
    "locked_by = NULL, locked_until = NULL, run_at = now(), updated_at = now() "
    "WHERE id = ANY($1::uuid[]) AND locked_by = $2 AND state = 'running' RETURNING id) "
    "SELECT pg_notify('nova_jobs', 'new') FROM (SELECT count(*) FROM h) c";

static void jobs__close_maybe(jobs_engine_t *e);

static void jobs__run_start(jobs_engine_t *e, const db_result_t *res, int row)
{
    const char *kind = db_result_get_by_name(res, row, "kind");
    const jobs_handler_t *h = kind ? jobs__handler(e, kind) : NULL;
    jobs__run_t *r = calloc(1, sizeof *r);
    if (!h || !r) {
        free(r);
        log_error("jobs", "cannot start job %s (kind %s)", db_result_get_by_name(res, row, "id"),
                  kind ? kind : "?");
        return; /* the lease expires and the rescuer retries it */
    }
    jobs_run_t *p = &r->pub;
    arena_init(&p->arena);
    p->engine = e;
    p->ctx = h->ctx;
    r->h = h;
    p->kind = h->kind;
    jobs__copy(p->id, sizeof p->id, db_result_get_by_name(res, row, "id"));
    jobs__copy(p->story_id, sizeof p->story_id, db_result_get_by_name(res, row, "story_id"));
    jobs__copy(p->parent_id, sizeof p->parent_id, db_result_get_by_name(res, row, "parent_id"));
    p->user_id = strtoll(db_result_get_by_name(res, row, "user_id"), NULL, 10);
    p->scene_number = db_result_int(res, row, "scene_number", 0);
    p->attempt = db_result_int(res, row, "attempt", 0);
    p->max_attempts = db_result_int(res, row, "max_attempts", 0);
    const char *cr = db_result_get_by_name(res, row, "cancel_requested");
    p->cancel_requested = cr && cr[0] == 't';
    char err[128];
    const char *pl = db_result_get_by_name(res, row, "payload");
    const char *ck = db_result_get_by_name(res, row, "checkpoint");
    p->payload = json_parse(&p->arena, pl ? pl : "{}", pl ? strlen(pl) : 2, 64, err, sizeof err);
    p->checkpoint = json_parse(&p->arena, ck ? ck : "{}", ck ? strlen(ck) : 2, 64, err, sizeof err);
    r->refs = 1;
    /* Not in any heartbeat yet: one already in flight did not carry this job's id, so its
     * answer must not count the job as lost (it would be stopped 6 ms after starting and then
     * wait a whole lease for the rescuer). */
    r->hb_gen = 0;
    r->prev = e->runs.prev;
    r->next = &e->runs;
    e->runs.prev->next = r;
    e->runs.prev = r;
    e->nrunning++;
    e->m_claimed++;
    log_info("jobs", "job %s (%s) attempt %d/%d started", p->id, p->kind, p->attempt,
             p->max_attempts);
    h->start(p);
}

static void jobs__claim_done(db_result_t *res, void *arg)
{
    jobs_engine_t *e = arg;
    e->claiming = false;
    e->inflight--;
    int st = db_result_status(res);
    if (st != DB_OK) {
        if (st != DB_E_CLOSED)
            log_warn("jobs", "claim failed: %s %s", db_status_name(st), db_result_error(res));
        jobs__close_maybe(e);
        return; /* the poll timer tries again */
    }
    int n = db_result_nrows(res);
    if (e->shutting_down) {
        /* Claimed while shutting down: hand them straight back. */
        if (n > 0) {
            buf_t ids;
            buf_init(&ids, 1 << 20);
            buf_append_str(&ids, "{");
            for (int i = 0; i < n; i++)
                buf_printf(&ids, "%s%s", i ? "," : "", db_result_get_by_name(res, i, "id"));
            buf_append_str(&ids, "}");
            const char *params[2] = {ids.data, e->worker_id};
            db_query(e->db, jobs__handback_sql, 2, params, NULL, NULL, NULL);
            buf_free(&ids);
        }
        jobs__close_maybe(e);
        return;
    }
    for (int i = 0; i < n; i++)
        jobs__run_start(e, res, i);
    if (n > 0 || e->claim_again) {
        e->claim_again = false;
        jobs__claim(e);
    }
}

void jobs__claim(jobs_engine_t *e)
{
    if (!e->started || e->shutting_down || e->cfg.workers <= 0 || e->nhandlers == 0) return;
    if (e->claiming) {
        e->claim_again = true;
        return;
    }
    int free_slots = e->cfg.workers - e->nrunning;
    if (free_slots <= 0) return;
    if (free_slots > 64) free_slots = 64;
    char lim[16], cap[16], lease[16];
    snprintf(lim, sizeof lim, "%d", free_slots);
    snprintf(cap, sizeof cap, "%d", e->cfg.max_jobs_per_user);
    snprintf(lease, sizeof lease, "%d", e->cfg.lease_s);
    const char *params[5] = {e->worker_id, lim, cap, lease, e->kinds_param};
    e->claiming = true;
    e->m_claim_queries++;
    e->inflight++;
    if (db_query(e->db, jobs__claim_sql, 5, params, jobs__claim_done, e, NULL) != 0) {
        e->claiming = false;
        e->inflight--;
    }
}

void jobs_wake(jobs_engine_t *e)
{
    if (e) jobs__claim(e);
}

static void jobs__poll_fire(uv_timer_t *t)
{
    jobs__claim(t->data);
}

static void jobs__claim_fire(uv_timer_t *t)
{
    jobs__claim(t->data);
}

/* ---- heartbeats ---------------------------------------------------------------------------- */

static const char jobs__hb_sql[] =
    "WITH l AS (SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND locked_by = $2 "
    "AND state = 'running' ORDER BY id FOR UPDATE) "
    "UPDATE jobs j SET locked_until = now() + make_interval(secs => $3::int) FROM l "
    "WHERE j.id = l.id RETURNING j.id, j.cancel_requested";

typedef struct {
    jobs_engine_t *e;
    uint64_t gen;
} jobs__hb_t;

static void jobs__hb_done(db_result_t *res, void *arg)
{
    jobs__hb_t *h = arg;
    jobs_engine_t *e = h->e;
    uint64_t gen = h->gen;
    free(h);
    e->hb_busy = false;
    e->inflight--;
    if (db_result_status(res) != DB_OK) {
        if (db_result_status(res) != DB_E_CLOSED)
            log_warn("jobs", "heartbeat failed: %s", db_result_error(res));
        jobs__close_maybe(e);
        return; /* leases outlast a few missed heartbeats */
    }
    int n = db_result_nrows(res);
    for (jobs__run_t *r = e->runs.next, *next; r != &e->runs; r = next) {
        next = r->next;
        if (r->hb_gen != gen || r->ended) continue;
        int found = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(db_result_get(res, i, 0), r->pub.id) == 0) {
                found = i;
                break;
            }
        if (found < 0) {
            if (r->finishing || r->pub.lost) continue;
            r->pub.lost = true;
            e->m_lost++;
            log_warn("jobs", "job %s: lease lost; stopping it", r->pub.id);
            if (r->h->cancel) r->h->cancel(&r->pub);
        } else if (db_result_get(res, found, 1)[0] == 't' && !r->pub.cancel_requested) {
            r->pub.cancel_requested = true;
            if (r->h->cancel && !r->finishing) r->h->cancel(&r->pub);
        }
    }
    jobs__close_maybe(e);
}

static void jobs__hb_fire(uv_timer_t *t)
{
    jobs_engine_t *e = t->data;
    if (e->hb_busy || e->nrunning == 0) return;
    jobs__hb_t *h = malloc(sizeof *h);
    if (!h) return;
    buf_t ids;
    buf_init(&ids, 1 << 22);
    buf_append_str(&ids, "{");
    e->hb_gen++;
    int k = 0;
    for (jobs__run_t *r = e->runs.next; r != &e->runs; r = r->next) {
        buf_printf(&ids, "%s%s", k++ ? "," : "", r->pub.id);
        r->hb_gen = e->hb_gen;
    }
    buf_append_str(&ids, "}");
    char lease[16];
    snprintf(lease, sizeof lease, "%d", e->cfg.lease_s);
    const char *params[3] = {ids.data, e->worker_id, lease};
    h->e = e;
    h->gen = e->hb_gen;
    e->hb_busy = true;
    e->inflight++;
    if (db_query(e->db, jobs__hb_sql, 3, params, jobs__hb_done, h, NULL) != 0) {
        e->hb_busy = false;
        e->inflight--;
        free(h);
    }
    buf_free(&ids);
}

void jobs__run_cancel_local(jobs_engine_t *e, const char *job_id)
{
    for (jobs__run_t *r = e->runs.next; r != &e->runs; r = r->next) {
        if (strcmp(r->pub.id, job_id) != 0 || r->ended) continue;
        if (!r->pub.cancel_requested) {
            r->pub.cancel_requested = true;
            log_info("jobs", "job %s: cancellation requested", job_id);
            if (r->h->cancel && !r->finishing) r->h->cancel(&r->pub);
        }
        return;
    }
}

/* ---- rescue ------------------------------------------------------------------------------- */

/* Leases that expired belong to workers that crashed, hung or lost the database: the job goes
 * back to available with backoff (or fails after its last attempt). SKIP LOCKED keeps rescuers
 * of several instances off each other; the UPDATE re-checks locked_until after a wait, so a
 * heartbeat that just renewed the lease wins. */
static const char jobs__rescue_sql[] =
    "WITH r AS (SELECT id FROM jobs WHERE state = 'running' AND locked_until < now() "
    "ORDER BY id LIMIT 200 FOR UPDATE SKIP LOCKED), t AS ("
    "UPDATE jobs j SET state = CASE WHEN j.cancel_requested THEN 'cancelled' "
    "WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'available' END, "
    "error = CASE WHEN j.cancel_requested THEN j.error "
    "ELSE 'The worker stopped during attempt ' || j.attempt || ' (lease expired).' END, "
    "run_at = now() + make_interval(secs => least($2::float8, $1::float8 / 1000.0 * "
    "power(2, greatest(j.attempt - 1, 0))) * (0.75 + random() * 0.5)), "
    "locked_by = NULL, locked_until = NULL, updated_at = now(), "
    "finished_at = CASE WHEN j.cancel_requested OR j.attempt >= j.max_attempts THEN now() END "
    "FROM r WHERE j.id = r.id "
    "RETURNING j.id, j.kind, j.state, j.story_id, j.user_id, j.parent_id, j.scene_number, "
    "j.error), "
    "ev AS (SELECT t.id, CASE WHEN t.state <> 'available' THEN job_event(t.user_id, t.story_id, "
    "t.id, CASE WHEN t.state = 'cancelled' THEN 'job.cancelled' ELSE 'job.failed' END, "
    "jsonb_build_object('state', t.state, 'kind', t.kind, 'error', t.error, 'result', NULL)) "
    "END AS eid FROM t) "
    "SELECT t.id, t.kind, t.state, coalesce(t.story_id::text, '') AS story_id, t.user_id, "
    "coalesce(t.parent_id::text, '') AS parent_id, coalesce(t.scene_number, 0) AS scene_number, "
    "t.error FROM t JOIN ev ON ev.id = t.id";

/* Parents whose children all ended but that were not settled (a crash between the two). */
static const char jobs__sweep_sql[] =
    "SELECT p.id FROM jobs p WHERE p.state = 'waiting' AND p.updated_at < now() - interval '2 s' "
    "AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = p.id "
    "AND c.state IN ('available', 'running', 'waiting')) LIMIT 100";

static void jobs__sweep_done(db_result_t *res, void *arg)
{
    jobs_engine_t *e = arg;
    e->rescue_busy = false;
    e->inflight--;
    if (db_result_status(res) == DB_OK && !e->closing)
        for (int i = 0; i < db_result_nrows(res); i++)
            jobs__settle_parent_async(e, db_result_get(res, i, 0));
    jobs__close_maybe(e);
}

static void jobs__rescue_done(db_result_t *res, void *arg)
{
    jobs_engine_t *e = arg;
    if (db_result_status(res) != DB_OK) {
        e->rescue_busy = false;
        e->inflight--;
        if (db_result_status(res) != DB_E_CLOSED)
            log_warn("jobs", "rescue failed: %s", db_result_error(res));
        jobs__close_maybe(e);
        return;
    }
    int n = db_result_nrows(res);
    bool any_available = false;
    for (int i = 0; i < n; i++) {
        const char *state = db_result_get_by_name(res, i, "state");
        log_warn("jobs", "job %s (%s): lease expired, now %s", db_result_get_by_name(res, i, "id"),
                 db_result_get_by_name(res, i, "kind"), state);
        if (strcmp(state, "available") == 0) any_available = true;
    }
    e->m_rescued += (uint64_t)n;
    jobs__dead_rows(e, res);
    if (any_available) db_notify(e->db, "nova_jobs", "new", NULL, NULL);
    /* The sweep inherits the rescue's place in `inflight`. */
    if (e->shutting_down ||
        db_query(e->db, jobs__sweep_sql, 0, NULL, jobs__sweep_done, e, NULL) != 0) {
        e->rescue_busy = false;
        e->inflight--;
        jobs__close_maybe(e);
    }
}

static void jobs__rescue_fire(uv_timer_t *t)
{
    jobs_engine_t *e = t->data;
    if (e->rescue_busy || e->shutting_down) return;
    char base[16], cap[16];
    snprintf(base, sizeof base, "%d", e->cfg.backoff_base_ms);
    snprintf(cap, sizeof cap, "%d", e->cfg.backoff_max_s);
    const char *params[2] = {base, cap};
    e->rescue_busy = true;
    e->inflight++;
    if (db_query(e->db, jobs__rescue_sql, 2, params, jobs__rescue_done, e, NULL) != 0) {
        e->rescue_busy = false;
        e->inflight--;
    }
}

/* ---- pruning ------------------------------------------------------------------------------- */

static const char jobs__prune_sql[] =
    "WITH a AS (DELETE FROM job_events WHERE created_at < now() - make_interval(hours => $1::int) "
    "RETURNING 1), b AS (DELETE FROM event_tickets WHERE expires_at < now() RETURNING 1), "
    "c AS (DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours' RETURNING "
    "1) "
    "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT count(*) FROM c)";

static void jobs__prune_fire(uv_timer_t *t)
{
    jobs_engine_t *e = t->data;
    char h[16];
    snprintf(h, sizeof h, "%d", e->cfg.events_retention_h);
    const char *params[1] = {h};
    db_query(e->db, jobs__prune_sql, 1, params, NULL, NULL, NULL);
}

static void jobs__tick_fire(uv_timer_t *t)
{
    jobs__hub_tick(t->data);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void jobs__timer(jobs_engine_t *e, uv_timer_t *t, uv_timer_cb cb, uint64_t first,
                        uint64_t repeat)
{
    uv_timer_init(e->loop, t);
    t->data = e;
    e->timers_open++;
    if (cb) uv_timer_start(t, cb, first, repeat);
}

int jobs_engine_start(jobs_engine_t *e)
{
    if (e->started) return -EALREADY;
    int rc = db_listen(e->db, "nova_jobs", jobs__hub_notify, e);
    if (rc == 0) rc = db_listen(e->db, "nova_events", jobs__hub_notify, e);
    if (rc != 0) return rc;
    e->listening = true;
    e->started = true;
    uint64_t lease_ms = (uint64_t)e->cfg.lease_s * 1000;
    jobs__timer(e, &e->poll_timer, jobs__poll_fire, (uint64_t)e->cfg.poll_ms,
                (uint64_t)e->cfg.poll_ms);
    jobs__timer(e, &e->hb_timer, jobs__hb_fire, lease_ms / 3, lease_ms / 3);
    /* Jittered so that instances started together do not rescue in lockstep. */
    uint32_t j = 0;
    crypto_random(&j, sizeof j);
    jobs__timer(e, &e->rescue_timer, jobs__rescue_fire, 500 + j % 1000,
                lease_ms / 2 + j % (lease_ms / 4 + 1));
    jobs__timer(e, &e->prune_timer, jobs__prune_fire, 30000 + j % 30000, 600000);
    uint64_t tick = (uint64_t)e->cfg.sse_heartbeat_s * 1000;
    jobs__timer(e, &e->tick_timer, jobs__tick_fire, tick, tick);
    jobs__timer(e, &e->flush_timer, NULL, 0, 0);
    jobs__timer(e, &e->close_timer, NULL, 0, 0);
    jobs__timer(e, &e->claim_timer, NULL, 0, 0);
    log_info("jobs", "engine %s started: %d workers, lease %ds", e->worker_id, e->cfg.workers,
             e->cfg.lease_s);
    jobs__claim(e);
    return 0;
}

void jobs_engine_shutdown(jobs_engine_t *e)
{
    if (!e || e->shutting_down) return;
    e->shutting_down = true;
    if (e->started) {
        uv_timer_stop(&e->poll_timer);
        uv_timer_stop(&e->rescue_timer);
        uv_timer_stop(&e->prune_timer);
    }
    jobs__hub_shutdown(e);
    /* Running jobs see `stopping` and report at their next checkpoint; the engine then hands
     * them back instead of retrying them with backoff. */
    for (jobs__run_t *r = e->runs.next; r != &e->runs; r = r->next)
        r->pub.stopping = true;
}

static void jobs__timer_closed(uv_handle_t *h)
{
    jobs_engine_t *e = h->data;
    if (--e->timers_open == 0 && e->closing && e->nrunning == 0 && e->close_ops == 0) {
        void (*done)(void *) = e->close_done;
        void *arg = e->close_arg;
        jobs__hub_free(e);
        free(e);
        if (done) done(arg);
    }
}

static void jobs__close_finish(jobs_engine_t *e)
{
    if (e->close_finished) return;
    if (e->inflight > 0) return; /* jobs__close_maybe runs again when they answer */
    e->close_finished = true;
    if (e->listening) {
        db_unlisten(e->db, "nova_jobs", jobs__hub_notify, e);
        db_unlisten(e->db, "nova_events", jobs__hub_notify, e);
        e->listening = false;
    }
    if (e->fetch_q) {
        db_query_cancel(e->fetch_q);
        e->fetch_q = NULL;
    }
    if (e->timers_open == 0) {
        void (*done)(void *) = e->close_done;
        void *arg = e->close_arg;
        jobs__hub_free(e);
        free(e);
        if (done) done(arg);
        return;
    }
    uv_timer_t *timers[] = {&e->poll_timer, &e->hb_timer,    &e->rescue_timer, &e->prune_timer,
                            &e->tick_timer, &e->flush_timer, &e->close_timer,  &e->claim_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        if (!uv_is_closing((uv_handle_t *)timers[i]))
            uv_close((uv_handle_t *)timers[i], jobs__timer_closed);
}

static void jobs__handback_done(db_result_t *res, void *arg)
{
    jobs_engine_t *e = arg;
    (void)res;
    e->close_ops--;
    /* Runs still alive were told to stop; they end on their own (their reports are no-ops).
     * The engine is freed when the last of them ends. */
    if (e->nrunning == 0 && e->close_ops == 0) jobs__close_finish(e);
}

/* The grace period is over (or every run ended): hand back what is still running. */
static void jobs__close_grace(uv_timer_t *t)
{
    jobs_engine_t *e = t->data;
    if (e->nrunning == 0) {
        if (e->close_ops == 0) jobs__close_finish(e);
        return;
    }
    buf_t ids;
    buf_init(&ids, 1 << 22);
    buf_append_str(&ids, "{");
    int k = 0;
    for (jobs__run_t *r = e->runs.next; r != &e->runs; r = r->next)
        buf_printf(&ids, "%s%s", k++ ? "," : "", r->pub.id);
    /* A run may end (and be freed) inside its cancel hook: walk with the next one saved. */
    for (jobs__run_t *r = e->runs.next, *next; r != &e->runs; r = next) {
        next = r->next;
        r->pub.lost = true;
        if (r->h->cancel && !r->finishing) r->h->cancel(&r->pub);
    }
    buf_append_str(&ids, "}");
    log_info("jobs", "handing back %d running job(s) at shutdown", k);
    const char *params[2] = {ids.data, e->worker_id};
    e->close_ops++;
    if (db_query(e->db, jobs__handback_sql, 2, params, jobs__handback_done, e, NULL) != 0)
        e->close_ops--;
    buf_free(&ids);
    if (e->close_ops == 0 && e->nrunning == 0) jobs__close_finish(e);
}

void jobs_engine_close(jobs_engine_t *e, void (*done)(void *arg), void *arg)
{
    if (!e) {
        if (done) done(arg);
        return;
    }
    jobs_engine_shutdown(e);
    e->closing = true;
    e->close_done = done;
    e->close_arg = arg;
    if (!e->started) {
        jobs__close_finish(e);
        return;
    }
    if (e->nrunning == 0) {
        jobs__close_finish(e);
        return;
    }
    uv_timer_start(&e->close_timer, jobs__close_grace, (uint64_t)e->cfg.stop_grace_ms, 0);
}

/* The close proceeds once nothing in flight points at the engine. */
static void jobs__close_maybe(jobs_engine_t *e)
{
    if (e->closing && !e->close_finished && e->nrunning == 0 && e->close_ops == 0 &&
        e->inflight == 0 && !uv_is_active((uv_handle_t *)&e->close_timer))
        jobs__close_finish(e);
}

/* Called by run.c when a run ended: a slot is free, or the close can proceed. */
void jobs__run_end(jobs__run_t *r)
{
    jobs_engine_t *e = r->pub.engine;
    if (r->ended && !r->next) return;
    r->ended = true;
    if (r->next) {
        r->prev->next = r->next;
        r->next->prev = r->prev;
        r->next = r->prev = NULL;
        e->nrunning--;
    }
    jobs__run_unref(r);
    if (e->closing) {
        if (e->nrunning == 0 && e->close_ops == 0) {
            uv_timer_stop(&e->close_timer);
            jobs__close_finish(e);
        }
        return;
    }
    /* Slots freed within a few milliseconds share one claim query. */
    if (!uv_is_active((uv_handle_t *)&e->claim_timer))
        uv_timer_start(&e->claim_timer, jobs__claim_fire, 5, 0);
}

void jobs_engine_metrics_write(jobs_engine_t *e, buf_t *out)
{
    buf_printf(
        out,
        "# TYPE nova_jobs_running gauge\nnova_jobs_running %d\n"
        "# TYPE nova_jobs_claimed_total counter\nnova_jobs_claimed_total %" PRIu64 "\n"
        "# TYPE nova_jobs_finished_total counter\n"
        "nova_jobs_finished_total{outcome=\"succeeded\"} %" PRIu64 "\n"
        "nova_jobs_finished_total{outcome=\"failed\"} %" PRIu64 "\n"
        "nova_jobs_finished_total{outcome=\"retried\"} %" PRIu64 "\n"
        "# TYPE nova_jobs_rescued_total counter\nnova_jobs_rescued_total %" PRIu64 "\n"
        "# TYPE nova_jobs_leases_lost_total counter\nnova_jobs_leases_lost_total %" PRIu64 "\n"
        "# TYPE nova_sse_subscribers gauge\nnova_sse_subscribers %zu\n"
        "# TYPE nova_events_received_total counter\nnova_events_received_total %" PRIu64 "\n"
        "# TYPE nova_events_delivered_total counter\nnova_events_delivered_total %" PRIu64 "\n",
        e->nrunning, e->m_claimed, e->m_succeeded, e->m_failed, e->m_retried, e->m_rescued,
        e->m_lost, e->nsubs, e->m_events_in, e->m_events_fanned);
}
