/* The S3 request engine: one HTTP exchange with S3 from submission to its single completion.
 * A request body read from a file is hashed on the threadpool first (S3 checks
 * x-amz-content-sha256 against what it receives), then the request waits in the client's FIFO
 * queue for an in-flight slot, takes credentials from the aws client, is signed in SigV4 S3 mode
 * at each attempt and is retried in the AWS "standard" way with the aws client's settings and
 * its shared retry quota. The aws call engine cannot be reused as is: it knows only Bedrock and
 * Polly, non-S3 signing and memory bodies. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aws/s3_internal.h"
#include "core/log.h"

#define S3_HASH_CHUNK      (256u * 1024u)
#define S3_ERR_BODY_MAX    (64u * 1024u)
#define S3_STREAM_MAX      ((size_t)1 << 40)
#define S3_STREAM_TIMEOUT  (6L * 3600L * 1000L)
#define S3_DEFAULT_MAX_RSP (1024u * 1024u)

enum {
    REQ_HASHING = 0,
    REQ_QUEUED,
    REQ_CREDS,
    REQ_INFLIGHT,
    REQ_BACKOFF,
    REQ_FINISHING,
    REQ_DONE,
};

struct s3_req {
    s3_op_t op; /* kind S3_KIND_REQ; first member so s3_op_t * converts */
    s3_client_t *c;
    s3_req_t *prev, *next, *qnext;
    s3_opname_t name;
    char *method, *path, *content_type, *range;
    sigv4_pair_t *query;
    size_t query_count;
    int fd;
    uint64_t off, len;
    char *body;
    size_t body_len;
    bool has_body, stream;
    size_t max_response;
    long timeout_ms;
    int max_attempts;
    char payload_hash[65];
    const s3_req_ops_t *ops;
    void *ud;
    int state, attempt, last_cost, hash_err;
    bool cancelled, holds_slot, user_stopped, error_mode;
    buf_t errbody; /* streaming mode: the body of a non-2xx answer */
    net_request_t *net;
    uv_timer_t timer;
    aws_creds_waiter_t waiter;
    uv_work_t work;
    aws_error_t pending;
};

static void req_start_attempt(s3_req_t *r);

int s3__req_attempts(const s3_req_t *r)
{
    return r->attempt;
}

/* ---- completion ---- */

static void req_timer_closed(uv_handle_t *h)
{
    s3_req_t *r = h->data;
    s3_client_t *c = r->c;
    free(r);
    c->open_handles--;
    s3__client_maybe_closed(c);
}

static void req_free_fields(s3_req_t *r)
{
    free(r->method);
    free(r->path);
    free(r->content_type);
    free(r->range);
    for (size_t i = 0; i < r->query_count; i++) {
        free((char *)r->query[i].name);
        free((char *)r->query[i].value);
    }
    free(r->query);
    free(r->body);
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
    buf_free(&r->errbody);
}

static void req_complete(s3_req_t *r, const aws_error_t *err)
{
    s3_client_t *c = r->c;
    r->state = REQ_DONE;
    aws_error_t e;
    if (err) {
        e = *err;
        e.attempts = r->attempt;
        c->m[r->name].errors[e.code < AWS_ERR__COUNT ? e.code : AWS_ERR_INTERNAL]++;
    }
    if (r->prev)
        r->prev->next = r->next;
    else
        c->live = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->ops->finish(r->ud, err ? &e : NULL);
    req_free_fields(r);
    uv_close((uv_handle_t *)&r->timer, req_timer_closed);
}

static void req_finish_cb(uv_timer_t *t)
{
    s3_req_t *r = t->data;
    req_complete(r, &r->pending);
}

/* Delivers err later from the loop (never inside the function that decided it). */
static void req_finish_async(s3_req_t *r, const aws_error_t *err)
{
    r->pending = *err;
    r->state = REQ_FINISHING;
    uv_timer_start(&r->timer, req_finish_cb, 0, 0);
}

/* ---- queueing ---- */

static void queue_push(s3_req_t *r, bool front)
{
    s3_client_t *c = r->c;
    r->qnext = NULL;
    if (front) {
        r->qnext = c->q_head;
        c->q_head = r;
        if (!c->q_tail) c->q_tail = r;
    } else {
        if (c->q_tail)
            c->q_tail->qnext = r;
        else
            c->q_head = r;
        c->q_tail = r;
    }
    c->queued++;
    r->state = REQ_QUEUED;
}

static void queue_remove(s3_req_t *r)
{
    s3_client_t *c = r->c;
    s3_req_t *prev = NULL;
    for (s3_req_t *it = c->q_head; it; prev = it, it = it->qnext) {
        if (it != r) continue;
        if (prev)
            prev->qnext = it->qnext;
        else
            c->q_head = it->qnext;
        if (c->q_tail == it) c->q_tail = prev;
        c->queued--;
        return;
    }
}

static void pump(s3_client_t *c)
{
    while (c->q_head && c->inflight < c->cfg.max_inflight) {
        s3_req_t *r = c->q_head;
        c->q_head = r->qnext;
        if (!c->q_head) c->q_tail = NULL;
        c->queued--;
        req_start_attempt(r);
    }
}

static void release_slot(s3_req_t *r)
{
    if (!r->holds_slot) return;
    r->holds_slot = false;
    r->c->inflight--;
}

static void req_fail_now(s3_req_t *r, const aws_error_t *err)
{
    release_slot(r);
    req_finish_async(r, err);
    pump(r->c);
}

/* ---- one attempt ---- */

static void backoff_cb(uv_timer_t *t)
{
    s3_req_t *r = t->data;
    queue_push(r, true);
    pump(r->c);
}

static void req_attempt_failed(s3_req_t *r, aws_error_t *err, bool allow_retry)
{
    s3_client_t *c = r->c;
    aws_client_t *aws = c->aws;
    int cls = aws__error_retry_class(err);
    int max = r->max_attempts ? r->max_attempts : aws->cfg.max_attempts;
    if (r->ops->may_retry && !r->ops->may_retry(r->ud)) allow_retry = false;
    if (!allow_retry || cls == 0 || r->cancelled || (c->closing && r->name != S3_OP_ABORT_MP) ||
        r->attempt >= max) {
        req_complete(r, err);
        return;
    }
    int cost = cls == 2 ? 10 : 5;
    if (aws->quota < cost) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, " (retry quota exhausted)");
        req_complete(r, err);
        return;
    }
    aws->quota -= cost;
    r->last_cost = cost;
    c->m[r->name].retries++;
    double cap = (double)aws->cfg.backoff_base_ms * pow(2.0, r->attempt - 1);
    if (cap > (double)aws->cfg.backoff_max_ms) cap = (double)aws->cfg.backoff_max_ms;
    long delay = (long)(aws__rand01(aws) * cap);
    log_debug(S3_COMPONENT, "%s attempt %d failed (%s %s), retrying in %ld ms",
              s3__op_names[r->name], r->attempt, aws_err_name(err->code), err->type, delay);
    r->state = REQ_BACKOFF;
    uv_timer_start(&r->timer, backoff_cb, (uint64_t)delay, 0);
}

static void on_net_done(net_request_t *nr, const net_response_t *res, void *arg)
{
    (void)nr;
    s3_req_t *r = arg;
    s3_client_t *c = r->c;
    r->net = NULL;
    release_slot(r);
    aws_error_t err;
    bool allow = true;
    if (r->cancelled || r->user_stopped) {
        aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
        allow = false;
    } else if (res->status != 0) {
        aws__error_from_net(&err, res->status, res->error_detail);
    } else if (res->http_status >= 200 && res->http_status < 300) {
        int v = r->ops->validate ? r->ops->validate(r->ud, res, &err) : AWS_VALIDATE_OK;
        if (v == AWS_VALIDATE_OK) {
            aws_client_t *aws = c->aws;
            aws->quota += r->last_cost ? r->last_cost : 1;
            if (aws->quota > aws->cfg.retry_quota) aws->quota = aws->cfg.retry_quota;
            pump(c);
            req_complete(r, NULL);
            return;
        }
        if (!err.http_status) err.http_status = res->http_status;
        allow = v == AWS_VALIDATE_RETRY;
    } else if (r->stream) {
        s3__error_from_http(&err, res->http_status, res->headers, r->errbody.data, r->errbody.len);
    } else {
        s3__error_from_http(&err, res->http_status, res->headers,
                            res->body ? res->body->data : NULL, res->body ? res->body->len : 0);
    }
    pump(c);
    req_attempt_failed(r, &err, allow);
}

static int req_on_headers(net_request_t *nr, long status, const net_headers_t *h, void *arg)
{
    (void)nr;
    s3_req_t *r = arg;
    if (status < 200 || status >= 300) {
        r->error_mode = true;
        return 0;
    }
    r->error_mode = false;
    if (r->ops->on_headers && r->ops->on_headers(r->ud, status, h) != 0) {
        r->user_stopped = true;
        return 1;
    }
    return 0;
}

static int req_on_data(net_request_t *nr, const char *data, size_t len, void *arg)
{
    (void)nr;
    s3_req_t *r = arg;
    if (r->error_mode) {
        /* Keep the start of an error document for typing; the rest is not needed. */
        if (r->errbody.len < S3_ERR_BODY_MAX) {
            size_t n = S3_ERR_BODY_MAX - r->errbody.len;
            buf_append(&r->errbody, data, len < n ? len : n);
        }
        return 0;
    }
    if (r->ops->on_data && r->ops->on_data(r->ud, data, len) != 0) {
        r->user_stopped = true;
        return 1;
    }
    return 0;
}

static long req_timeout(const s3_req_t *r)
{
    const s3_config_t *k = &r->c->cfg;
    if (r->stream) return S3_STREAM_TIMEOUT;
    uint64_t bytes = r->fd >= 0 ? r->len : r->body_len;
    double ms = (double)k->timeout_ms + (double)bytes * 1000.0 / (double)k->min_rate_bps;
    return ms > (double)S3_STREAM_TIMEOUT ? S3_STREAM_TIMEOUT : (long)ms;
}

static void req_send(s3_req_t *r)
{
    s3_client_t *c = r->c;
    aws_error_t err;
    sigv4_result_t sig;
    memset(&sig, 0, sizeof sig);
    s3__endpoint_current(c);
    buf_t url;
    buf_init(&url, 64 * 1024);
    net_request_t *nr = NULL;
    sigv4_pair_t hdrs[2];
    size_t nh = 0;
    if (r->content_type) hdrs[nh++] = (sigv4_pair_t){"Content-Type", r->content_type};
    if (r->range) hdrs[nh++] = (sigv4_pair_t){"Range", r->range};
    sigv4_request_t sr = {
        .method = r->method,
        .host = c->host_header,
        .path = r->path,
        .path_is_encoded = true,
        .query = r->query,
        .query_count = r->query_count,
        .headers = hdrs,
        .header_count = nh,
        .payload_hash = r->payload_hash,
        .service = "s3",
        .region = c->aws->cfg.region,
        .time = (time_t)aws__now_s(),
        .s3 = true,
    };
    aws__creds_current(c->aws, &sr.creds);
    int rc = sigv4_sign_headers(&sr, &sig);
    if (rc) {
        aws__error_set(&err, AWS_ERR_VALIDATION, NULL, "signing failed: %s", strerror(-rc));
        goto fail;
    }
    rc = buf_printf(&url, "%s%s%s%s", c->base_url, sig.wire_path, sig.wire_query[0] ? "?" : "",
                    sig.wire_query);
    nr = rc == 0 ? net_request_new(r->method, url.data) : NULL;
    if (!nr) {
        aws__error_set(&err, AWS_ERR_VALIDATION, NULL, "cannot build the request URL");
        goto fail;
    }
    rc = 0;
    if (r->content_type) rc |= net_request_add_header(nr, "Content-Type", r->content_type);
    if (r->range) rc |= net_request_add_header(nr, "Range", r->range);
    for (size_t i = 0; i < sig.header_count; i++)
        rc |= net_request_add_header(nr, sig.headers[i].name, sig.headers[i].value);
    if (r->fd >= 0)
        rc |= net_request_set_body_file(nr, r->fd, r->off, r->len);
    else if (r->has_body)
        rc |= net_request_set_body(nr, r->body, r->body_len);
    if (rc) {
        aws__error_set(&err, AWS_ERR_VALIDATION, NULL, "cannot build the request headers");
        goto fail;
    }
    net_request_set_timeout_ms(nr, req_timeout(r));
    /* curl checks Content-Length against the cap even for HEAD, which has no body. */
    bool big = r->stream || strcmp(r->method, "HEAD") == 0;
    net_request_set_max_response_bytes(nr, big ? S3_STREAM_MAX : r->max_response);
    if (r->stream) {
        net_request_set_on_headers(nr, req_on_headers);
        net_request_set_on_data(nr, req_on_data);
        buf_reset(&r->errbody);
        r->error_mode = false;
    }
    c->m[r->name].attempts++;
    rc = net_request_start(c->net, nr, on_net_done, r);
    if (rc) {
        aws__error_set(&err, rc == NET_E_CLOSING ? AWS_ERR_CANCELLED : AWS_ERR_NETWORK, NULL,
                       "cannot start request: %s", net_strerror(rc));
        goto fail;
    }
    r->net = nr;
    r->state = REQ_INFLIGHT;
    sigv4_result_free(&sig);
    buf_free(&url);
    return;
fail:
    if (nr) net_request_free(nr);
    sigv4_result_free(&sig);
    buf_free(&url);
    req_fail_now(r, &err);
}

static void req_creds_ready(void *arg, const aws_error_t *err)
{
    s3_req_t *r = arg;
    if (err) {
        req_fail_now(r, err);
        return;
    }
    req_send(r);
}

static void req_start_attempt(s3_req_t *r)
{
    r->attempt++;
    r->holds_slot = true;
    r->c->inflight++;
    r->state = REQ_CREDS;
    r->waiter.ready = req_creds_ready;
    r->waiter.arg = r;
    aws__creds_get(r->c->aws, &r->waiter);
}

/* ---- hashing file bodies off the loop ---- */

static void hash_work(uv_work_t *w)
{
    s3_req_t *r = w->data;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *chunk = malloc(S3_HASH_CHUNK);
    r->hash_err = 0;
    if (!md || !chunk || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        r->hash_err = -ENOMEM;
        goto out;
    }
    for (uint64_t done = 0; done < r->len;) {
        size_t want = r->len - done < S3_HASH_CHUNK ? (size_t)(r->len - done) : S3_HASH_CHUNK;
        ssize_t n = pread(r->fd, chunk, want, (off_t)(r->off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { /* read error, or the file is shorter than announced */
            r->hash_err = n < 0 ? -errno : -EIO;
            goto out;
        }
        EVP_DigestUpdate(md, chunk, (size_t)n);
        done += (uint64_t)n;
    }
    unsigned char dig[32];
    EVP_DigestFinal_ex(md, dig, NULL);
    for (int i = 0; i < 32; i++)
        snprintf(r->payload_hash + 2 * i, 3, "%02x", dig[i]);
out:
    free(chunk);
    EVP_MD_CTX_free(md);
}

static void hash_done(uv_work_t *w, int status)
{
    s3_req_t *r = w->data;
    aws_error_t err;
    if (r->cancelled || status != 0) {
        aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
        req_complete(r, &err);
        return;
    }
    if (r->hash_err) {
        aws__error_set(&err, AWS_ERR_VALIDATION, NULL, "reading the upload file failed: %s",
                       strerror(-r->hash_err));
        req_complete(r, &err);
        return;
    }
    queue_push(r, false);
    pump(r->c);
}

/* ---- entry points ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int s3__req_submit(s3_client_t *c, const s3_req_spec_t *spec, const s3_req_ops_t *ops, void *ud,
                   s3_req_t **out)
{
    if (c->closing && spec->op != S3_OP_ABORT_MP) {
        free(spec->body);
        return -ECANCELED;
    }
    s3_req_t *r = calloc(1, sizeof *r);
    if (!r) {
        free(spec->body);
        return -ENOMEM;
    }
    r->op.kind = S3_KIND_REQ;
    r->c = c;
    r->name = spec->op;
    r->fd = -1;
    r->body = spec->body;
    r->body_len = spec->body_len;
    r->has_body = spec->body != NULL || strcmp(spec->method, "POST") == 0;
    r->stream = spec->stream;
    r->max_response = spec->max_response ? spec->max_response : S3_DEFAULT_MAX_RSP;
    r->max_attempts = spec->max_attempts;
    r->ops = ops;
    r->ud = ud;
    buf_init(&r->errbody, S3_ERR_BODY_MAX);
    buf_t path;
    buf_init(&path, 8192);
    bool ok = s3__wire_path(c, spec->key, &path) == 0;
    r->path = buf_steal(&path, NULL);
    r->method = strdup(spec->method);
    r->content_type = dup_or_null(spec->content_type);
    r->range = dup_or_null(spec->range);
    ok = ok && r->path && r->method && (!spec->content_type || r->content_type) &&
         (!spec->range || r->range);
    if (ok && spec->query_count) {
        r->query = calloc(spec->query_count, sizeof *r->query);
        ok = r->query != NULL;
        for (size_t i = 0; ok && i < spec->query_count; i++) {
            r->query[i].name = strdup(spec->query[i].name);
            r->query[i].value = strdup(spec->query[i].value ? spec->query[i].value : "");
            r->query_count++;
            ok = r->query[i].name && r->query[i].value;
        }
    }
    int rc = ok ? 0 : -ENOMEM;
    if (ok && spec->fd >= 0) {
        r->fd = fcntl(spec->fd, F_DUPFD_CLOEXEC, 0);
        if (r->fd < 0) rc = -errno;
        r->off = spec->off;
        r->len = spec->len;
    }
    if (rc == 0 && spec->fd < 0)
        rc = sigv4_sha256_hex(r->body, r->body_len, r->payload_hash) ? -ENOMEM : 0;
    else if (rc == 0 && c->cfg.unsigned_payload)
        snprintf(r->payload_hash, sizeof r->payload_hash, "%s", SIGV4_UNSIGNED_PAYLOAD);
    if (rc) {
        req_free_fields(r);
        free(r);
        return rc;
    }
    uv_timer_init(c->loop, &r->timer);
    r->timer.data = r;
    c->open_handles++;
    r->next = c->live;
    if (c->live) c->live->prev = r;
    c->live = r;
    c->m[r->name].calls++;
    if (out) *out = r;
    if (c->queued >= c->cfg.queue_max) {
        aws_error_t err;
        aws__error_set(&err, AWS_ERR_OVERLOADED, NULL, "too many S3 requests waiting (%d queued)",
                       c->queued);
        req_finish_async(r, &err);
        return 0;
    }
    if (r->fd >= 0 && !r->payload_hash[0]) {
        r->state = REQ_HASHING;
        r->work.data = r;
        if (uv_queue_work(c->loop, &r->work, hash_work, hash_done) == 0) return 0;
        aws_error_t err;
        aws__error_set(&err, AWS_ERR_INTERNAL, NULL, "cannot queue hashing work");
        req_finish_async(r, &err);
        return 0;
    }
    queue_push(r, false);
    pump(c);
    return 0;
}

int s3__req_cancel(s3_req_t *r)
{
    if (!r || r->cancelled || r->state == REQ_DONE || r->state == REQ_FINISHING) return -EALREADY;
    r->cancelled = true;
    aws_error_t err;
    aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
    switch (r->state) {
    case REQ_INFLIGHT:
        net_request_cancel(r->net);
        break;
    case REQ_HASHING:
        /* Either the work is cancelled (hash_done gets UV_ECANCELED) or it finishes and
         * hash_done sees the flag. */
        uv_cancel((uv_req_t *)&r->work);
        break;
    case REQ_QUEUED:
        queue_remove(r);
        req_finish_async(r, &err);
        break;
    case REQ_CREDS:
        aws__creds_forget(r->c->aws, &r->waiter);
        req_fail_now(r, &err);
        break;
    case REQ_BACKOFF:
        uv_timer_stop(&r->timer);
        req_finish_async(r, &err);
        break;
    default:
        break;
    }
    return 0;
}

void s3__req_cancel_all(s3_client_t *c)
{
    for (s3_req_t *it = c->live; it; it = it->next)
        if (it->name != S3_OP_ABORT_MP) s3__req_cancel(it);
}
