/* health: liveness, readiness, Prometheus metrics and the reference API's health check. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "api/app.h"
#include "core/json.h"
#include "http/http.h"

void api_iso_now(char *out, size_t cap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%06ldZ", base, (long)tv.tv_usec);
}

void api_healthz(http_req_t *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    http_respond(req, 200, "application/json", body, sizeof body - 1);
}

bool api__db_ready(app_t *app);

void api_readyz(http_req_t *req)
{
    app_t *app = req->app;
    bool db_ok = api__db_ready(app);
    bool draining = http_server_shutting_down(app->http);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "status", db_ok && !draining ? "ready" : "unavailable");
    json_key(g, "checks");
    yajl_gen_map_open(g);
    json_kv_str(g, "database", !app->db ? "not configured" : db_ok ? "ok" : "unavailable");
    json_kv_str(g, "server", draining ? "shutting down" : "ok");
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    if (!(db_ok && !draining)) http_res_header(req, "Retry-After", "1");
    http_respond_json(req, db_ok && !draining ? 200 : 503, g);
    yajl_gen_free(g);
}

void api__metrics_extra(app_t *app, buf_t *out);

void api_metrics(http_req_t *req)
{
    app_t *app = req->app;
    buf_t out;
    buf_init(&out, 4 << 20);
    http_server_metrics_write(app->http, &out);
    api__metrics_extra(app, &out);
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "",
                 out.len);
    buf_free(&out);
}

void api_health_check(http_req_t *req)
{
    char ts[40];
    api_iso_now(ts, sizeof ts);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "status", "ok");
    json_kv_str(g, "message", "API is running");
    json_kv_str(g, "timestamp", ts);
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}
