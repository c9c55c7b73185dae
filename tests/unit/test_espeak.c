/* Tests for providers/speech_espeak: real synthesis with libespeak-ng (PCM, word and sentence
 * marks with byte offsets), the curated voice list, input limits, FIFO serialisation of
 * concurrent requests, shutdown. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <uv.h>

#include "providers/speech_espeak.h"
#include "test.h"

typedef struct {
    int done;
    int status;
    int order; /* completion rank, 1-based */
    speech_espeak_result_t *res;
} out_t;

static int completions;

static void on_done(int status, speech_espeak_result_t *res, void *arg)
{
    out_t *o = arg;
    o->done++;
    o->status = status;
    o->res = res;
    o->order = ++completions;
    if (status == 0) ASSERT(res != NULL);
    if (status != 0) ASSERT(res == NULL);
}

static uv_loop_t loop;

static void start(const speech_espeak_config_t *cfg)
{
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ASSERT_EQ(speech_espeak_init(&loop, cfg), 0);
    completions = 0;
}

static void stop(void)
{
    speech_espeak_shutdown();
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(speech_espeak_busy(), 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

static double rms(const int16_t *p, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)p[i] * p[i];
    return n ? sqrt(s / (double)n) : 0;
}

TEST(voice_list)
{
    size_t n = 0;
    const speech_espeak_voice_t *v = speech_espeak_voices(&n);
    ASSERT(n >= 10);
    int female = 0, male = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT(v[i].id && *v[i].id && v[i].name && *v[i].name);
        ASSERT(v[i].language && strlen(v[i].language) >= 2);
        ASSERT(!strcmp(v[i].gender, "female") || !strcmp(v[i].gender, "male"));
        female += !strcmp(v[i].gender, "female");
        male += !strcmp(v[i].gender, "male");
        for (size_t k = 0; k < i; k++)
            ASSERT(strcmp(v[i].id, v[k].id) != 0);
        ASSERT(speech_espeak_voice_find(v[i].id) == &v[i]);
    }
    ASSERT(female > 0 && male > 0);
    ASSERT(speech_espeak_voice_find("en-us-f") != NULL);
    ASSERT(speech_espeak_voice_find("Joanna") == NULL);
    ASSERT(speech_espeak_voice_find(NULL) == NULL);
}

TEST(sentence_with_marks)
{
    start(NULL);
    /* Non-ASCII words make sure offsets are bytes, not espeak's character positions. */
    const char *text = "Hello world. Café crème is nice! Second sentence here.";
    out_t o = {0};
    ASSERT_EQ(speech_espeak_synthesize(&loop, text, "en-us-f", 0, on_done, &o), 0);
    ASSERT_EQ(speech_espeak_busy(), 1);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(o.done, 1);
    ASSERT_EQ(o.status, 0);
    speech_espeak_result_t *r = o.res;
    ASSERT_EQ(r->sample_rate, 22050);
    ASSERT(r->nsamples > 22050); /* over a second of speech */
    ASSERT(rms(r->pcm, r->nsamples) > 300);
    uint64_t duration_ms = (uint64_t)r->nsamples * 1000 / 22050;
    printf("  %zu samples (%llu ms), %zu marks\n", r->nsamples, (unsigned long long)duration_ms,
           r->marks.len);

    const char *words[] = {"Hello", "world",  "Café",     "crème", "is",
                           "nice",  "Second", "sentence", "here"};
    const char *sentences[] = {"Hello world.", "Café crème is nice!", "Second sentence here."};
    size_t nw = 0, ns = 0;
    uint32_t last_word_ms = 0;
    for (size_t i = 0; i < r->marks.len; i++) {
        const audio_mark_t *m = &r->marks.items[i];
        if (i) ASSERT(m->time_ms >= r->marks.items[i - 1].time_ms);
        ASSERT(m->end <= strlen(text) && m->start <= m->end);
        ASSERT_EQ(strlen(m->value), m->end - m->start);
        ASSERT_EQ(memcmp(text + m->start, m->value, m->end - m->start), 0);
        if (m->type == AUDIO_MARK_WORD) {
            ASSERT(nw < 9);
            ASSERT_STREQ(m->value, words[nw]);
            /* Word times strictly increase: each word takes time to say. */
            if (nw) ASSERT(m->time_ms > last_word_ms);
            last_word_ms = m->time_ms;
            nw++;
        } else {
            ASSERT(ns < 3);
            ASSERT_STREQ(m->value, sentences[ns]);
            ns++;
        }
    }
    ASSERT_EQ(nw, 9);
    ASSERT_EQ(ns, 3);
    ASSERT(last_word_ms < duration_ms);
    /* Words are spread over the audio, not bunched at the start. */
    ASSERT(last_word_ms > duration_ms / 2);
    speech_espeak_result_free(r);
    stop();
}

TEST(rejects_bad_requests)
{
    speech_espeak_config_t cfg = {.max_chars = 40};
    out_t o = {0};
    ASSERT_EQ(speech_espeak_synthesize(&loop, "hi", "en-us-f", 0, on_done, &o), -ESHUTDOWN);
    start(&cfg);
    ASSERT_EQ(speech_espeak_init(&loop, &cfg), -EALREADY);
    int rc = speech_espeak_synthesize(&loop, "Hello", "xx-nope", 0, on_done, &o);
    ASSERT_EQ(rc, SPEECH_ESPEAK_ERR_VOICE);
    ASSERT(strstr(speech_espeak_strerror(rc), "unknown espeak voice") != NULL);
    /* The limit counts characters: 40 characters in 41 bytes pass, 41 characters do not. */
    char text[128];
    memset(text, 'a', 39);
    memcpy(text + 39, "\xC3\xA9", 3);
    ASSERT_EQ(strlen(text), 41);
    ASSERT_EQ(speech_espeak_synthesize(&loop, text, "en-us-m", 0, on_done, &o), 0);
    memset(text, 'a', 41);
    text[41] = '\0';
    ASSERT_EQ(speech_espeak_synthesize(&loop, text, "en-us-m", 0, on_done, &o),
              SPEECH_ESPEAK_ERR_TOO_LONG);
    ASSERT_EQ(speech_espeak_synthesize(&loop, "bad \xC3(", "en-us-m", 0, on_done, &o),
              SPEECH_ESPEAK_ERR_UTF8);
    ASSERT_EQ(speech_espeak_synthesize(&loop, "  \n", "en-us-m", 0, on_done, &o), -EINVAL);
    ASSERT_EQ(speech_espeak_synthesize(&loop, "Hi", "en-us-m", 20, on_done, &o), -EINVAL);
    ASSERT_EQ(speech_espeak_synthesize(&loop, "Hi", "en-us-m", 1000, on_done, &o), -EINVAL);
    uv_loop_t other;
    ASSERT_EQ(uv_loop_init(&other), 0);
    ASSERT_EQ(speech_espeak_synthesize(&other, "Hi", "en-us-m", 0, on_done, &o), -EINVAL);
    ASSERT_EQ(uv_loop_close(&other), 0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(o.done, 1); /* only the accepted request called back */
    speech_espeak_result_free(o.res);
    stop();
}

TEST(concurrent_requests_are_serialised)
{
    start(NULL);
    out_t o[4] = {{0}};
    const char *voices[4] = {"en-gb-f", "fr-m", "de-f", "en-us-m"};
    const char *texts[4] = {"The first request is a little longer than the others.",
                            "Bonjour tout le monde.", "Guten Abend.", "Last one."};
    /* libuv's pool has four threads: without our queue these would run at the same time. */
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(speech_espeak_synthesize(&loop, texts[i], voices[i], 0, on_done, &o[i]), 0);
    ASSERT_EQ(speech_espeak_busy(), 4);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(o[i].done, 1);
        ASSERT_EQ(o[i].status, 0);
        ASSERT_EQ(o[i].order, i + 1); /* FIFO */
        ASSERT(o[i].res->nsamples > 2205);
        ASSERT(o[i].res->marks.len >= 2);
        speech_espeak_result_free(o[i].res);
    }
    ASSERT_EQ(speech_espeak__max_parallel(), 1);
    stop();
}

TEST(every_voice_speaks)
{
    start(NULL);
    size_t n;
    const speech_espeak_voice_t *v = speech_espeak_voices(&n);
    out_t *o = calloc(n, sizeof *o);
    ASSERT(o != NULL);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(
            speech_espeak_synthesize(&loop, "Hello, one two three.", v[i].id, 0, on_done, &o[i]),
            0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    for (size_t i = 0; i < n; i++) {
        if (o[i].status) printf("  voice %s failed: %d\n", v[i].id, o[i].status);
        ASSERT_EQ(o[i].status, 0);
        ASSERT(o[i].res->nsamples > 4410);
        ASSERT(rms(o[i].res->pcm, o[i].res->nsamples) > 100);
    }
    /* The female and male variants of a language really sound different. */
    int pairs = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (strcmp(v[i].language, v[i + 1].language) || !strcmp(v[i].gender, v[i + 1].gender))
            continue;
        size_t len = o[i].res->nsamples < o[i + 1].res->nsamples ? o[i].res->nsamples
                                                                 : o[i + 1].res->nsamples;
        ASSERT(memcmp(o[i].res->pcm, o[i + 1].res->pcm, len * 2) != 0);
        pairs++;
    }
    ASSERT(pairs >= 5);
    for (size_t i = 0; i < n; i++)
        speech_espeak_result_free(o[i].res);
    free(o);
    stop();
}

TEST(rate_changes_duration)
{
    start(NULL);
    const char *text = "The quick brown fox jumps over the lazy dog near the quiet river bank.";
    out_t slow = {0}, fast = {0};
    ASSERT_EQ(speech_espeak_synthesize(&loop, text, "en-us-m", 120, on_done, &slow), 0);
    ASSERT_EQ(speech_espeak_synthesize(&loop, text, "en-us-m", 300, on_done, &fast), 0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(slow.status, 0);
    ASSERT_EQ(fast.status, 0);
    printf("  120 wpm: %zu samples, 300 wpm: %zu samples\n", slow.res->nsamples,
           fast.res->nsamples);
    ASSERT(fast.res->nsamples * 3 < slow.res->nsamples * 2);
    speech_espeak_result_free(slow.res);
    speech_espeak_result_free(fast.res);
    stop();
}

TEST(shutdown_and_audio_cap)
{
    start(NULL);
    out_t o[3] = {{0}};
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(speech_espeak_synthesize(&loop, "One more story, please.", "en-us-f", 0, on_done,
                                           &o[i]),
                  0);
    speech_espeak_shutdown(); /* the first is already on a worker; the others are queued */
    ASSERT_EQ(o[1].status, -ECANCELED);
    ASSERT_EQ(o[2].status, -ECANCELED);
    ASSERT_EQ(o[0].done, 0);
    ASSERT_EQ(speech_espeak_synthesize(&loop, "Hi", "en-us-f", 0, on_done, &o[1]), -ESHUTDOWN);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(o[0].done, 1);
    ASSERT_EQ(o[0].status, 0);
    speech_espeak_result_free(o[0].res);
    ASSERT_EQ(speech_espeak_busy(), 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);

    /* After a shutdown the module can start again; a one-second cap stops long speech. */
    speech_espeak_config_t cfg = {.max_seconds = 1};
    start(&cfg);
    out_t capped = {0};
    ASSERT_EQ(speech_espeak_synthesize(&loop,
                                       "This sentence is certainly much longer than one second "
                                       "of speech at any normal speaking rate.",
                                       "en-us-f", 0, on_done, &capped),
              0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(capped.status, SPEECH_ESPEAK_ERR_AUDIO);
    stop();
}

TEST_MAIN({"voice_list", voice_list}, {"sentence_with_marks", sentence_with_marks},
          {"rejects_bad_requests", rejects_bad_requests},
          {"concurrent_requests_are_serialised", concurrent_requests_are_serialised},
          {"every_voice_speaks", every_voice_speaks},
          {"rate_changes_duration", rate_changes_duration},
          {"shutdown_and_audio_cap", shutdown_and_audio_cap})
