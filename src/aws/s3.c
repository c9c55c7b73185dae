/* s3_client_t: settings, endpoint and addressing style, key checks and wire paths, S3 error
 * typing, presigned GET URLs, orderly close and metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/s3_internal.h"
#include "core/log.h"

#define S3_MAX_KEY     1024
#define S3_MIN_PART    (5ull * 1024 * 1024)
#define S3_MAX_PART    (5ull * 1024 * 1024 * 1024)
#define S3_MAX_INFLIGH 1024

const char *const s3__op_names[S3_OP__COUNT] = {
    [S3_OP_PUT] = "put",
    [S3_OP_PART] = "put_part",
    [S3_OP_CREATE_MP] = "create_multipart",
    [S3_OP_COMPLETE_MP] = "complete_multipart",
    [S3_OP_ABORT_MP] = "abort_multipart",
    [S3_OP_GET] = "get",
    [S3_OP_HEAD] = "head",
    [S3_OP_DELETE] = "delete",
    [S3_OP_LIST_UPLOADS] = "list_uploads",
    [S3_OP_LIST] = "list",
};

void s3_config_defaults(s3_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_inflight = 32;
    cfg->queue_max = 10000;
    cfg->multipart_threshold = 16ull * 1024 * 1024;
    cfg->part_size = 8ull * 1024 * 1024;
    cfg->part_concurrency = 4;
    cfg->timeout_ms = 30000;
    cfg->min_rate_bps = 64 * 1024;
}

const char *s3_endpoint_from_env(void)
{
    const char *v = getenv("AWS_ENDPOINT_URL_S3");
    if (v && *v) return v;
    v = getenv("AWS_ENDPOINT_URL");
    return v && *v ? v : NULL;
}

/* ---- keys and paths ---- */

static int key_bytes_ok(const char *key, bool allow_empty)
{
    size_t n = strlen(key);
    if ((!allow_empty && n == 0) || n > S3_MAX_KEY) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch < 0x20 || ch == 0x7F) return -EINVAL;
    }
    /* curl removes "." and ".." segments from the URL after we signed it (no PATH_AS_IS in the
     * net client), so such keys could never be signed correctly. */
    const char *seg = key;
    for (;;) {
        size_t sl = strcspn(seg, "/");
        if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
            return -EINVAL;
        if (!seg[sl]) break;
        seg += sl + 1;
    }
    return 0;
}

int s3_key_check(const char *key)
{
    return key ? key_bytes_ok(key, false) : -EINVAL;
}

int s3__wire_path(const s3_client_t *c, const char *key, buf_t *out)
{
    int rc = buf_append_str(out, c->path_prefix);
    if (!key) return rc ? rc : (c->path_prefix[0] ? 0 : buf_append_str(out, "/"));
    rc |= buf_append_str(out, "/");
    rc |= sigv4_uri_encode(out, c->prefix, strlen(c->prefix), true);
    rc |= sigv4_uri_encode(out, key, strlen(key), true);
    return rc ? -ENOBUFS : 0;
}

/* ---- endpoint ---- */

static bool bucket_ok(const char *b)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
            return false;
    }
    return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

/* Sets base_url, host_header and path_prefix from "http(s)://host[:port][/]". */
static int endpoint_setup(s3_client_t *c, const char *url, bool path_style)
{
    bool tls;
    char host[256];
    if (aws__endpoint_authority(url, &tls, host) != 0) return -EINVAL;
    /* A bucket name with dots does not match the wildcard certificate of *.s3.amazonaws.com. */
    if (tls && strchr(c->bucket, '.')) path_style = true;
    char full[330];
    if (path_style)
        snprintf(full, sizeof full, "%s", host);
    else
        snprintf(full, sizeof full, "%s.%s", c->bucket, host);
    size_t bl = strlen(full) + 9;
    c->base_url = malloc(bl);
    c->host_header = strdup(full);
    c->path_prefix = malloc(strlen(c->bucket) + 2);
    if (!c->base_url || !c->host_header || !c->path_prefix) return -ENOMEM;
    snprintf(c->base_url, bl, "%s%s", tls ? "https://" : "http://", full);
    if (path_style)
        sprintf(c->path_prefix, "/%s", c->bucket);
    else
        c->path_prefix[0] = '\0';
    return 0;
}

void s3__endpoint_current(s3_client_t *c)
{
    const char *region = aws_client_region(c->aws);
    if (!c->ep_derived || !region || strcmp(region, c->ep_region) == 0) return;
    char *old[3] = {c->base_url, c->host_header, c->path_prefix};
    char url[300];
    snprintf(url, sizeof url, "https://s3.%s.amazonaws.com", region);
    c->base_url = c->host_header = c->path_prefix = NULL;
    if (endpoint_setup(c, url, c->ep_path_style) != 0) {
        free(c->base_url);
        free(c->host_header);
        free(c->path_prefix);
        c->base_url = old[0];
        c->host_header = old[1];
        c->path_prefix = old[2];
        return;
    }
    for (int i = 0; i < 3; i++)
        free(old[i]);
    snprintf(c->ep_region, sizeof c->ep_region, "%s", region);
}

/* ---- client ---- */

static void client_free(s3_client_t *c)
{
    free(c->bucket);
    free(c->prefix);
    free(c->base_url);
    free(c->host_header);
    free(c->path_prefix);
    free(c);
}

s3_client_t *s3_client_new(aws_client_t *aws, const s3_config_t *cfg)
{
    if (!aws || !cfg || !bucket_ok(cfg->bucket)) {
        log_error(S3_COMPONENT, "invalid S3 bucket name");
        return NULL;
    }
    const char *prefix = cfg->prefix ? cfg->prefix : "";
    if (key_bytes_ok(prefix, true)) {
        log_error(S3_COMPONENT, "invalid S3 key prefix");
        return NULL;
    }
    s3_client_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cfg = *cfg;
    c->cfg.bucket = c->cfg.prefix = c->cfg.endpoint = NULL;
    s3_config_t *k = &c->cfg;
    if (k->max_inflight < 1) k->max_inflight = 1;
    if (k->max_inflight > S3_MAX_INFLIGH) k->max_inflight = S3_MAX_INFLIGH;
    if (k->queue_max < 1) k->queue_max = 1;
    if (k->part_size < S3_MIN_PART || k->part_size > S3_MAX_PART) {
        log_error(S3_COMPONENT, "S3 part size must be 5 MiB .. 5 GiB");
        free(c);
        return NULL;
    }
    if (k->multipart_threshold < k->part_size) k->multipart_threshold = k->part_size;
    if (k->multipart_threshold > S3_MAX_PART) k->multipart_threshold = S3_MAX_PART;
    if (k->part_concurrency < 1) k->part_concurrency = 1;
    if (k->timeout_ms < 1000) k->timeout_ms = 1000;
    if (k->min_rate_bps < 1024) k->min_rate_bps = 1024;
    c->loop = aws->loop;
    c->net = aws->net;
    c->aws = aws;
    c->bucket = strdup(cfg->bucket);
    c->prefix = strdup(prefix);
    if (!c->bucket || !c->prefix) {
        client_free(c);
        return NULL;
    }
    char url[300];
    const char *ep = cfg->endpoint;
    if (!ep) {
        snprintf(url, sizeof url, "https://s3.%s.amazonaws.com", aws->cfg.region);
        ep = url;
        c->ep_derived = true;
        c->ep_path_style = cfg->path_style;
        snprintf(c->ep_region, sizeof c->ep_region, "%s", aws->cfg.region);
    }
    int rc = endpoint_setup(c, ep, cfg->path_style);
    if (rc) {
        log_error(S3_COMPONENT, "invalid S3 endpoint URL (want http(s)://host[:port])");
        client_free(c);
        return NULL;
    }
    /* Hold the aws client open: its close waits for ours, so credentials and the retry quota
     * never disappear under a running request. */
    aws->jobs++;
    c->aws_held = true;
    return c;
}

void s3__client_maybe_closed(s3_client_t *c)
{
    if (!c->closing || c->live || c->jobs || c->open_handles) return;
    void (*cb)(void *) = c->close_cb;
    void *arg = c->close_arg;
    aws_client_t *aws = c->aws;
    bool held = c->aws_held;
    client_free(c);
    if (held) {
        aws->jobs--;
        aws__client_maybe_closed(aws);
    }
    if (cb) cb(arg);
}

static void close_timer_closed(uv_handle_t *h)
{
    s3_client_t *c = h->data;
    free(h);
    c->open_handles--;
    s3__client_maybe_closed(c);
}

static void close_deferred(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, close_timer_closed);
}

void s3_client_close(s3_client_t *c, void (*done)(void *arg), void *arg)
{
    if (!c || c->closing) return;
    c->closing = true;
    c->close_cb = done;
    c->close_arg = arg;
    s3__multipart_cancel_all(c);
    s3__req_cancel_all(c);
    /* done must run from the loop, even when nothing was in flight. */
    uv_timer_t *t = malloc(sizeof *t);
    if (t && uv_timer_init(c->loop, t) == 0) {
        t->data = c;
        c->open_handles++;
        uv_timer_start(t, close_deferred, 0, 0);
        return;
    }
    free(t);
    s3__client_maybe_closed(c);
}

int s3_op_cancel(s3_op_t *op)
{
    if (!op) return -EALREADY;
    if (op->kind == S3_KIND_MULTIPART) return s3__multipart_cancel((s3_upload_t *)op);
    return s3__req_cancel((s3_req_t *)op);
}

/* ---- errors ---- */

static size_t xml_unescape(const char *in, size_t n, char *out, size_t cap)
{
    static const struct {
        const char *ent;
        char ch;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        char ch = in[i];
        if (ch == '&') {
            for (size_t e = 0; e < sizeof ents / sizeof ents[0]; e++) {
                size_t el = strlen(ents[e].ent);
                if (n - i >= el && memcmp(in + i, ents[e].ent, el) == 0) {
                    ch = ents[e].ch;
                    i += el - 1;
                    break;
                }
            }
        }
        out[o++] = ch;
    }
    if (cap) out[o] = '\0';
    return o;
}

long s3__xml_text(const char *text, size_t len, const char *tag, char *out, size_t cap)
{
    if (!text || !cap) return -1;
    char open[72], close[72];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    size_t ol = strlen(open), cl = strlen(close);
    for (size_t i = 0; i + ol <= len; i++) {
        if (text[i] != '<' || memcmp(text + i, open, ol) != 0) continue;
        size_t s = i + ol;
        for (size_t j = s; j + cl <= len; j++) {
            if (text[j] == '<' && memcmp(text + j, close, cl) == 0)
                return (long)xml_unescape(text + s, j - s, out, cap);
        }
        return -1;
    }
    return -1;
}

static bool code_in(const char *code, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(code, list[i]) == 0) return true;
    return false;
}

static const char *const s3_not_found[] = {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NotFound",
                                           NULL};
static const char *const s3_denied[] = {"InvalidAccessKeyId", "SignatureDoesNotMatch",
                                        "AccessDenied",       "RequestTimeTooSkewed",
                                        "ExpiredToken",       "InvalidToken",
                                        "AllAccessDisabled",  "AccountProblem",
                                        "Forbidden",          NULL};

void s3__error_from_http(aws_error_t *e, long status, const net_headers_t *h, const char *body,
                         size_t len)
{
    memset(e, 0, sizeof *e);
    e->http_status = status;
    const char *rid = h ? net_headers_get(h, "x-amz-request-id") : NULL;
    if (rid) aws__copy_printable(e->request_id, sizeof e->request_id, rid, strlen(rid));
    char tmp[512];
    if (s3__xml_text(body, len, "Code", tmp, sizeof tmp) > 0)
        aws__error_sanitize_type(tmp, strlen(tmp), e->type, sizeof e->type);
    else if (status == 404)
        snprintf(e->type, sizeof e->type, "NotFound"); /* HEAD answers have no body */
    else if (status == 403)
        snprintf(e->type, sizeof e->type, "Forbidden");
    if (s3__xml_text(body, len, "Message", tmp, sizeof tmp) > 0)
        aws__copy_printable(e->message, sizeof e->message, tmp, strlen(tmp));
    else
        snprintf(e->message, sizeof e->message, "HTTP %ld with no error message", status);
    if (!e->request_id[0] && s3__xml_text(body, len, "RequestId", tmp, sizeof tmp) > 0)
        aws__copy_printable(e->request_id, sizeof e->request_id, tmp, strlen(tmp));
    if (code_in(e->type, s3_not_found))
        e->code = AWS_ERR_NOT_FOUND;
    else if (code_in(e->type, s3_denied))
        e->code = AWS_ERR_ACCESS_DENIED;
    else if (strcmp(e->type, "InternalError") == 0)
        e->code = AWS_ERR_INTERNAL;
    else
        e->code = aws__error_classify(status, e->type, e->message);
}

/* ---- object info ---- */

static void copy_header(const net_headers_t *h, const char *name, char *out, size_t cap)
{
    const char *v = net_headers_get(h, name);
    aws__copy_printable(out, cap, v ? v : "", v ? strlen(v) : 0);
}

void s3__info_from_headers(s3_object_info_t *info, long status, const net_headers_t *h)
{
    memset(info, 0, sizeof *info);
    info->http_status = status;
    const char *cl = net_headers_get(h, "Content-Length");
    if (cl) info->content_length = strtoull(cl, NULL, 10);
    info->object_size = info->content_length;
    copy_header(h, "Content-Type", info->content_type, sizeof info->content_type);
    copy_header(h, "Content-Range", info->content_range, sizeof info->content_range);
    copy_header(h, "ETag", info->etag, sizeof info->etag);
    copy_header(h, "Last-Modified", info->last_modified, sizeof info->last_modified);
    const char *slash = strrchr(info->content_range, '/');
    if (slash && slash[1] >= '0' && slash[1] <= '9')
        info->object_size = strtoull(slash + 1, NULL, 10);
}

/* ---- presigning ---- */

int s3_presign_get(s3_client_t *c, const char *key, uint32_t expires_s, char **out)
{
    *out = NULL;
    if (s3_key_check(key) || expires_s < 1 || expires_s > SIGV4_MAX_EXPIRES) return -EINVAL;
    if (strlen(c->prefix) + strlen(key) > S3_MAX_KEY) return -EINVAL;
    const aws_creds_t *cr = &c->aws->creds;
    if (cr->state != AWS_CREDS_READY || !cr->ak) return -EAGAIN;
    int64_t now = aws__now_s();
    if (cr->expiration) {
        /* A URL signed with temporary credentials stops working when they expire. */
        int64_t left = cr->expiration - now;
        if (left < 60) return -EAGAIN;
        if ((int64_t)expires_s > left) expires_s = (uint32_t)left;
    }
    /* Signed at the start of the current step (expires/24, at most an hour), not this second:
     * URLs issued within one step are byte-identical, so browsers cache what they point at. The
     * URL then lives between expires_s - step and expires_s seconds from now. */
    int64_t step = expires_s / 24 > 3600 ? 3600 : expires_s / 24;
    if (step > 1) now -= now % step;
    s3__endpoint_current(c);
    buf_t path;
    buf_init(&path, 8192);
    int rc = s3__wire_path(c, key, &path);
    sigv4_request_t sr = {
        .method = "GET",
        .host = c->host_header,
        .path = path.data,
        .path_is_encoded = true,
        .payload_hash = SIGV4_UNSIGNED_PAYLOAD,
        .service = "s3",
        .region = c->aws->cfg.region,
        .time = (time_t)now,
        .s3 = true,
    };
    aws__creds_current(c->aws, &sr.creds);
    sigv4_result_t sig;
    memset(&sig, 0, sizeof sig);
    if (rc == 0) rc = sigv4_presign(&sr, expires_s, &sig);
    buf_free(&path);
    if (rc) return rc == -ENOBUFS ? -EINVAL : rc;
    buf_t url;
    buf_init(&url, 64 * 1024);
    rc = buf_printf(&url, "%s%s?%s", c->base_url, sig.wire_path, sig.wire_query);
    sigv4_result_free(&sig);
    if (rc) {
        buf_free(&url);
        return -ENOMEM;
    }
    *out = buf_steal(&url, NULL);
    return 0;
}

/* ---- metrics ---- */

int s3_client_op_counts(const s3_client_t *c, const char *op, s3_op_counts_t *out)
{
    for (int i = 0; i < S3_OP__COUNT; i++) {
        if (strcmp(op, s3__op_names[i]) != 0) continue;
        out->calls = c->m[i].calls;
        out->retries = c->m[i].retries;
        out->attempts = c->m[i].attempts;
        out->errors = 0;
        for (int e = 1; e < AWS_ERR__COUNT; e++)
            out->errors += c->m[i].errors[e];
        return 0;
    }
    return -ENOENT;
}

int s3_metrics_write(const s3_client_t *c, buf_t *out)
{
    int rc = buf_append_str(out, "# TYPE nova_s3_calls_total counter\n");
    for (int i = 0; i < S3_OP__COUNT; i++)
        rc |= buf_printf(out, "nova_s3_calls_total{op=\"%s\"} %llu\n", s3__op_names[i],
                         (unsigned long long)c->m[i].calls);
    rc |= buf_append_str(out, "# TYPE nova_s3_errors_total counter\n");
    for (int i = 0; i < S3_OP__COUNT; i++)
        for (int e = 1; e < AWS_ERR__COUNT; e++)
            if (c->m[i].errors[e])
                rc |= buf_printf(out, "nova_s3_errors_total{op=\"%s\",type=\"%s\"} %llu\n",
                                 s3__op_names[i], aws_err_name((aws_err_t)e),
                                 (unsigned long long)c->m[i].errors[e]);
    rc |= buf_append_str(out, "# TYPE nova_s3_retries_total counter\n");
    for (int i = 0; i < S3_OP__COUNT; i++)
        rc |= buf_printf(out, "nova_s3_retries_total{op=\"%s\"} %llu\n", s3__op_names[i],
                         (unsigned long long)c->m[i].retries);
    rc |= buf_printf(out,
                     "# TYPE nova_s3_inflight gauge\nnova_s3_inflight %d\n"
                     "# TYPE nova_s3_queued gauge\nnova_s3_queued %d\n"
                     "# TYPE nova_s3_uploads_aborted_total counter\n"
                     "nova_s3_uploads_aborted_total %llu\n",
                     c->inflight, c->queued, (unsigned long long)c->uploads_aborted);
    return rc ? -ENOBUFS : 0;
}
