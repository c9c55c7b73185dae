/* aws_bedrock: Bedrock Runtime operations on an aws_client_t: Converse, ConverseStream (text
 * deltas delivered as they arrive), InvokeModel for image generation with one request builder
 * per model family, and an ordered image-model fallback chain that remembers dead models.
 *
 * Request structs are borrowed for the duration of the start call only (everything is copied or
 * serialized before it returns). Results passed to callbacks are owned by the library and valid
 * only during the callback, except the buffers the callback steals (it sets the pointer to NULL).
 *
 * Mid-stream failures in ConverseStream (an exception event inside HTTP 200, or a connection
 * dropped mid-body): when the failure is retryable (throttling, unavailable, internal, network)
 * and no text delta has reached the caller yet, the call is retried transparently. When text was
 * already delivered, the call is restarted only if the caller set on_reset: on_reset runs before
 * the first delta of the new attempt and the caller must discard what it received so far (the
 * final result text covers only the last attempt). Without on_reset the call fails with the
 * typed error and the caller keeps the partial text it has seen. */
#ifndef NOVA_AWS_AWS_BEDROCK_H
#define NOVA_AWS_AWS_BEDROCK_H

#include "aws/aws.h"

typedef struct {
    const char *role;     /* "user" or "assistant" */
    const char *text;     /* may be NULL when the message only carries an image */
    const uint8_t *image; /* optional image bytes (user messages only) */
    size_t image_len;     /* format (png/jpeg/gif/webp) is detected from the magic bytes */
} aws_message_t;

typedef struct {
    const char *model_id; /* base id, inference profile ("us.amazon.nova-2-lite-v1:0") or ARN */
    const char *system;   /* NULL or "" = no system prompt */
    const aws_message_t *messages;
    size_t message_count;
    int max_tokens;           /* 0 = omitted */
    double temperature;       /* < 0 = omitted */
    double top_p;             /* < 0 = omitted */
    const char *guardrail_id; /* both set = guardrailConfig passthrough */
    const char *guardrail_version;
    long timeout_ms; /* 0 = cfg.text_timeout_ms */
} aws_converse_req_t;

/* Fills the "omitted" markers (temperature/top_p = -1). */
void aws_converse_req_init(aws_converse_req_t *r);

typedef struct {
    char *text; /* NUL-terminated; the callback may take it (free() it, set to NULL) */
    size_t text_len;
    char stop_reason[48]; /* "end_turn", "max_tokens", "content_filtered"... */
    int64_t input_tokens, output_tokens, total_tokens;
    char request_id[72];
    int attempts;
} aws_converse_res_t;

/* err is NULL on success (then res is set), res is NULL on failure. */
typedef void (*aws_converse_cb)(void *arg, const aws_error_t *err, aws_converse_res_t *res);
typedef void (*aws_delta_cb)(void *arg, const char *text, size_t len);
typedef void (*aws_reset_cb)(void *arg);

/* Returns 0 (cb will run once), -EINVAL (missing model or messages, image of unknown format),
 * -ENOMEM. *out (may be NULL) receives a handle for aws_call_cancel, valid until cb runs. */
int aws_converse(aws_client_t *c, const aws_converse_req_t *req, aws_converse_cb cb, void *arg,
                 aws_call_t **out);

/* ConverseStream: on_delta gets each text delta in order; done gets the assembled text,
 * stopReason and usage. on_reset may be NULL (see the header comment). */
int aws_converse_stream(aws_client_t *c, const aws_converse_req_t *req, aws_delta_cb on_delta,
                        aws_reset_cb on_reset, aws_converse_cb done, void *arg, aws_call_t **out);

/* ---- image generation (InvokeModel) ---- */

typedef enum {
    AWS_IMAGE_FAMILY_UNKNOWN = 0,
    AWS_IMAGE_FAMILY_TITAN,        /* amazon.titan-image-generator-v2:0, amazon.nova-canvas-v1:0 */
    AWS_IMAGE_FAMILY_SDXL,         /* stability.stable-diffusion-xl-v1 */
    AWS_IMAGE_FAMILY_STABLE_IMAGE, /* stability.stable-image-core/ultra, stability.sd3-5-large */
} aws_image_family_t;

aws_image_family_t aws_image_family(const char *model_id);

typedef struct {
    const char *model_id;     /* for aws_image_generate */
    const char *prompt;       /* required */
    const char *negative;     /* NULL = none */
    int width, height;        /* requested size; each family picks its nearest allowed size */
    int64_t seed;             /* < 0 = omitted */
    double cfg_scale;         /* <= 0 = omitted */
    const char *style_preset; /* SDXL only; NULL = none */
    long timeout_ms;          /* 0 = cfg.image_timeout_ms */
} aws_image_req_t;

void aws_image_req_init(aws_image_req_t *r);

typedef struct {
    uint8_t *png; /* decoded image bytes; the callback may take them (free, set NULL) */
    size_t png_len;
    char model_id[128]; /* the model that produced them */
    int width, height;  /* the size that was requested from the model */
    int attempts;
} aws_image_res_t;

typedef void (*aws_image_cb)(void *arg, const aws_error_t *err, aws_image_res_t *res);

/* Builds the family's body into out (for tests and logs): the size snapped to the family's
 * allowed list, the Titan prompt cut to 512 characters at a word boundary. Returns 0, -EINVAL
 * (unknown family, empty prompt) or -ENOMEM. w and h (may be NULL) receive the chosen size. */
int aws_image_build_body(const aws_image_req_t *req, buf_t *out, int *w, int *h);

/* Moderation (Titan/Canvas error field or 400 "content filters", SDXL CONTENT_FILTERED,
 * Stable Image finish_reasons) fails with AWS_ERR_CONTENT_FILTERED and is never retried. */
int aws_image_generate(aws_client_t *c, const aws_image_req_t *req, aws_image_cb cb, void *arg,
                       aws_call_t **out);

typedef struct aws_image_chain aws_image_chain_t;
/* Tries the comma-separated models in order (req->model_id is ignored). A model answering
 * not-found or end-of-life/Legacy is skipped for the rest of the client's life (logged once);
 * content filtering and cancellation end the chain (another model must not get around a
 * refusal); any other error falls through to the next model. The last error is reported when
 * every model failed (AWS_ERR_NOT_FOUND when every model is known dead). */
int aws_image_generate_chain(aws_client_t *c, const char *models, const aws_image_req_t *req,
                             aws_image_cb cb, void *arg, aws_image_chain_t **out);
int aws_image_chain_cancel(aws_image_chain_t *chain);
/* 1 when the model was marked dead by a chain (or by aws_image_generate). */
int aws_image_model_is_dead(const aws_client_t *c, const char *model_id);

#endif
