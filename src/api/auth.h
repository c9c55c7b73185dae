/* auth: the authentication step in front of every handler that needs to know who is calling.
 * It reads `Authorization: Token <key>` (or `Bearer <key>`), looks the key up by its SHA-256
 * with one indexed query joining auth_tokens and users, and hands the handler the user. Keys
 * are 32 random bytes in base64url (43 characters), shown once at sign-in and never stored.
 *
 * Expiry slides: a token used after more than API_AUTH_TOUCH_S since its last recorded use gets
 * a new expiry (now + NOVA_TOKEN_TTL_DAYS), so a busy client costs one write per hour, not one
 * per request. A deactivated user's tokens stop working at once (is_active is read on every
 * request). Failures answer 401 with the DRF bodies and `WWW-Authenticate: Token`.
 *
 * Usage in a handler:
 *     static void my_handler_authed(http_req_t *req, const api_user_t *user) { ... }
 *     void my_handler(http_req_t *req) { api_auth(req, true, my_handler_authed); }
 */
#ifndef NOVA_API_AUTH_H
#define NOVA_API_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "http/http.h"

#define API_AUTH_TOUCH_S  3600
#define API_TOKEN_KEY_LEN 43 /* base64url of 32 bytes, no padding */

/* The authenticated user. Every string lives in req->arena (valid until the request ends). */
typedef struct {
    int64_t id;
    const char *username;
    const char *email;
    const char *first_name;
    const char *last_name;
    bool is_active;
    bool is_staff;
    bool is_superuser;
    const char *date_joined; /* ISO 8601 UTC with microseconds */
    const char *last_login;  /* same, or NULL when never */
    int64_t token_id;        /* the auth_tokens row that authenticated this request (0: none) */
} api_user_t;

typedef void (*api_auth_next_fn)(http_req_t *req, const api_user_t *user);

/* Authenticates the request, then calls next(req, user) on the loop thread (possibly after a
 * database round trip). With required == false a request without credentials continues with
 * user == NULL; credentials that are present but wrong always answer 401 (as DRF does). On
 * success req->user_id is set for the access log. Database failures answer 503/500. */
void api_auth(http_req_t *req, bool required, api_auth_next_fn next);
/* As api_auth with required == true, then 403 unless the user is staff or superuser. */
void api_auth_staff(http_req_t *req, api_auth_next_fn next);

/* DRF-style 401 with WWW-Authenticate: Token. */
void api_auth_respond_401(http_req_t *req, const char *detail);

/* SQL select list for api_user_from_row over a users table aliased `u`. */
#define API_ISO_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define API_USER_COLS                                                                              \
    "u.id, u.username, u.email, u.first_name, u.last_name, u.is_active, u.is_staff, "              \
    "u.is_superuser, " API_ISO_UTC("u.date_joined") " AS date_joined, " API_ISO_UTC(               \
        "u.last_login") " AS last_login"

/* Fills *out from row `row` of res (columns named as in API_USER_COLS; strings copied into the
 * request arena). Returns 0 or -EINVAL when a column is missing. */
int api_user_from_row(http_req_t *req, const db_result_t *res, int row, api_user_t *out);

/* "Admin" for a superuser, "Staff" for staff, otherwise "User" (the login/register `role`). */
const char *api_user_role(const api_user_t *user);

/* A new token: key (API_TOKEN_KEY_LEN + 1 bytes) for the client, and the bytea text literal of
 * its SHA-256 ("\x" + 64 hex, 67 bytes with NUL) for the database. Returns 0 or a negative errno.
 */
int api_token_new(char key[API_TOKEN_KEY_LEN + 1], char hash_param[67]);
/* The bytea literal of SHA-256(key), for lookups. */
void api_token_hash_param(const char *key, size_t len, char hash_param[67]);

#endif
