/* s3: media objects on Amazon S3 or an S3-compatible server, through our own SigV4 (S3 rules:
 * single encoding, no path normalization, signed x-amz-content-sha256) on the shared
 * libcurl-multi client. An s3_client_t owns one bucket + key prefix, its endpoint (virtual-hosted
 * or path-style), an in-flight limit with a FIFO queue, and per-operation counters. It borrows
 * the aws_client_t for credentials (the same chain and refresh as Bedrock and Polly), the
 * "standard" retry settings (max attempts, full-jitter backoff) and the client-wide retry quota.
 *
 * Uploads are streamed from a file descriptor and never held in memory: one PUT up to
 * multipart_threshold, a multipart upload above it (parts read with pread, a bounded number in
 * flight per upload, the upload aborted when it fails or is cancelled). The payload SHA-256 that
 * S3 verifies is computed on the libuv threadpool in a small buffer.
 *
 * Every operation that was started (returned 0) calls its callback exactly once, later on the
 * loop, never from inside the start function or s3_op_cancel. Errors are the AWS client's typed
 * aws_error_t (S3 error codes such as NoSuchKey or SignatureDoesNotMatch are in err->type).
 *
 * Lifetimes: the net client outlives the aws client, which outlives the s3 client. Close the s3
 * client first; an aws_client_close started earlier waits for s3_client_close to finish.
 * Threading: loop thread only. */
#ifndef NOVA_AWS_S3_H
#define NOVA_AWS_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "aws/aws.h"
#include "core/buf.h"

/* Settings. Strings are borrowed during s3_client_new (it copies them). */
typedef struct {
    const char *bucket;    /* required; 3..63 characters */
    const char *prefix;    /* prepended to every key verbatim ("media/"); NULL or "" = none */
    const char *endpoint;  /* "http(s)://host[:port]"; NULL = https://s3.{region}.amazonaws.com */
    bool path_style;       /* https://host/bucket/key instead of https://bucket.host/key; also
                              used automatically for bucket names with '.' over https */
    bool unsigned_payload; /* sign uploads as UNSIGNED-PAYLOAD (skips hashing the file) */
    int max_inflight;      /* requests in flight for this client; default 32 */
    int queue_max;         /* requests waiting for a slot; more fail AWS_ERR_OVERLOADED; 10000 */
    uint64_t multipart_threshold; /* larger files use multipart upload; default 16 MiB */
    uint64_t part_size;           /* default 8 MiB; 5 MiB .. 5 GiB (grown to fit 10000 parts) */
    int part_concurrency;         /* parts in flight per upload; default 4 */
    long timeout_ms;   /* requests without a large body (HEAD, DELETE, ...); default 30000 */
    long min_rate_bps; /* transfers get timeout_ms + bytes / min_rate_bps; default 64 KiB/s */
} s3_config_t;

/* Zeroes cfg and fills the numeric defaults above. */
void s3_config_defaults(s3_config_t *cfg);
/* The S3 endpoint from the AWS conventions: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else
 * NULL. The pointer is into the environment. */
const char *s3_endpoint_from_env(void);

typedef struct s3_client s3_client_t;
typedef struct s3_op s3_op_t; /* one operation in progress (see s3_op_cancel) */

/* aws and its net client must outlive the s3 client. NULL on bad config (missing or invalid
 * bucket, endpoint not http(s)://host[:port], sizes out of bounds) or out of memory. */
s3_client_t *s3_client_new(aws_client_t *aws, const s3_config_t *cfg);
/* Cancels every operation (callbacks run with AWS_ERR_CANCELLED; multipart uploads in progress
 * are aborted first, one attempt each), closes the timers, frees the client and then calls
 * done(arg) from the loop. Call once. */
void s3_client_close(s3_client_t *c, void (*done)(void *arg), void *arg);

/* Cancels an operation whose callback has not run yet; the callback runs later with
 * AWS_ERR_CANCELLED. Returns 0 or -EALREADY. */
int s3_op_cancel(s3_op_t *op);

/* err is NULL on success. */
typedef void (*s3_done_cb)(void *arg, const aws_error_t *err);

/* What a GET or HEAD answered. Strings are empty when the header was absent. */
typedef struct {
    long http_status;        /* 200, or 206 for a Range request */
    uint64_t content_length; /* bytes in this response's body */
    uint64_t object_size;    /* the whole object (from Content-Range when partial) */
    char content_type[128];
    char content_range[96]; /* "bytes 0-99/1000" for 206 */
    char etag[80];          /* with its quotes, as S3 sends it */
    char last_modified[40]; /* HTTP date */
} s3_object_info_t;

/* Uploads size bytes of fd (from offset 0) as key. The fd is duplicated: the caller may close its
 * own after this returns; the file must not change until cb runs. content_type NULL =
 * application/octet-stream. Returns 0, -EINVAL (bad key, fd or size above 5 TiB), -ECANCELED
 * (client closing) or -ENOMEM; on success cb runs once. *out (optional) is valid until cb. */
int s3_put_file(s3_client_t *c, const char *key, int fd, uint64_t size, const char *content_type,
                s3_done_cb cb, void *arg, s3_op_t **out);

/* Streams key (optionally a byte range: the Range header value, "bytes=0-99"). on_headers runs
 * once before any data with the 2xx answer; on_data gets the body in order. Either may return
 * non-zero to stop: cb then gets AWS_ERR_CANCELLED. Failed attempts are retried only while
 * on_headers has not run. An error answer is never passed to on_data. */
typedef int (*s3_headers_cb)(void *arg, const s3_object_info_t *info);
typedef int (*s3_data_cb)(void *arg, const char *data, size_t len);
int s3_get(s3_client_t *c, const char *key, const char *range, s3_headers_cb on_headers,
           s3_data_cb on_data, s3_done_cb cb, void *arg, s3_op_t **out);

/* info is NULL when err is set (a missing key is AWS_ERR_NOT_FOUND). */
typedef void (*s3_head_cb)(void *arg, const s3_object_info_t *info, const aws_error_t *err);
int s3_head(s3_client_t *c, const char *key, s3_head_cb cb, void *arg, s3_op_t **out);

/* Deleting a key that does not exist succeeds, as in S3. */
int s3_delete(s3_client_t *c, const char *key, s3_done_cb cb, void *arg, s3_op_t **out);

/* Multipart uploads not completed nor aborted under the client's prefix + key_prefix (first
 * 1000). Used by tests and for diagnostics; a bucket lifecycle rule is what cleans them up. */
typedef void (*s3_count_cb)(void *arg, int count, const aws_error_t *err);
int s3_count_uploads(s3_client_t *c, const char *key_prefix, s3_count_cb cb, void *arg);

/* One page of ListObjectsV2 under the client's prefix + key_prefix (at most 1000 keys). keys are
 * relative to the client's prefix (what s3_get/s3_delete take); next_token is NULL on the last
 * page, else the value to pass as `token` for the next one. Everything in the page is valid only
 * during the callback; page is NULL when err is set. */
typedef struct {
    char **keys;
    size_t nkeys;
    const char *next_token;
} s3_list_page_t;
typedef void (*s3_list_cb)(void *arg, const s3_list_page_t *page, const aws_error_t *err);
int s3_list(s3_client_t *c, const char *key_prefix, const char *token, s3_list_cb cb, void *arg,
            s3_op_t **out);

/* A presigned GET URL (SigV4 query signing, UNSIGNED-PAYLOAD) valid for expires_s seconds
 * (1..604800), cut to the credentials' own expiry when they are temporary. It is signed at the
 * start of the current step of expires_s/24 (at most an hour), so the same key gives the same URL
 * all through a step (browsers cache it) and it lives at least expires_s - step seconds.
 * Synchronous: uses the credentials already resolved (call aws_client_probe at start-up). *out is
 * malloc'd, the caller frees it. Returns 0, -EINVAL (bad key or expires_s), -EAGAIN (no credentials
 * resolved yet, or temporary credentials about to expire) or -ENOMEM. */
int s3_presign_get(s3_client_t *c, const char *key, uint32_t expires_s, char **out);

/* Checks a key: 1..1024 bytes after the prefix, no control bytes, no "." or ".." path segment
 * (curl would remove them after signing). Returns 0 or -EINVAL. */
int s3_key_check(const char *key);

/* Counters (same numbers as the Prometheus text). op: "put", "put_part", "create_multipart",
 * "complete_multipart", "abort_multipart", "get", "head", "delete", "list_uploads", "list". */
typedef struct {
    uint64_t calls, errors, retries, attempts;
} s3_op_counts_t;
int s3_client_op_counts(const s3_client_t *c, const char *op, s3_op_counts_t *out);
/* nova_s3_calls_total, nova_s3_errors_total{type}, nova_s3_retries_total, nova_s3_inflight,
 * nova_s3_queued, nova_s3_uploads_aborted_total. Returns 0 or -ENOBUFS. */
int s3_metrics_write(const s3_client_t *c, buf_t *out);

#endif
