/* config: every setting of the server, declared once in a table (name, environment variable,
 * type, default, bounds, help). The same table drives parsing and validation at start-up,
 * `--help`, and docs/configuration.md (`nova-storyteller config-doc`). Settings come from the
 * environment only. A bad value stops start-up with a message naming the variable (exit 2).
 * The parsed values live in one struct owned by main(); modules receive what they need. */
#ifndef NOVA_CORE_CONFIG_H
#define NOVA_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    /* process and listener */
    char *listen; /* comma-separated host:port list; [v6]:port */
    int64_t processes;
    int64_t max_connections;
    int64_t threadpool_size;
    int64_t shutdown_grace_s;
    char *log_level;
    char *cors_origins; /* comma-separated exact origins, or empty */
    char *public_url;   /* base for absolute URLs; empty = from the Host header */
    char *web_dir;      /* the browser app's files; empty = the built-in src/web */

    /* HTTP limits and timeouts */
    int64_t max_header_bytes;
    int64_t max_headers;
    int64_t max_uri_bytes;
    int64_t max_body_bytes; /* default JSON body limit */
    int64_t max_json_depth;
    int64_t header_timeout_ms;
    int64_t body_timeout_ms;
    int64_t keepalive_timeout_ms;
    int64_t write_timeout_ms;
    int64_t max_pipelined_bytes; /* bytes buffered while a request is in flight */

    /* database */
    char *database_url;
    int64_t db_pool_size;
    int64_t db_queue_max;
    int64_t db_queue_timeout_ms;
    int64_t db_statement_timeout_ms;
    int64_t db_connect_timeout_ms;
    int64_t db_pipeline_depth;
    int64_t db_tx_timeout_ms;
    char *sql_dir;
    int64_t migrate_on_start;

    /* accounts and authentication */
    int64_t token_ttl_days;
    int64_t argon2_memory_kib;
    int64_t argon2_iterations;
    int64_t argon2_parallelism;
    int64_t login_max_failures;
    int64_t login_window_s;
    int64_t password_reset_ttl_min;
    char *mail;        /* mailer: "log" */
    char *admin_email; /* first administrator, created at start when set */
    char *admin_username;
    char *admin_password; /* never logged */

    /* providers */
    char *text_provider, *vision_provider, *speech_provider, *image_provider;
    char *openai_base_url, *openai_api_key, *openai_model;
    char *text_model, *vision_model, *image_models;
    char *polly_voice, *espeak_voice;
    int64_t offline_stream_delay_ms;
    /* child safety (issue 12) */
    char *safety_data_dir;                  /* word lists; empty = the built-in path */
    char *guardrail_id, *guardrail_version; /* Bedrock Guardrails; both or neither */
    int64_t bedrock_max_inflight, polly_max_inflight;

    /* secrets and misc */
    char *secret_key; /* when empty at start, config_load puts a random per-process key here */
    int64_t bench_routes;

    /* story media */
    char *media_dir;           /* root of story files (images, audio, scenes) */
    int64_t max_upload_bytes;  /* multipart/form-data bodies (story images) */
    int64_t media_url_ttl_s;   /* lifetime of signed media URLs */
    int64_t story_cache_bytes; /* rendered stories kept per process (0 = none) */
    char *media_backend;       /* "local" or "s3" */
    char *s3_bucket, *s3_prefix;
    int64_t s3_path_style;
    int64_t media_proxy; /* s3: URLs point at /media/, which streams from S3 */

    /* generation pipeline: jobs and server-sent events */
    int64_t workers; /* concurrent jobs per process */
    int64_t job_lease_s;
    int64_t job_max_attempts;
    int64_t job_poll_ms;
    int64_t job_backoff_base_ms;
    int64_t job_backoff_max_s;
    int64_t max_jobs_per_user; /* 0 = no cap (claims are still ordered fairly) */
    int64_t sync_wait_ms;      /* generation requests wait this long for their job */
    int64_t image_max_inflight;
    int64_t sse_heartbeat_s;
    int64_t sse_max_queued_bytes;
    int64_t sse_retry_ms;
    int64_t sse_ticket_ttl_s;
    int64_t events_retention_h;
    int64_t test_image_delay_ms; /* testing aid (with bench_routes only) */
    char *test_image_fail_word;  /* testing aid (with bench_routes only) */
} config_t;

/* Fills cfg from the environment (getenv) with defaults for unset variables. On error writes a
 * message to err and returns -1. Strings in cfg are malloc'd; config_free releases them. */
int config_load(config_t *cfg, char *err, size_t errlen);
void config_free(config_t *cfg);
/* Writes the settings table as plain text (--help) or as a Markdown document. */
void config_print_help(FILE *out);
void config_print_markdown(FILE *out);
/* Number of entries and access by index, for tests. */
size_t config_count(void);
const char *config_env_name(size_t i);

#endif
