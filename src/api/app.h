/* app: the application context every handler reaches through req->app: configuration, the
 * loop, and the long-lived services (database pool, providers, job workers). main() owns it. */
#ifndef NOVA_API_APP_H
#define NOVA_API_APP_H

#include <stdbool.h>
#include <uv.h>

#include "core/config.h"
#include "http/server.h"

typedef struct db_pool db_pool_t;
typedef struct providers providers_t;
typedef struct net_client net_client_t;
typedef struct aws_client aws_client_t;
typedef struct jobs_engine jobs_engine_t;
typedef struct media_backend media_backend_t;
typedef struct safety safety_t;

typedef struct {
    uv_loop_t *loop;
    const config_t *cfg;
    http_server_t *http;
    db_pool_t *db;          /* NULL when no database is configured */
    providers_t *providers; /* text/vision/speech/image providers (providers/registry.h) */
    net_client_t *net;      /* outbound HTTP: libcurl-multi on the loop */
    aws_client_t *aws;      /* Bedrock and Polly, used when credentials resolve */
    jobs_engine_t *jobs;    /* generation jobs and event streams (jobs/jobs.h) */
    media_backend_t *media; /* NOVA_MEDIA_BACKEND=s3 (media/backend.h); NULL = local files */
    const safety_t *safety; /* the content screen (safety/safety.h), owned by main */
    uint64_t started_ns;
} app_t;

/* Registers every route of the API on the server. */
int api_routes_register(http_server_t *srv, const config_t *cfg);

/* Health and observability handlers (api/health.c). */
void api_healthz(http_req_t *req);
void api_readyz(http_req_t *req);
void api_metrics(http_req_t *req);
void api_health_check(http_req_t *req);

/* Database glue (api/dbglue.c). api_db_start applies migrations (blocking: before serving)
 * and creates the pool when DATABASE_URL is set. api_db_failed answers the request (503 with
 * Retry-After for busy/unavailable/timeout, 500 otherwise) and returns true when res is an
 * error; handlers write `if (api_db_failed(req, res)) return;`. */
typedef struct db_result db_result_t;
int api_db_start(app_t *app, char *err, size_t errlen);
void api_db_stop(app_t *app, void (*done)(void *), void *arg);
bool api_db_failed(http_req_t *req, const db_result_t *res);
void api_db_unavailable(http_req_t *req);

/* Generation pipeline (api/jobs_api.c): creates the job engine when a database is configured,
 * registers the flows and the story generation hooks, starts the workers. api_jobs_shutdown
 * (on SIGTERM, before HTTP drains) stops claiming and ends event streams; api_jobs_stop (after
 * HTTP drained, before api_db_stop) hands back running jobs, then calls done(arg). */
int api_jobs_start(app_t *app, char *err, size_t errlen);
void api_jobs_shutdown(app_t *app);
void api_jobs_stop(app_t *app, void (*done)(void *), void *arg);

/* Providers (api/providers_glue.c): the HTTP and AWS clients and the provider registry, chosen
 * once at start (api_providers_start probes the AWS credential chain first). api_providers_stop
 * closes them in order, then calls done(arg). GET /api/providers/ describes them. */
int api_providers_start(app_t *app, char *err, size_t errlen);
void api_providers_stop(app_t *app, void (*done)(void *), void *arg);
void api_providers(http_req_t *req);

/* Media backend (api/media.c): after api_providers_start (it borrows the AWS client), before
 * api_jobs_start. api_media_stop before api_providers_stop; done(arg) may be NULL. */
int api_media_start(app_t *app, char *err, size_t errlen);
void api_media_stop(app_t *app, void (*done)(void *), void *arg);

/* Writes an ISO 8601 UTC timestamp with microseconds ("2026-11-25T22:30:00.123456Z"). */
void api_iso_now(char *out, size_t cap);

#endif
