/* dbglue: the application's use of the database pool: start-up (migrations, pool), readiness,
 * metrics, shutdown, and the one mapping from database failures to HTTP answers. */
#include <stdio.h>
#include <string.h>

#include "api/app.h"
#include "api/stories.h"
#include "api/story_cache.h"
#include "aws/aws.h"
#include "aws/s3.h"
#include "core/log.h"
#include "db/db.h"
#include "db/db_migrate.h"
#include "jobs/jobs.h"
#include "media/backend.h"
#include "http/http.h"

bool api__db_ready(app_t *app);
void api__metrics_extra(app_t *app, buf_t *out);

int api_db_start(app_t *app, char *err, size_t errlen)
{
    const config_t *cfg = app->cfg;
    if (!cfg->database_url || !*cfg->database_url) return 0;
    if (cfg->migrate_on_start) {
        const char *dir = cfg->sql_dir && *cfg->sql_dir ? cfg->sql_dir : NOVA_DEFAULT_SQL_DIR;
        int rc = db_migrate_run(cfg->database_url, dir, err, errlen);
        if (rc != 0) return rc;
    }
    db_config_t dc;
    db_config_defaults(&dc);
    dc.url = cfg->database_url;
    dc.pool_size = (int)cfg->db_pool_size;
    dc.queue_max = (int)cfg->db_queue_max;
    dc.queue_timeout_ms = (int)cfg->db_queue_timeout_ms;
    dc.statement_timeout_ms = (int)cfg->db_statement_timeout_ms;
    dc.connect_timeout_ms = (int)cfg->db_connect_timeout_ms;
    dc.pipeline_depth = (int)cfg->db_pipeline_depth;
    dc.tx_timeout_ms = (int)cfg->db_tx_timeout_ms;
    int rc = db_pool_new(app->loop, &dc, &app->db);
    if (rc != 0) snprintf(err, errlen, "cannot create the database pool (%d)", rc);
    return rc;
}

void api_db_stop(app_t *app, void (*done)(void *), void *arg)
{
    if (!app->db) {
        if (done) done(arg);
        return;
    }
    db_pool_t *db = app->db;
    app->db = NULL;
    db_pool_close(db, done, arg);
}

bool api__db_ready(app_t *app)
{
    return app->db == NULL ? !(app->cfg->database_url && *app->cfg->database_url)
                           : db_pool_ready(app->db);
}

void api__metrics_extra(app_t *app, buf_t *out)
{
    if (app->db) db_pool_metrics_write(app->db, out);
    if (app->jobs) jobs_engine_metrics_write(app->jobs, out);
    if (app->aws) aws_metrics_write(app->aws, out);
    story_cache_stats_t sc;
    story_cache_stats(stories_cache(app->cfg), &sc);
    buf_printf(out,
               "# HELP nova_story_cache_requests_total Story reads answered from the cache "
               "(hit) or rendered (miss).\n# TYPE nova_story_cache_requests_total counter\n"
               "nova_story_cache_requests_total{result=\"hit\"} %llu\n"
               "nova_story_cache_requests_total{result=\"miss\"} %llu\n"
               "# TYPE nova_story_cache_bytes gauge\nnova_story_cache_bytes %llu\n",
               (unsigned long long)sc.hits, (unsigned long long)sc.misses,
               (unsigned long long)sc.bytes);
    if (app->media && media_backend_s3(app->media))
        s3_metrics_write(media_backend_s3(app->media), out);
}

bool api_db_failed(http_req_t *req, const db_result_t *res)
{
    int st = db_result_status(res);
    if (st == DB_OK) return false;
    switch (st) {
    case DB_E_BUSY:
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "database_busy", "The database is busy; try again shortly.");
        break;
    case DB_E_UNAVAILABLE:
    case DB_E_CLOSED:
        http_res_header(req, "Retry-After", "2");
        http_respond_error(req, 503, "database_unavailable",
                           "The database is unavailable; try again shortly.");
        break;
    case DB_E_TIMEOUT:
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "database_timeout", "The database did not answer in time.");
        break;
    default:
        log_error("db", "request %s: query failed: %s %s", req->request_id, db_result_sqlstate(res),
                  db_result_error(res));
        http_respond_error(req, 500, "internal_error", "A database error occurred.");
        break;
    }
    return true;
}

void api_db_unavailable(http_req_t *req)
{
    http_res_header(req, "Retry-After", "2");
    http_respond_error(req, 503, "database_unavailable",
                       "The database is not configured or unavailable.");
}
