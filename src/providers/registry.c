/* registry: choosing, creating and closing the provider instances (see registry.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/log.h"
#include "net/net.h"
#include "providers/provider_int.h"
#include "providers/registry.h"
#include "providers/speech_espeak.h"

typedef enum { K_TEXT = 0, K_VISION, K_SPEECH, K_IMAGE, K__COUNT } kind_t;

static const char *const kind_names[K__COUNT] = {"text", "vision", "speech", "image"};

struct providers {
    prov__ctx_t ctx; /* first: on_drained gets it back */
    uv_loop_t *loop;
    prov_text_t *text;
    prov_text_t *offline_text; /* the composer, for the safety fallback; may equal text */
    prov_vision_t *vision;
    prov_speech_t *speech;
    prov_image_t *image;
    char configured[K__COUNT][16]; /* what the configuration asked for ("auto", ...) */
    bool aws_available;
    net_client_t *own_net;
    bool own_espeak;
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
};

void providers_config_defaults(providers_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->text = cfg->vision = cfg->speech = cfg->image = "auto";
    cfg->openai_base_url = PROVIDERS_DEFAULT_OPENAI_BASE_URL;
    cfg->openai_model = PROVIDERS_DEFAULT_OPENAI_MODEL;
    cfg->openai_timeout_ms = 300000;
    cfg->bedrock_text_model = PROVIDERS_DEFAULT_BEDROCK_TEXT;
    cfg->bedrock_vision_model = PROVIDERS_DEFAULT_BEDROCK_VISION;
    cfg->bedrock_image_models = PROVIDERS_DEFAULT_BEDROCK_IMAGES;
    cfg->polly_voice = PROVIDERS_DEFAULT_POLLY_VOICE;
    cfg->espeak_voice = PROVIDERS_DEFAULT_ESPEAK_VOICE;
    cfg->offline_stream_delay_ms = 8;
    cfg->offline_stream_words = 3;
}

static const char *or_default(const char *s, const char *def)
{
    return s && *s ? s : def;
}

/* Resolves one kind's choice: "auto" becomes aws_name when AWS is usable, else "offline" (or
 * offline_name). Returns the chosen backend name, or NULL with err for an unknown choice. */
static const char *choose(kind_t k, const char *want, const char *const *allowed, bool aws_ok,
                          const char *aws_name, const char *offline_name, char *err, size_t errlen)
{
    want = or_default(want, "auto");
    if (!strcasecmp(want, "auto")) return aws_ok ? aws_name : offline_name;
    for (size_t i = 0; allowed[i]; i++)
        if (!strcasecmp(want, allowed[i])) return allowed[i];
    if (err)
        snprintf(err, errlen, "unknown %s provider \"%s\" (expected auto or one of the others)",
                 kind_names[k], want);
    return NULL;
}

static void destroy_instances(providers_t *p)
{
    if (p->offline_text && p->offline_text != p->text)
        p->offline_text->ops->destroy(p->offline_text);
    if (p->text) p->text->ops->destroy(p->text);
    if (p->vision) p->vision->ops->destroy(p->vision);
    if (p->speech) p->speech->ops->destroy(p->speech);
    if (p->image) p->image->ops->destroy(p->image);
    p->text = NULL;
    p->offline_text = NULL;
    p->vision = NULL;
    p->speech = NULL;
    p->image = NULL;
}

static int fail(providers_t *p, int rc, char *err, size_t errlen, const char *what)
{
    if (err && what) snprintf(err, errlen, "%s", what);
    destroy_instances(p);
    if (p->own_espeak) speech_espeak_shutdown();
    if (p->own_net) net_client_close(p->own_net, NULL, NULL); /* frees itself on the loop */
    free(p);
    return rc;
}

int providers_new(uv_loop_t *loop, const providers_config_t *cfg, providers_t **out, char *err,
                  size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!loop || !cfg || !out) return -EINVAL;
    *out = NULL;
    static const char *const text_allowed[] = {"bedrock", "openai", "offline", NULL};
    static const char *const vision_allowed[] = {"bedrock", "offline", NULL};
    static const char *const speech_allowed[] = {"polly", "espeak", NULL};
    static const char *const image_allowed[] = {"bedrock", "offline", NULL};
    bool aws_ok = cfg->aws_available && cfg->aws;
    if (cfg->aws_available && !cfg->aws)
        log_warn("providers", "AWS credentials resolved but no aws client was given: "
                              "auto uses the offline providers");
    const char *ct =
        choose(K_TEXT, cfg->text, text_allowed, aws_ok, "bedrock", "offline", err, errlen);
    const char *cv = ct ? choose(K_VISION, cfg->vision, vision_allowed, aws_ok, "bedrock",
                                 "offline", err, errlen)
                        : NULL;
    const char *cs =
        cv ? choose(K_SPEECH, cfg->speech, speech_allowed, aws_ok, "polly", "espeak", err, errlen)
           : NULL;
    const char *ci =
        cs ? choose(K_IMAGE, cfg->image, image_allowed, aws_ok, "bedrock", "offline", err, errlen)
           : NULL;
    if (!ci) return -EINVAL;
    bool need_aws = !strcmp(ct, "bedrock") || !strcmp(cv, "bedrock") || !strcmp(cs, "polly") ||
                    !strcmp(ci, "bedrock");
    if (need_aws && !cfg->aws) {
        if (err) snprintf(err, errlen, "a bedrock/polly provider was chosen but AWS is not set up");
        return -EINVAL;
    }
    const char *base = or_default(cfg->openai_base_url, PROVIDERS_DEFAULT_OPENAI_BASE_URL);
    if (!strcmp(ct, "openai") && strncmp(base, "http://", 7) != 0 &&
        strncmp(base, "https://", 8) != 0) {
        if (err) snprintf(err, errlen, "the OpenAI base URL must start with http:// or https://");
        return -EINVAL;
    }

    providers_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->loop = loop;
    p->aws_available = cfg->aws_available;
    snprintf(p->configured[K_TEXT], sizeof p->configured[0], "%s", or_default(cfg->text, "auto"));
    snprintf(p->configured[K_VISION], sizeof p->configured[0], "%s",
             or_default(cfg->vision, "auto"));
    snprintf(p->configured[K_SPEECH], sizeof p->configured[0], "%s",
             or_default(cfg->speech, "auto"));
    snprintf(p->configured[K_IMAGE], sizeof p->configured[0], "%s", or_default(cfg->image, "auto"));
    prov__ctx_t *ctx = &p->ctx;
    ctx->loop = loop; /* the timer is set up last, once nothing can fail */

    int rc;
    if (!strcmp(ct, "bedrock"))
        rc = prov__bedrock_text_new(
            ctx, cfg->aws, or_default(cfg->bedrock_text_model, PROVIDERS_DEFAULT_BEDROCK_TEXT),
            &p->text);
    else if (!strcmp(ct, "offline"))
        rc = prov__offline_text_new(ctx, cfg->offline_stream_delay_ms,
                                    cfg->offline_stream_words ? cfg->offline_stream_words : 3,
                                    &p->text);
    else
        rc = 0; /* openai: after the net client exists */
    if (rc) return fail(p, rc, err, errlen, "bad text provider settings");

    rc = !strcmp(cv, "bedrock")
             ? prov__bedrock_vision_new(
                   ctx, cfg->aws,
                   or_default(cfg->bedrock_vision_model, PROVIDERS_DEFAULT_BEDROCK_VISION),
                   &p->vision)
             : prov__offline_vision_new(ctx, &p->vision);
    if (rc) return fail(p, rc, err, errlen, "bad vision provider settings");

    rc = !strcmp(ci, "bedrock")
             ? prov__bedrock_image_new(
                   ctx, cfg->aws,
                   or_default(cfg->bedrock_image_models, PROVIDERS_DEFAULT_BEDROCK_IMAGES),
                   &p->image)
             : prov__offline_image_new(ctx, &p->image);
    if (rc) return fail(p, rc, err, errlen, "bad image provider settings");

    if (!strcmp(cs, "polly")) {
        rc = prov__polly_new(
            ctx, cfg->aws, or_default(cfg->polly_voice, PROVIDERS_DEFAULT_POLLY_VOICE), &p->speech);
        if (rc) return fail(p, rc, err, errlen, "bad speech provider settings");
    } else {
        rc = prov__espeak_new(ctx, or_default(cfg->espeak_voice, PROVIDERS_DEFAULT_ESPEAK_VOICE),
                              cfg->espeak_rate_wpm, &p->speech);
        if (rc) return fail(p, rc, err, errlen, "unknown espeak voice or bad speech settings");
        speech_espeak_config_t ec = {.default_rate_wpm = cfg->espeak_rate_wpm};
        rc = speech_espeak_init(loop, &ec);
        if (rc == 0)
            p->own_espeak = true;
        else if (rc != -EALREADY)
            return fail(p, rc, err, errlen, "could not start espeak (bad rate?)");
    }

    if (!strcmp(ct, "openai")) {
        net_client_t *net = cfg->net;
        if (!net) {
            net_config_t nc;
            net_config_defaults(&nc);
            nc.default_timeout_ms = cfg->openai_timeout_ms > 0 ? cfg->openai_timeout_ms : 300000;
            net = p->own_net = net_client_new(loop, &nc);
            if (!net) return fail(p, -ENOMEM, err, errlen, "could not start the HTTP client");
        }
        prov__openai_config_t oc = {
            .net = net,
            .base_url = base,
            .api_key = cfg->openai_api_key,
            .model = or_default(cfg->openai_model, PROVIDERS_DEFAULT_OPENAI_MODEL),
            .timeout_ms = cfg->openai_timeout_ms,
            .max_tokens = cfg->openai_max_tokens,
        };
        rc = prov__openai_text_new(ctx, &oc, &p->text);
        if (rc) return fail(p, rc, err, errlen, "bad OpenAI-compatible provider settings");
    }

    /* The composer is always there: a story that cannot be shown is replaced by one it writes
     * from a gentle theme, whatever backend wrote the original. */
    if (!strcmp(p->text->name, "offline"))
        p->offline_text = p->text;
    else if ((rc = prov__offline_text_new(ctx, 0, 50, &p->offline_text)) != 0)
        return fail(p, rc, err, errlen, "could not create the offline composer");

    rc = prov__ctx_init(ctx, loop);
    if (rc) return fail(p, rc, err, errlen, "could not start a timer");
    log_info("providers", "text=%s/%s vision=%s/%s speech=%s/%s image=%s/%s", p->text->name,
             p->text->model, p->vision->name, p->vision->model, p->speech->name, p->speech->model,
             p->image->name, p->image->model);
    *out = p;
    return 0;
}

prov_text_t *providers_text(providers_t *p)
{
    return p ? p->text : NULL;
}
prov_text_t *providers_offline_text(providers_t *p)
{
    return p ? p->offline_text : NULL;
}

int providers_set_guardrail(providers_t *p, const char *id, const char *version)
{
    if (!p) return -EINVAL;
    bool id_set = id && *id, version_set = version && *version;
    if (id_set != version_set) return -EINVAL;
    if (strcmp(p->text->name, "bedrock") != 0) return id_set ? -ENOTSUP : 0;
    prov__bedrock_text_guardrail(p->text, id, version);
    return 0;
}

prov_vision_t *providers_vision(providers_t *p)
{
    return p ? p->vision : NULL;
}
prov_speech_t *providers_speech(providers_t *p)
{
    return p ? p->speech : NULL;
}
prov_image_t *providers_image(providers_t *p)
{
    return p ? p->image : NULL;
}

size_t providers_in_flight(const providers_t *p)
{
    return p ? p->ctx.ncalls : 0;
}

static void describe_kind(const providers_t *p, yajl_gen g, kind_t k, const char *name,
                          const char *model)
{
    json_key(g, kind_names[k]);
    yajl_gen_map_open(g);
    json_kv_str(g, "provider", name);
    json_kv_str(g, "model", model);
    json_kv_str(g, "configured", p->configured[k]);
    if (k == K_SPEECH) {
        json_kv_str(g, "default_voice", prov_speech_default_voice(p->speech));
        json_key(g, "voices");
        yajl_gen_array_open(g);
        size_t n = 0;
        const prov_voice_t *v = prov_speech_voices(p->speech, &n);
        for (size_t i = 0; i < n; i++) {
            yajl_gen_map_open(g);
            json_kv_str(g, "id", v[i].id);
            json_kv_str(g, "name", v[i].name);
            json_kv_str(g, "gender", v[i].gender);
            json_kv_str(g, "language", v[i].language);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
}

void providers_describe_json(const providers_t *p, yajl_gen g)
{
    yajl_gen_map_open(g);
    describe_kind(p, g, K_TEXT, p->text->name, p->text->model);
    describe_kind(p, g, K_VISION, p->vision->name, p->vision->model);
    describe_kind(p, g, K_SPEECH, p->speech->name, p->speech->model);
    describe_kind(p, g, K_IMAGE, p->image->name, p->image->model);
    json_kv_bool(g, "aws_credentials", p->aws_available);
    yajl_gen_map_close(g);
}

/* ---- close --------------------------------------------------------------------------------- */

static void close_finish(void *arg)
{
    providers_t *p = arg;
    void (*done)(void *) = p->done;
    void *done_arg = p->done_arg;
    free(p);
    if (done) done(done_arg);
}

static void close_timer_closed(uv_handle_t *h)
{
    providers_t *p = h->data;
    destroy_instances(p);
    if (p->own_net)
        net_client_close(p->own_net, close_finish, p);
    else
        close_finish(p);
}

static void close_drained(prov__ctx_t *ctx)
{
    providers_t *p = (providers_t *)ctx;
    uv_timer_stop(&ctx->defer_timer);
    ctx->defer_timer.data = p;
    uv_close((uv_handle_t *)&ctx->defer_timer, close_timer_closed);
}

void providers_close(providers_t *p, void (*done)(void *arg), void *arg)
{
    if (!p || p->closing) return;
    p->closing = true;
    p->done = done;
    p->done_arg = arg;
    p->ctx.on_drained = close_drained;
    prov__ctx_shutdown(&p->ctx);
    /* Queued espeak requests report -ECANCELED now (our handler defers the callbacks); a
     * running synthesis finishes first. */
    if (p->own_espeak) speech_espeak_shutdown();
    if (p->ctx.ncalls == 0) close_drained(&p->ctx);
}
