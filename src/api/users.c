/* users: the staff-only user administration of the reference API (list with search, ordering
 * and pagination; detail; activate/deactivate). Anyone not staff gets 403; a superuser cannot
 * be deactivated; deactivating signs the user out everywhere at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "core/json.h"

#define USERS__PAGE_SIZE     10
#define USERS__MAX_PAGE_SIZE 100

/* ---- list --------------------------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    long page, page_size;
} users__list_t;

/* The request's query with `page` replaced (or removed when page == 0), as DRF builds next and
 * previous links. Other parameters are kept as sent (already encoded). */
static const char *users__page_link(http_req_t *req, long page)
{
    buf_t b;
    buf_init(&b, 16384);
    buf_printf(&b, "%s%s", api_base_url(req), req->path);
    char sep = '?';
    const char *q = req->query;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n && !(n >= 4 && strncmp(q, "page", 4) == 0 && (n == 4 || q[4] == '='))) {
            buf_printf(&b, "%c%.*s", sep, (int)n, q);
            sep = '&';
        }
        q += n + (amp ? 1 : 0);
    }
    if (page > 0) buf_printf(&b, "%cpage=%ld", sep, page);
    const char *out = arena_strdup(&req->arena, b.data ? b.data : "");
    buf_free(&b);
    return out;
}

static void users__list_done(db_result_t *res, void *arg)
{
    users__list_t *l = arg;
    http_req_t *req = l->req;
    if (api_db_failed(req, res)) return;
    int n = db_result_nrows(res);
    if (n == 0 && l->page > 1) {
        http_respond_detail(req, 404, "Invalid page.");
        return;
    }
    long long count = n ? strtoll(db_result_get_by_name(res, 0, "total"), NULL, 10) : 0;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "count", count);
    long pages = (long)((count + l->page_size - 1) / l->page_size);
    if (l->page < pages)
        json_kv_str(g, "next", users__page_link(req, l->page + 1));
    else
        json_kv_null(g, "next");
    if (l->page > 1)
        json_kv_str(g, "previous", users__page_link(req, l->page == 2 ? 0 : l->page - 1));
    else
        json_kv_null(g, "previous");
    json_key(g, "results");
    yajl_gen_array_open(g);
    for (int i = 0; i < n; i++) {
        api_user_t u;
        if (api_user_from_row(req, res, i, &u) == 0) api_user_json_admin(g, &u, false);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

/* ORDER BY from the whitelist; unknown fields are ignored, as DRF's OrderingFilter does. The
 * number of distinct SQL texts stays small (4 fields, 2 directions, at most 4 terms). */
static const char *users__order_by(http_req_t *req, const char *ordering)
{
    static const char *const fields[] = {"username", "email", "date_joined", "is_active"};
    buf_t b;
    buf_init(&b, 512);
    int terms = 0;
    const char *p = ordering;
    while (p && *p && terms < 4) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        bool desc = n && p[0] == '-';
        const char *f = desc ? p + 1 : p;
        size_t fn = desc ? n - 1 : n;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            if (strlen(fields[i]) == fn && strncmp(fields[i], f, fn) == 0) {
                buf_printf(&b, "%su.%s%s", terms ? ", " : "", fields[i], desc ? " DESC" : "");
                terms++;
                break;
            }
        }
        p += n + (comma ? 1 : 0);
    }
    buf_printf(&b, "%su.id", terms ? ", " : "");
    const char *out = arena_strdup(&req->arena, b.data);
    buf_free(&b);
    return out;
}

static long users__qint(http_req_t *req, const char *name, long def, long min, long max, bool *bad)
{
    const char *v = http_req_query(req, name);
    if (!v || !*v) return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < min) {
        *bad = true;
        return def;
    }
    return n > max ? max : n;
}

static void users__list_authed(http_req_t *req, const api_user_t *user)
{
    (void)user;
    app_t *app = req->app;
    users__list_t *l = arena_calloc(&req->arena, sizeof *l);
    l->req = req;
    bool bad = false;
    l->page = users__qint(req, "page", 1, 1, 1000000, &bad);
    if (bad) {
        http_respond_detail(req, 404, "Invalid page.");
        return;
    }
    l->page_size = users__qint(req, "page_size", USERS__PAGE_SIZE, 1, USERS__MAX_PAGE_SIZE, &bad);
    if (bad) l->page_size = USERS__PAGE_SIZE;
    const char *search = http_req_query(req, "search");
    /* Every whitespace-separated term must appear (case-insensitively) in one of the fields. */
    const char *sql = arena_printf(
        &req->arena,
        "SELECT " API_USER_COLS ", count(*) OVER () AS total FROM users u "
        "WHERE NOT EXISTS (SELECT 1 FROM regexp_split_to_table(btrim(COALESCE($1, '')), "
        "'\\s+') AS term WHERE term <> '' AND strpos(lower(u.username), lower(term)) = 0 "
        "AND strpos(lower(u.email), lower(term)) = 0 "
        "AND strpos(lower(u.first_name), lower(term)) = 0 "
        "AND strpos(lower(u.last_name), lower(term)) = 0) "
        "ORDER BY %s LIMIT $2::int OFFSET $3::int",
        users__order_by(req, http_req_query(req, "ordering")));
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", l->page_size);
    snprintf(off, sizeof off, "%ld", (l->page - 1) * l->page_size);
    const char *params[3] = {search, lim, off};
    if (db_query(app->db, sql, 3, params, users__list_done, l, NULL) != 0) api_db_unavailable(req);
}

void api_users_list(http_req_t *req)
{
    api_auth_staff(req, users__list_authed);
}

/* ---- detail and updates -------------------------------------------------------------------- */

static void users__detail_done(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    if (api_db_failed(req, res)) return;
    api_user_t u;
    if (db_result_nrows(res) != 1 || api_user_from_row(req, res, 0, &u) != 0) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    yajl_gen g = json_gen_new();
    api_user_json_admin(g, &u, true);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void users__get_authed(http_req_t *req, const api_user_t *user)
{
    (void)user;
    app_t *app = req->app;
    const char *params[1] = {req->params[0]};
    if (db_query(app->db, "SELECT " API_USER_COLS " FROM users u WHERE u.id = $1", 1, params,
                 users__detail_done, req, NULL) != 0)
        api_db_unavailable(req);
}

void api_users_get(http_req_t *req)
{
    api_auth_staff(req, users__get_authed);
}

static void users__updated(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) != 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    const char *refused = db_result_get_by_name(res, 0, "refused");
    if (refused && refused[0] == 't') {
        api_respond_error_only(req, 400, "Superusers cannot be deactivated.");
        return;
    }
    users__detail_done(res, arg);
}

/* Sets is_active to $2 ("true"/"false", or NULL to toggle). The superuser rule and the sign-out
 * of a deactivated user are one statement, so no request can slip in between. */
static void users__set_active(http_req_t *req, const char *value)
{
    app_t *app = req->app;
    static const char sql[] =
        "WITH cur AS (SELECT id, is_superuser, COALESCE($2::bool, NOT is_active) AS want "
        "FROM users WHERE id = $1 FOR UPDATE), "
        "upd AS (UPDATE users u SET is_active = cur.want FROM cur WHERE u.id = cur.id "
        "AND (cur.want OR NOT cur.is_superuser) RETURNING u.*), "
        "tok AS (DELETE FROM auth_tokens WHERE user_id = (SELECT id FROM upd WHERE NOT is_active)) "
        "SELECT " API_USER_COLS ", false AS refused FROM upd u "
        "UNION ALL SELECT " API_USER_COLS ", true AS refused FROM users u JOIN cur ON "
        "cur.id = u.id WHERE NOT cur.want AND cur.is_superuser";
    const char *params[2] = {req->params[0], value};
    if (db_query(app->db, sql, 2, params, users__updated, req, NULL) != 0) api_db_unavailable(req);
}

static void users__patch_authed(http_req_t *req, const api_user_t *user)
{
    (void)user;
    yajl_val body = http_req_json(req);
    if (!body) return;
    api_errors_t e;
    api_errors_init(&e, req);
    bool present = false, active = false;
    if (!YAJL_IS_OBJECT(body))
        api_errors_add(&e, "non_field_errors", "Invalid data. Expected a dictionary.");
    else
        api_field_bool(&e, body, "is_active", false, &present, &active);
    if (e.n) {
        api_errors_respond(req, &e);
        return;
    }
    if (!present) { /* nothing else is writable here: answer the current state */
        users__get_authed(req, user);
        return;
    }
    users__set_active(req, active ? "true" : "false");
}

void api_users_patch(http_req_t *req)
{
    api_auth_staff(req, users__patch_authed);
}

static void users__toggle_authed(http_req_t *req, const api_user_t *user)
{
    (void)user;
    users__set_active(req, NULL);
}

void api_users_toggle_active(http_req_t *req)
{
    api_auth_staff(req, users__toggle_authed);
}
