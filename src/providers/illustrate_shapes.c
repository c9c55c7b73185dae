/* illustrate shape library, part 1: things and scenery (sun, moon, trees, houses, castles,
 * rockets, vehicles, ...) and the table mapping prompt words to them. Every shape is a handful
 * of cairo paths: no per-pixel work, so a whole picture stays well within the time budget.
 * Shapes are designed for a height of `size` pixels standing on `base`. */
#include "providers/illustrate_int.h"

#include <math.h>

#define OUTLINE 0x2B2B3A

void illustrate__set_rgb(cairo_t *cr, uint32_t rgb)
{
    cairo_set_source_rgb(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                         (rgb & 255) / 255.0);
}

void illustrate__set_rgba(cairo_t *cr, uint32_t rgb, double alpha)
{
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                          (rgb & 255) / 255.0, alpha);
}

void illustrate__ellipse(cairo_t *cr, double cx, double cy, double rx, double ry)
{
    cairo_new_sub_path(cr);
    cairo_save(cr);
    cairo_translate(cr, cx, cy);
    cairo_scale(cr, rx > 0.01 ? rx : 0.01, ry > 0.01 ? ry : 0.01);
    cairo_arc(cr, 0, 0, 1, 0, 2 * M_PI);
    cairo_restore(cr);
}

void illustrate__fill(illustrate__ctx_t *x, uint32_t rgb)
{
    illustrate__set_rgb(x->cr, rgb);
    cairo_fill(x->cr);
}

void illustrate__fill_outline(illustrate__ctx_t *x, uint32_t rgb)
{
    illustrate__set_rgb(x->cr, rgb);
    cairo_fill_preserve(x->cr);
    illustrate__set_rgba(x->cr, OUTLINE, 0.85);
    cairo_set_line_width(x->cr, fmax(1.0, 2.5 * x->unit));
    cairo_stroke(x->cr);
}

void illustrate__eyes(illustrate__ctx_t *x, double cx, double cy, double gap, double r)
{
    for (int i = -1; i <= 1; i += 2) {
        illustrate__ellipse(x->cr, cx + i * gap / 2, cy, r, r * 1.1);
        illustrate__fill(x, 0xFFFFFF);
        illustrate__ellipse(x->cr, cx + i * gap / 2 + r * 0.25, cy + r * 0.1, r * 0.55, r * 0.6);
        illustrate__fill(x, 0x1A1A24);
    }
}

void illustrate__draw_sun(illustrate__ctx_t *x, double cx, double cy, double r)
{
    cairo_t *cr = x->cr;
    illustrate__set_rgba(cr, 0xFFD23F, 0.9);
    cairo_set_line_width(cr, fmax(1.0, r * 0.09));
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (int i = 0; i < 12; i++) {
        double a = i * M_PI / 6;
        cairo_move_to(cr, cx + cos(a) * r * 1.25, cy + sin(a) * r * 1.25);
        cairo_line_to(cr, cx + cos(a) * r * 1.6, cy + sin(a) * r * 1.6);
    }
    cairo_stroke(cr);
    cairo_pattern_t *g =
        cairo_pattern_create_radial(cx - r * 0.3, cy - r * 0.3, r * 0.1, cx, cy, r);
    cairo_pattern_add_color_stop_rgb(g, 0, 1.0, 0.96, 0.6);
    cairo_pattern_add_color_stop_rgb(g, 1, 1.0, 0.74, 0.15);
    cairo_arc(cr, cx, cy, r, 0, 2 * M_PI);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);
}

void illustrate__draw_moon(illustrate__ctx_t *x, double cx, double cy, double r)
{
    cairo_t *cr = x->cr;
    /* Soft halo, then a crescent: the outer circle's left arc and the inner (offset) circle's
     * left arc, joined where the two circles cross. */
    cairo_pattern_t *g = cairo_pattern_create_radial(cx, cy, r * 0.8, cx, cy, r * 2.2);
    cairo_pattern_add_color_stop_rgba(g, 0, 1, 1, 0.85, 0.35);
    cairo_pattern_add_color_stop_rgba(g, 1, 1, 1, 0.85, 0);
    cairo_arc(cr, cx, cy, r * 2.2, 0, 2 * M_PI);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);
    double d = r * 0.8, yy = sqrt(r * r - d * d / 4), t = atan2(yy, d / 2);
    cairo_new_sub_path(cr);
    cairo_arc(cr, cx, cy, r, t, 2 * M_PI - t);
    cairo_arc_negative(cr, cx + d, cy, r, atan2(-yy, -d / 2), atan2(yy, -d / 2));
    cairo_close_path(cr);
    illustrate__fill(x, 0xFFF4C2);
}

void illustrate__draw_star(illustrate__ctx_t *x, double cx, double cy, double r)
{
    cairo_t *cr = x->cr;
    for (int i = 0; i < 10; i++) {
        double a = -M_PI / 2 + i * M_PI / 5, rr = (i % 2) ? r * 0.45 : r;
        if (i == 0)
            cairo_move_to(cr, cx + cos(a) * rr, cy + sin(a) * rr);
        else
            cairo_line_to(cr, cx + cos(a) * rr, cy + sin(a) * rr);
    }
    cairo_close_path(cr);
    illustrate__fill(x, 0xFFF3A0);
}

static void draw_star_thing(illustrate__ctx_t *x, double cx, double base, double s,
                            const illustrate__colors_t *c, uint32_t v)
{
    illustrate__draw_star(x, cx, base - s / 2, s / 2);
}

static void draw_cloud(illustrate__ctx_t *x, double cx, double base, double s,
                       const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double w = s * (1.8 + (v % 3) * 0.2);
    illustrate__ellipse(cr, cx, base - s * 0.3, w / 2, s * 0.3);
    cairo_new_sub_path(cr);
    cairo_arc(cr, cx - w * 0.18, base - s * 0.5, s * 0.33, 0, 2 * M_PI);
    cairo_new_sub_path(cr);
    cairo_arc(cr, cx + w * 0.12, base - s * 0.6, s * 0.4, 0, 2 * M_PI);
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
    illustrate__set_rgba(cr, x->night ? 0x8A90B0 : c->c[0], 0.93);
    cairo_fill(cr);
}

static void draw_tree(illustrate__ctx_t *x, double cx, double base, double s,
                      const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    cairo_rectangle(cr, cx - s * 0.07, base - s * 0.4, s * 0.14, s * 0.4);
    illustrate__fill_outline(x, c->c[1]);
    if (v % 2) { /* pine */
        for (int i = 0; i < 3; i++) {
            double y0 = base - s * (0.3 + i * 0.22), hw = s * (0.38 - i * 0.08);
            cairo_move_to(cr, cx - hw, y0);
            cairo_line_to(cr, cx + hw, y0);
            cairo_line_to(cr, cx, y0 - s * 0.36);
            cairo_close_path(cr);
            illustrate__fill_outline(x, c->c[2]);
        }
        return;
    }
    cairo_arc(cr, cx, base - s * 0.68, s * 0.3, 0, 2 * M_PI);
    cairo_new_sub_path(cr);
    cairo_arc(cr, cx - s * 0.2, base - s * 0.5, s * 0.2, 0, 2 * M_PI);
    cairo_new_sub_path(cr);
    cairo_arc(cr, cx + s * 0.2, base - s * 0.52, s * 0.21, 0, 2 * M_PI);
    illustrate__fill_outline(x, c->c[0]);
}

static void draw_house(illustrate__ctx_t *x, double cx, double base, double s,
                       const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double w = s * 0.9;
    cairo_rectangle(cr, cx - w / 2, base - s * 0.6, w, s * 0.6);
    illustrate__fill_outline(x, c->c[0]);
    cairo_move_to(cr, cx - w * 0.6, base - s * 0.58);
    cairo_line_to(cr, cx + w * 0.6, base - s * 0.58);
    cairo_line_to(cr, cx, base - s);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[1]);
    cairo_rectangle(cr, cx - w * 0.1, base - s * 0.32, w * 0.2, s * 0.32);
    illustrate__fill_outline(x, 0x8B5A2B);
    cairo_rectangle(cr, cx - w * 0.38, base - s * 0.46, w * 0.18, w * 0.18);
    cairo_rectangle(cr, cx + w * 0.2, base - s * 0.46, w * 0.18, w * 0.18);
    illustrate__fill_outline(x, x->night ? 0xFFE08A : c->c[2]);
}

static void draw_castle(illustrate__ctx_t *x, double cx, double base, double s,
                        const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double w = s * 1.1, tw = s * 0.24;
    cairo_rectangle(cr, cx - w / 2, base - s * 0.55, w, s * 0.55);
    for (int i = 0; i < 5; i++) /* battlements */
        cairo_rectangle(cr, cx - w / 2 + i * w / 4.5, base - s * 0.62, w / 9, s * 0.08);
    illustrate__fill_outline(x, c->c[0]);
    for (int i = -1; i <= 1; i += 2) {
        double tx = cx + i * (w / 2) - tw / 2;
        cairo_rectangle(cr, tx, base - s * 0.8, tw, s * 0.8);
        illustrate__fill_outline(x, c->c[0]);
        cairo_move_to(cr, tx - tw * 0.15, base - s * 0.8);
        cairo_line_to(cr, tx + tw * 1.15, base - s * 0.8);
        cairo_line_to(cr, tx + tw / 2, base - s * 1.05);
        cairo_close_path(cr);
        illustrate__fill_outline(x, c->c[1]);
    }
    cairo_move_to(cr, cx, base - s * 0.62);
    cairo_line_to(cr, cx, base - s * 0.95);
    illustrate__set_rgb(cr, OUTLINE);
    cairo_set_line_width(cr, fmax(1.0, 2 * x->unit));
    cairo_stroke(cr);
    cairo_move_to(cr, cx, base - s * 0.95);
    cairo_line_to(cr, cx + s * 0.16, base - s * 0.9);
    cairo_line_to(cr, cx, base - s * 0.85);
    cairo_close_path(cr);
    illustrate__fill(x, c->c[2]);
    cairo_move_to(cr, cx - s * 0.1, base);
    cairo_line_to(cr, cx - s * 0.1, base - s * 0.2);
    cairo_arc(cr, cx, base - s * 0.2, s * 0.1, M_PI, 2 * M_PI);
    cairo_line_to(cr, cx + s * 0.1, base);
    cairo_close_path(cr);
    illustrate__fill_outline(x, 0x6B4226);
}

static void draw_rocket(illustrate__ctx_t *x, double cx, double base, double s,
                        const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double w = s * 0.28;
    cairo_move_to(cr, cx - w * 0.4, base - s * 0.12); /* flame */
    cairo_line_to(cr, cx, base + s * 0.08);
    cairo_line_to(cr, cx + w * 0.4, base - s * 0.12);
    cairo_close_path(cr);
    illustrate__fill(x, 0xFF9F1C);
    for (int i = -1; i <= 1; i += 2) { /* fins */
        cairo_move_to(cr, cx + i * w * 0.5, base - s * 0.45);
        cairo_line_to(cr, cx + i * w * 0.95, base - s * 0.1);
        cairo_line_to(cr, cx + i * w * 0.5, base - s * 0.18);
        cairo_close_path(cr);
        illustrate__fill_outline(x, c->c[1]);
    }
    cairo_move_to(cr, cx - w / 2, base - s * 0.15);
    cairo_line_to(cr, cx - w / 2, base - s * 0.7);
    cairo_curve_to(cr, cx - w / 2, base - s * 0.85, cx, base - s, cx, base - s);
    cairo_curve_to(cr, cx, base - s, cx + w / 2, base - s * 0.85, cx + w / 2, base - s * 0.7);
    cairo_line_to(cr, cx + w / 2, base - s * 0.15);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[0]);
    cairo_arc(cr, cx, base - s * 0.6, w * 0.25, 0, 2 * M_PI);
    illustrate__fill_outline(x, c->c[2]);
}

static void draw_planet(illustrate__ctx_t *x, double cx, double base, double s,
                        const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double r = s * 0.32, cy = base - s / 2;
    cairo_pattern_t *g =
        cairo_pattern_create_radial(cx - r * 0.4, cy - r * 0.4, r * 0.1, cx, cy, r);
    cairo_pattern_add_color_stop_rgb(g, 0, ((c->c[1] >> 16) & 255) / 255.0,
                                     ((c->c[1] >> 8) & 255) / 255.0, (c->c[1] & 255) / 255.0);
    cairo_pattern_add_color_stop_rgb(g, 1, ((c->c[0] >> 16) & 255) / 255.0,
                                     ((c->c[0] >> 8) & 255) / 255.0, (c->c[0] & 255) / 255.0);
    cairo_arc(cr, cx, cy, r, 0, 2 * M_PI);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);
    if (v % 3 != 0) {
        illustrate__ellipse(cr, cx, cy, r * 1.6, r * 0.35);
        illustrate__set_rgba(cr, c->c[2], 0.85);
        cairo_set_line_width(cr, fmax(1.0, r * 0.12));
        cairo_stroke(cr);
    }
}

static void draw_boat(illustrate__ctx_t *x, double cx, double base, double s,
                      const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    cairo_move_to(cr, cx - s * 0.55, base - s * 0.25);
    cairo_line_to(cr, cx + s * 0.55, base - s * 0.25);
    cairo_line_to(cr, cx + s * 0.38, base);
    cairo_line_to(cr, cx - s * 0.38, base);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[0]);
    cairo_rectangle(cr, cx - s * 0.02, base - s, s * 0.04, s * 0.75);
    illustrate__fill(x, 0x5A3A1A);
    cairo_move_to(cr, cx + s * 0.04, base - s * 0.95);
    cairo_line_to(cr, cx + s * 0.45, base - s * 0.32);
    cairo_line_to(cr, cx + s * 0.04, base - s * 0.32);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[1]);
}

static void draw_mountain(illustrate__ctx_t *x, double cx, double base, double s,
                          const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double hw = s * (0.9 + (v % 3) * 0.15);
    cairo_move_to(cr, cx - hw, base);
    cairo_line_to(cr, cx, base - s);
    cairo_line_to(cr, cx + hw, base);
    cairo_close_path(cr);
    illustrate__fill(x, c->c[0]);
    cairo_move_to(cr, cx - hw * 0.28, base - s * 0.72);
    cairo_line_to(cr, cx, base - s);
    cairo_line_to(cr, cx + hw * 0.28, base - s * 0.72);
    cairo_line_to(cr, cx + hw * 0.1, base - s * 0.77);
    cairo_line_to(cr, cx - hw * 0.05, base - s * 0.7);
    cairo_close_path(cr);
    illustrate__fill(x, c->c[1]);
}

static void draw_flower(illustrate__ctx_t *x, double cx, double base, double s,
                        const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    cairo_move_to(cr, cx, base);
    cairo_line_to(cr, cx, base - s * 0.7);
    illustrate__set_rgb(cr, 0x2E8B3A);
    cairo_set_line_width(cr, fmax(1.0, s * 0.06));
    cairo_stroke(cr);
    uint32_t petal = (v % 2) ? c->c[0] : c->c[2];
    for (int i = 0; i < 6; i++) {
        double a = i * M_PI / 3;
        cairo_new_sub_path(cr);
        cairo_arc(cr, cx + cos(a) * s * 0.16, base - s * 0.78 + sin(a) * s * 0.16, s * 0.12, 0,
                  2 * M_PI);
    }
    illustrate__fill_outline(x, petal);
    cairo_arc(cr, cx, base - s * 0.78, s * 0.1, 0, 2 * M_PI);
    illustrate__fill(x, c->c[1]);
}

static void draw_book(illustrate__ctx_t *x, double cx, double base, double s,
                      const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    for (int i = -1; i <= 1; i += 2) {
        cairo_move_to(cr, cx, base - s * 0.1);
        cairo_line_to(cr, cx + i * s * 0.6, base - s * 0.22);
        cairo_line_to(cr, cx + i * s * 0.6, base - s * 0.9);
        cairo_line_to(cr, cx, base - s * 0.78);
        cairo_close_path(cr);
        illustrate__fill_outline(x, 0xFFFDF2);
        for (int l = 1; l <= 4; l++) {
            double t = l / 5.0;
            cairo_move_to(cr, cx + i * s * 0.08, base - s * (0.78 - 0.6 * t) + s * 0.0);
            cairo_line_to(cr, cx + i * s * 0.5, base - s * (0.88 - 0.6 * t));
        }
        illustrate__set_rgba(cr, 0x7A7A8A, 0.7);
        cairo_set_line_width(cr, fmax(1.0, s * 0.015));
        cairo_stroke(cr);
    }
    cairo_rectangle(cr, cx - s * 0.64, base - s * 0.1, s * 1.28, s * 0.1);
    illustrate__fill_outline(x, c->c[0]);
}

static void wheel(illustrate__ctx_t *x, double cx, double cy, double r)
{
    cairo_arc(x->cr, cx, cy, r, 0, 2 * M_PI);
    illustrate__fill_outline(x, 0x2A2A2A);
    cairo_arc(x->cr, cx, cy, r * 0.4, 0, 2 * M_PI);
    illustrate__fill(x, 0xC8C8D0);
}

static void draw_car(illustrate__ctx_t *x, double cx, double base, double s,
                     const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double w = s * 1.8;
    cairo_rectangle(cr, cx - w / 2, base - s * 0.6, w, s * 0.38);
    illustrate__fill_outline(x, c->c[0]);
    cairo_move_to(cr, cx - w * 0.3, base - s * 0.58);
    cairo_line_to(cr, cx - w * 0.18, base - s);
    cairo_line_to(cr, cx + w * 0.2, base - s);
    cairo_line_to(cr, cx + w * 0.32, base - s * 0.58);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[0]);
    cairo_rectangle(cr, cx - w * 0.17, base - s * 0.92, w * 0.15, s * 0.28);
    cairo_rectangle(cr, cx + w * 0.03, base - s * 0.92, w * 0.15, s * 0.28);
    illustrate__fill(x, 0xBFE6FF);
    wheel(x, cx - w * 0.3, base - s * 0.2, s * 0.2);
    wheel(x, cx + w * 0.3, base - s * 0.2, s * 0.2);
}

static void draw_train(illustrate__ctx_t *x, double cx, double base, double s,
                       const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    double u = s * 0.8, left = cx - u * 1.6;
    cairo_rectangle(cr, left + u * 1.1, base - s * 0.75, u * 0.5, s * 0.55);  /* cab */
    cairo_rectangle(cr, left + u * 0.25, base - s * 0.55, u * 0.9, s * 0.35); /* boiler */
    illustrate__fill_outline(x, c->c[0]);
    cairo_rectangle(cr, left + u * 0.4, base - s * 0.85, u * 0.18, s * 0.3); /* chimney */
    illustrate__fill_outline(x, OUTLINE);
    cairo_rectangle(cr, left + u * 1.7, base - s * 0.6, u * 1.2, s * 0.4); /* carriage */
    illustrate__fill_outline(x, c->c[1]);
    cairo_rectangle(cr, left + u * 1.85, base - s * 0.52, u * 0.35, s * 0.18);
    cairo_rectangle(cr, left + u * 2.4, base - s * 0.52, u * 0.35, s * 0.18);
    illustrate__fill(x, 0xFFF3C4);
    for (int i = 0; i < 5; i++)
        wheel(x, left + u * (0.45 + i * 0.58), base - s * 0.12, s * 0.12);
    cairo_arc(cr, left + u * 0.5, base - s * 1.0, s * 0.1, 0, 2 * M_PI);
    cairo_new_sub_path(cr);
    cairo_arc(cr, left + u * 0.3, base - s * 1.15, s * 0.13, 0, 2 * M_PI);
    illustrate__set_rgba(cr, 0xFFFFFF, 0.8);
    cairo_fill(cr);
}

static void draw_rainbow(illustrate__ctx_t *x, double cx, double base, double s,
                         const illustrate__colors_t *c, uint32_t v)
{
    static const uint32_t bands[] = {0xE63946, 0xF4A261, 0xF9D423, 0x52B788, 0x4895EF, 0x7B2CBF};
    cairo_t *cr = x->cr;
    double bw = s * 0.07;
    cairo_set_line_width(cr, bw);
    for (int i = 0; i < 6; i++) {
        cairo_new_path(cr);
        cairo_arc(cr, cx, base, s - i * bw, M_PI, 2 * M_PI);
        illustrate__set_rgba(cr, bands[i], 0.8);
        cairo_stroke(cr);
    }
}

static void draw_balloon(illustrate__ctx_t *x, double cx, double base, double s,
                         const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    cairo_move_to(cr, cx, base - s * 0.45);
    cairo_curve_to(cr, cx - s * 0.1, base - s * 0.3, cx + s * 0.1, base - s * 0.15, cx, base);
    illustrate__set_rgb(cr, OUTLINE);
    cairo_set_line_width(cr, fmax(1.0, s * 0.015));
    cairo_stroke(cr);
    illustrate__ellipse(cr, cx, base - s * 0.72, s * 0.22, s * 0.27);
    illustrate__fill_outline(x, (v % 2) ? c->c[0] : c->c[1]);
}

static void draw_lighthouse(illustrate__ctx_t *x, double cx, double base, double s,
                            const illustrate__colors_t *c, uint32_t v)
{
    cairo_t *cr = x->cr;
    for (int i = 0; i < 4; i++) {
        double y0 = base - s * 0.18 * i, y1 = base - s * 0.18 * (i + 1);
        double w0 = s * (0.2 - 0.02 * i), w1 = s * (0.2 - 0.02 * (i + 1));
        cairo_move_to(cr, cx - w0, y0);
        cairo_line_to(cr, cx + w0, y0);
        cairo_line_to(cr, cx + w1, y1);
        cairo_line_to(cr, cx - w1, y1);
        cairo_close_path(cr);
        illustrate__fill_outline(x, (i % 2) ? c->c[0] : 0xFFFFFF);
    }
    cairo_rectangle(cr, cx - s * 0.1, base - s * 0.88, s * 0.2, s * 0.16);
    illustrate__fill_outline(x, 0xFFE066);
    cairo_move_to(cr, cx - s * 0.14, base - s * 0.88);
    cairo_line_to(cr, cx + s * 0.14, base - s * 0.88);
    cairo_line_to(cr, cx, base - s);
    cairo_close_path(cr);
    illustrate__fill_outline(x, c->c[0]);
}

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

const illustrate__noun_t illustrate__nouns[] = {
    {"sun", W("sun", "sunshine", "sunny"), NULL, ILLUSTRATE__ZONE_SCENERY, 0, NULL, {{0}}},
    {"moon", W("moon"), NULL, ILLUSTRATE__ZONE_SCENERY, 0, NULL, {{0}}},
    {"star",
     W("star"),
     W("galaxy", "starry", "constellation"),
     ILLUSTRATE__ZONE_SKY,
     40,
     draw_star_thing,
     {{0xFFF3A0, 0, 0}}},
    {"sea",
     W("sea", "ocean", "lake", "river", "beach", "water", "pond", "shore"),
     NULL,
     ILLUSTRATE__ZONE_SCENERY,
     0,
     NULL,
     {{0}}},
    {"cloud", W("cloud"), W("cloudy"), ILLUSTRATE__ZONE_SKY, 70, draw_cloud, {{0xFFFFFF, 0, 0}}},
    {"mountain",
     W("mountain", "hill", "volcano", "peak"),
     NULL,
     ILLUSTRATE__ZONE_FAR,
     300,
     draw_mountain,
     {{0x7D8BA6, 0xF4F7FB, 0}}},
    {"tree",
     W("tree"),
     W("forest", "woods", "jungle", "orchard"),
     ILLUSTRATE__ZONE_GROUND,
     230,
     draw_tree,
     {{0x3FA34D, 0x7A4E2D, 0x2D7A46}}},
    {"house",
     W("house", "home", "cottage", "cabin", "hut"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     190,
     draw_house,
     {{0xF2D0A4, 0xC0392B, 0xBFE6FF}}},
    {"castle",
     W("castle", "palace", "fortress", "kingdom", "tower"),
     NULL,
     ILLUSTRATE__ZONE_FAR,
     280,
     draw_castle,
     {{0xB8B8C8, 0x6C5CE7, 0xE63946}}},
    {"rocket",
     W("rocket", "spaceship", "spacecraft", "shuttle"),
     NULL,
     ILLUSTRATE__ZONE_SKY,
     200,
     draw_rocket,
     {{0xF1F1F6, 0xE63946, 0x4CC9F0}}},
    {"planet",
     W("planet", "saturn", "jupiter", "mars", "world"),
     W("space"),
     ILLUSTRATE__ZONE_SKY,
     130,
     draw_planet,
     {{0xC77DFF, 0xF5D0FE, 0xFFD166}}},
    {"boat",
     W("boat", "ship", "sailboat", "raft", "canoe"),
     NULL,
     ILLUSTRATE__ZONE_WATER,
     150,
     draw_boat,
     {{0xA0522D, 0xFFFFFF, 0}}},
    {"dragon",
     W("dragon"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     230,
     illustrate__draw_dragon,
     {{0x3BB273, 0xF4A261, 0xFFD166}}},
    {"cat",
     W("cat", "kitten", "kitty"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     120,
     illustrate__draw_cat,
     {{0xF4A261, 0xE76F51, 0x2A9D8F}}},
    {"dog",
     W("dog", "puppy", "pup"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     130,
     illustrate__draw_dog,
     {{0xC68B59, 0x7F5539, 0x3A3A3A}}},
    {"robot",
     W("robot", "android", "droid"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     190,
     illustrate__draw_robot,
     {{0xA8B2C1, 0x4CC9F0, 0xF72585}}},
    {"flower",
     W("flower", "rose", "tulip", "daisy"),
     W("garden", "meadow", "bouquet"),
     ILLUSTRATE__ZONE_GROUND,
     80,
     draw_flower,
     {{0xFF6FA8, 0xFFD166, 0xB388EB}}},
    {"bird",
     W("bird", "parrot", "seagull", "eagle"),
     NULL,
     ILLUSTRATE__ZONE_SKY,
     50,
     illustrate__draw_bird,
     {{0x4895EF, 0x3A0CA3, 0xFFB703}}},
    {"fish",
     W("fish", "whale", "dolphin"),
     NULL,
     ILLUSTRATE__ZONE_WATER,
     70,
     illustrate__draw_fish,
     {{0xFF9F1C, 0xFFBF69, 0x2B2B3A}}},
    {"book",
     W("book", "library"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     90,
     draw_book,
     {{0x9B2226, 0, 0}}},
    {"owl",
     W("owl"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     120,
     illustrate__draw_owl,
     {{0x9C6644, 0xDDB892, 0xFFB703}}},
    {"unicorn",
     W("unicorn", "pony", "horse"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     200,
     illustrate__draw_unicorn,
     {{0xFFFFFF, 0xFF8FC7, 0xFFD166}}},
    {"car",
     W("car", "truck", "bus", "taxi"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     90,
     draw_car,
     {{0xE63946, 0, 0}}},
    {"train",
     W("train", "railway", "locomotive"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     120,
     draw_train,
     {{0x2A9D8F, 0xE9C46A, 0}}},
    {"rainbow", W("rainbow"), NULL, ILLUSTRATE__ZONE_FAR, 320, draw_rainbow, {{0}}},
    {"balloon",
     W("balloon", "kite"),
     NULL,
     ILLUSTRATE__ZONE_SKY,
     110,
     draw_balloon,
     {{0xF72585, 0x4CC9F0, 0}}},
    {"lighthouse",
     W("lighthouse"),
     NULL,
     ILLUSTRATE__ZONE_FAR,
     260,
     draw_lighthouse,
     {{0xD62828, 0, 0}}},
    {"bunny",
     W("bunny", "rabbit", "hare"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     110,
     illustrate__draw_bunny,
     {{0xEDE7E3, 0xFFB5C2, 0x6D597A}}},
    {"bear",
     W("bear", "teddy"),
     NULL,
     ILLUSTRATE__ZONE_GROUND,
     160,
     illustrate__draw_bear,
     {{0x8D5B3A, 0xD4A373, 0x2B2B3A}}},
};

const size_t illustrate__noun_count = sizeof illustrate__nouns / sizeof illustrate__nouns[0];
