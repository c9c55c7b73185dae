/* provider_openai: the OpenAI-compatible text provider through the registry against the real
 * tools/fake-openai (started with /usr/bin/python3): streamed deltas that add up to the result,
 * the "Title:" line split off, the prompt reaching the server, the API key, and the failures a
 * user can meet: a malformed chunk, a dropped connection, an error event, HTTP errors, a server
 * that is not running, cancellation and close in the middle of a stream. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "providers/registry.h"
#include "test.h"

extern char **environ;

/* ---- the fake server ---- */

#define MAX_FAKES 4
static pid_t fake_pids[MAX_FAKES];
static int nfakes;
static char tmpdir[64];

static void fakes_stop(void)
{
    for (int i = 0; i < nfakes; i++) {
        kill(fake_pids[i], SIGTERM);
        waitpid(fake_pids[i], NULL, 0);
    }
    nfakes = 0;
}

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

/* Starts tools/fake-openai with extra arguments; returns its port. */
static int fake_start(const char *const *extra)
{
    if (access("/usr/bin/python3", X_OK) != 0) TEST_SKIP("no /usr/bin/python3");
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/test_prov_openai.XXXXXX");
        ASSERT(mkdtemp(tmpdir) != NULL);
        atexit(fakes_stop);
    }
    ASSERT(nfakes < MAX_FAKES);
    char script[600], portfile[128];
    snprintf(script, sizeof script, "%s/tools/fake-openai", source_dir());
    snprintf(portfile, sizeof portfile, "%s/port%d", tmpdir, nfakes);
    unlink(portfile);
    char *argv[16] = {"python3", script, "--port-file", portfile, "--chunk-delay-ms", "1"};
    int n = 6;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, "/usr/bin/python3", NULL, NULL, argv, environ), 0);
    fake_pids[nfakes++] = pid;
    for (int waited = 0; waited < 20000; waited += 20) {
        FILE *f = fopen(portfile, "r");
        int port = 0;
        if (f) {
            int ok = fscanf(f, "%d", &port);
            fclose(f);
            if (ok == 1 && port > 0) return port;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    TEST__FAIL("fake-openai did not start");
    return -1;
}

/* Arms a fault for the next request (POST /control), with a blocking exchange: test setup
 * only, while no request of the provider is running. */
static void fake_fault(int port, const char *fault)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char body[128], req[512];
    int bl = snprintf(body, sizeof body, "{\"fault\": \"%s\", \"count\": 1}", fault);
    int rl = snprintf(req, sizeof req,
                      "POST /control HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                      bl, body);
    ASSERT_EQ(write(fd, req, (size_t)rl), rl);
    char resp[1024];
    ssize_t got = read(fd, resp, sizeof resp - 1);
    ASSERT(got > 12);
    resp[got] = '\0';
    ASSERT(strstr(resp, " 200 ") != NULL);
    close(fd);
}

/* A port where nothing listens (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- registry ---- */

static uv_loop_t loop;
static providers_t *reg;
static int in_start;

static void closed_cb(void *arg)
{
    (*(int *)arg)++;
}

static void start_reg(int port, const char *suffix, const char *key)
{
    ASSERT_EQ(uv_loop_init(&loop), 0);
    providers_config_t cfg;
    providers_config_defaults(&cfg);
    cfg.text = "openai";
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, suffix ? suffix : "");
    cfg.openai_base_url = url;
    cfg.openai_model = "fake-model";
    cfg.openai_api_key = key;
    cfg.openai_timeout_ms = 20000;
    char err[200];
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), 0);
    ASSERT_STREQ(prov_text_name(providers_text(reg)), "openai");
    ASSERT_STREQ(prov_text_model(providers_text(reg)), "fake-model");
}

static void stop_reg(void)
{
    int closed = 0;
    providers_close(reg, closed_cb, &closed);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(closed, 1);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

typedef struct {
    int done, status, ndeltas, cancel_after;
    buf_t deltas;
    char title[200], model[64], message[320], finish[32];
    char *text;
    size_t len;
    prov_call_t *call;
} out_t;

static void on_delta(const char *text, size_t len, void *arg)
{
    out_t *o = arg;
    ASSERT(!in_start);
    ASSERT(len > 0);
    ASSERT_EQ(o->done, 0);
    o->ndeltas++;
    ASSERT_EQ(buf_append(&o->deltas, text, len), 0);
    if (o->cancel_after && o->ndeltas == o->cancel_after) ASSERT_EQ(prov_cancel(o->call), 0);
}

static void on_done(int status, const prov_story_result_t *r, void *arg)
{
    out_t *o = arg;
    ASSERT(!in_start);
    o->done++;
    o->status = status;
    snprintf(o->title, sizeof o->title, "%s", r->title);
    snprintf(o->model, sizeof o->model, "%s", r->model);
    snprintf(o->message, sizeof o->message, "%s", r->message);
    snprintf(o->finish, sizeof o->finish, "%s", r->finish_reason);
    ASSERT_STREQ(r->provider, "openai");
    ASSERT(r->plan_json == NULL);
    o->text = strndup(r->text, r->len);
    o->len = r->len;
}

static void out_free(out_t *o)
{
    buf_free(&o->deltas);
    free(o->text);
}

static void start_story(out_t *o, const char *prompt)
{
    memset(o, 0, sizeof *o);
    buf_init(&o->deltas, 1 << 20);
    prov_story_spec_t s;
    prov_story_spec_defaults(&s);
    s.prompt = prompt;
    s.parts = 2;
    in_start = 1;
    ASSERT_EQ(prov_text_write_story(providers_text(reg), &s, on_delta, on_done, o, &o->call), 0);
    in_start = 0;
}

static void write_story(out_t *o, const char *prompt)
{
    start_story(o, prompt);
    while (!o->done && uv_run(&loop, UV_RUN_ONCE))
        ;
    ASSERT_EQ(o->done, 1);
}

/* ---- tests ---- */

static int port_plain, port_titled, port_keyed;

static const char titled_reply[] = "Title: The Fox and the Star\n\nPart 1: The Night Walk\n\n"
                                   "Tilly walked under the stars.\n\nPart 2: Home Again\n\n"
                                   "She went home and slept. The end.";

static void need_fakes(void)
{
    if (!port_plain) {
        port_plain = fake_start(NULL);
        const char *t[] = {"--reply", titled_reply, NULL};
        port_titled = fake_start(t);
        const char *k[] = {"--api-key", "sekrit", NULL};
        port_keyed = fake_start(k);
    }
}

TEST(stream_adds_up_and_carries_the_prompt)
{
    need_fakes();
    start_reg(port_plain, NULL, NULL);
    out_t o;
    write_story(&o, "a fox who finds a lost star");
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_STREQ(o.model, "fake-model");
    ASSERT_STREQ(o.finish, "stop");
    ASSERT(o.ndeltas > 10); /* streamed, not buffered */
    ASSERT_EQ(o.deltas.len, o.len);
    ASSERT_MEMEQ(o.deltas.data, o.text, o.len);
    /* The fake echoes the user message: our prompt reached the server. */
    ASSERT(strstr(o.text, "Once upon a time there was") != NULL);
    ASSERT(strstr(o.text, "a fox who finds a lost star") != NULL);
    ASSERT(strstr(o.text, "The end.") != NULL);
    ASSERT(o.title[0] != '\0');
    ASSERT_EQ(providers_in_flight(reg), 0);
    out_free(&o);
    stop_reg();
}

TEST(title_line_is_split_off)
{
    need_fakes();
    start_reg(port_titled, "/v1/", NULL); /* a base URL that already ends in /v1 */
    out_t o;
    write_story(&o, "a fox");
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_STREQ(o.title, "The Fox and the Star");
    ASSERT(strncmp(o.text, "Part 1: The Night Walk\n", 23) == 0);
    ASSERT(strstr(o.text, "Part 2: Home Again") != NULL);
    ASSERT(strstr(o.text, "Title:") == NULL);
    ASSERT_EQ(o.deltas.len, o.len); /* the title never went out as a delta */
    ASSERT_MEMEQ(o.deltas.data, o.text, o.len);
    out_free(&o);
    stop_reg();
}

TEST(api_key)
{
    need_fakes();
    start_reg(port_keyed, NULL, "sekrit");
    out_t o;
    write_story(&o, "a fox");
    ASSERT_EQ(o.status, PROV_OK);
    out_free(&o);
    stop_reg();
    start_reg(port_keyed, NULL, "wrong");
    write_story(&o, "a fox");
    ASSERT_EQ(o.status, PROV_E_AUTH);
    ASSERT(strstr(o.message, "401") != NULL);
    ASSERT(strstr(o.message, "Incorrect API key") != NULL);
    ASSERT_EQ(o.ndeltas, 0);
    out_free(&o);
    stop_reg();
}

TEST(malformed_chunk)
{
    need_fakes();
    start_reg(port_plain, NULL, NULL);
    fake_fault(port_plain, "malformed");
    out_t o;
    write_story(&o, "a fox who finds a lost star");
    ASSERT_EQ(o.status, PROV_E_BAD_RESPONSE);
    ASSERT(!prov_status_retryable(o.status)); /* the same request would break again */
    ASSERT(strstr(o.message, "bad stream") != NULL);
    /* What arrived before the broken chunk was passed on and is in the result. */
    ASSERT(o.ndeltas > 0);
    ASSERT(o.len > 0 && o.len == o.deltas.len);
    ASSERT(strstr(o.text, "The end.") == NULL);
    out_free(&o);
    /* The next request on the same provider works again. */
    write_story(&o, "a fox");
    ASSERT_EQ(o.status, PROV_OK);
    out_free(&o);
    stop_reg();
}

TEST(dropped_connection)
{
    need_fakes();
    start_reg(port_plain, NULL, NULL);
    fake_fault(port_plain, "drop");
    out_t o;
    write_story(&o, "a fox who finds a lost star");
    ASSERT_EQ(o.status, PROV_E_INTERRUPTED);
    ASSERT(prov_status_retryable(o.status));
    ASSERT(o.ndeltas > 0);
    ASSERT(strstr(o.text, "The end.") == NULL);
    out_free(&o);
    write_story(&o, "a fox");
    ASSERT_EQ(o.status, PROV_OK);
    out_free(&o);
    stop_reg();
}

TEST(error_event_and_http_errors)
{
    need_fakes();
    start_reg(port_plain, NULL, NULL);
    static const struct {
        const char *fault;
        int status;
        const char *words;
    } cases[] = {{"error", PROV_E_UNAVAILABLE, "The server had an error"},
                 {"status=429", PROV_E_THROTTLED, "429"},
                 {"status=500", PROV_E_UNAVAILABLE, "fake failure 500"},
                 {"status=400", PROV_E_INVALID, "400"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_fault(port_plain, cases[i].fault);
        out_t o;
        write_story(&o, "a fox");
        ASSERT_EQ(o.status, cases[i].status);
        ASSERT(strstr(o.message, cases[i].words) != NULL);
        out_free(&o);
    }
    stop_reg();
}

TEST(server_not_running)
{
    start_reg(dead_port(), NULL, NULL);
    out_t o;
    write_story(&o, "a fox");
    ASSERT_EQ(o.status, PROV_E_UNAVAILABLE);
    ASSERT(prov_status_retryable(o.status));
    ASSERT(strlen(o.message) > 10);
    ASSERT_EQ(o.ndeltas, 0);
    out_free(&o);
    stop_reg();
}

TEST(cancel_and_close_mid_stream)
{
    need_fakes();
    start_reg(port_plain, NULL, NULL);
    fake_fault(port_plain, "slow=20");
    out_t o;
    start_story(&o, "a fox who finds a lost star");
    o.cancel_after = 2;
    while (providers_in_flight(reg) && uv_run(&loop, UV_RUN_ONCE))
        ;
    ASSERT_EQ(o.ndeltas, 2);
    ASSERT_EQ(o.done, 0);
    out_free(&o);

    fake_fault(port_plain, "slow=20");
    start_story(&o, "a fox who finds a lost star");
    while (o.ndeltas < 2 && uv_run(&loop, UV_RUN_ONCE))
        ;
    int closed = 0;
    providers_close(reg, closed_cb, &closed);
    ASSERT_EQ(o.done, 0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(o.done, 1);
    ASSERT_EQ(o.status, PROV_E_SHUTDOWN);
    ASSERT_EQ(closed, 1);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    out_free(&o);
}

TEST_MAIN({"stream_adds_up_and_carries_the_prompt", stream_adds_up_and_carries_the_prompt},
          {"title_line_is_split_off", title_line_is_split_off}, {"api_key", api_key},
          {"malformed_chunk", malformed_chunk}, {"dropped_connection", dropped_connection},
          {"error_event_and_http_errors", error_event_and_http_errors},
          {"server_not_running", server_not_running},
          {"cancel_and_close_mid_stream", cancel_and_close_mid_stream})
