/* provider_bedrock: the "bedrock" text, vision and image providers over the aws client
 * (src/aws): ConverseStream for stories (deltas passed on with the "Title:" line held back),
 * Converse with an image block for descriptions, and InvokeModel through the image-model
 * fallback chain for illustrations. Retries, throttling and credentials live in the aws client;
 * this file builds the requests and maps results and errors onto the provider interface. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_bedrock.h"
#include "aws/bedrock_guardrail.h"
#include "core/log.h"
#include "providers/provider_int.h"

#define BR_MAX_TEXT (1u << 20)

typedef struct {
    prov_text_t base;
    aws_client_t *aws;
    /* Bedrock Guardrails (both set or both empty): inputs go through ApplyGuardrail first and
     * every Converse request carries guardrailConfig. */
    char guardrail_id[256];
    char guardrail_version[16];
} br_text_t;

static bool br_guarded(const br_text_t *p)
{
    return p->guardrail_id[0] && p->guardrail_version[0];
}

typedef struct {
    prov_vision_t base;
    aws_client_t *aws;
} br_vision_t;

typedef struct {
    prov_image_t base;
    aws_client_t *aws;
    char *models; /* comma-separated chain */
} br_image_t;

static int br_status(const aws_error_t *err, const char *what, char *msg, size_t cap)
{
    aws_error_format(err, what, msg, cap);
    return prov__from_aws((int)err->code);
}

/* ---- text ---------------------------------------------------------------------------------- */

typedef struct {
    prov_call_t call; /* first */
    br_text_t *prov;
    prov_delta_cb on_delta;
    prov_story_cb on_done;
    void (*on_restart)(void *arg);
    void *arg;
    aws_call_t *handle;
    prov__title_split_t ts;
    char fallback_title[96];
    char finish[48];
    int64_t in_tokens, out_tokens;
    bool input_blocked;
    buf_t sys, user; /* kept while ApplyGuardrail screens the input */
    int max_tokens;
} bt_call_t;

static void bt_end(bt_call_t *c)
{
    prov__title_split_free(&c->ts);
    buf_free(&c->sys);
    buf_free(&c->user);
    prov__call_end(&c->call);
}

static void bt_report(bt_call_t *c, int status, const char *msg)
{
    prov_story_result_t r = {
        .title = c->ts.title[0] ? c->ts.title : c->fallback_title,
        .text = c->ts.text.data ? c->ts.text.data : "",
        .len = c->ts.text.len,
        .provider = c->prov->base.name,
        .model = c->prov->base.model,
        .message = msg ? msg : "",
        .finish_reason = c->finish,
        .input_tokens = c->in_tokens,
        .output_tokens = c->out_tokens,
        .input_blocked = c->input_blocked,
    };
    c->on_done(status, &r, c->arg);
}

static void bt_delta(void *arg, const char *text, size_t len)
{
    bt_call_t *c = arg;
    const char *out;
    size_t n;
    if (prov__title_split_feed(&c->ts, text, len, &out, &n)) return; /* over the cap: dropped */
    if (n && c->on_delta && !c->call.cancelled && !c->call.shutdown) c->on_delta(out, n, c->arg);
}

/* The aws client restarts a stream that broke off with a retryable error: the text so far (and
 * its held-back title) starts over, and so must the owner's. */
static void bt_restart(void *arg)
{
    bt_call_t *c = arg;
    prov__title_split_free(&c->ts);
    prov__title_split_init(&c->ts, BR_MAX_TEXT);
    if (c->on_restart && !c->call.cancelled && !c->call.shutdown) c->on_restart(c->arg);
}

static void bt_done(void *arg, const aws_error_t *err, aws_converse_res_t *res)
{
    bt_call_t *c = arg;
    c->handle = NULL;
    if (c->call.cancelled) {
        bt_end(c);
        return;
    }
    char msg[400] = "";
    int st = PROV_OK;
    if (c->call.shutdown) {
        st = PROV_E_SHUTDOWN;
        snprintf(msg, sizeof msg, "the server is shutting down");
    } else if (err) {
        st = br_status(err, "bedrock story", msg, sizeof msg);
    } else {
        snprintf(c->finish, sizeof c->finish, "%s", res->stop_reason);
        c->in_tokens = res->input_tokens;
        c->out_tokens = res->output_tokens;
        const char *out;
        size_t n;
        if (prov__title_split_finish(&c->ts, &out, &n) == 0 && n && c->on_delta)
            c->on_delta(out, n, c->arg);
        if (!strcmp(res->stop_reason, "content_filtered") ||
            !strcmp(res->stop_reason, "guardrail_intervened")) {
            st = PROV_E_CONTENT_FILTERED;
            snprintf(msg, sizeof msg, "the model's safety filter stopped the story");
        } else if (!c->ts.text.len) {
            st = PROV_E_BAD_RESPONSE;
            snprintf(msg, sizeof msg, "the model returned no story");
        } else if (!strcmp(res->stop_reason, "max_tokens")) {
            snprintf(msg, sizeof msg, "the model stopped at its length limit");
        }
    }
    if (st && st != PROV_E_SHUTDOWN) log_warn("providers", "bedrock text: %s", msg);
    bt_report(c, st, msg);
    bt_end(c);
}

static void bt_abort(prov_call_t *call)
{
    bt_call_t *c = (bt_call_t *)call;
    if (c->handle) aws_call_cancel(c->handle);
}

static void bt_deliver(prov_call_t *call)
{
    bt_call_t *c = (bt_call_t *)call;
    if (!call->cancelled) bt_report(c, prov__call_status(call, call->status), call->message);
    bt_end(c);
}

static const prov__call_ops_t bt_ops = {bt_abort, bt_deliver};

static int bt_stream(bt_call_t *c)
{
    br_text_t *p = c->prov;
    aws_message_t m = {.role = "user", .text = c->user.data};
    aws_converse_req_t req;
    aws_converse_req_init(&req);
    req.model_id = p->base.model;
    req.system = c->sys.data;
    req.messages = &m;
    req.message_count = 1;
    req.max_tokens = c->max_tokens;
    req.temperature = 0.8;
    if (br_guarded(p)) {
        req.guardrail_id = p->guardrail_id;
        req.guardrail_version = p->guardrail_version;
    }
    return aws_converse_stream(p->aws, &req, bt_delta, c->on_restart ? bt_restart : NULL, bt_done,
                               c, &c->handle);
}

/* ApplyGuardrail answered for the story's input: a refusal ends the call as filtered (marked as
 * an input refusal, so the flow replaces the prompt instead of asking again); otherwise the
 * story is written. */
static void bt_guarded(void *arg, const aws_error_t *err, const aws_guardrail_res_t *res)
{
    bt_call_t *c = arg;
    c->handle = NULL;
    if (c->call.cancelled) {
        bt_end(c);
        return;
    }
    char msg[400] = "";
    int st = PROV_OK;
    if (c->call.shutdown) {
        st = PROV_E_SHUTDOWN;
        snprintf(msg, sizeof msg, "the server is shutting down");
    } else if (err) {
        st = br_status(err, "bedrock guardrail", msg, sizeof msg);
    } else if (res->intervened) {
        st = PROV_E_CONTENT_FILTERED;
        c->input_blocked = true;
        snprintf(msg, sizeof msg, "the guardrail refused the story request");
    } else {
        int rc = bt_stream(c);
        if (rc == 0) return;
        st = rc == -ENOMEM ? PROV_E_INTERNAL : PROV_E_INVALID;
        snprintf(msg, sizeof msg, "the story request was refused (%d)", rc);
    }
    if (st != PROV_E_SHUTDOWN) log_warn("providers", "bedrock text: %s", msg);
    bt_report(c, st, msg);
    bt_end(c);
}

static int bt_write_story(prov_text_t *t, const prov_story_spec_t *spec, prov_delta_cb on_delta,
                          prov_story_cb on_done, void *arg, prov_call_t **call)
{
    br_text_t *p = (br_text_t *)t;
    bt_call_t *c = prov__call_new(t->ctx, sizeof *c, &bt_ops);
    if (!c) return -ENOMEM;
    c->prov = p;
    c->on_delta = on_delta;
    c->on_done = on_done;
    c->on_restart = spec->on_restart;
    c->arg = arg;
    c->in_tokens = c->out_tokens = -1;
    prov__title_split_init(&c->ts, BR_MAX_TEXT);
    if (call) *call = &c->call;
    char msg[200];
    int st = prov__story_spec_check(spec, msg, sizeof msg);
    if (st) {
        prov__call_defer(&c->call, st, "%s", msg);
        return 0;
    }
    prov__title_from_prompt(spec->prompt, c->fallback_title, sizeof c->fallback_title);
    buf_init(&c->sys, 64 * 1024);
    buf_init(&c->user, 256 * 1024);
    c->max_tokens = (spec->target_words > 0 ? spec->target_words : 500) * 2 + 300;
    int rc = prov_story_prompt_build(spec, &c->sys, &c->user);
    if (rc == 0 && br_guarded(p)) {
        /* Only what the family wrote is screened as input (our own instructions are not). */
        const char *texts[3] = {spec->prompt, spec->modifications, spec->image_description};
        aws_guardrail_req_t g = {.guardrail_id = p->guardrail_id,
                                 .guardrail_version = p->guardrail_version,
                                 .texts = texts,
                                 .ntexts = 3};
        rc = aws_apply_guardrail(p->aws, &g, bt_guarded, c, &c->handle);
    } else if (rc == 0) {
        rc = bt_stream(c);
    }
    if (rc == -ENOMEM) {
        bt_end(c);
        if (call) *call = NULL;
        return -ENOMEM;
    }
    if (rc) prov__call_defer(&c->call, PROV_E_INVALID, "the story request was refused (%d)", rc);
    return 0;
}

/* ---- one Converse call with one text answer (character sheet, picture description) ----------- */

/* The call plumbing both share: cancellation, shutdown, errors, the model's filter and an empty
 * answer become a status and a message; `report` turns them into the caller's result type. */
typedef struct br_once br_once_t;
struct br_once {
    prov_call_t call;     /* first */
    const char *what;     /* "bedrock sheet": prefix of error messages */
    const char *filtered; /* message when the model's filter stopped the answer */
    const char *empty;    /* message when the answer has no text */
    void (*report)(br_once_t *c, int status, const char *text, const char *msg);
    aws_call_t *handle;
};

static void br_once_done(void *arg, const aws_error_t *err, aws_converse_res_t *res)
{
    br_once_t *c = arg;
    c->handle = NULL;
    if (!c->call.cancelled) {
        char msg[400] = "";
        if (c->call.shutdown)
            c->report(c, PROV_E_SHUTDOWN, NULL, "the server is shutting down");
        else if (err)
            c->report(c, br_status(err, c->what, msg, sizeof msg), NULL, msg);
        else if (!strcmp(res->stop_reason, "content_filtered") ||
                 !strcmp(res->stop_reason, "guardrail_intervened"))
            c->report(c, PROV_E_CONTENT_FILTERED, NULL, c->filtered);
        else if (!res->text || !res->text_len)
            c->report(c, PROV_E_BAD_RESPONSE, NULL, c->empty);
        else
            c->report(c, PROV_OK, res->text, "");
    }
    prov__call_end(&c->call);
}

static void br_once_abort(prov_call_t *call)
{
    br_once_t *c = (br_once_t *)call;
    if (c->handle) aws_call_cancel(c->handle);
}

static void br_once_deliver(prov_call_t *call)
{
    br_once_t *c = (br_once_t *)call;
    if (!call->cancelled) c->report(c, prov__call_status(call, call->status), NULL, call->message);
    prov__call_end(call);
}

static const prov__call_ops_t br_once_ops = {br_once_abort, br_once_deliver};

/* Sends req (rc_in: a failure found while building it, or 0). Returns what the provider entry
 * point returns: -ENOMEM (nothing started), or 0 with the outcome delivered later. */
static int br_once_send(br_once_t *c, aws_client_t *aws, const aws_converse_req_t *req, int rc_in,
                        const char *invalid, prov_call_t **call)
{
    int rc = rc_in ? rc_in : aws_converse(aws, req, br_once_done, c, &c->handle);
    if (rc == -ENOMEM) {
        prov__call_end(&c->call);
        if (call) *call = NULL;
        return -ENOMEM;
    }
    if (rc) prov__call_defer(&c->call, PROV_E_INVALID, "%s", invalid);
    return 0;
}

/* ---- character sheet and questions (one Converse call, JSON answer) ---------------------- */

typedef struct {
    br_once_t once; /* first */
    const char *provider, *model;
    prov_extras_cb on_done;
    void *arg;
} bx_call_t;

static void bx_report(br_once_t *o, int status, const char *json, const char *msg)
{
    bx_call_t *c = (bx_call_t *)o;
    prov_extras_result_t r = {
        .json = json ? json : "",
        .provider = c->provider,
        .model = c->model,
        .message = msg ? msg : "",
    };
    c->on_done(status, &r, c->arg);
}

static int bt_extras(prov_text_t *t, const prov_story_spec_t *spec, const char *title,
                     const char *text, prov_extras_cb on_done, void *arg, prov_call_t **call)
{
    br_text_t *p = (br_text_t *)t;
    bx_call_t *c = prov__call_new(t->ctx, sizeof *c, &br_once_ops);
    if (!c) return -ENOMEM;
    c->once.what = "bedrock sheet";
    c->once.filtered = "the model's safety filter stopped it";
    c->once.empty = "the model returned nothing";
    c->once.report = bx_report;
    c->provider = p->base.name;
    c->model = p->base.model;
    c->on_done = on_done;
    c->arg = arg;
    if (call) *call = &c->once.call;
    buf_t sys, user;
    buf_init(&sys, 64 * 1024);
    buf_init(&user, 256 * 1024);
    int rc = prov_extras_prompt_build(spec, title, text, &sys, &user);
    aws_message_t m = {.role = "user", .text = user.data};
    aws_converse_req_t req;
    aws_converse_req_init(&req);
    req.model_id = t->model;
    req.system = sys.data;
    req.messages = &m;
    req.message_count = 1;
    req.max_tokens = 1500;
    req.temperature = 0.2;
    if (br_guarded(p)) {
        req.guardrail_id = p->guardrail_id;
        req.guardrail_version = p->guardrail_version;
    }
    rc = br_once_send(&c->once, p->aws, &req, rc, "the sheet request was refused", call);
    buf_free(&sys);
    buf_free(&user);
    return rc;
}

void prov__bedrock_text_guardrail(prov_text_t *t, const char *id, const char *version)
{
    br_text_t *p = (br_text_t *)t;
    bool both = id && *id && version && *version;
    snprintf(p->guardrail_id, sizeof p->guardrail_id, "%s", both ? id : "");
    snprintf(p->guardrail_version, sizeof p->guardrail_version, "%s", both ? version : "");
}

static void bt_destroy(prov_text_t *t)
{
    free(t);
}

static const prov__text_ops_t bt_text_ops = {bt_write_story, bt_destroy, bt_extras};

int prov__bedrock_text_new(prov__ctx_t *ctx, aws_client_t *aws, const char *model,
                           prov_text_t **out)
{
    if (!aws || !model || !*model) return -EINVAL;
    br_text_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->base.ops = &bt_text_ops;
    p->base.ctx = ctx;
    p->aws = aws;
    snprintf(p->base.name, sizeof p->base.name, "bedrock");
    snprintf(p->base.model, sizeof p->base.model, "%s", model);
    *out = &p->base;
    return 0;
}

/* ---- vision -------------------------------------------------------------------------------- */

static const char bv_system[] =
    "You describe pictures that children share with a storyteller. Answer with one or two "
    "short, friendly sentences about what the picture shows: the main things, colours and "
    "mood. Never guess who a real person is, never mention private details, and if the "
    "picture is unsuitable for children say only that it cannot be used for a story.";
static const char bv_ask[] = "Describe this picture for a children's story.";

typedef struct {
    br_once_t once; /* first */
    const char *provider, *model;
    prov_vision_cb on_done;
    void *arg;
} bv_call_t;

static void bv_report(br_once_t *o, int status, const char *text, const char *msg)
{
    bv_call_t *c = (bv_call_t *)o;
    prov_vision_result_t r = {
        .text = text ? text : "",
        .provider = c->provider,
        .model = c->model,
        .message = msg ? msg : "",
    };
    c->on_done(status, &r, c->arg);
}

static int bv_describe(prov_vision_t *v, const uint8_t *image, size_t len, prov_vision_cb on_done,
                       void *arg, prov_call_t **call)
{
    br_vision_t *p = (br_vision_t *)v;
    bv_call_t *c = prov__call_new(v->ctx, sizeof *c, &br_once_ops);
    if (!c) return -ENOMEM;
    c->once.what = "bedrock vision";
    c->once.filtered = "the picture was refused by the filter";
    c->once.empty = "the model returned no description";
    c->once.report = bv_report;
    c->provider = p->base.name;
    c->model = p->base.model;
    c->on_done = on_done;
    c->arg = arg;
    if (call) *call = &c->once.call;
    aws_message_t m = {.role = "user", .text = bv_ask, .image = image, .image_len = len};
    aws_converse_req_t req;
    aws_converse_req_init(&req);
    req.model_id = v->model;
    req.system = bv_system;
    req.messages = &m;
    req.message_count = 1;
    req.max_tokens = 300;
    req.temperature = 0.2;
    return br_once_send(&c->once, p->aws, &req, len ? 0 : -EINVAL,
                        "the picture is empty or not a PNG, JPEG, GIF or WebP image", call);
}

static void bv_destroy(prov_vision_t *v)
{
    free(v);
}

static const prov__vision_ops_t bv_vision_ops = {bv_describe, bv_destroy};

int prov__bedrock_vision_new(prov__ctx_t *ctx, aws_client_t *aws, const char *model,
                             prov_vision_t **out)
{
    if (!aws || !model || !*model) return -EINVAL;
    br_vision_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->base.ops = &bv_vision_ops;
    p->base.ctx = ctx;
    p->aws = aws;
    snprintf(p->base.name, sizeof p->base.name, "bedrock");
    snprintf(p->base.model, sizeof p->base.model, "%s", model);
    *out = &p->base;
    return 0;
}

/* ---- image --------------------------------------------------------------------------------- */

typedef struct {
    prov_call_t call; /* first */
    br_image_t *prov;
    prov_image_cb on_done;
    void *arg;
    aws_image_chain_t *chain;
} bi_call_t;

static void bi_report(bi_call_t *c, int status, aws_image_res_t *res, const char *msg)
{
    prov_image_result_t r = {
        .provider = c->prov->base.name,
        .model = res ? res->model_id : c->prov->base.model,
        .message = msg ? msg : "",
    };
    if (res) {
        r.png = res->png;
        r.len = res->png_len;
        r.width = res->width;
        r.height = res->height;
    }
    c->on_done(status, &r, c->arg);
    if (res && !r.png) res->png = NULL; /* taken by the callback */
}

static void bi_done(void *arg, const aws_error_t *err, aws_image_res_t *res)
{
    bi_call_t *c = arg;
    c->chain = NULL;
    if (!c->call.cancelled) {
        char msg[400] = "";
        if (c->call.shutdown)
            bi_report(c, PROV_E_SHUTDOWN, NULL, "the server is shutting down");
        else if (err)
            bi_report(c, br_status(err, "bedrock image", msg, sizeof msg), NULL, msg);
        else
            bi_report(c, PROV_OK, res, "");
    }
    prov__call_end(&c->call);
}

static void bi_abort(prov_call_t *call)
{
    bi_call_t *c = (bi_call_t *)call;
    if (c->chain) aws_image_chain_cancel(c->chain);
}

static void bi_deliver(prov_call_t *call)
{
    bi_call_t *c = (bi_call_t *)call;
    if (!call->cancelled) bi_report(c, prov__call_status(call, call->status), NULL, call->message);
    prov__call_end(call);
}

static const prov__call_ops_t bi_ops = {bi_abort, bi_deliver};

/* The prompt a model sees: the scene, a storybook style and the characters' looks, so the
 * same characters look alike on every page. */
static int bi_prompt(const prov_image_spec_t *s, buf_t *out)
{
    /* The flows' scene prompts already carry style words and the character sheet, within the
     * model's prompt limit: adding more would push the scene off the end of a 512-character
     * Titan prompt. */
    if (s->prompt_complete) return buf_append_str(out, s->prompt);
    int rc = buf_printf(out,
                        "Children's storybook illustration, soft friendly colours, gentle "
                        "and cheerful, no text. %s",
                        s->prompt);
    size_t n = s->characters ? s->ncharacters : 0;
    for (size_t i = 0; i < n && i < PROV_IMAGE_MAX_CHARACTERS && !rc; i++) {
        const prov_character_t *ch = &s->characters[i];
        if (!ch->name || !*ch->name) continue;
        rc = buf_printf(out, "%s%s the %s", i ? "; " : ". Characters: ", ch->name,
                        ch->kind && *ch->kind ? ch->kind : "child");
        for (size_t k = 0; k < 3 && !rc; k++)
            if (ch->colours[k] && *ch->colours[k])
                rc = buf_printf(out, "%s%s", k ? " and " : ", coloured ", ch->colours[k]);
    }
    return rc;
}

static int bi_render(prov_image_t *im, const prov_image_spec_t *spec, prov_image_cb on_done,
                     void *arg, prov_call_t **call)
{
    br_image_t *p = (br_image_t *)im;
    bi_call_t *c = prov__call_new(im->ctx, sizeof *c, &bi_ops);
    if (!c) return -ENOMEM;
    c->prov = p;
    c->on_done = on_done;
    c->arg = arg;
    if (call) *call = &c->call;
    char msg[200];
    int w = 0, h = 0;
    int st = prov__image_spec_check(spec, &w, &h, msg, sizeof msg);
    if (st) {
        prov__call_defer(&c->call, st, "%s", msg);
        return 0;
    }
    buf_t prompt, neg;
    buf_init(&prompt, 16 * 1024);
    buf_init(&neg, 4096);
    int rc = bi_prompt(spec, &prompt);
    if (!rc)
        rc = buf_printf(&neg, "scary, violent, gore, weapons, text, watermark%s%s",
                        spec->negative_prompt && *spec->negative_prompt ? ", " : "",
                        spec->negative_prompt ? spec->negative_prompt : "");
    if (!rc) {
        aws_image_req_t req;
        aws_image_req_init(&req);
        req.prompt = prompt.data;
        req.negative = neg.data;
        req.width = w;
        req.height = h;
        req.seed = spec->seed >= 0 ? spec->seed % 858993459 : -1;
        rc = aws_image_generate_chain(p->aws, p->models, &req, bi_done, c, &c->chain);
    }
    buf_free(&prompt);
    buf_free(&neg);
    if (rc == -ENOMEM || rc == -ENOBUFS) {
        prov__call_end(&c->call);
        if (call) *call = NULL;
        return -ENOMEM;
    }
    if (rc) prov__call_defer(&c->call, PROV_E_INVALID, "the picture request was refused (%d)", rc);
    return 0;
}

static void bi_destroy(prov_image_t *im)
{
    br_image_t *p = (br_image_t *)im;
    free(p->models);
    free(p);
}

static const prov__image_ops_t bi_image_ops = {bi_render, bi_destroy};

int prov__bedrock_image_new(prov__ctx_t *ctx, aws_client_t *aws, const char *models,
                            prov_image_t **out)
{
    if (!aws || !models || !*models) return -EINVAL;
    br_image_t *p = calloc(1, sizeof *p);
    if (!p || !(p->models = strdup(models))) {
        free(p);
        return -ENOMEM;
    }
    p->base.ops = &bi_image_ops;
    p->base.ctx = ctx;
    p->aws = aws;
    snprintf(p->base.name, sizeof p->base.name, "bedrock");
    /* The model is the head of the chain until a call reports the one that answered. */
    size_t n = strcspn(models, ",");
    snprintf(p->base.model, sizeof p->base.model, "%.*s", (int)n, models);
    *out = &p->base;
    return 0;
}
