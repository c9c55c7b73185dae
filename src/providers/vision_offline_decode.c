/* vision_offline decoding front end: format dispatch by content, the downsampling canvas shared
 * by the per-format decoders, and the WebP decoder (short enough to live here). */
#include "providers/vision_offline_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>

#define DEFAULT_MAX_PIXELS 65536u
#define DEFAULT_CODEC_MEM  ((size_t)256 << 20)

void vision_offline__fit(uint32_t sw, uint32_t sh, uint32_t max_pixels, uint32_t *ow, uint32_t *oh)
{
    if (max_pixels == 0) max_pixels = 1;
    if ((uint64_t)sw * sh <= max_pixels) {
        *ow = sw;
        *oh = sh;
        return;
    }
    double f = sqrt((double)max_pixels / ((double)sw * (double)sh));
    uint32_t w = (uint32_t)((double)sw * f), h = (uint32_t)((double)sh * f);
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    if (w > sw) w = sw;
    if (h > sh) h = sh;
    /* Rounding and the clamps above may overshoot the budget by a little; trim the longer side. */
    while ((uint64_t)w * h > max_pixels) {
        if (w >= h && w > 1)
            w--;
        else if (h > 1)
            h--;
        else
            break;
    }
    *ow = w;
    *oh = h;
}

int vision_offline__canvas_init(vision_offline__canvas_t *c, uint32_t sw, uint32_t sh,
                                uint32_t max_pixels)
{
    memset(c, 0, sizeof *c);
    if (sw == 0 || sh == 0) return IMGSNIFF_ERR_CORRUPT;
    c->sw = sw;
    c->sh = sh;
    c->orig_w = sw;
    c->orig_h = sh;
    vision_offline__fit(sw, sh, max_pixels, &c->ow, &c->oh);
    size_t n = (size_t)c->ow * c->oh * 3;
    c->rgb = malloc(n);
    if (!c->rgb) return VISION_OFFLINE_ERR_NOMEM;
    memset(c->rgb, 255, n);
    return 0;
}

void vision_offline__canvas_free(vision_offline__canvas_t *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

/* Centre of output cell i of n over a source extent of s: floor((2i+1)*s / 2n). */
static uint32_t centre(uint32_t i, uint32_t n, uint32_t s)
{
    return (uint32_t)(((2 * (uint64_t)i + 1) * s) / (2 * (uint64_t)n));
}

uint32_t vision_offline__src_y(const vision_offline__canvas_t *c, uint32_t oy)
{
    return centre(oy, c->oh, c->sh);
}

uint32_t vision_offline__src_x(const vision_offline__canvas_t *c, uint32_t ox)
{
    return centre(ox, c->ow, c->sw);
}

long vision_offline__out_y(const vision_offline__canvas_t *c, uint32_t sy)
{
    /* centre() is strictly increasing in i because oh <= sh, so a binary search finds the only
     * candidate. */
    uint32_t lo = 0, hi = c->oh;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (centre(mid, c->oh, c->sh) < sy)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->oh && centre(lo, c->oh, c->sh) == sy) return (long)lo;
    return -1;
}

void vision_offline__put_row(vision_offline__canvas_t *c, uint32_t oy, const uint8_t *src,
                             int channels)
{
    if (oy >= c->oh) return;
    uint8_t *dst = c->rgb + (size_t)oy * c->ow * 3;
    for (uint32_t ox = 0; ox < c->ow; ox++) {
        const uint8_t *p = src + (size_t)vision_offline__src_x(c, ox) * (size_t)channels;
        if (channels == 4) {
            unsigned a = p[3];
            for (int k = 0; k < 3; k++)
                dst[k] = (uint8_t)((p[k] * a + 255u * (255u - a) + 127u) / 255u);
        } else {
            memcpy(dst, p, 3);
        }
        dst += 3;
    }
}

int vision_offline__decode_webp(const uint8_t *data, size_t len,
                                const vision_offline__limits_t *lim, vision_offline__canvas_t *c)
{
    WebPDecoderConfig cfg;
    if (!WebPInitDecoderConfig(&cfg)) return VISION_OFFLINE_ERR_DECODE;
    VP8StatusCode st = WebPGetFeatures(data, len, &cfg.input);
    if (st == VP8_STATUS_NOT_ENOUGH_DATA) return IMGSNIFF_ERR_TRUNCATED;
    if (st != VP8_STATUS_OK) return VISION_OFFLINE_ERR_DECODE;
    if (cfg.input.has_animation) return IMGSNIFF_ERR_UNSUPPORTED;
    uint32_t w = (uint32_t)cfg.input.width, h = (uint32_t)cfg.input.height;
    if (w == 0 || h == 0) return IMGSNIFF_ERR_CORRUPT;
    if (w > lim->max_width || h > lim->max_height) return IMGSNIFF_ERR_TOO_LARGE;
    int rc = vision_offline__canvas_init(c, w, h, lim->max_pixels);
    if (rc) return rc;

    /* libwebp scales while decoding, so the canvas can be filled directly. */
    cfg.options.use_scaling = 1;
    cfg.options.scaled_width = (int)c->ow;
    cfg.options.scaled_height = (int)c->oh;
    cfg.output.colorspace = MODE_RGBA;
    st = WebPDecode(data, len, &cfg);
    if (st != VP8_STATUS_OK) {
        WebPFreeDecBuffer(&cfg.output);
        return st == VP8_STATUS_NOT_ENOUGH_DATA ? IMGSNIFF_ERR_TRUNCATED
               : st == VP8_STATUS_OUT_OF_MEMORY ? VISION_OFFLINE_ERR_NOMEM
                                                : VISION_OFFLINE_ERR_DECODE;
    }
    const WebPRGBABuffer *out = &cfg.output.u.RGBA;
    if ((uint32_t)cfg.output.width != c->ow || (uint32_t)cfg.output.height != c->oh) {
        WebPFreeDecBuffer(&cfg.output);
        return VISION_OFFLINE_ERR_DECODE;
    }
    /* put_row samples source columns, and here the source already has the output width. */
    vision_offline__canvas_t direct = *c;
    direct.sw = c->ow;
    for (uint32_t y = 0; y < c->oh; y++)
        vision_offline__put_row(&direct, y, out->rgba + (size_t)y * (size_t)out->stride, 4);
    WebPFreeDecBuffer(&cfg.output);
    return 0;
}

int vision_offline_decode(const uint8_t *data, size_t len, const vision_offline_config_t *cfg,
                          vision_offline_image_t *out)
{
    if (!out) return IMGSNIFF_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (!data && len) return IMGSNIFF_ERR_INVALID;
    vision_offline__limits_t lim = {DEFAULT_MAX_PIXELS, IMGSNIFF_DEFAULT_MAX_SIDE,
                                    IMGSNIFF_DEFAULT_MAX_SIDE, DEFAULT_CODEC_MEM};
    if (cfg) {
        if (cfg->max_pixels) lim.max_pixels = cfg->max_pixels;
        if (cfg->max_width) lim.max_width = cfg->max_width;
        if (cfg->max_height) lim.max_height = cfg->max_height;
        if (cfg->max_codec_bytes) lim.max_codec_bytes = cfg->max_codec_bytes;
    }
    imgsniff_info_t info;
    int rc = imgsniff_detect_limited(data, len, lim.max_width, lim.max_height, &info);
    if (rc) return rc;

    vision_offline__canvas_t c;
    memset(&c, 0, sizeof c);
    switch (info.type) {
    case IMGSNIFF_PNG:
        rc = vision_offline__decode_png(data, len, &lim, &c);
        break;
    case IMGSNIFF_JPEG:
        rc = vision_offline__decode_jpeg(data, len, &lim, &c);
        break;
    case IMGSNIFF_GIF:
        rc = vision_offline__decode_gif(data, len, &lim, &c);
        break;
    case IMGSNIFF_WEBP:
        rc = vision_offline__decode_webp(data, len, &lim, &c);
        break;
    default:
        rc = IMGSNIFF_ERR_UNSUPPORTED;
        break;
    }
    if (rc) {
        vision_offline__canvas_free(&c);
        return rc;
    }
    out->rgb = c.rgb;
    out->width = c.ow;
    out->height = c.oh;
    out->src_width = c.orig_w;
    out->src_height = c.orig_h;
    out->type = info.type;
    return 0;
}

void vision_offline_image_free(vision_offline_image_t *img)
{
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

const char *vision_offline_strerror(int err)
{
    if (err == VISION_OFFLINE_ERR_DECODE) return "image data could not be decoded";
    if (err == VISION_OFFLINE_ERR_NOMEM) return "out of memory";
    return imgsniff_strerror(err);
}
