/* The call engine: one AWS operation from submission to its single completion. A call waits in
 * its service's FIFO queue for an in-flight slot, gets credentials (waiting for a resolution or
 * refresh without blocking), is signed with SigV4 (or a Bedrock bearer key) at each attempt, and
 * is retried in AWS "standard" mode: up to cfg.max_attempts attempts, full-jitter exponential
 * backoff on the call's own uv timer, Retry-After / x-amz-retry-after honoured, and the
 * client-wide retry quota (cost 5, 10 for timeouts; refunds on success; the numbers are in
 * aws_retry.c). A call gives its slot back while it sleeps and re-enters the queue at the front,
 * so a retry is not starved by newer calls but does not hold capacity while waiting. A streaming
 * call hands only a 2xx body to its operation; an error answer's body is kept (bounded) and typed
 * like any other error answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws_internal.h"
#include "core/log.h"

/* Bodies above this are hashed on the threadpool (sigv4.h asks for that above a few 100 KiB). */
#define AWS_HASH_OFFLOAD_BYTES (256u * 1024u)
/* A streaming call keeps at most this much of an error answer's body (a JSON error document is a
 * few hundred bytes; the rest of a larger body is read and dropped). */
#define AWS_ERROR_BODY_MAX (64u * 1024u)

enum {
    CALL_HASHING = 0,
    CALL_QUEUED,
    CALL_CREDS,
    CALL_INFLIGHT,
    CALL_BACKOFF,
    CALL_FINISHING, /* final error stored, delivery scheduled on the timer */
    CALL_DONE,
};

struct aws_call {
    aws_client_t *c;
    aws_call_t *prev, *next; /* client->live */
    aws_call_t *qnext;       /* service queue */
    aws_service_t service;
    aws_op_t op;
    char *method, *path, *content_type, *accept;
    sigv4_pair_t *query;
    size_t query_count;
    char *body;
    size_t body_len;
    long timeout_ms;
    size_t max_response;
    char payload_hash[65];
    const aws_call_ops_t *ops;
    void *ud;
    int state;
    int attempt;
    int last_cost;
    bool cancelled, holds_slot, in_queue;
    bool pending_set, pending_allow_retry;
    aws_error_t pending; /* stream failure of this attempt, or the final error when FINISHING */
    /* Streaming calls only: the attempt's answer is not 2xx, so its body is an error document
     * collected here for aws__error_from_http instead of being fed to ops->on_data. */
    bool error_answer;
    buf_t error_body;
    net_request_t *req;
    uv_timer_t timer;
    aws_creds_waiter_t waiter;
    uv_work_t work;
    uint64_t t0;
};

static void call_pump(aws_client_t *c, aws_service_t s);
static void call_start_attempt(aws_call_t *call);

int aws__call_attempt(const aws_call_t *call)
{
    return call->attempt;
}

void aws__call_fail_attempt(aws_call_t *call, const aws_error_t *err, bool allow_retry)
{
    call->pending = *err;
    call->pending_set = true;
    call->pending_allow_retry = allow_retry;
}

/* ---- completion ---- */

static void call_timer_closed(uv_handle_t *h)
{
    aws_call_t *call = h->data;
    aws_client_t *c = call->c;
    free(call);
    c->open_handles--;
    aws__client_maybe_closed(c);
}

static void call_free_fields(aws_call_t *call)
{
    free(call->method);
    free(call->path);
    free(call->content_type);
    free(call->accept);
    for (size_t i = 0; i < call->query_count; i++) {
        free((char *)call->query[i].name);
        free((char *)call->query[i].value);
    }
    free(call->query);
    free(call->body);
    buf_free(&call->error_body);
}

static void call_complete(aws_call_t *call, const aws_error_t *err)
{
    aws_client_t *c = call->c;
    call->state = CALL_DONE;
    aws_op_metrics_t *m = &c->m[call->op];
    metrics_hist_observe(&m->latency, (double)(aws__now_ns() - call->t0) / 1e9);
    aws_error_t e;
    if (err) {
        e = *err;
        e.attempts = call->attempt;
        m->errors[e.code < AWS_ERR__COUNT ? e.code : AWS_ERR_INTERNAL]++;
    }
    if (call->prev)
        call->prev->next = call->next;
    else
        c->live = call->next;
    if (call->next) call->next->prev = call->prev;
    call->prev = call->next = NULL;
    call->ops->finish(call->ud, err ? &e : NULL);
    call_free_fields(call);
    uv_close((uv_handle_t *)&call->timer, call_timer_closed);
}

static void call_finish_cb(uv_timer_t *t)
{
    aws_call_t *call = t->data;
    call_complete(call, &call->pending);
}

/* Delivers err later from the loop (never inside the function that decided it). */
static void call_finish_async(aws_call_t *call, const aws_error_t *err)
{
    call->pending = *err;
    call->state = CALL_FINISHING;
    uv_timer_start(&call->timer, call_finish_cb, 0, 0);
}

static void call_release_slot(aws_call_t *call)
{
    if (!call->holds_slot) return;
    call->holds_slot = false;
    call->c->svc[call->service].inflight--;
}

/* ---- queueing ---- */

static void queue_push(aws_call_t *call, bool front)
{
    aws_svc_queue_t *q = &call->c->svc[call->service];
    call->qnext = NULL;
    if (front) {
        call->qnext = q->head;
        q->head = call;
        if (!q->tail) q->tail = call;
    } else {
        if (q->tail)
            q->tail->qnext = call;
        else
            q->head = call;
        q->tail = call;
    }
    q->queued++;
    call->in_queue = true;
    call->state = CALL_QUEUED;
}

static void queue_remove(aws_call_t *call)
{
    aws_svc_queue_t *q = &call->c->svc[call->service];
    aws_call_t *prev = NULL;
    for (aws_call_t *it = q->head; it; prev = it, it = it->qnext) {
        if (it != call) continue;
        if (prev)
            prev->qnext = it->qnext;
        else
            q->head = it->qnext;
        if (q->tail == it) q->tail = prev;
        q->queued--;
        call->in_queue = false;
        return;
    }
}

static void call_pump(aws_client_t *c, aws_service_t s)
{
    aws_svc_queue_t *q = &c->svc[s];
    while (q->head && q->inflight < q->max_inflight) {
        aws_call_t *call = q->head;
        q->head = call->qnext;
        if (!q->head) q->tail = NULL;
        q->queued--;
        call->in_queue = false;
        call_start_attempt(call);
    }
}

static void call_enqueue(aws_call_t *call, bool front)
{
    queue_push(call, front);
    call_pump(call->c, call->service);
}

/* ---- one attempt ---- */

static void call_attempt_failed(aws_call_t *call, aws_error_t *err, bool allow_retry,
                                const net_headers_t *h);

/* A failure before the request went out (signing, credentials): delivered from the loop later,
 * because this may run inside aws__call_submit. */
static void call_fail_now(aws_call_t *call, aws_error_t *err)
{
    call_release_slot(call);
    call_finish_async(call, err);
    call_pump(call->c, call->service);
}

static void on_net_done(net_request_t *req, const net_response_t *res, void *arg)
{
    (void)req;
    aws_call_t *call = arg;
    aws_client_t *c = call->c;
    call->req = NULL;
    call_release_slot(call);
    aws_error_t err;
    bool allow = true;
    if (call->cancelled) {
        aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
        allow = false;
    } else if (call->pending_set) {
        err = call->pending;
        allow = call->pending_allow_retry;
        if (!err.request_id[0]) {
            const char *rid = net_headers_get(res->headers, "x-amzn-RequestId");
            if (rid) aws__copy_printable(err.request_id, sizeof err.request_id, rid, strlen(rid));
        }
    } else if (res->status != 0) {
        aws__error_from_net(&err, res->status, res->error_detail);
    } else if (res->http_status >= 200 && res->http_status < 300) {
        int v = call->ops->validate ? call->ops->validate(call->ud, res, &err) : AWS_VALIDATE_OK;
        if (v == AWS_VALIDATE_OK) {
            aws__quota_refund(c, call->last_cost);
            call_pump(c, call->service);
            call_complete(call, NULL);
            return;
        }
        if (!err.http_status) err.http_status = res->http_status;
        if (!err.request_id[0]) {
            const char *rid = net_headers_get(res->headers, "x-amzn-RequestId");
            if (rid) aws__copy_printable(err.request_id, sizeof err.request_id, rid, strlen(rid));
        }
        allow = v == AWS_VALIDATE_RETRY;
    } else {
        /* A streaming call collected the error document itself (call_on_data). */
        const buf_t *b = call->error_answer ? &call->error_body : res->body;
        aws__error_from_http(&err, res->http_status, res->headers, b ? b->data : NULL,
                             b ? b->len : 0);
    }
    call->error_answer = false;
    buf_free(&call->error_body);
    call_pump(c, call->service);
    call_attempt_failed(call, &err, allow, res->headers);
}

static void backoff_cb(uv_timer_t *t)
{
    aws_call_t *call = t->data;
    call_enqueue(call, true);
}

static void call_attempt_failed(aws_call_t *call, aws_error_t *err, bool allow_retry,
                                const net_headers_t *h)
{
    aws_client_t *c = call->c;
    aws_op_metrics_t *m = &c->m[call->op];
    if (err->code == AWS_ERR_THROTTLED) m->throttles++;
    int cost = aws__retry_cost(err);
    if (call->ops->may_retry && !call->ops->may_retry(call->ud)) allow_retry = false;
    if (!allow_retry || cost == 0 || call->cancelled || c->closing ||
        call->attempt >= c->cfg.max_attempts) {
        call_complete(call, err);
        return;
    }
    if (!aws__quota_take(c, cost)) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, " (retry quota exhausted)");
        call_complete(call, err);
        return;
    }
    call->last_cost = cost;
    m->retries++;
    long delay = aws__backoff_ms(c, call->attempt, aws__retry_after_ms(h));
    log_debug(AWS_COMPONENT, "%s attempt %d failed (%s), retrying in %ld ms",
              aws__op_names[call->op], call->attempt, aws_err_name(err->code), delay);
    call->state = CALL_BACKOFF;
    uv_timer_start(&call->timer, backoff_cb, (uint64_t)delay, 0);
}

static int call_add_headers(net_request_t *r, const aws_call_t *call)
{
    int rc = 0;
    if (call->content_type) rc |= net_request_add_header(r, "Content-Type", call->content_type);
    if (call->accept) rc |= net_request_add_header(r, "Accept", call->accept);
    return rc;
}

/* Streaming calls: decides from the status line where the body goes. Only a 2xx answer is the
 * operation's stream; anything else is a restJson1 error document (a ConverseStream 408 or 429
 * before the stream starts), which must reach aws__error_from_http intact instead of failing
 * the event-stream decoder as a corrupt frame. */
static int call_on_headers(net_request_t *req, long http_status, const net_headers_t *h, void *arg)
{
    (void)req;
    (void)h;
    aws_call_t *call = arg;
    call->error_answer = http_status < 200 || http_status >= 300;
    buf_free(&call->error_body);
    buf_init(&call->error_body, AWS_ERROR_BODY_MAX);
    return 0;
}

static int call_on_data(net_request_t *req, const char *data, size_t len, void *arg)
{
    (void)req;
    aws_call_t *call = arg;
    if (call->error_answer) {
        /* Past the bound the rest is dropped: the type still comes from x-amzn-ErrorType. */
        if (call->error_body.len < AWS_ERROR_BODY_MAX) {
            size_t room = AWS_ERROR_BODY_MAX - call->error_body.len;
            buf_append(&call->error_body, data, len < room ? len : room);
        }
        return 0;
    }
    return call->ops->on_data(call->ud, data, len);
}

static void call_send(aws_call_t *call)
{
    aws_client_t *c = call->c;
    const aws_endpoint_t *ep = &c->ep[call->service];
    aws_error_t err;
    bool bearer = call->service == AWS_SVC_BEDROCK && c->cfg.bearer_token;
    sigv4_result_t sig;
    memset(&sig, 0, sizeof sig);
    buf_t url;
    buf_init(&url, 64 * 1024);
    net_request_t *r = NULL;
    if (!bearer) {
        sigv4_pair_t hdrs[2];
        size_t nh = 0;
        if (call->content_type) hdrs[nh++] = (sigv4_pair_t){"Content-Type", call->content_type};
        sigv4_request_t sr = {
            .method = call->method,
            .host = ep->host_header,
            .path = call->path,
            .path_is_encoded = true,
            .query = call->query,
            .query_count = call->query_count,
            .headers = hdrs,
            .header_count = nh,
            .payload_hash = call->payload_hash,
            .service = call->service == AWS_SVC_BEDROCK ? "bedrock" : "polly",
            .region = c->cfg.region,
            .time = (time_t)aws__now_s(),
        };
        aws__creds_current(c, &sr.creds);
        int rc = sigv4_sign_headers(&sr, &sig);
        if (rc) {
            aws__error_set(&err, AWS_ERR_VALIDATION, NULL, "signing failed: %s", strerror(-rc));
            goto fail;
        }
        buf_printf(&url, "%s%s%s%s", ep->base_url, sig.wire_path, sig.wire_query[0] ? "?" : "",
                   sig.wire_query);
    } else {
        buf_printf(&url, "%s%s", ep->base_url, call->path);
        /* The bearer path has no signer to encode the query for us; Bedrock calls carry none. */
    }
    r = url.data ? net_request_new(call->method, url.data) : NULL;
    if (!r) {
        aws__error_set(&err, AWS_ERR_VALIDATION, NULL, "cannot build request for %s",
                       url.data ? url.data : "(no url)");
        goto fail;
    }
    int rc = call_add_headers(r, call);
    if (bearer) {
        char *auth = malloc(strlen(c->cfg.bearer_token) + 8);
        if (!auth)
            rc = -ENOMEM;
        else {
            sprintf(auth, "Bearer %s", c->cfg.bearer_token);
            rc |= net_request_add_header(r, "Authorization", auth);
            free(auth);
        }
    } else {
        for (size_t i = 0; i < sig.header_count; i++)
            rc |= net_request_add_header(r, sig.headers[i].name, sig.headers[i].value);
    }
    if (call->body_len) rc |= net_request_set_body(r, call->body, call->body_len);
    if (rc) {
        aws__error_set(&err, AWS_ERR_VALIDATION, NULL, "cannot build request headers");
        goto fail;
    }
    net_request_set_timeout_ms(r, call->timeout_ms);
    if (call->max_response) net_request_set_max_response_bytes(r, call->max_response);
    if (call->ops->on_data) {
        net_request_set_on_headers(r, call_on_headers);
        net_request_set_on_data(r, call_on_data);
    }
    call->pending_set = false;
    call->error_answer = false;
    buf_free(&call->error_body);
    if (call->ops->attempt_begin) call->ops->attempt_begin(call->ud, call->attempt);
    rc = net_request_start(c->net, r, on_net_done, call);
    if (rc) {
        aws__error_set(&err, rc == NET_E_CLOSING ? AWS_ERR_CANCELLED : AWS_ERR_NETWORK, NULL,
                       "cannot start request: %s", net_strerror(rc));
        goto fail;
    }
    call->req = r;
    call->state = CALL_INFLIGHT;
    sigv4_result_free(&sig);
    buf_free(&url);
    return;
fail:
    if (r) net_request_free(r);
    sigv4_result_free(&sig);
    buf_free(&url);
    call_fail_now(call, &err);
}

static void call_creds_ready(void *arg, const aws_error_t *err)
{
    aws_call_t *call = arg;
    if (err) {
        aws_error_t e = *err;
        call_fail_now(call, &e);
        return;
    }
    call_send(call);
}

static void call_start_attempt(aws_call_t *call)
{
    aws_client_t *c = call->c;
    call->attempt++;
    call->holds_slot = true;
    c->svc[call->service].inflight++;
    if (call->service == AWS_SVC_BEDROCK && c->cfg.bearer_token) {
        call_send(call);
        return;
    }
    call->state = CALL_CREDS;
    call->waiter.ready = call_creds_ready;
    call->waiter.arg = call;
    aws__creds_get(c, &call->waiter);
}

/* ---- hashing large bodies off the loop ---- */

static void hash_work(uv_work_t *w)
{
    aws_call_t *call = w->data;
    if (sigv4_sha256_hex(call->body, call->body_len, call->payload_hash))
        call->payload_hash[0] = '\0';
}

static void hash_done(uv_work_t *w, int status)
{
    aws_call_t *call = w->data;
    aws_error_t err;
    if (call->cancelled || status != 0) {
        aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
        call_complete(call, &err);
        return;
    }
    if (!call->payload_hash[0]) {
        aws__error_set(&err, AWS_ERR_INTERNAL, NULL, "hashing the request body failed");
        call_complete(call, &err);
        return;
    }
    call_enqueue(call, false);
}

/* ---- public entry points ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int aws__call_submit(aws_client_t *c, const aws_call_spec_t *spec, const aws_call_ops_t *ops,
                     void *ud, aws_call_t **out)
{
    if (c->closing) {
        free(spec->body);
        return -ECANCELED;
    }
    aws_call_t *call = calloc(1, sizeof *call);
    if (!call) {
        free(spec->body);
        return -ENOMEM;
    }
    call->c = c;
    call->service = spec->service;
    call->op = spec->op;
    call->body = spec->body;
    call->body_len = spec->body_len;
    call->timeout_ms = spec->timeout_ms;
    call->max_response = spec->max_response;
    call->ops = ops;
    call->ud = ud;
    call->method = strdup(spec->method);
    call->path = strdup(spec->path);
    call->content_type = dup_or_null(spec->content_type);
    call->accept = dup_or_null(spec->accept);
    bool ok = call->method && call->path && (!spec->content_type || call->content_type) &&
              (!spec->accept || call->accept);
    if (ok && spec->query_count) {
        call->query = calloc(spec->query_count, sizeof *call->query);
        ok = call->query != NULL;
        for (size_t i = 0; ok && i < spec->query_count; i++) {
            call->query[i].name = strdup(spec->query[i].name);
            call->query[i].value = strdup(spec->query[i].value ? spec->query[i].value : "");
            call->query_count++;
            ok = call->query[i].name && call->query[i].value;
        }
    }
    if (ok && call->body_len <= AWS_HASH_OFFLOAD_BYTES)
        ok = sigv4_sha256_hex(call->body, call->body_len, call->payload_hash) == 0;
    if (!ok) {
        call_free_fields(call);
        free(call);
        return -ENOMEM;
    }
    uv_timer_init(c->loop, &call->timer);
    call->timer.data = call;
    c->open_handles++;
    call->t0 = aws__now_ns();
    call->next = c->live;
    if (c->live) c->live->prev = call;
    c->live = call;
    c->m[call->op].calls++;
    if (out) *out = call;
    aws_svc_queue_t *q = &c->svc[call->service];
    if (q->queued >= c->cfg.queue_max) {
        aws_error_t err;
        aws__error_set(&err, AWS_ERR_OVERLOADED, NULL, "too many %s calls waiting (%d queued)",
                       call->service == AWS_SVC_BEDROCK ? "Bedrock" : "Polly", q->queued);
        call_finish_async(call, &err);
        return 0;
    }
    if (call->body_len > AWS_HASH_OFFLOAD_BYTES) {
        call->state = CALL_HASHING;
        call->work.data = call;
        if (uv_queue_work(c->loop, &call->work, hash_work, hash_done) == 0) return 0;
        hash_work(&call->work);
    }
    call_enqueue(call, false);
    return 0;
}

int aws_call_cancel(aws_call_t *call)
{
    if (!call || call->cancelled || call->state == CALL_DONE || call->state == CALL_FINISHING)
        return -EALREADY;
    call->cancelled = true;
    aws_error_t err;
    aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
    switch (call->state) {
    case CALL_INFLIGHT:
        net_request_cancel(call->req);
        break;
    case CALL_HASHING:
        uv_cancel((uv_req_t *)&call->work);
        break;
    case CALL_QUEUED:
        queue_remove(call);
        call_finish_async(call, &err);
        break;
    case CALL_CREDS:
        aws__creds_forget(call->c, &call->waiter);
        call_release_slot(call);
        call_pump(call->c, call->service);
        call_finish_async(call, &err);
        break;
    case CALL_BACKOFF:
        uv_timer_stop(&call->timer);
        call_finish_async(call, &err);
        break;
    default:
        break;
    }
    return 0;
}

/* Cancels every live call (client close). */
void aws__call_cancel_all(aws_client_t *c);
void aws__call_cancel_all(aws_client_t *c)
{
    for (aws_call_t *it = c->live; it; it = it->next)
        aws_call_cancel(it);
}
