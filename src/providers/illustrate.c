/* illustrate scene composer: sky, scenery, objects and characters, then the badge and caption,
 * rendered into an RGB cairo surface and encoded as PNG in memory. Layout randomness comes only
 * from the request (seed, prompt, scene number), so equal requests give byte-identical PNGs. */
#include "providers/illustrate_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

#define MAX_ITEMS 128
#define MAX_PNG   ((size_t)64 << 20)

typedef struct {
    uint32_t day_top, day_bottom, night_top, night_bottom;
    uint32_t ground_top, ground_bottom, hills, water, accent;
} palette_t;

static const palette_t palettes[ILLUSTRATE_TEMPLATE_COUNT] = {
    /* adventure: clear blue day, fresh green land */
    {0x3E8EDE, 0xBDE4FF, 0x0B1533, 0x2B3A6B, 0x7CC45A, 0x3E8B2F, 0x9AD17E, 0x2F80C9, 0xE76F51},
    /* fantasy: lilac and pink sky, mint land */
    {0xA77BE0, 0xFFD9F2, 0x1E0F3D, 0x4B2C7A, 0x8EDFB0, 0x4FA77E, 0xC9B2F2, 0x6AA8F0, 0xB5179E},
    /* sci-fi: violet alien sky, purple ground */
    {0x2A1E5C, 0x8E6CCF, 0x05051A, 0x231A4D, 0x7D6BB0, 0x3A2E6E, 0x9F8FD6, 0x3BC6C9, 0x4CC9F0},
    /* mystery: grey-blue fog, deep green */
    {0x5A6A80, 0xB9C3CF, 0x0E1420, 0x2C3444, 0x4A6652, 0x25382B, 0x6C7E8A, 0x3C5A78, 0xD4A017},
    /* educational: bright sky, bright grass */
    {0x5BB8F5, 0xE6F6FF, 0x10204A, 0x33507F, 0x92D36E, 0x5CA845, 0xB2E08F, 0x3A9BDC, 0xF4A261},
};

typedef struct {
    illustrate__draw_fn draw;
    const illustrate__colors_t *colors; /* objects: the noun table's colours; NULL: use own */
    illustrate__colors_t own;           /* characters: resolved colours */
    const char *name;
    illustrate_elem_t elem;
    double cx, base, size;
    uint32_t variant;
    int layer; /* drawing order: sky, far, ground (by depth), characters in front */
} item_t;

void illustrate__trace(illustrate__ctx_t *x, illustrate_elem_t elem, const char *name, double bx,
                       double by, double bw, double bh, const illustrate__colors_t *colors)
{
    if (!x->req->trace) return;
    illustrate_trace_t ev;
    memset(&ev, 0, sizeof ev);
    ev.elem = elem;
    ev.name = name;
    ev.x = bx;
    ev.y = by;
    ev.w = bw;
    ev.h = bh;
    if (colors) memcpy(ev.colors, colors->c, sizeof ev.colors);
    ev.night = x->night;
    x->req->trace(x->req->trace_ctx, &ev);
}

static uint32_t darken(uint32_t rgb, double f)
{
    uint32_t r = (uint32_t)(((rgb >> 16) & 255) * f), g = (uint32_t)(((rgb >> 8) & 255) * f),
             b = (uint32_t)((rgb & 255) * f);
    return (r << 16) | (g << 8) | b;
}

static void gradient(cairo_t *cr, double x0, double y0, double x1, double y1, uint32_t a,
                     uint32_t b)
{
    cairo_pattern_t *p = cairo_pattern_create_linear(x0, y0, x1, y1);
    cairo_pattern_add_color_stop_rgb(p, 0, ((a >> 16) & 255) / 255.0, ((a >> 8) & 255) / 255.0,
                                     (a & 255) / 255.0);
    cairo_pattern_add_color_stop_rgb(p, 1, ((b >> 16) & 255) / 255.0, ((b >> 8) & 255) / 255.0,
                                     (b & 255) / 255.0);
    cairo_set_source(cr, p);
    cairo_fill(cr);
    cairo_pattern_destroy(p);
}

static int noun_index(const char *noun)
{
    for (size_t i = 0; i < illustrate__noun_count; i++)
        if (strcmp(illustrate__nouns[i].noun, noun) == 0) return (int)i;
    return -1;
}

static int has(const illustrate__scene_t *sc, const char *noun)
{
    int i = noun_index(noun);
    return i >= 0 && sc->count[i] > 0;
}

static void draw_sky(illustrate__ctx_t *x, const palette_t *pal, const illustrate__scene_t *sc)
{
    cairo_t *cr = x->cr;
    uint32_t top = pal->day_top, bottom = pal->day_bottom;
    if (x->night) {
        top = pal->night_top;
        bottom = pal->night_bottom;
    } else if (sc->time == ILLUSTRATE__TIME_SUNSET) {
        top = 0x3B3F8F;
        bottom = 0xFF8C5A;
    } else if (sc->time == ILLUSTRATE__TIME_DAWN) {
        top = 0x6C7BD1;
        bottom = 0xFFC3A0;
    }
    cairo_rectangle(cr, 0, 0, x->w, x->horizon + 1);
    gradient(cr, 0, 0, 0, x->horizon, top, bottom);
    illustrate__colors_t c = {{top, bottom, 0}};
    illustrate__trace(x, ILLUSTRATE_ELEM_SKY, x->night ? "night" : "day", 0, 0, x->w, x->horizon,
                      &c);

    int stars = x->night || x->req->tmpl == ILLUSTRATE_TEMPLATE_SCIFI;
    if (stars) {
        /* Star field density follows the sky area so small pictures are not cluttered. */
        int n = (int)(x->w * x->horizon / 9000.0);
        if (n > 120) n = 120;
        if (n < 6) n = 6;
        cairo_set_source_rgba(cr, 1, 1, 0.92, 0.85);
        for (int i = 0; i < n; i++) {
            double sx = illustrate__uniform(&x->rng, 0, x->w);
            double sy = illustrate__uniform(&x->rng, 0, x->horizon * 0.85);
            cairo_new_sub_path(cr);
            cairo_arc(cr, sx, sy, fmax(0.6, illustrate__uniform(&x->rng, 0.8, 2.4) * x->unit), 0,
                      2 * M_PI);
        }
        cairo_fill(cr);
    }
    double r = 55 * x->unit;
    int sun = has(sc, "sun") ||
              (!x->night && !has(sc, "moon") && x->req->tmpl != ILLUSTRATE_TEMPLATE_MYSTERY &&
               x->req->tmpl != ILLUSTRATE_TEMPLATE_SCIFI && (illustrate__next(&x->rng) & 1));
    int moon = has(sc, "moon") || x->night;
    double side = (illustrate__next(&x->rng) & 1) ? 0.78 : 0.3;
    if (sun && !x->night) {
        double sy = sc->time == ILLUSTRATE__TIME_DAY ? x->horizon * 0.25 : x->horizon * 0.72;
        illustrate__draw_sun(x, x->w * side, sy, r);
        illustrate__colors_t sc_col = {{0xFFBD26, 0, 0}};
        illustrate__trace(x, ILLUSTRATE_ELEM_OBJECT, "sun", x->w * side - r, sy - r, 2 * r, 2 * r,
                          &sc_col);
    }
    if (moon) {
        double mx = x->w * (1.08 - side), my = x->horizon * 0.22;
        illustrate__draw_moon(x, mx, my, r * 0.85);
        illustrate__colors_t mc = {{0xFFF4C2, 0, 0}};
        illustrate__trace(x, ILLUSTRATE_ELEM_OBJECT, "moon", mx - r, my - r, 2 * r, 2 * r, &mc);
    }
}

static void draw_land(illustrate__ctx_t *x, const palette_t *pal, int sea, double *water_top,
                      double *water_bottom)
{
    cairo_t *cr = x->cr;
    double f = x->night ? 0.45 : 1.0;
    /* Two soft hills behind the horizon. */
    for (int i = 0; i < 2; i++) {
        double hx = illustrate__uniform(&x->rng, 0.1, 0.9) * x->w;
        illustrate__ellipse(cr, hx, x->horizon + 10 * x->unit, x->w * 0.45,
                            (60 + 30 * i) * x->unit);
        illustrate__set_rgb(cr, darken(pal->hills, f * (1.0 - 0.08 * i)));
        cairo_fill(cr);
    }
    cairo_rectangle(cr, 0, x->horizon, x->w, x->h - x->horizon);
    gradient(cr, 0, x->horizon, 0, x->h, darken(pal->ground_top, f), darken(pal->ground_bottom, f));
    *water_top = *water_bottom = x->horizon;
    if (!sea) return;
    /* The sea fills a band under the horizon; the land in front of it becomes a beach. */
    double bottom = x->horizon + (x->floor_y - x->horizon) * 0.5;
    cairo_rectangle(cr, 0, x->horizon, x->w, bottom - x->horizon);
    gradient(cr, 0, x->horizon, 0, bottom, darken(pal->water, f * 1.1 > 1 ? 1 : f * 1.1),
             darken(pal->water, f * 0.7));
    cairo_rectangle(cr, 0, bottom, x->w, (x->floor_y - bottom) * 0.25);
    illustrate__set_rgb(cr, darken(0xF2D79B, f));
    cairo_fill(cr);
    illustrate__set_rgba(cr, 0xFFFFFF, 0.5);
    cairo_set_line_width(cr, fmax(1.0, 3 * x->unit));
    for (int i = 0; i < 6; i++) {
        double wy = x->horizon + (bottom - x->horizon) * (0.2 + 0.13 * i);
        double wx = illustrate__uniform(&x->rng, 0, x->w * 0.7), ww = 60 * x->unit;
        cairo_move_to(cr, wx, wy);
        cairo_curve_to(cr, wx + ww * 0.25, wy - 8 * x->unit, wx + ww * 0.75, wy + 8 * x->unit,
                       wx + ww, wy);
    }
    cairo_stroke(cr);
    *water_top = x->horizon;
    *water_bottom = bottom;
}

static int by_base(const void *a, const void *b)
{
    const item_t *p = a, *q = b;
    if (p->layer != q->layer) return p->layer < q->layer ? -1 : 1;
    if (p->base != q->base) return p->base < q->base ? -1 : 1;
    return 0;
}

static void draw_item(illustrate__ctx_t *x, const item_t *it)
{
    /* Characters carry their colours inline (the list is sorted, so no pointers into it). */
    const illustrate__colors_t *col = it->colors ? it->colors : &it->own;
    it->draw(x, it->cx, it->base, it->size, col, it->variant);
    illustrate__trace(x, it->elem, it->name, it->cx - it->size * 0.6, it->base - it->size,
                      it->size * 1.2, it->size, col);
}

/* At night, scenery and objects are dimmed by a translucent blue veil that fades in towards
 * the horizon; characters are drawn after it so they keep their exact colours. */
static void night_veil(illustrate__ctx_t *x)
{
    double top = x->horizon - 320 * x->unit;
    cairo_rectangle(x->cr, 0, top, x->w, x->h - top);
    cairo_pattern_t *p = cairo_pattern_create_linear(0, top, 0, x->horizon);
    cairo_pattern_add_color_stop_rgba(p, 0, 0.04, 0.06, 0.2, 0);
    cairo_pattern_add_color_stop_rgba(p, 1, 0.04, 0.06, 0.2, 0.4);
    cairo_set_source(x->cr, p);
    cairo_fill(x->cr);
    cairo_pattern_destroy(p);
}

/* Colours for a character: given ones first, the rest picked from the name's hash. */
static void character_colors(const illustrate_character_t *ch, illustrate__colors_t *out)
{
    static const uint32_t pool[] = {0xE63946, 0xF4A261, 0x2A9D8F, 0x457B9D, 0x8338EC,
                                    0xFF006E, 0xFFBE0B, 0x3A86FF, 0x6A994E, 0x9C6644};
    uint64_t h = illustrate__hash(ch->name);
    for (int i = 0; i < 3; i++) {
        if ((size_t)i < ch->ncolors)
            out->c[i] = ch->colors[i] & 0xFFFFFF;
        else
            out->c[i] = pool[(h >> (8 * i)) % (sizeof pool / sizeof pool[0])];
    }
}

static void compose(illustrate__ctx_t *x, const illustrate__scene_t *sc, int sea, double wtop,
                    double wbot)
{
    const illustrate_request_t *req = x->req;
    item_t *list = calloc(MAX_ITEMS, sizeof *list);
    if (!list) return;
    size_t n = 0;

    /* Characters named in the prompt stand in the foreground, spread across the width. */
    size_t nch =
        req->ncharacters < ILLUSTRATE_MAX_CHARACTERS ? req->ncharacters : ILLUSTRATE_MAX_CHARACTERS;
    illustrate__draw_fn present[ILLUSTRATE_MAX_CHARACTERS];
    size_t npresent = 0;
    for (size_t i = 0; req->characters && i < nch; i++) {
        const illustrate_character_t *ch = &req->characters[i];
        if (!ch->name || !illustrate__mentions(req->prompt, ch->name)) continue;
        item_t *it = &list[n++];
        double sz;
        it->draw = illustrate__kind_drawer(ch->kind, &sz);
        character_colors(ch, &it->own);
        it->colors = NULL;
        it->name = ch->name;
        it->elem = ILLUSTRATE_ELEM_CHARACTER;
        it->layer = 3;
        it->variant = (uint32_t)(illustrate__hash(ch->name) >> 32);
        it->size = sz * x->unit;
        it->base = x->floor_y - illustrate__uniform(&x->rng, 0, 25) * x->unit;
        present[npresent++] = it->draw;
    }
    for (size_t i = 0; i < npresent; i++) /* spread: slot i of npresent, a little jitter */
        list[i].cx = x->w * ((double)i + 0.5) / (double)npresent +
                     illustrate__uniform(&x->rng, -0.06, 0.06) * x->w;

    for (size_t k = 0; k < illustrate__noun_count && k < 64; k++) {
        const illustrate__noun_t *nn = &illustrate__nouns[k];
        if (!sc->count[k] || !nn->draw) continue;
        int dup = 0;
        for (size_t i = 0; i < npresent; i++)
            dup |= present[i] == nn->draw;
        if (dup) continue; /* "the cat" is the story's cat when there is one */
        int copies = sc->count[k] > 1 ? (nn->zone == ILLUSTRATE__ZONE_FAR ? 2 : 3) : 1;
        if (nn->zone == ILLUSTRATE__ZONE_SKY && strcmp(nn->noun, "star") == 0) copies *= 2;
        for (int c = 0; c < copies && n < MAX_ITEMS; c++) {
            item_t *it = &list[n++];
            it->draw = nn->draw;
            it->colors = &nn->colors;
            it->name = nn->noun;
            it->elem = ILLUSTRATE_ELEM_OBJECT;
            it->variant = (uint32_t)illustrate__next(&x->rng);
            it->cx = illustrate__uniform(&x->rng, 0.12, 0.88) * x->w;
            double depth = 1.0;
            it->layer = 2;
            switch (nn->zone) {
            case ILLUSTRATE__ZONE_SKY:
                /* Keep clear of the badge in the top-left corner. */
                it->base = illustrate__uniform(&x->rng, 0.22, 0.75) * x->horizon;
                depth = illustrate__uniform(&x->rng, 0.75, 1.0);
                it->layer = 0;
                break;
            case ILLUSTRATE__ZONE_FAR:
                it->layer = 1;
                it->base = x->horizon + 6 * x->unit + c * 4 * x->unit;
                it->cx = x->w * (0.22 + 0.56 * ((c + (int)(it->variant % 2)) % 2)) +
                         illustrate__uniform(&x->rng, -0.08, 0.08) * x->w;
                break;
            case ILLUSTRATE__ZONE_WATER:
                it->base = illustrate__uniform(&x->rng, 0.35, 0.95) * (wbot - wtop) + wtop;
                depth = 0.6 + 0.4 * (it->base - wtop) / (wbot - wtop + 1);
                break;
            default: {
                double lo = sea ? wbot + 10 * x->unit : x->horizon + 20 * x->unit;
                double t = illustrate__uniform(&x->rng, 0.1, 0.75);
                it->base = lo + (x->floor_y - lo) * t;
                depth = 0.55 + 0.45 * t;
                break;
            }
            }
            it->size = nn->size * x->unit * depth;
        }
    }
    qsort(list, n, sizeof *list, by_base);
    int dusk_done = 0;
    for (size_t i = 0; i < n; i++) {
        if (x->night && !dusk_done && list[i].layer == 3) {
            night_veil(x);
            dusk_done = 1;
        }
        draw_item(x, &list[i]);
    }
    if (x->night && !dusk_done) night_veil(x);
    free(list);
}

int illustrate_render_png(const illustrate_request_t *req, uint8_t **png, size_t *png_len)
{
    if (!req || !png || !png_len) return -EINVAL;
    *png = NULL;
    *png_len = 0;
    int w = req->width ? req->width : ILLUSTRATE_DEFAULT_WIDTH;
    int h = req->height ? req->height : ILLUSTRATE_DEFAULT_HEIGHT;
    if (w < ILLUSTRATE_MIN_SIDE || w > ILLUSTRATE_MAX_SIDE || h < ILLUSTRATE_MIN_SIDE ||
        h > ILLUSTRATE_MAX_SIDE)
        return -EINVAL;
    if ((unsigned)req->tmpl >= ILLUSTRATE_TEMPLATE_COUNT) return -EINVAL;

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surf);
        return -ENOMEM;
    }
    illustrate__ctx_t x;
    memset(&x, 0, sizeof x);
    x.cr = cairo_create(surf);
    x.req = req;
    x.w = w;
    x.h = h;
    x.unit = (w < h ? w : h) / 768.0;
    x.rng.s = req->seed ^ (illustrate__hash(req->prompt) * 0x9E3779B97F4A7C15ull) ^
              ((uint64_t)(uint32_t)req->scene_number << 40);

    illustrate__scene_t sc;
    illustrate__read_prompt(req->prompt, &sc);
    /* A moon or stars without any daytime word means night. */
    x.night =
        sc.time == ILLUSTRATE__TIME_NIGHT || (sc.time == ILLUSTRATE__TIME_DAY && !has(&sc, "sun") &&
                                              (has(&sc, "moon") || has(&sc, "star")));
    illustrate__text_t *tl = calloc(1, sizeof *tl);
    if (!tl) {
        cairo_destroy(x.cr);
        cairo_surface_destroy(surf);
        return -ENOMEM;
    }
    illustrate__layout_caption(&x, req->caption, tl);
    x.floor_y = tl->nlines ? tl->top - 12 * x.unit : h - 20 * x.unit;
    x.horizon = h * illustrate__uniform(&x.rng, 0.5, 0.56);
    if (x.horizon > x.floor_y - 40 * x.unit) x.horizon = x.floor_y * 0.8;

    const palette_t *pal = &palettes[req->tmpl];
    int sea = has(&sc, "sea") || has(&sc, "boat") || has(&sc, "fish");
    double wtop, wbot;
    draw_sky(&x, pal, &sc);
    draw_land(&x, pal, sea, &wtop, &wbot);
    if (req->tmpl == ILLUSTRATE_TEMPLATE_MYSTERY) {
        /* A band of fog over the horizon sets the mood. */
        cairo_rectangle(x.cr, 0, x.horizon - 120 * x.unit, w, 240 * x.unit);
        cairo_pattern_t *p =
            cairo_pattern_create_linear(0, x.horizon - 120 * x.unit, 0, x.horizon + 120 * x.unit);
        cairo_pattern_add_color_stop_rgba(p, 0, 1, 1, 1, 0);
        cairo_pattern_add_color_stop_rgba(p, 0.5, 0.9, 0.92, 0.95, 0.35);
        cairo_pattern_add_color_stop_rgba(p, 1, 1, 1, 1, 0);
        cairo_set_source(x.cr, p);
        cairo_fill(x.cr);
        cairo_pattern_destroy(p);
    }
    compose(&x, &sc, sea, wtop, wbot);
    illustrate__draw_caption(&x, tl, pal->accent);
    if (req->scene_number > 0) illustrate__draw_badge(&x, req->scene_number, pal->accent);
    free(tl);

    int rc = cairo_status(x.cr) == CAIRO_STATUS_SUCCESS ? 0 : -EIO;
    cairo_destroy(x.cr);
    if (rc == 0) {
        buf_t b;
        buf_init(&b, MAX_PNG);
        rc = illustrate__write_png(surf, &b);
        if (rc == 0 && !b.data) rc = -ENOMEM;
        if (rc == 0)
            *png = (uint8_t *)buf_steal(&b, png_len);
        else
            buf_free(&b);
    }
    cairo_surface_destroy(surf);
    return rc;
}

int illustrate_template_parse(const char *name, illustrate_template_t *out)
{
    static const char *const names[] = {"adventure", "fantasy", "sci-fi", "mystery", "educational"};
    if (!name || !out) return -EINVAL;
    for (int i = 0; i < ILLUSTRATE_TEMPLATE_COUNT; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = (illustrate_template_t)i;
            return 0;
        }
    }
    if (strcasecmp(name, "scifi") == 0 || strcasecmp(name, "sci_fi") == 0) {
        *out = ILLUSTRATE_TEMPLATE_SCIFI;
        return 0;
    }
    return -EINVAL;
}

const char *illustrate_template_name(illustrate_template_t t)
{
    static const char *const names[] = {"adventure", "fantasy", "sci-fi", "mystery", "educational"};
    return (unsigned)t < ILLUSTRATE_TEMPLATE_COUNT ? names[t] : "unknown";
}
