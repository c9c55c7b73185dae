#include "api/auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "core/crypto.h"

#define NOVA_STR_(x) #x
#define NOVA_STR(x)  NOVA_STR_(x)

static const char auth__not_provided[] = "Authentication credentials were not provided.";
static const char auth__invalid[] = "Invalid token.";

void api_auth_respond_401(http_req_t *req, const char *detail)
{
    http_res_header(req, "WWW-Authenticate", "Token");
    http_respond_detail(req, 401, detail);
}

const char *api_user_role(const api_user_t *user)
{
    return user->is_superuser ? "Admin" : user->is_staff ? "Staff" : "User";
}

static const char *auth__col(http_req_t *req, const db_result_t *res, int row, const char *name,
                             bool *missing)
{
    int c = db_result_col(res, name);
    if (c < 0) {
        *missing = true;
        return NULL;
    }
    if (db_result_is_null(res, row, c)) return NULL;
    return arena_strdup(&req->arena, db_result_get(res, row, c));
}

int api_user_from_row(http_req_t *req, const db_result_t *res, int row, api_user_t *out)
{
    bool missing = false;
    memset(out, 0, sizeof *out);
    const char *id = auth__col(req, res, row, "id", &missing);
    out->id = id ? strtoll(id, NULL, 10) : 0;
    out->username = auth__col(req, res, row, "username", &missing);
    out->email = auth__col(req, res, row, "email", &missing);
    out->first_name = auth__col(req, res, row, "first_name", &missing);
    out->last_name = auth__col(req, res, row, "last_name", &missing);
    const char *b;
    b = auth__col(req, res, row, "is_active", &missing);
    out->is_active = b && b[0] == 't';
    b = auth__col(req, res, row, "is_staff", &missing);
    out->is_staff = b && b[0] == 't';
    b = auth__col(req, res, row, "is_superuser", &missing);
    out->is_superuser = b && b[0] == 't';
    out->date_joined = auth__col(req, res, row, "date_joined", &missing);
    out->last_login = auth__col(req, res, row, "last_login", &missing);
    if (!out->first_name) out->first_name = "";
    if (!out->last_name) out->last_name = "";
    return missing || !out->id || !out->username || !out->email ? -EINVAL : 0;
}

void api_token_hash_param(const char *key, size_t len, char hash_param[67])
{
    uint8_t d[CRYPTO_SHA256_LEN];
    crypto_sha256(key, len, d);
    hash_param[0] = '\\';
    hash_param[1] = 'x';
    crypto_hex_encode(d, sizeof d, hash_param + 2, 65);
}

int api_token_new(char key[API_TOKEN_KEY_LEN + 1], char hash_param[67])
{
    uint8_t raw[32];
    int rc = crypto_random(raw, sizeof raw);
    if (rc != 0) return rc;
    crypto_base64url_encode(raw, sizeof raw, key, API_TOKEN_KEY_LEN + 1);
    crypto_wipe(raw, sizeof raw);
    api_token_hash_param(key, API_TOKEN_KEY_LEN, hash_param);
    return 0;
}

/* ---- the lookup ------------------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    api_auth_next_fn next;
    bool staff_only;
    db_query_t *q;
    char hash[67];
} auth__ctx_t;

static void auth__abort(http_req_t *req, void *arg)
{
    auth__ctx_t *c = arg;
    db_query_cancel(c->q);
    http_respond(req, 499, NULL, NULL, 0);
}

static void auth__done(db_result_t *res, void *arg)
{
    auth__ctx_t *c = arg;
    http_req_t *req = c->req;
    req->on_abort = NULL;
    req->on_abort_arg = NULL;
    if (api_db_failed(req, res)) return;
    app_t *app = req->app;
    if (db_result_nrows(res) != 1) {
        api_auth_respond_401(req, auth__invalid);
        return;
    }
    /* The index found the row by hash equality; comparing again in constant time costs nothing
     * and keeps the check independent of how the database compares. */
    const char *stored = db_result_get_by_name(res, 0, "token_hash");
    if (!stored || strlen(stored) != 66 || !crypto_ct_equal(stored, c->hash, 66)) {
        api_auth_respond_401(req, auth__invalid);
        return;
    }
    const char *token_id = db_result_get_by_name(res, 0, "token_id");
    const char *expired = db_result_get_by_name(res, 0, "expired");
    if (expired && expired[0] == 't') {
        const char *p[1] = {token_id};
        db_query(app->db, "DELETE FROM auth_tokens WHERE id = $1", 1, p, NULL, NULL, NULL);
        api_auth_respond_401(req, "Token has expired.");
        return;
    }
    api_user_t *user = arena_calloc(&req->arena, sizeof *user);
    if (api_user_from_row(req, res, 0, user) != 0) {
        http_respond_error(req, 500, "internal_error", "unexpected user row");
        return;
    }
    if (!user->is_active) {
        api_auth_respond_401(req, "User inactive or deleted.");
        return;
    }
    user->token_id = token_id ? strtoll(token_id, NULL, 10) : 0;
    const char *stale = db_result_get_by_name(res, 0, "stale");
    if (stale && stale[0] == 't') {
        char ttl[24];
        snprintf(ttl, sizeof ttl, "%lld", (long long)app->cfg->token_ttl_days);
        const char *p[2] = {token_id, ttl};
        db_query(app->db,
                 "UPDATE auth_tokens SET last_used_at = now(), "
                 "expires_at = now() + $2::int * interval '1 day' WHERE id = $1",
                 2, p, NULL, NULL, NULL);
    }
    req->user_id = user->id;
    if (c->staff_only && !user->is_staff && !user->is_superuser) {
        http_respond_detail(req, 403, "You do not have permission to perform this action.");
        return;
    }
    c->next(req, user);
}

/* Extracts the key from the Authorization header. Returns 1 with the key, 0 when there are no
 * credentials of our schemes, or -1 with *err set when the header is malformed. */
static int auth__parse(const char *h, const char **key, size_t *len, const char **err)
{
    if (!h) return 0;
    size_t scheme;
    if (strncasecmp(h, "Token", 5) == 0 && (h[5] == ' ' || h[5] == '\0'))
        scheme = 5;
    else if (strncasecmp(h, "Bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\0'))
        scheme = 6;
    else
        return 0; /* another scheme (Basic, ...): not ours, as if absent */
    const char *p = h + scheme;
    while (*p == ' ')
        p++;
    if (!*p) {
        *err = "Invalid token header. No credentials provided.";
        return -1;
    }
    size_t n = strlen(p);
    while (n && p[n - 1] == ' ')
        n--;
    if (memchr(p, ' ', n)) {
        *err = "Invalid token header. Token string should not contain spaces.";
        return -1;
    }
    *key = p;
    *len = n;
    return 1;
}

static void auth__start(http_req_t *req, bool required, bool staff_only, api_auth_next_fn next)
{
    app_t *app = req->app;
    const char *key = NULL, *err = NULL;
    size_t len = 0;
    int rc = auth__parse(http_req_header(req, "authorization"), &key, &len, &err);
    if (rc < 0) {
        api_auth_respond_401(req, err);
        return;
    }
    if (rc == 0) {
        if (required)
            api_auth_respond_401(req, auth__not_provided);
        else
            next(req, NULL);
        return;
    }
    /* Keys we never issued are refused without a database round trip. */
    uint8_t raw[32];
    if (len != API_TOKEN_KEY_LEN || crypto_base64url_decode(key, len, raw, sizeof raw) != 32) {
        api_auth_respond_401(req, auth__invalid);
        return;
    }
    if (!app->db) {
        api_db_unavailable(req);
        return;
    }
    auth__ctx_t *c = arena_calloc(&req->arena, sizeof *c);
    c->req = req;
    c->next = next;
    c->staff_only = staff_only;
    api_token_hash_param(key, len, c->hash);
    static const char sql[] =
        "SELECT t.id AS token_id, t.token_hash::text AS token_hash, "
        "t.expires_at <= now() AS expired, "
        "t.last_used_at < now() - interval '" NOVA_STR(
            API_AUTH_TOUCH_S) " seconds' AS stale, " API_USER_COLS
                              " FROM auth_tokens t JOIN users u ON u.id = t.user_id "
                              "WHERE t.token_hash = $1::bytea";
    const char *params[1] = {c->hash};
    if (db_query(app->db, sql, 1, params, auth__done, c, &c->q) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = auth__abort;
    req->on_abort_arg = c;
}

void api_auth(http_req_t *req, bool required, api_auth_next_fn next)
{
    auth__start(req, required, false, next);
}

void api_auth_staff(http_req_t *req, api_auth_next_fn next)
{
    auth__start(req, true, true, next);
}
