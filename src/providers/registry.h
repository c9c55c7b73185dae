/* registry: picks and owns the four provider instances of a process (text, vision, speech,
 * image) from the configuration, tracks every call in flight so close can finish them, and
 * describes what is active for GET /api/providers/. "auto" picks the AWS providers (Bedrock,
 * Polly) when AWS credentials resolved and the offline ones otherwise; the caller resolves the
 * credentials (aws_client_probe) and passes the answer in the config.
 *
 * Ownership: the registry borrows the loop, the aws client and (when given) the net client;
 * they must outlive providers_close's callback. It owns the espeak singleton when it initialised
 * it, and its own net client when none was given. Loop thread only. */
#ifndef NOVA_PROVIDERS_REGISTRY_H
#define NOVA_PROVIDERS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include <yajl/yajl_gen.h>

#include "providers/provider.h"

typedef struct aws_client aws_client_t;
typedef struct net_client net_client_t;

/* Defaults of the model-backed providers. */
#define PROVIDERS_DEFAULT_OPENAI_BASE_URL "http://127.0.0.1:8080"
#define PROVIDERS_DEFAULT_OPENAI_MODEL    "default"
#define PROVIDERS_DEFAULT_BEDROCK_TEXT    "us.amazon.nova-2-lite-v1:0"
#define PROVIDERS_DEFAULT_BEDROCK_VISION  "us.amazon.nova-2-lite-v1:0"
#define PROVIDERS_DEFAULT_BEDROCK_IMAGES                                                           \
    "stability.stable-image-core-v1:1,stability.sd3-5-large-v1:0,amazon.nova-canvas-v1:0,"         \
    "amazon.titan-image-generator-v2:0"
#define PROVIDERS_DEFAULT_POLLY_VOICE  "Joanna"
#define PROVIDERS_DEFAULT_ESPEAK_VOICE "en-us-f"

/* Strings are borrowed during providers_new only (copied). NULL/"" = the default. */
typedef struct {
    const char *text;   /* "auto" | "bedrock" | "openai" | "offline" */
    const char *vision; /* "auto" | "bedrock" | "offline" */
    const char *speech; /* "auto" | "polly" | "espeak" */
    const char *image;  /* "auto" | "bedrock" | "offline" */
    bool aws_available; /* AWS credentials resolved: "auto" picks Bedrock/Polly */
    aws_client_t *aws;  /* required for bedrock/polly; "auto" falls back to offline without */
    net_client_t *net;  /* for the OpenAI-compatible provider; NULL = the registry makes one */

    const char *openai_base_url; /* e.g. "http://127.0.0.1:8080" (llama.cpp), ":11434" (Ollama) */
    const char *openai_api_key;  /* optional: sent as "Authorization: Bearer KEY"; never logged */
    const char *openai_model;    /* the "model" field of the request */
    long openai_timeout_ms;      /* whole request; 0 = 300000 */
    int openai_max_tokens;       /* 0 = derived from the target words */

    const char *bedrock_text_model;   /* model or inference profile id for Converse(Stream) */
    const char *bedrock_vision_model; /* a Converse model that accepts images */
    const char *bedrock_image_models; /* comma-separated fallback chain for InvokeModel */
    const char *polly_voice;          /* default Polly voice */
    const char *espeak_voice;         /* default espeak voice id */
    int espeak_rate_wpm;              /* 0 = espeak's default */

    /* Offline text pacing: deltas of offline_stream_words words every offline_stream_delay_ms
     * ms so the UI sees live text; delay 0 delivers every delta at once (tests). */
    int offline_stream_delay_ms; /* default 8, 0..1000 */
    int offline_stream_words;    /* default 3, 1..100 */
} providers_config_t;

/* Zeroes cfg and fills the defaults (every kind "auto", the model ids above, pacing 8 ms /
 * 3 words). */
void providers_config_defaults(providers_config_t *cfg);

typedef struct providers providers_t;

/* Creates the registry. Returns 0, -EINVAL with a message in err (an unknown choice; bedrock or
 * polly chosen explicitly without an aws client; a bad OpenAI base URL), -ENOMEM, or the
 * espeak/net start error. err may be NULL. */
int providers_new(uv_loop_t *loop, const providers_config_t *cfg, providers_t **out, char *err,
                  size_t errlen);

prov_text_t *providers_text(providers_t *p);
/* The offline composer, always present (it is the text provider itself when that is offline):
 * the flows write a safety fallback story with it. */
prov_text_t *providers_offline_text(providers_t *p);
/* Bedrock Guardrails for the bedrock text provider (issue 12): with both set, story inputs go
 * through ApplyGuardrail before the model and every Converse request carries guardrailConfig.
 * Returns 0, -EINVAL (only one of the two set) or -ENOTSUP (set while the text provider is not
 * bedrock: the guardrail cannot apply). Call before the first story is written. */
int providers_set_guardrail(providers_t *p, const char *id, const char *version);
prov_vision_t *providers_vision(providers_t *p);
prov_speech_t *providers_speech(providers_t *p);
prov_image_t *providers_image(providers_t *p);

/* Calls in flight across the four providers (for metrics and tests). */
size_t providers_in_flight(const providers_t *p);

/* Writes {"text":{"provider":"offline","model":"composer-v1"},"vision":{...},"speech":{...,
 * "voices":[{"id","name","gender","language"}],"default_voice":".."},"image":{...}} into g. */
void providers_describe_json(const providers_t *p, yajl_gen g);

/* Finishes every call in flight with PROV_E_SHUTDOWN, waits for worker threads and upstream
 * requests to let go, releases what the registry owns, then calls done(arg) from the loop and
 * frees p. New calls are refused with -ESHUTDOWN meanwhile. done may be NULL. Call once. */
void providers_close(providers_t *p, void (*done)(void *arg), void *arg);

#endif
