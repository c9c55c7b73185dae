#include "providers/speech_espeak.h"

#include <espeak-ng/speak_lib.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The curated voices. Ids are public and must never change meaning; espeak names follow the
 * voice files shipped in espeak-ng-data 1.51 ("en" is the British English file). The +f3/+m3
 * variants change pitch and formants for a female or male sound. */
static const speech_espeak_voice_t se__voices[] = {
    {"en-us-f", "English (US), female", "female", "en-US", "en-us+f3"},
    {"en-us-m", "English (US), male", "male", "en-US", "en-us+m3"},
    {"en-gb-f", "English (UK), female", "female", "en-GB", "en+f3"},
    {"en-gb-m", "English (UK), male", "male", "en-GB", "en+m3"},
    {"en-gb-scotland-f", "English (Scotland), female", "female", "en-GB", "en-gb-scotland+f3"},
    {"en-gb-scotland-m", "English (Scotland), male", "male", "en-GB", "en-gb-scotland+m3"},
    {"es-f", "Spanish (Spain), female", "female", "es-ES", "es+f3"},
    {"es-m", "Spanish (Spain), male", "male", "es-ES", "es+m3"},
    {"es-419-f", "Spanish (Latin America), female", "female", "es-419", "es-419+f3"},
    {"es-419-m", "Spanish (Latin America), male", "male", "es-419", "es-419+m3"},
    {"fr-f", "French (France), female", "female", "fr-FR", "fr+f3"},
    {"fr-m", "French (France), male", "male", "fr-FR", "fr+m3"},
    {"de-f", "German, female", "female", "de-DE", "de+f3"},
    {"de-m", "German, male", "male", "de-DE", "de+m3"},
    {"it-f", "Italian, female", "female", "it-IT", "it+f3"},
    {"it-m", "Italian, male", "male", "it-IT", "it+m3"},
    {"pt-br-f", "Portuguese (Brazil), female", "female", "pt-BR", "pt-br+f3"},
    {"pt-br-m", "Portuguese (Brazil), male", "male", "pt-BR", "pt-br+m3"},
    {"nl-f", "Dutch, female", "female", "nl-NL", "nl+f3"},
    {"nl-m", "Dutch, male", "male", "nl-NL", "nl+m3"},
    {"hi-f", "Hindi, female", "female", "hi-IN", "hi+f3"},
    {"hi-m", "Hindi, male", "male", "hi-IN", "hi+m3"},
};

typedef struct se__req {
    uv_work_t work;
    struct se__req *next;
    char *text;
    size_t text_len;
    uint32_t *char_byte; /* byte offset of each character, plus one entry for the end */
    size_t nchars;
    const speech_espeak_voice_t *voice;
    int rate_wpm;
    size_t max_samples;
    speech_espeak_cb cb;
    void *arg;
    int status;
    speech_espeak_result_t *res; /* built by the worker */
    size_t cap;                  /* allocated samples in res->pcm */
    uint32_t last_ms;
} se__req_t;

/* Loop-side state (touched only on the loop thread) and worker-side state (touched only by the
 * single running synthesis; libuv's queue hand-off orders those accesses). */
static struct {
    int initialised;
    int closing;
    uv_loop_t *loop;
    speech_espeak_config_t cfg;
    char *data_path;
    se__req_t *head, *tail; /* waiting requests */
    se__req_t *running;
    /* worker side */
    int engine; /* 0 = not started, 1 = ready, < 0 = failed to start */
    int sample_rate;
    se__req_t *current;
} se;

static atomic_int se__in_worker, se__max_parallel;

const speech_espeak_voice_t *speech_espeak_voices(size_t *count)
{
    if (count) *count = sizeof se__voices / sizeof se__voices[0];
    return se__voices;
}

const speech_espeak_voice_t *speech_espeak_voice_find(const char *id)
{
    if (!id) return NULL;
    for (size_t i = 0; i < sizeof se__voices / sizeof se__voices[0]; i++)
        if (strcmp(se__voices[i].id, id) == 0) return &se__voices[i];
    return NULL;
}

const char *speech_espeak_strerror(int status)
{
    switch (status) {
    case 0:
        return "ok";
    case SPEECH_ESPEAK_ERR_VOICE:
        return "unknown espeak voice id";
    case SPEECH_ESPEAK_ERR_TOO_LONG:
        return "text is longer than the espeak character limit";
    case SPEECH_ESPEAK_ERR_UTF8:
        return "text is not valid UTF-8";
    case SPEECH_ESPEAK_ERR_AUDIO:
        return "speech is longer than the espeak audio limit";
    case SPEECH_ESPEAK_ERR_ENGINE:
        return "the espeak-ng engine failed (is espeak-ng-data installed?)";
    case -ECANCELED:
        return "speech synthesis was cancelled";
    case -ESHUTDOWN:
        return "the espeak provider is not running";
    case -EINVAL:
        return "invalid speech request";
    case -ENOMEM:
        return "out of memory";
    default:
        return "speech synthesis failed";
    }
}

int speech_espeak__max_parallel(void)
{
    return atomic_load(&se__max_parallel);
}

size_t speech_espeak_busy(void)
{
    size_t n = se.running ? 1 : 0;
    for (se__req_t *r = se.head; r; r = r->next)
        n++;
    return n;
}

/* ---- text ---------------------------------------------------------------------------------- */

/* Validates UTF-8 and records the byte offset of every character, because espeak-ng reports
 * positions in characters while our marks use bytes. Returns 0, SPEECH_ESPEAK_ERR_UTF8,
 * SPEECH_ESPEAK_ERR_TOO_LONG or -ENOMEM. */
static int se__index_text(se__req_t *r, size_t max_chars)
{
    const unsigned char *s = (const unsigned char *)r->text;
    size_t n = 0;
    r->char_byte = malloc((r->text_len + 1) * sizeof *r->char_byte);
    if (!r->char_byte) return -ENOMEM;
    for (size_t i = 0; i < r->text_len;) {
        unsigned char c = s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        if (!len || i + len > r->text_len) return SPEECH_ESPEAK_ERR_UTF8;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return SPEECH_ESPEAK_ERR_UTF8;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0)
            return SPEECH_ESPEAK_ERR_UTF8;
        if (n >= max_chars) return SPEECH_ESPEAK_ERR_TOO_LONG;
        r->char_byte[n++] = (uint32_t)i;
        i += len;
    }
    r->char_byte[n] = (uint32_t)r->text_len;
    r->nchars = n;
    return 0;
}

static uint32_t se__byte_at(const se__req_t *r, int char_pos)
{
    if (char_pos < 0) char_pos = 0;
    if ((size_t)char_pos > r->nchars) char_pos = (int)r->nchars;
    return r->char_byte[char_pos];
}

/* ---- worker ---------------------------------------------------------------------------------- */

static int se__push_mark(se__req_t *r, const espeak_EVENT *ev, audio_mark_type_t type)
{
    uint64_t ms = (uint64_t)(ev->sample > 0 ? ev->sample : 0) * 1000 / (uint64_t)se.sample_rate;
    uint32_t t = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    if (t < r->last_ms) t = r->last_ms; /* keep marks in time order */
    r->last_ms = t;
    /* espeak positions are 1-based character indexes. */
    uint32_t start = se__byte_at(r, ev->text_position - 1);
    uint32_t end = type == AUDIO_MARK_WORD ? se__byte_at(r, ev->text_position - 1 + ev->length)
                                           : start; /* sentences get their end afterwards */
    return audio_marks_push(&r->res->marks, t, type, start, end, r->text + start, end - start);
}

static int se__synth_cb(short *wav, int numsamples, espeak_EVENT *events)
{
    se__req_t *r = se.current;
    if (!r || r->status) return 1;
    if (wav && numsamples > 0) {
        speech_espeak_result_t *res = r->res;
        size_t need = res->nsamples + (size_t)numsamples;
        if (need > r->max_samples) {
            r->status = SPEECH_ESPEAK_ERR_AUDIO;
            return 1; /* non-zero aborts the synthesis */
        }
        if (need > r->cap) {
            size_t cap = r->cap ? r->cap : 65536;
            while (cap < need)
                cap *= 2;
            int16_t *pcm = realloc(res->pcm, cap * sizeof *pcm);
            if (!pcm) {
                r->status = -ENOMEM;
                return 1;
            }
            res->pcm = pcm;
            r->cap = cap;
        }
        memcpy(res->pcm + res->nsamples, wav, (size_t)numsamples * sizeof *wav);
        res->nsamples = need;
    }
    for (espeak_EVENT *ev = events; ev && ev->type != espeakEVENT_LIST_TERMINATED; ev++) {
        int rc = 0;
        if (ev->type == espeakEVENT_WORD)
            rc = se__push_mark(r, ev, AUDIO_MARK_WORD);
        else if (ev->type == espeakEVENT_SENTENCE)
            rc = se__push_mark(r, ev, AUDIO_MARK_SENTENCE);
        if (rc) {
            r->status = rc;
            return 1;
        }
    }
    return 0;
}

static int se__is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A sentence runs from its start to the next sentence's start (or the end of the text), minus
 * trailing white space. espeak only reports where sentences begin. */
static int se__finish_sentences(se__req_t *r)
{
    audio_marks_t *m = &r->res->marks;
    for (size_t i = 0; i < m->len; i++) {
        audio_mark_t *mk = &m->items[i];
        if (mk->type != AUDIO_MARK_SENTENCE) continue;
        uint32_t end = (uint32_t)r->text_len;
        for (size_t k = i + 1; k < m->len; k++)
            if (m->items[k].type == AUDIO_MARK_SENTENCE && m->items[k].start >= mk->start) {
                end = m->items[k].start;
                break;
            }
        while (end > mk->start && se__is_space(r->text[end - 1]))
            end--;
        char *v = malloc(end - mk->start + 1);
        if (!v) return -ENOMEM;
        memcpy(v, r->text + mk->start, end - mk->start);
        v[end - mk->start] = '\0';
        free(mk->value);
        mk->value = v;
        mk->end = end;
    }
    return 0;
}

static void se__start_engine(void)
{
    int rate =
        espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, se.data_path, espeakINITIALIZE_DONT_EXIT);
    if (rate <= 0) {
        se.engine = SPEECH_ESPEAK_ERR_ENGINE;
        return;
    }
    se.sample_rate = rate;
    espeak_SetSynthCallback(se__synth_cb);
    se.engine = 1;
}

static void se__synthesize(se__req_t *r)
{
    if (se.engine == 0) se__start_engine();
    if (se.engine < 0) {
        r->status = se.engine;
        return;
    }
    r->res = calloc(1, sizeof *r->res);
    if (!r->res) {
        r->status = -ENOMEM;
        return;
    }
    audio_marks_init(&r->res->marks);
    r->res->sample_rate = se.sample_rate;
    r->max_samples = (size_t)se.cfg.max_seconds * (size_t)se.sample_rate;
    if (espeak_SetVoiceByName(r->voice->espeak_name) != EE_OK) {
        log_error("espeak", "voice %s is missing from espeak-ng-data", r->voice->espeak_name);
        r->status = SPEECH_ESPEAK_ERR_ENGINE;
        return;
    }
    espeak_SetParameter(espeakRATE, r->rate_wpm, 0);
    se.current = r;
    espeak_ERROR err = espeak_Synth(r->text, r->text_len + 1, 0, POS_CHARACTER, 0,
                                    espeakCHARS_UTF8 | espeakENDPAUSE, NULL, NULL);
    se.current = NULL;
    if (r->status == 0 && err != EE_OK) r->status = SPEECH_ESPEAK_ERR_ENGINE;
    if (r->status == 0) r->status = se__finish_sentences(r);
    if (r->status == 0 && r->res->nsamples < r->cap) {
        int16_t *pcm =
            realloc(r->res->pcm, (r->res->nsamples ? r->res->nsamples : 1) * sizeof *pcm);
        if (pcm) r->res->pcm = pcm;
    }
}

static void se__work(uv_work_t *w)
{
    int now = atomic_fetch_add(&se__in_worker, 1) + 1;
    int seen = atomic_load(&se__max_parallel);
    while (now > seen && !atomic_compare_exchange_weak(&se__max_parallel, &seen, now)) {
    }
    se__synthesize(w->data);
    atomic_fetch_sub(&se__in_worker, 1);
}

/* ---- loop side ------------------------------------------------------------------------------- */

static void se__req_free(se__req_t *r)
{
    speech_espeak_result_free(r->res);
    free(r->char_byte);
    free(r->text);
    free(r);
}

static void se__release(void)
{
    free(se.data_path);
    se.data_path = NULL;
    se.initialised = 0;
    se.closing = 0;
    se.loop = NULL;
    /* The engine stays loaded: espeak_Terminate/espeak_Initialize cycles are not needed and
     * re-initialising the same process-wide engine with the same data is pointless. */
}

static void se__after(uv_work_t *w, int status);

static void se__pump(void)
{
    while (!se.running && se.head && !se.closing) {
        se__req_t *r = se.head;
        se.head = r->next;
        if (!se.head) se.tail = NULL;
        r->work.data = r;
        int rc = uv_queue_work(se.loop, &r->work, se__work, se__after);
        if (rc == 0) {
            se.running = r;
            return;
        }
        r->cb(rc, NULL, r->arg);
        se__req_free(r);
    }
}

static void se__after(uv_work_t *w, int status)
{
    se__req_t *r = w->data;
    se.running = NULL;
    int rc = status ? status : r->status;
    speech_espeak_result_t *res = NULL;
    if (rc == 0) {
        res = r->res;
        r->res = NULL; /* ownership goes to the callback */
    } else if (rc != -ECANCELED) {
        log_warn("espeak", "synthesis failed: %s", speech_espeak_strerror(rc));
    }
    r->cb(rc, res, r->arg);
    se__req_free(r);
    if (se.closing && !se.running && !se.head)
        se__release();
    else
        se__pump();
}

int speech_espeak_init(uv_loop_t *loop, const speech_espeak_config_t *cfg)
{
    if (se.initialised) return -EALREADY;
    if (!loop) return -EINVAL;
    speech_espeak_config_t c = cfg ? *cfg : (speech_espeak_config_t){0};
    if (!c.max_chars) c.max_chars = SPEECH_ESPEAK_DEFAULT_MAX_CHARS;
    if (!c.max_seconds) c.max_seconds = SPEECH_ESPEAK_DEFAULT_MAX_SECONDS;
    if (!c.default_rate_wpm) c.default_rate_wpm = SPEECH_ESPEAK_DEFAULT_RATE_WPM;
    if (c.default_rate_wpm < SPEECH_ESPEAK_MIN_RATE_WPM ||
        c.default_rate_wpm > SPEECH_ESPEAK_MAX_RATE_WPM || c.max_chars > 1000000 ||
        c.max_seconds > 86400)
        return -EINVAL;
    /* The engine reads data_path only when it first starts. */
    char *path = NULL;
    if (c.data_path && !(path = strdup(c.data_path))) return -ENOMEM;
    free(se.data_path);
    se.data_path = path;
    c.data_path = path;
    se.cfg = c;
    se.loop = loop;
    se.initialised = 1;
    se.closing = 0;
    return 0;
}

void speech_espeak_shutdown(void)
{
    if (!se.initialised || se.closing) return;
    se.closing = 1;
    se__req_t *r = se.head;
    se.head = se.tail = NULL;
    while (r) {
        se__req_t *next = r->next;
        r->cb(-ECANCELED, NULL, r->arg);
        se__req_free(r);
        r = next;
    }
    if (!se.running) se__release();
}

int speech_espeak_synthesize(uv_loop_t *loop, const char *text, const char *voice_id, int rate_wpm,
                             speech_espeak_cb cb, void *arg)
{
    if (!se.initialised || se.closing) return -ESHUTDOWN;
    if (loop != se.loop || !text || !cb) return -EINVAL;
    const speech_espeak_voice_t *voice = speech_espeak_voice_find(voice_id);
    if (!voice) return SPEECH_ESPEAK_ERR_VOICE;
    if (rate_wpm == 0) rate_wpm = se.cfg.default_rate_wpm;
    if (rate_wpm < SPEECH_ESPEAK_MIN_RATE_WPM || rate_wpm > SPEECH_ESPEAK_MAX_RATE_WPM)
        return -EINVAL;
    size_t len = strlen(text);
    /* Quick bound before copying: every character takes at least one byte. */
    if (len / 4 > se.cfg.max_chars) return SPEECH_ESPEAK_ERR_TOO_LONG;
    int blank = 1;
    for (size_t i = 0; i < len && blank; i++)
        blank = se__is_space(text[i]);
    if (blank) return -EINVAL;
    se__req_t *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->text = malloc(len + 1);
    if (!r->text) {
        free(r);
        return -ENOMEM;
    }
    memcpy(r->text, text, len + 1);
    r->text_len = len;
    int rc = se__index_text(r, se.cfg.max_chars);
    if (rc) {
        se__req_free(r);
        return rc;
    }
    r->voice = voice;
    r->rate_wpm = rate_wpm;
    r->cb = cb;
    r->arg = arg;
    if (se.tail)
        se.tail->next = r;
    else
        se.head = r;
    se.tail = r;
    se__pump();
    return 0;
}

void speech_espeak_result_free(speech_espeak_result_t *res)
{
    if (!res) return;
    free(res->pcm);
    audio_marks_free(&res->marks);
    free(res);
}
