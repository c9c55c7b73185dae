/* Polly DescribeVoices with a per-language cache (cfg.voices_ttl_s). Answers always arrive from
 * the loop, from the cache or from a GET /v1/voices?LanguageCode=... call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_internal.h"
#include "aws/aws_polly.h"
#include "core/arena.h"
#include "core/json.h"

#define VOICES_CACHE_MAX 16

typedef struct {
    char lang[16];
    int64_t fetched_at;
    aws_voice_t *v;
    size_t n;
} voices_entry_t;

struct aws_voices_cache {
    voices_entry_t e[VOICES_CACHE_MAX];
    size_t count;
};

void aws__voices_free(aws_client_t *c)
{
    if (!c->voices) return;
    for (size_t i = 0; i < c->voices->count; i++)
        free(c->voices->e[i].v);
    free(c->voices);
    c->voices = NULL;
}

static voices_entry_t *cache_find(aws_client_t *c, const char *lang)
{
    if (!c->voices) return NULL;
    for (size_t i = 0; i < c->voices->count; i++)
        if (strcmp(c->voices->e[i].lang, lang) == 0) return &c->voices->e[i];
    return NULL;
}

static void cache_store(aws_client_t *c, const char *lang, aws_voice_t *v, size_t n)
{
    if (!c->voices && !(c->voices = calloc(1, sizeof *c->voices))) {
        free(v);
        return;
    }
    voices_entry_t *e = cache_find(c, lang);
    if (!e) {
        if (c->voices->count == VOICES_CACHE_MAX) {
            /* Evict the oldest entry. */
            size_t old = 0;
            for (size_t i = 1; i < VOICES_CACHE_MAX; i++)
                if (c->voices->e[i].fetched_at < c->voices->e[old].fetched_at) old = i;
            e = &c->voices->e[old];
            free(e->v);
        } else {
            e = &c->voices->e[c->voices->count++];
        }
        snprintf(e->lang, sizeof e->lang, "%s", lang);
    } else {
        free(e->v);
    }
    e->v = v;
    e->n = n;
    e->fetched_at = aws__now_s();
}

typedef struct {
    aws_client_t *c;
    char lang[16];
    aws_voices_cb cb;
    void *arg;
    aws_defer_t d;
    aws_voice_t *v;
    size_t n;
} voices_job_t;

static void job_end(voices_job_t *j)
{
    aws_client_t *c = j->c;
    free(j->v);
    free(j);
    c->jobs--;
    aws__client_maybe_closed(c);
}

static void from_cache(void *arg)
{
    voices_job_t *j = arg;
    voices_entry_t *e = cache_find(j->c, j->lang);
    if (e && !j->c->closing) {
        j->cb(j->arg, NULL, e->v, e->n);
    } else {
        aws_error_t err;
        aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
        j->cb(j->arg, &err, NULL, 0);
    }
    job_end(j);
}

static unsigned engine_bit(const char *s)
{
    if (strcmp(s, "standard") == 0) return AWS_ENGINE_STANDARD;
    if (strcmp(s, "neural") == 0) return AWS_ENGINE_NEURAL;
    if (strcmp(s, "long-form") == 0) return AWS_ENGINE_LONG_FORM;
    if (strcmp(s, "generative") == 0) return AWS_ENGINE_GENERATIVE;
    return 0;
}

static void copy_str(char *dst, size_t cap, yajl_val obj, const char *key)
{
    const char *s = json_get_str(obj, key);
    aws__copy_printable(dst, cap, s ? s : "", s ? strlen(s) : 0);
}

static int voices_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    voices_job_t *j = ud;
    arena_t a;
    arena_init(&a);
    char perr[128];
    yajl_val doc = json_parse(&a, res->body->data ? res->body->data : "", res->body->len, 16, perr,
                              sizeof perr);
    yajl_val list = doc ? json_get(doc, "Voices") : NULL;
    if (!YAJL_IS_ARRAY(list)) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "DescribeVoices answer not understood");
        arena_free(&a);
        return AWS_VALIDATE_FATAL;
    }
    size_t n = list->u.array.len;
    free(j->v);
    j->v = calloc(n ? n : 1, sizeof *j->v);
    j->n = 0;
    if (!j->v) {
        aws__error_set(err, AWS_ERR_INTERNAL, NULL, "out of memory");
        arena_free(&a);
        return AWS_VALIDATE_FATAL;
    }
    for (size_t i = 0; i < n; i++) {
        yajl_val o = list->u.array.values[i];
        aws_voice_t *v = &j->v[j->n];
        copy_str(v->id, sizeof v->id, o, "Id");
        if (!v->id[0]) continue;
        copy_str(v->name, sizeof v->name, o, "Name");
        copy_str(v->gender, sizeof v->gender, o, "Gender");
        copy_str(v->language_code, sizeof v->language_code, o, "LanguageCode");
        copy_str(v->language_name, sizeof v->language_name, o, "LanguageName");
        yajl_val eng = json_get(o, "SupportedEngines");
        for (size_t k = 0; YAJL_IS_ARRAY(eng) && k < eng->u.array.len; k++)
            if (YAJL_IS_STRING(eng->u.array.values[k]))
                v->engines |= engine_bit(YAJL_GET_STRING(eng->u.array.values[k]));
        j->n++;
    }
    arena_free(&a);
    return AWS_VALIDATE_OK;
}

static void voices_finish(void *ud, const aws_error_t *err)
{
    voices_job_t *j = ud;
    if (err) {
        j->cb(j->arg, err, NULL, 0);
    } else {
        j->cb(j->arg, NULL, j->v, j->n);
        cache_store(j->c, j->lang, j->v, j->n);
        j->v = NULL;
    }
    job_end(j);
}

static const aws_call_ops_t voices_ops = {.validate = voices_validate, .finish = voices_finish};

int aws_polly_describe_voices(aws_client_t *c, const char *language, aws_voices_cb cb, void *arg)
{
    if (!c || !cb || (language && strlen(language) >= 16)) return -EINVAL;
    if (c->closing) return -ECANCELED;
    voices_job_t *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    j->c = c;
    j->cb = cb;
    j->arg = arg;
    snprintf(j->lang, sizeof j->lang, "%s", language ? language : "");
    c->jobs++;
    voices_entry_t *e = cache_find(c, j->lang);
    if (e && aws__now_s() - e->fetched_at < c->cfg.voices_ttl_s) {
        aws__defer(c, &j->d, from_cache, j);
        return 0;
    }
    sigv4_pair_t q[1] = {{"LanguageCode", j->lang}};
    aws_call_spec_t spec = {
        .service = AWS_SVC_POLLY,
        .op = AWS_OP_VOICES,
        .method = "GET",
        .path = "/v1/voices",
        .query = q,
        .query_count = j->lang[0] ? 1 : 0,
        .timeout_ms = c->cfg.speech_timeout_ms,
    };
    int rc = aws__call_submit(c, &spec, &voices_ops, j, NULL);
    if (rc) {
        c->jobs--;
        free(j);
    }
    return rc;
}
