/* throttle: limits password guessing. Failed sign-ins are counted per client address and per
 * account in PostgreSQL (table login_failures), so the limit holds across every server process
 * and instance. Each key has a fixed window that starts at its first failure; once a key has
 * max_failures failures inside its window, attempts are refused (429 + Retry-After) until the
 * window ends. A successful sign-in clears the account's counter (not the address's). */
#ifndef NOVA_API_THROTTLE_H
#define NOVA_API_THROTTLE_H

#include "db/db.h"
#include "http/http.h"

typedef struct {
    char ip[80];   /* "ip:<address>" */
    char acct[72]; /* "acct:<first 64 bits of sha256(lower(login))>" in hex */
    int max_failures;
    int window_s;
} throttle_keys_t;

/* Fills the keys for this request's client address and the login name (email or username,
 * compared without case) with the limits from the configuration. */
void throttle_keys(http_req_t *req, const char *login, throttle_keys_t *out);

/* Called with the database result (check it with api_db_failed) and, when it succeeded, the
 * seconds the client must wait (0 = allowed). */
typedef void (*throttle_check_cb)(db_result_t *res, int retry_after_s, void *arg);

/* Same contract as db_query (0 = cb runs later; negative = it never runs). */
int throttle_check(db_pool_t *db, const throttle_keys_t *k, throttle_check_cb cb, void *arg,
                   db_query_t **handle);
/* Records one failure for both keys (fire and forget when cb is NULL). */
int throttle_fail(db_pool_t *db, const throttle_keys_t *k, db_query_cb cb, void *arg);
/* Clears the account counter after a successful sign-in (fire and forget). */
int throttle_success(db_pool_t *db, const throttle_keys_t *k);

/* Answers 429 with Retry-After and the error body. */
void throttle_respond(http_req_t *req, int retry_after_s);

#endif
