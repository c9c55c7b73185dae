/* providers_glue: start-up and shutdown of the outbound clients and the provider registry.
 * At start the AWS credential chain is probed (environment, profile, container endpoint, IMDS)
 * by running the loop until the probe answers, before the server listens; `auto` then picks
 * Bedrock/Polly when credentials resolve and the offline providers otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/stories.h"
#include "aws/aws.h"
#include "core/log.h"
#include "net/net.h"
#include "providers/registry.h"

typedef struct {
    bool done;
    aws_probe_t result;
    char source[32], message[256];
} glue__probe_t;

static void glue__probe_cb(void *arg, const aws_probe_t *p)
{
    glue__probe_t *g = arg;
    g->result = *p;
    snprintf(g->source, sizeof g->source, "%s", p->source ? p->source : "none");
    snprintf(g->message, sizeof g->message, "%s", p->message ? p->message : "");
    g->result.source = g->source;
    g->result.message = g->message;
    g->done = true;
}

int api_providers_start(app_t *app, char *err, size_t errlen)
{
    const config_t *cfg = app->cfg;
    net_config_t nc;
    net_config_defaults(&nc);
    app->net = net_client_new(app->loop, &nc);
    if (!app->net) return snprintf(err, errlen, "cannot start the HTTP client"), -1;

    aws_config_t ac;
    aws_config_defaults(&ac);
    if (aws_config_from_env(&ac) != 0) {
        aws_config_free(&ac);
        return snprintf(err, errlen, "out of memory reading the AWS settings"), -1;
    }
    ac.bedrock_max_inflight = (int)cfg->bedrock_max_inflight;
    ac.polly_max_inflight = (int)cfg->polly_max_inflight;
    app->aws = aws_client_new(app->loop, app->net, &ac);
    aws_config_free(&ac);
    if (!app->aws) return snprintf(err, errlen, "invalid AWS endpoint settings"), -1;

    glue__probe_t probe = {0};
    if (aws_client_probe(app->aws, glue__probe_cb, &probe) == 0)
        while (!probe.done)
            uv_run(app->loop, UV_RUN_ONCE);
    log_info("providers", "AWS credentials: %s%s%s",
             probe.done && probe.result.bedrock ? probe.source : "none",
             probe.message[0] ? " - " : "", probe.message);

    providers_config_t pc;
    providers_config_defaults(&pc);
    pc.text = cfg->text_provider;
    pc.vision = cfg->vision_provider;
    pc.speech = cfg->speech_provider;
    pc.image = cfg->image_provider;
    pc.aws_available = probe.done && probe.result.bedrock && probe.result.polly;
    pc.aws = app->aws;
    pc.net = app->net;
    pc.openai_base_url = cfg->openai_base_url;
    pc.openai_api_key = cfg->openai_api_key;
    pc.openai_model = cfg->openai_model;
    pc.bedrock_text_model = cfg->text_model;
    pc.bedrock_vision_model = cfg->vision_model;
    pc.bedrock_image_models = cfg->image_models;
    pc.polly_voice = cfg->polly_voice;
    pc.espeak_voice = cfg->espeak_voice;
    pc.offline_stream_delay_ms = (int)cfg->offline_stream_delay_ms;
    int rc = providers_new(app->loop, &pc, &app->providers, err, errlen);
    if (rc != 0) return rc;
    /* voice_id validation and available_voices follow the narrator actually in use. */
    stories_voices_set_provider(prov_speech_name(providers_speech(app->providers)));
    yajl_gen g = yajl_gen_alloc(NULL);
    providers_describe_json(app->providers, g);
    const unsigned char *out;
    size_t len;
    yajl_gen_get_buf(g, &out, &len);
    log_info("providers", "active providers: %.*s", (int)len, (const char *)out);
    yajl_gen_free(g);
    return 0;
}

typedef struct {
    app_t *app;
    void (*done)(void *);
    void *arg;
} glue__stop_t;

static void glue__net_closed(void *arg)
{
    glue__stop_t *s = arg;
    void (*done)(void *) = s->done;
    void *darg = s->arg;
    free(s);
    if (done) done(darg);
}

static void glue__aws_closed(void *arg)
{
    glue__stop_t *s = arg;
    net_client_t *net = s->app->net;
    s->app->net = NULL;
    if (net)
        net_client_close(net, glue__net_closed, s);
    else
        glue__net_closed(s);
}

static void glue__providers_closed(void *arg)
{
    glue__stop_t *s = arg;
    aws_client_t *aws = s->app->aws;
    s->app->aws = NULL;
    if (aws)
        aws_client_close(aws, glue__aws_closed, s);
    else
        glue__aws_closed(s);
}

void api_providers_stop(app_t *app, void (*done)(void *), void *arg)
{
    glue__stop_t *s = malloc(sizeof *s);
    if (!s) {
        if (done) done(arg);
        return;
    }
    s->app = app;
    s->done = done;
    s->arg = arg;
    providers_t *p = app->providers;
    app->providers = NULL;
    if (p)
        providers_close(p, glue__providers_closed, s);
    else
        glue__providers_closed(s);
}
