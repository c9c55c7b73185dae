/* aws: the AWS client on the event loop (Bedrock Runtime and Polly) without an SDK. An
 * aws_client_t owns the credential chain (environment, profile files, ECS container endpoint,
 * EC2 IMDSv2, Bedrock API key) and its background refresh, the per-service in-flight limits with
 * FIFO queues, the "standard" retry policy (attempt limit, full-jitter backoff on uv timers, the
 * client-wide retry quota, Retry-After) and the per-operation metrics. Requests go through a
 * net_client_t that the caller owns and keeps open until aws_client_close has finished.
 *
 * Operations are declared in aws_bedrock.h and aws_polly.h. Every operation that was started
 * successfully (returned 0) calls its done callback exactly once, later on the loop (never from
 * inside the start function or the cancel function), with a typed aws_error_t on failure.
 *
 * Threading: everything runs on the loop thread; file reads (profile files, token files) and
 * hashing of large request bodies run on the libuv threadpool. Nothing here is thread-safe. */
#ifndef NOVA_AWS_AWS_H
#define NOVA_AWS_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "net/net.h"

/* Failure classes every caller sees. AWS error types map onto these (aws_error.c). */
typedef enum {
    AWS_OK = 0,
    AWS_ERR_THROTTLED,        /* ThrottlingException & co; retried */
    AWS_ERR_VALIDATION,       /* the request was rejected as invalid; not retried */
    AWS_ERR_ACCESS_DENIED,    /* AccessDenied, bad signature, unknown key, expired token */
    AWS_ERR_NOT_FOUND,        /* unknown model, lexicon... */
    AWS_ERR_MODEL_NOT_READY,  /* ModelNotReadyException; retried */
    AWS_ERR_MODEL_TIMEOUT,    /* ModelTimeoutException (408); never retried */
    AWS_ERR_MODEL_ERROR,      /* ModelErrorException (424), modelStreamErrorException */
    AWS_ERR_UNAVAILABLE,      /* 502/503/504, ServiceUnavailableException; retried */
    AWS_ERR_INTERNAL,         /* 500, InternalServerException, ServiceFailure; retried */
    AWS_ERR_NETWORK,          /* connect failure, connection dropped, TLS, bad HTTP */
    AWS_ERR_TIMEOUT,          /* our timeout or a RequestTimeout error */
    AWS_ERR_END_OF_LIFE,      /* model past end of life or Legacy without access */
    AWS_ERR_CONTENT_FILTERED, /* moderation refused the input or output; not retried */
    AWS_ERR_CANCELLED,        /* aws_*_cancel or aws_client_close */
    AWS_ERR_CREDENTIALS,      /* no credentials could be resolved */
    AWS_ERR_QUOTA,            /* ServiceQuotaExceededException (account limit) */
    AWS_ERR_BAD_RESPONSE,     /* a 2xx answer we could not understand */
    AWS_ERR_OVERLOADED,       /* our own queue for the service is full */
    AWS_ERR__COUNT
} aws_err_t;

typedef struct {
    aws_err_t code;
    long http_status;    /* 0 when no response arrived */
    int attempts;        /* HTTP attempts made for this call */
    char type[64];       /* sanitized AWS error type ("ThrottlingException"), "" if none */
    char request_id[72]; /* x-amzn-RequestId, "" if none */
    char message[320];   /* printable one-line text safe for users and logs (no secrets) */
} aws_error_t;

/* Stable lower-case names for metrics and logs: "throttled", "validation"... */
const char *aws_err_name(aws_err_t code);
/* Writes "<what>: <name> (<type>, HTTP <status>): <message> [request <id>]" into out. */
void aws_error_format(const aws_error_t *e, const char *what, char *out, size_t cap);

/* Settings. String fields are malloc'd and owned by the config: set them with aws_config_set
 * and release everything with aws_config_free. aws_client_new copies the config. */
typedef struct {
    char *region;           /* "us-east-1" when unset */
    char *bedrock_endpoint; /* "http(s)://host[:port]"; NULL = bedrock-runtime.{region}... */
    char *polly_endpoint;   /* NULL = polly.{region}.amazonaws.com */
    /* Static credentials (the environment step of the chain); all NULL = go on down the chain. */
    char *access_key_id, *secret_access_key, *session_token;
    char *bearer_token;                   /* Bedrock API key: Authorization: Bearer, Bedrock only */
    char *profile;                        /* NULL = "default" */
    char *credentials_file, *config_file; /* NULL = ~/.aws/credentials, ~/.aws/config */
    char *home;                           /* for the defaults above; NULL = no profile files */
    char *container_relative_uri, *container_full_uri;
    char *container_auth_token, *container_auth_token_file;
    char *container_host; /* where relative URIs go; NULL = "http://169.254.170.2" */
    char *imds_endpoint;  /* NULL = "http://169.254.169.254" */
    bool imds_disabled;
    long creds_timeout_ms;      /* each container/IMDS request; default 1000 */
    int creds_refresh_margin_s; /* refresh this long before expiry; default 300 */

    int max_attempts;          /* including the first; default 3, 1..10 */
    long backoff_base_ms;      /* full jitter: rand * min(base * 2^(n-1), max); default 1000 */
    long backoff_max_ms;       /* default 20000 */
    int retry_quota;           /* client-wide retry tokens; default 500 */
    int bedrock_max_inflight;  /* default 64 */
    int polly_max_inflight;    /* default 8 */
    int queue_max;             /* per service; further calls fail with AWS_ERR_OVERLOADED; 10000 */
    long text_timeout_ms;      /* Converse/ConverseStream; default 300000 */
    long image_timeout_ms;     /* InvokeModel; default 120000 */
    long speech_timeout_ms;    /* Polly; default 60000 */
    int polly_chunk_chars;     /* billed characters per SynthesizeSpeech; default 3000 */
    int polly_job_concurrency; /* SynthesizeSpeech calls in flight per speech job; default 3 */
    int voices_ttl_s;          /* DescribeVoices cache; default 3600 */
    char *polly_engine;        /* NULL = per voice (neural if supported, else standard) */
} aws_config_t;

/* Zeroes cfg and fills the numeric defaults listed above. */
void aws_config_defaults(aws_config_t *cfg);
/* Reads the AWS conventions into cfg (only variables that are set and non-empty override):
 * AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
 * AWS_ENDPOINT_URL_POLLY, AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
 * AWS_BEARER_TOKEN_BEDROCK, AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, HOME,
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE),
 * AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_DISABLED, AWS_MAX_ATTEMPTS.
 * Returns 0 or -ENOMEM. */
int aws_config_from_env(aws_config_t *cfg);
/* Replaces *field (a string member of an aws_config_t) with a copy of value (NULL clears). */
int aws_config_set(char **field, const char *value);
void aws_config_free(aws_config_t *cfg);

typedef struct aws_client aws_client_t;
typedef struct aws_call aws_call_t; /* one operation in progress (see aws_call_cancel) */

/* net must outlive the client (close it after aws_client_close's callback). NULL on bad config
 * (an endpoint that is not http(s)://host[:port]) or out of memory. */
aws_client_t *aws_client_new(uv_loop_t *loop, net_client_t *net, const aws_config_t *cfg);
/* Cancels every operation (callbacks run with AWS_ERR_CANCELLED), stops the credential refresh,
 * closes the timers and frees the client, then calls done(arg) from the loop. Call once. */
void aws_client_close(aws_client_t *c, void (*done)(void *arg), void *arg);

/* Credential probe for start-up: resolves the chain (asynchronously; it may fetch from the
 * container endpoint or IMDS) and reports which services can be called. */
typedef struct {
    bool sigv4;          /* credentials for SigV4 (Bedrock and Polly) resolved */
    bool bearer;         /* a Bedrock API key is configured */
    bool bedrock;        /* sigv4 || bearer */
    bool polly;          /* sigv4 */
    const char *source;  /* "environment", "profile", "container", "imds", or "none" */
    const char *message; /* why resolution failed, "" on success */
} aws_probe_t;
typedef void (*aws_probe_cb)(void *arg, const aws_probe_t *p);
/* Returns 0; cb runs once from the loop. */
int aws_client_probe(aws_client_t *c, aws_probe_cb cb, void *arg);

/* What the client currently signs with (never the secret), for diagnostics and tests. */
typedef struct {
    char access_key_id[64];
    char source[16];
    int64_t expiration; /* seconds since the epoch, 0 = does not expire */
    bool has_session_token;
    uint64_t fetches; /* container/IMDS credential fetches made so far */
} aws_creds_info_t;
void aws_client_creds_info(const aws_client_t *c, aws_creds_info_t *out);

/* Where the client sends requests and which region it signs for, for diagnostics and tests.
 * service: "bedrock" or "polly". The base URL ("https://polly.eu-west-3.amazonaws.com") is owned
 * by the client and may change once, when a profile file supplies the region; NULL for an
 * unknown service. */
const char *aws_client_endpoint(const aws_client_t *c, const char *service);
const char *aws_client_region(const aws_client_t *c);

/* Cancels an operation whose callback has not run yet: the callback runs later with
 * AWS_ERR_CANCELLED. Returns 0 or -EALREADY. */
int aws_call_cancel(aws_call_t *call);

/* Prometheus text: per-operation calls, errors by type, retries, throttles, latency histogram;
 * per-service in-flight and queued gauges; retry quota. Returns 0 or -ENOBUFS. */
int aws_metrics_write(const aws_client_t *c, buf_t *out);

/* Counters for tests and benchmarks (same numbers as the Prometheus text). */
typedef struct {
    uint64_t calls, errors, retries, throttles;
} aws_op_counts_t;
/* op: "converse", "converse_stream", "invoke_model", "synthesize_speech", "describe_voices".
 * Returns -ENOENT for an unknown name. */
int aws_client_op_counts(const aws_client_t *c, const char *op, aws_op_counts_t *out);
int aws_client_retry_quota(const aws_client_t *c);

#endif
