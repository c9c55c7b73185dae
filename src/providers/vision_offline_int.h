/* Internal to vision_offline: the shared downsampling canvas used by every format decoder, and
 * the per-format entry points. Not for use outside src/providers/vision_offline*.c. */
#ifndef NOVA_PROVIDERS_VISION_OFFLINE_INT_H
#define NOVA_PROVIDERS_VISION_OFFLINE_INT_H

#include "providers/vision_offline.h"

/* Limits resolved from vision_offline_config_t (zeros replaced by defaults). */
typedef struct {
    uint32_t max_pixels;
    uint32_t max_width, max_height;
    size_t max_codec_bytes;
} vision_offline__limits_t;

/* Nearest-neighbour sampling target: the decoder streams source rows (sw x sh) and the canvas
 * keeps only the rows and columns that land on output pixels (ow x oh). ow <= sw, oh <= sh. */
typedef struct {
    uint8_t *rgb; /* ow*oh*3, owned until moved into the image */
    uint32_t ow, oh;
    uint32_t sw, sh;
    uint32_t orig_w, orig_h; /* original image size (differs from sw x sh when the codec scaled) */
} vision_offline__canvas_t;

/* Chooses an output size within max_pixels keeping the aspect ratio. */
void vision_offline__fit(uint32_t sw, uint32_t sh, uint32_t max_pixels, uint32_t *ow, uint32_t *oh);
/* Allocates the canvas (filled white). Returns 0 or -ENOMEM. */
int vision_offline__canvas_init(vision_offline__canvas_t *c, uint32_t sw, uint32_t sh,
                                uint32_t max_pixels);
void vision_offline__canvas_free(vision_offline__canvas_t *c);
/* Source row/column sampled for output row oy / column ox. */
uint32_t vision_offline__src_y(const vision_offline__canvas_t *c, uint32_t oy);
uint32_t vision_offline__src_x(const vision_offline__canvas_t *c, uint32_t ox);
/* Output row fed by source row sy, or -1 when that row is skipped. */
long vision_offline__out_y(const vision_offline__canvas_t *c, uint32_t sy);
/* Stores output row oy from a full source row of sw pixels with 3 (RGB) or 4 (RGBA, composited
 * over white) channels. */
void vision_offline__put_row(vision_offline__canvas_t *c, uint32_t oy, const uint8_t *src,
                             int channels);

int vision_offline__decode_png(const uint8_t *data, size_t len, const vision_offline__limits_t *lim,
                               vision_offline__canvas_t *c);
int vision_offline__decode_jpeg(const uint8_t *data, size_t len,
                                const vision_offline__limits_t *lim, vision_offline__canvas_t *c);
int vision_offline__decode_gif(const uint8_t *data, size_t len, const vision_offline__limits_t *lim,
                               vision_offline__canvas_t *c);
int vision_offline__decode_webp(const uint8_t *data, size_t len,
                                const vision_offline__limits_t *lim, vision_offline__canvas_t *c);

#endif
