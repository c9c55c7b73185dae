/* Multipart upload of a file: CreateMultipartUpload, the parts (each a PUT of one slice of the
 * file, read by the net client with pread, at most cfg.part_concurrency in flight per upload),
 * then CompleteMultipartUpload with the parts' ETags. When a part fails for good, when Complete
 * fails or when the upload is cancelled, the parts in flight are cancelled and the upload is
 * aborted (AbortMultipartUpload) so that S3 does not keep billing for orphaned parts; the caller
 * gets the first error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/s3_internal.h"
#include "core/log.h"

#define S3_MAX_PARTS 10000u
#define S3_MIB       (1024ull * 1024ull)

enum { MP_CREATE = 0, MP_PARTS, MP_COMPLETE, MP_ABORT, MP_DONE };

struct s3_upload {
    s3_op_t op; /* kind S3_KIND_MULTIPART; first member */
    s3_client_t *c;
    s3_upload_t *prev, *next;
    char *key, *content_type, *upload_id;
    int fd;
    uint64_t size, part_size;
    uint32_t nparts, next_part, inflight, done_parts;
    char (*etags)[80];
    s3_req_t **parts; /* the request of each part in flight, else NULL */
    s3_req_t *ctl;    /* create / complete / abort in flight */
    int phase;
    bool failed, cancelled;
    aws_error_t err; /* the first failure, reported to the caller */
    s3_done_cb cb;
    void *arg;
};

typedef struct {
    s3_upload_t *u;
    uint32_t n; /* 1-based part number */
} part_ctx_t;

static void mp_launch(s3_upload_t *u);
static void mp_abort(s3_upload_t *u);

static void mp_free(s3_upload_t *u)
{
    free(u->key);
    free(u->content_type);
    free(u->upload_id);
    free(u->etags);
    free(u->parts);
    if (u->fd >= 0) close(u->fd);
    free(u);
}

static void mp_done(s3_upload_t *u)
{
    s3_client_t *c = u->c;
    u->phase = MP_DONE;
    if (u->prev)
        u->prev->next = u->next;
    else
        c->uploads = u->next;
    if (u->next) u->next->prev = u->prev;
    u->cb(u->arg, u->failed ? &u->err : NULL);
    mp_free(u);
    c->jobs--;
    s3__client_maybe_closed(c);
}

static void mp_fail(s3_upload_t *u, const aws_error_t *err)
{
    if (u->failed) return;
    u->failed = true;
    u->err = *err;
}

/* Called when something failed: once no part is in flight, abort (or finish when there is no
 * upload to abort). */
static void mp_settle(s3_upload_t *u)
{
    if (u->inflight || u->ctl) return;
    if (u->upload_id)
        mp_abort(u);
    else
        mp_done(u);
}

/* ---- abort ---- */

static int ok_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    (void)ud;
    (void)res;
    (void)err;
    return AWS_VALIDATE_OK;
}

static void abort_finish(void *ud, const aws_error_t *err)
{
    s3_upload_t *u = ud;
    u->ctl = NULL;
    if (err && err->code != AWS_ERR_NOT_FOUND) {
        char line[512];
        aws_error_format(err, "abort multipart upload", line, sizeof line);
        log_warn(S3_COMPONENT, "%s; its parts stay until a bucket lifecycle rule removes them",
                 line);
    } else {
        u->c->uploads_aborted++;
    }
    mp_done(u);
}

static const s3_req_ops_t abort_ops = {.validate = ok_validate, .finish = abort_finish};

static void mp_abort(s3_upload_t *u)
{
    u->phase = MP_ABORT;
    sigv4_pair_t q[] = {{"uploadId", u->upload_id}};
    s3_req_spec_t spec = {
        .op = S3_OP_ABORT_MP,
        .method = "DELETE",
        .key = u->key,
        .query = q,
        .query_count = 1,
        .fd = -1,
        /* While the client closes, one try: shutdown must not wait for backoff. */
        .max_attempts = u->c->closing ? 1 : 0,
    };
    if (s3__req_submit(u->c, &spec, &abort_ops, u, &u->ctl) != 0) {
        u->ctl = NULL;
        log_warn(S3_COMPONENT, "could not send AbortMultipartUpload");
        mp_done(u);
    }
}

/* ---- complete ---- */

static int complete_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    (void)ud;
    const char *p = res->body ? res->body->data : NULL;
    size_t n = res->body ? res->body->len : 0;
    /* S3 may answer 200 and still fail: the error document then replaces the result. */
    if (p && memmem(p, n, "<Error>", 7)) {
        s3__error_from_http(err, 200, res->headers, p, n);
        int cls = aws__error_retry_class(err);
        return cls ? AWS_VALIDATE_RETRY : AWS_VALIDATE_FATAL;
    }
    if (!p || !memmem(p, n, "CompleteMultipartUploadResult", 29)) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "not a CompleteMultipartUpload answer");
        return AWS_VALIDATE_FATAL;
    }
    return AWS_VALIDATE_OK;
}

static void complete_finish(void *ud, const aws_error_t *err)
{
    s3_upload_t *u = ud;
    u->ctl = NULL;
    if (!err && !u->cancelled) {
        mp_done(u);
        return;
    }
    if (err) mp_fail(u, err);
    mp_settle(u);
}

static const s3_req_ops_t complete_ops = {.validate = complete_validate, .finish = complete_finish};

static void mp_complete(s3_upload_t *u)
{
    u->phase = MP_COMPLETE;
    buf_t body;
    buf_init(&body, (size_t)u->nparts * 160 + 128);
    int rc = buf_append_str(&body, "<CompleteMultipartUpload>");
    for (uint32_t i = 0; i < u->nparts; i++)
        rc |= buf_printf(&body, "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>", i + 1,
                         u->etags[i]);
    rc |= buf_append_str(&body, "</CompleteMultipartUpload>");
    size_t len = body.len;
    char *data = buf_steal(&body, NULL);
    aws_error_t err;
    if (rc) {
        free(data);
        aws__error_set(&err, AWS_ERR_INTERNAL, NULL, "cannot build CompleteMultipartUpload");
        mp_fail(u, &err);
        mp_settle(u);
        return;
    }
    sigv4_pair_t q[] = {{"uploadId", u->upload_id}};
    s3_req_spec_t spec = {
        .op = S3_OP_COMPLETE_MP,
        .method = "POST",
        .key = u->key,
        .query = q,
        .query_count = 1,
        .content_type = "application/xml",
        .fd = -1,
        .body = data,
        .body_len = len,
    };
    rc = s3__req_submit(u->c, &spec, &complete_ops, u, &u->ctl);
    if (rc) {
        u->ctl = NULL;
        aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cannot send CompleteMultipartUpload: %s",
                       strerror(-rc));
        mp_fail(u, &err);
        mp_settle(u);
    }
}

/* ---- parts ---- */

static int part_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    part_ctx_t *p = ud;
    const char *etag = net_headers_get(res->headers, "ETag");
    if (!etag || !*etag || strlen(etag) >= sizeof p->u->etags[0] || strpbrk(etag, "<>&")) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "UploadPart answer without a usable ETag");
        return AWS_VALIDATE_FATAL;
    }
    snprintf(p->u->etags[p->n - 1], sizeof p->u->etags[0], "%s", etag);
    return AWS_VALIDATE_OK;
}

static void part_finish(void *ud, const aws_error_t *err)
{
    part_ctx_t *p = ud;
    s3_upload_t *u = p->u;
    uint32_t n = p->n;
    free(p);
    u->parts[n - 1] = NULL;
    u->inflight--;
    if (err && !u->failed) {
        mp_fail(u, err);
        /* Stop the other parts: the upload is going to be aborted anyway. */
        for (uint32_t i = 0; i < u->nparts; i++)
            if (u->parts[i]) s3__req_cancel(u->parts[i]);
    }
    if (u->failed) {
        mp_settle(u);
        return;
    }
    u->done_parts++;
    if (u->done_parts == u->nparts)
        mp_complete(u);
    else
        mp_launch(u);
}

static const s3_req_ops_t part_ops = {.validate = part_validate, .finish = part_finish};

static void mp_launch(s3_upload_t *u)
{
    int conc = u->c->cfg.part_concurrency;
    while (!u->failed && u->inflight < (uint32_t)conc && u->next_part < u->nparts) {
        uint32_t n = ++u->next_part;
        uint64_t off = (uint64_t)(n - 1) * u->part_size;
        uint64_t len = u->size - off < u->part_size ? u->size - off : u->part_size;
        part_ctx_t *p = malloc(sizeof *p);
        char num[16];
        snprintf(num, sizeof num, "%u", n);
        sigv4_pair_t q[] = {{"partNumber", num}, {"uploadId", u->upload_id}};
        s3_req_spec_t spec = {
            .op = S3_OP_PART,
            .method = "PUT",
            .key = u->key,
            .query = q,
            .query_count = 2,
            .fd = u->fd,
            .off = off,
            .len = len,
        };
        int rc = -ENOMEM;
        if (p) {
            p->u = u;
            p->n = n;
            rc = s3__req_submit(u->c, &spec, &part_ops, p, &u->parts[n - 1]);
        }
        if (rc) {
            free(p);
            aws_error_t err;
            aws__error_set(&err, rc == -ECANCELED ? AWS_ERR_CANCELLED : AWS_ERR_INTERNAL, NULL,
                           "cannot send UploadPart: %s", strerror(-rc));
            mp_fail(u, &err);
            for (uint32_t i = 0; i < u->nparts; i++)
                if (u->parts[i]) s3__req_cancel(u->parts[i]);
            mp_settle(u);
            return;
        }
        u->inflight++;
    }
}

/* ---- create ---- */

static int create_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    s3_upload_t *u = ud;
    char id[1024];
    long n = s3__xml_text(res->body ? res->body->data : NULL, res->body ? res->body->len : 0,
                          "UploadId", id, sizeof id);
    if (n <= 0 || (size_t)n >= sizeof id - 1) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "CreateMultipartUpload gave no UploadId");
        return AWS_VALIDATE_FATAL;
    }
    free(u->upload_id);
    u->upload_id = strdup(id);
    if (!u->upload_id) {
        aws__error_set(err, AWS_ERR_INTERNAL, NULL, "out of memory");
        return AWS_VALIDATE_FATAL;
    }
    return AWS_VALIDATE_OK;
}

static void create_finish(void *ud, const aws_error_t *err)
{
    s3_upload_t *u = ud;
    u->ctl = NULL;
    if (err) mp_fail(u, err);
    if (u->failed) {
        mp_settle(u);
        return;
    }
    u->phase = MP_PARTS;
    mp_launch(u);
}

static const s3_req_ops_t create_ops = {.validate = create_validate, .finish = create_finish};

int s3__multipart_start(s3_client_t *c, const char *key, int fd, uint64_t size,
                        const char *content_type, s3_done_cb cb, void *arg, s3_op_t **out)
{
    uint64_t ps = c->cfg.part_size;
    if ((size + ps - 1) / ps > S3_MAX_PARTS) {
        /* Grow the parts (whole MiB) so that the file fits in S3's 10000 parts. */
        ps = (size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
        ps = (ps + S3_MIB - 1) / S3_MIB * S3_MIB;
    }
    s3_upload_t *u = calloc(1, sizeof *u);
    if (!u) return -ENOMEM;
    u->op.kind = S3_KIND_MULTIPART;
    u->c = c;
    u->size = size;
    u->part_size = ps;
    u->nparts = (uint32_t)((size + ps - 1) / ps);
    u->cb = cb;
    u->arg = arg;
    u->key = strdup(key);
    u->content_type = strdup(content_type);
    u->etags = calloc(u->nparts, sizeof *u->etags);
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sizeof *p is right
    u->parts = calloc(u->nparts, sizeof *u->parts);
    u->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (!u->key || !u->content_type || !u->etags || !u->parts || u->fd < 0) {
        int rc = u->fd < 0 && u->key ? -errno : -ENOMEM;
        mp_free(u);
        return rc;
    }
    s3_req_spec_t spec = {
        .op = S3_OP_CREATE_MP,
        .method = "POST",
        .key = key,
        .query = (sigv4_pair_t[]){{"uploads", ""}},
        .query_count = 1,
        .content_type = content_type,
        .fd = -1,
    };
    int rc = s3__req_submit(c, &spec, &create_ops, u, &u->ctl);
    if (rc) {
        mp_free(u);
        return rc;
    }
    u->next = c->uploads;
    if (c->uploads) c->uploads->prev = u;
    c->uploads = u;
    c->jobs++;
    if (out) *out = &u->op;
    return 0;
}

int s3__multipart_cancel(s3_upload_t *u)
{
    if (u->cancelled || u->phase == MP_ABORT || u->phase == MP_DONE) return -EALREADY;
    u->cancelled = true;
    aws_error_t err;
    aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
    mp_fail(u, &err);
    if (u->ctl) s3__req_cancel(u->ctl);
    for (uint32_t i = 0; i < u->nparts; i++)
        if (u->parts[i]) s3__req_cancel(u->parts[i]);
    return 0;
}

void s3__multipart_cancel_all(s3_client_t *c)
{
    for (s3_upload_t *u = c->uploads; u; u = u->next)
        s3__multipart_cancel(u);
}
