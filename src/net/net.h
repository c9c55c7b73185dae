/* net: the outbound HTTP(S) client on the libuv loop. A net_client_t owns one libcurl multi handle
 * (and so one connection cache: keep-alive and reuse per endpoint, a per-host connection cap), the
 * uv_poll/uv_timer glue that drives it without ever blocking the loop, every in-flight request and
 * a set of counters. Requests are built with net_request_new + setters and handed to the client
 * with net_request_start; the result arrives in one done callback.
 *
 * Threading: everything here runs on the loop thread of the client; nothing is thread-safe.
 * DNS: Debian's libcurl4-openssl is built with the threaded resolver (curl-config --features lists
 * AsynchDNS), so name lookups run on a curl helper thread and never block the loop; IP literals
 * skip resolution entirely.
 * TLS: peer and host verification are always on, CAs come from the system bundle (or cfg.ca_file).
 */
#ifndef NOVA_NET_NET_H
#define NOVA_NET_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "core/buf.h"

/* Result codes given to done callbacks (status) and returned by some functions. Functions also
 * return plain negative errno codes (-EINVAL, -ENOMEM). */
enum {
    NET_E_CONNECT = -1001,   /* could not resolve or connect */
    NET_E_TIMEOUT = -1002,   /* total timeout, connect timeout or low-speed abort */
    NET_E_TOO_LARGE = -1003, /* response body or headers exceeded the cap */
    NET_E_CANCELLED = -1004, /* net_request_cancel or net_client_close */
    NET_E_TLS = -1005,       /* handshake or certificate verification failed */
    NET_E_DROPPED = -1006,   /* connection closed early: partial or no response */
    NET_E_ABORTED = -1007,   /* an on_data/on_headers callback asked to stop */
    NET_E_IO = -1008,        /* reading the request body file failed */
    NET_E_PROTOCOL = -1009,  /* malformed HTTP or other transfer error */
    NET_E_CLOSING = -1010,   /* net_request_start on a client that is closing */
};
#define NET_E__COUNT 10 /* errors[] in net_metrics_t: index -code-1000; 0 = any other code */

/* Static text for a NET_E_* or negative errno code. */
const char *net_strerror(int code);

typedef struct {
    long connect_timeout_ms;     /* default 10000 */
    long default_timeout_ms;     /* total per request when the request sets none; 60000 */
    long low_speed_limit;        /* bytes/s; below this for low_speed_time_s aborts; 1 */
    long low_speed_time_s;       /* 0 disables; default 30 */
    long max_host_connections;   /* CURLMOPT_MAX_HOST_CONNECTIONS; default 32, 0 = unlimited */
    long max_total_connections;  /* CURLMOPT_MAX_TOTAL_CONNECTIONS; default 0 = unlimited */
    long max_cached_connections; /* CURLMOPT_MAXCONNECTS (idle cache); default 64 */
    long max_idle_s;             /* reuse a cached connection only if idle less; default 55 */
    long tcp_keepalive_s;        /* TCP keepalive idle/interval; default 30, 0 disables */
    size_t default_max_response; /* body cap when the request sets none; default 16 MiB */
    const char *ca_file;         /* NULL = system bundle; copied */
    const char *proxy;           /* NULL = no proxy (environment proxies are ignored); copied */
    const char *user_agent;      /* NULL = "nova-storyteller"; copied */
} net_config_t;

/* Fills the defaults listed above. */
void net_config_defaults(net_config_t *cfg);

/* Counters for the whole client, updated on the loop thread; readers on the same thread may
 * read the struct at any time (net_client_metrics returns a pointer into the client). */
typedef struct {
    uint64_t started;   /* requests accepted by net_request_start */
    uint64_t completed; /* done callbacks delivered, any status */
    uint64_t ok;        /* completed with status 0 (any HTTP status) */
    uint64_t errors[NET_E__COUNT + 1];
    uint64_t in_flight;
    uint64_t bytes_in;  /* response headers + body as received */
    uint64_t bytes_out; /* request headers + body as sent */
    uint64_t connects;  /* new connections opened (reuse does not count) */
} net_metrics_t;

typedef struct net_client net_client_t;
typedef struct net_request net_request_t;

/* Response headers of the final (non-1xx) response, in arrival order. */
typedef struct {
    char **names; /* names[i] and values[i] are NUL-terminated, owned by the request */
    char **values;
    size_t count;
    size_t bytes; /* total size, capped */
} net_headers_t;

/* Case-insensitive lookup; the first match, or NULL. The pointer lives as long as the request. */
const char *net_headers_get(const net_headers_t *h, const char *name);

typedef struct {
    int status;                   /* 0 or NET_E_* / negative errno */
    long http_status;             /* 0 when no response line arrived */
    const net_headers_t *headers; /* never NULL */
    buf_t *body;                  /* buffered mode: the body (may be stolen with buf_steal);
                                     streaming mode (on_data set): empty */
    const char *error_detail;     /* curl's message when status != 0, else "" */
    uint64_t bytes_in, bytes_out; /* this request, headers included */
    double total_ms;              /* from start to completion */
    int new_connection;           /* 1 when this request opened a connection, 0 on reuse */
} net_response_t;

/* Called exactly once for every started request, from the loop (never from inside
 * net_request_start / net_request_cancel / net_client_close). The request and everything the
 * response points to are freed when it returns, except a body stolen with buf_steal. */
typedef void (*net_done_cb)(net_request_t *req, const net_response_t *res, void *arg);
/* Streaming body delivery, in arrival order, at least one byte per call. Return 0 to continue;
 * any other value aborts the request (status NET_E_ABORTED). */
typedef int (*net_data_cb)(net_request_t *req, const char *data, size_t len, void *arg);
/* Called once when the final response's status and headers are complete, before any body.
 * Return 0 to continue, non-zero to abort (NET_E_ABORTED). */
typedef int (*net_headers_cb)(net_request_t *req, long http_status, const net_headers_t *h,
                              void *arg);
typedef void (*net_close_cb)(void *arg);

/* The config is copied. Returns NULL on failure (curl or libuv initialisation). */
net_client_t *net_client_new(uv_loop_t *loop, const net_config_t *cfg);
/* Cancels every in-flight request (their done callbacks run with NET_E_CANCELLED), closes all
 * connections and handles, then calls done(arg) and frees the client. Call once; the client must
 * not be used afterwards except that done callbacks still see their requests. */
void net_client_close(net_client_t *c, net_close_cb done, void *arg);
const net_metrics_t *net_client_metrics(const net_client_t *c);

/* A new request, owned by the caller until net_request_start succeeds (then by the client, which
 * frees it after the done callback). method is an HTTP token ("GET", "POST", "PUT", "HEAD"...);
 * url an http:// or https:// URL. Both are copied. NULL on bad input or out of memory. */
net_request_t *net_request_new(const char *method, const char *url);
/* Only for a request that was never started (or whose start failed). */
void net_request_free(net_request_t *req);

/* Adds "name: value" (copied). -EINVAL if either contains CR/LF/NUL or the name is empty. */
int net_request_add_header(net_request_t *req, const char *name, const char *value);
/* Body from memory, copied. */
int net_request_set_body(net_request_t *req, const void *data, size_t len);
/* Body from memory, ownership of a malloc'd buffer passes to the request (also on error). */
int net_request_set_body_take(net_request_t *req, char *data, size_t len);
/* Body streamed from len bytes of fd at offset, read with pread as curl asks for it (page-cache
 * reads; never loaded whole). The fd is dup'ed: the caller may close its own at once. */
int net_request_set_body_file(net_request_t *req, int fd, uint64_t offset, uint64_t len);
void net_request_set_timeout_ms(net_request_t *req, long ms); /* total, 0 = default */
void net_request_set_low_speed(net_request_t *req, long bytes_per_s, long seconds);
void net_request_set_max_response_bytes(net_request_t *req, size_t max); /* 0 = default */
void net_request_set_on_data(net_request_t *req, net_data_cb cb);        /* streaming mode */
void net_request_set_on_headers(net_request_t *req, net_headers_cb cb);

/* Hands the request to the client. On success (0) done(req, res, arg) will be called exactly
 * once; arg is also passed to on_data/on_headers. On failure the caller still owns req. */
int net_request_start(net_client_t *c, net_request_t *req, net_done_cb done, void *arg);
/* Stops a started request whose done callback has not run yet: the transfer is removed from the
 * multi handle and done is called once, later on the loop, with NET_E_CANCELLED; no on_data or
 * on_headers call happens after this returns. Safe from inside on_data/on_headers. Returns 0, or
 * -EALREADY when the request is already cancelled. */
int net_request_cancel(net_request_t *req);

#endif
