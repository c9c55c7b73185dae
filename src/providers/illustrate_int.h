/* Internal to illustrate: the drawing context shared by the scene composer (illustrate.c), the
 * shape library (illustrate_shapes.c, illustrate_beings.c) and the prompt reader
 * (illustrate_words.c). Not for use outside src/providers/illustrate*.c. */
#ifndef NOVA_PROVIDERS_ILLUSTRATE_INT_H
#define NOVA_PROVIDERS_ILLUSTRATE_INT_H

#include <cairo.h>

#include "core/buf.h"

#include "providers/illustrate.h"

/* Small deterministic generator (splitmix64); one per render, so threads never share it. */
typedef struct {
    uint64_t s;
} illustrate__rng_t;

uint64_t illustrate__next(illustrate__rng_t *r);
double illustrate__uniform(illustrate__rng_t *r, double lo, double hi); /* [lo, hi) */
uint64_t illustrate__hash(const char *s);                               /* FNV-1a, case-folded */

typedef struct {
    cairo_t *cr;
    double w, h;
    double unit;    /* min(w, h) / 768: shapes are designed at 768 px and scaled by this */
    double horizon; /* y of the horizon */
    double floor_y; /* lowest y where things may stand (top of the caption banner) */
    int night;
    illustrate__rng_t rng;
    const illustrate_request_t *req;
} illustrate__ctx_t;

/* Colours of one drawn thing: body, accent, detail (0xRRGGBB). */
typedef struct {
    uint32_t c[3];
} illustrate__colors_t;

void illustrate__set_rgb(cairo_t *cr, uint32_t rgb);
void illustrate__ellipse(cairo_t *cr, double cx, double cy, double rx, double ry);
/* Fills the current path with rgb and strokes it with the outline colour (storybook look). */
void illustrate__fill_outline(illustrate__ctx_t *x, uint32_t rgb);
void illustrate__fill(illustrate__ctx_t *x, uint32_t rgb);
/* Two round eyes with pupils looking slightly right. */
void illustrate__eyes(illustrate__ctx_t *x, double cx, double cy, double gap, double r);
void illustrate__set_rgba(cairo_t *cr, uint32_t rgb, double alpha);
void illustrate__trace(illustrate__ctx_t *x, illustrate_elem_t elem, const char *name, double bx,
                       double by, double bw, double bh, const illustrate__colors_t *colors);

/* Draws a thing standing at (cx, base) — base is the bottom of the shape — with height about
 * `size`. variant (from a hash) picks small shape differences. */
typedef void (*illustrate__draw_fn)(illustrate__ctx_t *x, double cx, double base, double size,
                                    const illustrate__colors_t *col, uint32_t variant);

/* Drawers for living things (illustrate_beings.c). */
#define ILLUSTRATE__BEING(n)                                                                       \
    void illustrate__draw_##n(illustrate__ctx_t *x, double cx, double base, double size,           \
                              const illustrate__colors_t *col, uint32_t variant)
ILLUSTRATE__BEING(dragon);
ILLUSTRATE__BEING(cat);
ILLUSTRATE__BEING(dog);
ILLUSTRATE__BEING(robot);
ILLUSTRATE__BEING(bird);
ILLUSTRATE__BEING(fish);
ILLUSTRATE__BEING(owl);
ILLUSTRATE__BEING(unicorn);
ILLUSTRATE__BEING(bunny);
ILLUSTRATE__BEING(bear);
ILLUSTRATE__BEING(child);

/* Where a recognised noun goes in the picture. */
typedef enum {
    ILLUSTRATE__ZONE_SKY = 0, /* above the horizon, floating */
    ILLUSTRATE__ZONE_FAR,     /* standing on the horizon, large and behind */
    ILLUSTRATE__ZONE_GROUND,  /* standing on the ground */
    ILLUSTRATE__ZONE_WATER,   /* on or in the water */
    ILLUSTRATE__ZONE_SCENERY, /* handled by the composer itself (sea, stars, sun, moon) */
} illustrate__zone_t;

typedef struct {
    const char *noun;              /* canonical name, reported to the trace hook */
    const char *const *words;      /* singular forms; plurals are recognised too */
    const char *const *many_words; /* words meaning "several of these" (forest), or NULL */
    illustrate__zone_t zone;
    double size; /* height at 768 px */
    illustrate__draw_fn draw;
    illustrate__colors_t colors;
} illustrate__noun_t;

/* The noun table (illustrate_shapes.c). */
extern const illustrate__noun_t illustrate__nouns[];
extern const size_t illustrate__noun_count;

/* Drawer for a character kind; never NULL (falls back to a child). */
illustrate__draw_fn illustrate__kind_drawer(const char *kind, double *size_out);

/* Prompt reading (illustrate_words.c). */
typedef enum {
    ILLUSTRATE__TIME_DAY = 0,
    ILLUSTRATE__TIME_DAWN,
    ILLUSTRATE__TIME_SUNSET,
    ILLUSTRATE__TIME_NIGHT
} illustrate__time_t;

typedef struct {
    int count[64]; /* per illustrate__nouns index: 0 absent, 1 one, 2+ several */
    illustrate__time_t time;
} illustrate__scene_t;

void illustrate__read_prompt(const char *prompt, illustrate__scene_t *scene);
/* 1 when `name` occurs in `text` as whole words, ignoring ASCII case. */
int illustrate__mentions(const char *text, const char *name);

/* Caption, badge and PNG output (illustrate_text.c). */
#define ILLUSTRATE__CAPTION_MAX 240
#define ILLUSTRATE__MAX_LINES   3
typedef struct {
    char lines[ILLUSTRATE__MAX_LINES][ILLUSTRATE__CAPTION_MAX + 8];
    int nlines;
    double font;   /* font size in pixels */
    double top;    /* y of the banner's top edge */
    double height; /* banner height */
} illustrate__text_t;

/* Sanitises (valid UTF-8, no control characters) and wraps the caption into at most three lines
 * that fit the width, shrinking the font and ending with an ellipsis when needed. */
void illustrate__layout_caption(illustrate__ctx_t *x, const char *caption, illustrate__text_t *t);
void illustrate__draw_caption(illustrate__ctx_t *x, const illustrate__text_t *t, uint32_t accent);
void illustrate__draw_badge(illustrate__ctx_t *x, int number, uint32_t accent);
/* Copies valid UTF-8 from in to out (at most cap-1 bytes), '?' for invalid bytes, whitespace runs
 * collapsed and trimmed. Returns the length written (out is NUL-terminated). */
size_t illustrate__sanitize(const char *in, char *out, size_t cap);
/* Encodes an RGB24 surface as PNG, appending to out. Returns 0,
 * -ENOMEM (allocation or out's maximum) or -EIO (illustrate_png.c). */
int illustrate__write_png(cairo_surface_t *surf, buf_t *out);

/* Shapes used directly by the composer. */
void illustrate__draw_sun(illustrate__ctx_t *x, double cx, double cy, double r);
void illustrate__draw_moon(illustrate__ctx_t *x, double cx, double cy, double r);
void illustrate__draw_star(illustrate__ctx_t *x, double cx, double cy, double r);

#endif
