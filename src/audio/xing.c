#include "audio/xing.h"

#include <errno.h>
#include <string.h>

/* Bytes the Xing header (tag, flags, frames, bytes, 100-entry TOC, quality) and the LAME
 * extension (36 bytes, CRC included) take after the side information. */
#define XING__FIELDS   120
#define XING__LAME_EXT 36

static const int xing__br_mpeg1[15] = {0,   32,  40,  48,  56,  64,  80, 96,
                                       112, 128, 160, 192, 224, 256, 320};
static const int xing__br_mpeg2[15] = {0,  8,  16, 24,  32,  40,  48, 56,
                                       64, 80, 96, 112, 128, 144, 160};

typedef struct {
    int mpeg1;     /* MPEG-1 (32-48 kHz) versus MPEG-2/2.5 */
    uint8_t byte1; /* sync tail, version, layer III, no CRC */
    int sr_index;
    int side; /* mono side information bytes */
} xing__ver_t;

static int xing__version(int rate, xing__ver_t *v)
{
    static const int rates[3][3] = {
        {44100, 48000, 32000}, {22050, 24000, 16000}, {11025, 12000, 8000}};
    static const uint8_t byte1[3] = {0xFB, 0xF3, 0xE3};
    for (int ver = 0; ver < 3; ver++)
        for (int i = 0; i < 3; i++)
            if (rates[ver][i] == rate) {
                v->mpeg1 = ver == 0;
                v->byte1 = byte1[ver];
                v->sr_index = i;
                v->side = v->mpeg1 ? 17 : 9;
                return 0;
            }
    return -EINVAL;
}

static int xing__frame_bytes(const xing__ver_t *v, int rate, int kbps)
{
    return (v->mpeg1 ? 144000 : 72000) * kbps / rate;
}

/* Picks the bitrate index for the Info frame: the stream's own if the frame is big enough. */
static int xing__pick(int rate, int kbps, xing__ver_t *v, int *index)
{
    if (xing__version(rate, v)) return -EINVAL;
    const int *table = v->mpeg1 ? xing__br_mpeg1 : xing__br_mpeg2;
    int own = -1;
    for (int i = 1; i < 15; i++)
        if (table[i] == kbps) own = i;
    if (own < 0) return -EINVAL;
    int need = 4 + v->side + XING__FIELDS + XING__LAME_EXT;
    for (int i = own; i < 15; i++)
        if (xing__frame_bytes(v, rate, table[i]) >= need) {
            *index = i;
            return xing__frame_bytes(v, rate, table[i]);
        }
    return -EINVAL;
}

int audio_xing_frame_size(int sample_rate, int bitrate_kbps)
{
    xing__ver_t v;
    int index;
    return xing__pick(sample_rate, bitrate_kbps, &v, &index);
}

uint16_t audio_crc16(uint16_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : crc >> 1;
    }
    return crc;
}

static void xing__be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int audio_xing_build(const audio_xing_info_t *info, uint8_t *frame, size_t cap)
{
    xing__ver_t v;
    int index;
    int size = xing__pick(info->sample_rate, info->bitrate_kbps, &v, &index);
    if (size < 0 || (size_t)size > cap || info->delay < 0 || info->delay > 4095 ||
        info->padding < 0 || info->padding > 4095)
        return -EINVAL;
    memset(frame, 0, (size_t)size);
    frame[0] = 0xFF;
    frame[1] = v.byte1;
    frame[2] = (uint8_t)(index << 4 | v.sr_index << 2);
    frame[3] = 0xC4; /* mono, original */
    /* All-zero side information makes the frame decode as silence for players that do not know
     * the tag. */
    uint8_t *x = frame + 4 + v.side;
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): a 4-byte tag, no NUL
    memcpy(x, "Info", 4);
    xing__be32(x + 4, 0x0F); /* frames, bytes, TOC and quality present */
    xing__be32(x + 8, info->frames);
    xing__be32(x + 12, info->bytes);
    /* For CBR every frame has the same size, so i% of the time is i% of the audio bytes. */
    for (int i = 0; i < 100; i++) {
        uint64_t pos =
            (uint64_t)size + (uint64_t)(info->bytes - (uint32_t)size) * (uint64_t)i / 100;
        uint64_t t = info->bytes ? pos * 256 / info->bytes : 0;
        x[16 + i] = (uint8_t)(t > 255 ? 255 : t);
    }
    xing__be32(x + 116, (uint32_t)info->quality);
    uint8_t *l = x + XING__FIELDS;
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): a 9-byte field, no NUL
    memcpy(l, "LAME3.100", 9);
    l[9] = 0x01; /* tag revision 0, CBR */
    int lp = (info->lowpass_hz + 50) / 100;
    l[10] = (uint8_t)(lp > 255 ? 255 : lp < 0 ? 0 : lp);
    /* l[11..18]: peak and replay gain are unknown (zero). */
    l[20] = (uint8_t)(info->bitrate_kbps > 255 ? 255 : info->bitrate_kbps);
    l[21] = (uint8_t)(info->delay >> 4);
    l[22] = (uint8_t)((info->delay & 0x0F) << 4 | info->padding >> 8);
    l[23] = (uint8_t)info->padding;
    l[24] = (uint8_t)((info->sample_rate == 44100 ? 1 : info->sample_rate == 48000 ? 2 : 0) << 6);
    /* The 11-bit "preset" field: LAME stores the CBR bitrate there. */
    l[26] = (uint8_t)((info->bitrate_kbps >> 8) & 0x07);
    l[27] = (uint8_t)info->bitrate_kbps;
    xing__be32(l + 28, info->bytes); /* music length */
    l[32] = (uint8_t)(info->music_crc >> 8);
    l[33] = (uint8_t)info->music_crc;
    uint16_t crc = audio_crc16(0, frame, (size_t)(l + 34 - frame));
    l[34] = (uint8_t)(crc >> 8);
    l[35] = (uint8_t)crc;
    return size;
}
