#include "api/throttle.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
/* The client address lives in the connection, which the public request API does not expose yet;
 * this is the only file outside src/http that reads it (see throttle__client_ip). */
#include "http/http.h"

/* The peer address without its port ("127.0.0.1:5123" -> "127.0.0.1", "[::1]:80" -> "::1").
 * X-Forwarded-For is deliberately ignored: behind a proxy every client shares one address,
 * which is safe (stricter), whereas trusting the header would let anyone pick their own key. */
static void throttle__client_ip(http_req_t *req, char *out, size_t cap)
{
    const char *peer = http_req_peer(req);
    size_t n = strlen(peer);
    if (peer[0] == '[') {
        const char *end = strchr(peer, ']');
        n = end ? (size_t)(end - peer - 1) : 0;
        peer++;
    } else {
        const char *colon = strrchr(peer, ':');
        if (colon) n = (size_t)(colon - peer);
    }
    snprintf(out, cap, "%.*s", (int)n, peer);
}

void throttle_keys(http_req_t *req, const char *login, throttle_keys_t *out)
{
    app_t *app = req->app;
    memset(out, 0, sizeof *out);
    char ip[64];
    throttle__client_ip(req, ip, sizeof ip);
    snprintf(out->ip, sizeof out->ip, "ip:%s", ip);
    /* The account key is a hash of the lower-cased name, so the table holds no addresses. */
    char lower[256];
    size_t i = 0;
    for (; login && login[i] && i < sizeof lower - 1; i++)
        lower[i] = (char)tolower((unsigned char)login[i]);
    lower[i] = '\0';
    char hex[CRYPTO_SHA256_HEX_LEN + 1];
    crypto_sha256_hex(lower, i, hex);
    snprintf(out->acct, sizeof out->acct, "acct:%.32s", hex);
    out->max_failures = (int)app->cfg->login_max_failures;
    out->window_s = (int)app->cfg->login_window_s;
}

void throttle_keys_user(throttle_keys_t *k, int64_t user_id)
{
    snprintf(k->acct, sizeof k->acct, "user:%lld", (long long)user_id);
}

typedef struct {
    throttle_keys_t *k;
    db_pool_t *db;
    throttle_check_cb cb;
    void *arg;
} throttle__attempt_t;

/* Takes one counted attempt back from one key. The window must match, so a count never comes
 * off a later window than the one it went into. Each statement touches one row: a statement
 * that locked two rows in another order than throttle_attempt could deadlock with it. */
static void throttle__take_back(db_pool_t *db, const char *key, const char *window)
{
    static const char sql[] =
        "UPDATE login_failures SET failures = failures - 1 WHERE key = $1 AND failures > 0 "
        "AND (extract(epoch FROM window_start) * 1000000)::bigint = $2::bigint";
    if (!window[0]) return;
    const char *params[2] = {key, window};
    db_query(db, sql, 2, params, NULL, NULL, NULL);
}

static void throttle__attempted(db_result_t *res, void *arg)
{
    throttle__attempt_t a = *(throttle__attempt_t *)arg;
    free(arg);
    throttle_keys_t *k = a.k;
    if (db_result_status(res) != DB_OK) {
        a.cb(res, 0, a.arg);
        return;
    }
    int retry = 0, seen = 0;
    for (int r = 0; r < db_result_nrows(res); r++) {
        const char *key = db_result_get(res, r, 0), *n = db_result_get(res, r, 1);
        const char *win = db_result_get(res, r, 2), *wait = db_result_get(res, r, 3);
        if (!key || !n || !win || !wait) continue;
        char *slot = strcmp(key, k->acct) == 0 ? k->acct_window
                     : strcmp(key, k->ip) == 0 ? k->ip_window
                                               : NULL;
        if (!slot) continue;
        snprintf(slot, THROTTLE_WINDOW_LEN, "%s", win);
        seen++;
        if (db_result_int(res, r, "failures", 0) > k->max_failures) {
            int w = db_result_int(res, r, "wait_s", 0);
            if (w > retry) retry = w;
        }
    }
    if (seen != 2) {
        /* Cannot happen with the statement below; refusing keeps the limit if it somehow does. */
        log_error("throttle", "attempt counted %d of 2 keys", seen);
        if (retry < 1) retry = 1;
    }
    if (retry > 0) {
        /* Refused attempts check no password, so they must not count: otherwise a client locked
         * out by its address could still lock any account out by merely naming it. */
        throttle__take_back(a.db, k->acct, k->acct_window);
        throttle__take_back(a.db, k->ip, k->ip_window);
        k->acct_window[0] = k->ip_window[0] = '\0';
        k->counted = false;
    } else {
        k->counted = true;
    }
    a.cb(res, retry, a.arg);
}

int throttle_attempt(db_pool_t *db, throttle_keys_t *k, throttle_check_cb cb, void *arg,
                     db_query_t **handle)
{
    /* One statement counts both keys: PostgreSQL locks each row while the statement runs, so
     * concurrent attempts see each other's counts. A key whose window has ended starts a new
     * window at this attempt. The account key always comes first, so that two statements lock
     * rows in the same order (account, then address) and can never deadlock. */
    static const char sql[] =
        "INSERT INTO login_failures AS f (key, failures, window_start) "
        "VALUES ($1, 1, now()), ($2, 1, now()) ON CONFLICT (key) DO UPDATE SET "
        "failures = CASE WHEN f.window_start <= now() - $3::int * interval '1 second' "
        "THEN 1 ELSE f.failures + 1 END, "
        "window_start = CASE WHEN f.window_start <= now() - $3::int * interval '1 second' "
        "THEN now() ELSE f.window_start END "
        "RETURNING key, failures, (extract(epoch FROM window_start) * 1000000)::bigint, "
        "greatest(1, ceil(extract(epoch FROM window_start + $3::int * interval '1 second' "
        "- now())))::int AS wait_s";
    char win[16];
    snprintf(win, sizeof win, "%d", k->window_s);
    const char *params[3] = {k->acct, k->ip, win};
    k->counted = false;
    k->acct_window[0] = k->ip_window[0] = '\0';
    throttle__attempt_t *a = malloc(sizeof *a);
    if (!a) return -ENOMEM;
    *a = (throttle__attempt_t){.k = k, .db = db, .cb = cb, .arg = arg};
    int rc = db_query(db, sql, 3, params, throttle__attempted, a, handle);
    if (rc != 0) {
        free(a);
        return rc;
    }
    /* Old windows are pruned now and then (about one attempt in 64) so the table stays small.
     * The prune skips rows that others have locked: never waiting for a lock, it can never be
     * part of a deadlock, and a skipped row goes with a later prune. */
    uint8_t r = 0;
    if (crypto_random(&r, 1) == 0 && r < 4) {
        static const char prune[] =
            "DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures "
            "WHERE window_start < now() - $1::int * interval '1 second' FOR UPDATE SKIP LOCKED)";
        const char *pp[1] = {win};
        db_query(db, prune, 1, pp, NULL, NULL, NULL);
    }
    return 0;
}

int throttle_success(db_pool_t *db, throttle_keys_t *k)
{
    if (!k->counted) return 0;
    k->counted = false;
    /* The account starts over; the address keeps its failures but not this attempt. */
    const char *params[1] = {k->acct};
    int rc = db_query(db, "DELETE FROM login_failures WHERE key = $1", 1, params, NULL, NULL, NULL);
    throttle__take_back(db, k->ip, k->ip_window);
    return rc;
}

int throttle_undo(db_pool_t *db, throttle_keys_t *k)
{
    if (!k->counted) return 0;
    k->counted = false;
    throttle__take_back(db, k->acct, k->acct_window);
    throttle__take_back(db, k->ip, k->ip_window);
    return 0;
}

void throttle_respond(http_req_t *req, int retry_after_s)
{
    char v[16];
    snprintf(v, sizeof v, "%d", retry_after_s > 0 ? retry_after_s : 1);
    http_res_header(req, "Retry-After", v);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "error", "Too many failed sign-in attempts. Try again later.");
    json_kv_str(g, "detail", "Request was throttled.");
    json_kv_int(g, "retry_after", retry_after_s > 0 ? retry_after_s : 1);
    yajl_gen_map_close(g);
    http_respond_json(req, 429, g);
    yajl_gen_free(g);
}
