/* vision_offline JPEG decoder (libjpeg / libjpeg-turbo). libjpeg's default error handler calls
 * exit(), so we install our own that longjmps back; warnings are silenced. The decoder scales by
 * 1/2, 1/4 or 1/8 while decoding when the picture is much larger than the pixel budget, caps
 * libjpeg's working memory and the number of progressive scans (a classic CPU bomb). */
#include "providers/vision_offline_int.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Real progressive files use about 10 scans; thousands only appear in hostile inputs. */
#define MAX_SCANS 300

typedef struct {
    struct jpeg_error_mgr mgr; /* first member: libjpeg hands us a pointer to it */
    jmp_buf jmp;
    int too_many_scans;
    int hit_eof; /* libjpeg warned that the data ended early */
} jpeg_err_t;

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err_t err;
    struct jpeg_progress_mgr progress;
    uint8_t *row;
    int created;
} jpeg_state_t;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
    longjmp(e->jmp, 1);
}

static void jpeg_on_message(j_common_ptr cinfo)
{
    (void)cinfo;
}

/* Warnings are silent, but "premature end of data" tells a truncated file from a corrupt one. */
static void jpeg_on_emit(j_common_ptr cinfo, int level)
{
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) ((jpeg_err_t *)cinfo->err)->hit_eof = 1;
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
    if (cinfo->is_decompressor) {
        j_decompress_ptr d = (j_decompress_ptr)cinfo;
        if (d->input_scan_number > MAX_SCANS) {
            jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
            e->too_many_scans = 1;
            longjmp(e->jmp, 1);
        }
    }
}

/* Adobe CMYK JPEGs store inverted values; converting with that assumption is what viewers do. */
static void cmyk_to_rgb(uint8_t *row, uint32_t w, int inverted)
{
    for (uint32_t x = 0; x < w; x++) {
        unsigned cc = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
        if (!inverted) {
            cc = 255 - cc;
            m = 255 - m;
            yy = 255 - yy;
            k = 255 - k;
        }
        row[4 * x] = (uint8_t)(cc * k / 255);
        row[4 * x + 1] = (uint8_t)(m * k / 255);
        row[4 * x + 2] = (uint8_t)(yy * k / 255);
        row[4 * x + 3] = 255;
    }
}

static int jpeg_run(jpeg_state_t *s, const uint8_t *data, size_t len,
                    const vision_offline__limits_t *lim, vision_offline__canvas_t *c)
{
    if (setjmp(s->err.jmp)) {
        if (s->err.too_many_scans) return IMGSNIFF_ERR_UNSUPPORTED;
        return s->err.hit_eof ? IMGSNIFF_ERR_TRUNCATED : VISION_OFFLINE_ERR_DECODE;
    }
    jpeg_create_decompress(&s->cinfo);
    s->created = 1;
    s->cinfo.mem->max_memory_to_use =
        (long)(lim->max_codec_bytes > 0x7fffffff ? 0x7fffffff : lim->max_codec_bytes);
    s->progress.progress_monitor = jpeg_on_progress;
    s->cinfo.progress = &s->progress;
    jpeg_mem_src(&s->cinfo, data, (unsigned long)len);
    if (jpeg_read_header(&s->cinfo, TRUE) != JPEG_HEADER_OK) return IMGSNIFF_ERR_TRUNCATED;

    uint32_t w = s->cinfo.image_width, h = s->cinfo.image_height;
    if (w == 0 || h == 0) return IMGSNIFF_ERR_CORRUPT;
    if (w > lim->max_width || h > lim->max_height) return IMGSNIFF_ERR_TOO_LARGE;

    int cmyk = s->cinfo.jpeg_color_space == JCS_CMYK || s->cinfo.jpeg_color_space == JCS_YCCK;
    s->cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    /* Largest power-of-two reduction that still leaves at least the budget's worth of pixels. */
    unsigned denom = 1;
    while (denom < 8 && ((uint64_t)(w / (denom * 2)) * (h / (denom * 2))) >= lim->max_pixels)
        denom *= 2;
    s->cinfo.scale_num = 1;
    s->cinfo.scale_denom = denom;
    s->cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&s->cinfo);

    uint32_t ow = s->cinfo.output_width, oh = s->cinfo.output_height;
    int comps = s->cinfo.output_components;
    if (ow == 0 || oh == 0 || comps != (cmyk ? 4 : 3)) return VISION_OFFLINE_ERR_DECODE;
    int rc = vision_offline__canvas_init(c, ow, oh, lim->max_pixels);
    if (rc) return rc;
    c->orig_w = w;
    c->orig_h = h;
    s->row = malloc((size_t)ow * (size_t)comps);
    if (!s->row) return VISION_OFFLINE_ERR_NOMEM;
    while (s->cinfo.output_scanline < oh) {
        uint32_t y = s->cinfo.output_scanline;
        JSAMPROW rows[1] = {s->row};
        if (jpeg_read_scanlines(&s->cinfo, rows, 1) != 1) return IMGSNIFF_ERR_TRUNCATED;
        long oy = vision_offline__out_y(c, y);
        if (oy < 0) continue;
        if (cmyk) cmyk_to_rgb(s->row, ow, s->cinfo.saw_Adobe_marker);
        vision_offline__put_row(c, (uint32_t)oy, s->row, comps);
    }
    /* jpeg_finish_decompress is skipped on purpose: trailing garbage must not fail a picture
     * whose pixels were all read. */
    return 0;
}

int vision_offline__decode_jpeg(const uint8_t *data, size_t len,
                                const vision_offline__limits_t *lim, vision_offline__canvas_t *c)
{
    jpeg_state_t *s = calloc(1, sizeof *s);
    if (!s) return VISION_OFFLINE_ERR_NOMEM;
    s->cinfo.err = jpeg_std_error(&s->err.mgr);
    s->err.mgr.error_exit = jpeg_on_error;
    s->err.mgr.output_message = jpeg_on_message;
    s->err.mgr.emit_message = jpeg_on_emit;
    int rc = jpeg_run(s, data, len, lim, c);
    if (s->created) jpeg_destroy_decompress(&s->cinfo);
    free(s->row);
    free(s);
    return rc;
}
