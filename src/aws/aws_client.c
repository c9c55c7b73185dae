/* aws_client_t: construction (endpoint parsing, limits), orderly close, the deferred-callback
 * timer, metrics output, and the set of image models known to be dead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws_bedrock.h"
#include "aws/aws_creds_int.h"
#include "core/log.h"

const char *const aws__op_names[AWS_OP__COUNT] = {
    [AWS_OP_CONVERSE] = "converse",      [AWS_OP_CONVERSE_STREAM] = "converse_stream",
    [AWS_OP_INVOKE] = "invoke_model",    [AWS_OP_SPEECH] = "synthesize_speech",
    [AWS_OP_VOICES] = "describe_voices",
};

int aws__config_copy(aws_config_t *dst, const aws_config_t *src);
void aws__call_cancel_all(aws_client_t *c);

/* "https://host[:port][/]" -> base URL and the Host header value the signer needs. */
static int endpoint_parse(aws_endpoint_t *ep, const char *url)
{
    bool tls;
    char host[256];
    if (aws__endpoint_authority(url, &tls, host) != 0) return -EINVAL;
    size_t bl = strlen(host) + 9;
    ep->base_url = malloc(bl);
    ep->host_header = strdup(host);
    if (!ep->base_url || !ep->host_header) return -ENOMEM;
    snprintf(ep->base_url, bl, "%s%s", tls ? "https://" : "http://", host);
    return 0;
}

/* The endpoint of service s: the configured override, else the regional AWS host. */
static int endpoint_build(aws_client_t *c, aws_service_t s)
{
    const char *override = s == AWS_SVC_BEDROCK ? c->cfg.bedrock_endpoint : c->cfg.polly_endpoint;
    char url[300];
    if (!override) {
        int n = snprintf(url, sizeof url, "https://%s.%s.amazonaws.com",
                         s == AWS_SVC_BEDROCK ? "bedrock-runtime" : "polly", c->cfg.region);
        if (n < 0 || (size_t)n >= sizeof url) return -EINVAL;
    }
    aws_endpoint_t ep = {0};
    int rc = endpoint_parse(&ep, override ? override : url);
    if (rc) {
        free(ep.base_url);
        free(ep.host_header);
        return rc;
    }
    free(c->ep[s].base_url);
    free(c->ep[s].host_header);
    c->ep[s] = ep;
    return 0;
}

int aws__client_set_region(aws_client_t *c, const char *region)
{
    /* A region is a DNS label sequence ("eu-west-3"); anything else would make a host name that
     * curl rejects or, worse, one that points elsewhere. */
    size_t n = strlen(region);
    if (n == 0 || n > 63) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char ch = region[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return -EINVAL;
    }
    char *old = c->cfg.region;
    c->cfg.region = strdup(region);
    if (!c->cfg.region) {
        c->cfg.region = old;
        return -ENOMEM;
    }
    int rc = 0;
    for (int s = 0; s < AWS_SVC__COUNT; s++)
        rc |= endpoint_build(c, (aws_service_t)s);
    if (rc) {
        /* Keep signing and addressing consistent: go back to the old region. */
        free(c->cfg.region);
        c->cfg.region = old;
        for (int s = 0; s < AWS_SVC__COUNT; s++)
            endpoint_build(c, (aws_service_t)s);
        return rc;
    }
    free(old);
    return 0;
}

const char *aws_client_endpoint(const aws_client_t *c, const char *service)
{
    if (!c || !service) return NULL;
    if (strcmp(service, "bedrock") == 0) return c->ep[AWS_SVC_BEDROCK].base_url;
    if (strcmp(service, "polly") == 0) return c->ep[AWS_SVC_POLLY].base_url;
    return NULL;
}

const char *aws_client_region(const aws_client_t *c)
{
    return c ? c->cfg.region : NULL;
}

static void defer_cb(uv_timer_t *t)
{
    aws_client_t *c = t->data;
    aws_defer_t *d = c->defer_head;
    c->defer_head = c->defer_tail = NULL;
    while (d) {
        aws_defer_t *next = d->next;
        d->fn(d->arg);
        d = next;
    }
}

void aws__defer(aws_client_t *c, aws_defer_t *d, void (*fn)(void *), void *arg)
{
    d->next = NULL;
    d->fn = fn;
    d->arg = arg;
    if (c->defer_tail)
        c->defer_tail->next = d;
    else
        c->defer_head = d;
    c->defer_tail = d;
    uv_timer_start(&c->defer_timer, defer_cb, 0, 0);
}

double aws__rand01(aws_client_t *c)
{
    /* xorshift64*: jitter only needs to decorrelate clients, not be unpredictable. */
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void client_free(aws_client_t *c)
{
    for (int s = 0; s < AWS_SVC__COUNT; s++) {
        free(c->ep[s].base_url);
        free(c->ep[s].host_header);
    }
    for (size_t i = 0; i < c->dead_count; i++)
        free(c->dead_models[i]);
    free(c->dead_models);
    aws__voices_free(c);
    aws__creds_free(c);
    aws_config_free(&c->cfg);
    free(c);
}

aws_client_t *aws_client_new(uv_loop_t *loop, net_client_t *net, const aws_config_t *cfg)
{
    aws_client_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (aws__config_copy(&c->cfg, cfg)) {
        free(c);
        return NULL;
    }
    c->loop = loop;
    c->net = net;
    aws_config_t *k = &c->cfg;
    if (!k->region || !*k->region) {
        aws_config_set(&k->region, "us-east-1");
        c->creds.region_defaulted = true;
    }
    if (k->max_attempts < 1) k->max_attempts = 1;
    if (k->max_attempts > 10) k->max_attempts = 10;
    if (k->bedrock_max_inflight < 1) k->bedrock_max_inflight = 1;
    if (k->polly_max_inflight < 1) k->polly_max_inflight = 1;
    if (k->polly_job_concurrency < 1) k->polly_job_concurrency = 1;
    if (k->polly_chunk_chars < 100) k->polly_chunk_chars = 100;
    if (k->polly_chunk_chars > 3000) k->polly_chunk_chars = 3000;
    if (k->backoff_max_ms < 1) k->backoff_max_ms = 1;
    if (k->backoff_base_ms < 0) k->backoff_base_ms = 0;
    if (k->queue_max < 1) k->queue_max = 1;
    c->svc[AWS_SVC_BEDROCK].max_inflight = k->bedrock_max_inflight;
    c->svc[AWS_SVC_POLLY].max_inflight = k->polly_max_inflight;
    c->quota = k->retry_quota;
    c->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)c) | 1;
    int rc = 0;
    for (int s = 0; s < AWS_SVC__COUNT; s++)
        rc |= endpoint_build(c, (aws_service_t)s);
    if (rc) {
        log_error(AWS_COMPONENT, "invalid AWS endpoint URL (want http(s)://host[:port])");
        client_free(c);
        return NULL;
    }
    uv_timer_init(loop, &c->defer_timer);
    c->defer_timer.data = c;
    c->open_handles = 1;
    if (aws__creds_init(c)) {
        /* Handles are open now: close them the normal way. */
        aws_client_close(c, NULL, NULL);
        return NULL;
    }
    return c;
}

static void defer_closed(uv_handle_t *h)
{
    aws_client_t *c = h->data;
    c->open_handles--;
    aws__client_maybe_closed(c);
}

void aws__client_maybe_closed(aws_client_t *c)
{
    if (!c->closing) return;
    if (c->live || c->jobs || c->creds.pending || c->defer_head) return;
    if (!uv_is_closing((uv_handle_t *)&c->defer_timer)) {
        aws__creds_close(c);
        uv_close((uv_handle_t *)&c->defer_timer, defer_closed);
        return;
    }
    if (c->open_handles) return;
    void (*cb)(void *) = c->close_cb;
    void *arg = c->close_arg;
    client_free(c);
    if (cb) cb(arg);
}

void aws_client_close(aws_client_t *c, void (*done)(void *arg), void *arg)
{
    if (!c || c->closing) return;
    c->closing = true;
    c->close_cb = done;
    c->close_arg = arg;
    uv_timer_stop(&c->creds.refresh_timer);
    aws__creds_fetch_cancel(c);
    aws__call_cancel_all(c);
    aws__client_maybe_closed(c);
}

/* ---- dead image models ---- */

int aws_image_model_is_dead(const aws_client_t *c, const char *model_id)
{
    for (size_t i = 0; i < c->dead_count; i++)
        if (strcmp(c->dead_models[i], model_id) == 0) return 1;
    return 0;
}

void aws__mark_model_dead(aws_client_t *c, const char *model_id, const aws_error_t *why)
{
    if (aws_image_model_is_dead(c, model_id) || c->dead_count >= 64) return;
    char **n = realloc(c->dead_models, (c->dead_count + 1) * sizeof *n);
    if (!n) return;
    c->dead_models = n;
    char *id = strdup(model_id);
    if (!id) return;
    c->dead_models[c->dead_count++] = id;
    char line[512];
    aws_error_format(why, model_id, line, sizeof line);
    log_warn(AWS_COMPONENT, "image model skipped from now on: %s", line);
}

/* ---- metrics ---- */

int aws_client_op_counts(const aws_client_t *c, const char *op, aws_op_counts_t *out)
{
    for (int i = 0; i < AWS_OP__COUNT; i++) {
        if (strcmp(op, aws__op_names[i]) != 0) continue;
        const aws_op_metrics_t *m = &c->m[i];
        out->calls = m->calls;
        out->retries = m->retries;
        out->throttles = m->throttles;
        out->errors = 0;
        for (int e = 1; e < AWS_ERR__COUNT; e++)
            out->errors += m->errors[e];
        return 0;
    }
    return -ENOENT;
}

int aws_client_retry_quota(const aws_client_t *c)
{
    return c->quota;
}

int aws_metrics_write(const aws_client_t *c, buf_t *out)
{
    int rc = 0;
    rc |= buf_append_str(out, "# TYPE nova_aws_calls_total counter\n");
    for (int i = 0; i < AWS_OP__COUNT; i++)
        rc |= buf_printf(out, "nova_aws_calls_total{op=\"%s\"} %llu\n", aws__op_names[i],
                         (unsigned long long)c->m[i].calls);
    rc |= buf_append_str(out, "# TYPE nova_aws_errors_total counter\n");
    for (int i = 0; i < AWS_OP__COUNT; i++)
        for (int e = 1; e < AWS_ERR__COUNT; e++)
            if (c->m[i].errors[e])
                rc |= buf_printf(out, "nova_aws_errors_total{op=\"%s\",type=\"%s\"} %llu\n",
                                 aws__op_names[i], aws_err_name((aws_err_t)e),
                                 (unsigned long long)c->m[i].errors[e]);
    rc |= buf_append_str(out, "# TYPE nova_aws_retries_total counter\n");
    for (int i = 0; i < AWS_OP__COUNT; i++)
        rc |= buf_printf(out, "nova_aws_retries_total{op=\"%s\"} %llu\n", aws__op_names[i],
                         (unsigned long long)c->m[i].retries);
    rc |= buf_append_str(out, "# TYPE nova_aws_throttles_total counter\n");
    for (int i = 0; i < AWS_OP__COUNT; i++)
        rc |= buf_printf(out, "nova_aws_throttles_total{op=\"%s\"} %llu\n", aws__op_names[i],
                         (unsigned long long)c->m[i].throttles);
    rc |= buf_append_str(out, "# TYPE nova_aws_latency_seconds histogram\n");
    for (int i = 0; i < AWS_OP__COUNT; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "op=\"%s\"", aws__op_names[i]);
        metrics_hist_write(&c->m[i].latency, out, "nova_aws_latency_seconds", labels);
    }
    static const char *const svc[AWS_SVC__COUNT] = {"bedrock", "polly"};
    rc |= buf_append_str(out, "# TYPE nova_aws_inflight gauge\n");
    for (int s = 0; s < AWS_SVC__COUNT; s++)
        rc |= buf_printf(out, "nova_aws_inflight{service=\"%s\"} %d\n", svc[s], c->svc[s].inflight);
    rc |= buf_append_str(out, "# TYPE nova_aws_queued gauge\n");
    for (int s = 0; s < AWS_SVC__COUNT; s++)
        rc |= buf_printf(out, "nova_aws_queued{service=\"%s\"} %d\n", svc[s], c->svc[s].queued);
    rc |= buf_printf(out, "# TYPE nova_aws_retry_quota gauge\nnova_aws_retry_quota %d\n", c->quota);
    return rc ? -ENOBUFS : 0;
}
