/* account_password: changing the password (the current one is required, throttled like
 * sign-in, and every other signed-in device is signed out) and the reset flow: a request always
 * gets the same answer and the link goes through the mailer; the token in it is single-use,
 * expires, and only its hash is stored. The link's base comes from the configuration or the
 * server's own listen address, never from the request (mailer_base_url). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/mailer.h"
#include "http/server.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"

static yajl_val pw__body(http_req_t *req)
{
    yajl_val body = http_req_json(req);
    if (body && !YAJL_IS_OBJECT(body)) {
        api_errors_t e;
        api_errors_init(&e, req);
        api_errors_add(&e, "non_field_errors", "Invalid data. Expected a dictionary.");
        api_errors_respond(req, &e);
        return NULL;
    }
    return body;
}

/* A full password hashing queue (password.h) or a failed allocation: both pass in a moment. */
static void pw__busy(http_req_t *req, const char *detail)
{
    http_res_header(req, "Retry-After", "1");
    http_respond_error(req, 503, "unavailable", detail);
}

/* ---- change password ------------------------------------------------------------------------ */

typedef struct {
    http_req_t *req;
    const api_user_t *user;
    const char *new_password;
} change__ctx_t;

static void change__stored(db_result_t *res, void *arg)
{
    change__ctx_t *c = arg;
    if (api_db_failed(c->req, res)) return;
    log_info("accounts", "user %lld changed their password", (long long)c->user->id);
    api_respond_message(c->req, 200, "Password changed successfully");
}

static void change__hashed(int status, const char *phc, void *arg)
{
    change__ctx_t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (status != 0) {
        http_respond_error(req, 500, "internal_error", "password hashing failed");
        return;
    }
    /* The device that changed the password stays signed in; every other one is signed out. */
    static const char sql[] = "WITH d AS (DELETE FROM auth_tokens WHERE user_id = $1 AND id <> $2) "
                              "UPDATE users SET password_hash = $3 WHERE id = $1";
    char uid[24], tid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)c->user->id);
    snprintf(tid, sizeof tid, "%lld", (long long)c->user->token_id);
    const char *params[3] = {uid, tid, phc};
    if (db_query(app->db, sql, 3, params, change__stored, c, NULL) != 0) api_db_unavailable(req);
}

static void change__verified(http_req_t *req, void *ctx, bool ok)
{
    change__ctx_t *c = ctx;
    app_t *app = req->app;
    if (!ok) {
        /* 400, not 401: the reference frontend signs the user out on any 401. */
        api_errors_t e;
        api_errors_init(&e, req);
        api_errors_add(&e, "current_password", "Your current password is incorrect.");
        api_errors_respond(req, &e);
        return;
    }
    password_params_t pp;
    api_password_params(app->cfg, &pp);
    if (password_hash_async(app->loop, &pp, c->new_password, strlen(c->new_password),
                            change__hashed, c) != 0)
        pw__busy(req, "cannot queue password hashing");
}

static void change__authed(http_req_t *req, const api_user_t *user)
{
    yajl_val body = pw__body(req);
    if (!body) return;
    api_errors_t e;
    api_errors_init(&e, req);
    const char *current = NULL, *np = NULL, *confirm = NULL;
    /* old_password is the name Django's own form uses; either is accepted. */
    const char *cur_key = json_get(body, "current_password") ? "current_password" : "old_password";
    if (!json_get(body, cur_key)) cur_key = "current_password";
    api_field_str(&e, body, cur_key, true, PASSWORD_MAX_LEN, &current);
    if (api_field_str(&e, body, "new_password", true, PASSWORD_MAX_LEN, &np) && np) {
        const char *m = api_validate_password(np, user->username, user->email);
        if (m) api_errors_add(&e, "new_password", m);
    }
    if (api_field_str(&e, body, "confirm_password", false, PASSWORD_MAX_LEN, &confirm) && confirm &&
        np && strcmp(confirm, np) != 0)
        api_errors_add(&e, "confirm_password", "Passwords do not match.");
    if (e.n) {
        api_errors_respond(req, &e);
        return;
    }
    change__ctx_t *c = arena_calloc(&req->arena, sizeof *c);
    c->req = req;
    c->user = user;
    c->new_password = np;
    api_verify_user_password(req, user, current, change__verified, c);
}

void api_change_password(http_req_t *req)
{
    api_auth(req, true, change__authed);
}

/* ---- password reset request ----------------------------------------------------------------- */

static const char reset__message[] =
    "If an account with that email exists, we have sent password reset instructions.";

/* Outlives the request: the answer goes out before the account is even looked up, so the
 * response time says nothing about whether the address has an account. */
typedef struct {
    app_t *app;
    int64_t user_id;
    char *email;
    char key[API_TOKEN_KEY_LEN + 1];
    char hash[67];
} reset__job_t;

static void reset__job_free(reset__job_t *j)
{
    crypto_wipe(j->key, sizeof j->key);
    free(j->email);
    free(j);
}

static void reset__stored(db_result_t *res, void *arg)
{
    reset__job_t *j = arg;
    if (db_result_status(res) != DB_OK) {
        log_warn("accounts", "password reset not stored: %s",
                 db_status_name(db_result_status(res)));
        reset__job_free(j);
        return;
    }
    const char *uid = db_result_nrows(res) == 1 ? db_result_get(res, 0, 0) : NULL;
    if (!uid) { /* no active account with that address: nothing to send */
        reset__job_free(j);
        return;
    }
    j->user_id = strtoll(uid, NULL, 10);
    const char *to = db_result_get(res, 0, 1);
    const config_t *cfg = j->app->cfg;
    const mailer_t *m = mailer_find(cfg->mail);
    /* Never from the request that asked for the reset (see mailer_base_url). */
    char base[384], local[128];
    if (http_server_local_url(j->app->http, local, sizeof local) != 0) local[0] = '\0';
    if (mailer_base_url(cfg->public_url, local, base, sizeof base) != 0) {
        log_error("accounts", "NOVA_PUBLIC_URL is too long for mail links: reset mail not sent");
        reset__job_free(j);
        return;
    }
    char link[512];
    snprintf(link, sizeof link, "%s/auth/reset-pass?token=%s", base, j->key);
    char text[1024];
    snprintf(text, sizeof text,
             "Someone asked to reset the password of your Nova Storyteller account.\n"
             "Open this link within %lld minutes to choose a new one:\n%s\n"
             "If it was not you, ignore this message.\n",
             (long long)cfg->password_reset_ttl_min, link);
    mailer_msg_t msg = {.user_id = j->user_id,
                        .to = to,
                        .subject = "Reset your password",
                        .text = text,
                        .link = link};
    if (!m || m->send(&msg) != 0)
        log_error("accounts", "password reset mail for user %lld not sent", (long long)j->user_id);
    crypto_wipe(link, sizeof link);
    crypto_wipe(text, sizeof text);
    reset__job_free(j);
}

void api_password_reset(http_req_t *req)
{
    app_t *app = req->app;
    yajl_val body = pw__body(req);
    if (!body) return;
    api_errors_t e;
    api_errors_init(&e, req);
    const char *email = NULL;
    if (api_field_str(&e, body, "email", true, 254, &email) && email) {
        const char *m = api_validate_email(email);
        if (m) api_errors_add(&e, "email", m);
    }
    /* email is required: without an error recorded it is set; the check states that for the
     * strdup below. */
    if (e.n || !email) {
        api_errors_respond(req, &e);
        return;
    }
    if (!app->db) {
        api_db_unavailable(req);
        return;
    }
    reset__job_t *j = calloc(1, sizeof *j);
    if (j) {
        j->app = app;
        j->email = strdup(email);
    }
    if (!j || !j->email || api_token_new(j->key, j->hash) != 0) {
        if (j) reset__job_free(j);
        pw__busy(req, "out of memory");
        return;
    }
    /* Only active accounts get a link; older unused links of the account stay valid until they
     * expire or one of them is used (using one voids the others). */
    static const char sql[] =
        "WITH r AS (INSERT INTO password_resets (token_hash, user_id, expires_at) "
        "SELECT $1::bytea, id, now() + $3::int * interval '1 minute' FROM users "
        "WHERE lower(email) = lower($2) AND is_active RETURNING user_id) "
        "SELECT r.user_id, u.email FROM r JOIN users u ON u.id = r.user_id";
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)app->cfg->password_reset_ttl_min);
    const char *params[3] = {j->hash, j->email, ttl};
    if (db_query(app->db, sql, 3, params, reset__stored, j, NULL) != 0) reset__job_free(j);
    api_respond_message(req, 200, reset__message);
}

/* ---- password reset confirmation ------------------------------------------------------------ */

typedef struct {
    http_req_t *req;
    const char *new_password;
    char hash[67];
} confirm__ctx_t;

static void confirm__invalid(http_req_t *req)
{
    api_errors_t e;
    api_errors_init(&e, req);
    api_errors_add(&e, "token", "Invalid or expired token.");
    api_errors_respond(req, &e);
}

static void confirm__stored(db_result_t *res, void *arg)
{
    confirm__ctx_t *c = arg;
    if (api_db_failed(c->req, res)) return;
    if (db_result_nrows(res) != 1) { /* used by a concurrent request in the meantime */
        confirm__invalid(c->req);
        return;
    }
    log_info("accounts", "user %s reset their password", db_result_get(res, 0, 0));
    api_respond_message(c->req, 200, "Password has been reset successfully");
}

static void confirm__hashed(int status, const char *phc, void *arg)
{
    confirm__ctx_t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (status != 0) {
        http_respond_error(req, 500, "internal_error", "password hashing failed");
        return;
    }
    /* One statement: use the token (only if still unused and unexpired), void the account's
     * other reset tokens, set the password and sign out every device. */
    static const char sql[] =
        "WITH r AS (UPDATE password_resets SET used_at = now() WHERE token_hash = $1::bytea "
        "AND used_at IS NULL AND expires_at > now() RETURNING user_id), "
        "x AS (UPDATE password_resets SET used_at = now() WHERE user_id = (SELECT user_id FROM r) "
        "AND used_at IS NULL AND token_hash <> $1::bytea), "
        "u AS (UPDATE users SET password_hash = $2 WHERE id = (SELECT user_id FROM r) AND "
        "is_active "
        "RETURNING id), "
        "d AS (DELETE FROM auth_tokens WHERE user_id = (SELECT id FROM u)) "
        "SELECT id FROM u";
    const char *params[2] = {c->hash, phc};
    if (db_query(app->db, sql, 2, params, confirm__stored, c, NULL) != 0) api_db_unavailable(req);
}

static void confirm__looked_up(db_result_t *res, void *arg)
{
    confirm__ctx_t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (api_db_failed(req, res)) return;
    api_user_t u;
    if (db_result_nrows(res) != 1 || api_user_from_row(req, res, 0, &u) != 0) {
        confirm__invalid(req);
        return;
    }
    const char *m = api_validate_password(c->new_password, u.username, u.email);
    if (m) {
        api_errors_t e;
        api_errors_init(&e, req);
        api_errors_add(&e, "new_password", m);
        api_errors_respond(req, &e);
        return;
    }
    password_params_t pp;
    api_password_params(app->cfg, &pp);
    if (password_hash_async(app->loop, &pp, c->new_password, strlen(c->new_password),
                            confirm__hashed, c) != 0)
        pw__busy(req, "cannot queue password hashing");
}

void api_password_reset_confirm(http_req_t *req)
{
    app_t *app = req->app;
    yajl_val body = pw__body(req);
    if (!body) return;
    api_errors_t e;
    api_errors_init(&e, req);
    const char *token = NULL, *np = NULL, *confirm = NULL;
    api_field_str(&e, body, "token", true, 128, &token);
    if (api_field_str(&e, body, "new_password", true, PASSWORD_MAX_LEN, &np) && np &&
        strlen(np) < 8)
        api_errors_add(&e, "new_password",
                       "This password is too short. It must contain at least 8 characters.");
    if (api_field_str(&e, body, "confirm_password", false, PASSWORD_MAX_LEN, &confirm) && confirm &&
        np && strcmp(confirm, np) != 0)
        api_errors_add(&e, "confirm_password", "Passwords do not match.");
    if (e.n) {
        api_errors_respond(req, &e);
        return;
    }
    uint8_t raw[32];
    if (strlen(token) != API_TOKEN_KEY_LEN ||
        crypto_base64url_decode(token, API_TOKEN_KEY_LEN, raw, sizeof raw) != 32) {
        confirm__invalid(req);
        return;
    }
    if (!app->db) {
        api_db_unavailable(req);
        return;
    }
    confirm__ctx_t *c = arena_calloc(&req->arena, sizeof *c);
    c->req = req;
    c->new_password = np;
    api_token_hash_param(token, API_TOKEN_KEY_LEN, c->hash);
    static const char sql[] = "SELECT " API_USER_COLS " FROM password_resets r "
                              "JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1::bytea "
                              "AND r.used_at IS NULL AND r.expires_at > now() AND u.is_active";
    const char *params[1] = {c->hash};
    if (db_query(app->db, sql, 1, params, confirm__looked_up, c, NULL) != 0)
        api_db_unavailable(req);
}
