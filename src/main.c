/* nova-storyteller: process start. Parses the subcommand and the settings table, then runs the
 * server (one event loop per process; NOVA_PROCESSES > 1 forks workers that share the port with
 * SO_REUSEPORT and are supervised by the parent), or one of the maintenance commands. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/static.h"
#include "core/config.h"
#include "core/log.h"
#include "db/db_migrate.h"
#include "http/server.h"
#include "providers/registry.h"
#include "safety/safety.h"

/* The content screen's word lists: NOVA_SAFETY_DATA_DIR, else the build's source tree. */
#ifndef NOVA_DEFAULT_SAFETY_DIR
#define NOVA_DEFAULT_SAFETY_DIR NOVA_DEFAULT_SQL_DIR "/../src/safety/data"
#endif

/* Under LeakSanitizer (test builds): fontconfig, loaded by cairo for the illustrations' captions,
 * keeps process-lifetime caches that are not leaks. Unused in builds without sanitizers. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\n";
}

static const char usage[] =
    "usage: nova-storyteller [serve|migrate|createsuperuser|version|config-doc] [options]\n"
    "\n"
    "  serve            run the HTTP server (default)\n"
    "  migrate          apply pending database migrations and exit\n"
    "  createsuperuser  --username U --email E (password from NOVA_ADMIN_PASSWORD or stdin)\n"
    "  version          print the version\n"
    "  config-doc       print the settings table as Markdown (docs/configuration.md)\n"
    "  --help           this text and every setting\n\n";

typedef struct {
    app_t app;
    uv_signal_t sigterm, sigint;
    uv_timer_t hard_stop;
    int exit_code;
} main__ctx_t;

static void main__hard_stop(uv_timer_t *t)
{
    log_warn("main", "work still pending after the connections closed: stopping the loop");
    uv_stop(t->loop);
}

static void main__after_jobs(void *arg)
{
    main__ctx_t *m = arg;
    /* The S3 client closes first; the AWS client's close waits for it. */
    api_media_stop(&m->app, NULL, NULL);
    api_providers_stop(&m->app, NULL, NULL);
    api_db_stop(&m->app, NULL, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    /* Anything still running (a timer, a query) gets a short while to finish on its own; the
     * timer is unreferenced, so it never keeps an otherwise finished loop alive. */
    uv_timer_init(m->app.loop, &m->hard_stop);
    uv_timer_start(&m->hard_stop, main__hard_stop, 3000, 0);
    uv_unref((uv_handle_t *)&m->hard_stop);
}

static void main__on_drained(void *arg)
{
    main__ctx_t *m = arg;
    log_info("main", "all connections closed; exiting");
    /* Running jobs are handed back before the providers and the database pool close. */
    api_jobs_stop(&m->app, main__after_jobs, m);
}

static void main__on_signal(uv_signal_t *s, int signum)
{
    main__ctx_t *m = s->data;
    if (http_server_shutting_down(m->app.http)) {
        log_warn("main", "second signal %d: exiting at once", signum);
        exit(1);
    }
    log_info("main", "signal %d: shutting down (grace %llds)", signum,
             (long long)m->app.cfg->shutdown_grace_s);
    /* Stop claiming jobs and end event streams first, so the connections can drain. */
    api_jobs_shutdown(&m->app);
    http_server_shutdown(m->app.http, (uint64_t)m->app.cfg->shutdown_grace_s * 1000,
                         main__on_drained, m);
}

static void main__walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* The content screen of this process (read-only once loaded; the flows borrow it). */
static safety_t *main__safety;

/* Loads the content screen (blocking reads, before serving), hands it to the flows and sets the
 * Bedrock Guardrail of the text provider. A configured folder that cannot be read stops the
 * start; a missing built-in folder (a binary without its source tree) leaves the compiled-in
 * list, with a warning. */
static int main__safety_start(app_t *app, const config_t *cfg)
{
    char err[256] = "";
    bool explicit = cfg->safety_data_dir && *cfg->safety_data_dir;
    const char *dir = explicit ? cfg->safety_data_dir : NOVA_DEFAULT_SAFETY_DIR;
    if (!main__safety) main__safety = safety_load(dir, err, sizeof err);
    if (!main__safety) {
        log_warn("main", "safety lists in %s: %s", dir, err);
        if (explicit) return 1;
        if (!(main__safety = safety_load(NULL, err, sizeof err))) return 1;
    }
    log_info("main", "content screen: %zu rules", safety_rule_count(main__safety));
    app->safety = main__safety;
    int rc = providers_set_guardrail(app->providers, cfg->guardrail_id, cfg->guardrail_version);
    if (rc == -EINVAL) {
        log_error("main", "NOVA_GUARDRAIL_ID and NOVA_GUARDRAIL_VERSION must be set together");
        return 1;
    }
    if (rc == -ENOTSUP)
        log_warn("main", "NOVA_GUARDRAIL_ID is set but the text provider is not bedrock: "
                         "the guardrail is not used");
    else if (cfg->guardrail_id && *cfg->guardrail_id)
        log_info("main", "Bedrock Guardrail %s (version %s) screens stories", cfg->guardrail_id,
                 cfg->guardrail_version);
    return 0;
}

static void main__safety_stop(void)
{
    safety_free(main__safety);
    main__safety = NULL;
}

/* Runs one event loop serving HTTP until a signal drains it. */
static int main__serve_loop(const config_t *cfg, bool reuseport)
{
    main__ctx_t m;
    memset(&m, 0, sizeof m);
    uv_loop_t loop;
    uv_loop_init(&loop);
    m.app.loop = &loop;
    m.app.cfg = cfg;
    m.app.started_ns = uv_hrtime();
    m.app.http = http_server_new(&loop, cfg, &m.app);
    if (!m.app.http) {
        log_error("main", "cannot create the HTTP server");
        return 1;
    }
    const char *web_dir = cfg->web_dir && *cfg->web_dir ? cfg->web_dir : NOVA_DEFAULT_WEB_DIR;
    if (api_static_init(web_dir) < 0)
        log_warn("main", "no browser app in %s: / and /assets/ will answer 404", web_dir);
    if (api_routes_register(m.app.http, cfg) != 0) {
        log_error("main", "invalid route table");
        return 1;
    }
    char err[512];
    int rc = api_db_start(&m.app, err, sizeof err);
    if (rc != 0)
        log_error("main", "database: %s", err);
    else if ((rc = api_accounts_start(cfg, err, sizeof err)) != 0)
        log_error("main", "accounts: %s", err);
    else if ((rc = api_providers_start(&m.app, err, sizeof err)) != 0)
        log_error("main", "providers: %s", err);
    else if ((rc = api_media_start(&m.app, err, sizeof err)) != 0)
        log_error("main", "media: %s", err);
    else if ((rc = main__safety_start(&m.app, cfg)) != 0)
        log_error("main", "the content screen could not start");
    else if ((rc = api_jobs_start(&m.app, err, sizeof err)) != 0)
        log_error("main", "jobs: %s", err);
    else if ((rc = http_server_listen(m.app.http, cfg->listen, reuseport, err, sizeof err)) != 0)
        log_error("main", "%s", err);
    if (rc != 0) {
        /* Close whatever was opened so the process exits without leaks. */
        api_jobs_stop(&m.app, NULL, NULL);
        api_media_stop(&m.app, NULL, NULL);
        api_providers_stop(&m.app, NULL, NULL);
        api_db_stop(&m.app, NULL, NULL);
        uv_walk(&loop, main__walk_close, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        http_server_free(m.app.http);
        uv_loop_close(&loop);
        api_static_free();
        main__safety_stop();
        return 1;
    }
    uv_signal_init(&loop, &m.sigterm);
    uv_signal_init(&loop, &m.sigint);
    m.sigterm.data = m.sigint.data = &m;
    uv_signal_start(&m.sigterm, main__on_signal, SIGTERM);
    uv_signal_start(&m.sigint, main__on_signal, SIGINT);
    log_info("main", "serving on %s (pid %d)", cfg->listen, (int)getpid());
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_walk(&loop, main__walk_close, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    http_server_free(m.app.http);
    api_static_free();
    main__safety_stop();
    rc = uv_loop_close(&loop);
    if (rc != 0) log_warn("main", "loop closed with open handles: %s", uv_strerror(rc));
    return m.exit_code;
}

static volatile sig_atomic_t main__stop_signal;

static void main__parent_signal(int sig)
{
    main__stop_signal = sig;
}

/* NOVA_PROCESSES > 1: fork the workers, forward SIGTERM/SIGINT to them, and exit when all are done.
 * A worker that dies unexpectedly is restarted (after a short pause, so a crash loop cannot spin).
 */
static int main__serve_multi(const config_t *cfg)
{
    int n = (int)cfg->processes;
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = main__parent_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            free(pids);
            _exit(main__serve_loop(cfg, true));
        }
        pids[i] = pid;
    }
    int alive = n, status = 0, forwarded = 0;
    while (alive > 0) {
        if (main__stop_signal && !forwarded) {
            for (int i = 0; i < n; i++)
                if (pids[i] > 0) kill(pids[i], SIGTERM);
            forwarded = 1;
        }
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (pids[i] != pid) continue;
            pids[i] = 0;
            alive--;
            if (!forwarded && !main__stop_signal) {
                log_error("main", "worker %d exited (status %d); restarting", (int)pid, st);
                sleep(1);
                pid_t np = fork();
                if (np == 0) {
                    signal(SIGTERM, SIG_DFL);
                    signal(SIGINT, SIG_DFL);
                    _exit(main__serve_loop(cfg, true));
                }
                pids[i] = np;
                alive++;
            } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                status = 1;
            }
        }
    }
    free(pids);
    return status;
}

int main(int argc, char **argv)
{
    const char *cmd = "serve";
    int argi = 1;
    if (argc > 1 && argv[1][0] != '-') cmd = argv[argi++];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            config_print_help(stdout);
            return 0;
        }
    }
    if (strcmp(cmd, "version") == 0) {
        printf("nova-storyteller %s\n", NOVA_VERSION);
        return 0;
    }
    if (strcmp(cmd, "config-doc") == 0) {
        config_print_markdown(stdout);
        return 0;
    }
    config_t cfg;
    char err[512];
    if (config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "nova-storyteller: configuration error: %s\n", err);
        return 2;
    }
    log_level_t level;
    if (log_parse_level(cfg.log_level, &level) != 0) {
        fprintf(stderr,
                "nova-storyteller: configuration error: NOVA_LOG_LEVEL=\"%s\" is not one of "
                "debug, info, warn, error\n",
                cfg.log_level);
        config_free(&cfg);
        return 2;
    }
    log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    /* libuv reads this once, when the threadpool first starts. */
    char tp[16];
    snprintf(tp, sizeof tp, "%lld", (long long)cfg.threadpool_size);
    setenv("UV_THREADPOOL_SIZE", tp, 1);

    int rc;
    if (strcmp(cmd, "serve") == 0) {
        (void)argi;
        rc = cfg.processes > 1 ? main__serve_multi(&cfg) : main__serve_loop(&cfg, false);
    } else if (strcmp(cmd, "migrate") == 0) {
        const char *dir = cfg.sql_dir && *cfg.sql_dir ? cfg.sql_dir : NOVA_DEFAULT_SQL_DIR;
        if (!cfg.database_url || !*cfg.database_url) {
            fprintf(stderr, "nova-storyteller migrate: DATABASE_URL is not set\n");
            rc = 2;
        } else if (db_migrate_run(cfg.database_url, dir, err, sizeof err) != 0) {
            fprintf(stderr, "nova-storyteller migrate: %s\n", err);
            rc = 1;
        } else {
            rc = 0;
        }
    } else if (strcmp(cmd, "createsuperuser") == 0) {
        rc = api_createsuperuser_main(&cfg, argc - argi, argv + argi);
    } else {
        fprintf(stderr, "nova-storyteller: unknown command \"%s\"\n%s", cmd, usage);
        rc = 2;
    }
    config_free(&cfg);
    return rc;
}
