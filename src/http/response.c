/* response: serialising answers (status line, headers, body; chunked streams), the access log
 * line and request metrics, and freeing requests. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"
#include "http/internal.h"

const char *http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

const char *http_method_str(http_method_t m)
{
    static const char *const names[] = {"GET",   "HEAD",   "POST",    "PUT",
                                        "PATCH", "DELETE", "OPTIONS", "OTHER"};
    return m <= HTTP_M_OTHER ? names[m] : "OTHER";
}

const char *http__date(http_server_t *srv)
{
    time_t now = time(NULL);
    if ((uint64_t)now != srv->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(srv->date, sizeof srv->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        srv->date_sec = (uint64_t)now;
    }
    return srv->date;
}

const char *http_req_header(const http_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}

static int resp__hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes of s (and '+' as space, as in form encoding) into the arena. */
static char *resp__decode(arena_t *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && resp__hexval(s[i + 1]) >= 0 &&
            resp__hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(resp__hexval(s[i + 1]) * 16 + resp__hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

const char *http_req_query(http_req_t *req, const char *name)
{
    size_t nl = strlen(name);
    const char *q = req->query;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        if (klen == nl && memcmp(q, name, nl) == 0) {
            if (!eq) return "";
            return resp__decode(&req->arena, eq + 1, len - klen - 1);
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

yajl_val http_req_json(http_req_t *req)
{
    char err[300];
    const char *ct = http_req_header(req, "content-type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        http_respond_error(req, 415, "unsupported_media_type", "send the body as application/json");
        return NULL;
    }
    yajl_val v = json_parse(&req->arena, req->body ? req->body : "", req->body_len,
                            (int)req->server->cfg->max_json_depth, err, sizeof err);
    if (!v) http_respond_error(req, 400, "invalid_json", err);
    return v;
}

const char *http_req_peer(const http_req_t *req)
{
    return req->conn ? req->conn->peer : "";
}

void http_res_header(http_req_t *req, const char *name, const char *value)
{
    if (req->nres_headers == req->res_headers_cap) {
        size_t cap = req->res_headers_cap ? req->res_headers_cap * 2 : 8;
        http_header_t *nh = arena_alloc(&req->arena, cap * sizeof *nh);
        if (req->nres_headers) memcpy(nh, req->res_headers, req->nres_headers * sizeof *nh);
        req->res_headers = nh;
        req->res_headers_cap = cap;
    }
    req->res_headers[req->nres_headers].name = arena_strdup(&req->arena, name);
    req->res_headers[req->nres_headers].value = arena_strdup(&req->arena, value);
    req->nres_headers++;
}

void http__request_free(http_req_t *req)
{
    arena_free(&req->arena);
    free(req);
}

static void resp__json_escape(buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            buf_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            buf_printf(b, "\\u%04x", ch);
        else
            buf_append(b, s, 1);
    }
}

void http__finish_log(http_req_t *req)
{
    http_server_t *srv = req->server;
    double secs = (double)(uv_hrtime() - req->start_ns) / 1e9;
    metrics_hist_observe(&srv->req_duration, secs);
    http__record_request(srv, req);
    if (log__level > LOG_LEVEL_INFO || (req->route && (req->route->flags & HTTP_ROUTE_NO_LOG)))
        return;
    char line[1400];
    buf_t b = {line, 0, sizeof line, sizeof line - 1};
    /* buf_t over a stack array: never grows (max = capacity - 1), so nothing is allocated. */
    buf_printf(&b, "\"request_id\":\"%s\",\"peer\":\"%s\",\"method\":\"", req->request_id,
               req->conn ? req->conn->peer : "");
    resp__json_escape(&b, req->method_name ? req->method_name : "?");
    buf_append_str(&b, "\",\"path\":\"");
    resp__json_escape(&b, req->path ? req->path : "");
    buf_printf(&b, "\",\"status\":%d,\"bytes\":%zu,\"duration_ms\":%.3f,\"user_id\":", req->status,
               req->bytes_sent, secs * 1000);
    if (req->user_id)
        buf_printf(&b, "%" PRId64, req->user_id);
    else
        buf_append_str(&b, "null");
    if (req->aborted) buf_append_str(&b, ",\"aborted\":true");
    log_write_json(LOG_LEVEL_INFO, "access", line);
}

static bool resp__no_body_status(int status)
{
    return status == 204 || status == 304 || (status >= 100 && status < 200);
}

/* Serialises the status line and headers into b. */
static void resp__head(http_req_t *req, buf_t *b, int status, const char *ctype, long long clen,
                       bool chunked)
{
    http_conn_t *c = req->conn;
    bool keep = req->keep_alive && !c->close_after && !req->server->shutting_down;
    buf_printf(b, "HTTP/1.%d %d %s\r\nDate: %s\r\n", req->http_minor ? 1 : 0, status,
               http_status_text(status), http__date(req->server));
    if (ctype) buf_printf(b, "Content-Type: %s\r\n", ctype);
    if (chunked)
        buf_append_str(b, "Transfer-Encoding: chunked\r\n");
    else if (clen >= 0 && !resp__no_body_status(status))
        buf_printf(b, "Content-Length: %lld\r\n", clen);
    if (!keep) {
        buf_append_str(b, "Connection: close\r\n");
        c->close_after = true;
    } else if (req->http_minor == 0) {
        buf_append_str(b, "Connection: keep-alive\r\n");
    }
    buf_printf(b, "X-Request-Id: %s\r\n", req->request_id);
    http__cors_headers(req, b);
    for (size_t i = 0; i < req->nres_headers; i++)
        buf_printf(b, "%s: %s\r\n", req->res_headers[i].name, req->res_headers[i].value);
    buf_append_str(b, "\r\n");
}

void http__response_head(http_req_t *req, buf_t *b, int status, const char *ctype, long long clen)
{
    resp__head(req, b, status, ctype, clen, false);
}

static void resp__finish(http_req_t *req)
{
    req->responded = true;
    http_conn_t *c = req->conn;
    http__finish_log(req);
    if (c) {
        c->req = NULL;
        http__conn_response_done(c);
    }
    http__request_free(req);
}

void http_respond(http_req_t *req, int status, const char *content_type, const void *body,
                  size_t len)
{
    if (req->responded) return;
    req->status = status;
    if (!req->conn) {
        resp__finish(req);
        return;
    }
    bool send_body = req->method != HTTP_M_HEAD && !resp__no_body_status(status);
    buf_t b;
    buf_init(&b, (size_t)1 << 31);
    resp__head(req, &b, status, content_type, (long long)len, false);
    if (send_body && len) buf_append(&b, body, len);
    size_t n;
    char *data = buf_steal(&b, &n);
    req->bytes_sent = n;
    http_conn_t *c = req->conn;
    if (!data || http__conn_write(c, data, n) != 0) c->close_after = true;
    resp__finish(req);
}

void http_respond_json(http_req_t *req, int status, yajl_gen g)
{
    const unsigned char *out;
    size_t len;
    yajl_gen_get_buf(g, &out, &len);
    http_respond(req, status, "application/json", out, len);
}

void http_respond_error(http_req_t *req, int status, const char *error, const char *detail)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "error", error);
    json_kv_str(g, "detail", detail);
    json_kv_str(g, "request_id", req->request_id);
    yajl_gen_map_close(g);
    http_respond_json(req, status, g);
    yajl_gen_free(g);
}

void http_respond_detail(http_req_t *req, int status, const char *detail)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "detail", detail);
    json_kv_str(g, "request_id", req->request_id);
    yajl_gen_map_close(g);
    http_respond_json(req, status, g);
    yajl_gen_free(g);
}

void http__send_error_and_close(http_conn_t *c, int status, const char *msg)
{
    http_req_t *req = c->req;
    if (!req) {
        http__conn_close(c, msg);
        return;
    }
    if (!req->request_id[0]) {
        uint64_t n = ++c->srv->reqid_counter;
        snprintf(req->request_id, sizeof req->request_id, "%016llx%08llx",
                 (unsigned long long)c->srv->reqid_seed, (unsigned long long)(n & 0xffffffffu));
    }
    c->close_after = true;
    req->keep_alive = false;
    c->state = CONN_HANDLING;
    const char *err = status == 400   ? "bad_request"
                      : status == 408 ? "request_timeout"
                      : status == 413 ? "payload_too_large"
                      : status == 414 ? "uri_too_long"
                      : status == 417 ? "expectation_failed"
                      : status == 431 ? "headers_too_large"
                      : status == 501 ? "not_implemented"
                      : status == 404 ? "not_found"
                      : status == 405 ? "method_not_allowed"
                                      : "error";
    http_respond_error(req, status, err, msg);
}

/* ---- streams ----------------------------------------------------------------------------- */

int http_stream_start(http_req_t *req, int status, const char *content_type, size_t max_queued,
                      void (*on_drain)(http_req_t *req, void *arg), void *arg)
{
    http_conn_t *c = req->conn;
    req->status = status;
    req->streaming = true;
    if (!c) return -EPIPE;
    c->stream_chunked = req->http_minor >= 1;
    if (!c->stream_chunked) c->close_after = true; /* HTTP/1.0: the end of the body is the close */
    c->stream_max_queued = max_queued;
    c->on_drain = on_drain;
    c->on_drain_arg = arg;
    buf_t b;
    buf_init(&b, 1 << 20);
    resp__head(req, &b, status, content_type, -1, c->stream_chunked);
    size_t n;
    char *data = buf_steal(&b, &n);
    req->bytes_sent += n;
    c->state = CONN_WRITING;
    int rc = data ? http__conn_write(c, data, n) : -ENOMEM;
    /* Streams may idle for long: the write-stall timer runs only while bytes are queued. */
    return rc;
}

int http_stream_write(http_req_t *req, const void *data, size_t len)
{
    http_conn_t *c = req->conn;
    if (!c || c->state == CONN_CLOSING) return -EPIPE;
    if (len == 0) return 0;
    if (c->queued_bytes + len > c->stream_max_queued) return -ENOBUFS;
    char *out = malloc(len + 32);
    if (!out) return -ENOMEM;
    size_t n = 0;
    if (c->stream_chunked) n = (size_t)sprintf(out, "%zx\r\n", len);
    memcpy(out + n, data, len);
    n += len;
    if (c->stream_chunked) {
        out[n++] = '\r';
        out[n++] = '\n';
    }
    req->bytes_sent += n;
    return http__conn_write(c, out, n);
}

static void response__stream_finish(http_req_t *req, bool complete)
{
    http_conn_t *c = req->conn;
    if (c && c->state != CONN_CLOSING && !complete) c->close_after = true;
    if (c && c->state != CONN_CLOSING && c->stream_chunked && complete) {
        char *end = malloc(5);
        if (end) {
            memcpy(end, "0\r\n\r\n", 5); // NOLINT(bugprone-not-null-terminated-result): wire bytes
            req->bytes_sent += 5;
            http__conn_write(c, end, 5);
        }
    }
    req->streaming = false;
    req->responded = true;
    http__finish_log(req);
    if (c) {
        c->req = NULL;
        c->on_drain = NULL;
        if (c->state != CONN_CLOSING) http__conn_response_done(c);
    }
    http__request_free(req);
}

void http_stream_end(http_req_t *req)
{
    response__stream_finish(req, true);
}

void http_stream_abort(http_req_t *req)
{
    response__stream_finish(req, false);
}
