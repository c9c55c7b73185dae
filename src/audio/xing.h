/* audio/xing: the "Info" frame (Xing header + LAME extension) for the CBR MP3 streams we write.
 * Browsers read it for the exact duration (frame count), seeking (table of contents) and
 * gapless trimming (encoder delay and padding). LAME writes it itself only when the stream's
 * own frames are large enough to hold it, which is not the case at our default 48 kbps for
 * 22.05 kHz speech, so for CBR we always write it here, in a frame of the stream's bitrate if
 * that fits and otherwise of the smallest bitrate that does (as LAME itself does for VBR).
 * Pure functions on caller-owned memory. */
#ifndef NOVA_AUDIO_XING_H
#define NOVA_AUDIO_XING_H

#include <stddef.h>
#include <stdint.h>

/* Facts about a finished CBR stream. */
typedef struct {
    int sample_rate;    /* 8000 .. 48000, an MPEG rate */
    int bitrate_kbps;   /* the stream's CBR bitrate */
    uint32_t frames;    /* audio frames after the Info frame */
    uint32_t bytes;     /* Info frame + all audio frames (everything after the ID3 tag) */
    int delay;          /* encoder delay in samples (lame_get_encoder_delay) */
    int padding;        /* padding samples at the end (lame_get_encoder_padding) */
    int lowpass_hz;     /* LAME's lowpass, informational */
    int quality;        /* Xing quality indicator 0..100 */
    uint16_t music_crc; /* audio_crc16 over all audio frames after the Info frame */
} audio_xing_info_t;

/* Size of the Info frame audio_xing_build will produce for this stream, or -EINVAL if the rate or
 * bitrate is not a legal MPEG Layer III combination. */
int audio_xing_frame_size(int sample_rate, int bitrate_kbps);

/* Writes the complete Info frame (header, empty side info, Xing fields, LAME extension with
 * both CRCs, zero fill) into frame, which must hold audio_xing_frame_size bytes.
 * Returns that size or -EINVAL. */
int audio_xing_build(const audio_xing_info_t *info, uint8_t *frame, size_t cap);

/* CRC-16 as used by the LAME tag (polynomial 0x8005 reflected, i.e. CRC-16/ARC); chain calls by
 * passing the previous result, starting from 0. */
uint16_t audio_crc16(uint16_t crc, const void *data, size_t len);

#endif
