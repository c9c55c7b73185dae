/* Internal structures shared by the files of the http module (server.c, conn.c, response.c,
 * cors.c, request.c). Nothing outside src/http includes this header. */
#ifndef NOVA_HTTP_INTERNAL_H
#define NOVA_HTTP_INTERNAL_H

#include <llhttp.h>
#include <stdbool.h>
#include <uv.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/metrics.h"
#include "http/http.h"
#include "http/router.h"
#include "http/server.h"

typedef enum {
    CONN_IDLE,     /* no request bytes yet (new or keep-alive) */
    CONN_HEAD,     /* reading the request line and headers */
    CONN_BODY,     /* reading the body */
    CONN_HANDLING, /* the handler has the request */
    CONN_WRITING,  /* the response (or stream) is being written */
    CONN_CLOSING,
} conn_state_t;

typedef struct http__list {
    struct http__list *prev, *next;
} http__list_t;

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    llhttp_t parser;
    http__list_t link; /* server->conns */
    http_server_t *srv;
    conn_state_t state;
    int handles_open; /* closed handles still awaiting their close callback */
    uint64_t id;
    char peer[64];

    http_req_t *req;   /* the request being read or answered */
    buf_t tok;         /* the header token (or body) being accumulated; freed between requests */
    const char *hname; /* the header name waiting for its value (in the request arena) */
    size_t head_bytes; /* request line + header bytes so far */
    size_t body_limit;
    router_match_t match;

    buf_t pending; /* bytes that arrived while a request was being answered */
    bool reading;  /* uv_read_start active */
    bool peer_closed;
    bool close_after;  /* close once the current response is written */
    bool message_done; /* parser reached message complete */
    bool continue_sent;
    int err_status; /* a limit hit inside a parser callback: answer this and close */
    const char *err_msg;
    size_t writes_pending; /* uv_write requests in flight */
    size_t queued_bytes;   /* bytes in those requests */
    size_t stream_max_queued;
    void (*on_drain)(http_req_t *, void *);
    void *on_drain_arg;
    bool stream_chunked;
    bool body_paused;    /* a body sink asked us to stop reading */
    bool body_streaming; /* the route's body sink receives the body */
    size_t body_bytes;   /* streamed body bytes so far */
};

#define HTTP_ROUTE_STATS 512

typedef struct {
    const char *pattern; /* route pattern or "unmatched" */
    http_method_t method;
    int status;
    uint64_t count;
} http__route_stat_t;

struct http_server {
    uv_loop_t *loop;
    const config_t *cfg;
    void *app;
    router_t *router;

    uv_tcp_t *listeners[8];
    int nlisteners;
    int paused_listeners; /* listeners whose pending connection waits for a free slot */
    bool listener_paused[8];

    http__list_t conns;
    size_t nconns;
    uint64_t next_conn_id;

    bool shutting_down;
    uv_timer_t grace_timer;
    bool grace_timer_init;
    void (*shutdown_done)(void *);
    void *shutdown_arg;

    char read_buf[65536]; /* shared by every connection: idle connections hold no buffer */

    char **cors_origins;
    size_t ncors;

    char date[40]; /* cached IMF-fixdate, refreshed once a second */
    uint64_t date_sec;

    uint64_t reqid_seed;
    uint64_t reqid_counter;

    /* metrics */
    http__route_stat_t route_stats[HTTP_ROUTE_STATS];
    size_t nroute_stats;
    metrics_hist_t req_duration;
    metrics_hist_t loop_lag;
    uint64_t conns_total, conns_rejected_paused, timeouts[4], bad_requests;
    double lag_max_ms_window, lag_last_ms;
    uv_timer_t lag_timer;
    uint64_t lag_expected_ns;
};

/* conn.c */
void http__conn_accept(http_server_t *srv, uv_stream_t *listener);
void http__conn_close(http_conn_t *c, const char *reason);
void http__conn_response_done(http_conn_t *c);
int http__conn_write(http_conn_t *c, char *data, size_t len); /* takes ownership of data (malloc) */

/* response.c */
void http__request_free(http_req_t *req);
void http__send_error_and_close(http_conn_t *c, int status, const char *msg);
const char *http__date(http_server_t *srv);
/* The status line and headers of a response with Content-Length clen (for sendfile.c). */
void http__response_head(http_req_t *req, buf_t *b, int status, const char *ctype, long long clen);
void http__finish_log(http_req_t *req);

/* cors.c */
void http__cors_headers(http_req_t *req, buf_t *out);
bool http__cors_preflight(http_req_t *req, const router_match_t *m);
int http__cors_init(http_server_t *srv, const char *origins);

/* server.c */
void http__server_conn_closed(http_server_t *srv);
void http__record_request(http_server_t *srv, const http_req_t *req);

static inline void http__list_init(http__list_t *l)
{
    l->prev = l->next = l;
}
static inline void http__list_insert(http__list_t *head, http__list_t *n)
{
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}
static inline void http__list_remove(http__list_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#define http__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
