/* sigv4: AWS Signature Version 4 (AWS4-HMAC-SHA256) for our own HTTP client, without an SDK.
 * Given one request (method, host, path, query parameters, headers, payload) it produces what
 * goes on the wire: the percent-encoded path and query for the URL, and either the headers to
 * add (header signing) or the complete presigned query string (query signing). Pure functions:
 * no I/O, no clock (the caller passes the time), no global state; safe on any thread.
 *
 * Rules implemented (see shared/notes/aws-wire.md §1, botocore SigV4Auth as oracle):
 * - Every service except S3: the canonical URI is the wire path, normalized (dot segments
 *   removed, runs of '/' collapsed) and URI-encoded once more, so a model id
 *   "amazon.nova-lite-v1:0" is sent as "%3A" and canonicalized as "%253A".
 * - S3 (s3 = true): the canonical URI is the wire path itself (single encoding, no
 *   normalization), and a signed x-amz-content-sha256 header is always added.
 * - Header names are lower-cased and sorted; values are trimmed and inner whitespace runs
 *   collapsed to one space; repeated names are joined with ',' in the order given. Hop-by-hop
 *   headers and User-Agent/Expect/X-Amzn-Trace-Id are never signed (botocore's list).
 * - Query parameters are URI-encoded (space is %20, never '+') and sorted by encoded name, then
 *   encoded value.
 *
 * libcurl: build the URL as "https://" host wire_path ["?" wire_query] and add the returned headers
 * with curl_slist_append("Name: value"). For S3 keys that contain "." or ".." segments set
 * CURLOPT_PATH_AS_IS, or curl removes them after signing (non-S3 paths are sent normalized).
 *
 * Hashing a body costs CPU linear in its size: for bodies of more than a few hundred KiB, hash
 * them off the loop thread (or pass payload_hash computed there). */
#ifndef NOVA_AWS_SIGV4_H
#define NOVA_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* Payload hash value for requests whose body is not signed (S3 presigned URLs, streaming). */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* Longest presign lifetime AWS accepts (7 days), in seconds. */
#define SIGV4_MAX_EXPIRES 604800u
/* Upper bound for every text the signer builds (paths, canonical request): longer inputs fail
 * with -ENOBUFS instead of growing without limit. */
#define SIGV4_MAX_TEXT (4u * 1024u * 1024u)

/* A header or query parameter given by the caller. Strings are NUL-terminated and borrowed for
 * the duration of the call. Query names and values are given DECODED (raw bytes, e.g. UTF-8);
 * the signer encodes them. A NULL query value means "" (the parameter is sent as "name="). */
typedef struct {
    const char *name;
    const char *value;
} sigv4_pair_t;

typedef struct {
    const char *access_key_id;     /* required */
    const char *secret_access_key; /* required; never logged or copied into the result */
    const char *session_token;     /* NULL or "" for long-term credentials */
} sigv4_credentials_t;

typedef struct {
    const char *method; /* "GET", "POST"...; used verbatim (case matters on the wire too) */
    /* Value of the Host header as the server will see it: lower-case host name, plus ":port" when
     * the port is not the scheme's default. It is always signed; `headers` must not contain Host.
     */
    const char *host;
    /* The absolute path ("" means "/"). With path_is_encoded = false it is raw text (UTF-8, any
     * byte allowed) and every byte except A-Z a-z 0-9 - . _ ~ and '/' gets percent-encoded for the
     * wire. With path_is_encoded = true it is already the exact wire form (the caller encoded
     * labels itself, e.g. with sigv4_uri_encode(..., false) so that a '/' inside a model ARN
     * becomes %2F) and is used as is; only control bytes are rejected. */
    const char *path;
    bool path_is_encoded;
    const sigv4_pair_t *query; /* decoded parameters, any order, repeats allowed */
    size_t query_count;
    /* Headers the caller will send and wants signed (Content-Type, x-amz-target...). Must not
     * contain Host, Authorization, X-Amz-Date, X-Amz-Security-Token or X-Amz-Content-SHA256 (the
     * signer owns those): -EINVAL. Names must be HTTP tokens, values must not contain CR, LF or
     * NUL (they go to the wire verbatim, so this also blocks header injection). */
    const sigv4_pair_t *headers;
    size_t header_count;
    /* The payload: payload_hash when non-NULL (64 lower-case hex digits, or
     * SIGV4_UNSIGNED_PAYLOAD), otherwise SHA-256 of body[0..body_len) (body may be NULL when
     * body_len is 0). */
    const void *body;
    size_t body_len;
    const char *payload_hash;
    const char *service; /* signing name: "bedrock" (not "bedrock-runtime"), "polly", "s3" */
    const char *region;  /* "us-east-1" */
    time_t time;         /* signing time (seconds since the epoch, UTC); injectable for tests */
    sigv4_credentials_t creds;
    bool s3; /* S3 rules: no path normalization, single encoding, x-amz-content-sha256 */
    /* Non-S3 only: keep dot segments and repeated slashes (the suite's *-unnormalized cases;
     * no AWS service we call needs this). */
    bool no_normalize_path;
    /* Add a signed x-amz-content-sha256 header for a non-S3 service too (header signing only;
     * implied by s3 and by an UNSIGNED-PAYLOAD payload hash, as in botocore). */
    bool content_sha256_header;
    /* Send the session token but leave it out of the signature (some services want it added
     * after signing; the suite's post-sts-header-after). Default: signed, as botocore does. */
    bool session_token_unsigned;
} sigv4_request_t;

/* A header the caller must add to the request. name is a static string; value is owned by the
 * sigv4_result_t it belongs to. */
typedef struct {
    const char *name;
    char *value;
} sigv4_header_t;

#define SIGV4_MAX_OUT_HEADERS 4

/* The result of signing. Every pointer is malloc'd and owned by the result: release with
 * sigv4_result_free (safe on a zeroed or already freed result). */
typedef struct {
    char *wire_path;  /* percent-encoded path to put in the URL; starts with '/' */
    char *wire_query; /* percent-encoded query without the '?' ("" when empty). For a presigned
                         request it carries the X-Amz-* parameters and X-Amz-Signature. */
    char *canonical_request; /* for debugging and tests; contains no secret */
    char *string_to_sign;
    char signature[65];    /* lower-case hex */
    char payload_hash[65]; /* the value used in the canonical request */
    char amz_date[17];     /* YYYYMMDDTHHMMSSZ */
    /* Header signing: X-Amz-Date, [X-Amz-Security-Token], [X-Amz-Content-SHA256], Authorization,
     * in that order. Query signing: none. */
    sigv4_header_t headers[SIGV4_MAX_OUT_HEADERS];
    size_t header_count;
} sigv4_result_t;

/* Signs with an Authorization header. Returns 0, -EINVAL (bad or missing input, forbidden
 * header, path not starting with '/'), -ENOBUFS (a text exceeds SIGV4_MAX_TEXT) or -ENOMEM. On
 * failure *out is left empty (nothing to free, freeing is harmless). */
int sigv4_sign_headers(const sigv4_request_t *req, sigv4_result_t *out);

/* Signs into the query string (presigned URL) valid for `expires` seconds (1..SIGV4_MAX_EXPIRES).
 * The URL is "https://" host wire_path "?" wire_query; no header needs to be added. The payload
 * hash still comes from the request: pass payload_hash = SIGV4_UNSIGNED_PAYLOAD for S3 presigned
 * GET/PUT URLs. content_sha256_header is ignored. Same errors as sigv4_sign_headers. */
int sigv4_presign(const sigv4_request_t *req, uint32_t expires, sigv4_result_t *out);

void sigv4_result_free(sigv4_result_t *out);

/* Appends the SigV4 URI encoding of s[0..len) to out: every byte except A-Z a-z 0-9 - . _ ~
 * (and '/' when keep_slash) becomes %XX with upper-case hex. Use keep_slash = false for a single
 * path label such as a Bedrock model id. Returns 0 or the buf_append error. */
int sigv4_uri_encode(buf_t *out, const char *s, size_t len, bool keep_slash);

/* Lower-case hex SHA-256 of data into hex[65] (NUL-terminated). Returns 0 or -ENOMEM. */
int sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
