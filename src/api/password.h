/* password: argon2id password hashing (PHC strings, "$argon2id$v=19$m=...,t=...,p=...$salt$hash")
 * for the accounts module. Hashing is deliberately slow (tens of milliseconds, many MiB), so the
 * asynchronous calls run it on the libuv threadpool and call back on the loop thread; the loop
 * never hashes. The synchronous calls are for the command line (createsuperuser) and the worker
 * itself. Passwords are copied into the job and wiped after use; nothing here logs them. */
#ifndef NOVA_API_PASSWORD_H
#define NOVA_API_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Upper bound of a PHC string we produce or accept (salt 16 bytes, hash 32 bytes). */
#define PASSWORD_PHC_MAX 192
/* Longest password accepted (bytes): argon2 accepts more, but nobody needs it and it bounds the
 * work an attacker can request. */
#define PASSWORD_MAX_LEN 1024

typedef struct {
    uint32_t memory_kib;  /* m: OWASP minimum 19456 (19 MiB) */
    uint32_t iterations;  /* t: 2 */
    uint32_t parallelism; /* p: 1 */
} password_params_t;

void password_params_default(password_params_t *p);

/* Status codes: 0 = success (hash made / password matches), -EACCES = wrong password,
 * -EINVAL = malformed PHC string or parameters, -ENOMEM, -EIO (argon2 internal failure). */

/* Hashes pw with a fresh 16-byte salt into out (cap >= PASSWORD_PHC_MAX). Blocking. */
int password_hash_sync(const password_params_t *params, const char *pw, size_t len, char *out,
                       size_t cap);
/* Verifies pw against a PHC string. Blocking. */
int password_verify_sync(const char *phc, const char *pw, size_t len);
/* True when phc was made with other parameters than params (a successful login may rehash). */
bool password_needs_rehash(const password_params_t *params, const char *phc);

/* Called on the loop thread. phc is valid only during the call (NULL unless status is 0). */
typedef void (*password_hash_cb)(int status, const char *phc, void *arg);
typedef void (*password_verify_cb)(int status, void *arg);

/* At most max_running hashes run on the threadpool at once (0 = CPUs - 1, at least 1); up to
 * max_waiting more wait in a FIFO (default 4096), beyond which calls fail with -EBUSY (answer
 * 503). Loop thread only. */
void password_set_limits(unsigned max_running, unsigned max_waiting);

/* Queue the work on the threadpool. A return of 0 means cb runs exactly once, later, on the
 * loop thread; a negative return (-EINVAL, -ENOMEM, -EBUSY, libuv error) means it never runs.
 * The work cannot be cancelled: the caller keeps `arg` alive until cb runs. */
int password_hash_async(uv_loop_t *loop, const password_params_t *params, const char *pw,
                        size_t len, password_hash_cb cb, void *arg);
/* phc == NULL verifies against nothing: the same hashing work is done with params and the
 * result is -EACCES, so an unknown account costs as much time as a wrong password. */
int password_verify_async(uv_loop_t *loop, const password_params_t *params, const char *phc,
                          const char *pw, size_t len, password_verify_cb cb, void *arg);

#endif
