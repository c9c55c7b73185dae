/* profile: GET/PATCH /api/profile/ (the signed-in user's own profile only: there is no user id in
 * the path, so nobody can address another's) and the avatar images. PATCH takes JSON or
 * multipart/form-data (the reference frontend's settings form); an avatar is accepted only when
 * its bytes are a PNG, JPEG, GIF or WebP image of at most 1 MiB and 4096 px a side, whatever its
 * file name or declared type says. Avatars are served from /api/avatars/<random key>.<ext>. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/accounts.h"
#include "api/app.h"
#include "core/crypto.h"
#include "core/json.h"
#include "http/multipart.h"
#include "media/imgsniff.h"

#define PROFILE__AVATAR_MAX_SIDE 4096
#define PROFILE__TEXT_MAX        1024 /* a multipart text field; the columns are shorter */

#define PROFILE__COLS                                                                              \
    "p.user_id, p.title, p.contact_phone, p.business_name, " API_ISO_UTC(                          \
        "p.created_at") " AS created_at, " API_ISO_UTC("p.updated_at") " AS updated_at"

static void profile__respond(http_req_t *req, const db_result_t *res)
{
    const char *avatar = db_result_get_by_name(res, 0, "avatar");
    const char *uid = db_result_get_by_name(res, 0, "user_id");
    int64_t id = uid ? strtoll(uid, NULL, 10) : 0;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    /* The profile row is keyed by the user, so its id is the user's id. */
    json_kv_int(g, "id", id);
    json_kv_int(g, "user", id);
    json_kv_str(g, "title", db_result_get_by_name(res, 0, "title"));
    json_kv_str(g, "contact_phone", db_result_get_by_name(res, 0, "contact_phone"));
    json_kv_str(g, "business_name", db_result_get_by_name(res, 0, "business_name"));
    if (avatar) {
        json_kv_str(g, "avatar", arena_printf(&req->arena, "avatars/%s", avatar));
        json_kv_str(g, "avatar_url",
                    arena_printf(&req->arena, "%s/api/avatars/%s", api_base_url(req), avatar));
    } else {
        json_kv_null(g, "avatar");
        json_kv_null(g, "avatar_url");
    }
    json_kv_str(g, "user_email", db_result_get_by_name(res, 0, "email"));
    json_kv_str(g, "user_first_name", db_result_get_by_name(res, 0, "first_name"));
    json_kv_str(g, "user_last_name", db_result_get_by_name(res, 0, "last_name"));
    json_kv_str(g, "user_username", db_result_get_by_name(res, 0, "username"));
    json_kv_str(g, "created_at", db_result_get_by_name(res, 0, "created_at"));
    json_kv_str(g, "updated_at", db_result_get_by_name(res, 0, "updated_at"));
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void profile__done(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) != 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    profile__respond(req, res);
}

/* ---- GET -------------------------------------------------------------------------------- */

static void profile__get_authed(http_req_t *req, const api_user_t *user)
{
    app_t *app = req->app;
    /* The profile is created on first use; the CTE's insert is invisible to the outer SELECT,
     * so exactly one branch of the UNION returns the row. */
    static const char sql[] =
        "WITH ins AS (INSERT INTO user_profiles (user_id) VALUES ($1) "
        "ON CONFLICT (user_id) DO NOTHING RETURNING *), "
        "p AS (SELECT * FROM ins UNION ALL SELECT * FROM user_profiles WHERE user_id = $1) "
        "SELECT " PROFILE__COLS ", u.email, u.first_name, u.last_name, u.username, "
        "(SELECT key || '.' || ext FROM user_avatars WHERE user_id = $1) AS avatar "
        "FROM p JOIN users u ON u.id = p.user_id";
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)user->id);
    const char *params[1] = {id};
    if (db_query(app->db, sql, 1, params, profile__done, req, NULL) != 0) api_db_unavailable(req);
}

void api_profile_get(http_req_t *req)
{
    api_auth(req, true, profile__get_authed);
}

/* ---- PATCH ------------------------------------------------------------------------------- */

typedef struct {
    const char *title, *contact_phone, *business_name, *first_name, *last_name;
    bool avatar_delete;
    const uint8_t *avatar;
    size_t avatar_len;
    bool avatar_sent;
} profile__patch_t;

/* Multipart reading: text fields into the arena, the avatar file into a bounded buffer. */
typedef struct {
    http_req_t *req;
    profile__patch_t *p;
    api_errors_t *e;
    const char *name;
    bool is_file;
    char *buf;
    size_t len, cap;
    bool too_big;
} profile__mp_t;

static int profile__mp_begin(void *user, const multipart_part_t *part)
{
    profile__mp_t *m = user;
    m->name = arena_strdup(&m->req->arena, part->name);
    m->is_file = strcmp(part->name, "avatar") == 0;
    m->cap = m->is_file ? API_AVATAR_MAX_BYTES : PROFILE__TEXT_MAX;
    m->buf = arena_alloc(&m->req->arena, m->cap + 1);
    m->len = 0;
    m->too_big = false;
    return 0;
}

static int profile__mp_data(void *user, const char *data, size_t len)
{
    profile__mp_t *m = user;
    if (m->too_big || len > m->cap - m->len) {
        m->too_big = true;
        return 0;
    }
    memcpy(m->buf + m->len, data, len);
    m->len += len;
    return 0;
}

static int profile__mp_end(void *user, const multipart_part_t *part)
{
    profile__mp_t *m = user;
    (void)part;
    m->buf[m->len] = '\0';
    if (m->is_file) {
        m->p->avatar_sent = true;
        if (m->too_big)
            api_errors_add(m->e, "avatar", "The avatar must be at most 1 MiB.");
        else if (m->len > 0) {
            m->p->avatar = (const uint8_t *)m->buf;
            m->p->avatar_len = m->len;
        }
        return 0;
    }
    const char **slot = strcmp(m->name, "title") == 0           ? &m->p->title
                        : strcmp(m->name, "contact_phone") == 0 ? &m->p->contact_phone
                        : strcmp(m->name, "business_name") == 0 ? &m->p->business_name
                        : strcmp(m->name, "first_name") == 0    ? &m->p->first_name
                        : strcmp(m->name, "last_name") == 0     ? &m->p->last_name
                                                                : NULL;
    if (!slot) return 0; /* other form fields (user_email, ...) are read-only: ignored */
    if (m->too_big || !json_utf8_valid(m->buf, m->len) || memchr(m->buf, '\0', m->len))
        api_errors_add(m->e, m->name, "Not a valid string.");
    else
        *slot = m->buf;
    return 0;
}

static int profile__parse_multipart(http_req_t *req, const char *ctype, profile__patch_t *p,
                                    api_errors_t *e)
{
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    if (multipart_boundary_from_content_type(ctype, boundary, sizeof boundary) != 0) {
        http_respond_error(req, 400, "invalid_multipart", "bad multipart boundary");
        return -1;
    }
    profile__mp_t m = {.req = req, .p = p, .e = e};
    multipart_callbacks_t cbs = {profile__mp_begin, profile__mp_data, profile__mp_end};
    multipart_limits_t lim = {.max_parts = 16};
    multipart_parser_t *mp = multipart_parser_new(boundary, &lim, &cbs, &m);
    if (!mp) {
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "out of memory");
        return -1;
    }
    int rc = multipart_parser_feed(mp, req->body ? req->body : "", req->body_len);
    if (rc == 0) rc = multipart_parser_finish(mp);
    if (rc != 0) {
        http_respond_error(req, 400, "invalid_multipart",
                           arena_strdup(&req->arena, multipart_parser_error_detail(mp)));
        multipart_parser_free(mp);
        return -1;
    }
    multipart_parser_free(mp);
    return 0;
}

static int profile__parse_json(http_req_t *req, profile__patch_t *p, api_errors_t *e)
{
    yajl_val body = http_req_json(req);
    if (!body) return -1;
    if (!YAJL_IS_OBJECT(body)) {
        api_errors_add(e, "non_field_errors", "Invalid data. Expected a dictionary.");
        return 0;
    }
    api_field_str(e, body, "title", false, PROFILE__TEXT_MAX, &p->title);
    api_field_str(e, body, "contact_phone", false, PROFILE__TEXT_MAX, &p->contact_phone);
    api_field_str(e, body, "business_name", false, PROFILE__TEXT_MAX, &p->business_name);
    api_field_str(e, body, "first_name", false, PROFILE__TEXT_MAX, &p->first_name);
    api_field_str(e, body, "last_name", false, PROFILE__TEXT_MAX, &p->last_name);
    yajl_val av = json_get(body, "avatar");
    if (av && YAJL_IS_NULL(av))
        p->avatar_delete = true;
    else if (av && !(YAJL_IS_STRING(av))) /* the current path echoed back is ignored */
        api_errors_add(e, "avatar", "Send the avatar as a file (multipart/form-data).");
    return 0;
}

static void profile__check_len(api_errors_t *e, const char *field, const char *v, size_t max)
{
    if (v && strlen(v) > max)
        api_errors_add(
            e, field,
            arena_printf(e->arena, "Ensure this field has no more than %zu characters.", max));
}

static void profile__patch_authed(http_req_t *req, const api_user_t *user)
{
    app_t *app = req->app;
    api_errors_t e;
    api_errors_init(&e, req);
    profile__patch_t *p = arena_calloc(&req->arena, sizeof *p);
    const char *ctype = http_req_header(req, "content-type");
    if (ctype && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
        if (profile__parse_multipart(req, ctype, p, &e) != 0) return;
    } else if (profile__parse_json(req, p, &e) != 0) {
        return;
    }
    profile__check_len(&e, "title", p->title, 100);
    profile__check_len(&e, "contact_phone", p->contact_phone, 20);
    profile__check_len(&e, "business_name", p->business_name, 200);
    profile__check_len(&e, "first_name", p->first_name, 150);
    profile__check_len(&e, "last_name", p->last_name, 150);
    /* As in the reference, a blank name leaves the stored one unchanged. */
    if (p->first_name && !*p->first_name) p->first_name = NULL;
    if (p->last_name && !*p->last_name) p->last_name = NULL;
    imgsniff_info_t info;
    memset(&info, 0, sizeof info);
    if (p->avatar) {
        int rc = imgsniff_detect_limited(p->avatar, p->avatar_len, PROFILE__AVATAR_MAX_SIDE,
                                         PROFILE__AVATAR_MAX_SIDE, &info);
        if (rc == IMGSNIFF_ERR_TOO_LARGE)
            api_errors_add(&e, "avatar", "The avatar must be at most 4096 pixels on each side.");
        else if (rc != 0)
            api_errors_add(&e, "avatar",
                           "Upload a valid image. The file you uploaded was either not an image "
                           "or a corrupted image.");
    }
    if (e.n) {
        api_errors_respond(req, &e);
        return;
    }
    char key[CRYPTO_B64URL_ENC_LEN(16)];
    char *hex = NULL;
    if (p->avatar) {
        uint8_t raw[16];
        if (crypto_random(raw, sizeof raw) != 0) {
            http_respond_error(req, 500, "internal_error", "no randomness");
            return;
        }
        crypto_base64url_encode(raw, sizeof raw, key, sizeof key);
        size_t cap = 2 * p->avatar_len + 3;
        hex = arena_alloc(&req->arena, cap);
        hex[0] = '\\';
        hex[1] = 'x';
        crypto_hex_encode(p->avatar, p->avatar_len, hex + 2, cap - 2);
    }
    static const char sql[] =
        "WITH p0 AS (INSERT INTO user_profiles (user_id, title, contact_phone, business_name) "
        "VALUES ($1, COALESCE($2, ''), COALESCE($3, ''), COALESCE($4, '')) "
        "ON CONFLICT (user_id) DO UPDATE SET "
        "title = COALESCE($2, user_profiles.title), "
        "contact_phone = COALESCE($3, user_profiles.contact_phone), "
        "business_name = COALESCE($4, user_profiles.business_name), updated_at = now() "
        "RETURNING *), "
        "u AS (UPDATE users SET first_name = COALESCE($5, first_name), "
        "last_name = COALESCE($6, last_name) WHERE id = $1 RETURNING *), "
        "a AS (INSERT INTO user_avatars (user_id, key, mime, ext, data) "
        "SELECT $1, $7, $8, $9, $10::bytea WHERE $7::text IS NOT NULL "
        "ON CONFLICT (user_id) DO UPDATE SET key = EXCLUDED.key, mime = EXCLUDED.mime, "
        "ext = EXCLUDED.ext, data = EXCLUDED.data, updated_at = now() RETURNING key, ext), "
        "ad AS (DELETE FROM user_avatars WHERE user_id = $1 AND $11::bool) "
        "SELECT " PROFILE__COLS ", u.email, u.first_name, u.last_name, u.username, "
        "COALESCE((SELECT key || '.' || ext FROM a), CASE WHEN $11::bool THEN NULL ELSE "
        "(SELECT key || '.' || ext FROM user_avatars WHERE user_id = $1) END) AS avatar "
        "FROM p0 p JOIN u ON u.id = p.user_id";
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)user->id);
    const char *params[11] = {id,
                              p->title,
                              p->contact_phone,
                              p->business_name,
                              p->first_name,
                              p->last_name,
                              p->avatar ? key : NULL,
                              p->avatar ? info.mime : NULL,
                              p->avatar ? info.extension : NULL,
                              hex,
                              p->avatar_delete && !p->avatar ? "true" : "false"};
    if (db_query(app->db, sql, 11, params, profile__done, req, NULL) != 0) api_db_unavailable(req);
}

void api_profile_patch(http_req_t *req)
{
    api_auth(req, true, profile__patch_authed);
}

/* ---- avatar images ----------------------------------------------------------------------- */

static void avatar__done(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    if (api_db_failed(req, res)) return;
    const char *mime = db_result_nrows(res) == 1 ? db_result_get(res, 0, 0) : NULL;
    const char *data = mime ? db_result_get(res, 0, 1) : NULL;
    size_t n = data ? strlen(data) : 0;
    if (!data || n < 2 || data[0] != '\\' || data[1] != 'x') {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    uint8_t *bytes = arena_alloc(&req->arena, n / 2 + 1);
    int len = crypto_hex_decode(data + 2, n - 2, bytes, n / 2 + 1);
    if (len < 0) {
        http_respond_error(req, 500, "internal_error", "bad avatar data");
        return;
    }
    /* The key changes with every upload, so the URL's content never changes. */
    http_res_header(req, "Cache-Control", "public, max-age=31536000, immutable");
    http_res_header(req, "X-Content-Type-Options", "nosniff");
    http_respond(req, 200, mime, bytes, (size_t)len);
}

void api_avatar_get(http_req_t *req)
{
    app_t *app = req->app;
    const char *name = req->params[0];
    const char *dot = strchr(name, '.');
    size_t klen = dot ? (size_t)(dot - name) : 0;
    if (klen != 22 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_") != klen) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    if (!app->db) {
        api_db_unavailable(req);
        return;
    }
    const char *params[2] = {arena_strndup(&req->arena, name, klen), dot + 1};
    if (db_query(app->db, "SELECT mime, data FROM user_avatars WHERE key = $1 AND ext = $2", 2,
                 params, avatar__done, req, NULL) != 0)
        api_db_unavailable(req);
}
