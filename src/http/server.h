/* server: listeners, connection accounting and graceful shutdown for one event loop. The server
 * owns every connection; main() owns the server (http_server_free after the shutdown callback). */
#ifndef NOVA_HTTP_SERVER_H
#define NOVA_HTTP_SERVER_H

#include <uv.h>

#include "core/buf.h"
#include "core/config.h"
#include "http/router.h"

/* Creates a server on loop. cfg must outlive the server; app is handed to every request. */
http_server_t *http_server_new(uv_loop_t *loop, const config_t *cfg, void *app);
void http_server_free(http_server_t *srv);
int http_server_add_routes(http_server_t *srv, const http_route_t *routes, size_t n);

/* Binds and listens on every address of spec ("127.0.0.1:8000,[::1]:8000"). With reuseport the
 * sockets use SO_REUSEPORT so several processes share a port. Returns 0 or a negative errno
 * with a message in err. */
int http_server_listen(http_server_t *srv, const char *spec, bool reuseport, char *err,
                       size_t errlen);

/* "http://host:port" of the first address the server listens on, as bound (an ephemeral port is
 * the one the kernel chose; a wildcard address becomes loopback, one of the interfaces it
 * serves). Returns 0, -ENOTCONN before http_server_listen, or -ENAMETOOLONG. */
int http_server_local_url(http_server_t *srv, char *out, size_t cap);

/* Serves an already-connected stream socket as a client connection (tests and fuzzing). The
 * server owns fd afterwards. */
int http_server_adopt(http_server_t *srv, int fd);

/* Graceful shutdown: stop accepting, close idle connections, let in-flight requests finish for up
 * to grace_ms, then close the rest. done runs once every connection is closed. on_stop (set
 * before) lets the application end long-lived streams. */
void http_server_shutdown(http_server_t *srv, uint64_t grace_ms, void (*done)(void *arg),
                          void *arg);
bool http_server_shutting_down(const http_server_t *srv);

/* Appends the server's metrics (requests, durations, connections, loop lag) in Prometheus text. */
void http_server_metrics_write(http_server_t *srv, buf_t *out);
/* Event-loop lag of the last second and p99 since start, in milliseconds. */
double http_server_loop_lag_ms(const http_server_t *srv);
size_t http_server_connections(const http_server_t *srv);

#endif
