/* bench_converse: N Converse calls through the aws client (signing, queueing, net) against a
 * fake-aws that adds a fixed latency, with at most K in flight. Reports the wall time against the
 * ideal ceil(N/K) * latency, and the event-loop lag seen by a 10 ms repeating timer (how late
 * each tick fires), whose p99 shows whether the client ever blocks the loop.
 *
 *   bench_converse PORT [N=500] [INFLIGHT=100] [LATENCY_MS=200]
 * Output: key=value lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws_bedrock.h"

typedef struct {
    uv_loop_t *loop;
    int done, ok, errors, total;
    uv_timer_t lag;
    uint64_t last;
    double *lags;
    size_t nlags, cap;
    int stop;
} bench_t;

static void lag_cb(uv_timer_t *t)
{
    bench_t *b = t->data;
    uint64_t now = uv_hrtime();
    double late = ((double)(now - b->last) / 1e6) - 10.0;
    b->last = now;
    if (b->nlags < b->cap) b->lags[b->nlags++] = late < 0 ? 0 : late;
}

static void conv_cb(void *arg, const aws_error_t *err, aws_converse_res_t *res)
{
    bench_t *b = arg;
    (void)res;
    b->done++;
    if (err) {
        if (b->errors++ == 0) fprintf(stderr, "bench_converse: %s\n", err->message);
    } else {
        b->ok++;
    }
    if (b->done == b->total) uv_timer_stop(&b->lag);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void set_flag(void *arg)
{
    *(int *)arg = 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_converse PORT [N] [INFLIGHT] [LATENCY_MS]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int n = argc > 2 ? atoi(argv[2]) : 500;
    int k = argc > 3 ? atoi(argv[3]) : 100;
    int lat = argc > 4 ? atoi(argv[4]) : 200;
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_config_t nc;
    net_config_defaults(&nc);
    nc.max_host_connections = k;
    nc.max_cached_connections = k;
    net_client_t *net = net_client_new(&loop, &nc);
    aws_config_t cfg;
    aws_config_defaults(&cfg);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    aws_config_set(&cfg.bedrock_endpoint, url);
    aws_config_set(&cfg.polly_endpoint, url);
    aws_config_set(&cfg.access_key_id, "AKIDFAKE");
    aws_config_set(&cfg.secret_access_key, "SECRET");
    aws_config_set(&cfg.region, "us-east-1");
    cfg.imds_disabled = true;
    cfg.bedrock_max_inflight = k;
    aws_client_t *aws = net ? aws_client_new(&loop, net, &cfg) : NULL;
    if (!aws) {
        fprintf(stderr, "bench_converse: client setup failed\n");
        return 1;
    }
    bench_t b = {.loop = &loop, .total = n, .cap = 100000};
    b.lags = calloc(b.cap, sizeof *b.lags);
    aws_message_t msg = {"user", "Tell a very short story about a lantern, about 40 words.", NULL,
                         0};
    aws_converse_req_t r;
    aws_converse_req_init(&r);
    r.model_id = "us.amazon.nova-2-lite-v1:0";
    r.system = "You are a storyteller.";
    r.messages = &msg;
    r.message_count = 1;
    r.max_tokens = 300;
    uv_timer_init(&loop, &b.lag);
    b.lag.data = &b;
    b.last = uv_hrtime();
    uv_timer_start(&b.lag, lag_cb, 10, 10);
    struct timespec t0_wall;
    clock_gettime(CLOCK_REALTIME, &t0_wall);
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < n; i++)
        if (aws_converse(aws, &r, conv_cb, &b, NULL) != 0) b.done++, b.errors++;
    double submit_ms = (double)(uv_hrtime() - t0) / 1e6;
    while (b.done < n)
        uv_run(&loop, UV_RUN_ONCE);
    double wall = (double)(uv_hrtime() - t0) / 1e9;
    qsort(b.lags, b.nlags, sizeof *b.lags, cmp_d);
    double p50 = b.nlags ? b.lags[b.nlags / 2] : 0;
    double p99 = b.nlags ? b.lags[(size_t)((double)(b.nlags - 1) * 0.99)] : 0;
    double mx = b.nlags ? b.lags[b.nlags - 1] : 0;
    double ideal = ceil((double)n / k) * lat / 1000.0;
    aws_op_counts_t oc;
    aws_client_op_counts(aws, "converse", &oc);
    printf("calls=%d\nok=%d\nerrors=%d\nretries=%llu\ninflight=%d\nlatency_ms=%d\n", n, b.ok,
           b.errors, (unsigned long long)oc.retries, k, lat);
    printf("wall_s=%.3f\nideal_s=%.3f\nwall_over_ideal=%.3f\n", wall, ideal, wall / ideal);
    printf("lag_p50_ms=%.2f\nlag_p99_ms=%.2f\nlag_max_ms=%.2f\nlag_samples=%zu\n", p50, p99, mx,
           b.nlags);
    printf("submit_ms=%.2f\n", submit_ms);
    printf("connections=%llu\n", (unsigned long long)net_client_metrics(net)->connects);
    /* Lets a script line the run up with the server's own timestamps (e.g. fake-aws's log). */
    printf("start_epoch_s=%.6f\n", (double)t0_wall.tv_sec + (double)t0_wall.tv_nsec / 1e9);
    int closed = 0;
    uv_close((uv_handle_t *)&b.lag, NULL);
    aws_client_close(aws, set_flag, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    closed = 0;
    net_client_close(net, set_flag, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    aws_config_free(&cfg);
    free(b.lags);
    return rc == 0 && b.errors == 0 ? 0 : 1;
}
