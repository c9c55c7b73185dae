/* aws client, Polly side: text splitting (pure) and speech jobs through the real net client
 * against the real tools/fake-aws started with /usr/bin/python3: long text becomes several
 * SynthesizeSpeech calls joined in order with speech marks offset to match the joined audio. */
#include "aws/aws_polly.h"
#include "fake_aws_fixture.h"
static void set_flag_timer(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

static void fx_close(fx_t *f)
{
    int aws_closed = 0, net_closed = 0;
    aws_client_close(f->aws, set_flag, &aws_closed);
    fx_run_until(f, &aws_closed, 10000);
    net_client_close(f->net, set_flag, &net_closed);
    fx_run_until(f, &net_closed, 10000);
    uv_close((uv_handle_t *)&f->watchdog, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&f->loop), 0);
    aws_config_free(&f->cfg);
}

static int g_fake;

static void shared_fake(void)
{
    if (!g_fake) g_fake = fake_start("fake", NULL);
    fake_reset(g_fake);
}

/* ---- splitting ---- */

static size_t count_chars(const char *s, size_t a, size_t b)
{
    size_t n = 0;
    for (size_t i = a; i < b; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

static bool is_word_byte(char ch)
{
    return ch != ' ' && ch != '\n' && ch != '\t';
}

static void check_spans(const char *text, size_t max)
{
    aws_span_t *sp;
    size_t n;
    size_t len = strlen(text);
    ASSERT_EQ(aws_polly_split(text, len, max, &sp, &n), 0);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(sp[i].start, pos); /* consecutive, nothing lost */
        ASSERT(sp[i].end > sp[i].start);
        ASSERT(sp[i].chars <= max);
        ASSERT_EQ(sp[i].chars, count_chars(text, sp[i].start, sp[i].end));
        /* Never inside a word (the inputs here have no word longer than max). */
        if (sp[i].end < len)
            ASSERT(!(is_word_byte(text[sp[i].end - 1]) && is_word_byte(text[sp[i].end])));
        pos = sp[i].end;
    }
    ASSERT_EQ(pos, len);
    free(sp);
}

TEST(split_sentences_clauses_words)
{
    check_spans("One. Two! Three? Four.", 10);
    check_spans("A long sentence, with commas, and clauses; then more words without end", 20);
    check_spans("Ünïcödé wörds ärë cöüntéd äs chäräctérs, nöt bytés. Ënd.", 12);
    /* Sentence boundaries win over commas when both fit. */
    aws_span_t *sp;
    size_t n;
    const char *t = "First one, short. Second, also short. Third.";
    ASSERT_EQ(aws_polly_split(t, strlen(t), 30, &sp, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(sp[0].end, strlen("First one, short. "));
    free(sp);
    /* A single word longer than the limit is the only thing ever cut. */
    t = "abcdefghijklmnopqrstuvwxyz";
    ASSERT_EQ(aws_polly_split(t, strlen(t), 10, &sp, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(sp[2].end, 26);
    free(sp);
    ASSERT_EQ(aws_polly_split("x", 1, 0, &sp, &n), -EINVAL);
    ASSERT_EQ(aws_polly_split("", 0, 10, &sp, &n), 0);
    ASSERT_EQ(n, 0);
}

/* A ~9,000-character story from varied sentences. */
static char *make_story(size_t target)
{
    static const char *const parts[] = {
        "Once upon a time, a small fox named Ember lived at the edge of a quiet forest.",
        "Every night she climbed the hill and counted the stars, one by one, until she slept.",
        "The owl told her stories of mountains far away; the rabbit sang about the spring.",
        "Could a lantern in the snow really glow like a tiny moon?",
        "She carried it home carefully, and all the animals came to see the light!",
        "When morning came, the snow had melted and the birds were singing again."};
    buf_t b;
    buf_init(&b, 1 << 20);
    for (size_t i = 0; b.len < target; i++) {
        buf_append_str(&b, parts[i % 6]);
        buf_append_str(&b, (i % 5 == 4) ? "\n\n" : " ");
    }
    return buf_steal(&b, NULL);
}

/* ---- speech ---- */

typedef struct {
    int done;
    bool ok;
    aws_error_t err;
    aws_speech_res_t r;
    uint8_t *pcm;
    aws_speech_mark_t *marks;
} speak_out_t;

static void speak_cb(void *arg, const aws_error_t *err, aws_speech_res_t *res)
{
    speak_out_t *o = arg;
    o->done = 1;
    if (err) {
        o->err = *err;
        return;
    }
    o->ok = true;
    o->r = *res;
    o->pcm = res->pcm;
    res->pcm = NULL;
    /* Marks belong to the library: copy what the test checks. */
    o->marks = calloc(res->mark_count ? res->mark_count : 1, sizeof *o->marks);
    for (size_t i = 0; i < res->mark_count; i++) {
        o->marks[i] = res->marks[i];
        o->marks[i].value = strdup(res->marks[i].value);
    }
}

static void speak_free(speak_out_t *o)
{
    free(o->pcm);
    for (size_t i = 0; o->marks && i < o->r.mark_count; i++)
        free(o->marks[i].value);
    free(o->marks);
}

TEST(long_story_split_joined_with_marks)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    char *story = make_story(9000);
    size_t len = strlen(story);
    ASSERT(len >= 9000);
    speak_out_t o = {0};
    aws_speech_req_t r = {.text = story, .voice_id = "Joanna", .marks = true};
    ASSERT_EQ(aws_polly_speak(f.aws, &r, speak_cb, &o, NULL), 0);
    fx_run_until(&f, &o.done, 60000);
    ASSERT(o.ok);
    ASSERT_STREQ(o.r.engine, "neural"); /* Joanna supports neural */
    ASSERT(o.r.chunks >= 3);
    ASSERT_EQ(o.r.billed_chars, len); /* every character synthesized once */
    ASSERT_EQ(o.r.sample_rate, 16000);
    arena_t a;
    arena_init(&a);
    fake_count(g_fake, "speech"); /* let the log settle */
    yajl_val log = fake_log(&a, g_fake, "speech");
    size_t audio_calls = 0, chars = 0;
    for (size_t i = 0; i < log->u.array.len; i++) {
        yajl_val e = log->u.array.values[i];
        const char *fmt = json_get_str(e, "format");
        int64_t tc = 0, st = 0;
        json_get_int(e, "status", &st);
        ASSERT_EQ(st, 200);
        ASSERT_STREQ(json_get_str(e, "engine"), "neural");
        if (fmt && strcmp(fmt, "pcm") == 0) {
            audio_calls++;
            json_get_int(e, "text_chars", &tc);
            ASSERT(tc <= 3000);
            chars += (size_t)tc;
        }
    }
    ASSERT(audio_calls >= 3);
    ASSERT_EQ(chars, len); /* sum of chunk lengths = input */
    arena_free(&a);
    /* Marks: monotonic in time and text, inside the joined audio, words match the text. */
    double dur_ms = (double)o.r.pcm_len / 2.0 / 16000.0 * 1000.0;
    ASSERT(o.r.mark_count > 1000);
    size_t words = 0, sentences = 0, last_start = 0;
    uint32_t last_time = 0;
    for (size_t i = 0; i < o.r.mark_count; i++) {
        const aws_speech_mark_t *m = &o.marks[i];
        ASSERT(m->time_ms >= last_time);
        ASSERT(m->start >= last_start);
        ASSERT(m->time_ms < dur_ms);
        ASSERT(m->end <= len && m->end > m->start);
        ASSERT_EQ(strlen(m->value), m->end - m->start);
        ASSERT(memcmp(story + m->start, m->value, m->end - m->start) == 0);
        if (m->type == AWS_MARK_WORD)
            words++;
        else
            sentences++;
        last_time = m->time_ms;
        last_start = m->start;
    }
    ASSERT(sentences > 50);
    /* The last word of the story is the last word mark: nothing lost at the seams. */
    ASSERT_STREQ(o.marks[o.r.mark_count - 1].value, "again");
    ASSERT(words > 1500);
    /* Audio: the last word's tone burst really is there (non-silent samples at its time). */
    const aws_speech_mark_t *lw = &o.marks[o.r.mark_count - 1];
    size_t at = (size_t)lw->time_ms * 16 * 2 + 200;
    ASSERT(at + 64 < o.r.pcm_len);
    int loud = 0;
    for (size_t k = 0; k < 64; k += 2) {
        int16_t s = (int16_t)(o.pcm[at + k] | (o.pcm[at + k + 1] << 8));
        if (s > 500 || s < -500) loud++;
    }
    ASSERT(loud > 0);
    speak_free(&o);
    free(story);
    fx_close(&f);
}

typedef struct {
    int done;
    bool ok;
    size_t n;
    unsigned celine, joanna;
} voices_out_t;

static void voices_cb(void *arg, const aws_error_t *err, const aws_voice_t *v, size_t n)
{
    voices_out_t *o = arg;
    o->done = 1;
    o->ok = err == NULL;
    o->n = n;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].id, "Celine") == 0) o->celine = v[i].engines;
        if (strcmp(v[i].id, "Joanna") == 0) o->joanna = v[i].engines;
    }
}

TEST(voices_cached_and_engine_per_voice)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    voices_out_t v = {0};
    ASSERT_EQ(aws_polly_describe_voices(f.aws, "en-US", voices_cb, &v), 0);
    ASSERT(!v.done);
    fx_run_until(&f, &v.done, 10000);
    ASSERT(v.ok && v.n >= 10);
    ASSERT(v.joanna & AWS_ENGINE_NEURAL);
    memset(&v, 0, sizeof v);
    ASSERT_EQ(aws_polly_describe_voices(f.aws, "en-US", voices_cb, &v), 0);
    ASSERT(!v.done); /* cached answers are asynchronous too */
    fx_run_until(&f, &v.done, 10000);
    ASSERT(v.ok);
    ASSERT_EQ(fake_count(g_fake, "voices"), 1);
    /* Celine (fr-FR) supports only the standard engine: chosen from DescribeVoices. */
    speak_out_t o = {0};
    aws_speech_req_t r = {.text = "Bonjour. Une petite histoire.", .voice_id = "Celine"};
    ASSERT_EQ(aws_polly_speak(f.aws, &r, speak_cb, &o, NULL), 0);
    fx_run_until(&f, &o.done, 20000);
    ASSERT(o.ok);
    ASSERT_STREQ(o.r.engine, "standard");
    ASSERT(o.r.pcm_len > 16000); /* more than half a second of audio */
    ASSERT_EQ(o.r.mark_count, 0);
    speak_free(&o);
    /* An explicit engine is used as is; Polly's 400 ThrottlingException is retried. */
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"speech\"},\"action\":\"throttle\",\"times\":1}");
    memset(&o, 0, sizeof o);
    aws_speech_req_t r2 = {.text = "Hello there.", .voice_id = "Ruth", .engine = "generative"};
    ASSERT_EQ(aws_polly_speak(f.aws, &r2, speak_cb, &o, NULL), 0);
    fx_run_until(&f, &o.done, 20000);
    ASSERT(o.ok);
    ASSERT_STREQ(o.r.engine, "generative");
    aws_op_counts_t n;
    ASSERT_EQ(aws_client_op_counts(f.aws, "synthesize_speech", &n), 0);
    ASSERT_EQ(n.throttles, 1);
    ASSERT_EQ(n.retries, 1);
    speak_free(&o);
    /* A Polly error that is not retryable reaches the caller typed. */
    memset(&o, 0, sizeof o);
    aws_speech_req_t r3 = {.text = "Hello.", .voice_id = "Kevin", .engine = "standard"};
    ASSERT_EQ(aws_polly_speak(f.aws, &r3, speak_cb, &o, NULL), 0);
    fx_run_until(&f, &o.done, 20000);
    ASSERT(!o.ok);
    ASSERT_EQ(o.err.code, AWS_ERR_VALIDATION);
    ASSERT_STREQ(o.err.type, "EngineNotSupportedException");
    fx_close(&f);
}

TEST(speech_cancel)
{
    shared_fake();
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":2000}");
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    char *story = make_story(7000);
    speak_out_t o = {0};
    aws_speech_t *s;
    aws_speech_req_t r = {.text = story, .voice_id = "Joanna", .engine = "neural"};
    ASSERT_EQ(aws_polly_speak(f.aws, &r, speak_cb, &o, &s), 0);
    uv_timer_t t;
    uv_timer_init(&f.loop, &t);
    int fired = 0;
    t.data = &fired;
    uv_timer_start(&t, set_flag_timer, 200, 0);
    fx_run_until(&f, &fired, 5000);
    ASSERT_EQ(aws_speech_cancel(s), 0);
    fx_run_until(&f, &o.done, 3000);
    ASSERT_EQ(o.err.code, AWS_ERR_CANCELLED);
    uv_close((uv_handle_t *)&t, NULL);
    free(story);
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":0}");
    fx_close(&f);
}

/* The largest number of the given op's requests the fake was serving at one instant, counting
 * only overlaps longer than 50 ms (a response leaving and the next request arriving on another
 * connection may touch by a millisecond or two). */
static int max_overlap(int port, const char *op, size_t *count)
{
    arena_t a;
    arena_init(&a);
    fake_count(port, op); /* let the log settle */
    yajl_val log = fake_log(&a, port, op);
    size_t n = log->u.array.len;
    int best = 0;
    for (size_t i = 0; i < n; i++) {
        double ti = 0;
        yajl_val e = log->u.array.values[i];
        yajl_val tv = json_get(e, "time");
        ASSERT(tv && YAJL_IS_NUMBER(tv));
        ti = YAJL_GET_DOUBLE(tv);
        /* Requests in flight at ti + 25 ms. */
        double at = ti + 0.025;
        int live = 0;
        for (size_t k = 0; k < n; k++) {
            yajl_val o = log->u.array.values[k];
            double tk = YAJL_GET_DOUBLE(json_get(o, "time"));
            int64_t dur = 0;
            json_get_int(o, "duration_ms", &dur);
            if (tk <= at && at + 0.025 < tk + (double)dur / 1000.0) live++;
        }
        if (live > best) best = live;
    }
    arena_free(&a);
    if (count) *count = n;
    return best;
}

TEST(job_concurrency_bounded)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    f.cfg.polly_job_concurrency = 2;
    f.cfg.polly_chunk_chars = 1000;
    fx_start(&f);
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":300}");
    char *story = make_story(5000);
    speak_out_t o = {0};
    aws_speech_req_t r = {.text = story, .voice_id = "Joanna", .engine = "neural"};
    uint64_t t0 = uv_hrtime();
    ASSERT_EQ(aws_polly_speak(f.aws, &r, speak_cb, &o, NULL), 0);
    fx_run_until(&f, &o.done, 60000);
    long ms = (long)((uv_hrtime() - t0) / 1000000u);
    ASSERT(o.ok);
    ASSERT(o.r.chunks >= 5);
    size_t calls = 0;
    int peak = max_overlap(g_fake, "speech", &calls);
    ASSERT_EQ(calls, o.r.chunks);
    ASSERT_EQ(peak, 2); /* two at a time: never more, and the bound is actually used */
    /* ceil(chunks / 2) waves of 300 ms at least. */
    ASSERT(ms >= (long)((o.r.chunks + 1) / 2) * 300 - 20);
    speak_free(&o);
    free(story);
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":0}");
    fx_close(&f);
}

static void voices_all(fx_t *f, voices_out_t *v)
{
    memset(v, 0, sizeof *v);
    ASSERT_EQ(aws_polly_describe_voices(f->aws, NULL, voices_cb, v), 0);
    fx_run_until(f, &v->done, 20000);
    ASSERT(v->ok);
}

TEST(voices_follow_next_token)
{
    shared_fake();
    /* The whole list in one page, for reference. */
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    voices_out_t ref;
    voices_all(&f, &ref);
    ASSERT(ref.n > 20);
    fx_close(&f);
    /* Seven voices per page: every page is asked for, and the list is the same. */
    fake_reset(g_fake);
    fake_post(g_fake, "/__fake/config", "{\"voices_page_size\":7}");
    fx_cfg(&f, g_fake);
    fx_start(&f);
    voices_out_t v;
    voices_all(&f, &v);
    ASSERT_EQ(v.n, ref.n);
    ASSERT_EQ(v.joanna, ref.joanna);
    ASSERT_EQ(v.celine, ref.celine);
    ASSERT(v.celine != 0 && v.joanna != 0);
    ASSERT_EQ(fake_count(g_fake, "voices"), (ref.n + 6) / 7);
    /* The joined list is what the cache answers later. */
    voices_all(&f, &v);
    ASSERT_EQ(v.n, ref.n);
    ASSERT_EQ(fake_count(g_fake, "voices"), (ref.n + 6) / 7);
    /* A speech job finds a voice that sits on a later page. */
    speak_out_t o = {0};
    aws_speech_req_t r = {.text = "Bonjour.", .voice_id = "Celine"};
    ASSERT_EQ(aws_polly_speak(f.aws, &r, speak_cb, &o, NULL), 0);
    fx_run_until(&f, &o.done, 20000);
    ASSERT(o.ok);
    ASSERT_STREQ(o.r.engine, "standard");
    speak_free(&o);
    fake_post(g_fake, "/__fake/config", "{\"voices_page_size\":0}");
    fx_close(&f);
}

TEST(voices_concurrent_lookups_merged)
{
    shared_fake();
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":200}");
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    voices_out_t us[3], fr;
    memset(us, 0, sizeof us);
    memset(&fr, 0, sizeof fr);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(aws_polly_describe_voices(f.aws, "en-US", voices_cb, &us[i]), 0);
    ASSERT_EQ(aws_polly_describe_voices(f.aws, "fr-FR", voices_cb, &fr), 0);
    for (int i = 0; i < 3; i++)
        ASSERT(!us[i].done); /* never from inside the call */
    for (int i = 0; i < 3; i++) {
        fx_run_until(&f, &us[i].done, 10000);
        ASSERT(us[i].ok);
        ASSERT_EQ(us[i].n, us[0].n);
        ASSERT(us[i].joanna & AWS_ENGINE_NEURAL);
        ASSERT_EQ(us[i].celine, 0);
    }
    fx_run_until(&f, &fr.done, 10000);
    ASSERT(fr.ok && fr.celine == AWS_ENGINE_STANDARD && fr.joanna == 0);
    /* One request per language, not one per caller. */
    arena_t a;
    arena_init(&a);
    fake_count(g_fake, "voices");
    yajl_val log = fake_log(&a, g_fake, "voices");
    ASSERT_EQ(log->u.array.len, 2);
    arena_free(&a);
    /* A failed lookup answers every waiter with the error. */
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":0}");
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"voices\"},\"action\":\"status\",\"status\":403,"
              "\"error\":\"AccessDeniedException\"}");
    voices_out_t e[2];
    memset(e, 0, sizeof e);
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(aws_polly_describe_voices(f.aws, "de-DE", voices_cb, &e[i]), 0);
    for (int i = 0; i < 2; i++) {
        fx_run_until(&f, &e[i].done, 10000);
        ASSERT(!e[i].ok);
    }
    fx_close(&f);
}

TEST_MAIN({"split_sentences_clauses_words", split_sentences_clauses_words},
          {"long_story_split_joined_with_marks", long_story_split_joined_with_marks},
          {"voices_cached_and_engine_per_voice", voices_cached_and_engine_per_voice},
          {"speech_cancel", speech_cancel}, {"job_concurrency_bounded", job_concurrency_bounded},
          {"voices_follow_next_token", voices_follow_next_token},
          {"voices_concurrent_lookups_merged", voices_concurrent_lookups_merged})
