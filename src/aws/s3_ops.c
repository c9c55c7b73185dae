/* The single-request S3 operations: PUT from a file (up to the multipart threshold), streaming
 * GET with an optional Range, HEAD, DELETE and counting open multipart uploads. Each is a small
 * state struct plus the engine hooks; the engine does queueing, signing and retries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3_internal.h"

#define S3_MAX_OBJECT (5ull * 1024 * 1024 * 1024 * 1024) /* 5 TiB */

typedef struct {
    s3_client_t *c;
    s3_done_cb cb;
    void *arg;
    s3_headers_cb on_headers;
    s3_data_cb on_data;
    s3_head_cb head_cb;
    s3_count_cb count_cb;
    bool started; /* GET: the user saw headers, so no retry */
    int count;
    s3_object_info_t info;
} simple_t;

static simple_t *simple_new(s3_client_t *c, s3_done_cb cb, void *arg)
{
    simple_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->c = c;
    s->cb = cb;
    s->arg = arg;
    return s;
}

static int check_key(const s3_client_t *c, const char *key)
{
    if (s3_key_check(key)) return -EINVAL;
    if (strlen(c->prefix) + strlen(key) > 1024) return -EINVAL;
    return c->closing ? -ECANCELED : 0;
}

static void simple_finish(void *ud, const aws_error_t *err)
{
    simple_t *s = ud;
    if (s->cb) s->cb(s->arg, err);
    free(s);
}

static int submit(s3_client_t *c, const s3_req_spec_t *spec, const s3_req_ops_t *ops, simple_t *s,
                  s3_op_t **out)
{
    s3_req_t *r = NULL;
    int rc = s3__req_submit(c, spec, ops, s, &r);
    if (rc) {
        free(s);
        return rc;
    }
    if (out) *out = (s3_op_t *)r;
    return 0;
}

/* ---- PUT ---- */

static int put_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    (void)ud;
    (void)res;
    (void)err;
    return AWS_VALIDATE_OK;
}

static const s3_req_ops_t put_ops = {.validate = put_validate, .finish = simple_finish};

int s3_put_file(s3_client_t *c, const char *key, int fd, uint64_t size, const char *content_type,
                s3_done_cb cb, void *arg, s3_op_t **out)
{
    int rc = check_key(c, key);
    if (rc) return rc;
    if (fd < 0 || size > S3_MAX_OBJECT || !cb) return -EINVAL;
    if (!content_type) content_type = "application/octet-stream";
    if (size > c->cfg.multipart_threshold)
        return s3__multipart_start(c, key, fd, size, content_type, cb, arg, out);
    simple_t *s = simple_new(c, cb, arg);
    if (!s) return -ENOMEM;
    s3_req_spec_t spec = {
        .op = S3_OP_PUT,
        .method = "PUT",
        .key = key,
        .content_type = content_type,
        .fd = fd,
        .off = 0,
        .len = size,
    };
    return submit(c, &spec, &put_ops, s, out);
}

/* ---- GET ---- */

static int get_on_headers(void *ud, long status, const net_headers_t *h)
{
    simple_t *s = ud;
    s->started = true;
    s3__info_from_headers(&s->info, status, h);
    return s->on_headers ? s->on_headers(s->arg, &s->info) : 0;
}

static int get_on_data(void *ud, const char *data, size_t len)
{
    simple_t *s = ud;
    return s->on_data ? s->on_data(s->arg, data, len) : 0;
}

static bool get_may_retry(void *ud)
{
    simple_t *s = ud;
    return !s->started;
}

static const s3_req_ops_t get_ops = {
    .on_headers = get_on_headers,
    .on_data = get_on_data,
    .may_retry = get_may_retry,
    .validate = put_validate,
    .finish = simple_finish,
};

int s3_get(s3_client_t *c, const char *key, const char *range, s3_headers_cb on_headers,
           s3_data_cb on_data, s3_done_cb cb, void *arg, s3_op_t **out)
{
    int rc = check_key(c, key);
    if (rc) return rc;
    if (!cb || (range && (!*range || strpbrk(range, "\r\n")))) return -EINVAL;
    simple_t *s = simple_new(c, cb, arg);
    if (!s) return -ENOMEM;
    s->on_headers = on_headers;
    s->on_data = on_data;
    s3_req_spec_t spec = {
        .op = S3_OP_GET,
        .method = "GET",
        .key = key,
        .range = range,
        .fd = -1,
        .stream = true,
    };
    return submit(c, &spec, &get_ops, s, out);
}

/* ---- HEAD ---- */

static int head_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    (void)err;
    simple_t *s = ud;
    s3__info_from_headers(&s->info, res->http_status, res->headers);
    return AWS_VALIDATE_OK;
}

static void head_finish(void *ud, const aws_error_t *err)
{
    simple_t *s = ud;
    s->head_cb(s->arg, err ? NULL : &s->info, err);
    free(s);
}

static const s3_req_ops_t head_ops = {.validate = head_validate, .finish = head_finish};

int s3_head(s3_client_t *c, const char *key, s3_head_cb cb, void *arg, s3_op_t **out)
{
    int rc = check_key(c, key);
    if (rc) return rc;
    if (!cb) return -EINVAL;
    simple_t *s = simple_new(c, NULL, arg);
    if (!s) return -ENOMEM;
    s->head_cb = cb;
    s3_req_spec_t spec = {.op = S3_OP_HEAD, .method = "HEAD", .key = key, .fd = -1};
    return submit(c, &spec, &head_ops, s, out);
}

/* ---- DELETE ---- */

static const s3_req_ops_t delete_ops = {.validate = put_validate, .finish = simple_finish};

int s3_delete(s3_client_t *c, const char *key, s3_done_cb cb, void *arg, s3_op_t **out)
{
    int rc = check_key(c, key);
    if (rc) return rc;
    if (!cb) return -EINVAL;
    simple_t *s = simple_new(c, cb, arg);
    if (!s) return -ENOMEM;
    s3_req_spec_t spec = {.op = S3_OP_DELETE, .method = "DELETE", .key = key, .fd = -1};
    return submit(c, &spec, &delete_ops, s, out);
}

/* ---- ListMultipartUploads (count only) ---- */

static int count_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    simple_t *s = ud;
    const char *p = res->body ? res->body->data : NULL;
    size_t n = res->body ? res->body->len : 0;
    if (!p || !memmem(p, n, "ListMultipartUploadsResult", 26)) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "not a ListMultipartUploads answer");
        return AWS_VALIDATE_FATAL;
    }
    s->count = 0;
    for (const char *q = p; (q = memmem(q, (size_t)(p + n - q), "<Upload>", 8)) != NULL; q += 8)
        s->count++;
    return AWS_VALIDATE_OK;
}

static void count_finish(void *ud, const aws_error_t *err)
{
    simple_t *s = ud;
    s->count_cb(s->arg, err ? -1 : s->count, err);
    free(s);
}

static const s3_req_ops_t count_ops = {.validate = count_validate, .finish = count_finish};

int s3_count_uploads(s3_client_t *c, const char *key_prefix, s3_count_cb cb, void *arg)
{
    if (!cb) return -EINVAL;
    if (c->closing) return -ECANCELED;
    const char *kp = key_prefix ? key_prefix : "";
    size_t pl = strlen(c->prefix), kl = strlen(kp), n = pl + kl;
    if (n > 1024) return -EINVAL;
    char *full = malloc(n + 1);
    if (!full) return -ENOMEM;
    memcpy(full, c->prefix, pl);
    memcpy(full + pl, kp, kl + 1);
    simple_t *s = simple_new(c, NULL, arg);
    if (!s) {
        free(full);
        return -ENOMEM;
    }
    s->count_cb = cb;
    sigv4_pair_t q[] = {{"uploads", ""}, {"prefix", full}};
    s3_req_spec_t spec = {
        .op = S3_OP_LIST_UPLOADS,
        .method = "GET",
        .key = NULL,
        .query = q,
        .query_count = full[0] ? 2 : 1,
        .fd = -1,
    };
    int rc = submit(c, &spec, &count_ops, s, NULL);
    free(full);
    return rc;
}
