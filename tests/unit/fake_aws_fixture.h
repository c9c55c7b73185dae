/* fake_aws_fixture: shared by the AWS client tests: starts tools/fake-aws (and the credentials
 * server) with /usr/bin/python3, builds a loop + net client + aws client against it, reads the
 * fake's request log, and closes everything. Include once per test file (static functions). */
#ifndef NOVA_TEST_FAKE_AWS_FIXTURE_H
#define NOVA_TEST_FAKE_AWS_FIXTURE_H

#include "aws/aws.h"
#include "net/net.h"
#include "core/arena.h"
#include "core/json.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- processes ---- */

#define MAX_PROCS 8
static pid_t g_pids[MAX_PROCS];
static int g_npids;
static char g_dir[128];

static const char *source_dir(void)
{
    static char dir[512];
    const char *s = getenv("NOVA_SOURCE_DIR");
    if (s && *s) return s;
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *cut = strstr(dir, "/tests/unit/");
    if (cut) *cut = '\0';
    return dir;
}

static void stop_all(void)
{
    for (int i = 0; i < g_npids; i++) {
        kill(g_pids[i], SIGTERM);
        waitpid(g_pids[i], NULL, 0);
    }
    g_npids = 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int wait_port(const char *path)
{
    for (int waited = 0; waited < 20000; waited += 20) {
        FILE *f = fopen(path, "r");
        if (f) {
            int port = 0;
            int n = fscanf(f, "%d", &port);
            fclose(f);
            if (n == 1 && port > 0) return port;
        }
        sleep_ms(20);
    }
    return -1;
}

static void need_python(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) TEST_SKIP("no /usr/bin/python3");
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/test_aws.XXXXXX");
        ASSERT(mkdtemp(g_dir));
        atexit(stop_all);
    }
}

/* Starts a python script with args (NULL-terminated after the script path); returns the port. */
static int spawn_server(const char *script, const char *tag, const char *const *args)
{
    need_python();
    char pf[256];
    snprintf(pf, sizeof pf, "%s/%s.port", g_dir, tag);
    unlink(pf);
    char *argv[32];
    int n = 0;
    argv[n++] = "python3";
    argv[n++] = (char *)script;
    argv[n++] = "--port-file";
    argv[n++] = pf;
    for (int i = 0; args && args[i] && n < 30; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, "/usr/bin/python3", NULL, NULL, argv, environ), 0);
    ASSERT(g_npids < MAX_PROCS);
    g_pids[g_npids++] = pid;
    int port = wait_port(pf);
    ASSERT(port > 0);
    return port;
}

static int fake_start(const char *tag, const char *const *extra)
{
    char script[600];
    snprintf(script, sizeof script, "%s/tools/fake-aws", source_dir());
    const char *args[24] = {"--port", "0", "--access-key", "AKIDFAKE", "--secret-key", "SECRET"};
    int n = 6;
    for (int i = 0; extra && extra[i] && n < 22; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return spawn_server(script, tag, args);
}

/* Blocking HTTP/1.1 exchange with a local server (test setup only, never while the loop runs
 * a request that needs the answer). Returns the body (static buffer) and sets *status. */
static char *http_local(int port, const char *method, const char *path, const char *body,
                        int *status)
{
    static char resp[1 << 20];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char head[512];
    size_t bl = body ? strlen(body) : 0;
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, bl);
    ASSERT(write(fd, head, (size_t)hl) == hl);
    if (bl) ASSERT(write(fd, body, bl) == (ssize_t)bl);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    resp[got] = '\0';
    *status = atoi(resp + 9);
    char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : resp + got;
}

static void fake_post(int port, const char *path, const char *json)
{
    int st;
    http_local(port, "POST", path, json, &st);
    ASSERT_EQ(st, 200);
}

/* fake-aws writes a request's log entry just after sending the response, so the client can see
 * the answer a moment before the entry exists: let stragglers land before clearing the log. */
static void fake_reset(int port)
{
    sleep_ms(50);
    fake_post(port, "/__fake/reset", "{}");
}

/* Request log entries for op; count returned, fields via the arena tree. */
static yajl_val fake_log(arena_t *a, int port, const char *op)
{
    char path[128];
    snprintf(path, sizeof path, "/__fake/requests%s%s", op ? "?op=" : "", op ? op : "");
    int st;
    char *body = http_local(port, "GET", path, NULL, &st);
    ASSERT_EQ(st, 200);
    char err[128];
    yajl_val v = json_parse(a, body, strlen(body), 32, err, sizeof err);
    ASSERT(v && YAJL_IS_ARRAY(v));
    return v;
}

static size_t fake_count_now(int port, const char *op)
{
    arena_t a;
    arena_init(&a);
    size_t n = fake_log(&a, port, op)->u.array.len;
    arena_free(&a);
    return n;
}

/* The count once it has stopped changing (see fake_reset): polls until two reads 100 ms apart
 * agree, for at most 3 s. */
static size_t fake_count(int port, const char *op)
{
    size_t n = fake_count_now(port, op);
    for (int i = 0; i < 30; i++) {
        sleep_ms(100);
        size_t m = fake_count_now(port, op);
        if (m == n && n > 0) break;
        n = m;
    }
    return n;
}

/* ---- loop fixture ---- */

typedef struct {
    uv_loop_t loop;
    net_client_t *net;
    aws_client_t *aws;
    aws_config_t cfg;
    uv_timer_t watchdog;
    int expired;
} fx_t;

static void watchdog_cb(uv_timer_t *t)
{
    ((fx_t *)t->data)->expired = 1;
}

static void fx_cfg(fx_t *f, int port)
{
    memset(f, 0, sizeof *f);
    aws_config_defaults(&f->cfg);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    aws_config_set(&f->cfg.bedrock_endpoint, url);
    aws_config_set(&f->cfg.polly_endpoint, url);
    aws_config_set(&f->cfg.region, "us-east-1");
    aws_config_set(&f->cfg.access_key_id, "AKIDFAKE");
    aws_config_set(&f->cfg.secret_access_key, "SECRET");
    f->cfg.imds_disabled = true;
    f->cfg.backoff_base_ms = 20;
}

static void fx_start(fx_t *f)
{
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    net_config_t nc;
    net_config_defaults(&nc);
    f->net = net_client_new(&f->loop, &nc);
    ASSERT(f->net);
    f->aws = aws_client_new(&f->loop, f->net, &f->cfg);
    ASSERT(f->aws);
    uv_timer_init(&f->loop, &f->watchdog);
    f->watchdog.data = f;
}

static void fx_run_until(fx_t *f, const int *flag, long max_ms)
{
    f->expired = 0;
    uv_timer_start(&f->watchdog, watchdog_cb, (uint64_t)max_ms, 0);
    while (!*flag && !f->expired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->watchdog);
    ASSERT(*flag);
}

static void set_flag(void *arg)
{
    *(int *)arg = 1;
}

#endif
