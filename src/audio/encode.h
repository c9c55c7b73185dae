/* audio/encode: the asynchronous "narration to MP3 file" job. It joins the parts (audio/narration),
 * encodes them with LAME (audio/mp3) on the libuv threadpool, and publishes the result
 * atomically: the MP3 (and optionally marks.json) are written to temporary files in the target
 * folder, fsynced, renamed over the final names, and the folder is fsynced; on failure or
 * cancellation the temporary files are removed and the final names are left untouched.
 * Submission and the callback happen on the loop thread; all blocking work runs on a worker. */
#ifndef NOVA_AUDIO_ENCODE_H
#define NOVA_AUDIO_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "audio/mp3.h"
#include "audio/narration.h"

typedef struct {
    int sample_rate;           /* of every part: 16000 (Polly) or 22050 (espeak-ng), or any
                                  rate mp3_check_sample_rate accepts */
    const audio_part_t *parts; /* the array is copied; the PCM and marks it points to are
                                  borrowed and must stay valid until the callback */
    size_t nparts;
    audio_join_config_t join; /* pause between parts, fades */
    mp3_config_t mp3;         /* bitrate, VBR */
    const char *path;         /* final MP3 path (copied); its folder must exist */
    const char *marks_path;   /* optional final marks.json path (copied), NULL for none */
    const char *title;        /* optional ID3 title, UTF-8 (copied) */
    const char *artist;       /* optional ID3 artist, UTF-8 (copied) */
} audio_encode_req_t;

typedef struct {
    uint64_t samples;     /* joined PCM samples */
    uint64_t duration_ms; /* duration of the MP3 (also in its ID3 TLEN and LAME tag) */
    uint64_t bytes;       /* size of the MP3 file */
    size_t nmarks;        /* marks written to marks_path */
} audio_encode_result_t;

/* Called once on the loop thread. status is 0, -ECANCELED, or a negative errno code from the
 * file system or the encoder; res is non-NULL only when status is 0 and is valid during the
 * call only. */
typedef void (*audio_encode_cb)(int status, const audio_encode_result_t *res, void *arg);

typedef struct audio_encode_job audio_encode_job_t;

/* Fills req's join and mp3 settings with their defaults and everything else with zero. */
void audio_encode_req_init(audio_encode_req_t *req);

/* Validates req, copies what it needs and queues the job on loop's threadpool. On success the
 * callback will be called exactly once; *job (if job is non-NULL) receives a handle that stays
 * valid until the callback returns. Returns 0, -EINVAL or -ENOMEM (then no callback). */
int audio_encode_submit(uv_loop_t *loop, const audio_encode_req_t *req, audio_encode_cb cb,
                        void *arg, audio_encode_job_t **job);

/* Asks the job to stop. A job that has not started is removed from the threadpool queue; a
 * running one stops before its next one-second block. Either way the callback then reports
 * -ECANCELED, unless the job had already finished its work (it then reports its real result).
 * Call on the loop thread, before the callback has run. Returns 0. */
int audio_encode_cancel(audio_encode_job_t *job);

/* Synchronous core of the job, for callers already on a worker thread (and tests): encodes the
 * narration into sink. cancel may be NULL. Fills *info on success. */
int audio_encode_to_sink(const audio_encode_req_t *req, const mp3_sink_t *sink,
                         const atomic_int *cancel, mp3_info_t *info);

#endif
