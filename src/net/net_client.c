/* The client: one libcurl multi handle driven by the libuv loop in the multi_socket style
 * (curl tells us which sockets to watch and when its timer fires; each readiness or timer event
 * goes back to curl_multi_socket_action, after which finished transfers are drained from
 * curl_multi_info_read), plus request start/cancel, completion delivery and orderly close.
 *
 * Reentrancy: curl forbids multi calls from inside its own callbacks, and user callbacks
 * (on_data, on_headers) run inside them. Anything those callbacks ask for (start, cancel) while
 * depth > 0 is queued and done by a zero-delay "defer" timer on the next loop turn. Done
 * callbacks only ever run with depth == 0, so they may start, cancel or close freely.
 *
 * Bursts: curl sets up every newly added transfer in the next socket_action call, so a burst of
 * a hundred starts would be one long loop turn. At most NET__ADD_BATCH handles are added per
 * loop turn; the rest wait in the queue (in order) and go in batches on following turns. */
#include "net/net_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NET__ADD_BATCH 16

void net_config_defaults(net_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = 10000;
    cfg->default_timeout_ms = 60000;
    cfg->low_speed_limit = 1;
    cfg->low_speed_time_s = 30;
    cfg->max_host_connections = 32;
    cfg->max_total_connections = 0;
    cfg->max_cached_connections = 64;
    cfg->max_idle_s = 55;
    cfg->tcp_keepalive_s = 30;
    cfg->default_max_response = 16u * 1024 * 1024;
}

const net_metrics_t *net_client_metrics(const net_client_t *c)
{
    return &c->metrics;
}

static void net__finish_close(net_client_t *c)
{
    net_close_cb cb = c->close_cb;
    void *arg = c->close_arg;
    free(c->ca_file);
    free(c->proxy);
    free(c->user_agent);
    free(c);
    curl_global_cleanup();
    if (cb) cb(arg);
}

static void net__handle_closed(uv_handle_t *h)
{
    net_client_t *c = h->data;
    if (--c->open_handles == 0 && c->closing) net__finish_close(c);
}

static void net__sock_closed(uv_handle_t *h)
{
    net__sock_t *s = h->data;
    net_client_t *c = s->client;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    free(s);
    if (--c->open_handles == 0 && c->closing) net__finish_close(c);
}

static void net__sock_close(net__sock_t *s)
{
    if (s->closing) return;
    s->closing = true;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, net__sock_closed);
}

/* Delivers every finished transfer. Runs with depth == 0 only. */
static void net__drain(net_client_t *c)
{
    CURLMsg *m;
    int left;
    while (c->multi && (m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        net_request_t *req = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&req);
        /* A request cancelled from inside a callback is finished by the deferred pass. */
        if (!req || req->state != NET__RUNNING) continue;
        CURLcode rc = m->data.result; /* m lives inside the easy handle: read before freeing */
        net__complete(req, net__map_curl(req, rc));
    }
}

static void net__action(net_client_t *c, curl_socket_t fd, int flags)
{
    if (!c->multi || c->torn_down) return;
    int running = 0;
    c->depth++;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    c->depth--;
    net__drain(c);
}

void net__resume_send(net_request_t *req)
{
    net_client_t *c = req->client;
    if (!c || !req->in_multi || req->state != NET__RUNNING) return;
    /* Unpausing may run curl callbacks at once: count it as being inside curl, like an action. */
    c->depth++;
    curl_easy_pause(req->easy, CURLPAUSE_CONT);
    c->depth--;
    net__drain(c);
}

static void net__poll_cb(uv_poll_t *h, int status, int events)
{
    net__sock_t *s = h->data;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    net__action(s->client, s->fd, flags);
}

static void net__timer_cb(uv_timer_t *t)
{
    net__action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int net__socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    net_client_t *c = userp;
    net__sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        /* curl calls this before it closes the fd, so the poll stops while the fd is valid. */
        if (s) {
            net__sock_close(s);
            if (!c->torn_down) curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        if (c->torn_down) return 0;
        s = calloc(1, sizeof *s);
        if (!s) return -1;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->fd = fd;
        s->client = c;
        s->next = c->socks;
        if (c->socks) c->socks->prev = s;
        c->socks = s;
        c->open_handles++;
        curl_multi_assign(c->multi, fd, s);
    }
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    return uv_poll_start(&s->poll, ev, net__poll_cb) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: curl wants socket_action(TIMEOUT) after timeout_ms (-1: never). It must
 * not be called from here, so even a 0 ms timeout goes through the uv timer. */
static int net__timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
    net_client_t *c = userp;
    if (c->torn_down) return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, net__timer_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

static void net__defer_cb(uv_timer_t *t);

static void net__enqueue(net_client_t *c, net_request_t *req)
{
    if (!req->queued) {
        req->queued = true;
        req->qnext = NULL;
        if (c->q_tail)
            c->q_tail->qnext = req;
        else
            c->q_head = req;
        c->q_tail = req;
    }
    uv_timer_start(&c->defer, net__defer_cb, 0, 0);
}

static void net__teardown(net_client_t *c)
{
    c->torn_down = true;
    uv_timer_stop(&c->timer);
    /* Closing the multi closes cached connections; curl may report their sockets removed. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    for (net__sock_t *s = c->socks; s; s = s->next)
        net__sock_close(s);
    uv_close((uv_handle_t *)&c->timer, net__handle_closed);
    uv_close((uv_handle_t *)&c->defer, net__handle_closed);
}

/* True when one more handle may be added to the multi during this loop turn. */
static bool net__add_budget(net_client_t *c)
{
    uint64_t now = uv_now(c->loop);
    if (now != c->batch_ms) {
        c->batch_ms = now;
        c->batch_adds = 0;
    }
    return c->batch_adds < NET__ADD_BATCH;
}

static void net__defer_cb(uv_timer_t *t)
{
    net_client_t *c = t->data;
    net_request_t *req;
    while ((req = c->q_head)) {
        if (req->state == NET__PENDING_ADD && !c->closing && !net__add_budget(c)) {
            /* Out of budget: go on next turn. (A 0 ms timer started from a timer callback
             * would run again in this same turn with libuv 1.44, hence 1 ms.) */
            uv_timer_start(&c->defer, net__defer_cb, 1, 0);
            return;
        }
        c->q_head = req->qnext;
        if (!c->q_head) c->q_tail = NULL;
        req->queued = false;
        if (req->state == NET__PENDING_ADD) {
            c->pending_adds--;
            c->batch_adds++;
            if (curl_multi_add_handle(c->multi, req->easy) != CURLM_OK) {
                net__complete(req, -ENOMEM);
                continue;
            }
            req->in_multi = true;
            req->state = NET__RUNNING;
        } else if (req->state == NET__CANCELLED) {
            net__complete(req, NET_E_CANCELLED);
        }
    }
    if (c->closing && !c->live && !c->torn_down) net__teardown(c);
}

void net__complete(net_request_t *req, int status)
{
    net_client_t *c = req->client;
    if (req->in_multi) {
        curl_multi_remove_handle(c->multi, req->easy);
        req->in_multi = false;
    }
    if (req->prev)
        req->prev->next = req->next;
    else
        c->live = req->next;
    if (req->next) req->next->prev = req->prev;

    curl_off_t down = 0, up = 0;
    long hdr = 0, reqsz = 0, conns = 0;
    curl_easy_getinfo(req->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
    curl_easy_getinfo(req->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(req->easy, CURLINFO_HEADER_SIZE, &hdr);
    curl_easy_getinfo(req->easy, CURLINFO_REQUEST_SIZE, &reqsz);
    curl_easy_getinfo(req->easy, CURLINFO_NUM_CONNECTS, &conns);
    if (req->http_status == 0)
        curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->http_status);

    net_response_t res = {
        .status = status,
        .http_status = req->http_status,
        .headers = &req->headers,
        .body = &req->body_buf,
        .error_detail = status && status != NET_E_CANCELLED ? req->errbuf : "",
        .bytes_in = (uint64_t)down + (uint64_t)hdr,
        .bytes_out = (uint64_t)up + (uint64_t)reqsz,
        .total_ms = (double)(uv_hrtime() - req->start_ns) / 1e6,
        .new_connection = conns > 0,
    };
    net_metrics_t *mt = &c->metrics;
    mt->completed++;
    mt->in_flight--;
    mt->bytes_in += res.bytes_in;
    mt->bytes_out += res.bytes_out;
    mt->connects += (uint64_t)conns;
    if (status == 0)
        mt->ok++;
    else if (status <= -1001 && status >= -1000 - NET_E__COUNT)
        mt->errors[-status - 1000]++;
    else
        mt->errors[0]++;

    req->done(req, &res, req->arg);
    net_request_free(req);
}

int net_request_start(net_client_t *c, net_request_t *req, net_done_cb done, void *arg)
{
    if (!c || !req || !done || req->state != NET__NEW || req->easy) return -EINVAL;
    if (c->closing) return NET_E_CLOSING;
    req->client = c;
    req->done = done;
    req->arg = arg;
    int rc = net__easy_setup(req);
    if (rc) {
        curl_easy_cleanup(req->easy);
        req->easy = NULL;
        req->client = NULL;
        return rc;
    }
    req->start_ns = uv_hrtime();
    if (c->depth > 0 || c->pending_adds > 0 || !net__add_budget(c)) {
        req->state = NET__PENDING_ADD;
        c->pending_adds++;
        net__enqueue(c, req);
    } else {
        if (curl_multi_add_handle(c->multi, req->easy) != CURLM_OK) {
            curl_easy_cleanup(req->easy);
            req->easy = NULL;
            req->client = NULL;
            return -ENOMEM;
        }
        req->in_multi = true;
        req->state = NET__RUNNING;
        c->batch_adds++;
    }
    req->prev = NULL;
    req->next = c->live;
    if (c->live) c->live->prev = req;
    c->live = req;
    c->metrics.started++;
    c->metrics.in_flight++;
    return 0;
}

int net_request_cancel(net_request_t *req)
{
    if (!req || !req->client) return -EINVAL;
    if (req->state == NET__CANCELLED) return -EALREADY;
    if (req->state != NET__RUNNING && req->state != NET__PENDING_ADD) return -EINVAL;
    net_client_t *c = req->client;
    if (req->state == NET__PENDING_ADD) c->pending_adds--;
    req->state = NET__CANCELLED;
    if (c->depth == 0 && req->in_multi) {
        curl_multi_remove_handle(c->multi, req->easy);
        req->in_multi = false;
    }
    net__enqueue(c, req);
    return 0;
}

net_client_t *net_client_new(uv_loop_t *loop, const net_config_t *cfg)
{
    if (!loop || !cfg) return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    net_client_t *c = calloc(1, sizeof *c);
    if (!c) goto fail_global;
    c->loop = loop;
    c->cfg = *cfg;
    const char *ua = cfg->user_agent ? cfg->user_agent : "nova-storyteller";
    c->user_agent = strdup(ua);
    c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    c->proxy = cfg->proxy ? strdup(cfg->proxy) : NULL;
    if (!c->user_agent || (cfg->ca_file && !c->ca_file) || (cfg->proxy && !c->proxy)) goto fail;
    c->cfg.ca_file = c->ca_file;
    c->cfg.proxy = c->proxy;
    c->cfg.user_agent = c->user_agent;
    if (!c->cfg.default_max_response) c->cfg.default_max_response = 16u * 1024 * 1024;
    if (c->cfg.default_timeout_ms <= 0) c->cfg.default_timeout_ms = 60000;
    if (c->cfg.connect_timeout_ms <= 0) c->cfg.connect_timeout_ms = 10000;

    c->multi = curl_multi_init();
    if (!c->multi) goto fail;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, net__socket_fn);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, net__timer_fn);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->cfg.max_host_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, c->cfg.max_total_connections);
    if (c->cfg.max_cached_connections > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->cfg.max_cached_connections);

    if (uv_timer_init(loop, &c->timer) != 0) goto fail_multi;
    c->timer.data = c;
    c->open_handles++;
    if (uv_timer_init(loop, &c->defer) != 0) {
        /* The timer was registered with the loop: it must be closed, so go the normal way. */
        net_client_close(c, NULL, NULL);
        return NULL;
    }
    c->defer.data = c;
    c->open_handles++;
    return c;

fail_multi:
    curl_multi_cleanup(c->multi);
fail:
    free(c->user_agent);
    free(c->ca_file);
    free(c->proxy);
    free(c);
fail_global:
    curl_global_cleanup();
    return NULL;
}

void net_client_close(net_client_t *c, net_close_cb done, void *arg)
{
    if (!c || c->closing) return;
    c->closing = true;
    c->close_cb = done;
    c->close_arg = arg;
    for (net_request_t *r = c->live; r; r = r->next)
        if (r->state != NET__CANCELLED) net_request_cancel(r);
    if (c->open_handles < 2) { /* only from a half-built client in net_client_new */
        c->torn_down = true;
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
        uv_close((uv_handle_t *)&c->timer, net__handle_closed);
        return;
    }
    uv_timer_start(&c->defer, net__defer_cb, 0, 0);
}
