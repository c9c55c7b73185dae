#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "http/internal.h"

#define LAG_INTERVAL_MS 100

static void server__lag_tick(uv_timer_t *t)
{
    http_server_t *srv = t->data;
    uint64_t now = uv_hrtime();
    /* The timer was due at lag_expected_ns; any delay beyond that is time the loop spent busy. */
    double lag = now > srv->lag_expected_ns ? (double)(now - srv->lag_expected_ns) / 1e6 : 0;
    srv->lag_last_ms = lag;
    if (lag > srv->lag_max_ms_window) srv->lag_max_ms_window = lag;
    metrics_hist_observe(&srv->loop_lag, lag / 1000.0);
    srv->lag_expected_ns = now + (uint64_t)LAG_INTERVAL_MS * 1000000;
}

http_server_t *http_server_new(uv_loop_t *loop, const config_t *cfg, void *app)
{
    http_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->loop = loop;
    srv->cfg = cfg;
    srv->app = app;
    srv->router = router_new();
    http__list_init(&srv->conns);
    if (getrandom(&srv->reqid_seed, sizeof srv->reqid_seed, 0) != sizeof srv->reqid_seed)
        srv->reqid_seed = uv_hrtime() ^ (uint64_t)getpid();
    if (!srv->router || http__cors_init(srv, cfg->cors_origins) != 0) {
        http_server_free(srv);
        return NULL;
    }
    uv_timer_init(loop, &srv->lag_timer);
    srv->lag_timer.data = srv;
    uv_unref((uv_handle_t *)&srv->lag_timer);
    srv->lag_expected_ns = uv_hrtime() + (uint64_t)LAG_INTERVAL_MS * 1000000;
    uv_timer_start(&srv->lag_timer, server__lag_tick, LAG_INTERVAL_MS, LAG_INTERVAL_MS);
    return srv;
}

static void server__free_handle(uv_handle_t *h)
{
    free(h);
}

void http_server_free(http_server_t *srv)
{
    if (!srv) return;
    router_free(srv->router);
    for (size_t i = 0; i < srv->ncors; i++)
        free(srv->cors_origins[i]);
    free(srv->cors_origins);
    free(srv);
}

int http_server_add_routes(http_server_t *srv, const http_route_t *routes, size_t n)
{
    return router_add(srv->router, routes, n);
}

static void server__on_connection(uv_stream_t *listener, int status)
{
    http_server_t *srv = listener->data;
    if (status < 0) {
        log_warn("http", "accept failed: %s", uv_strerror(status));
        return;
    }
    if (srv->shutting_down) return;
    if (srv->nconns >= (size_t)srv->cfg->max_connections) {
        /* Not calling uv_accept makes libuv stop watching this listener until we accept again,
         * so the kernel's backlog holds the client instead of us. */
        for (int i = 0; i < srv->nlisteners; i++) {
            if ((uv_stream_t *)srv->listeners[i] == listener && !srv->listener_paused[i]) {
                srv->listener_paused[i] = true;
                srv->paused_listeners++;
                srv->conns_rejected_paused++;
            }
        }
        return;
    }
    http__conn_accept(srv, listener);
}

void http__server_conn_closed(http_server_t *srv)
{
    srv->nconns--;
    if (srv->paused_listeners && !srv->shutting_down) {
        for (int i = 0; i < srv->nlisteners && srv->nconns < (size_t)srv->cfg->max_connections;
             i++) {
            if (!srv->listener_paused[i]) continue;
            srv->listener_paused[i] = false;
            srv->paused_listeners--;
            http__conn_accept(srv, (uv_stream_t *)srv->listeners[i]);
        }
    }
    if (srv->shutting_down && srv->nconns == 0 && srv->shutdown_done) {
        void (*done)(void *) = srv->shutdown_done;
        srv->shutdown_done = NULL;
        if (srv->grace_timer_init) {
            uv_close((uv_handle_t *)&srv->grace_timer, NULL);
            srv->grace_timer_init = false;
        }
        done(srv->shutdown_arg);
    }
}

static int server__parse_addr(const char *spec, struct sockaddr_storage *ss)
{
    char host[128];
    const char *colon;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host) return -EINVAL;
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof host) return -EINVAL;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return -EINVAL;
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return -EINVAL;
}

static int server__listen_one(http_server_t *srv, const char *spec, bool reuseport, char *err,
                              size_t errlen)
{
    struct sockaddr_storage ss;
    if (server__parse_addr(spec, &ss) != 0) {
        snprintf(err, errlen,
                 "NOVA_LISTEN: cannot parse address \"%s\" (use host:port or [v6]:port)", spec);
        return -EINVAL;
    }
    if (srv->nlisteners == (int)(sizeof srv->listeners / sizeof srv->listeners[0])) {
        snprintf(err, errlen, "NOVA_LISTEN: too many addresses");
        return -EINVAL;
    }
    /* The socket is made by hand so SO_REUSEPORT can be set before bind (libuv 1.44 has no flag).
     */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return snprintf(err, errlen, "socket: %s", strerror(errno)), -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t len =
        ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s", spec, strerror(e));
        close(fd);
        return -e;
    }
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    if (!tcp) return close(fd), -ENOMEM;
    uv_tcp_init(srv->loop, tcp);
    tcp->data = srv;
    int rc = uv_tcp_open(tcp, fd);
    if (rc == 0) rc = uv_listen((uv_stream_t *)tcp, 1024, server__on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", spec, uv_strerror(rc));
        uv_close((uv_handle_t *)tcp, server__free_handle);
        return rc;
    }
    srv->listener_paused[srv->nlisteners] = false;
    srv->listeners[srv->nlisteners++] = tcp;
    return 0;
}

int http_server_local_url(http_server_t *srv, char *out, size_t cap)
{
    if (cap) out[0] = '\0';
    if (!srv || srv->nlisteners == 0) return -ENOTCONN;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int rc = uv_tcp_getsockname(srv->listeners[0], (struct sockaddr *)&ss, &len);
    if (rc != 0) return rc;
    char host[INET6_ADDRSTRLEN];
    int port, w;
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) a->sin6_addr = in6addr_loopback;
        uv_ip6_name(a, host, sizeof host);
        port = ntohs(a->sin6_port);
        w = snprintf(out, cap, "http://[%s]:%d", host, port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        if (a->sin_addr.s_addr == htonl(INADDR_ANY)) a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        uv_ip4_name(a, host, sizeof host);
        port = ntohs(a->sin_port);
        w = snprintf(out, cap, "http://%s:%d", host, port);
    }
    if (w < 0 || (size_t)w >= cap) {
        if (cap) out[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

int http_server_listen(http_server_t *srv, const char *spec, bool reuseport, char *err,
                       size_t errlen)
{
    char *copy = strdup(spec), *save = NULL;
    if (!copy) return -ENOMEM;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (*tok) rc = server__listen_one(srv, tok, reuseport, err, errlen);
    }
    free(copy);
    if (rc == 0 && srv->nlisteners == 0) {
        snprintf(err, errlen, "NOVA_LISTEN is empty");
        rc = -EINVAL;
    }
    return rc;
}

static void server__grace_expired(uv_timer_t *t)
{
    http_server_t *srv = t->data;
    log_warn("http", "shutdown grace period over: closing %zu connection(s)", srv->nconns);
    http__list_t *l = srv->conns.next;
    while (l != &srv->conns) {
        http_conn_t *c = http__container_of(l, http_conn_t, link);
        l = l->next;
        http__conn_close(c, "shutdown");
    }
}

void http_server_shutdown(http_server_t *srv, uint64_t grace_ms, void (*done)(void *arg), void *arg)
{
    if (srv->shutting_down) return;
    srv->shutting_down = true;
    srv->shutdown_done = done;
    srv->shutdown_arg = arg;
    for (int i = 0; i < srv->nlisteners; i++)
        uv_close((uv_handle_t *)srv->listeners[i], server__free_handle);
    srv->nlisteners = 0;
    uv_timer_stop(&srv->lag_timer);
    uv_close((uv_handle_t *)&srv->lag_timer, NULL);

    /* Idle keep-alive connections have nothing in flight: close them now. The others are closed
     * when their current response is written (Connection: close is sent). */
    http__list_t *l = srv->conns.next;
    while (l != &srv->conns) {
        http_conn_t *c = http__container_of(l, http_conn_t, link);
        l = l->next;
        if (c->state == CONN_IDLE)
            http__conn_close(c, "shutdown");
        else
            c->close_after = true;
    }
    if (srv->nconns == 0) {
        srv->shutdown_done = NULL;
        done(arg);
        return;
    }
    uv_timer_init(srv->loop, &srv->grace_timer);
    srv->grace_timer_init = true;
    srv->grace_timer.data = srv;
    uv_timer_start(&srv->grace_timer, server__grace_expired, grace_ms, 0);
}

bool http_server_shutting_down(const http_server_t *srv)
{
    return srv->shutting_down;
}

size_t http_server_connections(const http_server_t *srv)
{
    return srv->nconns;
}

double http_server_loop_lag_ms(const http_server_t *srv)
{
    return srv->lag_last_ms;
}

void http__record_request(http_server_t *srv, const http_req_t *req)
{
    const char *pattern = req->route ? req->route->pattern : "unmatched";
    for (size_t i = 0; i < srv->nroute_stats; i++) {
        http__route_stat_t *s = &srv->route_stats[i];
        if (s->pattern == pattern && s->method == req->method && s->status == req->status) {
            s->count++;
            return;
        }
    }
    if (srv->nroute_stats < HTTP_ROUTE_STATS) {
        http__route_stat_t *s = &srv->route_stats[srv->nroute_stats++];
        s->pattern = pattern;
        s->method = req->method;
        s->status = req->status;
        s->count = 1;
    }
}

void http_server_metrics_write(http_server_t *srv, buf_t *out)
{
    buf_append_str(
        out, "# HELP nova_http_requests_total Requests answered, by route, method and status.\n"
             "# TYPE nova_http_requests_total counter\n");
    for (size_t i = 0; i < srv->nroute_stats; i++) {
        const http__route_stat_t *s = &srv->route_stats[i];
        buf_printf(
            out, "nova_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %" PRIu64 "\n",
            s->pattern, http_method_str(s->method), s->status, s->count);
    }
    buf_append_str(out, "# HELP nova_http_request_duration_seconds Time from the first byte of a "
                        "request to its last response byte queued.\n"
                        "# TYPE nova_http_request_duration_seconds histogram\n");
    metrics_hist_write(&srv->req_duration, out, "nova_http_request_duration_seconds", "");
    buf_printf(
        out,
        "# HELP nova_http_connections_open Open client connections.\n"
        "# TYPE nova_http_connections_open gauge\nnova_http_connections_open %zu\n"
        "# TYPE nova_http_connections_total counter\nnova_http_connections_total %" PRIu64 "\n"
        "# TYPE nova_http_accept_paused_total counter\nnova_http_accept_paused_total %" PRIu64 "\n"
        "# HELP nova_http_timeouts_total Connections closed by a timeout, by phase.\n"
        "# TYPE nova_http_timeouts_total counter\n"
        "nova_http_timeouts_total{phase=\"header\"} %" PRIu64 "\n"
        "nova_http_timeouts_total{phase=\"body\"} %" PRIu64 "\n"
        "nova_http_timeouts_total{phase=\"keepalive\"} %" PRIu64 "\n"
        "nova_http_timeouts_total{phase=\"write\"} %" PRIu64 "\n"
        "# HELP nova_event_loop_lag_seconds Delay of a 100 ms timer beyond its due time.\n"
        "# TYPE nova_event_loop_lag_seconds histogram\n",
        srv->nconns, srv->conns_total, srv->conns_rejected_paused, srv->timeouts[0],
        srv->timeouts[1], srv->timeouts[2], srv->timeouts[3]);
    metrics_hist_write(&srv->loop_lag, out, "nova_event_loop_lag_seconds", "");
    buf_printf(
        out,
        "# HELP nova_event_loop_lag_max_seconds Largest lag since the last scrape.\n"
        "# TYPE nova_event_loop_lag_max_seconds gauge\nnova_event_loop_lag_max_seconds %.6f\n",
        srv->lag_max_ms_window / 1000.0);
    srv->lag_max_ms_window = 0;
}
