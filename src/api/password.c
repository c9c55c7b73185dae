#include "api/password.h"

#include <argon2.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"

#define PASSWORD__SALT_LEN 16
#define PASSWORD__HASH_LEN 32

void password_params_default(password_params_t *p)
{
    p->memory_kib = 19456;
    p->iterations = 2;
    p->parallelism = 1;
}

static int password__map(int rc)
{
    switch (rc) {
    case ARGON2_OK:
        return 0;
    case ARGON2_VERIFY_MISMATCH:
        return -EACCES;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
        return -ENOMEM;
    case ARGON2_THREAD_FAIL:
        return -EIO;
    default:
        return -EINVAL;
    }
}

int password_hash_sync(const password_params_t *params, const char *pw, size_t len, char *out,
                       size_t cap)
{
    if (!params || !pw || !out || len > PASSWORD_MAX_LEN) return -EINVAL;
    size_t need = argon2_encodedlen(params->iterations, params->memory_kib, params->parallelism,
                                    PASSWORD__SALT_LEN, PASSWORD__HASH_LEN, Argon2_id);
    if (need > cap || need > PASSWORD_PHC_MAX) return -ENOSPC;
    uint8_t salt[PASSWORD__SALT_LEN];
    int rc = crypto_random(salt, sizeof salt);
    if (rc != 0) return rc;
    rc = argon2id_hash_encoded(params->iterations, params->memory_kib, params->parallelism, pw, len,
                               salt, sizeof salt, PASSWORD__HASH_LEN, out, cap);
    return password__map(rc);
}

int password_verify_sync(const char *phc, const char *pw, size_t len)
{
    if (!phc || !pw || len > PASSWORD_MAX_LEN) return -EINVAL;
    /* Only argon2id strings are ours; anything else (an unusable "!" marker) never matches. */
    if (strncmp(phc, "$argon2id$", 10) != 0) return -EACCES;
    return password__map(argon2id_verify(phc, pw, len));
}

bool password_needs_rehash(const password_params_t *params, const char *phc)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "$argon2id$v=19$m=%u,t=%u,p=%u$", params->memory_kib,
             params->iterations, params->parallelism);
    return !phc || strncmp(phc, prefix, strlen(prefix)) != 0;
}

/* One job on the threadpool. The password lives in the job and is wiped before it is freed. */
typedef struct password__job password__job_t;
struct password__job {
    uv_work_t work;
    uv_loop_t *loop;
    password__job_t *next; /* in the waiting queue */
    password_params_t params;
    bool verify;
    bool dummy; /* verify against nothing: hash, then report a mismatch */
    int status;
    password_hash_cb hash_cb;
    password_verify_cb verify_cb;
    void *arg;
    char phc[PASSWORD_PHC_MAX];
    size_t pwlen;
    char pw[];
};

/* Hashes running at once are limited to one less than the CPUs (at least one): a burst of
 * sign-ins then leaves a core for the event loop and threadpool slots for file I/O, instead of
 * filling every slot with 19 MiB hashes. The rest wait in a bounded FIFO. Only the loop thread
 * touches this state (one loop per process). */
static struct {
    unsigned running, max_running, waiting, max_waiting;
    password__job_t *head, *tail;
} password__q = {0, 0, 0, 4096, NULL, NULL};

void password_set_limits(unsigned max_running, unsigned max_waiting)
{
    password__q.max_running = max_running;
    password__q.max_waiting = max_waiting;
}

static unsigned password__max_running(void)
{
    if (!password__q.max_running) {
        unsigned n = uv_available_parallelism();
        password__q.max_running = n > 1 ? n - 1 : 1;
    }
    return password__q.max_running;
}

static void password__work(uv_work_t *w)
{
    password__job_t *j = w->data;
    if (j->verify && !j->dummy) {
        j->status = password_verify_sync(j->phc, j->pw, j->pwlen);
    } else {
        char tmp[PASSWORD_PHC_MAX];
        j->status = password_hash_sync(&j->params, j->pw, j->pwlen, tmp, sizeof tmp);
        if (j->dummy) {
            j->status = j->status == 0 ? -EACCES : j->status;
            crypto_wipe(tmp, sizeof tmp);
        } else if (j->status == 0) {
            memcpy(j->phc, tmp, sizeof tmp);
        }
    }
    crypto_wipe(j->pw, j->pwlen);
}

static void password__work_done(uv_work_t *w, int uvstatus);

static int password__submit(password__job_t *j)
{
    j->work.data = j;
    int rc = uv_queue_work(j->loop, &j->work, password__work, password__work_done);
    if (rc == 0) password__q.running++;
    return rc;
}

static void password__finish(password__job_t *j, int status)
{
    if (j->verify)
        j->verify_cb(status, j->arg);
    else
        j->hash_cb(status, status == 0 ? j->phc : NULL, j->arg);
    crypto_wipe(j->pw, j->pwlen);
    crypto_wipe(j->phc, sizeof j->phc);
    free(j);
}

static void password__work_done(uv_work_t *w, int uvstatus)
{
    password__job_t *j = w->data;
    password__q.running--;
    /* Start the next waiting job before running this callback, which may queue more. */
    while (password__q.head && password__q.running < password__max_running()) {
        password__job_t *n = password__q.head;
        password__q.head = n->next;
        if (!password__q.head) password__q.tail = NULL;
        password__q.waiting--;
        if (password__submit(n) != 0) password__finish(n, -EIO);
    }
    password__finish(j, uvstatus ? -ECANCELED : j->status);
}

static int password__queue(uv_loop_t *loop, password__job_t *j)
{
    j->loop = loop;
    int rc;
    if (password__q.running < password__max_running()) {
        rc = password__submit(j);
    } else if (password__q.waiting < password__q.max_waiting) {
        j->next = NULL;
        if (password__q.tail)
            password__q.tail->next = j;
        else
            password__q.head = j;
        password__q.tail = j;
        password__q.waiting++;
        rc = 0;
    } else {
        rc = -EBUSY;
    }
    if (rc != 0) {
        crypto_wipe(j->pw, j->pwlen);
        free(j);
    }
    return rc;
}

static password__job_t *password__job_new(const password_params_t *params, const char *pw,
                                          size_t len)
{
    if (!params || !pw || len > PASSWORD_MAX_LEN) return NULL;
    password__job_t *j = calloc(1, sizeof *j + len + 1);
    if (!j) return NULL;
    j->params = *params;
    memcpy(j->pw, pw, len);
    j->pwlen = len;
    return j;
}

int password_hash_async(uv_loop_t *loop, const password_params_t *params, const char *pw,
                        size_t len, password_hash_cb cb, void *arg)
{
    if (!cb || len > PASSWORD_MAX_LEN) return -EINVAL;
    password__job_t *j = password__job_new(params, pw, len);
    if (!j) return -ENOMEM;
    j->hash_cb = cb;
    j->arg = arg;
    return password__queue(loop, j);
}

int password_verify_async(uv_loop_t *loop, const password_params_t *params, const char *phc,
                          const char *pw, size_t len, password_verify_cb cb, void *arg)
{
    if (!cb || len > PASSWORD_MAX_LEN) return -EINVAL;
    /* A hash that is not ours (an unusable "!" marker, a foreign scheme) costs the same time as
     * a real one: the account then looks exactly like an unknown one. */
    if (phc && (strlen(phc) >= PASSWORD_PHC_MAX || strncmp(phc, "$argon2id$", 10) != 0)) phc = NULL;
    password__job_t *j = password__job_new(params, pw, len);
    if (!j) return -ENOMEM;
    j->verify = true;
    j->dummy = phc == NULL;
    if (phc) snprintf(j->phc, sizeof j->phc, "%s", phc);
    j->verify_cb = cb;
    j->arg = arg;
    return password__queue(loop, j);
}
