/* aws internals shared by the aws_*.c files: the client struct, the call engine (queueing,
 * credentials, signing, retries, metrics) that every operation goes through, the credential
 * chain and small helpers (base64, JSON, clock). Not for use outside src/aws. */
#ifndef NOVA_AWS_AWS_INTERNAL_H
#define NOVA_AWS_AWS_INTERNAL_H

#include <time.h>
#include <yajl/yajl_gen.h>

#include "aws/aws.h"
#include "aws/aws_polly.h"
#include "aws/sigv4.h"
#include "core/metrics.h"

#define AWS_COMPONENT "aws"

typedef enum { AWS_SVC_BEDROCK = 0, AWS_SVC_POLLY, AWS_SVC__COUNT } aws_service_t;
typedef enum {
    AWS_OP_CONVERSE = 0,
    AWS_OP_CONVERSE_STREAM,
    AWS_OP_INVOKE,
    AWS_OP_SPEECH,
    AWS_OP_VOICES,
    AWS_OP__COUNT
} aws_op_t;

extern const char *const aws__op_names[AWS_OP__COUNT];

/* ---- call engine ---- */

/* Hooks an operation gives the engine; ud is the operation's own state. */
typedef struct {
    /* Before every attempt (attempt is 1-based): reset per-attempt parsing state. Optional. */
    void (*attempt_begin)(void *ud, int attempt);
    /* Streaming body of a 2xx answer (only when set; an error answer's body is collected by the
     * engine instead). Return 0, or call aws__call_fail_attempt and return 1. */
    int (*on_data)(void *ud, const char *data, size_t len);
    /* A 2xx response arrived complete: parse it into ud. Return 0 when it is good; otherwise fill
     * *err and return AWS_VALIDATE_FATAL (deliver as is) or AWS_VALIDATE_RETRY (apply the
     * retry policy to err). */
    int (*validate)(void *ud, const net_response_t *res, aws_error_t *err);
    /* Consulted after any failed attempt: false forbids another attempt (a stream that already
     * delivered text). Optional. */
    bool (*may_retry)(void *ud);
    /* Exactly once, with err NULL on success. Must release ud. */
    void (*finish)(void *ud, const aws_error_t *err);
} aws_call_ops_t;

enum { AWS_VALIDATE_OK = 0, AWS_VALIDATE_FATAL = 1, AWS_VALIDATE_RETRY = 2 };

typedef struct {
    aws_service_t service;
    aws_op_t op;
    const char *method;
    const char *path;          /* wire form, percent-encoded, starting with '/' */
    const sigv4_pair_t *query; /* decoded; copied */
    size_t query_count;
    const char *content_type; /* NULL = no body headers */
    const char *accept;
    char *body; /* malloc'd; ownership passes to the call (also on failure) */
    size_t body_len;
    long timeout_ms;
    size_t max_response; /* 0 = net default */
} aws_call_spec_t;

/* Creates and queues the call. On success returns 0 and ops->finish will run exactly once. On
 * failure returns a negative errno and nothing is called (the body is freed). */
int aws__call_submit(aws_client_t *c, const aws_call_spec_t *spec, const aws_call_ops_t *ops,
                     void *ud, aws_call_t **out);
/* From on_data: records why this attempt failed; allow_retry = false forbids another attempt
 * even when the error class is retryable. */
void aws__call_fail_attempt(aws_call_t *call, const aws_error_t *err, bool allow_retry);
int aws__call_attempt(const aws_call_t *call);

/* ---- retry arithmetic (aws_retry.c) ---- */

/* The server's hint in ms: x-amz-retry-after (ms) or Retry-After (delta seconds); -1 if none. */
long aws__retry_after_ms(const net_headers_t *h);
/* The delay before attempt+1 after attempt (1-based) failed: rand * min(base * 2^(attempt-1),
 * max), stretched towards retry_after_ms (>= 0) by at most 5 s and never beyond max. */
long aws__backoff_ms(aws_client_t *c, int attempt, long retry_after_ms);
/* Quota tokens a retry after err costs: 0 = not retryable, 5, or 10 after a timeout. */
int aws__retry_cost(const aws_error_t *err);
/* Takes cost tokens from the client-wide quota; false (nothing taken) when it lacks them. */
bool aws__quota_take(aws_client_t *c, int cost);
/* A call succeeded: gives back the cost of its last retry, or 1 when it needed none. */
void aws__quota_refund(aws_client_t *c, int last_cost);

/* ---- errors ---- */

/* Fills e from an HTTP error response (type from x-amzn-ErrorType, else the body's
 * __type/code/Code; message from message/Message; request id). */
void aws__error_from_http(aws_error_t *e, long http_status, const net_headers_t *h,
                          const char *body, size_t body_len);
/* Fills e for a transport failure (a NET_E_* code). */
void aws__error_from_net(aws_error_t *e, int net_status, const char *detail);
void aws__error_set(aws_error_t *e, aws_err_t code, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The class for an AWS error type + HTTP status + message. */
aws_err_t aws__error_classify(long http_status, const char *type, const char *message);
/* Retry class: 0 = not retryable, 1 = retryable (cost 5), 2 = retryable timeout (cost 10). */
int aws__error_retry_class(const aws_error_t *e);
/* Strips ":http://..." and everything up to '#'; copies into out. */
void aws__error_sanitize_type(const char *in, size_t n, char *out, size_t cap);
/* Copies printable text (control bytes become spaces, cut at cap on a UTF-8 boundary). */
void aws__copy_printable(char *out, size_t cap, const char *in, size_t n);

/* ---- credentials ---- */

typedef struct aws_creds_waiter aws_creds_waiter_t;
struct aws_creds_waiter {
    aws_creds_waiter_t *next;
    void (*ready)(void *arg, const aws_error_t *err); /* err NULL: credentials available */
    void *arg;
};

typedef struct {
    char *ak, *sk, *token;
    int64_t expiration; /* 0 = static */
    const char *source; /* static string */
    int state;          /* AWS_CREDS_* */
    bool refreshing;    /* a background refresh is running */
    int64_t failed_at;  /* last failed resolution (seconds), for the fail-fast window */
    char fail_msg[256];
    aws_creds_waiter_t *waiters;
    uv_timer_t refresh_timer;
    bool timer_open;
    uint64_t fetches;
    /* fetch in progress: which step, IMDS token, container token read from a file */
    int step;
    char *imds_token, *imds_role, *file_token;
    int pending;        /* threadpool work or net requests not yet completed */
    net_request_t *req; /* the container/IMDS request in flight */
    int fetch_kind;
    bool region_defaulted; /* cfg.region was unset: a profile's region may replace it */
} aws_creds_t;

enum { AWS_CREDS_NONE = 0, AWS_CREDS_RESOLVING, AWS_CREDS_READY, AWS_CREDS_FAILED };

int aws__creds_init(aws_client_t *c);
/* Asks for credentials: w->ready runs (possibly synchronously when they are ready; callers
 * handle both) once they resolve or fail. */
void aws__creds_get(aws_client_t *c, aws_creds_waiter_t *w);
/* Removes a waiter that has not been called (cancel). */
void aws__creds_forget(aws_client_t *c, aws_creds_waiter_t *w);
void aws__creds_close(aws_client_t *c);
/* Fills sigv4 credentials from the current set (pointers valid until the next refresh). */
void aws__creds_current(aws_client_t *c, sigv4_credentials_t *out);

/* ---- profile files (pure parsing, for tests) ---- */

/* Finds key in [section] of an INI text; returns a malloc'd trimmed value or NULL. */
char *aws__ini_get(const char *text, size_t len, const char *section, const char *key);

/* ---- client ---- */

typedef struct aws_call aws_call_t;

typedef struct {
    aws_call_t *head, *tail;
    int inflight, queued, max_inflight;
} aws_svc_queue_t;

typedef struct {
    uint64_t calls, retries, throttles;
    uint64_t errors[AWS_ERR__COUNT];
    metrics_hist_t latency;
} aws_op_metrics_t;

typedef struct aws_defer aws_defer_t;
struct aws_defer {
    aws_defer_t *next;
    void (*fn)(void *arg);
    void *arg;
};

typedef struct {
    char *base_url;    /* "https://host[:port]" without a trailing slash */
    char *host_header; /* "host[:port]" as signed */
} aws_endpoint_t;

typedef struct aws_voices_cache aws_voices_cache_t;

struct aws_client {
    uv_loop_t *loop;
    net_client_t *net;
    aws_config_t cfg;
    aws_endpoint_t ep[AWS_SVC__COUNT];
    aws_svc_queue_t svc[AWS_SVC__COUNT];
    int quota;
    aws_op_metrics_t m[AWS_OP__COUNT];
    aws_call_t *live; /* every unfinished call (doubly linked) */
    aws_creds_t creds;
    char **dead_models;
    size_t dead_count;
    aws_voices_cache_t *voices;
    aws_defer_t *defer_head, *defer_tail;
    uv_timer_t defer_timer;
    int open_handles; /* uv handles not yet closed (defer timer, call timers, creds timer) */
    int jobs;         /* speech jobs / chains / voice lookups alive */
    bool closing;
    void (*close_cb)(void *);
    void *close_arg;
    uint64_t rng;
};

/* Runs fn(arg) from the loop soon (a 0 ms timer), never synchronously. */
void aws__defer(aws_client_t *c, aws_defer_t *d, void (*fn)(void *), void *arg);
/* Called when a call timer or another handle finished closing, and when a job ends: finishes a
 * pending aws_client_close. */
void aws__client_maybe_closed(aws_client_t *c);
double aws__rand01(aws_client_t *c);
/* Switches the client to region (a profile's `region =`): signing scope and the default
 * endpoints of services without an explicit endpoint move together. Returns 0, -EINVAL (not a
 * region name) or -ENOMEM; on failure nothing changes. */
int aws__client_set_region(aws_client_t *c, const char *region);
void aws__voices_free(aws_client_t *c);
void aws__mark_model_dead(aws_client_t *c, const char *model_id, const aws_error_t *why);

/* ---- helpers ---- */

int64_t aws__now_s(void);
uint64_t aws__now_ns(void);
/* Standard base64 with padding; returns 0 or -ENOMEM / -ENOBUFS. */
int aws__b64_encode(buf_t *out, const uint8_t *data, size_t len);
/* Decodes standard base64 (padding optional, whitespace rejected) into a malloc'd buffer. */
int aws__b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len);
/* Copies a finished yajl generator's text into a malloc'd string (for aws_call_spec_t.body). */
int aws__gen_take(yajl_gen g, char **out, size_t *len);
/* "png", "jpeg", "gif", "webp" from magic bytes, or NULL. */
const char *aws__image_format(const uint8_t *p, size_t n);
/* Percent-encodes one path label (model id) into a fresh "/model/<id>/<action>" path. */
char *aws__model_path(const char *model_id, const char *action);
/* Parses ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fff]Z" to epoch seconds; -1 on error. */
int64_t aws__parse_iso8601(const char *s);
/* Parses an endpoint "http(s)://host[:port][/]" (nothing after the authority but one '/'):
 * lower-cases the host, drops the scheme's default port (curl omits it from Host too), and
 * reports whether it is TLS. host must hold 256 bytes. Returns 0 or -EINVAL. */
int aws__endpoint_authority(const char *url, bool *tls, char host[256]);

#endif
