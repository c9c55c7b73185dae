/* accounts: register, login, logout, current user and unlock screen. Every password check runs
 * on the threadpool (api/password.h), and sign-in is throttled (api/throttle.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/throttle.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"

static bool accounts__db(http_req_t *req)
{
    app_t *app = req->app;
    if (app->db) return true;
    api_db_unavailable(req);
    return false;
}

/* The body must be a JSON object; anything else is a validation error like DRF's. */
static yajl_val accounts__body(http_req_t *req)
{
    yajl_val body = http_req_json(req);
    if (!body) return NULL;
    if (!YAJL_IS_OBJECT(body)) {
        api_errors_t e;
        api_errors_init(&e, req);
        api_errors_add(&e, "non_field_errors", "Invalid data. Expected a dictionary.");
        api_errors_respond(req, &e);
        return NULL;
    }
    return body;
}

/* The password hashing queue is full (password.h): a moment later it will not be. */
static void accounts__busy(http_req_t *req, const char *detail)
{
    http_res_header(req, "Retry-After", "1");
    http_respond_error(req, 503, "unavailable", detail);
}

/* ---- register ---------------------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    const char *username, *email, *first_name, *last_name, *password;
    char key[API_TOKEN_KEY_LEN + 1];
    char hash[67];
} register__ctx_t;

static void register__respond(http_req_t *req, const api_user_t *u, const char *key)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "id", u->id);
    json_kv_str(g, "username", u->username);
    json_kv_str(g, "email", u->email);
    json_kv_str(g, "firstName", u->first_name);
    json_kv_str(g, "lastName", u->last_name);
    json_kv_str(g, "role", api_user_role(u));
    json_kv_bool(g, "is_staff", u->is_staff);
    json_kv_str(g, "token", key);
    json_kv_str(g, "message", "Registration successful");
    yajl_gen_map_close(g);
    http_respond_json(req, 201, g);
    yajl_gen_free(g);
}

static void register__duplicate(http_req_t *req, bool username, bool email)
{
    api_errors_t e;
    api_errors_init(&e, req);
    if (username) api_errors_add(&e, "username", "A user with that username already exists.");
    if (email) api_errors_add(&e, "email", "A user with this email already exists.");
    api_errors_respond(req, &e);
}

static void register__inserted(db_result_t *res, void *arg)
{
    register__ctx_t *c = arg;
    http_req_t *req = c->req;
    if (db_result_status(res) == DB_E_QUERY && strcmp(db_result_sqlstate(res), "23505") == 0) {
        /* Lost a race with another registration of the same name. */
        const char *msg = db_result_error(res);
        register__duplicate(req, strstr(msg, "users_username_ci") != NULL,
                            strstr(msg, "users_email_ci") != NULL);
        return;
    }
    if (api_db_failed(req, res)) return;
    api_user_t u;
    if (db_result_nrows(res) != 1 || api_user_from_row(req, res, 0, &u) != 0) {
        http_respond_error(req, 500, "internal_error", "registration returned no user");
        return;
    }
    req->user_id = u.id;
    log_info("accounts", "user %lld registered", (long long)u.id);
    register__respond(req, &u, c->key);
}

static void register__hashed(int status, const char *phc, void *arg)
{
    register__ctx_t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (status != 0) {
        log_error("accounts", "password hashing failed: %d", status);
        http_respond_error(req, 500, "internal_error", "password hashing failed");
        return;
    }
    if (api_token_new(c->key, c->hash) != 0) {
        http_respond_error(req, 500, "internal_error", "no randomness");
        return;
    }
    /* One statement, so the user, the profile and the first token exist together or not at all.
     * is_staff and is_superuser are never taken from the request. */
    static const char sql[] =
        "WITH u AS (INSERT INTO users (username, email, first_name, last_name, password_hash) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING *), "
        "p AS (INSERT INTO user_profiles (user_id) SELECT id FROM u), "
        "t AS (INSERT INTO auth_tokens (user_id, token_hash, expires_at) "
        "SELECT id, $6::bytea, now() + $7::int * interval '1 day' FROM u) "
        "SELECT " API_USER_COLS " FROM u";
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)app->cfg->token_ttl_days);
    const char *params[7] = {c->username, c->email, c->first_name, c->last_name, phc, c->hash, ttl};
    if (db_query(app->db, sql, 7, params, register__inserted, c, NULL) != 0)
        api_db_unavailable(req);
}

static void register__checked(db_result_t *res, void *arg)
{
    register__ctx_t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (api_db_failed(req, res)) return;
    bool dup_user = false, dup_email = false;
    for (int i = 0; i < db_result_nrows(res); i++) {
        const char *u = db_result_get(res, i, 0), *e = db_result_get(res, i, 1);
        dup_user |= u && u[0] == 't';
        dup_email |= e && e[0] == 't';
    }
    if (dup_user || dup_email) {
        register__duplicate(req, dup_user, dup_email);
        return;
    }
    password_params_t pp;
    api_password_params(app->cfg, &pp);
    int rc =
        password_hash_async(app->loop, &pp, c->password, strlen(c->password), register__hashed, c);
    crypto_wipe((char *)c->password, strlen(c->password));
    if (rc != 0) accounts__busy(req, "cannot queue password hashing");
}

void api_register(http_req_t *req)
{
    if (!accounts__db(req)) return;
    yajl_val body = accounts__body(req);
    if (!body) return;
    app_t *app = req->app;
    api_errors_t e;
    api_errors_init(&e, req);
    register__ctx_t *c = arena_calloc(&req->arena, sizeof *c);
    c->req = req;
    const char *confirm = NULL;
    bool terms = false, terms_present = false;
    if (api_field_str(&e, body, "username", true, 150, &c->username) && c->username) {
        const char *m = api_validate_username(c->username);
        if (m) api_errors_add(&e, "username", m);
    }
    if (api_field_str(&e, body, "email", true, 254, &c->email) && c->email) {
        const char *m = api_validate_email(c->email);
        if (m) api_errors_add(&e, "email", m);
    }
    api_field_str(&e, body, "first_name", false, 150, &c->first_name);
    api_field_str(&e, body, "last_name", false, 150, &c->last_name);
    if (api_field_str(&e, body, "password", true, PASSWORD_MAX_LEN, &c->password) && c->password) {
        const char *m = api_validate_password(c->password, c->username, c->email);
        if (m) api_errors_add(&e, "password", m);
    }
    /* The reference frontend strips confirm_password, so it is checked only when sent. */
    if (api_field_str(&e, body, "confirm_password", false, PASSWORD_MAX_LEN, &confirm) && confirm &&
        c->password && strcmp(confirm, c->password) != 0)
        api_errors_add(&e, "confirm_password", "Passwords do not match.");
    if (api_field_bool(&e, body, "accept_terms", true, &terms_present, &terms) && !terms)
        api_errors_add(&e, "accept_terms", "You must accept the terms and conditions.");
    /* user_type is accepted for compatibility ("caregiver", "admin", ...) and ignored: accounts
     * never get privileges from the request that creates them. */
    if (e.n) {
        api_errors_respond(req, &e);
        return;
    }
    if (!c->first_name) c->first_name = "";
    if (!c->last_name) c->last_name = "";
    /* Checked first so that a taken name costs no hashing and both fields are reported at once;
     * the unique indexes still decide races (register__inserted). */
    static const char sql[] = "SELECT lower(username) = lower($1), lower(email) = lower($2) "
                              "FROM users WHERE lower(username) = lower($1) "
                              "OR lower(email) = lower($2)";
    const char *params[2] = {c->username, c->email};
    if (db_query(app->db, sql, 2, params, register__checked, c, NULL) != 0) api_db_unavailable(req);
}

/* ---- login ------------------------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    const char *login;
    bool by_email;
    const char *password;
    throttle_keys_t keys;
    api_user_t user;
    bool found;
    const char *phc; /* the stored hash (arena), NULL when there is no such account */
    bool rehash;     /* the stored hash used other parameters than the configured ones */
    const char *new_password;
    char key[API_TOKEN_KEY_LEN + 1];
    char hash[67];
} login__ctx_t;

static void login__respond_ok(http_req_t *req, login__ctx_t *c)
{
    const api_user_t *u = &c->user;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "id", u->id);
    json_kv_str(g, "email", u->email);
    json_kv_str(g, "username", u->username);
    json_kv_str(g, "firstName", u->first_name);
    json_kv_str(g, "lastName", u->last_name);
    json_kv_str(g, "role", api_user_role(u));
    json_kv_bool(g, "is_staff", u->is_staff);
    json_kv_bool(g, "is_superuser", u->is_superuser);
    json_kv_str(g, "token", c->key);
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

/* After a successful sign-in with a hash made under other parameters (NOVA_ARGON2_* changed),
 * the password is hashed again in the background so accounts follow the configuration. It owns
 * its memory: the request may be long gone when it finishes. */
typedef struct {
    app_t *app;
    int64_t user_id;
} login__rehash_t;

static void login__rehashed(int status, const char *phc, void *arg)
{
    login__rehash_t *r = arg;
    if (status == 0) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)r->user_id);
        const char *params[2] = {id, phc};
        db_query(r->app->db, "UPDATE users SET password_hash = $2 WHERE id = $1", 2, params, NULL,
                 NULL, NULL);
    }
    free(r);
}

static void login__rehash(login__ctx_t *c)
{
    app_t *app = c->req->app;
    login__rehash_t *r = malloc(sizeof *r);
    if (!r) return;
    r->app = app;
    r->user_id = c->user.id;
    password_params_t pp;
    api_password_params(app->cfg, &pp);
    if (password_hash_async(app->loop, &pp, c->new_password, strlen(c->new_password),
                            login__rehashed, r) != 0)
        free(r);
}

static void login__token_made(db_result_t *res, void *arg)
{
    login__ctx_t *c = arg;
    if (api_db_failed(c->req, res)) return;
    c->req->user_id = c->user.id;
    login__respond_ok(c->req, c);
}

static void login__verified(int status, void *arg)
{
    login__ctx_t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (c->new_password) {
        if (status == 0 && c->found && c->user.is_active) login__rehash(c);
        crypto_wipe((char *)c->new_password, strlen(c->new_password));
    }
    if (status != 0 && status != -EACCES) {
        log_error("accounts", "password verification failed: %d", status);
        throttle_undo(app->db, &c->keys);
        http_respond_error(req, 500, "internal_error", "password verification failed");
        return;
    }
    if (status == -EACCES || !c->found) {
        /* Unknown account and wrong password take the same path: the attempt was counted as a
         * failure before the hash ran, so nothing is left to record. */
        api_respond_error_only(req, 401, "Invalid email or password");
        return;
    }
    /* The password is right, so saying the account is disabled reveals nothing new. It is not
     * a failed guess, so it does not count either. */
    if (!c->user.is_active) {
        throttle_undo(app->db, &c->keys);
        api_respond_error_only(req, 401, "User account is disabled");
        return;
    }
    throttle_success(app->db, &c->keys);
    if (api_token_new(c->key, c->hash) != 0) {
        http_respond_error(req, 500, "internal_error", "no randomness");
        return;
    }
    static const char sql[] =
        "WITH t AS (INSERT INTO auth_tokens (user_id, token_hash, expires_at) "
        "VALUES ($1, $2::bytea, now() + $3::int * interval '1 day')) "
        "UPDATE users SET last_login = now() WHERE id = $1";
    char id[24], ttl[24];
    snprintf(id, sizeof id, "%lld", (long long)c->user.id);
    snprintf(ttl, sizeof ttl, "%lld", (long long)app->cfg->token_ttl_days);
    const char *params[3] = {id, c->hash, ttl};
    if (db_query(app->db, sql, 3, params, login__token_made, c, NULL) != 0) api_db_unavailable(req);
}

static void login__wipe(login__ctx_t *c)
{
    crypto_wipe((char *)c->password, strlen(c->password));
}

/* The attempt is counted (or refused) before any hashing, so parallel guesses cannot all pass
 * a check that the slow hash has not yet updated (api/throttle.h). */
static void login__counted(db_result_t *res, int retry, void *arg)
{
    login__ctx_t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    /* Answering frees the request and c with it, so everything about c is done first. */
    if (db_result_status(res) != DB_OK || retry > 0) {
        login__wipe(c);
        if (!api_db_failed(req, res)) throttle_respond(req, retry);
        return;
    }
    password_params_t pp;
    api_password_params(app->cfg, &pp);
    if (c->phc && password_needs_rehash(&pp, c->phc)) {
        c->rehash = true;
        c->new_password = c->password; /* kept (and wiped) until the outcome is known */
    }
    /* phc == NULL (no such account) hashes against nothing with the same cost. */
    int rc = password_verify_async(app->loop, &pp, c->phc, c->password, strlen(c->password),
                                   login__verified, c);
    if (rc != 0 || !c->rehash) login__wipe(c);
    if (rc != 0) {
        throttle_undo(app->db, &c->keys);
        accounts__busy(req, "cannot queue password check");
    }
}

static void login__found(db_result_t *res, void *arg)
{
    login__ctx_t *c = arg;
    http_req_t *req = c->req;
    app_t *app = req->app;
    if (db_result_status(res) != DB_OK) {
        login__wipe(c);
        api_db_failed(req, res);
        return;
    }
    if (db_result_nrows(res) == 1 && api_user_from_row(req, res, 0, &c->user) == 0) {
        c->found = true;
        const char *phc = db_result_get_by_name(res, 0, "password_hash");
        c->phc = phc ? arena_strdup(&req->arena, phc) : NULL;
        /* Counted by account, not by the name used: signing in by email and by username (and
         * the signed-in password checks) share one counter. */
        throttle_keys_user(&c->keys, c->user.id);
    }
    if (throttle_attempt(app->db, &c->keys, login__counted, c, NULL) != 0) {
        login__wipe(c);
        api_db_unavailable(req);
    }
}

void api_login(http_req_t *req)
{
    if (!accounts__db(req)) return;
    yajl_val body = accounts__body(req);
    if (!body) return;
    app_t *app = req->app;
    api_errors_t e;
    api_errors_init(&e, req);
    login__ctx_t *c = arena_calloc(&req->arena, sizeof *c);
    c->req = req;
    const char *email = NULL, *username = NULL;
    api_field_str(&e, body, "email", false, 254, &email);
    api_field_str(&e, body, "username", false, 150, &username);
    api_field_str(&e, body, "password", true, PASSWORD_MAX_LEN, &c->password);
    if (email && *email) {
        /* The frontend's field is called email; a name without '@' there is a username. */
        c->login = email;
        c->by_email = strchr(email, '@') != NULL;
        if (c->by_email && api_validate_email(email))
            api_errors_add(&e, "email", "Enter a valid email address.");
    } else if (username && *username) {
        c->login = username;
    } else if (!e.n || !json_get(body, "email")) {
        api_errors_add(&e, "email", "This field is required.");
    }
    if (e.n) {
        api_errors_respond(req, &e);
        return;
    }
    throttle_keys(req, c->login, &c->keys);
    static const char by_email[] = "SELECT " API_USER_COLS ", u.password_hash FROM users u "
                                   "WHERE lower(u.email) = lower($1)";
    static const char by_name[] = "SELECT " API_USER_COLS ", u.password_hash FROM users u "
                                  "WHERE lower(u.username) = lower($1)";
    const char *params[1] = {c->login};
    if (db_query(app->db, c->by_email ? by_email : by_name, 1, params, login__found, c, NULL) != 0)
        api_db_unavailable(req);
}

/* ---- logout, current user ------------------------------------------------------------------ */

static void logout__done(db_result_t *res, void *arg)
{
    http_req_t *req = arg;
    if (api_db_failed(req, res)) return;
    api_respond_message(req, 200, "Successfully logged out");
}

static void logout__authed(http_req_t *req, const api_user_t *user)
{
    app_t *app = req->app;
    if (!user) {
        api_respond_message(req, 200, "Successfully logged out");
        return;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)user->token_id);
    const char *params[1] = {id};
    if (db_query(app->db, "DELETE FROM auth_tokens WHERE id = $1", 1, params, logout__done, req,
                 NULL) != 0)
        api_db_unavailable(req);
}

void api_logout(http_req_t *req)
{
    api_auth(req, false, logout__authed);
}

static void current__authed(http_req_t *req, const api_user_t *user)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    api_user_json_brief(g, user);
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

void api_current_user(http_req_t *req)
{
    api_auth(req, true, current__authed);
}

/* ---- verifying the signed-in user's password (unlock screen, change password) ------------- */

typedef struct {
    http_req_t *req;
    int64_t user_id;
    const char *password;
    throttle_keys_t keys;
    api_verify_done_fn done;
    void *ctx;
} verify__ctx_t;

static void verify__checked(int status, void *arg)
{
    verify__ctx_t *v = arg;
    app_t *app = v->req->app;
    if (status != 0 && status != -EACCES) {
        throttle_undo(app->db, &v->keys);
        http_respond_error(v->req, 500, "internal_error", "password verification failed");
        return;
    }
    /* A wrong password was counted before the hash ran. */
    if (status == 0) throttle_success(app->db, &v->keys);
    v->done(v->req, v->ctx, status == 0);
}

static void verify__fetched(db_result_t *res, void *arg)
{
    verify__ctx_t *v = arg;
    app_t *app = v->req->app;
    if (db_result_status(res) != DB_OK) {
        throttle_undo(app->db, &v->keys); /* before answering, which frees v */
        api_db_failed(v->req, res);
        return;
    }
    const char *phc = db_result_nrows(res) == 1 ? db_result_get(res, 0, 0) : NULL;
    password_params_t pp;
    api_password_params(app->cfg, &pp);
    if (password_verify_async(app->loop, &pp, phc, v->password, strlen(v->password),
                              verify__checked, v) != 0) {
        throttle_undo(app->db, &v->keys);
        accounts__busy(v->req, "cannot queue password check");
    }
}

static void verify__counted(db_result_t *res, int retry, void *arg)
{
    verify__ctx_t *v = arg;
    app_t *app = v->req->app;
    if (api_db_failed(v->req, res)) return;
    if (retry > 0) {
        throttle_respond(v->req, retry);
        return;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)v->user_id);
    const char *params[1] = {id};
    if (db_query(app->db, "SELECT password_hash FROM users WHERE id = $1", 1, params,
                 verify__fetched, v, NULL) != 0) {
        throttle_undo(app->db, &v->keys);
        api_db_unavailable(v->req);
    }
}

void api_verify_user_password(http_req_t *req, const api_user_t *user, const char *password,
                              api_verify_done_fn done, void *ctx)
{
    app_t *app = req->app;
    verify__ctx_t *v = arena_calloc(&req->arena, sizeof *v);
    v->req = req;
    v->user_id = user->id;
    v->password = password;
    v->done = done;
    v->ctx = ctx;
    /* The same counters as sign-in: a stolen session must not give an attacker more guesses
     * at the password than the sign-in form would. */
    throttle_keys(req, user->email, &v->keys);
    throttle_keys_user(&v->keys, user->id);
    if (throttle_attempt(app->db, &v->keys, verify__counted, v, NULL) != 0) api_db_unavailable(req);
}

/* ---- unlock screen -------------------------------------------------------------------------- */

static void unlock__verified(http_req_t *req, void *ctx, bool ok)
{
    (void)ctx;
    if (ok)
        api_respond_message(req, 200, "Screen unlocked successfully");
    else
        api_respond_error_only(req, 401, "Invalid password");
}

static void unlock__authed(http_req_t *req, const api_user_t *user)
{
    yajl_val body = accounts__body(req);
    if (!body) return;
    const char *pw = json_get_str(body, "password");
    if (!pw || !*pw) {
        api_respond_error_only(req, 400, "Password is required");
        return;
    }
    if (strlen(pw) > PASSWORD_MAX_LEN) {
        api_respond_error_only(req, 401, "Invalid password");
        return;
    }
    api_verify_user_password(req, user, pw, unlock__verified, NULL);
}

void api_unlock_screen(http_req_t *req)
{
    api_auth(req, true, unlock__authed);
}
