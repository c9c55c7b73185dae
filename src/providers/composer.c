/* composer API: input validation, the story object and its accessors, streaming in word
 * chunks, and the plan as JSON (yajl). */
#include "providers/composer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_gen.h>

#include "providers/composer_internal.h"

static const char *const TEMPLATE_NAMES[] = {"adventure", "fantasy", "sci-fi", "mystery",
                                             "educational"};

int composer_template_parse(const char *name, composer_template_t *out)
{
    if (!name || !out) return -EINVAL;
    for (int i = 0; i < COMPOSER_TEMPLATE_COUNT_; i++)
        if (!strcasecmp(name, TEMPLATE_NAMES[i])) {
            *out = (composer_template_t)i;
            return 0;
        }
    if (!strcasecmp(name, "scifi") || !strcasecmp(name, "sci_fi") ||
        !strcasecmp(name, "science fiction")) {
        *out = COMPOSER_TEMPLATE_SCIFI;
        return 0;
    }
    return -EINVAL;
}

const char *composer_template_name(composer_template_t t)
{
    return (unsigned)t < COMPOSER_TEMPLATE_COUNT_ ? TEMPLATE_NAMES[t] : "unknown";
}

int composer_level_parse(const char *name, composer_level_t *out)
{
    static const char *const names[] = {"simple", "intermediate", "advanced"};
    if (!name || !out) return -EINVAL;
    for (int i = 0; i < COMPOSER_LEVEL_COUNT_; i++)
        if (!strcasecmp(name, names[i])) {
            *out = (composer_level_t)i;
            return 0;
        }
    return -EINVAL;
}

static int parse_int(const char **p, int *out)
{
    int v = 0, digits = 0;
    while (**p == ' ')
        (*p)++;
    while (**p >= '0' && **p <= '9' && digits < 3) {
        v = v * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    while (**p == ' ')
        (*p)++;
    if (!digits || (**p >= '0' && **p <= '9')) return -EINVAL;
    *out = v;
    return 0;
}

int composer_age_parse(const char *range, int *age_min, int *age_max)
{
    if (!range || !age_min || !age_max) return -EINVAL;
    const char *p = range;
    int lo, hi;
    if (parse_int(&p, &lo)) return -EINVAL;
    hi = lo;
    if (*p == '-') {
        p++;
        if (parse_int(&p, &hi)) return -EINVAL;
    }
    if (*p || lo > hi || lo < COMPOSER_MIN_AGE || hi > COMPOSER_MAX_AGE) return -EINVAL;
    *age_min = lo;
    *age_max = hi;
    return 0;
}

void composer_input_defaults(composer_input_t *in)
{
    memset(in, 0, sizeof *in);
    in->template_id = COMPOSER_TEMPLATE_ADVENTURE;
    in->age_min = 6;
    in->age_max = 8;
    in->target_words = 500;
    in->parts = 3;
    in->level = COMPOSER_LEVEL_INTERMEDIATE;
}

/* Returns 0 when s (up to max bytes) is valid UTF-8, -E2BIG when longer, -EINVAL otherwise. */
static int check_utf8(const char *s, size_t max)
{
    if (!s) return 0;
    size_t n = strnlen(s, max + 1);
    if (n > max) return -E2BIG;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        size_t len = ch < 0x80         ? 1
                     : (ch >> 5) == 6  ? 2
                     : (ch >> 4) == 14 ? 3
                     : (ch >> 3) == 30 ? 4
                                       : 0;
        if (!len || i + len > n || (len == 2 && ch < 0xC2) || (len == 4 && ch > 0xF4))
            return -EINVAL;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80) return -EINVAL;
        if (len == 3 && ((ch == 0xE0 && p[i + 1] < 0xA0) || (ch == 0xED && p[i + 1] > 0x9F)))
            return -EINVAL;
        if (len == 4 && ((ch == 0xF0 && p[i + 1] < 0x90) || (ch == 0xF4 && p[i + 1] > 0x8F)))
            return -EINVAL;
        i += len;
    }
    return 0;
}

static int validate(const composer_input_t *in)
{
    if (!in || !in->prompt) return -EINVAL;
    int rc;
    if ((rc = check_utf8(in->prompt, COMPOSER_MAX_PROMPT))) return rc;
    if ((rc = check_utf8(in->image_description, COMPOSER_MAX_IMAGE_DESC))) return rc;
    if ((rc = check_utf8(in->moral, COMPOSER_MAX_MORAL))) return rc;
    if ((rc = check_utf8(in->child_name, COMPOSER_MAX_CHILD_NAME))) return rc;
    bool any = false;
    for (const char *p = in->prompt; *p && !any; p++)
        any = (unsigned char)*p > ' ';
    if (!any) return -EINVAL;
    if ((unsigned)in->template_id >= COMPOSER_TEMPLATE_COUNT_) return -EINVAL;
    if ((unsigned)in->level >= COMPOSER_LEVEL_COUNT_) return -EINVAL;
    if (in->parts < 1 || in->parts > COMPOSER_MAX_PARTS) return -EINVAL;
    if (in->target_words < COMPOSER_MIN_WORDS || in->target_words > COMPOSER_MAX_WORDS)
        return -EINVAL;
    if (in->age_min < COMPOSER_MIN_AGE || in->age_max > COMPOSER_MAX_AGE ||
        in->age_min > in->age_max)
        return -EINVAL;
    return 0;
}

int composer_write(const composer_input_t *in, composer_story_t **out)
{
    if (!out) return -EINVAL;
    *out = NULL;
    int rc = validate(in);
    if (rc) return rc;
    composer_story_t *st = calloc(1, sizeof *st);
    composer__ctx_t *c = malloc(sizeof *c);
    if (!st || !c) {
        free(st);
        free(c);
        return -ENOMEM;
    }
    st->tpl = in->template_id;
    composer__setup(c, in, st);
    rc = composer__build(c, in, st);
    free(c);
    if (rc) {
        composer_story_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

void composer_story_free(composer_story_t *s)
{
    if (!s) return;
    free(s->text);
    free(s);
}

const char *composer_story_title(const composer_story_t *s)
{
    return s ? s->title : NULL;
}

const char *composer_story_text(const composer_story_t *s)
{
    return s ? s->text : NULL;
}

size_t composer_story_text_len(const composer_story_t *s)
{
    return s ? s->text_len : 0;
}

const composer_plan_t *composer_story_plan(const composer_story_t *s)
{
    return s ? &s->plan : NULL;
}

static bool space(char ch)
{
    return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
}

int composer_stream(const composer_story_t *s, size_t chunk_words,
                    int (*cb)(const char *chunk, size_t len, void *arg), void *arg)
{
    if (!s || !cb || !s->text) return -EINVAL;
    if (chunk_words == 0) chunk_words = 1;
    const char *t = s->text;
    size_t len = s->text_len, start = 0, i = 0;
    while (i < len) {
        size_t words = 0;
        while (i < len && words < chunk_words) {
            while (i < len && space(t[i]))
                i++;
            if (i >= len) break;
            while (i < len && !space(t[i]))
                i++;
            words++;
        }
        while (i < len && space(t[i]))
            i++; /* the chunk carries its trailing whitespace */
        int rc = cb(t + start, i - start, arg);
        if (rc) return rc;
        start = i;
    }
    return 0;
}

#define GEN_STR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

static void gen_strings(yajl_gen g, const char *key, const char *arr, size_t stride, size_t n)
{
    GEN_STR(g, key);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++)
        GEN_STR(g, arr + i * stride);
    yajl_gen_array_close(g);
}

static void gen_plan(yajl_gen g, const composer_story_t *s)
{
    const composer_plan_t *p = &s->plan;
    yajl_gen_map_open(g);
    GEN_STR(g, "title");
    GEN_STR(g, s->title);
    GEN_STR(g, "template");
    GEN_STR(g, composer_template_name(s->tpl));
    GEN_STR(g, "characters");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < p->n_characters; i++) {
        const composer_character_t *c = &p->characters[i];
        yajl_gen_map_open(g);
        const char *kv[][2] = {{"name", c->name},
                               {"kind", c->kind},
                               {"role", c->role},
                               {"looks", c->looks},
                               {"clothes", c->clothes}};
        for (size_t k = 0; k < 5; k++) {
            GEN_STR(g, kv[k][0]);
            GEN_STR(g, kv[k][1]);
        }
        gen_strings(g, "colours", &c->colours[0][0], sizeof c->colours[0], c->n_colours);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    GEN_STR(g, "parts");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < p->n_parts; i++) {
        const composer_part_plan_t *pp = &p->parts[i];
        yajl_gen_map_open(g);
        GEN_STR(g, "number");
        yajl_gen_integer(g, (long long)i + 1);
        GEN_STR(g, "title");
        GEN_STR(g, pp->title);
        GEN_STR(g, "setting");
        GEN_STR(g, pp->setting);
        GEN_STR(g, "characters");
        yajl_gen_array_open(g);
        for (size_t k = 0; k < pp->n_characters; k++)
            GEN_STR(g, p->characters[pp->characters[k]].name);
        yajl_gen_array_close(g);
        gen_strings(g, "objects", &pp->objects[0][0], sizeof pp->objects[0], pp->n_objects);
        gen_strings(g, "sounds", &pp->sounds[0][0], sizeof pp->sounds[0], pp->n_sounds);
        GEN_STR(g, "listener_question");
        GEN_STR(g, pp->listener_question);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    GEN_STR(g, "questions");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < p->n_questions; i++) {
        yajl_gen_map_open(g);
        GEN_STR(g, "question");
        GEN_STR(g, p->questions[i].question);
        GEN_STR(g, "answer");
        GEN_STR(g, p->questions[i].answer);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

int composer_plan_to_json(const composer_story_t *s, buf_t *out)
{
    if (!s || !out) return -EINVAL;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g) return -ENOMEM;
    gen_plan(g, s);
    const unsigned char *data;
    size_t len;
    int rc = yajl_gen_get_buf(g, &data, &len) == yajl_gen_status_ok ? buf_append(out, data, len)
                                                                    : -ENOMEM;
    yajl_gen_free(g);
    return rc;
}
