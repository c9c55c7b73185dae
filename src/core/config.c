#include "core/config.h"

#include "core/crypto.h"
#include "core/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CFG_INT, CFG_STR, CFG_BOOL } config__type_t;

typedef struct {
    const char *env;
    config__type_t type;
    size_t offset;
    const char *def;
    int64_t min, max; /* inclusive bounds for CFG_INT */
    const char *help;
} config__entry_t;

#define CI(env, field, def, min, max, help)                                                        \
    {                                                                                              \
        env, CFG_INT, offsetof(config_t, field), def, min, max, help                               \
    }
#define CS(env, field, def, help)                                                                  \
    {                                                                                              \
        env, CFG_STR, offsetof(config_t, field), def, 0, 0, help                                   \
    }
#define CB(env, field, def, help)                                                                  \
    {                                                                                              \
        env, CFG_BOOL, offsetof(config_t, field), def, 0, 1, help                                  \
    }

static const config__entry_t config__table[] = {
    CS("NOVA_LISTEN", listen, "127.0.0.1:8000",
       "Addresses to listen on, comma-separated (host:port, [ipv6]:port)."),
    CI("NOVA_PROCESSES", processes, "1", 1, 64,
       "Server processes sharing the listening port (SO_REUSEPORT), one event loop each."),
    CI("NOVA_MAX_CONNECTIONS", max_connections, "20000", 1, 1000000,
       "Open client connections per process; accepting pauses at the cap."),
    CI("NOVA_THREADPOOL_SIZE", threadpool_size, "4", 1, 128,
       "libuv threadpool size (CPU work: hashing, encoding, rendering)."),
    CI("NOVA_SHUTDOWN_GRACE_S", shutdown_grace_s, "20", 0, 3600,
       "Seconds in-flight requests may take to finish after SIGTERM/SIGINT."),
    CS("NOVA_LOG_LEVEL", log_level, "info", "Log level: debug, info, warn or error."),
    CS("NOVA_CORS_ORIGINS", cors_origins, "",
       "Origins allowed by CORS, comma-separated and exact (e.g. http://localhost:3000)."),
    CS("NOVA_PUBLIC_URL", public_url, "",
       "Public base URL for absolute links. Mail links (password reset) use only this, or the "
       "first NOVA_LISTEN address when empty, never a request header; other links fall back to "
       "the request's Host header."),
    CS("NOVA_WEB_DIR", web_dir, "",
       "Folder of the browser app served at / and /assets/ (default: the built-in src/web)."),
    CI("NOVA_MAX_HEADER_BYTES", max_header_bytes, "16384", 1024, 1048576,
       "Request line plus headers, in bytes; more gives 431."),
    CI("NOVA_MAX_HEADERS", max_headers, "100", 4, 1000, "Request header count; more gives 431."),
    CI("NOVA_MAX_URI_BYTES", max_uri_bytes, "8192", 64, 1048576,
       "Request target length in bytes; longer gives 414."),
    CI("NOVA_MAX_BODY_BYTES", max_body_bytes, "1048576", 0, 1073741824,
       "Body limit for JSON routes in bytes; larger gives 413."),
    CI("NOVA_MAX_JSON_DEPTH", max_json_depth, "32", 1, 1000, "Nesting depth limit of JSON bodies."),
    CI("NOVA_HEADER_TIMEOUT_MS", header_timeout_ms, "10000", 10, 3600000,
       "Time a client has to send the request line and headers."),
    CI("NOVA_BODY_TIMEOUT_MS", body_timeout_ms, "30000", 10, 3600000,
       "Longest pause while a request body is being received."),
    CI("NOVA_KEEPALIVE_TIMEOUT_MS", keepalive_timeout_ms, "60000", 10, 3600000,
       "Idle keep-alive connections are closed after this long."),
    CI("NOVA_WRITE_TIMEOUT_MS", write_timeout_ms, "30000", 10, 3600000,
       "A response write that makes no progress for this long closes the connection."),
    CI("NOVA_MAX_PIPELINED_BYTES", max_pipelined_bytes, "65536", 1024, 16777216,
       "Bytes of later pipelined requests buffered while one is being answered."),
    CS("DATABASE_URL", database_url, "", "PostgreSQL connection URI or keyword string."),
    CI("NOVA_DB_POOL_SIZE", db_pool_size, "8", 1, 512, "PostgreSQL connections per process."),
    CI("NOVA_DB_QUEUE_MAX", db_queue_max, "1024", 0, 1000000,
       "Queries waiting for a connection; beyond this requests get 503."),
    CI("NOVA_DB_QUEUE_TIMEOUT_MS", db_queue_timeout_ms, "2000", 1, 600000,
       "Longest wait for a database connection before 503."),
    CI("NOVA_DB_STATEMENT_TIMEOUT_MS", db_statement_timeout_ms, "10000", 1, 3600000,
       "Per-query time limit (server statement_timeout and a client-side timer)."),
    CI("NOVA_DB_CONNECT_TIMEOUT_MS", db_connect_timeout_ms, "5000", 100, 600000,
       "Time limit for opening one database connection."),
    CI("NOVA_DB_PIPELINE_DEPTH", db_pipeline_depth, "16", 1, 1000,
       "Queries in flight at once on one database connection (pipeline mode)."),
    CI("NOVA_DB_TX_TIMEOUT_MS", db_tx_timeout_ms, "60000", 0, 3600000,
       "A transaction held open longer is rolled back (0 = no limit)."),
    CS("NOVA_SQL_DIR", sql_dir, "", "Folder of NNNN_name.sql migrations (default: built-in path)."),
    CB("NOVA_MIGRATE_ON_START", migrate_on_start, "1",
       "Apply pending migrations when serving starts."),
    CI("NOVA_TOKEN_TTL_DAYS", token_ttl_days, "30", 1, 3650,
       "Sign-in tokens expire after this many days without use (sliding)."),
    CI("NOVA_ARGON2_MEMORY_KIB", argon2_memory_kib, "19456", 64, 4194304,
       "argon2id memory cost per password hash, in KiB (OWASP: 19456)."),
    CI("NOVA_ARGON2_ITERATIONS", argon2_iterations, "2", 1, 64, "argon2id time cost (passes)."),
    CI("NOVA_ARGON2_PARALLELISM", argon2_parallelism, "1", 1, 16, "argon2id lanes per hash."),
    CI("NOVA_LOGIN_MAX_FAILURES", login_max_failures, "10", 1, 1000000,
       "Failed sign-ins per client address and per account within the window before 429."),
    CI("NOVA_LOGIN_WINDOW_S", login_window_s, "300", 1, 86400,
       "Window of the sign-in failure counters, in seconds."),
    CI("NOVA_PASSWORD_RESET_TTL_MIN", password_reset_ttl_min, "60", 1, 10080,
       "Minutes a password-reset token stays valid (it works once)."),
    CS("NOVA_MAIL", mail, "log",
       "Mailer for password-reset links: \"log\" writes them to the log."),
    CS("NOVA_ADMIN_EMAIL", admin_email, "",
       "When set with NOVA_ADMIN_PASSWORD, this superuser is created at start if missing."),
    CS("NOVA_ADMIN_USERNAME", admin_username, "admin",
       "Username of the administrator created from NOVA_ADMIN_EMAIL."),
    CS("NOVA_ADMIN_PASSWORD", admin_password, "",
       "Password for NOVA_ADMIN_EMAIL and createsuperuser (never logged)."),
    CS("NOVA_TEXT_PROVIDER", text_provider, "auto",
       "Story writer: auto (Bedrock when AWS credentials resolve, else offline), bedrock, openai, "
       "offline."),
    CS("NOVA_VISION_PROVIDER", vision_provider, "auto",
       "Picture describer: auto, bedrock, offline."),
    CS("NOVA_SPEECH_PROVIDER", speech_provider, "auto",
       "Narrator: auto (Polly or espeak), polly, espeak."),
    CS("NOVA_IMAGE_PROVIDER", image_provider, "auto", "Illustrator: auto, bedrock, offline."),
    CS("NOVA_OPENAI_BASE_URL", openai_base_url, "http://127.0.0.1:8080",
       "OpenAI-compatible server for NOVA_TEXT_PROVIDER=openai (llama.cpp, Ollama, vLLM)."),
    CS("NOVA_OPENAI_API_KEY", openai_api_key, "",
       "API key for the OpenAI-compatible server (never logged)."),
    CS("NOVA_OPENAI_MODEL", openai_model, "default",
       "Model name sent to the OpenAI-compatible server."),
    CS("NOVA_TEXT_MODEL", text_model, "us.amazon.nova-2-lite-v1:0",
       "Bedrock model (or inference profile) that writes stories."),
    CS("NOVA_VISION_MODEL", vision_model, "us.amazon.nova-lite-v1:0",
       "Bedrock chat model that describes uploaded pictures (Converse with an image block)."),
    CS("NOVA_IMAGE_MODELS", image_models,
       "stability.stable-image-core-v1:1,amazon.nova-canvas-v1:0,amazon.titan-image-generator-v2:0",
       "Bedrock image models, tried in order; an end-of-life model is skipped from then on."),
    CS("NOVA_SAFETY_DATA_DIR", safety_data_dir, "",
       "Folder of the content screen's word lists (default: the built-in src/safety/data)."),
    CS("NOVA_GUARDRAIL_ID", guardrail_id, "",
       "Bedrock Guardrail id or ARN: screens story inputs and outputs (with the version)."),
    CS("NOVA_GUARDRAIL_VERSION", guardrail_version, "",
       "Bedrock Guardrail version (\"DRAFT\" or a number); set with NOVA_GUARDRAIL_ID."),
    CS("NOVA_POLLY_VOICE", polly_voice, "Joanna", "Default Polly voice."),
    CS("NOVA_ESPEAK_VOICE", espeak_voice, "en-us-f", "Default offline (espeak-ng) voice."),
    CI("NOVA_OFFLINE_STREAM_DELAY_MS", offline_stream_delay_ms, "8", 0, 1000,
       "Pause between text deltas of the offline writer, so the story appears as it is written."),
    CI("NOVA_BEDROCK_MAX_INFLIGHT", bedrock_max_inflight, "64", 1, 10000,
       "Bedrock calls in flight per process (more wait in FIFO order)."),
    CI("NOVA_POLLY_MAX_INFLIGHT", polly_max_inflight, "8", 1, 10000,
       "Polly calls in flight per process."),
    CS("NOVA_SECRET_KEY", secret_key, "",
       "Secret for signed media URLs and tickets (default: random per start, URLs then expire on "
       "restart)."),
    CB("NOVA_BENCH_ROUTES", bench_routes, "0", "Enable benchmark-only routes under /bench/."),
    CS("NOVA_MEDIA_DIR", media_dir, "./var/media",
       "Folder of story images, narration audio and scene pictures (created when missing)."),
    CI("NOVA_MAX_UPLOAD_BYTES", max_upload_bytes, "10485760", 1024, 1073741824,
       "Largest multipart/form-data body (story and scene images); larger gives 413."),
    CI("NOVA_STORY_CACHE_BYTES", story_cache_bytes, "16777216", 0, 1073741824,
       "Rendered stories kept per process for GET /api/stories/{id}/, served only while the "
       "story's version is unchanged (0 = off)."),
    CI("NOVA_MEDIA_URL_TTL_S", media_url_ttl_s, "86400", 60, 31536000,
       "Lifetime in seconds of the signed media URLs in API responses."),
    CS("NOVA_MEDIA_BACKEND", media_backend, "local",
       "Where story media are kept: local (NOVA_MEDIA_DIR) or s3 (NOVA_S3_BUCKET; endpoint from "
       "AWS_ENDPOINT_URL_S3, credentials from the AWS chain)."),
    CS("NOVA_S3_BUCKET", s3_bucket, "", "S3 bucket of story media (required with s3)."),
    CS("NOVA_S3_PREFIX", s3_prefix, "", "Prepended to every S3 object key, e.g. media/."),
    CB("NOVA_S3_PATH_STYLE", s3_path_style, "0",
       "Path-style S3 addressing (http://host/bucket/key), for local S3-compatible servers."),
    CB("NOVA_MEDIA_PROXY", media_proxy, "0",
       "With s3: media URLs point at /media/ and the server streams from S3 (Range supported) "
       "instead of presigned S3 URLs."),
    CI("NOVA_WORKERS", workers, "16", 0, 1024,
       "Generation jobs run at once by each process (0: this process runs none)."),
    CI("NOVA_JOB_LEASE_S", job_lease_s, "30", 2, 3600,
       "Lease of a running job; renewed every third of it. A crashed worker's jobs are taken "
       "over after this long."),
    CI("NOVA_JOB_MAX_ATTEMPTS", job_max_attempts, "5", 1, 100,
       "Attempts of a job (and of each scene) before it fails for good."),
    CI("NOVA_JOB_POLL_MS", job_poll_ms, "2000", 50, 600000,
       "Workers look for jobs this often when no notification woke them."),
    CI("NOVA_JOB_BACKOFF_BASE_MS", job_backoff_base_ms, "1000", 10, 600000,
       "First retry delay of a failed job; doubles per attempt, with +/-25% jitter."),
    CI("NOVA_JOB_BACKOFF_MAX_S", job_backoff_max_s, "300", 1, 86400, "Cap of the retry delay."),
    CI("NOVA_MAX_JOBS_PER_USER", max_jobs_per_user, "0", 0, 100000,
       "Jobs of one user running at once across all instances (0: no cap; claims still go "
       "round-robin between users)."),
    CI("NOVA_SYNC_WAIT_MS", sync_wait_ms, "8000", 0, 60000,
       "Generation requests wait this long for their job before answering 202 (Prefer: wait=N "
       "and Prefer: respond-async override it)."),
    CI("NOVA_IMAGE_MAX_INFLIGHT", image_max_inflight, "8", 1, 4096,
       "Scene pictures being generated at once by each process."),
    CI("NOVA_SSE_HEARTBEAT_S", sse_heartbeat_s, "15", 1, 3600,
       "Comment line sent on idle event streams this often (keeps proxies from closing them)."),
    CI("NOVA_SSE_MAX_QUEUED_BYTES", sse_max_queued_bytes, "65536", 4096, 16777216,
       "Bytes queued for one slow event-stream client; beyond that it catches up from the "
       "database with text deltas merged."),
    CI("NOVA_SSE_RETRY_MS", sse_retry_ms, "3000", 100, 600000,
       "Reconnection delay the event streams announce (retry: field)."),
    CI("NOVA_SSE_TICKET_TTL_S", sse_ticket_ttl_s, "60", 5, 3600,
       "Lifetime of the single-use tickets that authenticate EventSource connections."),
    CI("NOVA_EVENTS_RETENTION_H", events_retention_h, "24", 1, 8760,
       "Hours progress events are kept for Last-Event-ID replay."),
    CI("NOVA_TEST_IMAGE_DELAY_MS", test_image_delay_ms, "0", 0, 600000,
       "Testing aid, only with NOVA_BENCH_ROUTES=1: added latency of every scene picture."),
    CS("NOVA_TEST_IMAGE_FAIL_WORD", test_image_fail_word, "",
       "Testing aid, only with NOVA_BENCH_ROUTES=1: scenes whose text contains this word fail."),
};

#define CONFIG__N (sizeof config__table / sizeof config__table[0])

size_t config_count(void)
{
    return CONFIG__N;
}

const char *config_env_name(size_t i)
{
    return i < CONFIG__N ? config__table[i].env : NULL;
}

static int config__parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0') return -1;
    *out = v;
    return 0;
}

static int config__parse_bool(const char *s, int64_t *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return (*out = 1), 0;
        if (strcasecmp(s, no[i]) == 0) return (*out = 0), 0;
    }
    return -1;
}

int config_load(config_t *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < CONFIG__N; i++) {
        const config__entry_t *e = &config__table[i];
        const char *v = getenv(e->env);
        const char *src = v ? v : e->def;
        char *field = (char *)cfg + e->offset;
        if (e->type == CFG_STR) {
            char *dup = strdup(src);
            if (!dup) {
                snprintf(err, errlen, "out of memory");
                config_free(cfg);
                return -1;
            }
            memcpy(field, &dup, sizeof dup);
            continue;
        }
        int64_t n;
        int rc = e->type == CFG_BOOL ? config__parse_bool(src, &n) : config__parse_int(src, &n);
        if (rc != 0) {
            snprintf(err, errlen, "%s=\"%s\" is not a valid %s", e->env, src,
                     e->type == CFG_BOOL ? "boolean (1/0, true/false)" : "integer");
            config_free(cfg);
            return -1;
        }
        if (e->type == CFG_INT && (n < e->min || n > e->max)) {
            snprintf(err, errlen, "%s=%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
                     e->env, n, e->min, e->max);
            config_free(cfg);
            return -1;
        }
        memcpy(field, &n, sizeof n);
    }
    if (!cfg->secret_key[0]) {
        /* No configured secret: a random key for this run (workers forked later share it), so
         * signed URLs work until the next restart. */
        uint8_t key[32];
        char *hex = malloc(2 * sizeof key + 1);
        if (!hex || crypto_random(key, sizeof key) != 0) {
            free(hex);
            snprintf(err, errlen, "cannot generate a random NOVA_SECRET_KEY");
            config_free(cfg);
            return -1;
        }
        crypto_hex_encode(key, sizeof key, hex, 2 * sizeof key + 1);
        crypto_wipe(key, sizeof key);
        free(cfg->secret_key);
        cfg->secret_key = hex;
        log_warn("config", "NOVA_SECRET_KEY is not set: using a random key for this run (signed "
                           "media URLs stop working at restart)");
    }
    return 0;
}

void config_free(config_t *cfg)
{
    for (size_t i = 0; i < CONFIG__N; i++) {
        if (config__table[i].type != CFG_STR) continue;
        char *p;
        memcpy(&p, (char *)cfg + config__table[i].offset, sizeof p);
        free(p);
    }
    memset(cfg, 0, sizeof *cfg);
}

static const char *config__type_name(config__type_t t)
{
    return t == CFG_INT ? "integer" : t == CFG_BOOL ? "boolean" : "string";
}

void config_print_help(FILE *out)
{
    fputs("Settings (environment variables):\n", out);
    for (size_t i = 0; i < CONFIG__N; i++) {
        const config__entry_t *e = &config__table[i];
        fprintf(out, "  %-30s %s (default: \"%s\"", e->env, config__type_name(e->type), e->def);
        if (e->type == CFG_INT) fprintf(out, ", %" PRId64 "..%" PRId64, e->min, e->max);
        fprintf(out, ")\n      %s\n", e->help);
    }
}

void config_print_markdown(FILE *out)
{
    fputs("# Configuration\n\n"
          "Generated by `nova-storyteller config-doc` from the settings table in "
          "`src/core/config.c`; do not edit by hand.\nEvery setting is an environment variable. "
          "A value that does not parse or is out of bounds stops start-up with exit status 2.\n\n"
          "| Variable | Type | Default | Bounds | Meaning |\n|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < CONFIG__N; i++) {
        const config__entry_t *e = &config__table[i];
        fprintf(out, "| `%s` | %s | `%s` | ", e->env, config__type_name(e->type), e->def);
        if (e->type == CFG_INT) fprintf(out, "%" PRId64 "–%" PRId64, e->min, e->max);
        fprintf(out, " | %s |\n", e->help);
    }
}
