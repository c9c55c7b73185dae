/* events: the per-process event hub. NOTIFY nova_events carries "<event id> <user id>"; the hub
 * keeps the ids of users that have local subscribers, loads those rows in one batched query
 * (one in flight at a time; ids that arrive meanwhile wait for the next batch) and hands each
 * event to the user's subscribers (SSE streams, parked requests), filtered by story. Events are
 * thus read once per instance, not once per stream. NOTIFY nova_jobs wakes the claim loop
 * ("new") or stops a local run ("cancel <id>"). A NULL payload (the LISTEN connection was
 * re-established, notifications may be lost) resets every subscriber. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "jobs/jobs_internal.h"

static size_t jobs__bucket(int64_t user_id)
{
    uint64_t x = (uint64_t)user_id * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 54) % JOBS__BUCKETS;
}

void jobs_subscribe(jobs_engine_t *e, jobs_sub_t *s)
{
    if (s->subscribed) return;
    size_t b = jobs__bucket(s->user_id);
    s->prev = NULL;
    s->next = e->buckets[b];
    if (s->next) s->next->prev = s;
    e->buckets[b] = s;
    s->subscribed = true;
    e->nsubs++;
}

void jobs_unsubscribe(jobs_engine_t *e, jobs_sub_t *s)
{
    if (!s->subscribed) return;
    if (s->prev)
        s->prev->next = s->next;
    else
        e->buckets[jobs__bucket(s->user_id)] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->subscribed = false;
    e->nsubs--;
}

size_t jobs_subscribers(const jobs_engine_t *e)
{
    return e->nsubs;
}

static bool jobs__has_user(jobs_engine_t *e, int64_t user_id)
{
    for (jobs_sub_t *s = e->buckets[jobs__bucket(user_id)]; s; s = s->next)
        if (s->user_id == user_id) return true;
    return false;
}

/* Calls fn for every subscriber; fn may unsubscribe the one it is given. */
static void jobs__each(jobs_engine_t *e, void (*fn)(jobs_sub_t *s))
{
    for (size_t b = 0; b < JOBS__BUCKETS; b++) {
        for (jobs_sub_t *s = e->buckets[b], *next; s; s = next) {
            next = s->next;
            fn(s);
        }
    }
}

/* ---- fan-out -------------------------------------------------------------------------------- */

static const char jobs__fetch_sql[] =
    "SELECT id, user_id, coalesce(story_id::text, '') AS story_id, coalesce(job_id::text, '') "
    "AS job_id, type, data::text AS data FROM job_events WHERE id = ANY($1::bigint[]) ORDER BY id";

static void jobs__dispatch(jobs_engine_t *e, const jobs_event_t *ev)
{
    for (jobs_sub_t *s = e->buckets[jobs__bucket(ev->user_id)], *next; s; s = next) {
        next = s->next;
        if (s->user_id != ev->user_id) continue;
        if (s->story_id[0] && strcmp(s->story_id, ev->story_id) != 0) continue;
        e->m_events_fanned++;
        s->ops->event(s, ev);
    }
}

static void jobs__flush(jobs_engine_t *e);

static void jobs__fetch_done(db_result_t *res, void *arg)
{
    jobs_engine_t *e = arg;
    e->fetch_busy = false;
    e->fetch_q = NULL;
    if (db_result_status(res) != DB_OK) {
        log_warn("jobs", "event fetch failed: %s", db_result_error(res));
    } else {
        for (int i = 0; i < db_result_nrows(res); i++) {
            jobs_event_t ev = {
                .id = strtoll(db_result_get(res, i, 0), NULL, 10),
                .user_id = strtoll(db_result_get(res, i, 1), NULL, 10),
                .story_id = db_result_get(res, i, 2),
                .job_id = db_result_get(res, i, 3),
                .type = db_result_get(res, i, 4),
                .data = db_result_get(res, i, 5),
            };
            ev.data_len = strlen(ev.data);
            jobs__dispatch(e, &ev);
        }
    }
    if (e->npending) jobs__flush(e);
}

static void jobs__flush(jobs_engine_t *e)
{
    if (e->fetch_busy || e->npending == 0 || e->closing) return;
    buf_t ids;
    buf_init(&ids, 1 << 24);
    buf_append_str(&ids, "{");
    for (size_t i = 0; i < e->npending; i++)
        buf_printf(&ids, "%s%" PRId64, i ? "," : "", e->pending_ids[i]);
    buf_append_str(&ids, "}");
    e->npending = 0;
    const char *params[1] = {ids.data};
    e->fetch_busy = true;
    if (db_query(e->db, jobs__fetch_sql, 1, params, jobs__fetch_done, e, &e->fetch_q) != 0) {
        e->fetch_busy = false;
        e->fetch_q = NULL;
    }
    buf_free(&ids);
}

static void jobs__flush_fire(uv_timer_t *t)
{
    jobs__flush(t->data);
}

static void jobs__reset_one(jobs_sub_t *s)
{
    if (s->ops->reset) s->ops->reset(s);
}

void jobs__hub_notify(const char *channel, const char *payload, void *arg)
{
    jobs_engine_t *e = arg;
    if (strcmp(channel, "nova_jobs") == 0) {
        if (payload && strncmp(payload, "cancel ", 7) == 0)
            jobs__run_cancel_local(e, payload + 7);
        else
            jobs__claim(e);
        return;
    }
    if (!payload) {
        /* The hub may have missed events: every subscriber re-reads from its last id. */
        jobs__each(e, jobs__reset_one);
        return;
    }
    char *end;
    long long eid = strtoll(payload, &end, 10);
    long long uid = *end == ' ' ? strtoll(end + 1, NULL, 10) : 0;
    e->m_events_in++;
    if (eid <= 0 || uid <= 0 || !jobs__has_user(e, uid)) return;
    if (e->npending == e->cap_pending) {
        size_t cap = e->cap_pending ? e->cap_pending * 2 : 64;
        if (cap > 100000) return; /* a runaway backlog: subscribers catch up on reset */
        int64_t *p = realloc(e->pending_ids, cap * sizeof *p);
        if (!p) return;
        e->pending_ids = p;
        e->cap_pending = cap;
    }
    e->pending_ids[e->npending++] = eid;
    /* A zero timer runs after the current batch of notifications has been read, so they share
     * one query. */
    if (!e->fetch_busy && !uv_is_active((uv_handle_t *)&e->flush_timer) && !e->closing)
        uv_timer_start(&e->flush_timer, jobs__flush_fire, 0, 0);
}

static void jobs__tick_one(jobs_sub_t *s)
{
    if (s->ops->tick) s->ops->tick(s);
}

void jobs__hub_tick(jobs_engine_t *e)
{
    jobs__each(e, jobs__tick_one);
}

static jobs_engine_t *jobs__shutdown_engine;

static void jobs__shutdown_one(jobs_sub_t *s)
{
    if (s->ops->shutdown)
        s->ops->shutdown(s);
    else
        jobs_unsubscribe(jobs__shutdown_engine, s);
}

void jobs__hub_shutdown(jobs_engine_t *e)
{
    jobs__shutdown_engine = e;
    jobs__each(e, jobs__shutdown_one);
    jobs__shutdown_engine = NULL;
}

void jobs__hub_free(jobs_engine_t *e)
{
    free(e->pending_ids);
    e->pending_ids = NULL;
    e->npending = e->cap_pending = 0;
}

/* ---- storing and reading ------------------------------------------------------------------- */

int jobs_event_emit(jobs_engine_t *e, int64_t user_id, const char *story_id, const char *job_id,
                    const char *type, const char *data_json, db_query_cb cb, void *arg)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    const char *params[5] = {uid, story_id && *story_id ? story_id : NULL,
                             job_id && *job_id ? job_id : NULL, type, data_json};
    return db_query(e->db,
                    "SELECT job_event($1::bigint, $2::uuid, $3::uuid, $4, "
                    "coalesce($5::jsonb, '{}'))",
                    5, params, cb, arg, NULL);
}

int jobs_events_since(jobs_engine_t *e, int64_t user_id, const char *story_id, int64_t after_id,
                      int limit, db_query_cb cb, void *arg, db_query_t **handle)
{
    char uid[24], after[24], lim[16];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    snprintf(after, sizeof after, "%lld", (long long)after_id);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[4] = {uid, story_id && *story_id ? story_id : NULL, after, lim};
    return db_query(e->db,
                    "SELECT id, user_id, coalesce(story_id::text, '') AS story_id, "
                    "coalesce(job_id::text, '') AS job_id, type, data::text AS data, "
                    "(SELECT min(id) FROM job_events) AS min_id FROM job_events "
                    "WHERE user_id = $1::bigint AND ($2::uuid IS NULL OR story_id = $2::uuid) "
                    "AND id > $3::bigint ORDER BY id LIMIT $4::int",
                    4, params, cb, arg, handle);
}
