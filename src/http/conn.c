/* conn: one client connection: reading through llhttp, one request at a time (pipelined requests
 * wait in `pending` so responses leave strictly in order), timeouts per phase, writes, and the
 * single teardown path http__conn_close. A connection is freed only after both of its libuv
 * handles have run their close callbacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "http/internal.h"

enum { PHASE_HEADER, PHASE_BODY, PHASE_KEEPALIVE, PHASE_WRITE };

typedef struct {
    uv_write_t w;
    http_conn_t *c;
    size_t len;
    char *data;
} conn__write_t;

static llhttp_settings_t conn__settings;
static bool conn__settings_ready;

static void conn__parse(http_conn_t *c, const char *data, size_t len);
static void conn__init_settings(void);

static void conn__on_timer(uv_timer_t *t)
{
    http_conn_t *c = t->data;
    int phase = c->state == CONN_IDLE   ? PHASE_KEEPALIVE
                : c->state == CONN_HEAD ? PHASE_HEADER
                : c->state == CONN_BODY ? PHASE_BODY
                                        : PHASE_WRITE;
    c->srv->timeouts[phase]++;
    if ((c->state == CONN_HEAD || c->state == CONN_BODY) && c->writes_pending == 0) {
        /* A slow or stalled client: tell it why before closing (nginx answers 408 too). */
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
        http__send_error_and_close(c, 408,
                                   c->state == CONN_HEAD ? "request headers not received in time"
                                                         : "request body stalled");
        return;
    }
    http__conn_close(c, phase == PHASE_KEEPALIVE ? "keep-alive timeout" : "timeout");
}

static void conn__arm(http_conn_t *c, int64_t ms)
{
    uv_timer_start(&c->timer, conn__on_timer, (uint64_t)ms, 0);
}

static void conn__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    http_conn_t *c = h->data;
    (void)suggested;
    b->base = c->srv->read_buf;
    b->len = sizeof c->srv->read_buf;
}

static void conn__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    http_conn_t *c = s->data;
    if (nread == 0) return;
    if (nread < 0) {
        c->peer_closed = true;
        /* A half-closed client that still waits for its answer is rare for HTTP; treat EOF as the
         * client leaving (nginx's 499) unless only queued writes remain. */
        if (c->state == CONN_WRITING && !c->req && c->writes_pending) {
            c->close_after = true;
            uv_read_stop(s);
            c->reading = false;
            return;
        }
        http__conn_close(c, nread == UV_EOF ? "client closed" : uv_strerror((int)nread));
        return;
    }
    if (c->state == CONN_HANDLING || c->state == CONN_WRITING || c->state == CONN_CLOSING) {
        /* The next pipelined request arrived while this one is answered: keep a bounded amount
         * and let TCP push back on the rest. */
        if (buf_append(&c->pending, b->base, (size_t)nread) != 0 ||
            c->pending.len >= (size_t)c->srv->cfg->max_pipelined_bytes) {
            uv_read_stop(s);
            c->reading = false;
            if (c->pending.len < (size_t)nread) http__conn_close(c, "pipeline buffer overflow");
        }
        return;
    }
    conn__parse(c, b->base, (size_t)nread);
}

static http_conn_t *conn__new(http_server_t *srv)
{
    conn__init_settings();
    http_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = srv;
    c->id = ++srv->next_conn_id;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 2;
    http__list_init(&c->link);
    http__list_insert(&srv->conns, &c->link);
    srv->nconns++;
    srv->conns_total++;
    buf_init(&c->tok, (size_t)srv->cfg->max_header_bytes);
    buf_init(&c->pending, (size_t)srv->cfg->max_pipelined_bytes + sizeof srv->read_buf);
    return c;
}

static void conn__start(http_conn_t *c)
{
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        char ip[48] = "?";
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            snprintf(c->peer, sizeof c->peer, "%s:%d", ip,
                     ntohs(((struct sockaddr_in *)&ss)->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip,
                     ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        }
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &conn__settings);
    c->parser.data = c;
    c->state = CONN_IDLE;
    /* The first request gets the header timeout from the moment of connecting. */
    conn__arm(c, c->srv->cfg->header_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, conn__alloc, conn__on_read);
    c->reading = true;
}

void http__conn_accept(http_server_t *srv, uv_stream_t *listener)
{
    http_conn_t *c = conn__new(srv);
    if (!c) return;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        http__conn_close(c, "accept failed");
        return;
    }
    conn__start(c);
}

int http_server_adopt(http_server_t *srv, int fd)
{
    http_conn_t *c = conn__new(srv);
    if (!c) return -ENOMEM;
    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc != 0) {
        http__conn_close(c, "adopt failed");
        return rc;
    }
    conn__start(c);
    return 0;
}

static void conn__on_close(uv_handle_t *h)
{
    http_conn_t *c = h->data;
    if (--c->handles_open > 0) return;
    http_server_t *srv = c->srv;
    http__list_remove(&c->link);
    buf_free(&c->tok);
    buf_free(&c->pending);
    free(c);
    http__server_conn_closed(srv);
}

void http__conn_close(http_conn_t *c, const char *reason)
{
    if (c->state == CONN_CLOSING) return;
    c->state = CONN_CLOSING;
    log_debug("http", "connection %llu (%s) closed: %s", (unsigned long long)c->id, c->peer,
              reason);
    http_req_t *req = c->req;
    c->req = NULL;
    if (req) {
        if (req->streaming || (!req->responded && c->message_done)) {
            /* The handler owns the request: tell it, and let it finish (its answer is dropped). */
            req->conn = NULL;
            req->aborted = true;
            if (req->on_abort) req->on_abort(req, req->on_abort_arg);
        } else {
            http__request_free(req);
        }
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn__on_close);
    uv_close((uv_handle_t *)&c->tcp, conn__on_close);
}

/* After the last byte of a response left: keep-alive, or close. */
static void conn__after_response(http_conn_t *c)
{
    if (c->close_after || c->peer_closed || c->srv->shutting_down) {
        http__conn_close(c, "response complete (close)");
        return;
    }
    c->state = CONN_IDLE;
    c->message_done = false;
    buf_free(&c->tok); /* idle connections hold no buffers */
    llhttp_resume(&c->parser);
    conn__arm(c, c->srv->cfg->keepalive_timeout_ms);
    if (!c->reading) {
        uv_read_start((uv_stream_t *)&c->tcp, conn__alloc, conn__on_read);
        c->reading = true;
    }
    if (c->pending.len) {
        size_t len;
        char *data = buf_steal(&c->pending, &len);
        buf_init(&c->pending, (size_t)c->srv->cfg->max_pipelined_bytes + sizeof c->srv->read_buf);
        conn__parse(c, data, len);
        free(data);
    }
}

static void conn__on_write(uv_write_t *w, int status)
{
    conn__write_t *wr = (conn__write_t *)w;
    http_conn_t *c = wr->c;
    c->writes_pending--;
    c->queued_bytes -= wr->len;
    free(wr->data);
    free(wr);
    if (c->state == CONN_CLOSING) return;
    if (status < 0) {
        http__conn_close(c, uv_strerror(status));
        return;
    }
    if (c->writes_pending) {
        conn__arm(c, c->srv->cfg->write_timeout_ms); /* progress: restart the stall timer */
        return;
    }
    uv_timer_stop(&c->timer);
    if (c->req && c->req->streaming) {
        if (c->on_drain) c->on_drain(c->req, c->on_drain_arg);
        return;
    }
    if (c->state == CONN_WRITING && !c->req) conn__after_response(c);
}

int http__conn_write(http_conn_t *c, char *data, size_t len)
{
    if (c->state == CONN_CLOSING) {
        free(data);
        return -EPIPE;
    }
    conn__write_t *wr = malloc(sizeof *wr);
    if (!wr) {
        free(data);
        return -ENOMEM;
    }
    wr->c = c;
    wr->len = len;
    wr->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, conn__on_write);
    if (rc != 0) {
        free(data);
        free(wr);
        return rc;
    }
    c->writes_pending++;
    c->queued_bytes += len;
    conn__arm(c, c->srv->cfg->write_timeout_ms);
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void conn__dispatch(http_conn_t *c)
{
    http_req_t *req = c->req;
    c->state = CONN_HANDLING;
    uv_timer_stop(&c->timer);
    req->keep_alive =
        llhttp_should_keep_alive(&c->parser) && !c->close_after && !c->srv->shutting_down;
    router_match_t *m = &c->match;
    if (req->method == HTTP_M_OPTIONS && m->status != 404) {
        if (!http__cors_preflight(req, m)) {
            http_res_header(req, "Allow", m->allow);
            http_respond(req, 204, NULL, NULL, 0);
        }
        return;
    }
    if (m->status == 404) {
        http_respond_error(req, 404, "not_found", "Not found.");
        return;
    }
    if (m->status == 405) {
        http_res_header(req, "Allow", m->allow);
        char detail[160];
        snprintf(detail, sizeof detail, "Method \"%s\" not allowed.", req->method_name);
        http_respond_error(req, 405, "method_not_allowed", detail);
        return;
    }
    req->route->handler(req);
}

static void conn__parse(http_conn_t *c, const char *data, size_t len)
{
    enum llhttp_errno err = llhttp_execute(&c->parser, data, len);
    if (err == HPE_OK) return;
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        size_t used = pos && pos >= data && pos <= data + len ? (size_t)(pos - data) : len;
        if (used < len && buf_append(&c->pending, data + used, len - used) != 0)
            c->close_after = true;
        if (err == HPE_PAUSED_UPGRADE) c->close_after = true; /* no protocol upgrades here */
        conn__dispatch(c);
        return;
    }
    c->srv->bad_requests++;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    if (c->err_status) {
        http__send_error_and_close(c, c->err_status, c->err_msg);
        return;
    }
    char msg[200];
    snprintf(msg, sizeof msg, "malformed HTTP request: %s", llhttp_get_error_reason(&c->parser));
    http__send_error_and_close(c, 400, msg);
}

/* ---- llhttp callbacks -------------------------------------------------------------------- */

static int conn__fail(http_conn_t *c, int status, const char *msg)
{
    c->err_status = status;
    c->err_msg = msg;
    return -1;
}

static int on_message_begin(llhttp_t *p)
{
    http_conn_t *c = p->data;
    http_req_t *req = calloc(1, sizeof *req);
    if (!req) return conn__fail(c, 503, "out of memory");
    arena_init(&req->arena);
    req->server = c->srv;
    req->conn = c;
    req->app = c->srv->app;
    req->start_ns = uv_hrtime();
    req->query = "";
    req->path = "/";
    req->target = "/";
    req->method_name = "GET";
    c->req = req;
    c->state = CONN_HEAD;
    c->head_bytes = 0;
    c->err_status = 0;
    c->err_msg = NULL;
    c->continue_sent = false;
    c->message_done = false;
    memset(&c->match, 0, sizeof c->match);
    buf_init(&c->tok, (size_t)c->srv->cfg->max_header_bytes);
    conn__arm(c, c->srv->cfg->header_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    c->head_bytes += len;
    if (c->tok.len + len > (size_t)c->srv->cfg->max_uri_bytes)
        return conn__fail(c, 414, "request target too long");
    if (buf_append(&c->tok, at, len) != 0)
        return conn__fail(c, 431, "request header fields too large");
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    http_req_t *req = c->req;
    req->target = arena_strndup(&req->arena, c->tok.data ? c->tok.data : "", c->tok.len);
    const char *q = strchr(req->target, '?');
    if (q) {
        req->path = arena_strndup(&req->arena, req->target, (size_t)(q - req->target));
        req->query = q + 1;
    } else {
        req->path = req->target;
    }
    buf_reset(&c->tok);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    c->head_bytes += len;
    if (c->head_bytes > (size_t)c->srv->cfg->max_header_bytes || buf_append(&c->tok, at, len) != 0)
        return conn__fail(c, 431, "request header fields too large");
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    http_req_t *req = c->req;
    if (req->nheaders >= (size_t)c->srv->cfg->max_headers)
        return conn__fail(c, 431, "too many request headers");
    char *name = arena_strndup(&req->arena, c->tok.data ? c->tok.data : "", c->tok.len);
    for (char *s = name; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s + 32);
    c->hname = name;
    buf_reset(&c->tok);
    c->head_bytes += 4; /* ": " and CRLF */
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    c->head_bytes += len;
    if (c->head_bytes > (size_t)c->srv->cfg->max_header_bytes || buf_append(&c->tok, at, len) != 0)
        return conn__fail(c, 431, "request header fields too large");
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    http_req_t *req = c->req;
    size_t len = c->tok.len;
    const char *v = c->tok.data ? c->tok.data : "";
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    if (req->nheaders % 16 == 0) {
        http_header_t *nh = arena_alloc(&req->arena, (req->nheaders + 16) * sizeof *nh);
        if (req->nheaders) memcpy(nh, req->headers, req->nheaders * sizeof *nh);
        req->headers = nh;
    }
    req->headers[req->nheaders].name = c->hname ? c->hname : "";
    req->headers[req->nheaders].value = arena_strndup(&req->arena, v, len);
    req->nheaders++;
    c->hname = NULL;
    buf_reset(&c->tok);
    return 0;
}

static bool conn__reqid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':'))
            return false;
    }
    return true;
}

static http_method_t conn__method(uint8_t m)
{
    switch (m) {
    case HTTP_GET:
        return HTTP_M_GET;
    case HTTP_HEAD:
        return HTTP_M_HEAD;
    case HTTP_POST:
        return HTTP_M_POST;
    case HTTP_PUT:
        return HTTP_M_PUT;
    case HTTP_PATCH:
        return HTTP_M_PATCH;
    case HTTP_DELETE:
        return HTTP_M_DELETE;
    case HTTP_OPTIONS:
        return HTTP_M_OPTIONS;
    default:
        return HTTP_M_OTHER;
    }
}

static int on_headers_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    http_req_t *req = c->req;
    http_server_t *srv = c->srv;
    req->method = conn__method(p->method);
    req->method_name = llhttp_method_name((llhttp_method_t)p->method);
    req->http_minor = p->http_minor;
    buf_free(&c->tok);

    const char *rid = http_req_header(req, "x-request-id");
    if (rid && conn__reqid_ok(rid)) {
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
    } else {
        uint64_t n = ++srv->reqid_counter;
        snprintf(req->request_id, sizeof req->request_id, "%016llx%08llx",
                 (unsigned long long)srv->reqid_seed, (unsigned long long)(n & 0xffffffffu));
    }

    router_match(srv->router, req->method, req->path, strlen(req->path), &c->match);
    req->route = c->match.route;
    req->nparams = c->match.nparams;
    for (size_t i = 0; i < c->match.nparams; i++)
        req->params[i] = arena_strndup(&req->arena, c->match.params[i], c->match.param_lens[i]);

    const char *te = http_req_header(req, "transfer-encoding");
    if (te && strcasecmp(te, "chunked") != 0)
        return conn__fail(c, 501,
                          "only the chunked transfer coding is supported for request bodies");

    c->body_limit = req->route && req->route->max_body ? req->route->max_body
                                                       : (size_t)srv->cfg->max_body_bytes;
    bool has_len = (p->flags & F_CONTENT_LENGTH) != 0;
    if (has_len && p->content_length > c->body_limit)
        return conn__fail(c, 413, "request body larger than this endpoint accepts");

    const char *expect = http_req_header(req, "expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return conn__fail(c, 417, "only \"Expect: 100-continue\" is supported");
        if (c->match.status == 404 || c->match.status == 405)
            return conn__fail(c, c->match.status,
                              c->match.status == 404 ? "Not found." : "Method not allowed.");
        if (req->http_minor >= 1 && (has_len ? p->content_length > 0 : true)) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            char *copy = malloc(sizeof cont - 1);
            if (copy) {
                memcpy(copy, cont, sizeof cont - 1);
                http__conn_write(c, copy, sizeof cont - 1);
            }
            c->continue_sent = true;
        }
    }
    bool body = (has_len && p->content_length > 0) || (p->flags & F_CHUNKED);
    c->body_streaming = false;
    c->body_paused = false;
    if (body) {
        c->state = CONN_BODY;
        conn__arm(c, srv->cfg->body_timeout_ms);
        const http_body_sink_t *sink = req->route ? req->route->body_sink : NULL;
        if (sink) {
            c->body_streaming = true;
            c->body_bytes = 0;
            int st = sink->begin(req);
            if (st) return conn__fail(c, st, c->err_msg ? c->err_msg : "request body refused");
        } else {
            buf_init(&c->tok, c->body_limit); /* the token buffer now collects the body */
        }
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = p->data;
    if (c->body_streaming) {
        c->body_bytes += len;
        if (c->body_bytes > c->body_limit)
            return conn__fail(c, 413, "request body larger than this endpoint accepts");
        int st = c->req->route->body_sink->data(c->req, at, len);
        if (st) return conn__fail(c, st, c->err_msg ? c->err_msg : "request body refused");
        if (!c->body_paused) conn__arm(c, c->srv->cfg->body_timeout_ms);
        return 0;
    }
    if (buf_append(&c->tok, at, len) != 0)
        return conn__fail(c, 413, "request body larger than this endpoint accepts");
    conn__arm(c, c->srv->cfg->body_timeout_ms);
    return 0;
}

static void conn__free_body(void *p)
{
    free(p);
}

static int on_message_complete(llhttp_t *p)
{
    http_conn_t *c = p->data;
    http_req_t *req = c->req;
    if (c->tok.data && c->state == CONN_BODY) {
        req->body = buf_steal(&c->tok, &req->body_len);
        arena_on_free(&req->arena, conn__free_body, req->body);
    }
    buf_free(&c->tok);
    c->message_done = true;
    return HPE_PAUSED; /* one request at a time: the rest waits until this one is answered */
}

static void conn__init_settings(void)
{
    if (conn__settings_ready) return;
    llhttp_settings_init(&conn__settings);
    conn__settings.on_message_begin = on_message_begin;
    conn__settings.on_url = on_url;
    conn__settings.on_url_complete = on_url_complete;
    conn__settings.on_header_field = on_header_field;
    conn__settings.on_header_field_complete = on_header_field_complete;
    conn__settings.on_header_value = on_header_value;
    conn__settings.on_header_value_complete = on_header_value_complete;
    conn__settings.on_headers_complete = on_headers_complete;
    conn__settings.on_body = on_body;
    conn__settings.on_message_complete = on_message_complete;
    conn__settings_ready = true;
}

void http_req_pause_body(http_req_t *req)
{
    http_conn_t *c = req->conn;
    if (!c || c->state != CONN_BODY || c->body_paused) return;
    c->body_paused = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    uv_timer_stop(&c->timer); /* the sink is the slow party now, not the client */
}

void http_req_resume_body(http_req_t *req)
{
    http_conn_t *c = req->conn;
    if (!c || !c->body_paused) return;
    c->body_paused = false;
    if (c->state == CONN_BODY) conn__arm(c, c->srv->cfg->body_timeout_ms);
    if (!c->reading && c->state != CONN_CLOSING) {
        uv_read_start((uv_stream_t *)&c->tcp, conn__alloc, conn__on_read);
        c->reading = true;
    }
}

void http_req_body_error(http_req_t *req, const char *msg)
{
    if (req->conn) req->conn->err_msg = arena_strdup(&req->arena, msg);
}

void http__conn_response_done(http_conn_t *c)
{
    c->state = CONN_WRITING;
    if (c->writes_pending == 0) conn__after_response(c);
}
