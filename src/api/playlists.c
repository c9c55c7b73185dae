/* playlists: /api/playlists/ with stories in the owner's order. Readable by the owner, by every
 * signed-in user when public, and by superusers; changed only by the owner (or a superuser):
 * others get 403 on a public playlist and 404 on a private one. story_ids (create, PUT/PATCH)
 * replaces the whole list in the given order; add_story, remove_story and reorder change it in
 * place. Only the caller's own stories can be put in a playlist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/pagination.h"
#include "api/story_json.h"
#include "api/stories.h"
#include "core/buf.h"
#include "core/json.h"
#include "http/router.h"

#define PLAYLIST_MAX_STORIES 1000

static const api_order_field_t playlists__order[] = {
    {"created_at", "p.created_at"},
    {"updated_at", "p.updated_at"},
    {"name", "p.name"},
};

#define PLAYLIST_VISIBLE "(p.user_id = $2 OR p.is_public OR $3::boolean)"

/* ---- detail ------------------------------------------------------------------------------- */

static void detail__done(http_req_t *req, db_result_t *res, void *ctx)
{
    int status = (int)(intptr_t)ctx;
    if (api_db_failed(req, res)) return;
    int n = db_result_nrows(res);
    if (n < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
#define C(name) db_result_get_by_name(res, 0, name)
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "id", C("pl_id"));
    json_kv_int(g, "user", strtoll(C("pl_user") ? C("pl_user") : "0", NULL, 10));
    json_kv_str(g, "user_name", C("pl_user_name"));
    json_kv_str(g, "name", C("pl_name"));
    json_kv_str(g, "description", C("pl_description"));
    json_key(g, "stories");
    yajl_gen_array_open(g);
    for (int i = 0; i < n; i++)
        if (db_result_get_by_name(res, i, "id")) story_json_list_item(g, req, res, i);
    yajl_gen_array_close(g);
    json_kv_int(g, "story_count", strtoll(C("story_count") ? C("story_count") : "0", NULL, 10));
    json_kv_bool(g, "is_public", C("pl_is_public") && C("pl_is_public")[0] == 't');
    json_kv_str(g, "created_at", C("pl_created_at"));
    json_kv_str(g, "updated_at", C("pl_updated_at"));
    yajl_gen_map_close(g);
#undef C
    http_respond_json(req, status, g);
    yajl_gen_free(g);
}

static void playlists__respond(http_req_t *req, const api_user_t *user, const char *id, int status)
{
    const char *params[3] = {id, stories_int(req, user->id), user->is_superuser ? "t" : "f"};
    /* The status code rides in the callback's context pointer and is never dereferenced. */
    void *ctx = (void *)(intptr_t)status; // NOLINT(performance-no-int-to-ptr)
    // clang-format off
    stories_q(req,
              "SELECT p.id AS pl_id, p.user_id AS pl_user, pu.username AS pl_user_name, "
              "p.name AS pl_name, p.description AS pl_description, p.is_public AS pl_is_public, "
              API_ISO_UTC("p.created_at") " AS pl_created_at, "
              API_ISO_UTC("p.updated_at") " AS pl_updated_at, "
              "(SELECT count(*) FROM playlist_items c WHERE c.playlist_id = p.id) AS story_count, "
              STORY_LIST_COLS
              " FROM playlists p JOIN users pu ON pu.id = p.user_id"
              " LEFT JOIN playlist_items i ON i.playlist_id = p.id"
              " LEFT JOIN stories s ON s.id = i.story_id LEFT JOIN users u ON u.id = s.user_id"
              " WHERE p.id = $1 AND " PLAYLIST_VISIBLE " ORDER BY i.position, i.added_at",
              3, params, detail__done, ctx);
    // clang-format on
}

static void get__authed(http_req_t *req, const api_user_t *user)
{
    playlists__respond(req, user, req->params[0], 200);
}

void api_playlists_get(http_req_t *req)
{
    api_auth(req, true, get__authed);
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
    for (int i = 0; i < n; i++) {
#define C(name) db_result_get_by_name(res, i, name)
        yajl_gen_map_open(g);
        json_kv_str(g, "id", C("id"));
        json_kv_str(g, "user_name", C("user_name"));
        json_kv_str(g, "name", C("name"));
        json_kv_str(g, "description", C("description"));
        json_kv_int(g, "story_count", strtoll(C("story_count") ? C("story_count") : "0", NULL, 10));
        json_kv_bool(g, "is_public", C("is_public") && C("is_public")[0] == 't');
        json_kv_str(g, "created_at", C("created_at"));
        json_kv_str(g, "updated_at", C("updated_at"));
        yajl_gen_map_close(g);
#undef C
    }
    api_page_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void list__authed(http_req_t *req, const api_user_t *user)
{
    list__t *l = arena_calloc(&req->arena, sizeof *l);
    if (!api_page_parse(req, playlists__order, sizeof playlists__order / sizeof playlists__order[0],
                        "p.created_at DESC", "p.id DESC", 10, &l->page))
        return;
    // clang-format off
    const char *sql = arena_printf(
        &req->arena,
        "SELECT p.id, u.username AS user_name, p.name, p.description, p.is_public, "
        "(SELECT count(*) FROM playlist_items i WHERE i.playlist_id = p.id) AS story_count, "
        API_ISO_UTC("p.created_at") " AS created_at, " API_ISO_UTC("p.updated_at") " AS updated_at, "
        "count(*) OVER () AS total_count FROM playlists p JOIN users u ON u.id = p.user_id "
        "WHERE (p.user_id = $1 OR p.is_public OR $2::boolean) AND ($3::text[] IS NULL OR "
        "NOT EXISTS (SELECT 1 FROM unnest($3::text[]) t(pat) WHERE NOT "
        "(p.name ILIKE t.pat OR p.description ILIKE t.pat))) ORDER BY %s LIMIT $4 OFFSET $5",
        l->page.order_by);
    // clang-format on
    const char *params[5] = {stories_int(req, user->id), user->is_superuser ? "t" : "f",
                             l->page.patterns, l->page.limit_s, l->page.offset_s};
    stories_q(req, sql, 5, params, list__done, l);
}

void api_playlists_list(http_req_t *req)
{
    api_auth(req, true, list__authed);
}

/* ---- fields ---------------------------------------------------------------------------------- */

typedef struct {
    const api_user_t *user;
    const char *id;
    const char *name, *description, *is_public;
    const char *story_ids; /* PostgreSQL uuid[] literal, NULL when not sent */
    const char *story_id;  /* add_story / remove_story */
} pl__t;

/* Reads a list of story ids (JSON array of UUID strings) into a uuid[] literal, without
 * duplicates (first occurrence wins). Adds errors to errs. */
static const char *pl__ids(http_req_t *req, yajl_val v, stories_errors_t *errs, const char *key)
{
    if (!v) return NULL;
    if (!YAJL_IS_ARRAY(v)) {
        stories_errors_add(errs, key, "Expected a list of items.");
        return NULL;
    }
    if (v->u.array.len > PLAYLIST_MAX_STORIES) {
        stories_errors_add(errs, key, "Too many stories in one playlist.");
        return NULL;
    }
    buf_t b;
    buf_init(&b, 64 * PLAYLIST_MAX_STORIES);
    buf_append_str(&b, "{");
    size_t used = 0;
    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val x = v->u.array.values[i];
        const char *s = YAJL_IS_STRING(x) ? x->u.string : NULL;
        if (!s || !router_is_uuid(s, strlen(s))) {
            stories_errors_add(errs, key,
                               s ? arena_printf(&req->arena, "\"%s\" is not a valid UUID.", s)
                                 : "Incorrect type. Expected pk value.");
            buf_free(&b);
            return NULL;
        }
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) {
            yajl_val y = v->u.array.values[k];
            if (YAJL_IS_STRING(y) && strcasecmp(y->u.string, s) == 0) dup = true;
        }
        if (dup) continue;
        buf_printf(&b, "%s%s", used++ ? "," : "", s);
    }
    buf_append_str(&b, "}");
    const char *out = arena_strndup(&req->arena, b.data, b.len);
    buf_free(&b);
    return out;
}

static bool pl__read(http_req_t *req, pl__t *p, bool create, bool put)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return false;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    p->name = stories_field_text(&f, &errs, "name", create || put, false, 200);
    p->description = stories_field_text(&f, &errs, "description", false, true, 10000);
    bool b;
    int rc = stories_form_bool(&f, "is_public", &b);
    if (rc == FORM_OK)
        p->is_public = b ? "t" : "f";
    else if (rc != FORM_ABSENT)
        stories_errors_add(&errs, "is_public", "Must be a valid boolean.");
    p->story_ids = pl__ids(req, json_get(f.json, "story_ids"), &errs, "story_ids");
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return false;
    }
    return true;
}

static void pl__bad_story(http_req_t *req, const char *key, const char *id)
{
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    stories_errors_add(&errs, key,
                       arena_printf(&req->arena, "Invalid pk \"%s\" - object does not exist.", id));
    stories_errors_respond(&errs);
}

/* ---- create ------------------------------------------------------------------------------------
 */

static void create__done(http_req_t *req, db_result_t *res, void *ctx)
{
    pl__t *p = ctx;
    if (api_db_failed(req, res)) return;
    const char *bad = db_result_get_by_name(res, 0, "bad");
    if (bad) {
        pl__bad_story(req, "story_ids", bad);
        return;
    }
    p->id = arena_strdup(&req->arena, db_result_get_by_name(res, 0, "id"));
    playlists__respond(req, p->user, p->id, 201);
}

static void create__authed(http_req_t *req, const api_user_t *user)
{
    pl__t *p = arena_calloc(&req->arena, sizeof *p);
    p->user = user;
    if (!pl__read(req, p, true, false)) return;
    const char *params[5] = {stories_int(req, user->id), p->name,
                             p->description ? p->description : "",
                             p->is_public ? p->is_public : "f", p->story_ids ? p->story_ids : "{}"};
    stories_q(
        req,
        "WITH bad AS (SELECT x FROM unnest($5::uuid[]) x WHERE NOT EXISTS (SELECT 1 FROM "
        "stories s WHERE s.id = x AND s.user_id = $1)), p AS (INSERT INTO playlists (user_id, "
        "name, description, is_public) SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM "
        "bad) RETURNING id), items AS (INSERT INTO playlist_items (playlist_id, story_id, "
        "position) SELECT p.id, x.sid, x.ord - 1 FROM p, unnest($5::uuid[]) WITH ORDINALITY "
        "x(sid, ord)) SELECT (SELECT id FROM p) AS id, (SELECT x::text FROM bad LIMIT 1) AS bad",
        5, params, create__done, p);
}

void api_playlists_create(http_req_t *req)
{
    api_auth(req, true, create__authed);
}

/* ---- changes by the owner ----------------------------------------------------------------------
 */

/* Common outcome columns of every change statement: visible (count), owned (count), bad (the
 * first story id that is not the caller's), changed (count). */
static void change__done(http_req_t *req, db_result_t *res, void *ctx)
{
    pl__t *p = ctx;
    if (api_db_failed(req, res)) return;
    const char *visible = db_result_get_by_name(res, 0, "visible");
    const char *owned = db_result_get_by_name(res, 0, "owned");
    if (!visible || strcmp(visible, "0") == 0) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    if (!owned || strcmp(owned, "0") == 0) {
        http_respond_detail(req, 403, "You do not have permission to perform this action.");
        return;
    }
    const char *bad = db_result_get_by_name(res, 0, "bad");
    if (bad) {
        pl__bad_story(req, p->story_id ? "story_id" : "story_ids", bad);
        return;
    }
    const char *err = db_result_get_by_name(res, 0, "error");
    if (err) {
        api_respond_error_only(req, 400, err);
        return;
    }
    playlists__respond(req, p->user, p->id, 200);
}

// clang-format off
#define CHANGE_HEAD                                                                                \
    "WITH pl AS (SELECT p.id, p.user_id FROM playlists p WHERE p.id = $1 AND " PLAYLIST_VISIBLE    \
    " FOR UPDATE), own AS (SELECT id FROM pl WHERE pl.user_id = $2 OR $3::boolean)"
#define CHANGE_TAIL                                                                                \
    " SELECT (SELECT count(*) FROM pl) AS visible, (SELECT count(*) FROM own) AS owned"
// clang-format on

static void update__authed(http_req_t *req, const api_user_t *user)
{
    pl__t *p = arena_calloc(&req->arena, sizeof *p);
    p->user = user;
    p->id = req->params[0];
    if (!pl__read(req, p, false, req->method == HTTP_M_PUT)) return;
    const char *params[7] = {p->id,
                             stories_int(req, user->id),
                             user->is_superuser ? "t" : "f",
                             p->name,
                             p->description,
                             p->is_public,
                             p->story_ids};
    stories_q(req,
              CHANGE_HEAD
              ", bad AS (SELECT x FROM unnest(COALESCE($7::uuid[], '{}')) x WHERE NOT "
              "EXISTS (SELECT 1 FROM stories s WHERE s.id = x AND s.user_id = $2)), up "
              "AS (UPDATE playlists p SET name = COALESCE($4, p.name), description = "
              "COALESCE($5, p.description), is_public = COALESCE($6::boolean, "
              "p.is_public) FROM own WHERE p.id = own.id AND NOT EXISTS (SELECT 1 FROM "
              "bad) RETURNING p.id), del AS (DELETE FROM playlist_items i USING up "
              "WHERE $7::uuid[] IS NOT NULL AND i.playlist_id = up.id AND i.story_id "
              "<> ALL($7::uuid[])), ins AS (INSERT INTO playlist_items (playlist_id, "
              "story_id, position) SELECT up.id, x.sid, x.ord - 1 FROM up, "
              "unnest($7::uuid[]) WITH ORDINALITY x(sid, ord) ON CONFLICT "
              "(playlist_id, story_id) DO UPDATE SET position = EXCLUDED.position)" CHANGE_TAIL
              ", (SELECT x::text FROM bad LIMIT 1) AS bad, NULL::text AS error",
              7, params, change__done, p);
}

void api_playlists_update(http_req_t *req)
{
    api_auth(req, true, update__authed);
}

static bool pl__story_id(http_req_t *req, pl__t *p)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return false;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    p->story_id = stories_field_text(&f, &errs, "story_id", true, false, 64);
    if (p->story_id && !router_is_uuid(p->story_id, strlen(p->story_id)))
        stories_errors_add(&errs, "story_id",
                           arena_printf(&req->arena, "\"%s\" is not a valid UUID.", p->story_id));
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return false;
    }
    return true;
}

/* POST /api/playlists/{id}/add_story/ {"story_id"}: appends (a story already there stays). */
static void add__authed(http_req_t *req, const api_user_t *user)
{
    pl__t *p = arena_calloc(&req->arena, sizeof *p);
    p->user = user;
    p->id = req->params[0];
    if (!pl__story_id(req, p)) return;
    const char *params[4] = {p->id, stories_int(req, user->id), user->is_superuser ? "t" : "f",
                             p->story_id};
    stories_q(req,
              CHANGE_HEAD
              ", ok AS (SELECT s.id FROM stories s WHERE s.id = $4::uuid AND s.user_id "
              "= $2), ins AS (INSERT INTO playlist_items (playlist_id, story_id, "
              "position) SELECT own.id, ok.id, COALESCE((SELECT max(position) + 1 FROM "
              "playlist_items c WHERE c.playlist_id = own.id), 0) FROM own, ok ON "
              "CONFLICT (playlist_id, story_id) DO NOTHING), touch AS (UPDATE playlists "
              "p SET updated_at = now() FROM own WHERE p.id = own.id)" CHANGE_TAIL
              ", CASE WHEN EXISTS (SELECT 1 FROM ok) THEN NULL ELSE $4::text END AS bad, "
              "NULL::text AS error",
              4, params, change__done, p);
}

void api_playlists_add_story(http_req_t *req)
{
    api_auth(req, true, add__authed);
}

/* POST /api/playlists/{id}/remove_story/ {"story_id"}: the order of the others is kept. */
static void remove__authed(http_req_t *req, const api_user_t *user)
{
    pl__t *p = arena_calloc(&req->arena, sizeof *p);
    p->user = user;
    p->id = req->params[0];
    if (!pl__story_id(req, p)) return;
    const char *params[4] = {p->id, stories_int(req, user->id), user->is_superuser ? "t" : "f",
                             p->story_id};
    stories_q(req,
              CHANGE_HEAD
              ", del AS (DELETE FROM playlist_items i USING own WHERE i.playlist_id = "
              "own.id AND i.story_id = $4::uuid RETURNING 1), touch AS (UPDATE "
              "playlists p SET updated_at = now() FROM own WHERE p.id = own.id)" CHANGE_TAIL
              ", NULL::text AS bad, CASE WHEN EXISTS (SELECT 1 FROM own) AND NOT EXISTS (SELECT 1 "
              "FROM del) THEN 'This story is not in the playlist.' END AS error",
              4, params, change__done, p);
}

void api_playlists_remove_story(http_req_t *req)
{
    api_auth(req, true, remove__authed);
}

/* POST /api/playlists/{id}/reorder/ {"story_ids": [...]}: a permutation of the current stories.
 * The position constraint is deferred to commit, so one statement can rewrite every position. */
static void reorder__authed(http_req_t *req, const api_user_t *user)
{
    pl__t *p = arena_calloc(&req->arena, sizeof *p);
    p->user = user;
    p->id = req->params[0];
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    yajl_val ids = json_get(f.json, "story_ids");
    if (!ids) stories_errors_add(&errs, "story_ids", "This field is required.");
    p->story_ids = pl__ids(req, ids, &errs, "story_ids");
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return;
    }
    const char *params[4] = {p->id, stories_int(req, user->id), user->is_superuser ? "t" : "f",
                             p->story_ids};
    stories_q(req,
              CHANGE_HEAD
              ", cur AS (SELECT i.story_id FROM playlist_items i JOIN own ON "
              "i.playlist_id = own.id), same AS (SELECT (SELECT count(*) FROM cur) = "
              "cardinality($4::uuid[]) AND NOT EXISTS (SELECT 1 FROM unnest($4::uuid[]) "
              "x WHERE x NOT IN (SELECT story_id FROM cur)) AS ok), up AS (UPDATE "
              "playlist_items i SET position = x.ord - 1 FROM own, unnest($4::uuid[]) "
              "WITH ORDINALITY x(sid, ord) WHERE (SELECT ok FROM same) AND "
              "i.playlist_id = own.id AND i.story_id = x.sid), touch AS (UPDATE "
              "playlists p SET updated_at = now() FROM own WHERE p.id = own.id AND "
              "(SELECT ok FROM same))" CHANGE_TAIL
              ", NULL::text AS bad, CASE WHEN EXISTS (SELECT 1 FROM own) AND NOT (SELECT ok FROM "
              "same) THEN 'story_ids must list exactly the stories of the playlist.' END AS error",
              4, params, change__done, p);
}

void api_playlists_reorder(http_req_t *req)
{
    api_auth(req, true, reorder__authed);
}

/* ---- delete ------------------------------------------------------------------------------------
 */

static void delete__done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    const char *visible = db_result_get_by_name(res, 0, "visible");
    const char *owned = db_result_get_by_name(res, 0, "owned");
    if (!visible || strcmp(visible, "0") == 0) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    if (!owned || strcmp(owned, "0") == 0) {
        http_respond_detail(req, 403, "You do not have permission to perform this action.");
        return;
    }
    http_respond(req, 204, NULL, NULL, 0);
}

static void delete__authed(http_req_t *req, const api_user_t *user)
{
    const char *params[3] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f"};
    stories_q(req,
              CHANGE_HEAD
              ", del AS (DELETE FROM playlists p USING own WHERE p.id = own.id)" CHANGE_TAIL,
              3, params, delete__done, NULL);
}

void api_playlists_delete(http_req_t *req)
{
    api_auth(req, true, delete__authed);
}
