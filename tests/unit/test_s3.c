/* S3 client tests. Offline: settings, addressing styles, presigned URL shape, key checks, S3
 * error typing. Online: through the real net and aws clients against s3rver (npm, tests/s3)
 * behind tests/s3/start-s3rver.mjs, which verifies every SigV4 signature and payload hash and
 * adds AbortMultipartUpload / ListMultipartUploads and fault injection. Online tests skip when
 * node or tests/s3/node_modules/s3rver is missing (npm ci --prefix tests/s3). */
#include "aws/aws_internal.h"
#include "aws/s3.h"
#include "aws/s3_internal.h"
#include "core/log.h"
#include "test.h"

#include <fcntl.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define AK     "NOVATESTAKID"
#define SK     "nova-test-secret/with+chars"
#define BUCKET "nova-media"
#define MIB    (1024u * 1024u)

/* ---- the test server ---- */

static pid_t g_pid = -1;
static int g_stdin = -1;
static int g_port;

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

static bool find_node(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(out, cap, "%.*s/node", (int)n, path);
        if (n && access(out, X_OK) == 0) return true;
        path += n + (path[n] == ':');
    }
    return false;
}

static void server_stop(void)
{
    if (g_pid <= 0) return;
    close(g_stdin); /* the wrapper exits when its stdin closes */
    for (int i = 0; i < 500; i++) {
        if (waitpid(g_pid, NULL, WNOHANG) == g_pid) {
            g_pid = -1;
            return;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(g_pid, SIGKILL);
    waitpid(g_pid, NULL, 0);
    g_pid = -1;
}

/* Starts the server once per process; skips the calling test when it cannot run here. */
static void need_server(void)
{
    static bool failed;
    if (g_pid > 0) return;
    if (failed) TEST_SKIP("s3rver unavailable");
    char node[512], probe[1024], script[1024];
    snprintf(probe, sizeof probe, "%s/tests/s3/node_modules/s3rver/package.json", source_dir());
    snprintf(script, sizeof script, "%s/tests/s3/start-s3rver.mjs", source_dir());
    failed = true;
    if (!find_node(node, sizeof node)) TEST_SKIP("node not found");
    if (access(probe, R_OK) != 0) TEST_SKIP("tests/s3/node_modules/s3rver missing");
    int in[2], out[2];
    ASSERT_EQ(pipe(in), 0);
    ASSERT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {node,       script,         "--access-key",
                    AK,         "--secret-key", SK,
                    "--bucket", BUCKET,         "--access-key",
                    "OTHERAK",  "--secret-key", "other",
                    "--bucket", "other-bucket", NULL};
    int rc = posix_spawn(&g_pid, node, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    ASSERT_EQ(rc, 0);
    g_stdin = in[1];
    fcntl(g_stdin, F_SETFD, FD_CLOEXEC);
    atexit(server_stop);
    char line[64] = "";
    size_t got = 0;
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    while (got < sizeof line - 1 && !strchr(line, '\n') && poll(&pfd, 1, 20000) > 0) {
        ssize_t n = read(out[0], line + got, sizeof line - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        line[got] = '\0';
    }
    close(out[0]);
    ASSERT(sscanf(line, "PORT %d", &g_port) == 1);
    failed = false;
}

/* ---- fixture ---- */

typedef struct {
    uv_loop_t loop;
    net_client_t *net;
    aws_client_t *aws;
    s3_client_t *s3;
    aws_config_t acfg;
    s3_config_t cfg;
    char endpoint[64];
    uv_timer_t watchdog;
    int expired;
} fx_t;

static void watchdog_cb(uv_timer_t *t)
{
    ((fx_t *)t->data)->expired = 1;
}

/* Config for the test server (call need_server first) with the given credentials. */
static void fx_cfg(fx_t *f, const char *ak, const char *sk)
{
    memset(f, 0, sizeof *f);
    aws_config_defaults(&f->acfg);
    aws_config_set(&f->acfg.region, "us-east-1");
    aws_config_set(&f->acfg.access_key_id, ak);
    aws_config_set(&f->acfg.secret_access_key, sk);
    f->acfg.imds_disabled = true;
    f->acfg.backoff_base_ms = 5;
    f->acfg.backoff_max_ms = 50;
    s3_config_defaults(&f->cfg);
    snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%d", g_port);
    f->cfg.bucket = BUCKET;
    f->cfg.prefix = "media/";
    f->cfg.endpoint = f->endpoint;
    f->cfg.path_style = true;
}

static void fx_start(fx_t *f)
{
    /* TEST_S3_DEBUG=1 shows the client's retries and their reasons. */
    if (getenv("TEST_S3_DEBUG")) log_set_level(LOG_LEVEL_DEBUG);
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    net_config_t nc;
    net_config_defaults(&nc);
    f->net = net_client_new(&f->loop, &nc);
    ASSERT(f->net);
    f->aws = aws_client_new(&f->loop, f->net, &f->acfg);
    ASSERT(f->aws);
    f->s3 = s3_client_new(f->aws, &f->cfg);
    ASSERT(f->s3);
    uv_timer_init(&f->loop, &f->watchdog);
    f->watchdog.data = f;
}

static void fx_open(fx_t *f)
{
    need_server();
    fx_cfg(f, AK, SK);
    fx_start(f);
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

static void fx_close(fx_t *f)
{
    int s3_closed = 0, aws_closed = 0, net_closed = 0;
    if (f->s3) {
        s3_client_close(f->s3, set_flag, &s3_closed);
        fx_run_until(f, &s3_closed, 20000);
    }
    aws_client_close(f->aws, set_flag, &aws_closed);
    fx_run_until(f, &aws_closed, 10000);
    net_client_close(f->net, set_flag, &net_closed);
    fx_run_until(f, &net_closed, 10000);
    uv_close((uv_handle_t *)&f->watchdog, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&f->loop), 0);
    aws_config_free(&f->acfg);
}

/* ---- synchronous helpers ---- */

typedef struct {
    int done;
    bool failed;
    aws_error_t err;
    s3_object_info_t info;
    buf_t body;
    EVP_MD_CTX *md; /* when set, the body is hashed instead of kept */
    uint64_t bytes;
    int count;
    int stop_after_headers;
} res_t;

static void res_init(res_t *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, 64 * MIB);
}

static void done_cb(void *arg, const aws_error_t *err)
{
    res_t *r = arg;
    r->done = 1;
    if (err) {
        r->failed = true;
        r->err = *err;
    }
}

static void head_cb(void *arg, const s3_object_info_t *info, const aws_error_t *err)
{
    res_t *r = arg;
    if (info) r->info = *info;
    done_cb(arg, err);
}

static int get_headers(void *arg, const s3_object_info_t *info)
{
    res_t *r = arg;
    r->info = *info;
    return r->stop_after_headers;
}

static int get_data(void *arg, const char *data, size_t len)
{
    res_t *r = arg;
    r->bytes += len;
    if (r->md) return EVP_DigestUpdate(r->md, data, len) == 1 ? 0 : 1;
    return buf_append(&r->body, data, len) ? 1 : 0;
}

static void count_cb(void *arg, int count, const aws_error_t *err)
{
    res_t *r = arg;
    r->count = count;
    done_cb(arg, err);
}

/* Writes len bytes of a deterministic pattern to a new temp file; returns the fd and the
 * SHA-256 (hex) of the content. Written in small pieces: the test must not hold it either. */
static int make_file(uint64_t len, uint32_t seed, char hex[65])
{
    char path[] = "/tmp/test_s3.XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    unlink(path);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    static unsigned char chunk[64 * 1024];
    uint32_t x = seed | 1;
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < sizeof chunk ? (size_t)(len - done) : sizeof chunk;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            chunk[i] = (unsigned char)(x >> 24);
        }
        ASSERT_EQ(write(fd, chunk, n), (ssize_t)n);
        EVP_DigestUpdate(md, chunk, n);
        done += n;
    }
    unsigned char dig[32];
    EVP_DigestFinal_ex(md, dig, NULL);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    return fd;
}

static void put_mem(fx_t *f, const char *key, const void *data, size_t len, const char *ctype,
                    res_t *r)
{
    char path[] = "/tmp/test_s3.XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    unlink(path);
    ASSERT_EQ(write(fd, data, len), (ssize_t)len);
    res_init(r);
    ASSERT_EQ(s3_put_file(f->s3, key, fd, len, ctype, done_cb, r, NULL), 0);
    close(fd); /* the client keeps its own duplicate */
    fx_run_until(f, &r->done, 30000);
}

static void get_sync(fx_t *f, const char *key, const char *range, res_t *r)
{
    res_init(r);
    ASSERT_EQ(s3_get(f->s3, key, range, get_headers, get_data, done_cb, r, NULL), 0);
    fx_run_until(f, &r->done, 60000);
}

static void head_sync(fx_t *f, const char *key, res_t *r)
{
    res_init(r);
    ASSERT_EQ(s3_head(f->s3, key, head_cb, r, NULL), 0);
    fx_run_until(f, &r->done, 30000);
}

static void delete_sync(fx_t *f, const char *key, res_t *r)
{
    res_init(r);
    ASSERT_EQ(s3_delete(f->s3, key, done_cb, r, NULL), 0);
    fx_run_until(f, &r->done, 30000);
}

static int count_uploads(fx_t *f)
{
    res_t r;
    res_init(&r);
    ASSERT_EQ(s3_count_uploads(f->s3, NULL, count_cb, &r), 0);
    fx_run_until(f, &r.done, 30000);
    ASSERT(!r.failed);
    return r.count;
}

/* A plain GET through the net client (a browser following a presigned URL). */
typedef struct {
    int done, status;
    long http;
    buf_t body;
    char content_range[96];
} plain_t;

static void plain_done(net_request_t *req, const net_response_t *res, void *arg)
{
    (void)req;
    plain_t *p = arg;
    p->done = 1;
    p->status = res->status;
    p->http = res->http_status;
    buf_append(&p->body, res->body->data, res->body->len);
    const char *cr = net_headers_get(res->headers, "Content-Range");
    snprintf(p->content_range, sizeof p->content_range, "%s", cr ? cr : "");
}

static void plain_get(fx_t *f, const char *url, const char *range, plain_t *p)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->body, 64 * MIB);
    net_request_t *req = net_request_new("GET", url);
    ASSERT(req);
    if (range) ASSERT_EQ(net_request_add_header(req, "Range", range), 0);
    net_request_set_max_response_bytes(req, 64 * MIB);
    ASSERT_EQ(net_request_start(f->net, req, plain_done, p), 0);
    fx_run_until(f, &p->done, 30000);
    ASSERT_EQ(p->status, 0);
}

/* ---- peak allocation ---- */

/* Present under ASan; glibc's mallinfo2 otherwise. Either counts every thread. */
size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static size_t heap_now(void)
{
    if (__sanitizer_get_current_allocated_bytes) return __sanitizer_get_current_allocated_bytes();
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

typedef struct {
    uv_check_t check;
    uv_prepare_t prepare;
    size_t base, peak;
} peak_t;

static void peak_sample(peak_t *p)
{
    size_t n = heap_now();
    if (n > p->peak) p->peak = n;
}

static void peak_check_cb(uv_check_t *h)
{
    peak_sample(h->data);
}

static void peak_prepare_cb(uv_prepare_t *h)
{
    peak_sample(h->data);
}

static void peak_start(fx_t *f, peak_t *p)
{
    p->base = p->peak = heap_now();
    uv_check_init(&f->loop, &p->check);
    uv_prepare_init(&f->loop, &p->prepare);
    p->check.data = p->prepare.data = p;
    uv_check_start(&p->check, peak_check_cb);
    uv_prepare_start(&p->prepare, peak_prepare_cb);
}

static size_t peak_stop(peak_t *p)
{
    peak_sample(p);
    uv_close((uv_handle_t *)&p->check, NULL);
    uv_close((uv_handle_t *)&p->prepare, NULL);
    return p->peak - p->base;
}

/* ================= offline ================= */

TEST(config_and_addressing)
{
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    net_config_t nc;
    net_config_defaults(&nc);
    net_client_t *net = net_client_new(&loop, &nc);
    aws_config_t ac;
    aws_config_defaults(&ac);
    aws_config_set(&ac.region, "eu-west-3");
    aws_config_set(&ac.access_key_id, "AKIDEXAMPLE");
    aws_config_set(&ac.secret_access_key, "secret");
    ac.imds_disabled = true;
    aws_client_t *aws = aws_client_new(&loop, net, &ac);
    ASSERT(aws);
    s3_config_t cfg;
    s3_config_defaults(&cfg);
    ASSERT_EQ(cfg.part_size, 8 * MIB);
    ASSERT_EQ(cfg.multipart_threshold, 16 * MIB);

    /* Bad settings are refused. */
    cfg.bucket = "Bad_Bucket";
    ASSERT(!s3_client_new(aws, &cfg));
    cfg.bucket = "ok-bucket";
    cfg.endpoint = "ftp://x";
    ASSERT(!s3_client_new(aws, &cfg));
    cfg.endpoint = "http://host/base/path";
    ASSERT(!s3_client_new(aws, &cfg));
    cfg.endpoint = NULL;
    cfg.part_size = 4 * MIB;
    ASSERT(!s3_client_new(aws, &cfg));
    cfg.part_size = 8 * MIB;
    cfg.prefix = "a/../";
    ASSERT(!s3_client_new(aws, &cfg));

    struct {
        const char *bucket, *prefix, *endpoint;
        bool path_style;
        const char *want; /* the URL up to the '?' */
    } cases[] = {
        {"ok-bucket", "m/", NULL, false,
         "https://ok-bucket.s3.eu-west-3.amazonaws.com/m/dir%20x/%C3%BC%2B%3D.mp3"},
        {"ok-bucket", NULL, NULL, true,
         "https://s3.eu-west-3.amazonaws.com/ok-bucket/dir%20x/%C3%BC%2B%3D.mp3"},
        /* Dotted buckets do not match the wildcard certificate: path-style over https. */
        {"my.bucket", "", NULL, false,
         "https://s3.eu-west-3.amazonaws.com/my.bucket/dir%20x/%C3%BC%2B%3D.mp3"},
        {"ok-bucket", "p/", "http://LOCALHOST:9000/", true,
         "http://localhost:9000/ok-bucket/p/dir%20x/%C3%BC%2B%3D.mp3"},
        {"ok-bucket", "p/", "https://minio.example:443", false,
         "https://ok-bucket.minio.example/p/dir%20x/%C3%BC%2B%3D.mp3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg.bucket = cases[i].bucket;
        cfg.prefix = cases[i].prefix;
        cfg.endpoint = cases[i].endpoint;
        cfg.path_style = cases[i].path_style;
        s3_client_t *s3 = s3_client_new(aws, &cfg);
        ASSERT(s3);
        char *url = NULL;
        /* Static credentials are ready at once: presigning needs no loop turn. */
        ASSERT_EQ(s3_presign_get(s3, "dir x/ü+=.mp3", 900, &url), 0);
        size_t wl = strlen(cases[i].want);
        if (strncmp(url, cases[i].want, wl) != 0 || url[wl] != '?')
            TEST__FAIL("case %zu: %s does not start with %s?", i, url, cases[i].want);
        ASSERT(strstr(url, "X-Amz-Algorithm=AWS4-HMAC-SHA256"));
        ASSERT(strstr(url, "X-Amz-Credential=AKIDEXAMPLE%2F"));
        ASSERT(strstr(url, "%2Feu-west-3%2Fs3%2Faws4_request"));
        ASSERT(strstr(url, "X-Amz-Expires=900&"));
        /* Signed at the start of a 37-second step (900/24), not at this second. */
        const char *d = strstr(url, "X-Amz-Date=");
        ASSERT(d);
        struct tm tmv = {0};
        ASSERT(strptime(d + 11, "%Y%m%dT%H%M%SZ", &tmv));
        ASSERT_EQ((long long)timegm(&tmv) % 37, 0);
        ASSERT(strstr(url, "X-Amz-SignedHeaders=host&"));
        ASSERT(strstr(url, "X-Amz-Signature="));
        free(url);
        ASSERT_EQ(s3_presign_get(s3, "k", 0, &url), -EINVAL);
        ASSERT_EQ(s3_presign_get(s3, "k", 604801, &url), -EINVAL);
        ASSERT_EQ(s3_presign_get(s3, "a/./b", 60, &url), -EINVAL);
        ASSERT(url == NULL);
        int closed = 0;
        s3_client_close(s3, set_flag, &closed);
        while (!closed)
            uv_run(&loop, UV_RUN_ONCE);
    }

    /* A region learnt later (a profile read after start-up) moves the derived host and the
     * signing scope together; a configured endpoint stays where it is. */
    cfg.bucket = "ok-bucket";
    cfg.prefix = "";
    cfg.endpoint = NULL;
    cfg.path_style = false;
    s3_client_t *derived = s3_client_new(aws, &cfg);
    cfg.endpoint = "http://localhost:9000";
    cfg.path_style = true;
    s3_client_t *fixed = s3_client_new(aws, &cfg);
    ASSERT(derived && fixed);
    ASSERT_EQ(aws__client_set_region(aws, "ap-south-1"), 0);
    char *url = NULL;
    /* Within one step the same key gives the very same URL (a day's URL: hour steps). */
    char *u1 = NULL, *u2 = NULL;
    ASSERT_EQ(s3_presign_get(derived, "k", 86400, &u1), 0);
    ASSERT_EQ(s3_presign_get(derived, "k", 86400, &u2), 0);
    if (strcmp(u1, u2) != 0) { /* an hour began in between: once more */
        free(u1);
        u1 = u2;
        ASSERT_EQ(s3_presign_get(derived, "k", 86400, &u2), 0);
    }
    ASSERT_STREQ(u1, u2);
    ASSERT(strstr(u1, "0000Z&")); /* X-Amz-Date on the hour */
    free(u1);
    free(u2);
    ASSERT_EQ(s3_presign_get(derived, "k", 60, &url), 0);
    if (strncmp(url, "https://ok-bucket.s3.ap-south-1.amazonaws.com/k?", 48) != 0 ||
        !strstr(url, "%2Fap-south-1%2Fs3%2Faws4_request"))
        TEST__FAIL("after the region change: %s", url);
    free(url);
    ASSERT_EQ(s3_presign_get(fixed, "k", 60, &url), 0);
    ASSERT(strncmp(url, "http://localhost:9000/ok-bucket/k?", 34) == 0);
    ASSERT(strstr(url, "%2Fap-south-1%2Fs3%2Faws4_request"));
    free(url);
    int closed_a = 0, closed_b = 0;
    s3_client_close(derived, set_flag, &closed_a);
    s3_client_close(fixed, set_flag, &closed_b);
    while (!closed_a || !closed_b)
        uv_run(&loop, UV_RUN_ONCE);

    int a = 0, n = 0;
    aws_client_close(aws, set_flag, &a);
    while (!a)
        uv_run(&loop, UV_RUN_ONCE);
    net_client_close(net, set_flag, &n);
    while (!n)
        uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    aws_config_free(&ac);
}

TEST(presign_waits_for_credentials)
{
    /* No static credentials and nothing else in the chain resolved yet: -EAGAIN, not a URL
     * signed with nothing. */
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    net_config_t nc;
    net_config_defaults(&nc);
    net_client_t *net = net_client_new(&loop, &nc);
    aws_config_t ac;
    aws_config_defaults(&ac);
    ac.imds_disabled = true;
    aws_client_t *aws = aws_client_new(&loop, net, &ac);
    s3_config_t cfg;
    s3_config_defaults(&cfg);
    cfg.bucket = "ok-bucket";
    s3_client_t *s3 = s3_client_new(aws, &cfg);
    ASSERT(s3);
    char *url = NULL;
    ASSERT_EQ(s3_presign_get(s3, "k", 60, &url), -EAGAIN);
    int s = 0, a = 0, n = 0;
    /* Closing the aws client first must wait for the s3 client (it holds it open). */
    aws_client_close(aws, set_flag, &a);
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_EQ(a, 0);
    s3_client_close(s3, set_flag, &s);
    while (!s || !a)
        uv_run(&loop, UV_RUN_ONCE);
    net_client_close(net, set_flag, &n);
    while (!n)
        uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    aws_config_free(&ac);
}

TEST(key_rules)
{
    ASSERT_EQ(s3_key_check("a/b c/ü.mp3"), 0);
    ASSERT_EQ(s3_key_check("a/.hidden/..x/x.."), 0);
    ASSERT_EQ(s3_key_check("a//b/"), 0);
    ASSERT_EQ(s3_key_check(""), -EINVAL);
    ASSERT_EQ(s3_key_check("."), -EINVAL);
    ASSERT_EQ(s3_key_check("a/../b"), -EINVAL);
    ASSERT_EQ(s3_key_check("a/./b"), -EINVAL);
    ASSERT_EQ(s3_key_check("a/.."), -EINVAL);
    ASSERT_EQ(s3_key_check("tab\there"), -EINVAL);
    ASSERT_EQ(s3_key_check("nl\n"), -EINVAL);
    char big[1100];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(s3_key_check(big), -EINVAL);
    big[1024] = '\0';
    ASSERT_EQ(s3_key_check(big), 0);
}

TEST(error_typing)
{
    static const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
        "<Message>The key &lt;a&amp;b&gt; does not exist</Message>"
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    aws_error_t e;
    s3__error_from_http(&e, 404, NULL, doc, strlen(doc));
    ASSERT_EQ(e.code, AWS_ERR_NOT_FOUND);
    ASSERT_STREQ(e.type, "NoSuchKey");
    ASSERT_STREQ(e.message, "The key <a&b> does not exist");
    ASSERT_STREQ(e.request_id, "4442587FB7D0A2F9");
    struct {
        long status;
        const char *code;
        aws_err_t want;
        int retry;
    } cases[] = {
        {403, "SignatureDoesNotMatch", AWS_ERR_ACCESS_DENIED, 0},
        {403, "InvalidAccessKeyId", AWS_ERR_ACCESS_DENIED, 0},
        {403, "RequestTimeTooSkewed", AWS_ERR_ACCESS_DENIED, 0},
        {400, "ExpiredToken", AWS_ERR_ACCESS_DENIED, 0},
        {503, "SlowDown", AWS_ERR_THROTTLED, 1},
        {500, "InternalError", AWS_ERR_INTERNAL, 1},
        {200, "InternalError", AWS_ERR_INTERNAL, 1}, /* CompleteMultipartUpload's 200 + Error */
        {400, "RequestTimeout", AWS_ERR_TIMEOUT, 1},
        {404, "NoSuchUpload", AWS_ERR_NOT_FOUND, 0},
        {416, "InvalidRange", AWS_ERR_VALIDATION, 0},
        {400, "EntityTooSmall", AWS_ERR_VALIDATION, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "<Error><Code>%s</Code><Message>m</Message></Error>",
                 cases[i].code);
        s3__error_from_http(&e, cases[i].status, NULL, body, strlen(body));
        if (e.code != cases[i].want || (aws__error_retry_class(&e) != 0) != cases[i].retry)
            TEST__FAIL("%s: got %s retry %d", cases[i].code, aws_err_name(e.code),
                       aws__error_retry_class(&e));
    }
    /* HEAD answers carry no body. */
    s3__error_from_http(&e, 404, NULL, NULL, 0);
    ASSERT_EQ(e.code, AWS_ERR_NOT_FOUND);
    s3__error_from_http(&e, 403, NULL, "", 0);
    ASSERT_EQ(e.code, AWS_ERR_ACCESS_DENIED);
    char out[16];
    ASSERT_EQ(s3__xml_text("<A><UploadId>x1</UploadId></A>", 31, "UploadId", out, sizeof out), 2);
    ASSERT_STREQ(out, "x1");
    ASSERT_EQ(s3__xml_text("<UploadId>unterminated", 22, "UploadId", out, sizeof out), -1);
}

/* ================= against s3rver ================= */

TEST(round_trip)
{
    fx_t f;
    fx_open(&f);
    static const char text[] = "Once upon a time, a storyteller kept its media on S3.\n";
    res_t r;
    put_mem(&f, "stories/1/text.txt", text, sizeof text - 1, "text/plain; charset=utf-8", &r);
    ASSERT(!r.failed);

    head_sync(&f, "stories/1/text.txt", &r);
    ASSERT(!r.failed);
    ASSERT_EQ(r.info.content_length, sizeof text - 1);
    ASSERT_EQ(r.info.object_size, sizeof text - 1);
    ASSERT_STREQ(r.info.content_type, "text/plain; charset=utf-8");
    ASSERT(r.info.etag[0] == '"');
    ASSERT(r.info.last_modified[0]);

    get_sync(&f, "stories/1/text.txt", NULL, &r);
    ASSERT(!r.failed);
    ASSERT_EQ(r.info.http_status, 200);
    ASSERT_EQ(r.body.len, sizeof text - 1);
    ASSERT_MEMEQ(r.body.data, text, sizeof text - 1);
    buf_free(&r.body);

    get_sync(&f, "stories/1/text.txt", "bytes=5-8", &r);
    ASSERT(!r.failed);
    ASSERT_EQ(r.info.http_status, 206);
    ASSERT_STREQ(r.info.content_range, "bytes 5-8/54");
    ASSERT_EQ(r.info.object_size, sizeof text - 1);
    ASSERT_EQ(r.body.len, 4);
    ASSERT_MEMEQ(r.body.data, "upon", 4);
    buf_free(&r.body);

    /* The object really is under the prefix (a client without it does not see it). */
    delete_sync(&f, "stories/1/text.txt", &r);
    ASSERT(!r.failed);
    head_sync(&f, "stories/1/text.txt", &r);
    ASSERT(r.failed);
    ASSERT_EQ(r.err.code, AWS_ERR_NOT_FOUND);
    ASSERT_EQ(r.err.http_status, 404);
    get_sync(&f, "stories/1/text.txt", NULL, &r);
    ASSERT(r.failed);
    ASSERT_EQ(r.err.code, AWS_ERR_NOT_FOUND);
    ASSERT_STREQ(r.err.type, "NoSuchKey");
    ASSERT_EQ(r.body.len, 0); /* the error document never reaches on_data */
    buf_free(&r.body);
    /* Deleting again succeeds, as S3 does. */
    delete_sync(&f, "stories/1/text.txt", &r);
    ASSERT(!r.failed);

    /* Empty files are objects too. */
    put_mem(&f, "empty", "", 0, NULL, &r);
    ASSERT(!r.failed);
    head_sync(&f, "empty", &r);
    ASSERT(!r.failed);
    ASSERT_EQ(r.info.content_length, 0);
    ASSERT_STREQ(r.info.content_type, "application/octet-stream");
    delete_sync(&f, "empty", &r);

    s3_op_counts_t oc;
    ASSERT_EQ(s3_client_op_counts(f.s3, "get", &oc), 0);
    ASSERT_EQ(oc.calls, 3);
    ASSERT_EQ(oc.errors, 1);
    ASSERT_EQ(s3_client_op_counts(f.s3, "nope", &oc), -ENOENT);
    buf_t m;
    buf_init(&m, 1 << 20);
    ASSERT_EQ(s3_metrics_write(f.s3, &m), 0);
    ASSERT(strstr(m.data, "nova_s3_calls_total{op=\"put\"} 2\n"));
    ASSERT(strstr(m.data, "nova_s3_errors_total{op=\"head\",type=\"not_found\"} 1\n"));
    buf_free(&m);
    fx_close(&f);
}

TEST(odd_keys)
{
    fx_t f;
    fx_open(&f);
    static const char *const keys[] = {
        "dir with space/file name.txt",
        "unicode/ünïcödé-☃-日本語.txt",
        "reserved/!$&'()*+,;=:@[]~.txt",
        "percent/%41%2F%zz%.txt",
        "query/?a=b&c#frag",
        "dots/.hidden/..x/x..",
        "quote\"back\\tick`caret^brace{}pipe|<>",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *k = keys[i];
        res_t r;
        put_mem(&f, k, k, strlen(k), "application/x-test", &r);
        if (r.failed) TEST__FAIL("put %s: %s %s", k, aws_err_name(r.err.code), r.err.message);
        head_sync(&f, k, &r);
        if (r.failed) TEST__FAIL("head %s: %s", k, aws_err_name(r.err.code));
        ASSERT_EQ(r.info.content_length, strlen(k));
        get_sync(&f, k, NULL, &r);
        if (r.failed) TEST__FAIL("get %s: %s", k, aws_err_name(r.err.code));
        ASSERT_EQ(r.body.len, strlen(k));
        ASSERT_MEMEQ(r.body.data, k, strlen(k));
        buf_free(&r.body);
        char *url = NULL;
        ASSERT_EQ(s3_presign_get(f.s3, k, 300, &url), 0);
        plain_t p;
        plain_get(&f, url, NULL, &p);
        if (p.http != 200) TEST__FAIL("presigned %s: HTTP %ld: %s", k, p.http, p.body.data);
        ASSERT_EQ(p.body.len, strlen(k));
        ASSERT_MEMEQ(p.body.data, k, strlen(k));
        buf_free(&p.body);
        free(url);
        delete_sync(&f, k, &r);
        ASSERT(!r.failed);
        head_sync(&f, k, &r);
        ASSERT_EQ(r.err.code, AWS_ERR_NOT_FOUND);
    }
    /* Keys curl would rewrite after signing are refused up front. */
    ASSERT_EQ(s3_put_file(f.s3, "a/../b", 0, 1, NULL, done_cb, NULL, NULL), -EINVAL);
    ASSERT_EQ(s3_get(f.s3, "./x", NULL, NULL, NULL, done_cb, NULL, NULL), -EINVAL);
    ASSERT_EQ(s3_get(f.s3, "x", "bytes=0-1\r\nX-Evil: 1", NULL, NULL, done_cb, NULL, NULL),
              -EINVAL);
    fx_close(&f);
}

TEST(wrong_credentials_rejected)
{
    need_server();
    /* Put an object with the right key first, so that a wrong key meets a real object. */
    fx_t good;
    fx_open(&good);
    res_t r;
    put_mem(&good, "secret.txt", "classified", 10, "text/plain", &r);
    ASSERT(!r.failed);

    struct {
        const char *ak, *sk, *type;
    } bad[] = {
        {AK, "not-the-secret", "SignatureDoesNotMatch"},
        {"AKUNKNOWN", SK, "InvalidAccessKeyId"},
        {"OTHERAK", SK, "SignatureDoesNotMatch"}, /* a real key id with another's secret */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_t f;
        fx_cfg(&f, bad[i].ak, bad[i].sk);
        fx_start(&f);
        get_sync(&f, "secret.txt", NULL, &r);
        ASSERT(r.failed);
        ASSERT_EQ(r.err.code, AWS_ERR_ACCESS_DENIED);
        ASSERT_EQ(r.err.http_status, 403);
        ASSERT_STREQ(r.err.type, bad[i].type);
        ASSERT_EQ(r.err.attempts, 1); /* access denied is never retried */
        ASSERT_EQ(r.body.len, 0);
        buf_free(&r.body);
        put_mem(&f, "secret.txt", "overwritten", 11, "text/plain", &r);
        ASSERT(r.failed);
        ASSERT_EQ(r.err.code, AWS_ERR_ACCESS_DENIED);
        /* A URL presigned with the wrong secret is refused by the server too. */
        char *url = NULL;
        ASSERT_EQ(s3_presign_get(f.s3, "secret.txt", 60, &url), 0);
        plain_t p;
        plain_get(&f, url, NULL, &p);
        ASSERT_EQ(p.http, 403);
        ASSERT(strstr(p.body.data, bad[i].type));
        buf_free(&p.body);
        free(url);
        fx_close(&f);
    }
    /* The object was not touched. */
    get_sync(&good, "secret.txt", NULL, &r);
    ASSERT(!r.failed);
    ASSERT_EQ(r.body.len, 10);
    ASSERT_MEMEQ(r.body.data, "classified", 10);
    buf_free(&r.body);
    delete_sync(&good, "secret.txt", &r);
    fx_close(&good);
}

TEST(presigned_range)
{
    fx_t f;
    fx_open(&f);
    char hex[65];
    int fd = make_file(300 * 1024, 7, hex);
    res_t r;
    res_init(&r);
    ASSERT_EQ(
        s3_put_file(f.s3, "audio/story 1.mp3", fd, 300 * 1024, "audio/mpeg", done_cb, &r, NULL), 0);
    fx_run_until(&f, &r.done, 30000);
    ASSERT(!r.failed);

    char *url = NULL;
    ASSERT_EQ(s3_presign_get(f.s3, "audio/story 1.mp3", 3600, &url), 0);
    ASSERT(strstr(url, "/nova-media/media/audio/story%201.mp3?"));
    plain_t p;
    plain_get(&f, url, NULL, &p);
    ASSERT_EQ(p.http, 200);
    ASSERT_EQ(p.body.len, 300 * 1024);
    char got[65];
    ASSERT_EQ(sigv4_sha256_hex(p.body.data, p.body.len, got), 0);
    ASSERT_STREQ(got, hex);
    buf_free(&p.body);

    /* Range requests on the presigned URL (what a browser's audio element sends). */
    const struct {
        const char *range, *content_range;
        uint64_t off, len;
    } ranges[] = {
        {"bytes=1000-1999", "bytes 1000-1999/307200", 1000, 1000},
        {"bytes=307000-", "bytes 307000-307199/307200", 307000, 200},
        {"bytes=0-1", "bytes 0-1/307200", 0, 2},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        plain_get(&f, url, ranges[i].range, &p);
        ASSERT_EQ(p.http, 206);
        ASSERT_STREQ(p.content_range, ranges[i].content_range);
        ASSERT_EQ(p.body.len, ranges[i].len);
        char want[1000];
        ASSERT_EQ(pread(fd, want, ranges[i].len, (off_t)ranges[i].off), (ssize_t)ranges[i].len);
        ASSERT_MEMEQ(p.body.data, want, ranges[i].len);
        buf_free(&p.body);
    }

    /* A tampered signature and an expired URL are refused. */
    char *sig = strstr(url, "X-Amz-Signature=") + 16;
    *sig = *sig == 'a' ? 'b' : 'a';
    plain_get(&f, url, NULL, &p);
    ASSERT_EQ(p.http, 403);
    ASSERT(strstr(p.body.data, "SignatureDoesNotMatch"));
    buf_free(&p.body);
    free(url);
    ASSERT_EQ(s3_presign_get(f.s3, "audio/story 1.mp3", 1, &url), 0);
    /* Let the URL expire, waiting on the loop rather than blocking it. */
    f.expired = 0;
    uv_timer_start(&f.watchdog, watchdog_cb, 2100, 0);
    while (!f.expired)
        uv_run(&f.loop, UV_RUN_ONCE);
    plain_get(&f, url, NULL, &p);
    ASSERT_EQ(p.http, 403);
    ASSERT(strstr(p.body.data, "expired"));
    buf_free(&p.body);
    free(url);

    /* An unsatisfiable range is a typed error, not data. */
    get_sync(&f, "audio/story 1.mp3", "bytes=400000-", &r);
    ASSERT(r.failed);
    ASSERT_EQ(r.err.http_status, 416);
    ASSERT_STREQ(r.err.type, "InvalidRange");
    buf_free(&r.body);
    delete_sync(&f, "audio/story 1.mp3", &r);
    close(fd);
    fx_close(&f);
}

static void upload_and_check(fx_t *f, const char *key, uint64_t size, size_t *peak_out)
{
    char hex[65];
    int fd = make_file(size, (uint32_t)size, hex);
    res_t r;
    res_init(&r);
    peak_t pk;
    peak_start(f, &pk);
    uint64_t t0 = uv_hrtime();
    ASSERT_EQ(s3_put_file(f->s3, key, fd, size, "audio/mpeg", done_cb, &r, NULL), 0);
    fx_run_until(f, &r.done, 120000);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    *peak_out = peak_stop(&pk);
    if (r.failed) TEST__FAIL("upload: %s %s", aws_err_name(r.err.code), r.err.message);
    printf("  %s: %.1f MiB uploaded in %.0f ms, peak heap growth %zu KiB\n", key,
           (double)size / MIB, ms, *peak_out / 1024);

    head_sync(f, key, &r);
    if (r.failed) TEST__FAIL("head: %s %s %s", aws_err_name(r.err.code), r.err.type, r.err.message);
    ASSERT_EQ(r.info.content_length, size);
    /* Download streaming into a hash, and compare. */
    res_init(&r);
    r.md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(r.md, EVP_sha256(), NULL);
    ASSERT_EQ(s3_get(f->s3, key, NULL, get_headers, get_data, done_cb, &r, NULL), 0);
    fx_run_until(f, &r.done, 120000);
    ASSERT(!r.failed);
    unsigned char dig[32];
    EVP_DigestFinal_ex(r.md, dig, NULL);
    EVP_MD_CTX_free(r.md);
    char got[65];
    for (int i = 0; i < 32; i++)
        snprintf(got + 2 * i, 3, "%02x", dig[i]);
    ASSERT_EQ(r.bytes, size);
    ASSERT_STREQ(got, hex);
    /* A range across the first part boundary comes back in order. */
    get_sync(f, key, "bytes=8388600-8388615", &r);
    ASSERT(!r.failed);
    ASSERT_EQ(r.body.len, 16);
    char want[16];
    ASSERT_EQ(pread(fd, want, 16, 8388600), 16);
    ASSERT_MEMEQ(r.body.data, want, 16);
    buf_free(&r.body);
    close(fd);
}

TEST(multipart_20mb)
{
    fx_t f;
    fx_open(&f);
    const uint64_t size = 20 * MIB + 12345; /* parts of 8 + 8 + 4 MiB and a bit */
    size_t peak;
    upload_and_check(&f, "big/twenty.mp3", size, &peak);
    s3_op_counts_t oc;
    ASSERT_EQ(s3_client_op_counts(f.s3, "create_multipart", &oc), 0);
    ASSERT_EQ(oc.calls, 1);
    ASSERT_EQ(s3_client_op_counts(f.s3, "put_part", &oc), 0);
    ASSERT_EQ(oc.calls, 3);
    ASSERT_EQ(oc.errors, 0);
    ASSERT_EQ(s3_client_op_counts(f.s3, "complete_multipart", &oc), 0);
    ASSERT_EQ(oc.calls, 1);
    ASSERT_EQ(s3_client_op_counts(f.s3, "put", &oc), 0);
    ASSERT_EQ(oc.calls, 0);
    /* Memory stays bounded: the 20 MiB file and its 8 MiB parts are never in memory. */
    ASSERT(peak < 4 * MIB);
    ASSERT_EQ(count_uploads(&f), 0);

    /* Just under the threshold: one streamed PUT, also without loading the file. */
    upload_and_check(&f, "big/fifteen.mp3", 15 * MIB, &peak);
    ASSERT_EQ(s3_client_op_counts(f.s3, "put", &oc), 0);
    ASSERT_EQ(oc.calls, 1);
    ASSERT(peak < 4 * MIB);
    res_t r;
    delete_sync(&f, "big/twenty.mp3", &r);
    delete_sync(&f, "big/fifteen.mp3", &r);
    fx_close(&f);
}

TEST(multipart_retry_then_success)
{
    fx_t f;
    fx_open(&f);
    /* The server fails part 1 once with a 500: the part is retried and the upload succeeds. */
    size_t peak;
    upload_and_check(&f, "big/flaky-500.bin", 17 * MIB, &peak);
    s3_op_counts_t oc;
    ASSERT_EQ(s3_client_op_counts(f.s3, "put_part", &oc), 0);
    ASSERT_EQ(oc.calls, 3);
    ASSERT_EQ(oc.retries, 1);
    ASSERT_EQ(oc.attempts, 4);
    ASSERT_EQ(oc.errors, 0);
    ASSERT_EQ(count_uploads(&f), 0);
    res_t r;
    delete_sync(&f, "big/flaky-500.bin", &r);
    fx_close(&f);
}

TEST(multipart_failure_aborts)
{
    fx_t f;
    fx_open(&f);
    char hex[65];
    const uint64_t size = 30 * MIB;
    int fd = make_file(size, 3, hex);
    res_t r;
    res_init(&r);
    /* Part 2 always fails with HTTP 500: after max_attempts the upload is aborted. */
    ASSERT_EQ(s3_put_file(f.s3, "big/inject-500.bin", fd, size, NULL, done_cb, &r, NULL), 0);
    fx_run_until(&f, &r.done, 120000);
    ASSERT(r.failed);
    ASSERT_EQ(r.err.code, AWS_ERR_INTERNAL);
    ASSERT_EQ(r.err.http_status, 500);
    ASSERT_STREQ(r.err.type, "InternalError");
    ASSERT_EQ(r.err.attempts, 3);
    s3_op_counts_t oc;
    ASSERT_EQ(s3_client_op_counts(f.s3, "abort_multipart", &oc), 0);
    ASSERT_EQ(oc.calls, 1);
    ASSERT_EQ(oc.errors, 0);
    ASSERT_EQ(s3_client_op_counts(f.s3, "complete_multipart", &oc), 0);
    ASSERT_EQ(oc.calls, 0);
    /* Nothing left behind: no pending upload, no object. */
    ASSERT_EQ(count_uploads(&f), 0);
    head_sync(&f, "big/inject-500.bin", &r);
    ASSERT_EQ(r.err.code, AWS_ERR_NOT_FOUND);
    buf_t m;
    buf_init(&m, 1 << 20);
    ASSERT_EQ(s3_metrics_write(f.s3, &m), 0);
    ASSERT(strstr(m.data, "nova_s3_uploads_aborted_total 1\n"));
    buf_free(&m);

    /* Cancelled once parts are in flight: aborted too, and the callback says cancelled. */
    res_init(&r);
    s3_op_t *op = NULL;
    ASSERT_EQ(s3_client_op_counts(f.s3, "put_part", &oc), 0);
    uint64_t before = oc.attempts;
    ASSERT_EQ(s3_put_file(f.s3, "big/cancelled.bin", fd, size, NULL, done_cb, &r, &op), 0);
    for (int i = 0; i < 100000; i++) {
        ASSERT_EQ(s3_client_op_counts(f.s3, "put_part", &oc), 0);
        if (oc.attempts > before) break;
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    ASSERT_EQ(s3_op_cancel(op), 0);
    ASSERT_EQ(s3_op_cancel(op), -EALREADY);
    ASSERT_EQ(r.done, 0); /* never from inside cancel */
    fx_run_until(&f, &r.done, 60000);
    ASSERT_EQ(r.err.code, AWS_ERR_CANCELLED);
    ASSERT_EQ(count_uploads(&f), 0);
    ASSERT_EQ(s3_client_op_counts(f.s3, "abort_multipart", &oc), 0);
    ASSERT_EQ(oc.calls, 2);

    /* Closing the client mid-upload: cancelled, aborted, and the loop closes cleanly. */
    res_init(&r);
    ASSERT_EQ(s3_client_op_counts(f.s3, "put_part", &oc), 0);
    before = oc.attempts;
    ASSERT_EQ(s3_put_file(f.s3, "big/closed.bin", fd, size, NULL, done_cb, &r, NULL), 0);
    for (int i = 0; i < 100000; i++) {
        ASSERT_EQ(s3_client_op_counts(f.s3, "put_part", &oc), 0);
        if (oc.attempts > before + 2) break;
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    int closed = 0;
    s3_client_close(f.s3, set_flag, &closed);
    ASSERT_EQ(s3_put_file(f.s3, "late", fd, 1, NULL, done_cb, &r, NULL), -ECANCELED);
    fx_run_until(&f, &closed, 30000);
    ASSERT(r.done);
    ASSERT_EQ(r.err.code, AWS_ERR_CANCELLED);
    f.s3 = NULL;
    fx_t g;
    fx_open(&g);
    ASSERT_EQ(count_uploads(&g), 0);
    fx_close(&g);
    close(fd);
    fx_close(&f);
}

TEST_MAIN({"config_and_addressing", config_and_addressing},
          {"presign_waits_for_credentials", presign_waits_for_credentials},
          {"key_rules", key_rules}, {"error_typing", error_typing}, {"round_trip", round_trip},
          {"odd_keys", odd_keys}, {"wrong_credentials_rejected", wrong_credentials_rejected},
          {"presigned_range", presigned_range}, {"multipart_20mb", multipart_20mb},
          {"multipart_retry_then_success", multipart_retry_then_success},
          {"multipart_failure_aborts", multipart_failure_aborts})
