/* illustrate shape library, part 2: creatures and people. Each drawer uses the three colours it
 * is given as body, accent and detail, with flat fills, so a character keeps exactly its colours
 * on every page; `variant` (a hash of the character's name) picks small shape differences such as
 * ear style or stripes, so two cats in one story still look different. All face right. */
#include "providers/illustrate_int.h"

#include <math.h>
#include <string.h>

static void tri(cairo_t *cr, double x0, double y0, double x1, double y1, double x2, double y2)
{
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_line_to(cr, x2, y2);
    cairo_close_path(cr);
}

static void thick_curve(illustrate__ctx_t *x, double x0, double y0, double x1, double y1, double x2,
                        double y2, double width, uint32_t rgb)
{
    cairo_t *cr = x->cr;
    cairo_move_to(cr, x0, y0);
    cairo_curve_to(cr, x1, y1, x1, y1, x2, y2);
    illustrate__set_rgb(cr, rgb);
    cairo_set_line_width(cr, width);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_stroke(cr);
}

static void legs(illustrate__ctx_t *x, double cx, double base, double s, double spread, double len,
                 uint32_t rgb)
{
    for (int i = 0; i < 4; i++) {
        double lx = cx - spread + i * (2 * spread / 3);
        cairo_rectangle(x->cr, lx - s * 0.04, base - len, s * 0.08, len);
    }
    illustrate__fill_outline(x, rgb);
}

/* Four-legged animal with a round head: the base for cat, dog, bunny and bear. ears: 0 pointy,
 * 1 floppy, 2 long, 3 round. */
static void critter(illustrate__ctx_t *x, double cx, double base, double s,
                    const illustrate__colors_t *c, uint32_t v, int ears)
{
    cairo_t *cr = x->cr;
    double hx = cx + s * 0.3, hy = base - s * 0.62, hr = s * 0.22;
    thick_curve(x, cx - s * 0.3, base - s * 0.35, cx - s * (0.6 + 0.1 * (v % 2)), base - s * 0.55,
                cx - s * 0.5, base - s * 0.85, s * 0.07, c->c[0]);
    legs(x, cx, base, s, s * 0.25, s * 0.22, c->c[0]);
    illustrate__ellipse(cr, cx, base - s * 0.34, s * 0.38, s * 0.2);
    illustrate__fill_outline(x, c->c[0]);
    if ((v >> 1) % 2) { /* stripes or a patch */
        for (int i = 0; i < 3; i++)
            cairo_rectangle(cr, cx - s * 0.2 + i * s * 0.13, base - s * 0.52, s * 0.05, s * 0.16);
        illustrate__fill(x, c->c[1]);
    }
    if (ears == 0) {
        tri(cr, hx - hr * 0.9, hy - hr * 0.4, hx - hr * 0.55, hy - hr * 1.5, hx - hr * 0.1,
            hy - hr * 0.85);
        tri(cr, hx + hr * 0.9, hy - hr * 0.4, hx + hr * 0.55, hy - hr * 1.5, hx + hr * 0.1,
            hy - hr * 0.85);
        illustrate__fill_outline(x, c->c[1]);
    } else if (ears == 2) {
        illustrate__ellipse(cr, hx - hr * 0.4, hy - hr * 1.5, hr * 0.25, hr * 0.8);
        illustrate__ellipse(cr, hx + hr * 0.4, hy - hr * 1.5, hr * 0.25, hr * 0.8);
        illustrate__fill_outline(x, c->c[0]);
        illustrate__ellipse(cr, hx - hr * 0.4, hy - hr * 1.45, hr * 0.12, hr * 0.6);
        illustrate__ellipse(cr, hx + hr * 0.4, hy - hr * 1.45, hr * 0.12, hr * 0.6);
        illustrate__fill(x, c->c[1]);
    } else if (ears == 3) {
        cairo_arc(cr, hx - hr * 0.75, hy - hr * 0.75, hr * 0.38, 0, 2 * M_PI);
        cairo_new_sub_path(cr);
        cairo_arc(cr, hx + hr * 0.75, hy - hr * 0.75, hr * 0.38, 0, 2 * M_PI);
        illustrate__fill_outline(x, c->c[0]);
    }
    cairo_arc(cr, hx, hy, hr, 0, 2 * M_PI);
    illustrate__fill_outline(x, c->c[0]);
    if (ears == 1) {
        illustrate__ellipse(cr, hx - hr * 0.95, hy + hr * 0.1, hr * 0.3, hr * 0.65);
        illustrate__ellipse(cr, hx + hr * 0.95, hy + hr * 0.1, hr * 0.3, hr * 0.65);
        illustrate__fill_outline(x, c->c[1]);
    }
    illustrate__ellipse(cr, hx + hr * 0.15, hy + hr * 0.45, hr * 0.42, hr * 0.3);
    illustrate__fill(x, ears == 3 ? c->c[1] : 0xFFF5EB);
    cairo_arc(cr, hx + hr * 0.15, hy + hr * 0.3, hr * 0.12, 0, 2 * M_PI);
    illustrate__fill(x, 0x2B2B3A);
    illustrate__eyes(x, hx, hy - hr * 0.15, hr * 0.75, hr * 0.2);
    /* Collar in the detail colour. */
    cairo_rectangle(cr, hx - hr * 0.7, hy + hr * 0.85, hr * 1.4, hr * 0.25);
    illustrate__fill_outline(x, c->c[2]);
}

void illustrate__draw_cat(illustrate__ctx_t *x, double cx, double base, double s,
                          const illustrate__colors_t *c, uint32_t v)
{
    critter(x, cx, base, s, c, v, 0);
}

void illustrate__draw_dog(illustrate__ctx_t *x, double cx, double base, double s,
                          const illustrate__colors_t *c, uint32_t v)
{
    critter(x, cx, base, s, c, v, 1);
}

void illustrate__draw_bunny(illustrate__ctx_t *x, double cx, double base, double s,
                            const illustrate__colors_t *c, uint32_t v)
{
    critter(x, cx, base, s * 0.8, c, v, 2);
}

void illustrate__draw_bear(illustrate__ctx_t *x, double cx, double base, double s,
                           const illustrate__colors_t *c, uint32_t v)
{
    critter(x, cx, base, s, c, v, 3);
}

void illustrate__draw_robot(illustrate__ctx_t *x, double cx, double base, double s,
                            const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double w = s * 0.42;
    cairo_rectangle(cr, cx - w * 0.35, base - s * 0.25, w * 0.22, s * 0.25);
    cairo_rectangle(cr, cx + w * 0.13, base - s * 0.25, w * 0.22, s * 0.25);
    illustrate__fill_outline(x, c->c[1]);
    cairo_rectangle(cr, cx - w * 0.8, base - s * 0.6, w * 0.2, s * 0.28);
    cairo_rectangle(cr, cx + w * 0.6, base - s * 0.6, w * 0.2, s * 0.28);
    illustrate__fill_outline(x, c->c[1]);
    cairo_rectangle(cr, cx - w / 2, base - s * 0.65, w, s * 0.42);
    illustrate__fill_outline(x, c->c[0]);
    cairo_arc(cr, cx, base - s * 0.45, w * 0.12, 0, 2 * M_PI);
    illustrate__fill(x, c->c[2]);
    double hw = w * (0.7 + 0.1 * (v % 3));
    cairo_rectangle(cr, cx - hw / 2, base - s * 0.92, hw, s * 0.25);
    illustrate__fill_outline(x, c->c[0]);
    cairo_rectangle(cr, cx - hw * 0.38, base - s * 0.86, hw * 0.76, s * 0.1);
    illustrate__fill(x, c->c[1]);
    cairo_arc(cr, cx - hw * 0.18, base - s * 0.81, s * 0.025, 0, 2 * M_PI);
    cairo_new_sub_path(cr);
    cairo_arc(cr, cx + hw * 0.18, base - s * 0.81, s * 0.025, 0, 2 * M_PI);
    illustrate__fill(x, 0xFFFFFF);
    cairo_move_to(cr, cx, base - s * 0.92);
    cairo_line_to(cr, cx, base - s * 0.98);
    illustrate__set_rgb(cr, 0x2B2B3A);
    cairo_set_line_width(cr, fmax(1.0, s * 0.015));
    cairo_stroke(cr);
    cairo_arc(cr, cx, base - s * 0.98, s * 0.03, 0, 2 * M_PI);
    illustrate__fill(x, c->c[2]);
}

void illustrate__draw_dragon(illustrate__ctx_t *x, double cx, double base, double s,
                             const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    /* Wing behind the body: a fan of three points. */
    cairo_move_to(cr, cx - s * 0.1, base - s * 0.45);
    cairo_line_to(cr, cx - s * 0.45, base - s * 0.95);
    cairo_line_to(cr, cx - s * 0.2, base - s * 0.8);
    cairo_line_to(cr, cx - s * 0.05, base - s * 1.0);
    cairo_line_to(cr, cx + s * 0.05, base - s * 0.75);
    cairo_line_to(cr, cx + s * 0.12, base - s * 0.5);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[1]);
    thick_curve(x, cx - s * 0.3, base - s * 0.25, cx - s * 0.6, base - s * 0.1, cx - s * 0.75,
                base - s * 0.35, s * 0.08, c->c[0]);
    legs(x, cx, base, s, s * 0.22, s * 0.16, c->c[0]);
    illustrate__ellipse(cr, cx, base - s * 0.3, s * 0.36, s * 0.18);
    illustrate__fill_outline(x, c->c[0]);
    illustrate__ellipse(cr, cx + s * 0.05, base - s * 0.24, s * 0.24, s * 0.09);
    illustrate__fill(x, c->c[1]);
    /* Neck and head. */
    cairo_move_to(cr, cx + s * 0.2, base - s * 0.4);
    cairo_line_to(cr, cx + s * 0.32, base - s * 0.7);
    cairo_line_to(cr, cx + s * 0.42, base - s * 0.66);
    cairo_line_to(cr, cx + s * 0.34, base - s * 0.32);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[0]);
    illustrate__ellipse(cr, cx + s * 0.44, base - s * 0.74, s * 0.16, s * 0.1);
    illustrate__fill_outline(x, c->c[0]);
    int horns = 2 + (int)(v % 2);
    for (int i = 0; i < horns; i++)
        tri(cr, cx + s * (0.32 + i * 0.07), base - s * 0.8, cx + s * (0.36 + i * 0.07),
            base - s * 0.93, cx + s * (0.4 + i * 0.07), base - s * 0.8);
    for (int i = 0; i < 4; i++) /* back spikes */
        tri(cr, cx - s * (0.22 - i * 0.12), base - s * 0.45, cx - s * (0.17 - i * 0.12),
            base - s * 0.56, cx - s * (0.12 - i * 0.12), base - s * 0.46);
    illustrate__fill_outline(x, c->c[2]);
    cairo_arc(cr, cx + s * 0.48, base - s * 0.77, s * 0.025, 0, 2 * M_PI);
    illustrate__fill(x, 0x1A1A24);
}

void illustrate__draw_bird(illustrate__ctx_t *x, double cx, double base, double s,
                           const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double cy = base - s * 0.5;
    illustrate__ellipse(cr, cx, cy, s * 0.5, s * 0.32);
    illustrate__fill_outline(x, c->c[0]);
    tri(cr, cx - s * 0.2, cy, cx + s * 0.15, cy, cx - s * 0.1, cy - s * (0.55 + 0.1 * (v % 2)));
    illustrate__fill_outline(x, c->c[1]);
    tri(cr, cx + s * 0.48, cy - s * 0.1, cx + s * 0.75, cy, cx + s * 0.48, cy + s * 0.08);
    illustrate__fill(x, c->c[2]);
    cairo_arc(cr, cx + s * 0.3, cy - s * 0.08, s * 0.06, 0, 2 * M_PI);
    illustrate__fill(x, 0x1A1A24);
}

void illustrate__draw_fish(illustrate__ctx_t *x, double cx, double base, double s,
                           const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double cy = base - s * 0.5;
    tri(cr, cx - s * 0.45, cy, cx - s * 0.85, cy - s * 0.35, cx - s * 0.85, cy + s * 0.35);
    illustrate__fill_outline(x, c->c[1]);
    illustrate__ellipse(cr, cx, cy, s * 0.55, s * 0.35);
    illustrate__fill_outline(x, c->c[0]);
    tri(cr, cx - s * 0.1, cy - s * 0.3, cx + s * 0.15, cy - s * 0.3, cx - s * 0.05, cy - s * 0.55);
    illustrate__fill_outline(x, c->c[1]);
    cairo_arc(cr, cx + s * 0.3, cy - s * 0.06, s * 0.07, 0, 2 * M_PI);
    illustrate__fill(x, c->c[2]);
}

void illustrate__draw_owl(illustrate__ctx_t *x, double cx, double base, double s,
                          const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    tri(cr, cx - s * 0.3, base - s * 0.8, cx - s * 0.22, base - s, cx - s * 0.1, base - s * 0.82);
    tri(cr, cx + s * 0.3, base - s * 0.8, cx + s * 0.22, base - s, cx + s * 0.1, base - s * 0.82);
    illustrate__fill_outline(x, c->c[0]);
    illustrate__ellipse(cr, cx, base - s * 0.45, s * 0.32, s * 0.45);
    illustrate__fill_outline(x, c->c[0]);
    illustrate__ellipse(cr, cx, base - s * 0.32, s * 0.2, s * 0.26);
    illustrate__fill(x, c->c[1]);
    for (int i = -1; i <= 1; i += 2) {
        cairo_arc(cr, cx + i * s * 0.14, base - s * 0.66, s * 0.12, 0, 2 * M_PI);
        illustrate__fill_outline(x, c->c[2]);
    }
    illustrate__eyes(x, cx, base - s * 0.66, s * 0.28, s * 0.08);
    tri(cr, cx - s * 0.04, base - s * 0.58, cx + s * 0.04, base - s * 0.58, cx, base - s * 0.5);
    illustrate__fill(x, 0xF4A261);
    (void)v;
}

void illustrate__draw_unicorn(illustrate__ctx_t *x, double cx, double base, double s,
                              const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    thick_curve(x, cx - s * 0.35, base - s * 0.45, cx - s * 0.55, base - s * 0.4, cx - s * 0.5,
                base - s * 0.15, s * 0.09, c->c[1]);
    legs(x, cx, base, s, s * 0.27, s * 0.35, c->c[0]);
    illustrate__ellipse(cr, cx, base - s * 0.45, s * 0.4, s * 0.17);
    illustrate__fill_outline(x, c->c[0]);
    cairo_move_to(cr, cx + s * 0.2, base - s * 0.5); /* neck */
    cairo_line_to(cr, cx + s * 0.3, base - s * 0.82);
    cairo_line_to(cr, cx + s * 0.44, base - s * 0.78);
    cairo_line_to(cr, cx + s * 0.38, base - s * 0.45);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[0]);
    illustrate__ellipse(cr, cx + s * 0.46, base - s * 0.78, s * 0.15, s * 0.08);
    illustrate__fill_outline(x, c->c[0]);
    tri(cr, cx + s * 0.36, base - s * 0.85, cx + s * 0.42, base - s * (1.02 + 0.04 * (v % 2)),
        cx + s * 0.44, base - s * 0.84);
    illustrate__fill_outline(x, c->c[2]);
    for (int i = 0; i < 4; i++) /* mane */
        cairo_arc(cr, cx + s * (0.28 + i * 0.02), base - s * (0.55 + i * 0.09), s * 0.06, 0,
                  2 * M_PI);
    illustrate__fill(x, c->c[1]);
    cairo_arc(cr, cx + s * 0.5, base - s * 0.8, s * 0.02, 0, 2 * M_PI);
    illustrate__fill(x, 0x1A1A24);
}

/* A child: shirt (c0), hair (c1), trousers or skirt (c2); skin tone and hair style from the
 * variant. */
void illustrate__draw_child(illustrate__ctx_t *x, double cx, double base, double s,
                            const illustrate__colors_t *c, uint32_t v)
{
    static const uint32_t skins[] = {0xF6D5B8, 0xE0AC82, 0xB5835A, 0x7B4A2E};
    cairo_t *cr = x->cr;
    uint32_t skin = skins[v % 4];
    cairo_rectangle(cr, cx - s * 0.1, base - s * 0.35, s * 0.08, s * 0.35);
    cairo_rectangle(cr, cx + s * 0.02, base - s * 0.35, s * 0.08, s * 0.35);
    illustrate__fill_outline(x, c->c[2]);
    cairo_move_to(cr, cx - s * 0.15, base - s * 0.32);
    cairo_line_to(cr, cx - s * 0.11, base - s * 0.66);
    cairo_line_to(cr, cx + s * 0.11, base - s * 0.66);
    cairo_line_to(cr, cx + s * 0.15, base - s * 0.32);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[0]);
    thick_curve(x, cx - s * 0.11, base - s * 0.62, cx - s * 0.2, base - s * 0.55, cx - s * 0.2,
                base - s * 0.42, s * 0.05, skin);
    thick_curve(x, cx + s * 0.11, base - s * 0.62, cx + s * 0.22, base - s * 0.6, cx + s * 0.26,
                base - s * 0.7, s * 0.05, skin);
    double hy = base - s * 0.8, hr = s * 0.14;
    if ((v >> 2) % 2) { /* long hair behind the head */
        cairo_rectangle(cr, cx - hr * 1.1, hy - hr * 0.2, hr * 2.2, hr * 1.5);
        illustrate__fill_outline(x, c->c[1]);
    }
    cairo_arc(cr, cx, hy, hr, 0, 2 * M_PI);
    illustrate__fill_outline(x, skin);
    cairo_arc(cr, cx, hy - hr * 0.1, hr * 1.05, M_PI * 1.05, M_PI * 1.95);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[1]);
    illustrate__eyes(x, cx, hy + hr * 0.1, hr * 0.8, hr * 0.17);
    cairo_arc(cr, cx, hy + hr * 0.45, hr * 0.3, 0.15 * M_PI, 0.85 * M_PI);
    illustrate__set_rgb(cr, 0x8A2B2B);
    cairo_set_line_width(cr, fmax(1.0, s * 0.012));
    cairo_stroke(cr);
}

illustrate__draw_fn illustrate__kind_drawer(const char *kind, double *size_out)
{
    static const struct {
        const char *kind;
        illustrate__draw_fn fn;
        double size;
    } kinds[] = {
        {"cat", illustrate__draw_cat, 150},         {"kitten", illustrate__draw_cat, 130},
        {"dog", illustrate__draw_dog, 160},         {"puppy", illustrate__draw_dog, 140},
        {"fox", illustrate__draw_cat, 150},         {"mouse", illustrate__draw_bear, 90},
        {"bunny", illustrate__draw_bunny, 150},     {"rabbit", illustrate__draw_bunny, 150},
        {"bear", illustrate__draw_bear, 200},       {"robot", illustrate__draw_robot, 230},
        {"dragon", illustrate__draw_dragon, 260},   {"owl", illustrate__draw_owl, 150},
        {"unicorn", illustrate__draw_unicorn, 240}, {"horse", illustrate__draw_unicorn, 240},
        {"bird", illustrate__draw_bird, 80},        {"fish", illustrate__draw_fish, 90},
    };
    for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcasecmp(kind, kinds[i].kind) == 0) {
            *size_out = kinds[i].size;
            return kinds[i].fn;
        }
    }
    *size_out = 260;
    return illustrate__draw_child;
}
