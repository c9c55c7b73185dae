#include "api/throttle.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "core/crypto.h"
#include "core/json.h"
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

typedef struct {
    throttle_check_cb cb;
    void *arg;
} throttle__check_t;

static void throttle__checked(db_result_t *res, void *arg)
{
    throttle__check_t c = *(throttle__check_t *)arg;
    free(arg);
    int retry = 0;
    if (db_result_status(res) == DB_OK && db_result_nrows(res) == 1) {
        const char *v = db_result_get(res, 0, 0);
        retry = v ? atoi(v) : 0;
        if (retry < 0) retry = 0;
    }
    c.cb(res, retry, c.arg);
}

int throttle_check(db_pool_t *db, const throttle_keys_t *k, throttle_check_cb cb, void *arg,
                   db_query_t **handle)
{
    static const char sql[] =
        "SELECT COALESCE(max(ceil(extract(epoch FROM window_start + $3::int * interval '1 second' "
        "- now()))), 0)::int FROM login_failures WHERE key IN ($1, $2) AND failures >= $4::int "
        "AND window_start > now() - $3::int * interval '1 second'";
    char win[16], max[16];
    snprintf(win, sizeof win, "%d", k->window_s);
    snprintf(max, sizeof max, "%d", k->max_failures);
    const char *params[4] = {k->ip, k->acct, win, max};
    throttle__check_t *c = malloc(sizeof *c);
    if (!c) return -ENOMEM;
    c->cb = cb;
    c->arg = arg;
    int rc = db_query(db, sql, 4, params, throttle__checked, c, handle);
    if (rc != 0) free(c);
    return rc;
}

int throttle_fail(db_pool_t *db, const throttle_keys_t *k, db_query_cb cb, void *arg)
{
    /* A key whose window has ended starts a new window at this failure. */
    static const char sql[] =
        "INSERT INTO login_failures AS f (key, failures, window_start) "
        "VALUES ($1, 1, now()), ($2, 1, now()) ON CONFLICT (key) DO UPDATE SET "
        "failures = CASE WHEN f.window_start <= now() - $3::int * interval '1 second' "
        "THEN 1 ELSE f.failures + 1 END, "
        "window_start = CASE WHEN f.window_start <= now() - $3::int * interval '1 second' "
        "THEN now() ELSE f.window_start END";
    char win[16];
    snprintf(win, sizeof win, "%d", k->window_s);
    const char *params[3] = {k->ip, k->acct, win};
    int rc = db_query(db, sql, 3, params, cb, arg, NULL);
    /* Old windows are pruned now and then (about one failure in 64) so the table stays small. */
    uint8_t r = 0;
    if (rc == 0 && crypto_random(&r, 1) == 0 && r < 4) {
        static const char prune[] = "DELETE FROM login_failures "
                                    "WHERE window_start < now() - $1::int * interval '1 second'";
        const char *pp[1] = {win};
        db_query(db, prune, 1, pp, NULL, NULL, NULL);
    }
    return rc;
}

int throttle_success(db_pool_t *db, const throttle_keys_t *k)
{
    const char *params[1] = {k->acct};
    return db_query(db, "DELETE FROM login_failures WHERE key = $1", 1, params, NULL, NULL, NULL);
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
