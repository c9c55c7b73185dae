/* bench_mp3: encodes a raw PCM file (mono s16le) with our MP3 encoder (src/audio/mp3), first on
 * one thread, then on two threads each encoding its own copy at the same time, and prints the
 * throughput as seconds of audio per CPU second and per wall second, as key=value lines that
 * tools/bench.d/mp3.sh turns into a table.
 *   bench_mp3 FILE.raw [sample_rate=22050] [bitrate_kbps=48] [repeats=5]
 * The encoded bytes go to a sink that only counts them, so the figures measure encoding, not
 * the disk; the best (lowest) wall and CPU times of `repeats` runs are reported for each case. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio/mp3.h"

typedef struct {
    const int16_t *pcm;
    size_t n;
    int rate;
    mp3_config_t cfg;
    uint64_t bytes;
    int rc;
} job_t;

static int count_append(void *ctx, const void *data, size_t len)
{
    (void)data;
    *(uint64_t *)ctx += len;
    return 0;
}

static int count_patch(void *ctx, uint64_t offset, const void *data, size_t len)
{
    (void)ctx, (void)offset, (void)data, (void)len;
    return 0;
}

static void *encode(void *arg)
{
    job_t *j = arg;
    j->bytes = 0;
    mp3_sink_t sink = {.append = count_append, .patch = count_patch, .ctx = &j->bytes};
    mp3_encoder_t *e;
    j->rc = mp3_encoder_new(&j->cfg, j->rate, "bench", "bench", &sink, &e);
    if (j->rc) return NULL;
    j->rc = mp3_encoder_feed(e, j->pcm, j->n);
    if (j->rc == 0) j->rc = mp3_encoder_finish(e, NULL);
    mp3_encoder_free(e);
    return NULL;
}

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs `threads` encoders at once, each on its own copy of the input; returns wall and CPU
 * seconds (CPU of the whole process, i.e. summed over threads). */
static int run(job_t *jobs, int threads, double *wall, double *cpu)
{
    pthread_t tid[2];
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, encode, &jobs[i]) != 0) return -1;
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    *wall = now(CLOCK_MONOTONIC) - w0;
    *cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    for (int i = 0; i < threads; i++)
        if (jobs[i].rc) return jobs[i].rc;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.raw [sample_rate] [bitrate_kbps] [repeats]\n", argv[0]);
        return 2;
    }
    int rate = argc > 2 ? atoi(argv[2]) : 22050;
    int kbps = argc > 3 ? atoi(argv[3]) : 48;
    int repeats = argc > 4 ? atoi(argv[4]) : 5;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t n = size > 0 ? (size_t)size / 2 : 0;
    /* Two separate copies so that the two threads do not share input cache lines. */
    int16_t *copy[2] = {malloc(n * 2 + 2), malloc(n * 2 + 2)};
    if (!n || !copy[0] || !copy[1] || fread(copy[0], 2, n, f) != n) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    memcpy(copy[1], copy[0], n * 2);
    double audio_s = (double)n / rate;

    job_t jobs[2];
    for (int i = 0; i < 2; i++) {
        jobs[i] = (job_t){.pcm = copy[i], .n = n, .rate = rate};
        mp3_config_default(&jobs[i].cfg);
        jobs[i].cfg.bitrate_kbps = kbps;
    }
    double best_wall[3] = {1e9, 1e9, 1e9}, best_cpu[3] = {1e9, 1e9, 1e9};
    for (int r = 0; r < repeats; r++) {
        for (int threads = 1; threads <= 2; threads++) {
            double wall, cpu;
            int rc = run(jobs, threads, &wall, &cpu);
            if (rc) {
                fprintf(stderr, "encoding failed: %d\n", rc);
                return 1;
            }
            /* Best wall and best CPU time separately: each is the least disturbed sample of its
             * kind on a machine that may be doing other work. */
            if (wall < best_wall[threads]) best_wall[threads] = wall;
            if (cpu < best_cpu[threads]) best_cpu[threads] = cpu;
        }
    }
    printf("audio_seconds=%.3f\n", audio_s);
    printf("mp3_bytes=%llu\n", (unsigned long long)jobs[0].bytes);
    for (int t = 1; t <= 2; t++) {
        printf("threads%d_wall_s=%.4f\n", t, best_wall[t]);
        printf("threads%d_cpu_s=%.4f\n", t, best_cpu[t]);
        printf("threads%d_audio_per_cpu_s=%.1f\n", t, t * audio_s / best_cpu[t]);
        printf("threads%d_audio_per_wall_s=%.1f\n", t, t * audio_s / best_wall[t]);
    }
    printf("scaling_2t_over_1t=%.2f\n", (2 * audio_s / best_wall[2]) / (audio_s / best_wall[1]));
    free(copy[0]);
    free(copy[1]);
    return 0;
}
