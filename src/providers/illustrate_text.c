/* illustrate text: the caption banner and the scene-number badge (cairo toy text API with DejaVu
 * Sans), caption sanitising and wrapping, and the PNG byte sink. */
#include "providers/illustrate_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FONT       "DejaVu Sans"
#define TEXT_COLOR 0x22223A
#define ELLIPSIS   "\xE2\x80\xA6"

static size_t utf8_len(uint8_t c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
}

size_t illustrate__sanitize(const char *in, char *out, size_t cap)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t o = 0;
    const uint8_t *p = (const uint8_t *)in;
    int space = 1; /* collapse runs of whitespace and drop leading ones */
    while (p && *p && o + 5 < cap) {
        uint8_t c = *p;
        size_t len = utf8_len(c);
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
        int ok = len > 0;
        for (size_t i = 1; ok && i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                ok = 0;
            else
                cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        if (ok && (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = 0;
        if (!ok) {
            out[o++] = '?';
            space = 0;
            p++;
            continue;
        }
        if (len == 1 && (c <= 0x20 || c == 0x7F)) {
            if (!space) out[o++] = ' ';
            space = 1;
        } else {
            memcpy(out + o, p, len);
            o += len;
            space = 0;
        }
        p += len;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return o;
}

static double width_of(cairo_t *cr, const char *s, size_t n)
{
    char tmp[ILLUSTRATE__CAPTION_MAX + 8];
    if (n >= sizeof tmp) n = sizeof tmp - 1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    cairo_text_extents_t e;
    cairo_text_extents(cr, tmp, &e);
    return e.x_advance;
}

/* Bytes of the character at text[i], never past len (a stray byte counts as one). */
static size_t char_len(const char *text, size_t i, size_t len)
{
    size_t n = utf8_len((uint8_t)text[i]);
    return n == 0 || i + n > len ? 1 : n;
}

/* Greedy wrap of text[0..len) at spaces (or inside a word too long for a line). Returns 1 when
 * all text fit. */
static int wrap(cairo_t *cr, const char *text, size_t len, double maxw, illustrate__text_t *t)
{
    size_t pos = 0;
    t->nlines = 0;
    while (t->nlines < ILLUSTRATE__MAX_LINES) {
        while (text[pos] == ' ')
            pos++;
        if (pos >= len) return 1;
        size_t end = pos, last_space = 0;
        while (end < len) {
            size_t step = char_len(text, end, len);
            if (width_of(cr, text + pos, end + step - pos) > maxw) break;
            if (text[end] == ' ') last_space = end;
            end += step;
        }
        size_t cut = end;
        if (end < len) {
            if (last_space > pos)
                cut = last_space;
            else if (end == pos) /* not even one character fits: place it anyway */
                cut = pos + char_len(text, pos, len);
        }
        char *line = t->lines[t->nlines++];
        memcpy(line, text + pos, cut - pos);
        line[cut - pos] = '\0';
        pos = cut;
    }
    while (text[pos] == ' ')
        pos++;
    return pos >= len;
}

void illustrate__layout_caption(illustrate__ctx_t *x, const char *caption, illustrate__text_t *t)
{
    char text[ILLUSTRATE__CAPTION_MAX + 8];
    size_t len = illustrate__sanitize(caption, text, ILLUSTRATE__CAPTION_MAX);
    memset(t, 0, sizeof *t);
    if (len == 0) return;
    cairo_t *cr = x->cr;
    double margin = 14 * x->unit;
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    double font = fmax(7.0, 34 * x->unit);
    int fits = 0;
    for (int attempt = 0; attempt < 4 && !fits; attempt++) {
        if (attempt) font = fmax(6.0, font * 0.85);
        cairo_set_font_size(cr, font);
        fits = wrap(cr, text, len, x->w - 2 * margin - 1.2 * font, t);
    }
    if (!fits) {
        /* Still too long at the smallest size: end the last line with an ellipsis. */
        double maxw = x->w - 2 * margin - 1.2 * font;
        char *last = t->lines[t->nlines - 1];
        size_t n = strlen(last);
        for (;;) {
            char tmp[ILLUSTRATE__CAPTION_MAX + 8];
            snprintf(tmp, sizeof tmp, "%.*s%s", (int)n, last, ELLIPSIS);
            if (n == 0 || width_of(cr, tmp, strlen(tmp)) <= maxw) {
                memcpy(last, tmp, strlen(tmp) + 1);
                break;
            }
            do /* step back over a whole UTF-8 character */
                n--;
            while (n > 0 && ((uint8_t)last[n] & 0xC0) == 0x80);
        }
    }
    t->font = font;
    t->height = t->nlines * font * 1.25 + 0.95 * font;
    t->top = x->h - margin - t->height;
}

static void rounded_rect(cairo_t *cr, double x0, double y0, double w, double h, double r)
{
    if (r > h / 2) r = h / 2;
    cairo_new_sub_path(cr);
    cairo_arc(cr, x0 + w - r, y0 + r, r, -M_PI / 2, 0);
    cairo_arc(cr, x0 + w - r, y0 + h - r, r, 0, M_PI / 2);
    cairo_arc(cr, x0 + r, y0 + h - r, r, M_PI / 2, M_PI);
    cairo_arc(cr, x0 + r, y0 + r, r, M_PI, 1.5 * M_PI);
    cairo_close_path(cr);
}

void illustrate__draw_caption(illustrate__ctx_t *x, const illustrate__text_t *t, uint32_t accent)
{
    if (!t->nlines) return;
    cairo_t *cr = x->cr;
    double margin = 14 * x->unit;
    cairo_new_path(cr);
    rounded_rect(cr, margin, t->top, x->w - 2 * margin, t->height, 16 * x->unit);
    illustrate__set_rgba(cr, 0xFFFFFF, 0.9);
    cairo_fill_preserve(cr);
    illustrate__set_rgb(cr, accent);
    cairo_set_line_width(cr, fmax(1.0, 4 * x->unit));
    cairo_stroke(cr);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, t->font);
    illustrate__set_rgb(cr, TEXT_COLOR);
    for (int i = 0; i < t->nlines; i++) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, t->lines[i], &e);
        cairo_move_to(cr, x->w / 2 - e.x_advance / 2,
                      t->top + 0.45 * t->font + t->font * 0.95 + i * t->font * 1.25 -
                          0.1 * t->font);
        cairo_show_text(cr, t->lines[i]);
    }
    illustrate__trace(x, ILLUSTRATE_ELEM_CAPTION, t->lines[0], margin, t->top, x->w - 2 * margin,
                      t->height, NULL);
}

void illustrate__draw_badge(illustrate__ctx_t *x, int number, uint32_t accent)
{
    cairo_t *cr = x->cr;
    char label[16];
    snprintf(label, sizeof label, "%d", number > 9999 ? 9999 : number);
    double r = fmax(10.0, 40 * x->unit), m = 16 * x->unit;
    cairo_new_path(cr); /* drop the current point left by earlier text */
    cairo_arc(cr, m + r, m + r, r, 0, 2 * M_PI);
    illustrate__set_rgb(cr, accent);
    cairo_fill_preserve(cr);
    illustrate__set_rgb(cr, 0xFFFFFF);
    cairo_set_line_width(cr, fmax(1.0, 4 * x->unit));
    cairo_stroke(cr);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    size_t digits = strlen(label);
    cairo_set_font_size(cr, r * (digits <= 2 ? 1.0 : digits == 3 ? 0.75 : 0.6));
    cairo_text_extents_t e;
    cairo_text_extents(cr, label, &e);
    cairo_move_to(cr, m + r - e.x_bearing - e.width / 2, m + r - e.y_bearing - e.height / 2);
    cairo_show_text(cr, label);
    illustrate__trace(x, ILLUSTRATE_ELEM_BADGE, label, m, m, 2 * r, 2 * r, NULL);
}
