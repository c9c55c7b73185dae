/* speech_espeak: offline text-to-speech with libespeak-ng, the no-cloud narration voice.
 * espeak-ng keeps all of its state in process globals and is not thread-safe, so this module is
 * a process-wide singleton that runs exactly one synthesis at a time: requests wait in a FIFO on
 * the loop side and each one runs alone on a libuv threadpool worker (never on the loop thread).
 * It produces mono s16 PCM at 22,050 Hz plus word and sentence timing marks whose offsets are
 * byte offsets into the request text (like Polly speech marks).
 * Every function here is called on the loop thread given to speech_espeak_init. */
#ifndef NOVA_PROVIDERS_SPEECH_ESPEAK_H
#define NOVA_PROVIDERS_SPEECH_ESPEAK_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "audio/marks.h"

#define SPEECH_ESPEAK_DEFAULT_MAX_CHARS   5000
#define SPEECH_ESPEAK_DEFAULT_MAX_SECONDS 900
#define SPEECH_ESPEAK_DEFAULT_RATE_WPM    165
#define SPEECH_ESPEAK_MIN_RATE_WPM        80
#define SPEECH_ESPEAK_MAX_RATE_WPM        450

/* Error codes beyond plain errno meanings; speech_espeak_strerror words them for users. */
#define SPEECH_ESPEAK_ERR_VOICE    (-ENOENT) /* unknown voice id */
#define SPEECH_ESPEAK_ERR_TOO_LONG (-E2BIG)  /* text over max_chars */
#define SPEECH_ESPEAK_ERR_UTF8     (-EILSEQ) /* text is not valid UTF-8 */
#define SPEECH_ESPEAK_ERR_AUDIO    (-EFBIG)  /* speech would exceed max_seconds */
#define SPEECH_ESPEAK_ERR_ENGINE   (-EIO)    /* espeak-ng could not start or failed */

typedef struct {
    size_t max_chars;     /* longest accepted text in characters; 0 = default (5000) */
    uint32_t max_seconds; /* longest audio one request may produce; 0 = default (900) */
    int default_rate_wpm; /* speaking rate when a request passes 0; 0 = default (165) */
    /* Folder containing espeak-ng-data, NULL = the built-in one; copied. The engine loads its
     * data once per process (on the first synthesis), so a later init cannot change it. */
    const char *data_path;
} speech_espeak_config_t;

/* One entry of the curated voice list. All strings are static. */
typedef struct {
    const char *id;          /* stable public id, e.g. "en-us-f" */
    const char *name;        /* display name, e.g. "English (US), female" */
    const char *gender;      /* "female" or "male" */
    const char *language;    /* BCP 47 code, e.g. "en-US" */
    const char *espeak_name; /* what espeak_SetVoiceByName receives, e.g. "en-us+f3" */
} speech_espeak_voice_t;

/* Owned by whoever receives it in the callback; release with speech_espeak_result_free. */
typedef struct {
    int16_t *pcm; /* mono, native-endian signed 16-bit (s16le on our hosts) */
    size_t nsamples;
    int sample_rate;     /* 22050 with the stock engine */
    audio_marks_t marks; /* sentence and word marks in time order; offsets into the text */
} speech_espeak_result_t;

/* Runs on the loop thread. On status 0, res is non-NULL and the callee hands its ownership to
 * the callback (free with speech_espeak_result_free); otherwise res is NULL. */
typedef void (*speech_espeak_cb)(int status, speech_espeak_result_t *res, void *arg);

/* Sets up the singleton for loop. The engine itself starts lazily on a worker (it loads its data
 * files). Returns 0, -EALREADY if already initialised, -EINVAL or -ENOMEM. */
int speech_espeak_init(uv_loop_t *loop, const speech_espeak_config_t *cfg);

/* Cancels queued requests (their callbacks run now, with -ECANCELED) and refuses new ones. A
 * synthesis already running finishes and reports normally; the module is released after it, so
 * speech_espeak_init may be called again once speech_espeak_busy() returns 0. */
void speech_espeak_shutdown(void);

/* Number of requests queued or running. */
size_t speech_espeak_busy(void);

/* The curated voice list (static, stable order); *count receives its length. */
const speech_espeak_voice_t *speech_espeak_voices(size_t *count);
/* Looks a voice up by id; NULL if unknown. */
const speech_espeak_voice_t *speech_espeak_voice_find(const char *id);

/* Queues the synthesis of text (UTF-8, copied) with the voice voice_id at rate_wpm words per
 * minute (0 = the configured default, else 80..450). Requests run one at a time, in order.
 * Returns 0 (cb will be called exactly once) or, without calling cb: SPEECH_ESPEAK_ERR_VOICE,
 * SPEECH_ESPEAK_ERR_TOO_LONG, SPEECH_ESPEAK_ERR_UTF8, -EINVAL (empty text, bad rate, loop not the
 * initialised one), -ESHUTDOWN (not initialised or shutting down) or -ENOMEM. */
int speech_espeak_synthesize(uv_loop_t *loop, const char *text, const char *voice_id, int rate_wpm,
                             speech_espeak_cb cb, void *arg);

/* Frees res and everything it owns. NULL is allowed. */
void speech_espeak_result_free(speech_espeak_result_t *res);

/* A user-facing sentence for one of the codes above (or a generic one). */
const char *speech_espeak_strerror(int status);

/* For tests: the largest number of syntheses ever seen running at the same time (must be 1). */
int speech_espeak__max_parallel(void);

#endif
