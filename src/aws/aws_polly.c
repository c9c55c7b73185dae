/* Polly speech jobs: engine choice per voice, one SynthesizeSpeech call per text span for the PCM
 * (and one for the json speech marks when asked), at most cfg.polly_job_concurrency calls in
 * flight per job, joined in text order. The first failure cancels the rest and is reported. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_internal.h"
#include "aws/aws_polly.h"
#include "core/arena.h"
#include "core/json.h"
#include "core/log.h"

typedef struct speech_task speech_task_t;

typedef struct {
    uint8_t *pcm;
    size_t pcm_len;
    char *marks;
    size_t marks_len;
    bool blank; /* whitespace only: nothing to synthesize */
} chunk_t;

struct speech_task {
    aws_speech_t *job;
    size_t chunk;
    bool marks;
    aws_call_t *call;
    size_t billed;
};

struct aws_speech {
    aws_client_t *c;
    char *text;
    size_t len;
    char voice[32], engine[16];
    char *lang;
    bool marks;
    int rate;
    long timeout_ms;
    aws_span_t *spans;
    size_t nspans;
    chunk_t *chunks;
    speech_task_t **running; /* tasks in flight, for cancellation */
    size_t next_task, tasks_total, inflight, calls, billed;
    bool failed, cancelled, started;
    aws_error_t err;
    aws_speech_cb cb;
    void *arg;
    aws_defer_t d;
};

static void job_pump(aws_speech_t *s);

static void job_free(aws_speech_t *s)
{
    aws_client_t *c = s->c;
    for (size_t i = 0; s->chunks && i < s->nspans; i++) {
        free(s->chunks[i].pcm);
        free(s->chunks[i].marks);
    }
    free(s->chunks);
    free(s->running);
    free(s->spans);
    free(s->text);
    free(s->lang);
    free(s);
    c->jobs--;
    aws__client_maybe_closed(c);
}

/* ---- joining ---- */

static int mark_cmp(const void *a, const void *b)
{
    const aws_speech_mark_t *x = a, *y = b;
    if (x->time_ms != y->time_ms) return x->time_ms < y->time_ms ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (int)x->type - (int)y->type; /* a sentence before its first word */
}

static int parse_marks(aws_speech_t *s, size_t ci, uint32_t t0, aws_speech_mark_t **marks,
                       size_t *n, size_t *cap)
{
    const chunk_t *ch = &s->chunks[ci];
    const aws_span_t *sp = &s->spans[ci];
    const char *p = ch->marks, *end = ch->marks + ch->marks_len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (ll) {
            arena_t a;
            arena_init(&a);
            char perr[64];
            yajl_val o = json_parse(&a, p, ll, 8, perr, sizeof perr);
            const char *type = o ? json_get_str(o, "type") : NULL;
            const char *value = o ? json_get_str(o, "value") : NULL;
            int64_t tm = 0, st = 0, en = 0;
            bool ok = type && value && json_get_int(o, "time", &tm) &&
                      json_get_int(o, "start", &st) && json_get_int(o, "end", &en) && st >= 0 &&
                      en >= st && (size_t)en <= sp->end - sp->start;
            aws_mark_type_t mt = type && strcmp(type, "word") == 0       ? AWS_MARK_WORD
                                 : type && strcmp(type, "sentence") == 0 ? AWS_MARK_SENTENCE
                                                                         : 0;
            if (ok && mt) {
                if (*n == *cap) {
                    size_t nc = *cap ? *cap * 2 : 64;
                    aws_speech_mark_t *nm = realloc(*marks, nc * sizeof *nm);
                    if (!nm) {
                        arena_free(&a);
                        return -ENOMEM;
                    }
                    *marks = nm;
                    *cap = nc;
                }
                aws_speech_mark_t *m = &(*marks)[(*n)++];
                m->type = mt;
                m->time_ms = t0 + (uint32_t)(tm < 0 ? 0 : tm);
                m->start = sp->start + (size_t)st;
                m->end = sp->start + (size_t)en;
                m->value = strdup(value);
                if (!m->value) {
                    (*n)--;
                    arena_free(&a);
                    return -ENOMEM;
                }
            }
            arena_free(&a);
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static void job_deliver_ok(aws_speech_t *s)
{
    aws_speech_res_t r;
    memset(&r, 0, sizeof r);
    size_t total = 0;
    for (size_t i = 0; i < s->nspans; i++)
        total += s->chunks[i].pcm_len;
    r.pcm = malloc(total ? total : 1);
    aws_speech_mark_t *marks = NULL;
    size_t n = 0, cap = 0;
    int rc = r.pcm ? 0 : -ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < s->nspans && !rc; i++) {
        /* The offset of this chunk in the joined audio, from the bytes before it. */
        uint32_t t0 = (uint32_t)((double)off * 1000.0 / (2.0 * s->rate) + 0.5);
        if (s->chunks[i].pcm_len) memcpy(r.pcm + off, s->chunks[i].pcm, s->chunks[i].pcm_len);
        off += s->chunks[i].pcm_len;
        if (s->marks) rc = parse_marks(s, i, t0, &marks, &n, &cap);
    }
    if (rc) {
        aws_error_t err;
        aws__error_set(&err, AWS_ERR_INTERNAL, NULL, "out of memory joining the speech");
        s->cb(s->arg, &err, NULL);
    } else {
        if (n > 1) qsort(marks, n, sizeof *marks, mark_cmp);
        r.pcm_len = total;
        r.sample_rate = s->rate;
        r.marks = marks;
        r.mark_count = n;
        snprintf(r.engine, sizeof r.engine, "%s", s->engine);
        r.chunks = s->nspans;
        r.calls = s->calls;
        r.billed_chars = s->billed;
        r.spans = s->spans;
        s->cb(s->arg, NULL, &r);
    }
    free(r.pcm);
    for (size_t i = 0; i < n; i++)
        free(marks[i].value);
    free(marks);
}

static void job_maybe_done(aws_speech_t *s)
{
    if (s->inflight) return;
    if (s->failed || s->cancelled) {
        if (s->cancelled && !s->failed)
            aws__error_set(&s->err, AWS_ERR_CANCELLED, NULL, "cancelled");
        s->cb(s->arg, &s->err, NULL);
        job_free(s);
        return;
    }
    if (s->next_task < s->tasks_total) return;
    job_deliver_ok(s);
    job_free(s);
}

static void job_fail(aws_speech_t *s, const aws_error_t *err)
{
    if (s->failed) return;
    s->failed = true;
    s->err = *err;
    for (size_t i = 0; i < s->inflight; i++)
        if (s->running[i]->call) aws_call_cancel(s->running[i]->call);
}

/* ---- one SynthesizeSpeech call ---- */

static int task_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    speech_task_t *t = ud;
    chunk_t *ch = &t->job->chunks[t->chunk];
    const char *ct = net_headers_get(res->headers, "Content-Type");
    if (ct && strncmp(ct, "application/json", 16) == 0) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "SynthesizeSpeech answered JSON");
        return AWS_VALIDATE_FATAL;
    }
    const char *billed = net_headers_get(res->headers, "x-amzn-RequestCharacters");
    t->billed = billed ? (size_t)strtoul(billed, NULL, 10) : 0;
    size_t n;
    char *data = buf_steal(res->body, &n);
    if (t->marks) {
        free(ch->marks);
        ch->marks = data;
        ch->marks_len = data ? n : 0;
    } else {
        free(ch->pcm);
        /* PCM is whole 16-bit samples; an odd byte would shift every later chunk. */
        ch->pcm = (uint8_t *)data;
        ch->pcm_len = data ? n & ~(size_t)1 : 0;
    }
    return AWS_VALIDATE_OK;
}

static void task_finish(void *ud, const aws_error_t *err)
{
    speech_task_t *t = ud;
    aws_speech_t *s = t->job;
    for (size_t i = 0; i < s->inflight; i++) {
        if (s->running[i] == t) {
            s->running[i] = s->running[--s->inflight];
            break;
        }
    }
    if (err)
        job_fail(s, err);
    else {
        s->calls++;
        if (!t->marks) s->billed += t->billed;
    }
    free(t);
    job_pump(s);
    job_maybe_done(s);
}

static const aws_call_ops_t task_ops = {.validate = task_validate, .finish = task_finish};

static int task_start(aws_speech_t *s, size_t ci, bool marks)
{
    const aws_span_t *sp = &s->spans[ci];
    yajl_gen g = json_gen_new();
    if (!g) return -ENOMEM;
    char rate[8];
    snprintf(rate, sizeof rate, "%d", s->rate);
    yajl_gen_map_open(g);
    json_kv_str(g, "Engine", s->engine);
    if (s->lang) json_kv_str(g, "LanguageCode", s->lang);
    json_kv_str(g, "OutputFormat", marks ? "json" : "pcm");
    json_kv_str(g, "SampleRate", rate);
    if (marks) {
        json_key(g, "SpeechMarkTypes");
        yajl_gen_array_open(g);
        json_str(g, "sentence");
        json_str(g, "word");
        yajl_gen_array_close(g);
    }
    json_key(g, "Text");
    json_strn(g, s->text + sp->start, sp->end - sp->start);
    json_kv_str(g, "TextType", "text");
    json_kv_str(g, "VoiceId", s->voice);
    yajl_gen_map_close(g);
    char *body;
    size_t len;
    int rc = aws__gen_take(g, &body, &len);
    yajl_gen_free(g);
    if (rc) return rc;
    speech_task_t *t = calloc(1, sizeof *t);
    if (!t) {
        free(body);
        return -ENOMEM;
    }
    t->job = s;
    t->chunk = ci;
    t->marks = marks;
    aws_call_spec_t spec = {
        .service = AWS_SVC_POLLY,
        .op = AWS_OP_SPEECH,
        .method = "POST",
        .path = "/v1/speech",
        .content_type = "application/json",
        .body = body,
        .body_len = len,
        .timeout_ms = s->timeout_ms,
        .max_response = 64u * 1024u * 1024u,
    };
    s->running[s->inflight++] = t;
    rc = aws__call_submit(s->c, &spec, &task_ops, t, &t->call);
    if (rc) {
        s->inflight--;
        free(t);
    }
    return rc;
}

static void job_pump(aws_speech_t *s)
{
    size_t per = s->marks ? 2 : 1;
    while (!s->failed && !s->cancelled && s->next_task < s->tasks_total &&
           s->inflight < (size_t)s->c->cfg.polly_job_concurrency) {
        size_t task = s->next_task++;
        size_t ci = task / per;
        if (s->chunks[ci].blank) continue;
        int rc = task_start(s, ci, per == 2 && task % 2 == 1);
        if (rc) {
            aws_error_t err;
            aws__error_set(&err, rc == -ECANCELED ? AWS_ERR_CANCELLED : AWS_ERR_INTERNAL, NULL,
                           "cannot start SynthesizeSpeech: %s", strerror(-rc));
            job_fail(s, &err);
        }
    }
}

static void job_begin(void *arg)
{
    aws_speech_t *s = arg;
    s->started = true;
    job_pump(s);
    job_maybe_done(s);
}

/* ---- engine choice ---- */

static void on_voices(void *arg, const aws_error_t *err, const aws_voice_t *v, size_t n)
{
    aws_speech_t *s = arg;
    if (s->cancelled || s->c->closing) {
        job_begin(s);
        return;
    }
    const char *engine = NULL;
    if (err) {
        /* The voice list is advisory: fall back to neural, which every current voice but a few
         * legacy ones supports; Polly will say EngineNotSupported otherwise. */
        log_warn(AWS_COMPONENT, "DescribeVoices failed (%s); using the neural engine",
                 err->message);
        engine = "neural";
    } else {
        const aws_voice_t *found = NULL;
        for (size_t i = 0; i < n && !found; i++)
            if (strcmp(v[i].id, s->voice) == 0) found = &v[i];
        if (!found) {
            aws_error_t e;
            aws__error_set(&e, AWS_ERR_VALIDATION, NULL, "unknown Polly voice %s", s->voice);
            job_fail(s, &e);
        } else if (found->engines & AWS_ENGINE_NEURAL) {
            engine = "neural";
        } else if (found->engines & AWS_ENGINE_STANDARD) {
            engine = "standard";
        } else {
            aws_error_t e;
            aws__error_set(&e, AWS_ERR_VALIDATION, NULL,
                           "voice %s supports only the generative/long-form engines: set the "
                           "engine explicitly",
                           s->voice);
            job_fail(s, &e);
        }
    }
    if (engine) snprintf(s->engine, sizeof s->engine, "%s", engine);
    job_begin(s);
}

int aws_polly_speak(aws_client_t *c, const aws_speech_req_t *req, aws_speech_cb cb, void *arg,
                    aws_speech_t **out)
{
    if (!c || !req || !cb || !req->text || !*req->text || !req->voice_id || !*req->voice_id ||
        strlen(req->voice_id) >= 32)
        return -EINVAL;
    int rate = req->sample_rate ? req->sample_rate : 16000;
    if (rate != 8000 && rate != 16000) return -EINVAL;
    const char *engine = req->engine ? req->engine : c->cfg.polly_engine;
    if (engine && (strlen(engine) >= 16 || !*engine)) return -EINVAL;
    if (c->closing) return -ECANCELED;
    aws_speech_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->c = c;
    c->jobs++;
    s->cb = cb;
    s->arg = arg;
    s->rate = rate;
    s->marks = req->marks;
    s->timeout_ms = req->timeout_ms ? req->timeout_ms : c->cfg.speech_timeout_ms;
    snprintf(s->voice, sizeof s->voice, "%s", req->voice_id);
    s->len = strlen(req->text);
    s->text = strdup(req->text);
    s->lang = req->language_code ? strdup(req->language_code) : NULL;
    int rc = -ENOMEM;
    if (s->text && (!req->language_code || s->lang))
        rc = aws_polly_split(s->text, s->len, (size_t)c->cfg.polly_chunk_chars, &s->spans,
                             &s->nspans);
    if (!rc) {
        s->chunks = calloc(s->nspans ? s->nspans : 1, sizeof *s->chunks);
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sizeof *p is right
        s->running = calloc((size_t)c->cfg.polly_job_concurrency, sizeof *s->running);
        if (!s->chunks || !s->running) rc = -ENOMEM;
    }
    if (rc) {
        job_free(s);
        return rc;
    }
    for (size_t i = 0; i < s->nspans; i++) {
        bool blank = true;
        for (size_t k = s->spans[i].start; k < s->spans[i].end && blank; k++)
            blank =
                s->text[k] == ' ' || s->text[k] == '\n' || s->text[k] == '\t' || s->text[k] == '\r';
        s->chunks[i].blank = blank;
    }
    s->tasks_total = s->nspans * (s->marks ? 2 : 1);
    if (out) *out = s;
    if (engine) {
        snprintf(s->engine, sizeof s->engine, "%s", engine);
        aws__defer(c, &s->d, job_begin, s);
        return 0;
    }
    rc = aws_polly_describe_voices(c, NULL, on_voices, s);
    if (rc) {
        if (out) *out = NULL;
        job_free(s);
    }
    return rc;
}

int aws_speech_cancel(aws_speech_t *s)
{
    if (!s || s->cancelled) return -EALREADY;
    s->cancelled = true;
    for (size_t i = 0; i < s->inflight; i++)
        if (s->running[i]->call) aws_call_cancel(s->running[i]->call);
    return 0;
}
