/* vision_offline PNG decoder (libpng). Rows are streamed and only the rows that land on output
 * pixels are kept, so memory stays at one source row (or, for interlaced images, one source row
 * per output row). libpng reports errors by longjmp; all state that must survive the jump lives
 * in png_state_t, reached through a pointer that never changes after setjmp. */
#include "providers/vision_offline_int.h"

#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    int truncated;
    png_structp png;
    png_infop info;
    uint8_t *scratch; /* one source row */
    uint8_t *rows;    /* interlaced only: one source row per output row */
} png_state_t;

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_state_t *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) {
        s->truncated = 1;
        png_error(png, "truncated");
    }
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    /* Warnings about ancillary chunks are common in real files and not worth a log line. */
    (void)png;
    (void)msg;
}

static int png_run(png_state_t *s, const vision_offline__limits_t *lim, vision_offline__canvas_t *c)
{
    if (setjmp(png_jmpbuf(s->png)))
        return s->truncated ? IMGSNIFF_ERR_TRUNCATED : VISION_OFFLINE_ERR_DECODE;

    png_set_user_limits(s->png, lim->max_width, lim->max_height);
    /* Bound what hostile files can make libpng allocate for ancillary chunks. */
    png_set_chunk_cache_max(s->png, 128);
    png_set_chunk_malloc_max(s->png, (png_alloc_size_t)4 << 20);
    png_read_info(s->png, s->info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(s->png, s->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (w > lim->max_width || h > lim->max_height) return IMGSNIFF_ERR_TOO_LARGE;

    /* Normalise every colour type to 8-bit RGBA. */
    int has_alpha = (color & PNG_COLOR_MASK_ALPHA) || png_get_valid(s->png, s->info, PNG_INFO_tRNS);
    png_set_expand(s->png);
    png_set_strip_16(s->png);
    png_set_gray_to_rgb(s->png);
    if (!has_alpha) png_set_filler(s->png, 0xFF, PNG_FILLER_AFTER);
    int passes = png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);
    size_t rowbytes = png_get_rowbytes(s->png, s->info);
    if (rowbytes != (size_t)w * 4) return VISION_OFFLINE_ERR_DECODE;

    int rc = vision_offline__canvas_init(c, w, h, lim->max_pixels);
    if (rc) return rc;
    s->scratch = malloc(rowbytes);
    if (!s->scratch) return VISION_OFFLINE_ERR_NOMEM;

    if (passes <= 1) {
        for (uint32_t y = 0; y < h; y++) {
            png_read_row(s->png, s->scratch, NULL);
            long oy = vision_offline__out_y(c, y);
            if (oy >= 0) vision_offline__put_row(c, (uint32_t)oy, s->scratch, 4);
        }
        return 0;
    }

    /* Interlaced: each pass fills a subset of the pixels of each row, so the kept rows must
     * persist across passes. */
    if ((size_t)c->oh > lim->max_codec_bytes / rowbytes) return IMGSNIFF_ERR_TOO_LARGE;
    s->rows = calloc(c->oh, rowbytes);
    if (!s->rows) return VISION_OFFLINE_ERR_NOMEM;
    for (int pass = 0; pass < passes; pass++) {
        for (uint32_t y = 0; y < h; y++) {
            long oy = vision_offline__out_y(c, y);
            uint8_t *dst = oy >= 0 ? s->rows + (size_t)oy * rowbytes : s->scratch;
            png_read_row(s->png, dst, NULL);
        }
    }
    for (uint32_t oy = 0; oy < c->oh; oy++)
        vision_offline__put_row(c, oy, s->rows + (size_t)oy * rowbytes, 4);
    return 0;
}

int vision_offline__decode_png(const uint8_t *data, size_t len, const vision_offline__limits_t *lim,
                               vision_offline__canvas_t *c)
{
    png_state_t s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.len = len;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_on_error, png_on_warning);
    if (!s.png) return VISION_OFFLINE_ERR_NOMEM;
    s.info = png_create_info_struct(s.png);
    if (!s.info) {
        png_destroy_read_struct(&s.png, NULL, NULL);
        return VISION_OFFLINE_ERR_NOMEM;
    }
    png_set_read_fn(s.png, &s, png_read_mem);
    int rc = png_run(&s, lim, c);
    png_destroy_read_struct(&s.png, &s.info, NULL);
    free(s.scratch);
    free(s.rows);
    return rc;
}
