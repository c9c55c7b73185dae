/* accounts: the account endpoints (register, login, logout, current user, profile and avatar,
 * password change and reset, unlock screen, the staff user list) and what they share: field
 * validation with the reference API's error bodies, the user JSON shapes, and start-up
 * (the mailer check and the optional first administrator). Handlers are wired in routes.c. */
#ifndef NOVA_API_ACCOUNTS_H
#define NOVA_API_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "api/auth.h"
#include "api/password.h"
#include "core/config.h"
#include "http/http.h"

/* Largest request body of the JSON account endpoints, and of the profile (avatar upload). */
#define API_ACCOUNTS_MAX_BODY 16384
#define API_AVATAR_MAX_BYTES  (1024 * 1024)
#define API_PROFILE_MAX_BODY  (API_AVATAR_MAX_BYTES + 65536)

/* Handlers (accounts.c, account_password.c, profile.c, users.c). */
void api_register(http_req_t *req);
void api_login(http_req_t *req);
void api_logout(http_req_t *req);
void api_current_user(http_req_t *req);
void api_unlock_screen(http_req_t *req);
void api_change_password(http_req_t *req);
void api_password_reset(http_req_t *req);
void api_password_reset_confirm(http_req_t *req);
void api_profile_get(http_req_t *req);
void api_profile_patch(http_req_t *req);
void api_avatar_get(http_req_t *req);
void api_users_list(http_req_t *req);
void api_users_get(http_req_t *req);
void api_users_patch(http_req_t *req);
void api_users_toggle_active(http_req_t *req);

/* Start-up, before serving (blocking libpq, like migrations): checks NOVA_MAIL and creates the
 * administrator from NOVA_ADMIN_EMAIL/NOVA_ADMIN_PASSWORD when set and missing. Returns 0 or -1
 * with a message in err. */
int api_accounts_start(const config_t *cfg, char *err, size_t errlen);
/* `nova-storyteller createsuperuser --username U --email E`; returns the exit status. */
int api_createsuperuser_main(const config_t *cfg, int argc, char **argv);

/* ---- shared by the account files ---------------------------------------------------------- */

/* Field errors collected in request order, answered as
 * 400 {"error": "Validation failed", "details": {"field": ["message", ...]}}. */
typedef struct api_field_err api_field_err_t;
typedef struct {
    arena_t *arena;
    api_field_err_t *head, *tail;
    size_t n;
} api_errors_t;

void api_errors_init(api_errors_t *e, http_req_t *req);
void api_errors_add(api_errors_t *e, const char *field, const char *msg);
void api_errors_respond(http_req_t *req, const api_errors_t *e);

/* Reads a string member. Absent (or null when !required) leaves *out NULL and returns true;
 * wrong type, or missing when required, or longer than max bytes, or invalid UTF-8 adds an error
 * and returns false. */
bool api_field_str(api_errors_t *e, yajl_val body, const char *key, bool required, size_t max,
                   const char **out);
/* Reads a boolean member (true/false; the strings "true"/"false" too, as form posts send them). */
bool api_field_bool(api_errors_t *e, yajl_val body, const char *key, bool required, bool *present,
                    bool *out);

/* Validators: NULL when valid, else the message. */
const char *api_validate_username(const char *s);
const char *api_validate_email(const char *s);
/* Checks length (8..PASSWORD_MAX_LEN bytes), not entirely numeric, not equal to the username
 * or the email (ignoring case). */
const char *api_validate_password(const char *pw, const char *username, const char *email);

/* Password hashing parameters from the configuration. */
void api_password_params(const config_t *cfg, password_params_t *p);

/* The base URL for absolute links: NOVA_PUBLIC_URL, else http://<Host header>. In the arena. */
const char *api_base_url(http_req_t *req);

/* Writes {id, email, username, firstName, lastName, role} (current-user shape) members into an
 * open map. */
void api_user_json_brief(yajl_gen g, const api_user_t *u);
/* The staff user list item; `detail` adds is_senior. */
void api_user_json_admin(yajl_gen g, const api_user_t *u, bool detail);

/* Answers {"message": msg} with status. */
void api_respond_message(http_req_t *req, int status, const char *msg);
void api_respond_error_only(http_req_t *req, int status, const char *error);

/* Checks `password` against the signed-in user's hash, throttled like sign-in (429 answered
 * here). Then done(req, ctx, ok) runs; a database failure is answered here and done never runs.
 * A wrong password counts as a failure for the user's account and the client address. */
typedef void (*api_verify_done_fn)(http_req_t *req, void *ctx, bool ok);
void api_verify_user_password(http_req_t *req, const api_user_t *user, const char *password,
                              api_verify_done_fn done, void *ctx);
#endif
