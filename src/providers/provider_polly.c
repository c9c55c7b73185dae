/* provider_polly: the "polly" speech provider over the aws client's speech jobs (chunked
 * SynthesizeSpeech with word and sentence marks joined into one PCM stream). Voices outside
 * the curated catalogue are passed to Polly as they are (it knows many more); espeak voice ids
 * are mapped to the closest Polly voice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_polly.h"
#include "core/log.h"
#include "providers/provider_int.h"

typedef struct {
    prov_speech_t base;
    aws_client_t *aws;
} pl_prov_t;

typedef struct {
    prov_call_t call; /* first */
    pl_prov_t *prov;
    prov_speech_cb on_done;
    void *arg;
    aws_speech_t *job;
    char voice[64];
} pl_call_t;

static void pl_report(pl_call_t *c, int status, aws_speech_res_t *res, const char *msg)
{
    prov_speech_result_t r = {
        .voice = c->voice,
        .provider = c->prov->base.name,
        .model = res && res->engine[0] ? res->engine : c->prov->base.model,
        .message = msg ? msg : "",
    };
    audio_marks_init(&r.marks);
    if (status == PROV_OK && res) {
        for (size_t i = 0; i < res->mark_count && status == PROV_OK; i++) {
            const aws_speech_mark_t *m = &res->marks[i];
            const char *v = m->value ? m->value : "";
            if (m->end > UINT32_MAX ||
                audio_marks_push(&r.marks, m->time_ms,
                                 m->type == AWS_MARK_SENTENCE ? AUDIO_MARK_SENTENCE
                                                              : AUDIO_MARK_WORD,
                                 (uint32_t)m->start, (uint32_t)m->end, v, strlen(v)))
                status = PROV_E_INTERNAL;
        }
        if (status == PROV_OK) {
            /* malloc'd bytes are suitably aligned for int16_t; Polly's PCM is s16le. */
            r.pcm = (int16_t *)res->pcm;
            r.nsamples = res->pcm_len / 2;
            r.sample_rate = res->sample_rate;
        } else {
            audio_marks_free(&r.marks);
            r.message = "could not keep the speech marks";
        }
    }
    c->on_done(status, &r, c->arg);
    if (res && r.pcm == NULL) res->pcm = NULL; /* taken by the callback */
    audio_marks_free(&r.marks);
}

static void pl_done(void *arg, const aws_error_t *err, aws_speech_res_t *res)
{
    pl_call_t *c = arg;
    c->job = NULL;
    if (!c->call.cancelled) {
        char msg[400] = "";
        if (c->call.shutdown) {
            pl_report(c, PROV_E_SHUTDOWN, NULL, "the server is shutting down");
        } else if (err) {
            aws_error_format(err, "polly speech", msg, sizeof msg);
            log_warn("providers", "%s", msg);
            pl_report(c, prov__from_aws((int)err->code), NULL, msg);
        } else {
            pl_report(c, PROV_OK, res, c->call.message);
        }
    }
    prov__call_end(&c->call);
}

static void pl_abort(prov_call_t *call)
{
    pl_call_t *c = (pl_call_t *)call;
    if (c->job) aws_speech_cancel(c->job);
}

static void pl_deliver(prov_call_t *call)
{
    pl_call_t *c = (pl_call_t *)call;
    if (!call->cancelled) pl_report(c, prov__call_status(call, call->status), NULL, call->message);
    prov__call_end(call);
}

static const prov__call_ops_t pl_ops = {pl_abort, pl_deliver};

static int pl_synthesize(prov_speech_t *s, const char *text, const char *voice_id,
                         prov_speech_cb on_done, void *arg, prov_call_t **call)
{
    pl_prov_t *p = (pl_prov_t *)s;
    pl_call_t *c = prov__call_new(s->ctx, sizeof *c, &pl_ops);
    if (!c) return -ENOMEM;
    c->prov = p;
    c->on_done = on_done;
    c->arg = arg;
    if (call) *call = &c->call;
    size_t nown, nother;
    const prov_voice_t *own = prov__polly_catalogue(&nown);
    const prov_voice_t *other = prov__espeak_catalogue(&nother);
    const prov_voice_t *v =
        prov__voice_resolve(own, nown, other, nother, voice_id, s->default_voice, c->call.message,
                            sizeof c->call.message);
    /* Polly knows more voices than the catalogue: an unknown id goes through as it is. */
    snprintf(c->voice, sizeof c->voice, "%s",
             v                       ? v->id
             : voice_id && *voice_id ? voice_id
                                     : s->default_voice);
    if (!*text) {
        prov__call_defer(&c->call, PROV_E_INVALID, "there is no text to speak");
        return 0;
    }
    aws_speech_req_t req = {.text = text, .voice_id = c->voice, .marks = true};
    int rc = aws_polly_speak(p->aws, &req, pl_done, c, &c->job);
    if (rc == -ENOMEM) {
        prov__call_end(&c->call);
        if (call) *call = NULL;
        return -ENOMEM;
    }
    if (rc) prov__call_defer(&c->call, PROV_E_INVALID, "the speech request was refused (%d)", rc);
    return 0;
}

static const prov_voice_t *pl_voices(size_t *count)
{
    return prov__polly_catalogue(count);
}

static void pl_destroy(prov_speech_t *s)
{
    free(s);
}

static const prov__speech_ops_t pl_speech_ops = {pl_synthesize, pl_voices, pl_destroy};

int prov__polly_new(prov__ctx_t *ctx, aws_client_t *aws, const char *default_voice,
                    prov_speech_t **out)
{
    if (!aws) return -EINVAL;
    pl_prov_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->base.ops = &pl_speech_ops;
    p->base.ctx = ctx;
    p->aws = aws;
    snprintf(p->base.name, sizeof p->base.name, "polly");
    /* The engine is chosen per voice (neural where the voice has it); results name it. */
    snprintf(p->base.model, sizeof p->base.model, "auto-engine");
    snprintf(p->base.default_voice, sizeof p->base.default_voice, "%s",
             default_voice && *default_voice ? default_voice : "Joanna");
    *out = &p->base;
    return 0;
}
