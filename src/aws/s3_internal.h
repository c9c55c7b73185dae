/* s3 internals shared by the s3*.c files: the client struct and the request engine that every
 * S3 operation goes through (queueing, payload hashing, credentials from the aws client, SigV4 in
 * S3 mode, standard-mode retries, XML error typing). Not for use outside src/aws. */
#ifndef NOVA_AWS_S3_INTERNAL_H
#define NOVA_AWS_S3_INTERNAL_H

#include "aws/aws_internal.h"
#include "aws/s3.h"

#define S3_COMPONENT "s3"

typedef enum {
    S3_OP_PUT = 0,
    S3_OP_PART,
    S3_OP_CREATE_MP,
    S3_OP_COMPLETE_MP,
    S3_OP_ABORT_MP,
    S3_OP_GET,
    S3_OP_HEAD,
    S3_OP_DELETE,
    S3_OP_LIST_UPLOADS,
    S3_OP_LIST,
    S3_OP__COUNT
} s3_opname_t;

extern const char *const s3__op_names[S3_OP__COUNT];

/* What s3_op_t points at: a single request or a multipart upload. */
enum { S3_KIND_REQ = 1, S3_KIND_MULTIPART = 2 };
struct s3_op {
    int kind;
};

typedef struct s3_req s3_req_t;

/* Hooks an operation gives the engine; ud is the operation's own state. */
typedef struct {
    /* Streaming (optional): the 2xx status and headers, then the body. Return 0 to go on. */
    int (*on_headers)(void *ud, long status, const net_headers_t *h);
    int (*on_data)(void *ud, const char *data, size_t len);
    /* False forbids another attempt (data already given to the user). Optional. */
    bool (*may_retry)(void *ud);
    /* A 2xx answer arrived complete (res->body holds it unless streaming). Return
     * AWS_VALIDATE_OK, or fill *err and return AWS_VALIDATE_FATAL / AWS_VALIDATE_RETRY. */
    int (*validate)(void *ud, const net_response_t *res, aws_error_t *err);
    /* Exactly once, err NULL on success. */
    void (*finish)(void *ud, const aws_error_t *err);
} s3_req_ops_t;

typedef struct {
    s3_opname_t op;
    const char *method;
    const char *key;           /* raw key under the client's prefix; NULL = the bucket itself */
    const sigv4_pair_t *query; /* decoded; copied */
    size_t query_count;
    const char *content_type; /* signed when set */
    const char *range;        /* Range header; signed */
    int fd;                   /* body from fd [off, off+len) when fd >= 0 (dup'ed) */
    uint64_t off, len;
    char *body; /* or from memory: malloc'd, ownership passes (also on failure) */
    size_t body_len;
    bool stream;         /* deliver the body through ops->on_data */
    size_t max_response; /* buffered mode cap; 0 = 1 MiB */
    int max_attempts;    /* 0 = the aws client's setting */
} s3_req_spec_t;

/* Creates and queues the request; on success ops->finish runs exactly once. On failure returns
 * a negative errno and calls nothing (spec->body is freed). */
int s3__req_submit(s3_client_t *c, const s3_req_spec_t *spec, const s3_req_ops_t *ops, void *ud,
                   s3_req_t **out);
int s3__req_cancel(s3_req_t *r);
void s3__req_cancel_all(s3_client_t *c);
int s3__req_attempts(const s3_req_t *r);

typedef struct s3_upload s3_upload_t;

struct s3_client {
    uv_loop_t *loop;
    net_client_t *net;
    aws_client_t *aws;
    char *bucket, *prefix;
    char *base_url;    /* "http(s)://host[:port]" (with the bucket label when virtual-hosted) */
    char *host_header; /* as signed */
    char *path_prefix; /* "/bucket" for path-style, "" otherwise */
    /* No endpoint was configured: the host follows the aws client's region, which a profile
     * read after start-up may change (s3__endpoint_current). */
    bool ep_derived, ep_path_style;
    char ep_region[64];
    s3_config_t cfg; /* numbers only; the strings above are the owned copies */
    s3_req_t *live, *q_head, *q_tail;
    int inflight, queued;
    s3_upload_t *uploads; /* multipart uploads alive */
    int open_handles;     /* request timers not yet closed */
    int jobs;             /* put/multipart state machines alive */
    bool closing, aws_held;
    void (*close_cb)(void *);
    void *close_arg;
    struct {
        uint64_t calls, retries, attempts;
        uint64_t errors[AWS_ERR__COUNT];
    } m[S3_OP__COUNT];
    uint64_t uploads_aborted;
};

/* Finishes a pending s3_client_close once nothing is alive. */
void s3__client_maybe_closed(s3_client_t *c);
/* Fills e from an S3 error answer (XML <Error><Code>, <Message>, <RequestId>; headers for HEAD). */
void s3__error_from_http(aws_error_t *e, long status, const net_headers_t *h, const char *body,
                         size_t len);
/* Finds <tag>text</tag> in an XML text and copies the unescaped text into out (cap bytes).
 * Returns the length or -1 when absent. from: where to start searching (NULL = text). */
long s3__xml_text(const char *text, size_t len, const char *tag, char *out, size_t cap);
/* Appends the wire path for key (path prefix, key prefix, URI-encoded key) to out. */
int s3__wire_path(const s3_client_t *c, const char *key, buf_t *out);
void s3__info_from_headers(s3_object_info_t *info, long status, const net_headers_t *h);

/* s3_multipart.c */
int s3__multipart_start(s3_client_t *c, const char *key, int fd, uint64_t size,
                        const char *content_type, s3_done_cb cb, void *arg, s3_op_t **out);
int s3__multipart_cancel(s3_upload_t *u);
void s3__multipart_cancel_all(s3_client_t *c);

/* Rebuilds the derived endpoint when the aws client's region changed since it was built (s3.c).
 * Call before signing; on failure the previous endpoint stays. */
void s3__endpoint_current(s3_client_t *c);

#endif
