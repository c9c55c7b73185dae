/* provider_common: the call life cycle (in-flight list, cancel, deferred delivery), status names
 * and mappings, spec checks and the dispatch of the public calls to the backends. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "core/json.h"
#include "net/net.h"
#include "providers/composer.h"
#include "providers/provider_int.h"

const char *prov_status_name(int status)
{
    switch (status) {
    case PROV_OK:
        return "ok";
    case PROV_E_UNAVAILABLE:
        return "unavailable";
    case PROV_E_THROTTLED:
        return "throttled";
    case PROV_E_INVALID:
        return "invalid";
    case PROV_E_CONTENT_FILTERED:
        return "content_filtered";
    case PROV_E_TIMEOUT:
        return "timeout";
    case PROV_E_INTERNAL:
        return "internal";
    case PROV_E_AUTH:
        return "auth";
    case PROV_E_BAD_RESPONSE:
        return "bad_response";
    case PROV_E_INTERRUPTED:
        return "interrupted";
    case PROV_E_SHUTDOWN:
        return "shutdown";
    case PROV_E_NOT_SUPPORTED:
        return "not_supported";
    default:
        return "error";
    }
}

bool prov_status_retryable(int status)
{
    return status == PROV_E_THROTTLED || status == PROV_E_UNAVAILABLE || status == PROV_E_TIMEOUT ||
           status == PROV_E_INTERRUPTED;
}

/* ---- context and calls --------------------------------------------------------------------- */

static void prov__defer_run(uv_timer_t *t)
{
    prov__ctx_t *ctx = t->data;
    /* Take the whole queue first: a delivery may queue new calls, which wait for the next
     * timer tick instead of running inside this one. */
    prov_call_t *c = ctx->defer_head;
    ctx->defer_head = ctx->defer_tail = NULL;
    while (c) {
        prov_call_t *next = c->defer_next;
        c->defer_next = NULL;
        c->deferred = false;
        c->ops->deliver(c);
        c = next;
    }
}

int prov__ctx_init(prov__ctx_t *ctx, uv_loop_t *loop)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->loop = loop;
    int rc = uv_timer_init(loop, &ctx->defer_timer);
    if (rc) return rc;
    ctx->defer_timer.data = ctx;
    return 0;
}

void prov__ctx_shutdown(prov__ctx_t *ctx)
{
    ctx->closing = true;
    for (prov_call_t *c = ctx->calls; c; c = c->next) {
        if (c->shutdown) continue;
        c->shutdown = true;
        if (!c->deferred && !c->cancelled && c->ops->abort) c->ops->abort(c);
    }
}

void *prov__call_new(prov__ctx_t *ctx, size_t size, const prov__call_ops_t *ops)
{
    prov_call_t *c = calloc(1, size);
    if (!c) return NULL;
    c->ctx = ctx;
    c->ops = ops;
    c->next = ctx->calls;
    if (ctx->calls) ctx->calls->prev = c;
    ctx->calls = c;
    ctx->ncalls++;
    return c;
}

void prov__call_end(prov_call_t *c)
{
    prov__ctx_t *ctx = c->ctx;
    if (c->prev)
        c->prev->next = c->next;
    else
        ctx->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    ctx->ncalls--;
    free(c);
    if (ctx->closing && ctx->ncalls == 0 && ctx->on_drained) ctx->on_drained(ctx);
}

void prov__call_message(prov_call_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
}

void prov__call_defer(prov_call_t *c, int status, const char *fmt, ...)
{
    c->status = status;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->message, sizeof c->message, fmt, ap);
        va_end(ap);
    }
    prov__ctx_t *ctx = c->ctx;
    c->deferred = true;
    c->defer_next = NULL;
    if (ctx->defer_tail)
        ctx->defer_tail->defer_next = c;
    else
        ctx->defer_head = c;
    ctx->defer_tail = c;
    if (!uv_is_active((uv_handle_t *)&ctx->defer_timer))
        uv_timer_start(&ctx->defer_timer, prov__defer_run, 0, 0);
}

int prov__call_status(const prov_call_t *c, int status)
{
    return c->shutdown ? PROV_E_SHUTDOWN : status;
}

int prov_cancel(prov_call_t *c)
{
    if (!c) return -EINVAL;
    if (c->cancelled) return -EALREADY;
    c->cancelled = true;
    if (!c->deferred && c->ops->abort) c->ops->abort(c);
    return 0;
}

/* ---- status mapping ------------------------------------------------------------------------ */

int prov__from_net(int net_status, long http_status)
{
    switch (net_status) {
    case 0:
        break;
    case NET_E_CONNECT:
    case NET_E_TLS:
    case NET_E_CLOSING:
        return PROV_E_UNAVAILABLE;
    case NET_E_TIMEOUT:
        return PROV_E_TIMEOUT;
    case NET_E_DROPPED:
        return PROV_E_INTERRUPTED;
    case NET_E_TOO_LARGE:
    case NET_E_PROTOCOL:
        return PROV_E_BAD_RESPONSE;
    default:
        return PROV_E_INTERNAL;
    }
    if (http_status >= 200 && http_status < 300) return PROV_OK;
    if (http_status == 401 || http_status == 403) return PROV_E_AUTH;
    if (http_status == 429) return PROV_E_THROTTLED;
    if (http_status == 408 || http_status == 504) return PROV_E_TIMEOUT;
    if (http_status == 404) return PROV_E_NOT_SUPPORTED; /* unknown endpoint or model */
    if (http_status >= 500) return PROV_E_UNAVAILABLE;
    if (http_status >= 400) return PROV_E_INVALID;
    return PROV_E_BAD_RESPONSE;
}

int prov__from_aws(int aws_err)
{
    switch ((aws_err_t)aws_err) {
    case AWS_OK:
        return PROV_OK;
    case AWS_ERR_THROTTLED:
    case AWS_ERR_QUOTA:
    case AWS_ERR_OVERLOADED:
    case AWS_ERR_MODEL_NOT_READY:
        return PROV_E_THROTTLED;
    case AWS_ERR_VALIDATION:
        return PROV_E_INVALID;
    case AWS_ERR_ACCESS_DENIED:
    case AWS_ERR_CREDENTIALS:
        return PROV_E_AUTH;
    case AWS_ERR_NOT_FOUND:
    case AWS_ERR_END_OF_LIFE:
        return PROV_E_NOT_SUPPORTED;
    case AWS_ERR_MODEL_TIMEOUT:
    case AWS_ERR_TIMEOUT:
        return PROV_E_TIMEOUT;
    case AWS_ERR_UNAVAILABLE:
    case AWS_ERR_NETWORK:
        return PROV_E_UNAVAILABLE;
    case AWS_ERR_CONTENT_FILTERED:
        return PROV_E_CONTENT_FILTERED;
    case AWS_ERR_BAD_RESPONSE:
        return PROV_E_BAD_RESPONSE;
    case AWS_ERR_CANCELLED:
        return PROV_E_SHUTDOWN;
    case AWS_ERR_MODEL_ERROR:
    case AWS_ERR_INTERNAL:
    default:
        return PROV_E_INTERNAL;
    }
}

/* ---- spec checks --------------------------------------------------------------------------- */

void prov_story_spec_defaults(prov_story_spec_t *s)
{
    memset(s, 0, sizeof *s);
    s->template_name = "adventure";
    s->age_min = 6;
    s->age_max = 8;
    s->target_words = 500;
    s->parts = 3;
    s->language_level = "intermediate";
    s->language = "en";
}

static bool prov__utf8_ok(const char *s, size_t max, const char *what, char *msg, size_t cap)
{
    if (!s) return true;
    size_t n = strlen(s);
    if (n > max) {
        snprintf(msg, cap, "the %s is too long (at most %zu bytes)", what, max);
        return false;
    }
    if (!json_utf8_valid(s, n)) {
        snprintf(msg, cap, "the %s is not valid UTF-8", what);
        return false;
    }
    return true;
}

int prov__story_spec_check(const prov_story_spec_t *s, char *msg, size_t cap)
{
    if (!s->prompt || !*s->prompt) {
        snprintf(msg, cap, "the story idea is empty");
        return PROV_E_INVALID;
    }
    if (!prov__utf8_ok(s->prompt, PROV_STORY_MAX_PROMPT, "story idea", msg, cap) ||
        !prov__utf8_ok(s->image_description, 1000, "picture description", msg, cap) ||
        !prov__utf8_ok(s->moral, 300, "moral", msg, cap) ||
        !prov__utf8_ok(s->child_name, 40, "child's name", msg, cap) ||
        !prov__utf8_ok(s->modifications, 2000, "requested changes", msg, cap) ||
        !prov__utf8_ok(s->previous_text, PROV_STORY_MAX_PREVIOUS, "previous story", msg, cap) ||
        !prov__utf8_ok(s->template_name, 40, "template", msg, cap) ||
        !prov__utf8_ok(s->language_level, 40, "language level", msg, cap) ||
        !prov__utf8_ok(s->language, 35, "language", msg, cap))
        return PROV_E_INVALID;
    composer_template_t tmpl;
    composer_level_t level;
    if (s->template_name && *s->template_name && composer_template_parse(s->template_name, &tmpl)) {
        snprintf(msg, cap, "unknown story template \"%s\"", s->template_name);
        return PROV_E_INVALID;
    }
    if (s->language_level && *s->language_level &&
        composer_level_parse(s->language_level, &level)) {
        snprintf(msg, cap, "unknown language level \"%s\"", s->language_level);
        return PROV_E_INVALID;
    }
    if (s->target_words > 0 &&
        (s->target_words < PROV_STORY_MIN_WORDS || s->target_words > PROV_STORY_MAX_WORDS)) {
        snprintf(msg, cap, "the length must be between %d and %d words", PROV_STORY_MIN_WORDS,
                 PROV_STORY_MAX_WORDS);
        return PROV_E_INVALID;
    }
    if (s->parts > PROV_STORY_MAX_PARTS) {
        snprintf(msg, cap, "a story has at most %d parts", PROV_STORY_MAX_PARTS);
        return PROV_E_INVALID;
    }
    if ((s->age_min > 0 && (s->age_min < 2 || s->age_min > 14)) ||
        (s->age_max > 0 && (s->age_max < 2 || s->age_max > 14)) ||
        (s->age_min > 0 && s->age_max > 0 && s->age_min > s->age_max)) {
        snprintf(msg, cap, "the age range must lie within 2 to 14 years");
        return PROV_E_INVALID;
    }
    return PROV_OK;
}

int prov__image_spec_check(const prov_image_spec_t *s, int *w, int *h, char *msg, size_t cap)
{
    if (!s->prompt || !*s->prompt) {
        snprintf(msg, cap, "the scene description is empty");
        return PROV_E_INVALID;
    }
    if (strlen(s->prompt) > 10000 || !json_utf8_valid(s->prompt, strlen(s->prompt))) {
        snprintf(msg, cap, "the scene description is too long or not valid UTF-8");
        return PROV_E_INVALID;
    }
    int ww = s->width ? s->width : 768, hh = s->height ? s->height : 1152;
    if (ww < PROV_IMAGE_MIN_SIDE || ww > PROV_IMAGE_MAX_SIDE || hh < PROV_IMAGE_MIN_SIDE ||
        hh > PROV_IMAGE_MAX_SIDE) {
        snprintf(msg, cap, "the picture size must be %d to %d pixels on each side",
                 PROV_IMAGE_MIN_SIDE, PROV_IMAGE_MAX_SIDE);
        return PROV_E_INVALID;
    }
    *w = ww;
    *h = hh;
    return PROV_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

int prov_text_write_story(prov_text_t *t, const prov_story_spec_t *spec, prov_delta_cb on_delta,
                          prov_story_cb on_done, void *arg, prov_call_t **call)
{
    if (call) *call = NULL;
    if (!t || !spec || !on_done) return -EINVAL;
    if (t->ctx->closing) return -ESHUTDOWN;
    return t->ops->write_story(t, spec, on_delta, on_done, arg, call);
}

int prov_text_story_extras(prov_text_t *t, const prov_story_spec_t *spec, const char *title,
                           const char *text, prov_extras_cb on_done, void *arg, prov_call_t **call)
{
    if (call) *call = NULL;
    if (!t || !spec || !text || !on_done) return -EINVAL;
    if (!t->ops->extras) return -ENOTSUP;
    if (t->ctx->closing) return -ESHUTDOWN;
    return t->ops->extras(t, spec, title ? title : "", text, on_done, arg, call);
}

int prov_vision_describe(prov_vision_t *v, const uint8_t *image, size_t len, prov_vision_cb on_done,
                         void *arg, prov_call_t **call)
{
    if (call) *call = NULL;
    if (!v || !image || !on_done) return -EINVAL;
    if (v->ctx->closing) return -ESHUTDOWN;
    return v->ops->describe(v, image, len, on_done, arg, call);
}

int prov_speech_synthesize(prov_speech_t *s, const char *text, const char *voice_id,
                           prov_speech_cb on_done, void *arg, prov_call_t **call)
{
    if (call) *call = NULL;
    if (!s || !text || !on_done) return -EINVAL;
    if (s->ctx->closing) return -ESHUTDOWN;
    return s->ops->synthesize(s, text, voice_id, on_done, arg, call);
}

const prov_voice_t *prov_speech_voices(const prov_speech_t *s, size_t *count)
{
    *count = 0;
    return s ? s->ops->voices(count) : NULL;
}

const char *prov_speech_default_voice(const prov_speech_t *s)
{
    return s ? s->default_voice : "";
}

int prov_image_render(prov_image_t *im, const prov_image_spec_t *spec, prov_image_cb on_done,
                      void *arg, prov_call_t **call)
{
    if (call) *call = NULL;
    if (!im || !spec || !on_done) return -EINVAL;
    if (im->ctx->closing) return -ESHUTDOWN;
    return im->ops->render(im, spec, on_done, arg, call);
}

const char *prov_text_name(const prov_text_t *t)
{
    return t->name;
}
const char *prov_text_model(const prov_text_t *t)
{
    return t->model;
}
const char *prov_vision_name(const prov_vision_t *v)
{
    return v->name;
}
const char *prov_vision_model(const prov_vision_t *v)
{
    return v->model;
}
const char *prov_speech_name(const prov_speech_t *s)
{
    return s->name;
}
const char *prov_speech_model(const prov_speech_t *s)
{
    return s->model;
}
const char *prov_image_name(const prov_image_t *im)
{
    return im->name;
}
const char *prov_image_model(const prov_image_t *im)
{
    return im->model;
}
