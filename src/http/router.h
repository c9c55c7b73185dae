/* router: method + path patterns with typed parameters. Patterns are literal segments and
 * parameters `{uuid}`, `{int}` or `{str}`; a parameter of the wrong shape does not match, so a
 * malformed UUID is a 404, never a database error. A final slash is optional on both sides (the
 * reference API's paths end in '/', and clients send both). Matching returns the route and
 * its parameters, or 405 with the allowed methods, or 404. */
#ifndef NOVA_HTTP_ROUTER_H
#define NOVA_HTTP_ROUTER_H

#include "http/http.h"

typedef void (*http_handler_fn)(http_req_t *req);

/* A streaming body sink for routes that must not buffer their body (uploads). begin runs when the
 * headers are complete and a body follows; data runs for every piece of the (de-chunked) body as
 * it arrives and must consume it before returning (copy it, or queue an async write of a copy).
 * Each returns 0, or an HTTP status (400, 413, 415...) after calling http_req_body_error to say
 * why: the server then answers that status and closes the connection. A sink that cannot keep
 * up calls http_req_pause_body and later http_req_resume_body. The route's handler runs after
 * the last body byte, as for buffered routes; req->body stays NULL. */
typedef struct {
    int (*begin)(http_req_t *req);
    int (*data)(http_req_t *req, const char *at, size_t len);
} http_body_sink_t;

enum {
    HTTP_ROUTE_STREAM_BODY = 1 << 0, /* body handed to body callbacks, not buffered */
    HTTP_ROUTE_NO_LOG = 1 << 1,      /* not written to the access log (health probes) */
};

struct http_route {
    http_method_t method;
    const char *pattern;
    http_handler_fn handler;
    size_t max_body; /* 0 = the server default (NOVA_MAX_BODY_BYTES) */
    unsigned flags;
    const http_body_sink_t *body_sink; /* NULL: the body is buffered into req->body */
};

typedef struct router router_t;

/* The route array must outlive the router (routes are usually static). */
router_t *router_new(void);
void router_free(router_t *r);
/* Returns 0, or -EINVAL for a malformed pattern. */
int router_add(router_t *r, const http_route_t *routes, size_t n);

typedef struct {
    const http_route_t *route; /* NULL when not found or method not allowed */
    int status;                /* 200, 404 or 405 */
    char allow[96];            /* for 405 (and OPTIONS): "GET, POST, OPTIONS" */
    const char *params[HTTP_MAX_PARAMS];
    size_t param_lens[HTTP_MAX_PARAMS];
    size_t nparams;
} router_match_t;

/* Matches a raw path (no query string). Parameter pointers point into path. For OPTIONS the
 * result carries `allow` for any existing path and status 200 without a route. */
void router_match(const router_t *r, http_method_t method, const char *path, size_t len,
                  router_match_t *m);

bool router_is_uuid(const char *s, size_t n);

#endif
