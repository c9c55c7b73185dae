/* throttle: limits password guessing (sign-in, unlock screen, change password). Attempts are
 * counted per client address and per account in PostgreSQL (table login_failures), so the limit
 * holds across every server process and instance. Each key has a fixed window that starts at
 * its first counted attempt.
 *
 * An attempt is counted for both keys in one atomic statement BEFORE its password is checked
 * (throttle_attempt), so parallel guesses cannot all read a low count while the slow hash runs:
 * of any number of overlapping guesses, at most max_failures reach a password check per window.
 * When either key's count would exceed max_failures, the attempt is refused (429 + Retry-After
 * until the window ends) and taken back from both counters, so refused attempts never lock
 * anything by themselves. The outcome then settles the counters:
 *   - wrong password (or unknown account): nothing more, the attempt stays counted;
 *   - right password (throttle_success): the account's counter is cleared and the attempt is
 *     taken back from the address's, so the address counts failures only;
 *   - no password was checked (internal error, full hashing queue; throttle_undo): taken back
 *     from both.
 * So once a key has max_failures failures inside its window, every attempt is refused until the
 * window ends, even with the right password. While an attempt is in progress it counts as a
 * failure: more than max_failures overlapping attempts on one key see some refused even if all
 * of them would have succeeded. */
#ifndef NOVA_API_THROTTLE_H
#define NOVA_API_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "http/http.h"

#define THROTTLE_WINDOW_LEN 24

typedef struct {
    char ip[80];   /* "ip:<address>" */
    char acct[72]; /* "user:<id>", or "acct:<first 128 bits of sha256(lower(login))>" in hex */
    int max_failures;
    int window_s;
    /* Set by throttle_attempt when the attempt was counted: the window (microseconds since the
     * epoch) each count went into, so taking it back never touches a later window. */
    bool counted;
    char ip_window[THROTTLE_WINDOW_LEN];
    char acct_window[THROTTLE_WINDOW_LEN];
} throttle_keys_t;

/* Fills the keys for this request's client address and the login name (email or username,
 * compared without case) with the limits from the configuration. */
void throttle_keys(http_req_t *req, const char *login, throttle_keys_t *out);
/* Makes the account key name the account itself, so sign-in by email, by username and the
 * password checks of signed-in users (unlock screen, change password) share one counter. */
void throttle_keys_user(throttle_keys_t *k, int64_t user_id);

/* Called with the database result (check it with api_db_failed) and, when it succeeded, the
 * seconds the client must wait (0 = allowed, the attempt is counted). */
typedef void (*throttle_check_cb)(db_result_t *res, int retry_after_s, void *arg);

/* Counts one attempt for both keys, or refuses it (see above). `k` must stay valid until cb runs
 * (it records the windows). Same contract as db_query (0 = cb runs later; negative = it never
 * runs). */
int throttle_attempt(db_pool_t *db, throttle_keys_t *k, throttle_check_cb cb, void *arg,
                     db_query_t **handle);
/* The counted attempt had the right password (fire and forget). Call at most one of these two,
 * once: they do nothing when the attempt was not counted, and mark it settled. */
int throttle_success(db_pool_t *db, throttle_keys_t *k);
/* The counted attempt checked no password: takes it back from both keys (fire and forget). */
int throttle_undo(db_pool_t *db, throttle_keys_t *k);

/* Answers 429 with Retry-After and the error body. */
void throttle_respond(http_req_t *req, int retry_after_s);

#endif
