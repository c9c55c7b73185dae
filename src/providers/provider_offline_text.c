/* provider_offline_text: the "offline" text provider. The composer writes the whole story on a
 * libuv worker thread (with its plan as JSON and the chunk boundaries of the deltas); back on the
 * loop the text is handed out as deltas of a few words, paced by a uv_timer so the UI sees the
 * story appear as it would from a model (delay 0 hands out every delta at once). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "providers/composer.h"
#include "providers/provider_int.h"

#define OT_MODEL "composer-v1"

typedef struct {
    prov_text_t base;
    int delay_ms, words;
} ot_prov_t;

typedef struct {
    prov_call_t call; /* first */
    ot_prov_t *prov;
    prov_delta_cb on_delta;
    prov_story_cb on_done;
    void *arg;
    uv_work_t work;
    uv_timer_t timer;
    bool working, pacing;
    /* input (owned copies) */
    composer_input_t in;
    char *prompt, *image_description, *moral, *child_name;
    bool not_english;
    /* output of the worker */
    int rc;
    composer_story_t *story;
    char *plan_json;
    size_t *cuts; /* end offsets of the deltas */
    size_t ncuts, ccap, next;
} ot_call_t;

static char *ot_dup(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void ot_free_call(ot_call_t *c)
{
    composer_story_free(c->story);
    free(c->plan_json);
    free(c->cuts);
    free(c->prompt);
    free(c->image_description);
    free(c->moral);
    free(c->child_name);
    prov__call_end(&c->call);
}

static int ot_cut(const char *chunk, size_t len, void *arg)
{
    ot_call_t *c = arg;
    if (c->ncuts == c->ccap) {
        size_t nc = c->ccap ? c->ccap * 2 : 256;
        size_t *p = realloc(c->cuts, nc * sizeof *p);
        if (!p) return -ENOMEM;
        c->cuts = p;
        c->ccap = nc;
    }
    size_t prev = c->ncuts ? c->cuts[c->ncuts - 1] : 0;
    c->cuts[c->ncuts++] = prev + len;
    (void)chunk;
    return 0;
}

/* Worker thread: everything CPU-heavy happens here. */
static void ot_work(uv_work_t *w)
{
    ot_call_t *c = w->data;
    c->rc = composer_write(&c->in, &c->story);
    if (c->rc) return;
    buf_t plan;
    buf_init(&plan, 1 << 20);
    c->rc = composer_plan_to_json(c->story, &plan);
    if (!c->rc) c->plan_json = buf_steal(&plan, NULL);
    buf_free(&plan);
    if (!c->rc) c->rc = composer_stream(c->story, (size_t)c->prov->words, ot_cut, c);
}

static void ot_report(ot_call_t *c, int status, const char *message)
{
    prov_story_result_t r = {
        .title = "",
        .text = "",
        .provider = c->prov->base.name,
        .model = c->prov->base.model,
        .message = message ? message : "",
        .finish_reason = "",
        .input_tokens = -1,
        .output_tokens = -1,
    };
    if (status == PROV_OK && c->story) {
        r.title = composer_story_title(c->story);
        r.text = composer_story_text(c->story);
        r.len = composer_story_text_len(c->story);
        r.plan_json = c->plan_json;
        r.finish_reason = "stop";
    }
    c->on_done(status, &r, c->arg);
}

/* Reports the outcome (unless cancelled) once the deltas are out or the call stopped. */
static void ot_finish(ot_call_t *c)
{
    if (!c->call.cancelled) {
        int st = prov__call_status(&c->call, PROV_OK);
        const char *msg = st == PROV_E_SHUTDOWN ? "the server is shutting down"
                          : c->not_english      ? "the offline writer writes English only"
                                                : "";
        ot_report(c, st, msg);
    }
}

static void ot_timer_closed(uv_handle_t *h)
{
    ot_free_call(h->data);
}

static bool ot_stopped(const ot_call_t *c)
{
    return c->call.cancelled || c->call.shutdown;
}

/* Hands out the next delta; the last tick reports done. */
static void ot_tick(uv_timer_t *t)
{
    ot_call_t *c = t->data;
    if (!ot_stopped(c) && c->next < c->ncuts) {
        size_t from = c->next ? c->cuts[c->next - 1] : 0, to = c->cuts[c->next];
        c->next++;
        if (c->on_delta) c->on_delta(composer_story_text(c->story) + from, to - from, c->arg);
        if (c->next < c->ncuts && !ot_stopped(c)) return;
    }
    uv_timer_stop(t);
    c->pacing = false;
    ot_finish(c);
    uv_close((uv_handle_t *)t, ot_timer_closed);
}

static int ot_map_rc(int rc, char *msg, size_t cap)
{
    switch (rc) {
    case -EINVAL:
        snprintf(msg, cap, "the story settings are not valid for the offline writer");
        return PROV_E_INVALID;
    case -E2BIG:
        snprintf(msg, cap, "a story setting is too long for the offline writer");
        return PROV_E_INVALID;
    case UV_ECANCELED:
        snprintf(msg, cap, "cancelled");
        return PROV_E_SHUTDOWN;
    default:
        snprintf(msg, cap, "the offline writer failed (%s)", strerror(-rc));
        return PROV_E_INTERNAL;
    }
}

static void ot_after(uv_work_t *w, int status)
{
    ot_call_t *c = w->data;
    c->working = false;
    int rc = status ? status : c->rc;
    if (c->call.cancelled) {
        ot_free_call(c);
        return;
    }
    if (rc || c->call.shutdown) {
        char msg[160] = "the server is shutting down";
        int st = c->call.shutdown ? PROV_E_SHUTDOWN : ot_map_rc(rc, msg, sizeof msg);
        ot_report(c, st, msg);
        ot_free_call(c);
        return;
    }
    if (c->prov->delay_ms <= 0) {
        /* No pacing: every delta now, stopping early if the owner cancels from a delta. */
        const char *text = composer_story_text(c->story);
        for (size_t i = 0; i < c->ncuts && !ot_stopped(c) && c->on_delta; i++) {
            size_t from = i ? c->cuts[i - 1] : 0;
            c->on_delta(text + from, c->cuts[i] - from, c->arg);
        }
        ot_finish(c);
        ot_free_call(c);
        return;
    }
    uv_timer_init(c->call.ctx->loop, &c->timer);
    c->timer.data = c;
    c->pacing = true;
    /* The first delta goes out at once; the rest every delay_ms. */
    uv_timer_start(&c->timer, ot_tick, 0, (uint64_t)c->prov->delay_ms);
}

static void ot_abort(prov_call_t *call)
{
    ot_call_t *c = (ot_call_t *)call;
    if (c->working) {
        /* Succeeds only while the work waits for a thread; a running composer finishes. */
        uv_cancel((uv_req_t *)&c->work);
    } else if (c->pacing) {
        /* Finish from the timer, never from inside prov_cancel or providers_close. */
        uv_timer_start(&c->timer, ot_tick, 0, 0);
    }
}

static void ot_deliver(prov_call_t *call)
{
    ot_call_t *c = (ot_call_t *)call;
    if (!call->cancelled) ot_report(c, prov__call_status(call, call->status), call->message);
    ot_free_call(c);
}

static const prov__call_ops_t ot_ops = {ot_abort, ot_deliver};

/* Fills c->in from the spec; returns PROV_OK or PROV_E_INVALID/-ENOMEM with msg. */
static int ot_prepare(ot_call_t *c, const prov_story_spec_t *s, char *msg, size_t cap)
{
    composer_input_t *in = &c->in;
    composer_input_defaults(in);
    int st = prov__story_spec_check(s, msg, cap);
    if (st) return st;
    if (s->template_name && *s->template_name &&
        composer_template_parse(s->template_name, &in->template_id)) {
        snprintf(msg, cap, "unknown story template \"%s\"", s->template_name);
        return PROV_E_INVALID;
    }
    if (s->language_level && *s->language_level &&
        composer_level_parse(s->language_level, &in->level)) {
        snprintf(msg, cap, "unknown language level \"%s\"", s->language_level);
        return PROV_E_INVALID;
    }
    if (s->age_min > 0) in->age_min = s->age_min;
    if (s->age_max > 0) in->age_max = s->age_max;
    if (in->age_min > in->age_max) in->age_max = in->age_min;
    if (s->target_words > 0) in->target_words = s->target_words;
    if (s->parts > 0) in->parts = s->parts;
    in->sound_effects = s->sound_effects;
    in->questions = s->questions;
    in->explain_words = s->explain_words;
    /* The composer cannot edit a previous text; requested changes join the idea, so a
     * regenerate gives a different (still deterministic) story that reflects them. */
    size_t pl = strlen(s->prompt);
    size_t ml = s->modifications ? strlen(s->modifications) : 0;
    c->prompt = malloc(pl + ml + 3);
    if (!c->prompt) return -ENOMEM;
    memcpy(c->prompt, s->prompt, pl);
    size_t n = pl;
    if (ml) {
        memcpy(c->prompt + n, ". ", 2);
        memcpy(c->prompt + n + 2, s->modifications, ml);
        n += ml + 2;
    }
    if (n > COMPOSER_MAX_PROMPT) {
        n = COMPOSER_MAX_PROMPT;
        while (n && ((unsigned char)c->prompt[n] & 0xC0) == 0x80)
            n--;
    }
    c->prompt[n] = '\0';
    in->prompt = c->prompt;
    if ((s->image_description && *s->image_description &&
         !(c->image_description = ot_dup(s->image_description))) ||
        (s->moral && *s->moral && !(c->moral = ot_dup(s->moral))) ||
        (s->child_name && *s->child_name && !(c->child_name = ot_dup(s->child_name))))
        return -ENOMEM;
    in->image_description = c->image_description;
    in->moral = c->moral;
    in->child_name = c->child_name;
    c->not_english = s->language && *s->language && strncasecmp(s->language, "en", 2) != 0;
    return PROV_OK;
}

static int ot_write_story(prov_text_t *t, const prov_story_spec_t *spec, prov_delta_cb on_delta,
                          prov_story_cb on_done, void *arg, prov_call_t **call)
{
    ot_prov_t *p = (ot_prov_t *)t;
    ot_call_t *c = prov__call_new(t->ctx, sizeof *c, &ot_ops);
    if (!c) return -ENOMEM;
    c->prov = p;
    c->on_delta = on_delta;
    c->on_done = on_done;
    c->arg = arg;
    char msg[200];
    int st = ot_prepare(c, spec, msg, sizeof msg);
    if (st == -ENOMEM) {
        c->on_done = NULL;
        ot_free_call(c);
        return -ENOMEM;
    }
    if (call) *call = &c->call;
    if (st) {
        prov__call_defer(&c->call, st, "%s", msg);
        return 0;
    }
    c->work.data = c;
    int rc = uv_queue_work(t->ctx->loop, &c->work, ot_work, ot_after);
    if (rc) {
        prov__call_defer(&c->call, PROV_E_INTERNAL, "could not start the offline writer (%s)",
                         uv_strerror(rc));
        return 0;
    }
    c->working = true;
    return 0;
}

static void ot_destroy(prov_text_t *t)
{
    free(t);
}

static const prov__text_ops_t ot_text_ops = {ot_write_story, ot_destroy};

int prov__offline_text_new(prov__ctx_t *ctx, int delay_ms, int words, prov_text_t **out)
{
    if (delay_ms < 0 || delay_ms > 1000 || words < 1 || words > 100) return -EINVAL;
    ot_prov_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->base.ops = &ot_text_ops;
    p->base.ctx = ctx;
    snprintf(p->base.name, sizeof p->base.name, "offline");
    snprintf(p->base.model, sizeof p->base.model, OT_MODEL);
    p->delay_ms = delay_ms;
    p->words = words;
    *out = &p->base;
    return 0;
}
