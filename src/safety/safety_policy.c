/* Policy: what a caller uses after a verdict, so that a child never sees an error from the
 * screen. Prompts are used as they are, rewritten, or replaced by a gentle theme; outputs are
 * used, rewritten, regenerated once and then replaced. Also the `safety` record kept with each
 * story and the child-safe words added to every picture prompt. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "safety/safety_int.h"

static const char *const ACTION_NAMES[] = {"allowed", "rewritten", "fallback"};

const char *safety_record_action_name(safety_record_action_t a)
{
    return (unsigned)a <= SAFETY_RECORD_FALLBACK ? ACTION_NAMES[a] : NULL;
}

void safety_record_merge(safety_record_t *dst, const safety_record_t *src)
{
    if (!dst || !src) return;
    if (src->action > dst->action) dst->action = src->action;
    dst->reasons |= src->reasons;
}

void safety_record_to_json(const safety_record_t *r, yajl_gen g)
{
    yajl_gen_map_open(g);
    json_kv_str(g, "action", safety_record_action_name(r->action));
    json_key(g, "reasons");
    yajl_gen_array_open(g);
    for (int c = 0; c < SAFETY_CAT_COUNT_; c++)
        if (r->reasons & (1u << c)) json_str(g, safety_category_name((safety_category_t)c));
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

int safety_record_from_json(yajl_val v, safety_record_t *out)
{
    if (!out) return -EINVAL;
    memset(out, 0, sizeof *out);
    const char *a = json_get_str(v, "action");
    if (!a) return -EINVAL;
    int found = -1;
    for (int i = 0; i <= SAFETY_RECORD_FALLBACK; i++)
        if (strcmp(a, ACTION_NAMES[i]) == 0) found = i;
    if (found < 0) return -EINVAL;
    out->action = (safety_record_action_t)found;
    yajl_val rs = json_get(v, "reasons");
    if (rs && !YAJL_IS_ARRAY(rs)) return -EINVAL;
    for (size_t i = 0; rs && i < rs->u.array.len; i++) {
        yajl_val e = rs->u.array.values[i];
        int c = YAJL_IS_STRING(e) ? safety_category_parse(YAJL_GET_STRING(e)) : -1;
        if (c >= 0) out->reasons |= 1u << c;
    }
    return 0;
}

/* Gentle themes per template, used when a prompt cannot be kept. */
static const char *const THEMES_ADVENTURE[] = {
    "A little fox who follows a map of stars to find a hidden garden",
    "Two friends who build a raft and explore a sunny river",
    "A brave puppy who climbs a green hill to watch the sunrise",
    "A young explorer who finds a cave full of glowing crystals",
};
static const char *const THEMES_FANTASY[] = {
    "A shy dragon who makes friends by baking honey cakes",
    "A unicorn who paints a new rainbow after every rainstorm",
    "A tiny wizard whose spells turn puddles into flower beds",
    "A kind giant who helps a village build a bridge of stones",
};
static const char *const THEMES_SCIFI[] = {
    "A friendly robot who learns to dance under two moons",
    "A space cat who visits the rings of Saturn and makes a friend",
    "Three children who build a cardboard rocket that really flies",
    "A little astronaut who plants the first garden on Mars",
};
static const char *const THEMES_MYSTERY[] = {
    "Who moved the cookies from the cookie jar?",
    "The case of the missing garden gnome",
    "A curious owl who solves the riddle of the humming tree",
    "The secret of the map hidden in grandma's old piano",
};
static const char *const THEMES_EDUCATIONAL[] = {
    "How bees make honey, told by a busy little bee",
    "A raindrop's journey from the clouds to the sea",
    "Why the moon changes shape, explained by a sleepy owl",
    "How a tiny seed grows into a tall sunflower",
};

const char *safety_fallback_theme(const char *template_name, uint64_t seed)
{
    const char *const *list = THEMES_ADVENTURE;
    const char *t = template_name ? template_name : "";
    if (strcasecmp(t, "fantasy") == 0)
        list = THEMES_FANTASY;
    else if (strcasecmp(t, "sci-fi") == 0 || strcasecmp(t, "scifi") == 0)
        list = THEMES_SCIFI;
    else if (strcasecmp(t, "mystery") == 0)
        list = THEMES_MYSTERY;
    else if (strcasecmp(t, "educational") == 0)
        list = THEMES_EDUCATIONAL;
    return list[seed % 4];
}

void safety_screen_free(safety_screen_t *r)
{
    if (!r) return;
    free(r->owned);
    memset(r, 0, sizeof *r);
}

static void sf_use_fallback(safety_screen_t *out, const char *template_name, const char *text,
                            size_t len)
{
    free(out->owned);
    out->owned = NULL;
    out->text = safety_fallback_theme(template_name, text ? sf_hash(text, len) : 0);
    out->len = strlen(out->text);
    out->record.action = SAFETY_RECORD_FALLBACK;
}

/* A prompt reduced to fewer than two words no longer says anything worth telling. */
static size_t sf_count_words(const char *s, size_t n)
{
    size_t words = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool w =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
        if (w && !in) words++;
        in = w;
    }
    return words;
}

void safety_screen_prompt(const safety_t *s, const char *text, size_t len,
                          const char *template_name, safety_screen_t *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    safety_verdict_t v;
    int rc = safety_check(s, text, len, &v);
    out->record.reasons = v.categories;
    if (rc || v.action == SAFETY_BLOCK ||
        (v.action == SAFETY_REWRITE && sf_count_words(v.rewritten, v.rewritten_len) < 2)) {
        sf_use_fallback(out, template_name, text, len);
    } else if (v.action == SAFETY_REWRITE) {
        out->owned = v.rewritten;
        v.rewritten = NULL;
        out->text = out->owned;
        out->len = v.rewritten_len;
        out->record.action = SAFETY_RECORD_REWRITTEN;
    } else {
        out->text = text;
        out->len = len;
        out->record.action = SAFETY_RECORD_ALLOWED;
    }
    safety_verdict_free(&v);
}

safety_step_t safety_screen_output(const safety_t *s, const char *text, size_t len, int attempt,
                                   const char *template_name, safety_screen_t *out)
{
    if (!out) return SAFETY_STEP_FALLBACK;
    memset(out, 0, sizeof *out);
    safety_verdict_t v;
    int rc = safety_check(s, text, len, &v);
    out->record.reasons = v.categories;
    safety_step_t step = SAFETY_STEP_USE;
    if (rc || v.action == SAFETY_BLOCK) {
        if (attempt <= 0) {
            /* The text is not shown, but the story was changed: record that. */
            out->record.action = SAFETY_RECORD_REWRITTEN;
            step = SAFETY_STEP_REGENERATE;
        } else {
            sf_use_fallback(out, template_name, text, len);
            step = SAFETY_STEP_FALLBACK;
        }
    } else if (v.action == SAFETY_REWRITE) {
        out->owned = v.rewritten;
        v.rewritten = NULL;
        out->text = out->owned;
        out->len = v.rewritten_len;
        out->record.action = SAFETY_RECORD_REWRITTEN;
    } else {
        out->text = text;
        out->len = len;
        out->record.action = SAFETY_RECORD_ALLOWED;
    }
    safety_verdict_free(&v);
    return step;
}

/* Style words for every scene prompt; they pass the screen themselves (tested). */
static const char STYLE[] =
    "gentle children's picture-book illustration, soft friendly colours, cheerful "
    "expressions, cosy and wholesome, suitable for young children";
/* Things to keep out of pictures. Listed plainly: Titan and Nova Canvas ask for no negation
 * words in negativeText. */
static const char NEGATIVE[] =
    "violence, blood, gore, injury, weapons, guns, knives, fighting, nudity, underwear, "
    "suggestive pose, horror, creepy, frightening faces, skulls, smoking, alcohol, drugs, "
    "text, letters, watermark, signature, deformed hands, extra fingers";

static bool sf_has(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0) return true;
    return false;
}

void safety_scene_style(const char *family, safety_style_t *out)
{
    if (!out) return;
    out->style = STYLE;
    out->negative = NULL;
    out->negative_weight = 0.0f;
    if (!family) return;
    bool canvas =
        sf_has(family, "titan") || sf_has(family, "nova-canvas") || sf_has(family, "nova_canvas");
    /* SDXL takes the negative prompt as a weighted prompt; the others as a separate field. */
    bool sdxl = !canvas && (sf_has(family, "sdxl") || sf_has(family, "stable-diffusion-xl"));
    bool stable =
        sf_has(family, "stable-image") || sf_has(family, "stable_image") || sf_has(family, "sd3");
    if (canvas || sdxl || stable) out->negative = NEGATIVE;
    if (sdxl) out->negative_weight = -1.0f;
}
