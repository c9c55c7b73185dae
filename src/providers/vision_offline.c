/* vision_offline analysis and wording: turns a decoded picture into facts and facts into one or
 * two plain sentences. Everything is integer counting over the (small) decoded picture, so the
 * result is deterministic and cheap. The thresholds below were tuned on synthetic pictures of
 * known colours; they aim at words a child would agree with, not at colour science. */
#include "providers/vision_offline.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const color_names[VISION_COLOR_COUNT] = {
    "red",    "orange", "yellow", "green", "teal",  "blue",
    "purple", "pink",   "brown",  "black", "white", "grey",
};

const char *vision_offline_color_name(vision_color_t c)
{
    return (unsigned)c < VISION_COLOR_COUNT ? color_names[c] : "unknown";
}

const char *vision_offline_pos_name(vision_pos_t p)
{
    static const char *const names[] = {"upper left", "top",    "upper right",
                                        "left",       "middle", "right",
                                        "lower left", "bottom", "lower right"};
    return (unsigned)p < 9 ? names[p] : "unknown";
}

static vision_color_t achromatic(int mx, int mn)
{
    int l = (mx + mn) / 2;
    if (l < 50) return VISION_COLOR_BLACK;
    if (l >= 205) return VISION_COLOR_WHITE;
    return VISION_COLOR_GREY;
}

vision_color_t vision_offline_classify_rgb(uint8_t r, uint8_t g, uint8_t b)
{
    int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
    int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
    int chroma = mx - mn;
    if (mx < 35) return VISION_COLOR_BLACK;
    /* Low saturation (chroma relative to the brightest channel) reads as a grey tone. */
    if (chroma < 20 || chroma * 100 < mx * 16) return achromatic(mx, mn);

    double h;
    if (mx == r)
        h = 60.0 * fmod((double)(g - b) / chroma + 6.0, 6.0);
    else if (mx == g)
        h = 60.0 * ((double)(b - r) / chroma + 2.0);
    else
        h = 60.0 * ((double)(r - g) / chroma + 4.0);
    double s = (double)chroma / mx, v = mx / 255.0;

    if (h < 15 || h >= 345) {
        if (v < 0.35) return VISION_COLOR_BROWN;
        if (s < 0.5 && v > 0.7) return VISION_COLOR_PINK;
        return VISION_COLOR_RED;
    }
    if (h < 45) {
        if (v < 0.6 || (s < 0.45 && v < 0.9)) return VISION_COLOR_BROWN;
        return VISION_COLOR_ORANGE;
    }
    if (h < 70) {
        if (v < 0.55) return h < 55 ? VISION_COLOR_BROWN : VISION_COLOR_GREEN;
        return VISION_COLOR_YELLOW;
    }
    if (h < 160) return VISION_COLOR_GREEN;
    if (h < 190) return VISION_COLOR_TEAL;
    if (h < 260) return VISION_COLOR_BLUE;
    if (h < 290) return VISION_COLOR_PURPLE;
    return v < 0.6 ? VISION_COLOR_PURPLE : VISION_COLOR_PINK;
}

/* Perceived lightness that gives saturated colours some credit: pure blue has a luma of 29 but
 * nobody calls a pure blue picture "dark". */
static int lightness(const uint8_t *p)
{
    int luma = (77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8;
    int mx = p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2]) : (p[1] > p[2] ? p[1] : p[2]);
    return (luma + mx) / 2;
}

static void rank_colors(const double *share, vision_color_t *order)
{
    /* Insertion sort, ties broken by enum order, so the ranking is deterministic. */
    for (int i = 0; i < VISION_COLOR_COUNT; i++)
        order[i] = (vision_color_t)i;
    for (int i = 1; i < VISION_COLOR_COUNT; i++) {
        vision_color_t x = order[i];
        int j = i - 1;
        while (j >= 0 && share[order[j]] < share[x]) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = x;
    }
}

int vision_offline_analyze(const vision_offline_image_t *img, vision_offline_facts_t *f)
{
    if (!img || !f || !img->rgb || img->width == 0 || img->height == 0) return -EINVAL;
    memset(f, 0, sizeof *f);
    uint32_t w = img->width, h = img->height;
    f->type = img->type;
    f->width = img->src_width ? img->src_width : w;
    f->height = img->src_height ? img->src_height : h;

    uint64_t n = (uint64_t)w * h, top_n = 0, bot_n = 0, left_n = 0, right_n = 0;
    uint64_t counts[VISION_COLOR_COUNT] = {0}, top_counts[VISION_COLOR_COUNT] = {0};
    uint64_t cell_sum[9] = {0}, cell_n[9] = {0};
    double sum = 0, sum2 = 0, top = 0, bot = 0, left = 0, right = 0;
    double rg_sum = 0, rg_sum2 = 0, yb_sum = 0, yb_sum2 = 0;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *p = img->rgb + (size_t)y * w * 3;
        /* With an odd height the middle row belongs to neither half. */
        int in_top = 2 * y + 1 < h, in_bot = 2 * y + 1 > h;
        for (uint32_t x = 0; x < w; x++, p += 3) {
            int l = lightness(p);
            sum += l;
            sum2 += (double)l * l;
            vision_color_t c = vision_offline_classify_rgb(p[0], p[1], p[2]);
            counts[c]++;
            if (in_top) {
                top += l;
                top_n++;
                top_counts[c]++;
            } else if (in_bot) {
                bot += l;
                bot_n++;
            }
            if (2 * x + 1 < w) {
                left += l;
                left_n++;
            } else if (2 * x + 1 > w) {
                right += l;
                right_n++;
            }
            int cell = (int)((uint64_t)y * 3 / h) * 3 + (int)((uint64_t)x * 3 / w);
            cell_sum[cell] += (uint64_t)l;
            cell_n[cell]++;
            double rg = (double)p[0] - p[1], yb = 0.5 * ((double)p[0] + p[1]) - p[2];
            rg_sum += rg;
            rg_sum2 += rg * rg;
            yb_sum += yb;
            yb_sum2 += yb * yb;
        }
    }
    double dn = (double)n;
    f->mean_luma = sum / dn;
    double var = sum2 / dn - f->mean_luma * f->mean_luma;
    f->contrast = var > 0 ? sqrt(var) : 0;
    /* A 1-pixel-high or -wide picture has no halves; use the mean instead. */
    f->top_luma = top_n ? top / (double)top_n : f->mean_luma;
    f->bottom_luma = bot_n ? bot / (double)bot_n : f->mean_luma;
    f->left_luma = left_n ? left / (double)left_n : f->mean_luma;
    f->right_luma = right_n ? right / (double)right_n : f->mean_luma;

    double rg_m = rg_sum / dn, yb_m = yb_sum / dn;
    double rg_v = rg_sum2 / dn - rg_m * rg_m, yb_v = yb_sum2 / dn - yb_m * yb_m;
    f->colorfulness =
        sqrt((rg_v > 0 ? rg_v : 0) + (yb_v > 0 ? yb_v : 0)) + 0.3 * sqrt(rg_m * rg_m + yb_m * yb_m);

    for (int i = 0; i < VISION_COLOR_COUNT; i++)
        f->color_share[i] = (double)counts[i] / dn;
    vision_color_t order[VISION_COLOR_COUNT];
    rank_colors(f->color_share, order);
    f->n_dominant = 1;
    for (int i = 0; i < 3; i++)
        f->dominant[i] = order[i];
    for (int i = 1; i < 3 && f->color_share[order[i]] >= 0.12; i++)
        f->n_dominant = i + 1;
    f->mostly_one_color = f->color_share[order[0]] >= 0.75;

    f->brightest = VISION_POS_CENTRE;
    f->brightest_luma = -1;
    for (int i = 0; i < 9; i++) {
        if (!cell_n[i]) continue;
        double m = (double)cell_sum[i] / (double)cell_n[i];
        if (m > f->brightest_luma + 0.5) { /* earlier cells win near-ties */
            f->brightest_luma = m;
            f->brightest = (vision_pos_t)i;
        }
    }

    /* A sky: the top half is clearly lighter and mostly blue, teal, white or grey. */
    uint64_t sky = top_counts[VISION_COLOR_BLUE] + top_counts[VISION_COLOR_TEAL] +
                   top_counts[VISION_COLOR_WHITE] + top_counts[VISION_COLOR_GREY];
    f->sky_like = top_n && f->top_luma - f->bottom_luma >= 20 && sky * 2 > top_n;

    if ((uint64_t)f->width * 10 > (uint64_t)f->height * 11)
        f->shape = VISION_SHAPE_LANDSCAPE;
    else if ((uint64_t)f->height * 10 > (uint64_t)f->width * 11)
        f->shape = VISION_SHAPE_PORTRAIT;
    else
        f->shape = VISION_SHAPE_SQUARE;
    uint32_t side = f->width > f->height ? f->width : f->height;
    f->size = side < 128    ? VISION_SIZE_TINY
              : side < 640  ? VISION_SIZE_SMALL
              : side < 2000 ? VISION_SIZE_MEDIUM
                            : VISION_SIZE_LARGE;
    f->light = f->mean_luma < 60    ? VISION_LIGHT_DARK
               : f->mean_luma < 100 ? VISION_LIGHT_DIM
               : f->mean_luma < 150 ? VISION_LIGHT_MEDIUM
                                    : VISION_LIGHT_BRIGHT;
    f->colorful = f->colorfulness < 8    ? VISION_COLORFUL_GREY
                  : f->colorfulness < 30 ? VISION_COLORFUL_MUTED
                  : f->colorfulness < 65 ? VISION_COLORFUL_COLORFUL
                                         : VISION_COLORFUL_VIVID;
    /* Noise or a few specks of colour can lift the metric although most of the picture is
     * black, white or grey; "colourful" would then mislead. */
    double neutral = f->color_share[VISION_COLOR_BLACK] + f->color_share[VISION_COLOR_WHITE] +
                     f->color_share[VISION_COLOR_GREY];
    if (neutral >= 0.6 && f->colorful > VISION_COLORFUL_MUTED) f->colorful = VISION_COLORFUL_MUTED;
    return 0;
}
