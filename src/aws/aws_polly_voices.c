/* Polly DescribeVoices with a per-language cache (cfg.voices_ttl_s). Answers always arrive from
 * the loop, from the cache or from GET /v1/voices?LanguageCode=... calls: one call per page
 * (Polly may answer a NextToken), and at most one lookup per language in flight; callers who ask
 * while it runs wait for its answer instead of starting their own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_internal.h"
#include "aws/aws_polly.h"
#include "core/arena.h"
#include "core/json.h"

#define VOICES_CACHE_MAX 16
/* A service that keeps answering NextToken (or repeats one) must not loop forever. */
#define VOICES_MAX_PAGES 100
/* Polly has a few hundred voices; more is a confused answer, not a bigger list. */
#define VOICES_MAX 4096

typedef struct {
    char lang[16];
    int64_t fetched_at;
    aws_voice_t *v;
    size_t n;
} voices_entry_t;

typedef struct voices_fetch voices_fetch_t;

struct aws_voices_cache {
    voices_entry_t e[VOICES_CACHE_MAX];
    size_t count;
    voices_fetch_t *fetching; /* lookups in flight, at most one per language */
};

void aws__voices_free(aws_client_t *c)
{
    /* Called when the client is freed, after every lookup ended (each one holds a job). */
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

static aws_voices_cache_t *cache_get(aws_client_t *c)
{
    if (!c->voices) c->voices = calloc(1, sizeof *c->voices);
    return c->voices;
}

/* Takes ownership of v. */
static void cache_store(aws_client_t *c, const char *lang, aws_voice_t *v, size_t n)
{
    if (!cache_get(c)) {
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

/* A caller waiting for an answer; each one holds a client job until it is answered. */
typedef struct voices_waiter voices_waiter_t;
struct voices_waiter {
    voices_waiter_t *next;
    aws_client_t *c;
    char lang[16];
    aws_voices_cb cb;
    void *arg;
    aws_defer_t d;
};

/* One lookup of one language: its pages accumulate in v until a page has no NextToken. */
struct voices_fetch {
    voices_fetch_t *next;
    aws_client_t *c;
    char lang[16];
    voices_waiter_t *waiters, **tail;
    aws_voice_t *v;
    size_t n, cap;
    char *next_token; /* from the last page; NULL = that was the last one */
    int pages;
};

static void waiter_end(voices_waiter_t *w)
{
    aws_client_t *c = w->c;
    free(w);
    c->jobs--;
    aws__client_maybe_closed(c);
}

static void from_cache(void *arg)
{
    voices_waiter_t *w = arg;
    voices_entry_t *e = cache_find(w->c, w->lang);
    if (e && !w->c->closing) {
        w->cb(w->arg, NULL, e->v, e->n);
    } else {
        aws_error_t err;
        aws__error_set(&err, AWS_ERR_CANCELLED, NULL, "cancelled");
        w->cb(w->arg, &err, NULL, 0);
    }
    waiter_end(w);
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

/* Appends one page's voices to f->v and remembers its NextToken. */
static int voices_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    voices_fetch_t *f = ud;
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
    if (n > VOICES_MAX - f->n) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "DescribeVoices listed over %d voices",
                       VOICES_MAX);
        arena_free(&a);
        return AWS_VALIDATE_FATAL;
    }
    if (f->n + n > f->cap || !f->v) {
        size_t cap = f->n + n ? f->n + n : 1;
        aws_voice_t *nv = realloc(f->v, cap * sizeof *nv);
        if (!nv) {
            aws__error_set(err, AWS_ERR_INTERNAL, NULL, "out of memory");
            arena_free(&a);
            return AWS_VALIDATE_FATAL;
        }
        f->v = nv;
        f->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        yajl_val o = list->u.array.values[i];
        aws_voice_t *v = &f->v[f->n];
        memset(v, 0, sizeof *v);
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
        f->n++;
    }
    free(f->next_token);
    f->next_token = NULL;
    const char *tok = json_get_str(doc, "NextToken");
    if (tok && *tok && !(f->next_token = strdup(tok))) {
        aws__error_set(err, AWS_ERR_INTERNAL, NULL, "out of memory");
        arena_free(&a);
        return AWS_VALIDATE_FATAL;
    }
    f->pages++;
    arena_free(&a);
    return AWS_VALIDATE_OK;
}

/* Answers every waiter (err NULL: with the collected list), then ends the lookup. */
static void fetch_end(voices_fetch_t *f, const aws_error_t *err)
{
    aws_client_t *c = f->c;
    for (voices_fetch_t **pp = &c->voices->fetching; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    /* Cached before anyone is answered, so that a caller asking again from its callback gets
     * this list instead of a new lookup. The cache exists (aws_polly_describe_voices made it),
     * so cache_store keeps v, and nothing replaces the entry while the callbacks run. */
    const aws_voice_t *v = NULL;
    if (!err) {
        cache_store(c, f->lang, f->v, f->n);
        v = f->v;
        f->v = NULL;
    }
    voices_waiter_t *w = f->waiters;
    while (w) {
        voices_waiter_t *next = w->next;
        if (err)
            w->cb(w->arg, err, NULL, 0);
        else
            w->cb(w->arg, NULL, v, f->n);
        waiter_end(w);
        w = next;
    }
    free(f->v);
    free(f->next_token);
    free(f);
    c->jobs--;
    aws__client_maybe_closed(c);
}

static int fetch_page(voices_fetch_t *f);

static void voices_finish(void *ud, const aws_error_t *err)
{
    voices_fetch_t *f = ud;
    if (err || !f->next_token) {
        fetch_end(f, err);
        return;
    }
    if (f->pages >= VOICES_MAX_PAGES) {
        aws_error_t e;
        aws__error_set(&e, AWS_ERR_BAD_RESPONSE, NULL, "DescribeVoices kept paging (%d pages)",
                       f->pages);
        fetch_end(f, &e);
        return;
    }
    int rc = fetch_page(f);
    if (rc) {
        aws_error_t e;
        aws__error_set(&e, rc == -ECANCELED ? AWS_ERR_CANCELLED : AWS_ERR_INTERNAL, NULL,
                       "DescribeVoices: cannot ask for the next page: %s", strerror(-rc));
        fetch_end(f, &e);
    }
}

static const aws_call_ops_t voices_ops = {.validate = voices_validate, .finish = voices_finish};

/* Submits the call for the next page (the first when f->next_token is NULL). */
static int fetch_page(voices_fetch_t *f)
{
    sigv4_pair_t q[2];
    size_t nq = 0;
    if (f->lang[0]) q[nq++] = (sigv4_pair_t){"LanguageCode", f->lang};
    if (f->next_token) q[nq++] = (sigv4_pair_t){"NextToken", f->next_token};
    aws_call_spec_t spec = {
        .service = AWS_SVC_POLLY,
        .op = AWS_OP_VOICES,
        .method = "GET",
        .path = "/v1/voices",
        .query = q,
        .query_count = nq,
        .timeout_ms = f->c->cfg.speech_timeout_ms,
    };
    return aws__call_submit(f->c, &spec, &voices_ops, f, NULL);
}

int aws_polly_describe_voices(aws_client_t *c, const char *language, aws_voices_cb cb, void *arg)
{
    if (!c || !cb || (language && strlen(language) >= 16)) return -EINVAL;
    if (c->closing) return -ECANCELED;
    if (!cache_get(c)) return -ENOMEM;
    voices_waiter_t *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->c = c;
    w->cb = cb;
    w->arg = arg;
    snprintf(w->lang, sizeof w->lang, "%s", language ? language : "");
    voices_entry_t *e = cache_find(c, w->lang);
    if (e && aws__now_s() - e->fetched_at < c->cfg.voices_ttl_s) {
        c->jobs++;
        aws__defer(c, &w->d, from_cache, w);
        return 0;
    }
    for (voices_fetch_t *f = c->voices->fetching; f; f = f->next) {
        if (strcmp(f->lang, w->lang) != 0) continue;
        c->jobs++;
        *f->tail = w;
        f->tail = &w->next;
        return 0;
    }
    voices_fetch_t *f = calloc(1, sizeof *f);
    if (!f) {
        free(w);
        return -ENOMEM;
    }
    f->c = c;
    snprintf(f->lang, sizeof f->lang, "%s", w->lang);
    f->waiters = w;
    f->tail = &w->next;
    int rc = fetch_page(f);
    if (rc) {
        free(f);
        free(w);
        return rc;
    }
    c->jobs += 2; /* the waiter and the lookup */
    f->next = c->voices->fetching;
    c->voices->fetching = f;
    return 0;
}
