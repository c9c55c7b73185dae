/* imgsniff: content-based image identification; see imgsniff.h. Every parser below reads through
 * the bounds-checked helpers so a short or lying input can only produce an error code. */
#include "media/imgsniff.h"

#include <string.h>

/* Reads are guarded by the caller comparing offsets with len before calling these. */
static uint32_t be16(const uint8_t *p)
{
    return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static uint32_t le32(const uint8_t *p)
{
    return le24(p) | ((uint32_t)p[3] << 24);
}

static void set_type(imgsniff_info_t *info, imgsniff_type_t t)
{
    static const char *const mimes[] = {NULL, "image/png", "image/jpeg", "image/gif", "image/webp"};
    static const char *const exts[] = {NULL, "png", "jpg", "gif", "webp"};
    info->type = t;
    info->mime = mimes[t];
    info->extension = exts[t];
}

static int finish_dims(imgsniff_info_t *info, uint32_t w, uint32_t h)
{
    if (w == 0 || h == 0) return IMGSNIFF_ERR_CORRUPT;
    info->width = w;
    info->height = h;
    return 0;
}

static int sniff_png(const uint8_t *d, size_t len, imgsniff_info_t *info)
{
    /* Signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4) + depth, colour. */
    if (len < 26) return IMGSNIFF_ERR_TRUNCATED;
    if (be32(d + 8) != 13 || memcmp(d + 12, "IHDR", 4) != 0) return IMGSNIFF_ERR_CORRUPT;
    uint32_t w = be32(d + 16), h = be32(d + 20);
    /* The PNG spec caps dimensions at 2^31-1. */
    if (w > 0x7fffffffu || h > 0x7fffffffu) return IMGSNIFF_ERR_CORRUPT;
    uint8_t colour = d[25];
    info->has_alpha = (colour == 4 || colour == 6);
    return finish_dims(info, w, h);
}

/* SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
static int is_sof(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int sniff_jpeg(const uint8_t *d, size_t len, imgsniff_info_t *info)
{
    size_t pos = 2; /* after SOI */
    for (;;) {
        /* Markers are 0xFF followed by a code; any number of 0xFF fill bytes may precede it. */
        /* Like libjpeg, tolerate stray bytes between segments by scanning to the next 0xFF. */
        while (pos < len && d[pos] != 0xFF)
            pos++;
        while (pos < len && d[pos] == 0xFF)
            pos++;
        if (pos >= len) return IMGSNIFF_ERR_TRUNCATED;
        uint8_t m = d[pos++];
        if (m == 0x00) return IMGSNIFF_ERR_CORRUPT;
        /* Standalone markers carry no length field. */
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;
        if (m == 0xD8) return IMGSNIFF_ERR_CORRUPT;
        if (m == 0xD9 || m == 0xDA) return IMGSNIFF_ERR_CORRUPT; /* EOI/SOS before any frame */
        if (pos + 2 > len) return IMGSNIFF_ERR_TRUNCATED;
        uint32_t seglen = be16(d + pos);
        if (seglen < 2) return IMGSNIFF_ERR_CORRUPT;
        if (is_sof(m)) {
            /* length(2) precision(1) height(2) width(2) components(1) */
            if (seglen < 8) return IMGSNIFF_ERR_CORRUPT;
            if (pos + 8 > len) return IMGSNIFF_ERR_TRUNCATED;
            uint32_t h = be16(d + pos + 3), w = be16(d + pos + 5);
            /* Height 0 means "defined later by a DNL marker", which we do not chase. */
            if (h == 0) return IMGSNIFF_ERR_UNSUPPORTED;
            return finish_dims(info, w, h);
        }
        pos += seglen; /* cannot overflow: seglen <= 65535 and pos <= len */
    }
}

static int sniff_gif(const uint8_t *d, size_t len, imgsniff_info_t *info)
{
    if (len < 10) return IMGSNIFF_ERR_TRUNCATED;
    return finish_dims(info, le16(d + 6), le16(d + 8));
}

static int sniff_webp(const uint8_t *d, size_t len, imgsniff_info_t *info)
{
    if (len < 16) return IMGSNIFF_ERR_TRUNCATED;
    const uint8_t *c = d + 12; /* first chunk fourcc; its payload starts at d + 20 */
    if (memcmp(c, "VP8 ", 4) == 0) {
        info->webp_kind = IMGSNIFF_WEBP_LOSSY;
        if (len < 30) return IMGSNIFF_ERR_TRUNCATED;
        const uint8_t *p = d + 20;
        /* 3-byte frame tag (bit 0 clear = key frame), then start code 9D 01 2A. */
        if ((p[0] & 1) != 0) return IMGSNIFF_ERR_CORRUPT;
        if (p[3] != 0x9D || p[4] != 0x01 || p[5] != 0x2A) return IMGSNIFF_ERR_CORRUPT;
        return finish_dims(info, le16(p + 6) & 0x3FFF, le16(p + 8) & 0x3FFF);
    }
    if (memcmp(c, "VP8L", 4) == 0) {
        info->webp_kind = IMGSNIFF_WEBP_LOSSLESS;
        if (len < 25) return IMGSNIFF_ERR_TRUNCATED;
        const uint8_t *p = d + 20;
        if (p[0] != 0x2F) return IMGSNIFF_ERR_CORRUPT;
        /* 14 bits width-1, 14 bits height-1, 1 bit alpha hint, 3 bits version (must be 0). */
        uint32_t bits = le32(p + 1);
        if ((bits >> 29) != 0) return IMGSNIFF_ERR_CORRUPT;
        info->has_alpha = (int)((bits >> 28) & 1);
        return finish_dims(info, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
    }
    if (memcmp(c, "VP8X", 4) == 0) {
        info->webp_kind = IMGSNIFF_WEBP_EXTENDED;
        if (len < 30) return IMGSNIFF_ERR_TRUNCATED;
        const uint8_t *p = d + 20;
        info->has_alpha = (p[0] & 0x10) != 0;
        info->animated = (p[0] & 0x02) != 0;
        return finish_dims(info, le24(p + 4) + 1, le24(p + 7) + 1);
    }
    return IMGSNIFF_ERR_UNSUPPORTED;
}

/* Image formats that we recognise only to report "unsupported" rather than "not an image". */
static int is_other_image(const uint8_t *d, size_t len)
{
    if (len >= 2 && d[0] == 'B' && d[1] == 'M') return 1;                       /* BMP */
    if (len >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0)) /* TIFF */
        return 1;
    if (len >= 4 && memcmp(d, "\0\0\1\0", 4) == 0) return 1; /* ICO */
    if (len >= 12 && memcmp(d + 4, "ftyp", 4) == 0) {
        static const char *const brands[] = {"avif", "avis", "heic", "heix", "mif1", "msf1"};
        for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
            if (memcmp(d + 8, brands[i], 4) == 0) return 1;
    }
    if (len >= 8 && memcmp(d, "\x8aMNG\r\n\x1a\n", 8) == 0) return 1;
    return 0;
}

/* Signatures; '?' bytes in the WebP one are the RIFF size and match anything. */
static const struct {
    imgsniff_type_t type;
    size_t len;
    const char *sig;
} signatures[] = {
    {IMGSNIFF_PNG, 8, "\x89PNG\r\n\x1a\n"},
    {IMGSNIFF_JPEG, 3, "\xff\xd8\xff"},
    {IMGSNIFF_GIF, 6, "GIF87a"},
    {IMGSNIFF_GIF, 6, "GIF89a"},
    {IMGSNIFF_WEBP, 12, "RIFF????WEBP"},
};

/* 1 when the first min(len, n) bytes of data match the signature. */
static int sig_prefix(const uint8_t *data, size_t len, const char *sig, size_t n)
{
    size_t m = len < n ? len : n;
    for (size_t i = 0; i < m; i++)
        if (sig[i] != '?' && data[i] != (uint8_t)sig[i]) return 0;
    return 1;
}

int imgsniff_detect(const uint8_t *data, size_t len, imgsniff_info_t *info)
{
    if (!info) return IMGSNIFF_ERR_INVALID;
    memset(info, 0, sizeof *info);
    if (!data && len) return IMGSNIFF_ERR_INVALID;
    if (len == 0) return IMGSNIFF_ERR_TRUNCATED;

    for (size_t i = 0; i < sizeof signatures / sizeof signatures[0]; i++) {
        if (!sig_prefix(data, len, signatures[i].sig, signatures[i].len)) continue;
        /* A prefix of a signature is reported as truncated rather than as garbage, so a partly
         * received upload is described accurately. */
        set_type(info, signatures[i].type);
        if (len < signatures[i].len) return IMGSNIFF_ERR_TRUNCATED;
        switch (signatures[i].type) {
        case IMGSNIFF_PNG:
            return sniff_png(data, len, info);
        case IMGSNIFF_JPEG:
            return sniff_jpeg(data, len, info);
        case IMGSNIFF_GIF:
            return sniff_gif(data, len, info);
        default:
            return sniff_webp(data, len, info);
        }
    }
    return is_other_image(data, len) ? IMGSNIFF_ERR_UNSUPPORTED : IMGSNIFF_ERR_NOT_IMAGE;
}

int imgsniff_check_limits(const imgsniff_info_t *info, uint32_t max_width, uint32_t max_height)
{
    if (!info) return IMGSNIFF_ERR_INVALID;
    if (max_width == 0) max_width = IMGSNIFF_DEFAULT_MAX_SIDE;
    if (max_height == 0) max_height = IMGSNIFF_DEFAULT_MAX_SIDE;
    if (info->width > max_width || info->height > max_height) return IMGSNIFF_ERR_TOO_LARGE;
    return 0;
}

int imgsniff_detect_limited(const uint8_t *data, size_t len, uint32_t max_width,
                            uint32_t max_height, imgsniff_info_t *info)
{
    int rc = imgsniff_detect(data, len, info);
    if (rc != 0) return rc;
    return imgsniff_check_limits(info, max_width, max_height);
}

const char *imgsniff_type_name(imgsniff_type_t type)
{
    switch (type) {
    case IMGSNIFF_PNG:
        return "png";
    case IMGSNIFF_JPEG:
        return "jpeg";
    case IMGSNIFF_GIF:
        return "gif";
    case IMGSNIFF_WEBP:
        return "webp";
    default:
        return "none";
    }
}

const char *imgsniff_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case IMGSNIFF_ERR_INVALID:
        return "invalid argument";
    case IMGSNIFF_ERR_NOT_IMAGE:
        return "not an image";
    case IMGSNIFF_ERR_UNSUPPORTED:
        return "unsupported image format";
    case IMGSNIFF_ERR_TRUNCATED:
        return "truncated image";
    case IMGSNIFF_ERR_CORRUPT:
        return "corrupt image header";
    case IMGSNIFF_ERR_TOO_LARGE:
        return "image too large";
    default:
        return "unknown error";
    }
}
