/* vision_offline GIF decoder (giflib 5). Only the first frame is decoded, drawn at its offset on
 * a white logical screen; rows are streamed through DGifGetLine so memory stays at one frame row.
 * giflib reports errors by return code, so no longjmp is involved here. */
#include "providers/vision_offline_int.h"

#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

/* Extension blocks before the first image; real files have a handful. */
#define MAX_RECORDS 4096

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    int truncated;
} gif_src_t;

static int gif_read_mem(GifFileType *gif, GifByteType *out, int n)
{
    gif_src_t *s = gif->UserData;
    if (n <= 0) return 0;
    size_t want = (size_t)n, left = s->len - s->pos;
    if (want > left) {
        s->truncated = 1;
        want = left;
    }
    memcpy(out, s->data + s->pos, want);
    s->pos += want;
    return (int)want;
}

/* Maps frame row index i (in file order) to the picture row, undoing GIF interlacing:
 * pass 1 rows 0,8,16..; pass 2 rows 4,12..; pass 3 rows 2,6..; pass 4 rows 1,3,5.. */
static uint32_t deinterlace(uint32_t i, uint32_t h)
{
    static const uint32_t start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    for (int p = 0; p < 4; p++) {
        uint32_t n = h > start[p] ? (h - start[p] + step[p] - 1) / step[p] : 0;
        if (i < n) return start[p] + i * step[p];
        i -= n;
    }
    return h; /* not reached for i < h */
}

static int gif_frame(GifFileType *gif, int transparent, const vision_offline__limits_t *lim,
                     vision_offline__canvas_t *c, gif_src_t *src)
{
    if (DGifGetImageDesc(gif) == GIF_ERROR)
        return src->truncated ? IMGSNIFF_ERR_TRUNCATED : VISION_OFFLINE_ERR_DECODE;
    const GifImageDesc *d = &gif->Image;
    if (d->Width <= 0 || d->Height <= 0 || d->Left < 0 || d->Top < 0) return IMGSNIFF_ERR_CORRUPT;
    uint32_t fw = (uint32_t)d->Width, fh = (uint32_t)d->Height;
    if (fw > lim->max_width || fh > lim->max_height) return IMGSNIFF_ERR_TOO_LARGE;
    /* A zero-sized logical screen happens in the wild; the frame then defines the picture. */
    uint32_t sw = gif->SWidth > 0 ? (uint32_t)gif->SWidth : fw;
    uint32_t sh = gif->SHeight > 0 ? (uint32_t)gif->SHeight : fh;
    if (sw > lim->max_width || sh > lim->max_height) return IMGSNIFF_ERR_TOO_LARGE;
    int rc = vision_offline__canvas_init(c, sw, sh, lim->max_pixels);
    if (rc) return rc;

    const ColorMapObject *cmap = d->ColorMap ? d->ColorMap : gif->SColorMap;
    GifPixelType *line = malloc(fw);
    uint8_t *rgb = malloc((size_t)sw * 4);
    if (!line || !rgb) {
        free(line);
        free(rgb);
        return VISION_OFFLINE_ERR_NOMEM;
    }
    rc = 0;
    for (uint32_t i = 0; i < fh; i++) {
        if (DGifGetLine(gif, line, (int)fw) == GIF_ERROR) {
            rc = src->truncated ? IMGSNIFF_ERR_TRUNCATED : VISION_OFFLINE_ERR_DECODE;
            break;
        }
        uint32_t fy = d->Interlace ? deinterlace(i, fh) : i;
        uint64_t y = (uint64_t)d->Top + fy;
        if (y >= sh) continue;
        long oy = vision_offline__out_y(c, (uint32_t)y);
        if (oy < 0) continue;
        /* Build the full screen row: white, overlaid with the frame's opaque pixels. */
        memset(rgb, 255, (size_t)sw * 4);
        for (uint32_t x = 0; x < fw; x++) {
            uint64_t sx = (uint64_t)d->Left + x;
            if (sx >= sw) break;
            int idx = line[x];
            if (idx == transparent) continue;
            uint8_t *p = rgb + sx * 4;
            if (cmap && cmap->Colors && idx < cmap->ColorCount) {
                p[0] = cmap->Colors[idx].Red;
                p[1] = cmap->Colors[idx].Green;
                p[2] = cmap->Colors[idx].Blue;
            } else {
                /* No palette: the index is the best stand-in for a grey level. */
                p[0] = p[1] = p[2] = (uint8_t)idx;
            }
        }
        vision_offline__put_row(c, (uint32_t)oy, rgb, 4);
    }
    free(line);
    free(rgb);
    return rc;
}

int vision_offline__decode_gif(const uint8_t *data, size_t len, const vision_offline__limits_t *lim,
                               vision_offline__canvas_t *c)
{
    gif_src_t src = {data, len, 0, 0};
    int err = 0;
    GifFileType *gif = DGifOpen(&src, gif_read_mem, &err);
    if (!gif) return src.truncated ? IMGSNIFF_ERR_TRUNCATED : VISION_OFFLINE_ERR_DECODE;
    int transparent = -1, rc = IMGSNIFF_ERR_TRUNCATED;
    for (int records = 0; records < MAX_RECORDS; records++) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) {
            rc = src.truncated ? IMGSNIFF_ERR_TRUNCATED : VISION_OFFLINE_ERR_DECODE;
            break;
        }
        if (type == IMAGE_DESC_RECORD_TYPE) {
            rc = gif_frame(gif, transparent, lim, c, &src);
            break;
        }
        if (type == TERMINATE_RECORD_TYPE) {
            rc = IMGSNIFF_ERR_CORRUPT; /* a GIF without any image */
            break;
        }
        if (type != EXTENSION_RECORD_TYPE) {
            rc = VISION_OFFLINE_ERR_DECODE;
            break;
        }
        int code = 0;
        GifByteType *ext = NULL;
        if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) {
            rc = src.truncated ? IMGSNIFF_ERR_TRUNCATED : VISION_OFFLINE_ERR_DECODE;
            break;
        }
        if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4) {
            GraphicsControlBlock gcb;
            if (DGifExtensionToGCB(ext[0], ext + 1, &gcb) == GIF_OK)
                transparent = gcb.TransparentColor;
        }
        int ok = 1;
        while (ext) {
            if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) {
                ok = 0;
                break;
            }
        }
        if (!ok) {
            rc = src.truncated ? IMGSNIFF_ERR_TRUNCATED : VISION_OFFLINE_ERR_DECODE;
            break;
        }
    }
    DGifCloseFile(gif, &err);
    return rc;
}
