/* sessions: listening sessions (/api/story-sessions/): the reference's start/end log plus
 * position_ms, where playback stopped, so listening can resume. A session belongs to the caller
 * and may only name one of the caller's own stories; others' sessions are 404 (superusers see
 * all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/pagination.h"
#include "api/stories.h"
#include "core/json.h"
#include "http/router.h"

// clang-format off
#define SESSION_COLS                                                                               \
    "x.id, x.story_id, st.title AS story_title, x.user_id, u.username AS user_name, "             \
    API_ISO_UTC("x.started_at") " AS started_at, " API_ISO_UTC("x.ended_at") " AS ended_at, "      \
    "x.duration_seconds, x.completed, x.position_ms, "                                             \
    API_ISO_UTC("x.created_at") " AS created_at, " API_ISO_UTC("x.updated_at") " AS updated_at"
#define SESSION_FROM                                                                               \
    " FROM story_sessions x JOIN stories st ON st.id = x.story_id JOIN users u ON u.id = x.user_id"
// clang-format on

static const api_order_field_t sessions__order[] = {
    {"started_at", "x.started_at"},
    {"ended_at", "x.ended_at"},
    {"duration_seconds", "x.duration_seconds"},
};

static void sessions__duration(yajl_gen g, const char *secs)
{
    long long s = secs ? strtoll(secs, NULL, 10) : 0;
    if (s <= 0) {
        json_kv_null(g, "duration_formatted");
        return;
    }
    char buf[48];
    if (s >= 3600)
        snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", s / 3600, (s % 3600) / 60, s % 60);
    else
        snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
    json_kv_str(g, "duration_formatted", buf);
}

static void sessions__json(yajl_gen g, const db_result_t *res, int row, bool detail)
{
#define C(name) db_result_get_by_name(res, row, name)
    yajl_gen_map_open(g);
    json_kv_str(g, "id", C("id"));
    json_kv_str(g, "story", C("story_id"));
    json_kv_str(g, "story_title", C("story_title"));
    if (detail) json_kv_int(g, "user", strtoll(C("user_id") ? C("user_id") : "0", NULL, 10));
    json_kv_str(g, "user_name", C("user_name"));
    json_kv_str(g, "started_at", C("started_at"));
    json_kv_str(g, "ended_at", C("ended_at"));
    if (C("duration_seconds"))
        json_kv_int(g, "duration_seconds", strtoll(C("duration_seconds"), NULL, 10));
    else
        json_kv_null(g, "duration_seconds");
    sessions__duration(g, C("duration_seconds"));
    json_kv_bool(g, "completed", C("completed") && C("completed")[0] == 't');
    json_kv_int(g, "position_ms", strtoll(C("position_ms") ? C("position_ms") : "0", NULL, 10));
    if (detail) {
        json_kv_str(g, "created_at", C("created_at"));
        json_kv_str(g, "updated_at", C("updated_at"));
    }
    yajl_gen_map_close(g);
#undef C
}

static void sessions__respond(http_req_t *req, db_result_t *res, int status, const char *msg)
{
    yajl_gen g = json_gen_new();
    if (msg) {
        yajl_gen_map_open(g);
        json_kv_str(g, "message", msg);
        json_key(g, "session");
    }
    sessions__json(g, res, 0, true);
    if (msg) yajl_gen_map_close(g);
    http_respond_json(req, status, g);
    yajl_gen_free(g);
}

/* ---- list ------------------------------------------------------------------------------------ */

typedef struct {
    api_page_t page;
} list__t;

static void list__done(http_req_t *req, db_result_t *res, void *ctx)
{
    list__t *l = ctx;
    if (api_db_failed(req, res)) return;
    int n = db_result_nrows(res);
    if (!api_page_check_rows(req, &l->page, n)) return;
    const char *total = n ? db_result_get_by_name(res, 0, "total_count") : "0";
    yajl_gen g = json_gen_new();
    api_page_open(g, req, &l->page, strtoll(total ? total : "0", NULL, 10));
    for (int i = 0; i < n; i++)
        sessions__json(g, res, i, false);
    api_page_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void list__authed(http_req_t *req, const api_user_t *user)
{
    list__t *l = arena_calloc(&req->arena, sizeof *l);
    const char *story = http_req_query(req, "story");
    if (story && *story && !router_is_uuid(story, strlen(story))) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    if (story && !*story) story = NULL;
    if (!api_page_parse(req, sessions__order, sizeof sessions__order / sizeof sessions__order[0],
                        "x.started_at DESC", "x.id DESC", 10, &l->page))
        return;
    const char *sql = arena_printf(
        &req->arena,
        "SELECT " SESSION_COLS ", count(*) OVER () AS total_count" SESSION_FROM
        " WHERE (x.user_id = $1 OR $2::boolean) AND ($3::uuid IS NULL OR x.story_id = $3) AND "
        "($4::text[] IS NULL OR NOT EXISTS (SELECT 1 FROM unnest($4::text[]) t(p) WHERE NOT "
        "(st.title ILIKE t.p OR u.username ILIKE t.p))) ORDER BY %s LIMIT $5 OFFSET $6",
        l->page.order_by);
    const char *params[6] = {stories_int(req, user->id),
                             user->is_superuser ? "t" : "f",
                             story,
                             l->page.patterns,
                             l->page.limit_s,
                             l->page.offset_s};
    stories_q(req, sql, 6, params, list__done, l);
}

void api_sessions_list(http_req_t *req)
{
    api_auth(req, true, list__authed);
}

/* ---- create ---------------------------------------------------------------------------------- */

static void create__done(http_req_t *req, db_result_t *res, void *ctx)
{
    const char *story = ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        stories_errors_t errs;
        stories_errors_init(&errs, req);
        stories_errors_add(
            &errs, "story",
            arena_printf(&req->arena, "Invalid pk \"%s\" - object does not exist.", story));
        stories_errors_respond(&errs);
        return;
    }
    sessions__respond(req, res, 201, NULL);
}

/* Reads completed and position_ms (both optional); false after answering 400. */
static bool sessions__fields(http_req_t *req, const stories_form_t *f, const char **completed,
                             const char **position)
{
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    bool b;
    int rc = stories_form_bool(f, "completed", &b);
    *completed = rc == FORM_OK ? (b ? "t" : "f") : NULL;
    if (rc == FORM_BAD || rc == FORM_NULL)
        stories_errors_add(&errs, "completed", "Must be a valid boolean.");
    int64_t pos;
    rc = stories_form_int(f, "position_ms", &pos);
    *position = rc == FORM_OK ? stories_int(req, pos) : NULL;
    if (rc == FORM_BAD || rc == FORM_NULL)
        stories_errors_add(&errs, "position_ms", "A valid integer is required.");
    else if (rc == FORM_OK && (pos < 0 || pos > 100LL * 3600 * 1000))
        stories_errors_add(&errs, "position_ms", "Ensure this value is between 0 and 360000000.");
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return false;
    }
    return true;
}

static void create__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    const char *story = stories_field_text(&f, &errs, "story", true, false, 64);
    if (story && !router_is_uuid(story, strlen(story)))
        stories_errors_add(&errs, "story",
                           arena_printf(&req->arena, "\"%s\" is not a valid UUID.", story));
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return;
    }
    const char *completed, *position;
    if (!sessions__fields(req, &f, &completed, &position)) return;
    const char *params[4] = {story, stories_int(req, user->id), completed, position};
    /* Only the caller's own stories: anything else inserts nothing and reads as "does not
     * exist", as DRF reports an unknown primary key. */
    stories_q(req,
              "WITH ins AS (INSERT INTO story_sessions (story_id, user_id, completed, position_ms) "
              "SELECT s.id, $2, COALESCE($3::boolean, false), COALESCE($4::bigint, 0) FROM "
              "stories s WHERE s.id = $1 AND s.user_id = $2 RETURNING *) SELECT " SESSION_COLS
              " FROM ins x JOIN stories st ON st.id = x.story_id JOIN users u ON u.id = x.user_id",
              4, params, create__done, (void *)story);
}

void api_sessions_create(http_req_t *req)
{
    api_auth(req, true, create__authed);
}

/* ---- get / update / delete / end ---------------------------------------------------------------
 */

static void one__done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    sessions__respond(req, res, 200, NULL);
}

static void get__authed(http_req_t *req, const api_user_t *user)
{
    const char *params[3] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f"};
    stories_q(req,
              "SELECT " SESSION_COLS SESSION_FROM " WHERE x.id = $1 AND (x.user_id = $2 OR "
              "$3::boolean)",
              3, params, one__done, NULL);
}

void api_sessions_get(http_req_t *req)
{
    api_auth(req, true, get__authed);
}

static void update__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    const char *completed, *position;
    if (!sessions__fields(req, &f, &completed, &position)) return;
    const char *params[5] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f", completed, position};
    stories_q(req,
              "WITH up AS (UPDATE story_sessions x SET completed = COALESCE($4::boolean, "
              "x.completed), position_ms = COALESCE($5::bigint, x.position_ms) WHERE x.id = $1 "
              "AND (x.user_id = $2 OR $3::boolean) RETURNING *) SELECT " SESSION_COLS
              " FROM up x JOIN stories st ON st.id = x.story_id JOIN users u ON u.id = x.user_id",
              5, params, one__done, NULL);
}

void api_sessions_update(http_req_t *req)
{
    api_auth(req, true, update__authed);
}

static void delete__done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    http_respond(req, 204, NULL, NULL, 0);
}

static void delete__authed(http_req_t *req, const api_user_t *user)
{
    const char *params[3] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f"};
    stories_q(req,
              "DELETE FROM story_sessions x WHERE x.id = $1 AND (x.user_id = $2 OR $3::boolean) "
              "RETURNING x.id",
              3, params, delete__done, NULL);
}

void api_sessions_delete(http_req_t *req)
{
    api_auth(req, true, delete__authed);
}

static void end__done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    const char *ended = db_result_get_by_name(res, 0, "was_ended");
    if (ended && ended[0] == 't') {
        api_respond_error_only(req, 400, "Session already ended.");
        return;
    }
    sessions__respond(req, res, 200, "Session ended successfully");
}

static void end__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    const char *completed, *position;
    if (!sessions__fields(req, &f, &completed, &position)) return;
    const char *params[5] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f", completed, position};
    /* The update applies only to an open session; `cur` tells an ended one from a missing one. */
    stories_q(req,
              "WITH cur AS (SELECT x.id, x.ended_at IS NOT NULL AS was_ended FROM story_sessions "
              "x WHERE x.id = $1 AND (x.user_id = $2 OR $3::boolean) FOR UPDATE), up AS (UPDATE "
              "story_sessions x SET ended_at = now(), duration_seconds = GREATEST(0, floor(extract("
              "epoch FROM now() - x.started_at)))::int, completed = COALESCE($4::boolean, false), "
              "position_ms = COALESCE($5::bigint, x.position_ms) FROM cur WHERE x.id = cur.id AND "
              "NOT cur.was_ended RETURNING x.*) SELECT cur.was_ended, " SESSION_COLS
              " FROM cur LEFT JOIN up x ON true LEFT JOIN stories st ON st.id = x.story_id LEFT "
              "JOIN users u ON u.id = x.user_id",
              5, params, end__done, NULL);
}

void api_sessions_end(http_req_t *req)
{
    api_auth(req, true, end__authed);
}
