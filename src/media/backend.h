/* backend: where story media live for good, NOVA_MEDIA_BACKEND=local|s3. Owns, for the s3
 * backend, the s3_client_t (bucket, key prefix, endpoint) and the process-wide choice that the
 * store (store.h) consults:
 *  - local (the default): nothing is installed and the store keeps files below NOVA_MEDIA_DIR
 *    exactly as before;
 *  - s3: the store still receives every file locally first (upload spool, the atomic writer,
 *    the narration encoder's output below NOVA_MEDIA_DIR), and publishes it to the object
 *    <NOVA_S3_PREFIX><relpath> before its callback reports success, i.e. before the caller's
 *    database commit points at it; the local copy is then removed. Removal deletes objects
 *    (a story's folder through ListObjectsV2), after commit as before.
 * One event loop per process, so one backend per process: media_backend_install makes it the
 * one the store and the media routes use. Everything here runs on the loop thread; file
 * opening and unlinking go through the libuv threadpool. */
#ifndef NOVA_MEDIA_BACKEND_H
#define NOVA_MEDIA_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "aws/s3.h"

typedef struct media_backend media_backend_t;

/* Settings (strings borrowed during media_backend_open). */
typedef struct {
    const char *kind;      /* "local" or "s3" */
    const char *media_dir; /* NOVA_MEDIA_DIR: the staging area of the s3 backend */
    const char *bucket;    /* NOVA_S3_BUCKET, required with s3 */
    const char *prefix;    /* NOVA_S3_PREFIX, may be "" */
    const char *endpoint;  /* AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, NULL = AWS */
    bool path_style;       /* NOVA_S3_PATH_STYLE */
    bool proxy;            /* NOVA_MEDIA_PROXY: URLs point at /media/, streamed from S3 */
} media_backend_config_t;

/* Creates the backend: *out = NULL for "local" (nothing to do), an s3 backend borrowing aws (which
 * must outlive it) for "s3". Returns 0, or -EINVAL with a message in err (unknown kind, missing
 * or invalid bucket or endpoint). */
int media_backend_open(uv_loop_t *loop, aws_client_t *aws, const media_backend_config_t *cfg,
                       media_backend_t **out, char *err, size_t errlen);
/* Uninstalls it when installed, cancels what is in flight (callbacks run with -ECANCELED),
 * closes the S3 client, frees, then calls done(arg) (may be NULL) from the loop. NULL is fine
 * (done is then called at once). */
void media_backend_close(media_backend_t *b, void (*done)(void *arg), void *arg);

/* Makes b the process's backend (NULL = local). */
void media_backend_install(media_backend_t *b);
/* The installed backend, NULL for local. */
media_backend_t *media_backend_current(void);
bool media_backend_proxy(const media_backend_t *b);
s3_client_t *media_backend_s3(media_backend_t *b);

/* status: 0 or a negative errno (S3 failures mapped by media_backend_errno). */
typedef void (*media_backend_cb)(int status, void *arg);

/* Uploads the local file <media_dir>/<local_rel> as the object for relpath, then (on success,
 * when unlink_after) removes the local file. */
int media_backend_publish(media_backend_t *b, const char *local_rel, const char *relpath,
                          bool unlink_after, media_backend_cb cb, void *arg);
/* Uploads len bytes (copied to an anonymous staging file first) as relpath. data must stay
 * valid until cb runs. */
int media_backend_put(media_backend_t *b, const char *relpath, const void *data, size_t len,
                      media_backend_cb cb, void *arg);
/* Deletes the n objects (NULL or "" entries skipped; missing objects are not an error). */
int media_backend_remove(media_backend_t *b, const char *const *relpaths, size_t n,
                         media_backend_cb cb, void *arg);
/* Deletes every object whose relpath starts with dir + "/" (a story's folder). */
int media_backend_remove_dir(media_backend_t *b, const char *dir, media_backend_cb cb, void *arg);
/* Reads an object into memory (at most max bytes, else -EFBIG). cb gets data (malloc'd, the
 * callback owns it) or NULL with a negative errno. */
typedef void (*media_backend_read_cb)(int status, uint8_t *data, size_t len, void *arg);
int media_backend_read(media_backend_t *b, const char *relpath, size_t max,
                       media_backend_read_cb cb, void *arg);
/* A presigned GET URL for relpath valid ttl_s seconds (capped to S3's 7 days); *out malloc'd. */
int media_backend_presign(media_backend_t *b, const char *relpath, int64_t ttl_s, char **out);

/* -EACCES (refused credentials or signature), -ENOENT, -EAGAIN (throttled, overloaded,
 * unavailable), -ETIMEDOUT, -ECONNREFUSED (network), -ECANCELED, else -EIO. */
int media_backend_errno(const aws_error_t *e);
/* A short sentence for users about a failed store/publish status, e.g. "the media storage
 * refused our credentials". */
const char *media_backend_strerror(int status);

/* Counters for /metrics and tests. */
typedef struct {
    uint64_t published, publish_failed, deleted, delete_failed;
} media_backend_stats_t;
void media_backend_stats(const media_backend_t *b, media_backend_stats_t *out);

#endif
