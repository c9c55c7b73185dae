/* audio/narration: joins the PCM of several narration parts (in order) into one timeline, with a
 * pause of silence between parts and short linear fades at every part edge so joins never click,
 * and shifts each part's timing marks into that timeline and into the full story text.
 * Nothing here copies the whole narration: audio_narration_encode streams the joined PCM into an
 * MP3 encoder in blocks of at most one second. All functions are pure CPU work for a worker. */
#ifndef NOVA_AUDIO_NARRATION_H
#define NOVA_AUDIO_NARRATION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/marks.h"
#include "audio/mp3.h"

#define AUDIO_DEFAULT_PAUSE_MS 400
#define AUDIO_DEFAULT_FADE_MS  8
#define AUDIO_MAX_PAUSE_MS     10000
#define AUDIO_MAX_FADE_MS      100

/* One part of a narration. Everything is borrowed: the caller keeps pcm and marks alive and
 * unchanged until the function (or the async job using it) has finished. */
typedef struct {
    const int16_t *pcm; /* mono samples at the narration's sample rate */
    size_t nsamples;
    const audio_mark_t *marks; /* times relative to this part, offsets relative to its text */
    size_t nmarks;
    uint32_t text_offset; /* byte offset of this part's text within the full text */
} audio_part_t;

typedef struct {
    uint32_t pause_ms; /* silence between two parts, 0..AUDIO_MAX_PAUSE_MS */
    uint32_t fade_ms;  /* fade-in and fade-out length at each part edge, 0..AUDIO_MAX_FADE_MS */
} audio_join_config_t;

/* Fills j with the defaults (400 ms pause, 8 ms fades). */
void audio_join_config_default(audio_join_config_t *j);
/* Returns 0 or -EINVAL. */
int audio_join_config_validate(const audio_join_config_t *j);

/* Samples in the joined narration: the parts plus one pause between each two parts. */
uint64_t audio_narration_samples(const audio_part_t *parts, size_t nparts, int sample_rate,
                                 const audio_join_config_t *j);

/* Sample index at which part i starts in the joined narration. */
uint64_t audio_narration_part_start(const audio_part_t *parts, size_t i, int sample_rate,
                                    const audio_join_config_t *j);

/* Appends every part's marks to out, shifted by the part's start time and text offset, clamped
 * to the part's duration and kept non-decreasing in time. Returns 0 or a negative code. */
int audio_narration_marks(const audio_part_t *parts, size_t nparts, int sample_rate,
                          const audio_join_config_t *j, audio_marks_t *out);

/* Receives the joined PCM block by block; returns 0 or a negative code that stops rendering. */
typedef int (*audio_pcm_emit_fn)(void *ctx, const int16_t *pcm, size_t nsamples);

/* Produces the joined narration (fades and pauses applied on the fly; the parts are not
 * modified) in blocks of at most one second, passing each to emit. If cancel is non-NULL and
 * becomes non-zero, stops between two blocks and returns -ECANCELED. */
int audio_narration_render(const audio_part_t *parts, size_t nparts, int sample_rate,
                           const audio_join_config_t *j, audio_pcm_emit_fn emit, void *ctx,
                           const atomic_int *cancel);

/* audio_narration_render into an MP3 encoder. The caller then finishes or frees enc. */
int audio_narration_encode(const audio_part_t *parts, size_t nparts, int sample_rate,
                           const audio_join_config_t *j, mp3_encoder_t *enc,
                           const atomic_int *cancel);

#endif
