#include "audio/id3.h"

#include <errno.h>
#include <string.h>

#define ID3__HEADER_LEN       10
#define ID3__FRAME_HEADER_LEN 10

/* Decodes one UTF-8 sequence at s (len bytes left); returns the number of bytes used (>= 1) and
 * stores the code point, or U+FFFD for a malformed, overlong or surrogate sequence. */
static size_t id3__utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        need = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len < need) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) v = 0xFFFD;
    *cp = v;
    return need;
}

static void id3__be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Encodes text as an ID3v2.3 text-frame body (encoding byte + text) into tmp. The body is at
 * most 1 + 2 + 4 * AUDIO_ID3_MAX_TEXT_CHARS bytes. */
static size_t id3__text_body(const char *text, unsigned char *tmp)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text), ascii = 1;
    for (size_t i = 0; i < len; i++)
        if (s[i] >= 0x80) ascii = 0;
    size_t n = 0;
    if (ascii) {
        if (len > AUDIO_ID3_MAX_TEXT_CHARS) len = AUDIO_ID3_MAX_TEXT_CHARS;
        tmp[n++] = 0; /* ISO-8859-1 */
        memcpy(tmp + n, s, len);
        return n + len;
    }
    tmp[n++] = 1; /* UTF-16 with byte-order mark */
    tmp[n++] = 0xFF;
    tmp[n++] = 0xFE;
    size_t chars = 0;
    for (size_t i = 0; i < len && chars < AUDIO_ID3_MAX_TEXT_CHARS; chars++) {
        uint32_t cp;
        i += id3__utf8_next(s + i, len - i, &cp);
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            uint32_t hi = 0xD800 | (v >> 10), lo = 0xDC00 | (v & 0x3FF);
            tmp[n++] = (unsigned char)hi, tmp[n++] = (unsigned char)(hi >> 8);
            tmp[n++] = (unsigned char)lo, tmp[n++] = (unsigned char)(lo >> 8);
        } else {
            tmp[n++] = (unsigned char)cp, tmp[n++] = (unsigned char)(cp >> 8);
        }
    }
    return n;
}

static int id3__frame(buf_t *out, const char id[4], const unsigned char *body, size_t len)
{
    unsigned char hdr[ID3__FRAME_HEADER_LEN] = {0};
    memcpy(hdr, id, 4);
    id3__be32(hdr + 4, (uint32_t)len);
    int rc = buf_append(out, hdr, sizeof hdr);
    return rc ? rc : buf_append(out, body, len);
}

void audio_id3_tlen_digits(uint64_t length_ms, char digits[AUDIO_ID3_TLEN_DIGITS])
{
    if (length_ms > 9999999999ULL) length_ms = 9999999999ULL;
    for (int i = AUDIO_ID3_TLEN_DIGITS - 1; i >= 0; i--) {
        digits[i] = (char)('0' + length_ms % 10);
        length_ms /= 10;
    }
}

int audio_id3_build(const char *title, const char *artist, uint64_t length_ms, buf_t *out,
                    size_t *tlen_offset)
{
    unsigned char body[3 + 4 * AUDIO_ID3_MAX_TEXT_CHARS];
    size_t start = out->len;
    unsigned char hdr[ID3__HEADER_LEN] = {'I', 'D', '3', 3, 0, 0, 0, 0, 0, 0};
    int rc = buf_append(out, hdr, sizeof hdr);
    if (rc == 0 && title && *title) rc = id3__frame(out, "TIT2", body, id3__text_body(title, body));
    if (rc == 0 && artist && *artist)
        rc = id3__frame(out, "TPE1", body, id3__text_body(artist, body));
    if (rc == 0) {
        body[0] = 0;
        audio_id3_tlen_digits(length_ms, (char *)body + 1);
        *tlen_offset = out->len - start + ID3__FRAME_HEADER_LEN + 1;
        rc = id3__frame(out, "TLEN", body, 1 + AUDIO_ID3_TLEN_DIGITS);
    }
    if (rc) {
        out->len = start; /* drop the partial tag */
        if (out->data) out->data[start] = '\0';
        return rc;
    }
    /* The tag size excludes the header and is stored "syncsafe": 7 bits per byte. */
    size_t size = out->len - start - ID3__HEADER_LEN;
    unsigned char *p = (unsigned char *)out->data + start + 6;
    p[0] = (unsigned char)((size >> 21) & 0x7F);
    p[1] = (unsigned char)((size >> 14) & 0x7F);
    p[2] = (unsigned char)((size >> 7) & 0x7F);
    p[3] = (unsigned char)(size & 0x7F);
    return 0;
}
