/* provider: the four provider interfaces the story pipeline talks to, whatever backend sits
 * behind them: text (write a story, streaming deltas), vision (describe a picture), speech (list
 * voices, synthesize PCM with word and sentence timings) and image (render a PNG for a scene).
 * Backends: Amazon Bedrock/Polly, an OpenAI-compatible server, and the offline ones (story
 * composer, image describer, espeak-ng, procedural illustrator). Instances come from the registry
 * (registry.h), which owns them; this header defines the calls and their callback rules.
 *
 * Callback rules, shared by every asynchronous call below:
 *  - Everything runs on the loop thread of the registry; nothing here is thread-safe. Offline
 *    CPU work runs on the libuv threadpool, never on the loop.
 *  - A start call that returns 0 has accepted the request: its done callback runs exactly once,
 *    later on the loop (never from inside the start call, prov_cancel or providers_close),
 *    unless prov_cancel is called first. Problems with the request itself (a bad spec, an
 *    unknown voice, a refused upstream call) are reported through the callback with a status
 *    and a message, so callers have a single error path.
 *  - A start call that returns a negative errno (-EINVAL for NULL/missing arguments, -ENOMEM,
 *    -ESHUTDOWN while the registry closes) did not accept the request and never calls back.
 *  - Cancellation: after prov_cancel(call) no callback of that call runs (neither a delta nor
 *    done), and the handle is invalid. Memory and backend work are reclaimed in the background
 *    (an upstream HTTP request is aborted; offline work that already started on a worker thread
 *    runs to its end and its result is dropped).
 *  - providers_close makes every call still in flight complete with PROV_E_SHUTDOWN.
 *  - The *call handle given back by a start call is valid until its done callback starts (or
 *    until prov_cancel); calling prov_cancel from inside that done callback is not allowed.
 *  - Results passed to callbacks (and every string in them) are owned by the provider and valid
 *    only during the callback, except the buffers a result explicitly lets the callback take.
 *  - Input structs and their strings are borrowed for the duration of the start call only. */
#ifndef NOVA_PROVIDERS_PROVIDER_H
#define NOVA_PROVIDERS_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/marks.h"
#include "core/buf.h"

/* Result status of a provider call. Negative and far from errno values. */
typedef enum {
    PROV_OK = 0,
    PROV_E_UNAVAILABLE = -3001,      /* backend unreachable, down (5xx), or not configured */
    PROV_E_THROTTLED = -3002,        /* rate limited or over quota: retry later */
    PROV_E_INVALID = -3003,          /* the request was refused as invalid (spec, voice, size) */
    PROV_E_CONTENT_FILTERED = -3004, /* moderation refused the input or the output */
    PROV_E_TIMEOUT = -3005,          /* the backend did not answer in time */
    PROV_E_INTERNAL = -3006,         /* a bug or resource failure on our side or the backend's */
    PROV_E_AUTH = -3007,             /* credentials missing, rejected or expired */
    PROV_E_BAD_RESPONSE = -3008,     /* the backend answered something we cannot parse */
    PROV_E_INTERRUPTED = -3009,      /* the connection dropped before the answer was complete */
    PROV_E_SHUTDOWN = -3010,         /* providers_close ran while the call was in flight */
    PROV_E_NOT_SUPPORTED = -3011,    /* this backend cannot do that (not built, no model) */
} prov_status_t;

/* Stable lower-case name for logs and API fields: "ok", "unavailable", "throttled", ... */
const char *prov_status_name(int status);
/* True for statuses where the same request may succeed later (throttled, unavailable,
 * timeout, interrupted): the job layer retries those with backoff. */
bool prov_status_retryable(int status);

typedef struct prov_call prov_call_t;

/* Cancels a call whose done callback has not started. See the rules above. Returns 0, -EINVAL
 * (NULL) or -EALREADY (already cancelled). */
int prov_cancel(prov_call_t *call);

/* Provider instances, owned by the registry (valid until providers_close's callback). */
typedef struct prov_text prov_text_t;
typedef struct prov_vision prov_vision_t;
typedef struct prov_speech prov_speech_t;
typedef struct prov_image prov_image_t;

/* ---- text ---------------------------------------------------------------------------------- */

/* What the text providers need to write (or rewrite) a story. NULL or "" means absent; numbers
 * <= 0 mean "the default" (prov_story_spec_defaults fills the defaults explicitly). */
typedef struct {
    const char *prompt;            /* the story idea (required), UTF-8 */
    const char *template_name;     /* "adventure", "fantasy", "sci-fi", "mystery", "educational" */
    const char *image_description; /* words describing the child's uploaded picture */
    int age_min, age_max;          /* listener ages, e.g. 6 and 8 */
    int target_words;              /* about this many words in total */
    int parts;                     /* number of "Part N: <title>" sections */
    const char *moral;             /* lesson woven into the ending */
    const char *language_level;    /* "simple", "intermediate", "advanced" */
    bool sound_effects;            /* sound words ("Whoosh!") in every part */
    bool questions;                /* a question to the listener at the end of every part */
    bool explain_words;            /* short in-text explanations of harder words */
    const char *child_name;        /* the listener becomes the hero */
    const char *modifications;     /* regenerate: what the parent wants changed */
    const char *previous_text;     /* regenerate: the story being rewritten */
    const char *language;          /* BCP 47 code of the story language, e.g. "en", "de" */
    /* Optional, called with the call's arg: the model's answer broke off after some deltas (a
     * throttling or transient error mid-stream) and is being written again from its start, so
     * everything delivered so far must be discarded. Without it such a break fails the call. */
    void (*on_restart)(void *arg);
} prov_story_spec_t;

/* Defaults: adventure, ages 6-8, 500 words, 3 parts, intermediate, toggles off, "en". */
void prov_story_spec_defaults(prov_story_spec_t *spec);

/* Bounds the providers enforce (wider ones are refused with PROV_E_INVALID). */
#define PROV_STORY_MAX_PROMPT   4000
#define PROV_STORY_MAX_PREVIOUS 60000
#define PROV_STORY_MIN_WORDS    150
#define PROV_STORY_MAX_WORDS    2000
#define PROV_STORY_MAX_PARTS    10

typedef struct {
    const char *title;         /* never NULL; "" only if the model wrote nothing usable */
    const char *text;          /* the story without its title line: "Part 1: ..." sections */
    size_t len;                /* strlen(text) */
    const char *plan_json;     /* offline: the composer's plan (characters, parts, questions) as a
                                  JSON object; NULL for model providers */
    const char *provider;      /* "offline", "openai", "bedrock" */
    const char *model;         /* "composer-v1", the model id the server used */
    const char *message;       /* human-readable: "" on success, why it failed otherwise */
    const char *finish_reason; /* "stop", "length", "end_turn", "max_tokens" or "" */
    int64_t input_tokens, output_tokens; /* -1 when the backend does not report usage */
    bool input_blocked; /* PROV_E_CONTENT_FILTERED only: Guardrails refused the request itself
                           (the prompt), so asking again with the same input is pointless */
} prov_story_result_t;

/* A piece of the story text as it is written, in order, at least one byte. The deltas of a call
 * concatenated are exactly result->text (the "Title:" line a model writes first is held back and
 * reported as result->title), counting from the last spec->on_restart. A stream that breaks
 * after some deltas is restarted only when spec->on_restart is set and the backend can (Bedrock);
 * otherwise the call fails (PROV_E_INTERRUPTED, PROV_E_BAD_RESPONSE, ...) and result->text holds
 * the deltas sent so far, which the owner discards or keeps. text is valid during the call only. */
typedef void (*prov_delta_cb)(const char *text, size_t len, void *arg);
/* res is never NULL: on failure provider/model/message are set and text may hold what was
 * written before the failure. */
typedef void (*prov_story_cb)(int status, const prov_story_result_t *res, void *arg);

/* on_delta may be NULL. Returns 0 or -EINVAL/-ENOMEM/-ESHUTDOWN (see the rules above). */
int prov_text_write_story(prov_text_t *t, const prov_story_spec_t *spec, prov_delta_cb on_delta,
                          prov_story_cb on_done, void *arg, prov_call_t **call);

/* After a story is written: its character sheet (every recurring character's name, kind, role,
 * looks, clothes and colours) and 3 to 5 comprehension questions with answers fitted to the
 * listener's ages, as one JSON object {"characters":[...],"questions":[{"question","answer"}]}
 * (parse it with story_sheet_parse: a model's answer is not trusted to be well formed). */
typedef struct {
    const char *json; /* the raw answer; "" on failure */
    const char *provider;
    const char *model;
    const char *message;
} prov_extras_result_t;

typedef void (*prov_extras_cb)(int status, const prov_extras_result_t *res, void *arg);

/* Asks the text provider for the sheet and questions of a written story (spec as it was
 * written, title and text as shown). Returns -ENOTSUP when the backend has no such call (the
 * offline composer: its plan_json already carries both), otherwise as the other start calls. */
int prov_text_story_extras(prov_text_t *t, const prov_story_spec_t *spec, const char *title,
                           const char *text, prov_extras_cb on_done, void *arg, prov_call_t **call);

/* Builds the request of prov_text_story_extras (for tests and logs). Returns 0 or -EINVAL. */
int prov_extras_prompt_build(const prov_story_spec_t *spec, const char *title, const char *text,
                             buf_t *system, buf_t *user);

/* Builds the system prompt and the user message a model provider sends for spec (our wording:
 * child-safe, asks for a "Title: ..." line, N "Part N: <title>" headings, about W words, and
 * honours every setting; a regenerate request carries the previous text and the changes).
 * Appends to system and user (both initialised by the caller). Returns 0, -EINVAL (no prompt,
 * or a field past its bound) or the buf_append error. */
int prov_story_prompt_build(const prov_story_spec_t *spec, buf_t *system, buf_t *user);

/* Finds the title in the start of a model's answer: a first non-blank line "Title: X" (also
 * "**Title:** X", "# Title: X") gives X and *body_off is the offset just past that line;
 * otherwise the first line, stripped of markdown, is the title and *body_off is the offset of
 * the first non-blank byte. Writes a NUL-terminated title (truncated at a UTF-8 boundary). */
void prov_story_split_title(const char *text, size_t len, char *title, size_t cap,
                            size_t *body_off);

/* ---- vision -------------------------------------------------------------------------------- */

typedef struct {
    const char *text;     /* one or two child-friendly sentences; "" on failure */
    const char *provider; /* "offline", "bedrock" */
    const char *model;
    const char *message;
} prov_vision_result_t;

typedef void (*prov_vision_cb)(int status, const prov_vision_result_t *res, void *arg);

/* Describes an image (PNG, JPEG, GIF, WebP; len bytes, copied). */
int prov_vision_describe(prov_vision_t *v, const uint8_t *image, size_t len, prov_vision_cb on_done,
                         void *arg, prov_call_t **call);

/* ---- speech -------------------------------------------------------------------------------- */

/* One voice of a provider's catalogue; every string is static. */
typedef struct {
    const char *id;       /* what prov_speech_synthesize takes: "en-us-f", "Joanna" */
    const char *name;     /* display name */
    const char *gender;   /* "female" or "male" */
    const char *language; /* BCP 47: "en-US" */
    const char *provider; /* "espeak", "polly" */
} prov_voice_t;

/* The provider's voice catalogue (static, stable order, synchronous); *count gets its length. */
const prov_voice_t *prov_speech_voices(const prov_speech_t *s, size_t *count);
/* The voice used when a request names none. */
const char *prov_speech_default_voice(const prov_speech_t *s);

typedef struct {
    int16_t *pcm; /* mono s16 native-endian (little-endian on our hosts); malloc'd. The callback
                     may take it: copy the pointer, set res->pcm = NULL, free() it later. */
    size_t nsamples;
    int sample_rate; /* 22050 (espeak), 16000 (Polly) */
    /* Word and sentence marks in time order, offsets are bytes of the request text. The
     * callback may take them: move the struct and audio_marks_init(&res->marks). */
    audio_marks_t marks;
    const char *voice;    /* the voice actually used (after substitution) */
    const char *provider; /* "espeak", "polly" */
    const char *model;    /* engine: "espeak-ng", "neural", "standard" */
    const char *message;  /* "" or a note such as a voice substitution, or the failure */
} prov_speech_result_t;

/* res is never NULL; pcm is NULL and marks empty on failure. */
typedef void (*prov_speech_cb)(int status, prov_speech_result_t *res, void *arg);

/* Synthesizes text (UTF-8, copied) with voice_id (NULL or "" = the default voice). A voice id
 * this provider does not know but the other speech provider does ("Joanna" given to espeak) is
 * replaced by the closest voice of the same language and gender, and res->message says so; an
 * id nobody knows is PROV_E_INVALID. */
int prov_speech_synthesize(prov_speech_t *s, const char *text, const char *voice_id,
                           prov_speech_cb on_done, void *arg, prov_call_t **call);

/* ---- image --------------------------------------------------------------------------------- */

typedef struct {
    const char *name;       /* matched in the prompt to decide who appears on a page */
    const char *kind;       /* "fox", "robot", "girl" */
    const char *colours[3]; /* colour names ("red", "sky-blue") or "#rrggbb"; NULL = none */
} prov_character_t;

#define PROV_IMAGE_MAX_CHARACTERS 8
#define PROV_IMAGE_MIN_SIDE       64
#define PROV_IMAGE_MAX_SIDE       2048

typedef struct {
    const char *prompt;          /* scene description (required) */
    const char *negative_prompt; /* what to avoid (model providers) */
    int width, height;           /* wanted size; 0 = 768 x 1152; 64..2048 */
    int64_t seed;                /* < 0 = derived from the prompt */
    const char *template_name;   /* picks palette/style; NULL = adventure */
    int scene_number;            /* badge on the offline picture when > 0 */
    const char *caption;         /* banner text on the offline picture */
    const prov_character_t *characters;
    size_t ncharacters;   /* at most PROV_IMAGE_MAX_CHARACTERS are used */
    bool prompt_complete; /* the prompt already carries the style words and the characters'
                             looks (the flows' scene prompts): model providers send it as it is
                             instead of adding their own */
} prov_image_spec_t;

typedef struct {
    uint8_t *png; /* PNG bytes, malloc'd; the callback may take them (set res->png = NULL) */
    size_t len;
    int width, height; /* the size of the picture produced (a model may snap the size) */
    const char *provider;
    const char *model;
    const char *message;
} prov_image_result_t;

typedef void (*prov_image_cb)(int status, prov_image_result_t *res, void *arg);

int prov_image_render(prov_image_t *im, const prov_image_spec_t *spec, prov_image_cb on_done,
                      void *arg, prov_call_t **call);

/* ---- identity ------------------------------------------------------------------------------ */

/* Backend and model of each instance ("offline"/"composer-v1", "openai"/"llama3.1", ...). The
 * strings live as long as the registry. */
const char *prov_text_name(const prov_text_t *t);
const char *prov_text_model(const prov_text_t *t);
const char *prov_vision_name(const prov_vision_t *v);
const char *prov_vision_model(const prov_vision_t *v);
const char *prov_speech_name(const prov_speech_t *s);
const char *prov_speech_model(const prov_speech_t *s);
const char *prov_image_name(const prov_image_t *im);
const char *prov_image_model(const prov_image_t *im);

#endif
