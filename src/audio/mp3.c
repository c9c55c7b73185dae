#include "audio/mp3.h"

#include <errno.h>
#include <lame/lame.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "audio/id3.h"
#include "audio/xing.h"
#include "core/log.h"

/* Our ID3 tag is at most two capped text frames plus TLEN, well under this bound. */
#define MP3__MAX_TAG_BYTES (16 * 1024)

struct mp3_encoder {
    lame_global_flags *gf;
    mp3_sink_t sink;
    int sample_rate;
    int started;  /* the ID3 tag has been written */
    int finished; /* mp3_encoder_finish ran */
    int err;      /* sticky error */
    char *title, *artist;
    size_t block;       /* samples per LAME call: one second bounds the scratch buffer */
    unsigned char *out; /* scratch for LAME's output */
    size_t out_cap;
    uint64_t samples;      /* PCM samples accepted */
    uint64_t bytes;        /* bytes appended to the sink */
    uint64_t audio_offset; /* offset of the first MP3 frame */
    uint64_t tlen_offset;  /* offset of the TLEN digits */
    /* CBR: we reserve and later write the Info frame ourselves (see audio/xing.h); VBR: LAME
     * reserves it and lame_get_lametag_frame fills it. */
    int own_tag;
    int tag_size;       /* our Info frame size (own_tag) */
    uint16_t music_crc; /* CRC-16 of everything after our Info frame (own_tag) */
};

/* LAME keeps a few process-wide tables that lame_init_params fills on first use without a lock;
 * serialising initialisation keeps parallel encoders (and TSan) happy. Encoding itself needs no
 * lock: all other state is per encoder. */
static uv_once_t mp3__once = UV_ONCE_INIT;
static uv_mutex_t mp3__init_lock;

static void mp3__init_once(void)
{
    if (uv_mutex_init(&mp3__init_lock) != 0) abort(); /* cannot happen on Linux */
}

__attribute__((format(printf, 1, 0))) static void mp3__lame_error(const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    log_warn("mp3", "lame: %s", msg);
}

__attribute__((format(printf, 1, 0))) static void mp3__lame_quiet(const char *fmt, va_list ap)
{
    (void)fmt;
    (void)ap;
}

void mp3_config_default(mp3_config_t *cfg)
{
    cfg->bitrate_kbps = MP3_DEFAULT_BITRATE_KBPS;
    cfg->vbr = 0;
    cfg->vbr_quality = MP3_DEFAULT_VBR_QUALITY;
    cfg->quality = MP3_DEFAULT_QUALITY;
}

int mp3_config_validate(const mp3_config_t *cfg)
{
    if (!cfg) return -EINVAL;
    if (cfg->bitrate_kbps < 8 || cfg->bitrate_kbps > 320) return -EINVAL;
    if (cfg->vbr_quality < 0 || cfg->vbr_quality > 9) return -EINVAL;
    if (cfg->quality < 0 || cfg->quality > 9) return -EINVAL;
    return 0;
}

int mp3_check_sample_rate(int sample_rate)
{
    static const int rates[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i] == sample_rate) return 0;
    return -EINVAL;
}

static int mp3__buf_append(void *ctx, const void *data, size_t len)
{
    return buf_append(ctx, data, len);
}

static int mp3__buf_patch(void *ctx, uint64_t offset, const void *data, size_t len)
{
    buf_t *b = ctx;
    if (offset > b->len || len > b->len - offset) return -EINVAL;
    memcpy(b->data + offset, data, len);
    return 0;
}

void mp3_sink_buf(mp3_sink_t *sink, buf_t *b)
{
    sink->append = mp3__buf_append;
    sink->patch = mp3__buf_patch;
    sink->ctx = b;
}

static char *mp3__strdup_opt(const char *s, int *failed)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *failed = 1;
    return d;
}

static lame_global_flags *mp3__lame_new(const mp3_config_t *cfg, int sample_rate)
{
    uv_once(&mp3__once, mp3__init_once);
    uv_mutex_lock(&mp3__init_lock);
    lame_global_flags *gf = lame_init();
    if (gf) {
        lame_set_errorf(gf, mp3__lame_error);
        lame_set_debugf(gf, mp3__lame_quiet);
        lame_set_msgf(gf, mp3__lame_quiet);
        lame_set_num_channels(gf, 1);
        lame_set_mode(gf, MONO);
        /* Same rate in and out: LAME would otherwise resample, which we never want. */
        lame_set_in_samplerate(gf, sample_rate);
        lame_set_out_samplerate(gf, sample_rate);
        lame_set_quality(gf, cfg->quality);
        if (cfg->vbr) {
            lame_set_VBR(gf, vbr_default);
            lame_set_VBR_quality(gf, (float)cfg->vbr_quality);
        } else {
            lame_set_VBR(gf, vbr_off);
            lame_set_brate(gf, cfg->bitrate_kbps);
        }
        /* VBR: LAME reserves a first frame that finish() replaces with its Xing/LAME tag. CBR:
         * LAME would silently drop the tag whenever a frame is too small for it (48 kbps at
         * 22.05 kHz), so we write an Info frame ourselves. The ID3 tag is ours in both cases so
         * that it can carry the exact length. */
        lame_set_bWriteVbrTag(gf, cfg->vbr ? 1 : 0);
        lame_set_write_id3tag_automatic(gf, 0);
        if (lame_init_params(gf) < 0) {
            lame_close(gf);
            gf = NULL;
        }
    }
    uv_mutex_unlock(&mp3__init_lock);
    return gf;
}

int mp3_encoder_new(const mp3_config_t *cfg, int sample_rate, const char *title, const char *artist,
                    const mp3_sink_t *sink, mp3_encoder_t **out)
{
    *out = NULL;
    if (mp3_config_validate(cfg) || mp3_check_sample_rate(sample_rate) || !sink || !sink->append ||
        !sink->patch)
        return -EINVAL;
    mp3_encoder_t *e = calloc(1, sizeof *e);
    if (!e) return -ENOMEM;
    int failed = 0;
    e->sink = *sink;
    e->sample_rate = sample_rate;
    e->block = (size_t)sample_rate;
    /* LAME documents the worst case for one call as 1.25 * samples + 7200 bytes. */
    e->out_cap = e->block + e->block / 4 + 7200;
    e->out = malloc(e->out_cap);
    e->title = mp3__strdup_opt(title, &failed);
    e->artist = mp3__strdup_opt(artist, &failed);
    if (!e->out || failed) {
        mp3_encoder_free(e);
        return -ENOMEM;
    }
    e->gf = mp3__lame_new(cfg, sample_rate);
    if (!e->gf) {
        mp3_encoder_free(e);
        return -EINVAL;
    }
    if (!cfg->vbr) {
        e->own_tag = 1;
        e->tag_size = audio_xing_frame_size(sample_rate, lame_get_brate(e->gf));
        if (e->tag_size <= 0 || (size_t)e->tag_size > e->out_cap) {
            mp3_encoder_free(e);
            return -EINVAL;
        }
    }
    *out = e;
    return 0;
}

static int mp3__append(mp3_encoder_t *e, const void *data, size_t len)
{
    if (!len) return 0;
    int rc = e->sink.append(e->sink.ctx, data, len);
    if (rc) return rc;
    e->bytes += len;
    return 0;
}

/* Audio frames from LAME: in CBR mode their CRC goes into our LAME tag. */
static int mp3__append_audio(mp3_encoder_t *e, const void *data, size_t len)
{
    if (e->own_tag) e->music_crc = audio_crc16(e->music_crc, data, len);
    return mp3__append(e, data, len);
}

/* Writes the ID3 tag before the first MP3 byte. The length is not known yet; finish() patches
 * the TLEN digits. */
static int mp3__start(mp3_encoder_t *e)
{
    if (e->started) return 0;
    buf_t tag;
    buf_init(&tag, MP3__MAX_TAG_BYTES);
    size_t tlen = 0;
    int rc = audio_id3_build(e->title, e->artist, 0, &tag, &tlen);
    if (rc == 0) rc = mp3__append(e, tag.data, tag.len);
    if (rc == 0 && e->own_tag) {
        /* Placeholder for the Info frame, overwritten by finish(). */
        memset(e->out, 0, (size_t)e->tag_size);
        rc = mp3__append(e, e->out, (size_t)e->tag_size);
    }
    if (rc == 0) {
        e->tlen_offset = tlen;
        e->audio_offset = tag.len;
        e->started = 1;
    }
    buf_free(&tag);
    return rc;
}

static int mp3__lame_status(int r)
{
    switch (r) {
    case -1:
        return -ENOBUFS; /* output buffer too small: a bug in our sizing */
    case -2:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

int mp3_encoder_feed(mp3_encoder_t *e, const int16_t *pcm, size_t nsamples)
{
    if (e->err) return e->err;
    if (e->finished || (!pcm && nsamples)) return -EINVAL;
    int rc = mp3__start(e);
    while (rc == 0 && nsamples) {
        size_t n = nsamples < e->block ? nsamples : e->block;
        /* Mono: LAME reads only the left channel, but wants a valid pointer for the right. */
        int r = lame_encode_buffer(e->gf, pcm, pcm, (int)n, e->out, (int)e->out_cap);
        if (r < 0)
            rc = mp3__lame_status(r);
        else
            rc = mp3__append_audio(e, e->out, (size_t)r);
        pcm += n;
        nsamples -= n;
        if (rc == 0) e->samples += n;
    }
    if (rc) e->err = rc;
    return rc;
}

int mp3_encoder_finish(mp3_encoder_t *e, mp3_info_t *info)
{
    if (e->err) return e->err;
    if (e->finished) return -EINVAL;
    e->finished = 1;
    int rc = mp3__start(e);
    if (rc == 0) {
        int r = lame_encode_flush(e->gf, e->out, (int)e->out_cap);
        rc = r < 0 ? mp3__lame_status(r) : mp3__append_audio(e, e->out, (size_t)r);
    }
    /* The Info frame holds the frame count, byte count, seek table and encoder delay/padding;
     * it replaces the placeholder frame at the start of the audio. */
    if (rc == 0 && e->own_tag) {
        audio_xing_info_t xi = {
            .sample_rate = e->sample_rate,
            .bitrate_kbps = lame_get_brate(e->gf),
            .frames = (uint32_t)lame_get_frameNum(e->gf),
            .bytes = (uint32_t)(e->bytes - e->audio_offset),
            .delay = lame_get_encoder_delay(e->gf),
            .padding = lame_get_encoder_padding(e->gf),
            .lowpass_hz = lame_get_lowpassfreq(e->gf),
            .quality = 100 - 10 * lame_get_VBR_q(e->gf) - lame_get_quality(e->gf),
            .music_crc = e->music_crc,
        };
        int n = e->bytes - e->audio_offset > UINT32_MAX ? -EFBIG
                                                        : audio_xing_build(&xi, e->out, e->out_cap);
        rc = n != e->tag_size ? (n < 0 ? n : -EIO)
                              : e->sink.patch(e->sink.ctx, e->audio_offset, e->out, (size_t)n);
    } else if (rc == 0) {
        size_t n = lame_get_lametag_frame(e->gf, e->out, e->out_cap);
        if (n == 0 || n > e->out_cap || e->audio_offset + n > e->bytes)
            rc = -EIO;
        else
            rc = e->sink.patch(e->sink.ctx, e->audio_offset, e->out, n);
    }
    uint64_t duration_ms =
        (e->samples * 1000 + (uint64_t)e->sample_rate / 2) / (uint64_t)e->sample_rate;
    if (rc == 0) {
        char digits[AUDIO_ID3_TLEN_DIGITS];
        audio_id3_tlen_digits(duration_ms, digits);
        rc = e->sink.patch(e->sink.ctx, e->tlen_offset, digits, sizeof digits);
    }
    if (rc) {
        e->err = rc;
        return rc;
    }
    if (info) {
        info->samples = e->samples;
        info->duration_ms = duration_ms;
        info->bytes = e->bytes;
        info->audio_offset = e->audio_offset;
        info->bitrate_kbps = lame_get_VBR(e->gf) == vbr_off ? lame_get_brate(e->gf) : 0;
    }
    return 0;
}

void mp3_encoder_free(mp3_encoder_t *e)
{
    if (!e) return;
    if (e->gf) lame_close(e->gf);
    free(e->out);
    free(e->title);
    free(e->artist);
    free(e);
}
