/* vision_offline: an offline "image understanding" provider. It decodes PNG, JPEG, GIF (first
 * frame) and WebP (still) into a small RGB picture within a pixel budget, measures simple facts
 * (shape, brightness, named colours, colourfulness, composition) and words them as one or two
 * honest, child-friendly sentences. Pure CPU work meant for the libuv threadpool: synchronous,
 * no global mutable state, safe to call from several threads at once. */
#ifndef NOVA_PROVIDERS_VISION_OFFLINE_H
#define NOVA_PROVIDERS_VISION_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "media/imgsniff.h"

/* Decoder failures beyond the IMGSNIFF_ERR_* codes (which the decoder also returns). */
#define VISION_OFFLINE_ERR_DECODE (-EPROTO) /* the codec rejected the data */
#define VISION_OFFLINE_ERR_NOMEM  (-ENOMEM)

typedef struct {
    uint32_t max_pixels;    /* decoded picture budget (w*h); 0 = 65536 (about 256x256) */
    uint32_t max_width;     /* largest accepted source side; 0 = IMGSNIFF_DEFAULT_MAX_SIDE */
    uint32_t max_height;    /* 0 = IMGSNIFF_DEFAULT_MAX_SIDE */
    size_t max_codec_bytes; /* working memory a codec may allocate (JPEG); 0 = 256 MiB */
} vision_offline_config_t;

/* A decoded picture: width*height RGB triplets, rows top to bottom. The struct owns rgb; free
 * it with vision_offline_image_free. Transparent pixels are composited over white. */
typedef struct {
    uint8_t *rgb;
    uint32_t width, height;         /* decoded (possibly downscaled) size */
    uint32_t src_width, src_height; /* size of the original image */
    imgsniff_type_t type;
} vision_offline_image_t;

/* Decodes data into *out (zeroed first). Returns 0, an IMGSNIFF_ERR_* code, or
 * VISION_OFFLINE_ERR_DECODE / _NOMEM. cfg may be NULL for defaults. */
int vision_offline_decode(const uint8_t *data, size_t len, const vision_offline_config_t *cfg,
                          vision_offline_image_t *out);
void vision_offline_image_free(vision_offline_image_t *img);

typedef enum {
    VISION_COLOR_RED = 0,
    VISION_COLOR_ORANGE,
    VISION_COLOR_YELLOW,
    VISION_COLOR_GREEN,
    VISION_COLOR_TEAL,
    VISION_COLOR_BLUE,
    VISION_COLOR_PURPLE,
    VISION_COLOR_PINK,
    VISION_COLOR_BROWN,
    VISION_COLOR_BLACK,
    VISION_COLOR_WHITE,
    VISION_COLOR_GREY,
    VISION_COLOR_COUNT
} vision_color_t;

typedef enum {
    VISION_SHAPE_SQUARE = 0,
    VISION_SHAPE_LANDSCAPE,
    VISION_SHAPE_PORTRAIT
} vision_shape_t;
typedef enum {
    VISION_SIZE_TINY = 0,
    VISION_SIZE_SMALL,
    VISION_SIZE_MEDIUM,
    VISION_SIZE_LARGE
} vision_size_t;
typedef enum {
    VISION_LIGHT_DARK = 0,
    VISION_LIGHT_DIM,
    VISION_LIGHT_MEDIUM,
    VISION_LIGHT_BRIGHT
} vision_light_t;
typedef enum {
    VISION_COLORFUL_GREY = 0, /* essentially no colour */
    VISION_COLORFUL_MUTED,
    VISION_COLORFUL_COLORFUL,
    VISION_COLORFUL_VIVID
} vision_colorful_t;

/* 3x3 grid position of the brightest region. */
typedef enum {
    VISION_POS_UPPER_LEFT = 0,
    VISION_POS_TOP,
    VISION_POS_UPPER_RIGHT,
    VISION_POS_LEFT,
    VISION_POS_CENTRE,
    VISION_POS_RIGHT,
    VISION_POS_LOWER_LEFT,
    VISION_POS_BOTTOM,
    VISION_POS_LOWER_RIGHT
} vision_pos_t;

/* Structured facts for later use (prompts, alt text, moderation hints). */
typedef struct {
    imgsniff_type_t type;
    uint32_t width, height; /* original size */
    vision_shape_t shape;
    vision_size_t size;
    vision_light_t light;
    vision_colorful_t colorful;
    double mean_luma;                       /* 0..255 */
    double contrast;                        /* standard deviation of luma, 0..~128 */
    double colorfulness;                    /* Hasler-Suesstrunk metric, 0..~150 */
    double color_share[VISION_COLOR_COUNT]; /* fraction of pixels per named colour, sums to 1 */
    vision_color_t dominant[3];             /* by share, most common first */
    int n_dominant;                         /* how many of dominant[] are significant (1..3) */
    double top_luma, bottom_luma;           /* mean luma of the top and bottom halves */
    double left_luma, right_luma;
    vision_pos_t brightest; /* brightest cell of a 3x3 grid */
    double brightest_luma;  /* that cell's mean luma */
    int sky_like;           /* lighter top half of sky colours */
    int mostly_one_color;   /* one named colour covers most of the picture */
} vision_offline_facts_t;

/* Measures facts on a decoded picture. Returns 0 or -EINVAL. */
int vision_offline_analyze(const vision_offline_image_t *img, vision_offline_facts_t *facts);

/* Writes the description (NUL-terminated, truncated to cap). Returns 0, or -ENOSPC when it did
 * not fit, -EINVAL on bad arguments. */
int vision_offline_describe_facts(const vision_offline_facts_t *facts, char *text, size_t cap);

/* Convenience: decode + analyze + describe. facts may be NULL. */
int vision_offline_describe(const uint8_t *data, size_t len, const vision_offline_config_t *cfg,
                            vision_offline_facts_t *facts, char *text, size_t cap);

/* Message for any code returned by this module (including IMGSNIFF_ERR_*). */
const char *vision_offline_strerror(int err);

/* Static English names ("blue", "upper left"). */
const char *vision_offline_color_name(vision_color_t c);
const char *vision_offline_pos_name(vision_pos_t p);

/* Classifies one RGB colour into a named colour (exposed for tests and for illustrate). */
vision_color_t vision_offline_classify_rgb(uint8_t r, uint8_t g, uint8_t b);

#endif
