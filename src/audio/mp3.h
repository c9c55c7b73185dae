/* audio/mp3: MP3 encoding of mono 16-bit PCM with LAME. One encoder object produces one file:
 * an ID3v2.3 tag (title, artist, TLEN), an Info/Xing frame with the LAME extension (frame count,
 * seek table, encoder delay and padding, so browsers know the exact duration and can seek), then
 * the audio frames. The encoder owns its LAME state and one bounded scratch buffer (the MP3
 * bytes LAME can emit for one second of input); it never holds the whole input or output, so
 * memory does not grow with the story length. Bytes go to a sink supplied by the caller, which
 * must also accept in-place patches at the end: the Info frame and the TLEN value are only known
 * after the last sample.
 * An encoder is used from one thread at a time (normally a libuv threadpool worker); distinct
 * encoders run in parallel safely. None of these functions touch the event loop. */
#ifndef NOVA_AUDIO_MP3_H
#define NOVA_AUDIO_MP3_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define MP3_DEFAULT_BITRATE_KBPS 48
#define MP3_DEFAULT_VBR_QUALITY  6
#define MP3_DEFAULT_QUALITY      3 /* LAME's own default, as the lame CLI uses */

typedef struct {
    int bitrate_kbps; /* CBR bitrate, 8..320; LAME rounds to the nearest legal MPEG bitrate */
    int vbr;          /* non-zero: VBR at vbr_quality instead of CBR */
    int vbr_quality;  /* VBR quality 0 (best, largest) .. 9 (smallest) */
    int quality;      /* LAME algorithm quality 0 (slowest) .. 9 (fastest) */
} mp3_config_t;

/* Fills cfg with the defaults (48 kbps CBR, quality 3). */
void mp3_config_default(mp3_config_t *cfg);
/* Returns 0 or -EINVAL if a field is out of its documented range. */
int mp3_config_validate(const mp3_config_t *cfg);
/* Returns 0 if LAME can encode mono PCM at this rate without resampling (8000, 11025, 12000,
 * 16000, 22050, 24000, 32000, 44100, 48000 Hz), else -EINVAL. */
int mp3_check_sample_rate(int sample_rate);

/* Where encoded bytes go. append adds bytes at the end; patch overwrites bytes already appended
 * (absolute offset from the first byte of this encoder's output). Both return 0 or a negative
 * errno code, which the encoder then returns from feed/finish. */
typedef struct {
    int (*append)(void *ctx, const void *data, size_t len);
    int (*patch)(void *ctx, uint64_t offset, const void *data, size_t len);
    void *ctx;
} mp3_sink_t;

/* A sink that appends to b (which keeps its own maximum) and patches inside it. */
void mp3_sink_buf(mp3_sink_t *sink, buf_t *b);

typedef struct {
    uint64_t samples;     /* PCM samples encoded */
    uint64_t duration_ms; /* samples * 1000 / sample_rate, rounded */
    uint64_t bytes;       /* bytes written to the sink, tag and Info frame included */
    uint64_t
        audio_offset; /* where the first MP3 frame (the Info frame) starts, after the ID3 tag */
    int bitrate_kbps; /* the bitrate LAME used (CBR) or 0 for VBR */
} mp3_info_t;

typedef struct mp3_encoder mp3_encoder_t;

/* Creates an encoder for mono PCM at sample_rate (see mp3_check_sample_rate) writing to *sink
 * (copied; sink->ctx must outlive the encoder). title and artist (UTF-8, may be NULL) are copied
 * into an ID3v2.3 tag that is written before the first frame. Returns 0, -EINVAL or -ENOMEM. */
int mp3_encoder_new(const mp3_config_t *cfg, int sample_rate, const char *title, const char *artist,
                    const mp3_sink_t *sink, mp3_encoder_t **out);

/* Encodes nsamples native-endian signed 16-bit samples (s16le on our hosts), at most one second
 * per LAME call. Returns 0 or a negative code; after an error every later call fails too. */
int mp3_encoder_feed(mp3_encoder_t *e, const int16_t *pcm, size_t nsamples);

/* Flushes LAME, writes the final frames, then patches the LAME/Info frame over the placeholder
 * first frame and the ID3 TLEN value. Fills *info (may be NULL). Call once. */
int mp3_encoder_finish(mp3_encoder_t *e, mp3_info_t *info);

/* Releases the encoder (finished or not). NULL is allowed. */
void mp3_encoder_free(mp3_encoder_t *e);

#endif
