/* net internals shared by net_client.c (multi handle, loop glue, lifecycle) and net_request.c
 * (request building, easy handle setup and curl callbacks). Not for other modules. */
#ifndef NOVA_NET_INTERNAL_H
#define NOVA_NET_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>

#include "net/net.h"

typedef enum {
    NET__NEW = 0,     /* built, not started */
    NET__PENDING_ADD, /* started from inside a curl callback: added on the deferred pass */
    NET__RUNNING,     /* in the multi handle */
    NET__CANCELLED,   /* done(NET_E_CANCELLED) is queued for the deferred pass */
} net__state_t;

struct net_request {
    net_client_t *client;
    CURL *easy;
    char *method, *url;
    struct curl_slist *hdrs;
    bool has_content_type;

    /* request body: memory (body) or file (body_fd >= 0) */
    bool has_body;
    char *body;
    size_t body_len;
    int body_fd;
    uint64_t file_off, file_len, file_pos;
    struct net__reader *reader; /* read-ahead of the file body on the threadpool (net_request.c) */

    long timeout_ms, low_speed_limit, low_speed_time;
    bool low_speed_set;
    size_t max_bytes;
    net_data_cb on_data;
    net_headers_cb on_headers;
    net_done_cb done;
    void *arg;

    /* response */
    long http_status;
    net_headers_t headers;
    bool headers_done;
    buf_t body_buf;
    uint64_t rx_body;
    int fail; /* reason recorded by a callback that made curl stop (NET_E_*) */
    uint64_t start_ns;
    char errbuf[CURL_ERROR_SIZE];

    net__state_t state;
    bool in_multi, queued;
    net_request_t *prev, *next; /* client's live list */
    net_request_t *qnext;       /* client's deferred queue */
};

/* Socket context: one uv_poll per socket curl asks us to watch; freed in its close callback. */
typedef struct net__sock {
    uv_poll_t poll;
    curl_socket_t fd;
    net_client_t *client;
    bool closing;
    struct net__sock *prev, *next;
} net__sock_t;

struct net_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* curl's timeout */
    uv_timer_t defer; /* deferred pass: adds and cancels requested from inside curl callbacks */
    net_config_t cfg;
    char *ca_file, *proxy, *user_agent;
    int depth;         /* > 0 while inside curl_multi_socket_action (curl callbacks may run) */
    uint64_t batch_ms; /* uv_now() of the loop turn the add budget below belongs to */
    int batch_adds;    /* handles added to the multi during that turn */
    int pending_adds;  /* queued requests waiting to be added */
    bool closing, torn_down;
    net_request_t *live;
    net_request_t *q_head, *q_tail;
    net__sock_t *socks;
    int open_handles; /* uv handles whose close callback has not run yet */
    net_close_cb close_cb;
    void *close_arg;
    net_metrics_t metrics;
};

/* net_request.c */
int net__easy_setup(net_request_t *req);
int net__map_curl(net_request_t *req, CURLcode rc);
void net__headers_clear(net_headers_t *h);

void net__reader_detach(net_request_t *req);

/* net_client.c */
void net__complete(net_request_t *req, int status);
/* Resumes a transfer whose read callback paused it to wait for file bytes. */
void net__resume_send(net_request_t *req);

#endif
