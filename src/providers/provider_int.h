/* provider_int: what the provider backends and the registry share and nobody else sees: the
 * call base every backend call embeds first, the in-flight list and the deferred-delivery queue
 * (the context), the instance vtables, the backend constructors and small helpers (status
 * mapping, spec checks, voice catalogues).
 *
 * Life of a call: prov__call_new links it into the context; the backend starts its work; the
 * work's own completion (after_work, net done, aws done, espeak done, or a deferred delivery)
 * reports to the owner unless call->cancelled, releases the backend's resources and ends with
 * prov__call_end, which unlinks and frees the call. abort() only asks the work to stop early;
 * the completion still arrives later, so a call is freed exactly once, in one place. */
#ifndef NOVA_PROVIDERS_PROVIDER_INT_H
#define NOVA_PROVIDERS_PROVIDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "providers/provider.h"

typedef struct prov__ctx prov__ctx_t;
typedef struct aws_client aws_client_t;
typedef struct net_client net_client_t;

typedef struct {
    /* Ask the backend work to stop soon (never completes the call synchronously). NULL when the
     * work cannot be interrupted. */
    void (*abort)(prov_call_t *call);
    /* Complete the call from the deferred queue with call->status and call->message. */
    void (*deliver)(prov_call_t *call);
} prov__call_ops_t;

struct prov_call {
    prov__ctx_t *ctx;
    const prov__call_ops_t *ops;
    prov_call_t *prev, *next; /* in-flight list of the context */
    prov_call_t *defer_next;
    bool cancelled; /* the owner cancelled: nothing is reported */
    bool shutdown;  /* providers_close: report PROV_E_SHUTDOWN */
    bool deferred;  /* waiting in the deferred queue */
    int status;
    char message[320];
};

struct prov__ctx {
    uv_loop_t *loop;
    prov_call_t *calls;
    size_t ncalls;
    prov_call_t *defer_head, *defer_tail;
    uv_timer_t defer_timer;
    bool closing;
    void (*on_drained)(prov__ctx_t *ctx); /* closing and the last call ended */
};

int prov__ctx_init(prov__ctx_t *ctx, uv_loop_t *loop);
/* Marks every call for shutdown and aborts its work. */
void prov__ctx_shutdown(prov__ctx_t *ctx);

/* Allocates size bytes (zeroed; the prov_call_t must be the first member) and links the call.
 * NULL when out of memory. */
void *prov__call_new(prov__ctx_t *ctx, size_t size, const prov__call_ops_t *ops);
/* Unlinks and frees the call (the backend freed its own resources first). */
void prov__call_end(prov_call_t *call);
/* Completes the call later from the loop through ops->deliver, with this status/message. */
void prov__call_defer(prov_call_t *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void prov__call_message(prov_call_t *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The status to report: PROV_E_SHUTDOWN once close marked the call, else status. */
int prov__call_status(const prov_call_t *call, int status);

/* ---- instances ---- */

typedef struct {
    int (*write_story)(prov_text_t *t, const prov_story_spec_t *spec, prov_delta_cb on_delta,
                       prov_story_cb on_done, void *arg, prov_call_t **call);
    void (*destroy)(prov_text_t *t);
    /* Optional (NULL: prov_text_story_extras answers -ENOTSUP). */
    int (*extras)(prov_text_t *t, const prov_story_spec_t *spec, const char *title,
                  const char *text, prov_extras_cb on_done, void *arg, prov_call_t **call);
} prov__text_ops_t;

struct prov_text {
    const prov__text_ops_t *ops;
    prov__ctx_t *ctx;
    char name[16];
    char model[160];
};

typedef struct {
    int (*describe)(prov_vision_t *v, const uint8_t *image, size_t len, prov_vision_cb on_done,
                    void *arg, prov_call_t **call);
    void (*destroy)(prov_vision_t *v);
} prov__vision_ops_t;

struct prov_vision {
    const prov__vision_ops_t *ops;
    prov__ctx_t *ctx;
    char name[16];
    char model[160];
};

typedef struct {
    int (*synthesize)(prov_speech_t *s, const char *text, const char *voice_id,
                      prov_speech_cb on_done, void *arg, prov_call_t **call);
    const prov_voice_t *(*voices)(size_t *count);
    void (*destroy)(prov_speech_t *s);
} prov__speech_ops_t;

struct prov_speech {
    const prov__speech_ops_t *ops;
    prov__ctx_t *ctx;
    char name[16];
    char model[160];
    char default_voice[64];
};

typedef struct {
    int (*render)(prov_image_t *im, const prov_image_spec_t *spec, prov_image_cb on_done, void *arg,
                  prov_call_t **call);
    void (*destroy)(prov_image_t *im);
} prov__image_ops_t;

struct prov_image {
    const prov__image_ops_t *ops;
    prov__ctx_t *ctx;
    char name[16];
    char model[160];
};

/* ---- backend constructors (each returns 0, -EINVAL or -ENOMEM) ---- */

int prov__offline_text_new(prov__ctx_t *ctx, int delay_ms, int words, prov_text_t **out);
/* Sets (or with NULL/"" clears) the Bedrock Guardrail of a bedrock text provider. */
void prov__bedrock_text_guardrail(prov_text_t *t, const char *id, const char *version);
typedef struct {
    net_client_t *net;
    const char *base_url, *api_key, *model;
    long timeout_ms;
    int max_tokens;
} prov__openai_config_t;
int prov__openai_text_new(prov__ctx_t *ctx, const prov__openai_config_t *cfg, prov_text_t **out);
int prov__bedrock_text_new(prov__ctx_t *ctx, aws_client_t *aws, const char *model,
                           prov_text_t **out);
int prov__offline_vision_new(prov__ctx_t *ctx, prov_vision_t **out);
int prov__bedrock_vision_new(prov__ctx_t *ctx, aws_client_t *aws, const char *model,
                             prov_vision_t **out);
int prov__espeak_new(prov__ctx_t *ctx, const char *default_voice, int rate_wpm,
                     prov_speech_t **out);
int prov__polly_new(prov__ctx_t *ctx, aws_client_t *aws, const char *default_voice,
                    prov_speech_t **out);
int prov__offline_image_new(prov__ctx_t *ctx, prov_image_t **out);
int prov__bedrock_image_new(prov__ctx_t *ctx, aws_client_t *aws, const char *models,
                            prov_image_t **out);

/* ---- helpers ---- */

/* Checks the spec against the PROV_STORY_* bounds; on failure returns PROV_E_INVALID and
 * writes why into msg. */
int prov__story_spec_check(const prov_story_spec_t *spec, char *msg, size_t cap);
/* Checks an image spec and resolves the size (0 = default); PROV_E_INVALID + msg on failure. */
int prov__image_spec_check(const prov_image_spec_t *spec, int *w, int *h, char *msg, size_t cap);
/* Maps a net status (NET_E_*) and an HTTP status onto a provider status. */
int prov__from_net(int net_status, long http_status);
/* Maps an aws_err_t onto a provider status. */
int prov__from_aws(int aws_err);

/* The voice catalogues (static). */
const prov_voice_t *prov__espeak_catalogue(size_t *count);
const prov_voice_t *prov__polly_catalogue(size_t *count);
/* Resolves voice_id against own (the provider's catalogue): "" or NULL -> default_id; a known
 * id -> itself; an id of other -> the closest own voice by language then gender (note set);
 * otherwise NULL. note receives a sentence about a substitution, or "". */
const prov_voice_t *prov__voice_resolve(const prov_voice_t *own, size_t nown,
                                        const prov_voice_t *other, size_t nother,
                                        const char *voice_id, const char *default_id, char *note,
                                        size_t cap);

/* Incremental title splitter for streamed model text: holds the first line back until it is
 * known whether it is a "Title:" line, then passes body text through. */
typedef struct {
    buf_t head;   /* text held back while the first line is incomplete */
    bool decided; /* the first line has been judged */
    bool skip_ws; /* a title line was dropped: drop the blank lines after it too */
    char title[200];
    buf_t text; /* the body: everything passed through (the final result text) */
} prov__title_split_t;

void prov__title_split_init(prov__title_split_t *ts, size_t max_text);
void prov__title_split_free(prov__title_split_t *ts);
/* Feeds a delta; body bytes that may be passed on are appended to ts->text and reported via
 * out (pointer into ts->text) / out_len. Returns 0 or -ENOBUFS/-ENOMEM. */
int prov__title_split_feed(prov__title_split_t *ts, const char *data, size_t len, const char **out,
                           size_t *out_len);
/* A title made from the story idea, for answers without one. */
void prov__title_from_prompt(const char *prompt, char *title, size_t cap);
/* End of the stream: judges a first line still held back. Same outputs as feed. */
int prov__title_split_finish(prov__title_split_t *ts, const char **out, size_t *out_len);

#endif
