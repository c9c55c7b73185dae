/* provider_espeak: the "espeak" speech provider over the speech_espeak singleton (which runs one
 * synthesis at a time on a libuv worker). The registry initialises and shuts the singleton down;
 * this file maps voices, results and errors. A cancelled request cannot leave espeak's queue:
 * it is synthesized when its turn comes and the result is dropped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider_int.h"
#include "providers/speech_espeak.h"

typedef struct {
    prov_call_t call; /* first */
    prov_speech_t *prov;
    prov_speech_cb on_done;
    void *arg;
    const prov_voice_t *voice;
    speech_espeak_result_t *res; /* owned until delivered */
} es_call_t;

static void es_deliver(prov_call_t *call)
{
    es_call_t *c = (es_call_t *)call;
    if (!call->cancelled) {
        prov_speech_result_t r = {
            .voice = c->voice ? c->voice->id : "",
            .provider = c->prov->name,
            .model = c->prov->model,
            .message = call->message,
        };
        audio_marks_init(&r.marks);
        int st = prov__call_status(call, call->status);
        if (st == PROV_OK && c->res) {
            r.pcm = c->res->pcm;
            r.nsamples = c->res->nsamples;
            r.sample_rate = c->res->sample_rate;
            r.marks = c->res->marks;
            c->res->pcm = NULL;
            audio_marks_init(&c->res->marks);
        }
        c->on_done(st, &r, c->arg);
        free(r.pcm); /* unless the callback took it */
        audio_marks_free(&r.marks);
    }
    speech_espeak_result_free(c->res);
    prov__call_end(call);
}

static const prov__call_ops_t es_ops = {NULL, es_deliver};

static int es_map(int rc)
{
    switch (rc) {
    case 0:
        return PROV_OK;
    case SPEECH_ESPEAK_ERR_VOICE:
    case SPEECH_ESPEAK_ERR_TOO_LONG:
    case SPEECH_ESPEAK_ERR_UTF8:
    case SPEECH_ESPEAK_ERR_AUDIO:
    case -EINVAL:
        return PROV_E_INVALID;
    case -ECANCELED:
        return PROV_E_SHUTDOWN;
    case -ESHUTDOWN:
        return PROV_E_UNAVAILABLE;
    default:
        return PROV_E_INTERNAL;
    }
}

/* espeak may call this from inside speech_espeak_shutdown (queued requests), so the report
 * always goes through the deferred queue. */
static void es_done(int status, speech_espeak_result_t *res, void *arg)
{
    es_call_t *c = arg;
    c->res = res;
    char keep[sizeof c->call.message];
    snprintf(keep, sizeof keep, "%s", c->call.message); /* a voice substitution note */
    if (status == 0)
        prov__call_defer(&c->call, PROV_OK, "%s", keep);
    else
        prov__call_defer(&c->call, es_map(status), "%s", speech_espeak_strerror(status));
}

static int es_synthesize(prov_speech_t *s, const char *text, const char *voice_id,
                         prov_speech_cb on_done, void *arg, prov_call_t **call)
{
    es_call_t *c = prov__call_new(s->ctx, sizeof *c, &es_ops);
    if (!c) return -ENOMEM;
    c->prov = s;
    c->on_done = on_done;
    c->arg = arg;
    if (call) *call = &c->call;
    size_t nown, nother;
    const prov_voice_t *own = prov__espeak_catalogue(&nown);
    const prov_voice_t *other = prov__polly_catalogue(&nother);
    c->voice = prov__voice_resolve(own, nown, other, nother, voice_id, s->default_voice,
                                   c->call.message, sizeof c->call.message);
    if (!c->voice) {
        prov__call_defer(&c->call, PROV_E_INVALID, "unknown voice \"%s\"",
                         voice_id ? voice_id : "");
        return 0;
    }
    int rc = speech_espeak_synthesize(s->ctx->loop, text, c->voice->id, 0, es_done, c);
    if (rc) prov__call_defer(&c->call, es_map(rc), "%s", speech_espeak_strerror(rc));
    return 0;
}

static const prov_voice_t *es_voices(size_t *count)
{
    return prov__espeak_catalogue(count);
}

static void es_destroy(prov_speech_t *s)
{
    free(s);
}

static const prov__speech_ops_t es_speech_ops = {es_synthesize, es_voices, es_destroy};

int prov__espeak_new(prov__ctx_t *ctx, const char *default_voice, int rate_wpm, prov_speech_t **out)
{
    (void)rate_wpm; /* applied by the registry when it starts the espeak singleton */
    const char *dv = default_voice && *default_voice ? default_voice : "en-us-f";
    if (!speech_espeak_voice_find(dv)) return -EINVAL;
    prov_speech_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->ops = &es_speech_ops;
    s->ctx = ctx;
    snprintf(s->name, sizeof s->name, "espeak");
    snprintf(s->model, sizeof s->model, "espeak-ng");
    snprintf(s->default_voice, sizeof s->default_voice, "%s", dv);
    *out = s;
    return 0;
}
