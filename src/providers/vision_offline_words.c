/* vision_offline wording: facts to one or two short sentences, e.g. "A bright, wide picture,
 * mostly blue and green, with a lighter top half like a sky. The colours are soft and gentle."
 * Only what was measured is said, and the same facts always give the same words. */
#include "providers/vision_offline.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"

static const char *size_word(vision_size_t s)
{
    switch (s) {
    case VISION_SIZE_TINY:
        return "tiny";
    case VISION_SIZE_SMALL:
        return "small";
    case VISION_SIZE_LARGE:
        return "big";
    default:
        return NULL;
    }
}

static const char *light_word(vision_light_t l)
{
    switch (l) {
    case VISION_LIGHT_DARK:
        return "dark";
    case VISION_LIGHT_DIM:
        return "dim";
    case VISION_LIGHT_BRIGHT:
        return "bright";
    default:
        return NULL;
    }
}

static const char *shape_word(vision_shape_t s)
{
    return s == VISION_SHAPE_LANDSCAPE ? "wide" : s == VISION_SHAPE_PORTRAIT ? "tall" : "square";
}

static void colour_phrase(const vision_offline_facts_t *f, buf_t *b)
{
    if (f->colorful == VISION_COLORFUL_GREY && !f->mostly_one_color) {
        double bw = f->color_share[VISION_COLOR_BLACK] + f->color_share[VISION_COLOR_WHITE];
        buf_append_str(b, bw >= 0.8 ? "in black and white" : "in shades of grey");
        return;
    }
    const char *c0 = vision_offline_color_name(f->dominant[0]);
    if (f->mostly_one_color || f->n_dominant == 1) {
        buf_printf(b, "%s %s", f->color_share[f->dominant[0]] >= 0.9 ? "almost all" : "mostly", c0);
        return;
    }
    const char *c1 = vision_offline_color_name(f->dominant[1]);
    if (f->n_dominant == 2) {
        buf_printf(b, "mostly %s and %s", c0, c1);
        return;
    }
    buf_printf(b, "mostly %s, %s and %s", c0, c1, vision_offline_color_name(f->dominant[2]));
}

/* One composition remark, the most telling first. Returns 1 when something was written. */
static int composition_phrase(const vision_offline_facts_t *f, buf_t *b)
{
    double tb = f->top_luma - f->bottom_luma, lr = f->left_luma - f->right_luma;
    double spot = f->brightest_luma - f->mean_luma;
    /* A small, much brighter spot is more telling than the halves it happens to lie in. */
    if (spot >= 60 && f->contrast >= 10)
        return buf_printf(b, "and the brightest part is in the %s",
                          vision_offline_pos_name(f->brightest)) == 0;
    if (f->sky_like) return buf_append_str(b, "with a lighter top half like a sky") == 0;
    if (tb >= 30 || tb <= -30)
        return buf_printf(b, "with a lighter %s half", tb > 0 ? "top" : "bottom") == 0;
    if (lr >= 30 || lr <= -30)
        return buf_printf(b, "lighter on the %s side", lr > 0 ? "left" : "right") == 0;
    if (spot >= 25 && f->contrast >= 10)
        return buf_printf(b, "and the brightest part is in the %s",
                          vision_offline_pos_name(f->brightest)) == 0;
    return 0;
}

static const char *second_sentence(const vision_offline_facts_t *f)
{
    if (f->mostly_one_color && f->contrast < 10) return "It looks smooth and even.";
    switch (f->colorful) {
    case VISION_COLORFUL_GREY:
        return "It has almost no colour, just light and shadow.";
    case VISION_COLORFUL_MUTED:
        return "The colours are soft and gentle.";
    case VISION_COLORFUL_COLORFUL:
        return "It is nice and colourful.";
    default:
        return "The colours are strong and lively.";
    }
}

int vision_offline_describe_facts(const vision_offline_facts_t *f, char *text, size_t cap)
{
    if (!f || !text || cap == 0) return -EINVAL;
    buf_t b;
    buf_init(&b, 1024);
    buf_append_str(&b, "A ");
    const char *adj[3] = {size_word(f->size), light_word(f->light), shape_word(f->shape)};
    int first = 1;
    for (int i = 0; i < 3; i++) {
        if (!adj[i]) continue;
        if (!first) buf_append_str(&b, ", ");
        buf_append_str(&b, adj[i]);
        first = 0;
    }
    buf_append_str(&b, " picture, ");
    colour_phrase(f, &b);
    size_t before = b.len;
    buf_append_str(&b, ", ");
    if (!composition_phrase(f, &b) && b.data) {
        b.len = before; /* drop the dangling comma */
        b.data[before] = '\0';
    }
    buf_append_str(&b, ". ");
    buf_append_str(&b, second_sentence(f));

    int rc = 0;
    if (!b.data) {
        text[0] = '\0';
        rc = -ENOMEM;
    } else if (b.len >= cap) {
        memcpy(text, b.data, cap - 1);
        text[cap - 1] = '\0';
        rc = -ENOSPC;
    } else {
        memcpy(text, b.data, b.len + 1);
    }
    buf_free(&b);
    return rc;
}

int vision_offline_describe(const uint8_t *data, size_t len, const vision_offline_config_t *cfg,
                            vision_offline_facts_t *facts, char *text, size_t cap)
{
    if (!text || cap == 0) return -EINVAL;
    text[0] = '\0';
    vision_offline_image_t img;
    int rc = vision_offline_decode(data, len, cfg, &img);
    if (rc) return rc;
    vision_offline_facts_t local;
    vision_offline_facts_t *f = facts ? facts : &local;
    rc = vision_offline_analyze(&img, f);
    vision_offline_image_free(&img);
    if (rc) return rc;
    return vision_offline_describe_facts(f, text, cap);
}
