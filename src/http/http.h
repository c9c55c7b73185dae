/* http: the request/response API that route handlers see. A handler is called on the loop thread
 * with a request whose headers and body (for buffered routes) are complete. It answers exactly
 * once, now or later, with one of the http_respond* calls or by starting a stream; until then the
 * request stays alive. If the client goes away first, the request's on_abort hook runs (cancel
 * the database query, unsubscribe the stream), and the handler must still finish the request
 * (http_respond* then discards the answer and frees). Everything reachable from the request
 * (headers, params, body, the JSON tree) lives in req->arena and is freed when the request ends. */
#ifndef NOVA_HTTP_HTTP_H
#define NOVA_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "core/arena.h"

typedef struct http_server http_server_t;
typedef struct http_conn http_conn_t;
typedef struct http_req http_req_t;
typedef struct http_route http_route_t;

typedef enum {
    HTTP_M_GET = 0,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_PATCH,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
    HTTP_M_OTHER,
} http_method_t;

typedef struct {
    const char *name; /* lower-case */
    const char *value;
} http_header_t;

#define HTTP_MAX_PARAMS 4

struct http_req {
    arena_t arena;
    http_server_t *server;
    http_conn_t *conn; /* NULL once the connection is gone */
    void *app;         /* the application context given to http_server_new */
    const http_route_t *route;

    http_method_t method;
    const char *method_name;
    const char *target; /* raw request target */
    const char *path;   /* raw path (no query) */
    const char *query;  /* raw query string without '?', or "" */
    int http_minor;     /* 0 or 1 */
    http_header_t *headers;
    size_t nheaders;
    const char *params[HTTP_MAX_PARAMS]; /* path parameters in pattern order */
    size_t nparams;

    char *body; /* buffered body (NUL-terminated), NULL when none */
    size_t body_len;

    char request_id[64];
    uint64_t start_ns;
    int64_t user_id; /* set by auth for the access log; 0 = anonymous */
    bool keep_alive;
    bool aborted; /* the client went away; the answer will be discarded */

    void (*on_abort)(http_req_t *req, void *arg);
    void *on_abort_arg;
    void *body_ctx; /* owned by a route's body sink (see router.h) */

    /* response state, owned by the http module */
    int status;
    size_t bytes_sent;
    bool responded;
    bool streaming;
    http_header_t *res_headers;
    size_t nres_headers, res_headers_cap;
};

/* Request accessors. Header lookup is case-insensitive; returns NULL when absent. */
const char *http_req_header(const http_req_t *req, const char *name);
/* Query parameter, percent-decoded into the arena; NULL when absent. */
const char *http_req_query(http_req_t *req, const char *name);
/* Parses the buffered body as JSON (limits from the server config). On failure answers 400 itself
 * and returns NULL: the handler just returns. */
yajl_val http_req_json(http_req_t *req);

/* The client's address ("127.0.0.1:5555", "[::1]:5555"), or "" once the connection is gone. */
const char *http_req_peer(const http_req_t *req);

/* Adds a response header (copied into the arena). */
void http_res_header(http_req_t *req, const char *name, const char *value);

/* Answers with a body (copied). content_type may be NULL for an empty body. */
void http_respond(http_req_t *req, int status, const char *content_type, const void *body,
                  size_t len);
/* Answers with the JSON document in g (the generator is not freed). */
void http_respond_json(http_req_t *req, int status, yajl_gen g);
/* Answers {"error": error, "detail": detail, "request_id": ...}; detail may be NULL (null). */
void http_respond_error(http_req_t *req, int status, const char *error, const char *detail);
/* Answers a DRF-style {"detail": "..."} body (401/403/404 of the reference API). */
void http_respond_detail(http_req_t *req, int status, const char *detail);

/* Streaming responses (server-sent events, files): sends the status line and headers with
 * chunked encoding (HTTP/1.1) or close-delimited (HTTP/1.0). http_stream_write queues data;
 * it returns -ENOBUFS when more than max_queued bytes are waiting on a slow client (the caller
 * coalesces or ends the stream) and -EPIPE after the client left. on_drain (optional) is called
 * when the queue empties. http_stream_end finishes the response and frees the request. */
int http_stream_start(http_req_t *req, int status, const char *content_type, size_t max_queued,
                      void (*on_drain)(http_req_t *req, void *arg), void *arg);
int http_stream_write(http_req_t *req, const void *data, size_t len);
void http_stream_end(http_req_t *req);
/* Like http_stream_end for a body that cannot be completed (its source failed midway): the
 * last chunk is never sent and the connection closes once the queued bytes are out, so the
 * client sees a truncated body instead of a complete-looking short one. */
void http_stream_abort(http_req_t *req);

/* Answers with status, content_type, the headers added so far and Content-Length len, then len
 * bytes of the open file fd starting at offset (only the head for HEAD requests). The body is
 * read in bounded chunks without blocking the loop (sendfile.c). Takes ownership of fd: it is
 * closed when the answer ends, also when the client leaves. If the file turns out shorter than
 * len, the connection is closed (the body cannot be completed). */
void http_respond_file(http_req_t *req, int status, const char *content_type, uv_file fd,
                       uint64_t offset, uint64_t len);

/* For streaming body sinks (router.h): stop reading the client while the sink catches up (the
 * body idle timeout is suspended meanwhile), resume later; record why the body is refused. */
void http_req_pause_body(http_req_t *req);
void http_req_resume_body(http_req_t *req);
void http_req_body_error(http_req_t *req, const char *msg);

/* Status reason phrase ("Not Found"). */
const char *http_status_text(int status);
const char *http_method_str(http_method_t m);

#endif
