/* story_sheet: parsing and writing the character sheet and questions (see story_sheet.h). */
#include "providers/story_sheet.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/json.h"

/* Copies a model-written string: control bytes become spaces, runs of spaces collapse, the cut
 * lands on a UTF-8 boundary. */
static void sheet__copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p && n + 1 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == ' ') {
            space = n > 0;
            continue;
        }
        if (space) {
            if (n + 2 >= cap) break;
            dst[n++] = ' ';
            space = false;
        }
        dst[n++] = (char)*p;
    }
    /* Do not end inside a multi-byte character. */
    size_t k = n;
    while (k > 0 && ((unsigned char)dst[k - 1] & 0xC0) == 0x80)
        k--;
    if (k > 0 && ((unsigned char)dst[k - 1] & 0x80)) {
        unsigned char lead = (unsigned char)dst[k - 1];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (n - (k - 1) < want) n = k - 1;
    }
    dst[n] = '\0';
}

static const char *sheet__str(yajl_val o, const char *a, const char *b)
{
    const char *v = json_get_str(o, a);
    if (!v && b) v = json_get_str(o, b);
    return v;
}

static void sheet__colours(yajl_val o, sheet_character_t *c)
{
    yajl_val v = json_get(o, "colours");
    if (!v) v = json_get(o, "colors");
    if (!v) return;
    if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len && c->n_colours < 3; i++) {
            yajl_val e = v->u.array.values[i];
            if (!YAJL_IS_STRING(e) || !*YAJL_GET_STRING(e)) continue;
            sheet__copy(c->colours[c->n_colours], sizeof c->colours[0], YAJL_GET_STRING(e));
            if (c->colours[c->n_colours][0]) c->n_colours++;
        }
        return;
    }
    if (!YAJL_IS_STRING(v)) return;
    /* "orange, green and white": " and " separates like a comma. */
    char list[256];
    snprintf(list, sizeof list, "%s", YAJL_GET_STRING(v));
    for (char *a; (a = strcasestr(list, " and ")) != NULL;)
        memcpy(a, " ,   ", 5);
    const char *s = list;
    while (*s && c->n_colours < 3) {
        while (*s == ',' || *s == ' ' || *s == ';')
            s++;
        size_t n = strcspn(s, ",;");
        if (n == 0) break;
        while (n > 0 && s[n - 1] == ' ')
            n--;
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(n < 63 ? n : 63), s);
        for (size_t k = strlen(tmp); k > 0 && tmp[k - 1] == ' '; k--)
            tmp[k - 1] = '\0';
        sheet__copy(c->colours[c->n_colours], sizeof c->colours[0], tmp);
        if (c->colours[c->n_colours][0]) c->n_colours++;
        s += n;
    }
}

static void sheet__characters(yajl_val arr, story_sheet_t *out)
{
    for (size_t i = 0; arr && YAJL_IS_ARRAY(arr) && i < arr->u.array.len; i++) {
        if (out->n_characters >= SHEET_MAX_CHARACTERS) break;
        yajl_val o = arr->u.array.values[i];
        if (!YAJL_IS_OBJECT(o)) continue;
        sheet_character_t *c = &out->characters[out->n_characters];
        memset(c, 0, sizeof *c);
        sheet__copy(c->name, sizeof c->name, sheet__str(o, "name", NULL));
        if (!c->name[0]) continue;
        bool dup = false;
        for (size_t k = 0; k < out->n_characters; k++)
            if (strcasecmp(out->characters[k].name, c->name) == 0) dup = true;
        if (dup) continue;
        sheet__copy(c->kind, sizeof c->kind, sheet__str(o, "kind", "species"));
        sheet__copy(c->role, sizeof c->role, sheet__str(o, "role", NULL));
        sheet__copy(c->looks, sizeof c->looks, sheet__str(o, "looks", "appearance"));
        sheet__copy(c->clothes, sizeof c->clothes, sheet__str(o, "clothes", "clothing"));
        sheet__colours(o, c);
        out->n_characters++;
    }
}

static void sheet__questions(yajl_val arr, story_sheet_t *out)
{
    for (size_t i = 0; arr && YAJL_IS_ARRAY(arr) && i < arr->u.array.len; i++) {
        if (out->n_questions >= SHEET_MAX_QUESTIONS) break;
        yajl_val o = arr->u.array.values[i];
        if (!YAJL_IS_OBJECT(o)) continue;
        sheet_question_t *q = &out->questions[out->n_questions];
        sheet__copy(q->question, sizeof q->question, sheet__str(o, "question", "q"));
        sheet__copy(q->answer, sizeof q->answer, sheet__str(o, "answer", "a"));
        if (q->question[0] && q->answer[0]) out->n_questions++;
    }
}

int story_sheet_parse(const char *text, size_t len, story_sheet_t *out)
{
    memset(out, 0, sizeof *out);
    if (!text) return -EINVAL;
    const char *open = memchr(text, '{', len);
    const char *close = NULL;
    for (size_t i = len; i > 0; i--)
        if (text[i - 1] == '}') {
            close = text + i - 1;
            break;
        }
    if (!open || !close || close < open) return -EINVAL;
    arena_t a;
    arena_init(&a);
    char err[128];
    yajl_val doc = json_parse(&a, open, (size_t)(close - open + 1), 16, err, sizeof err);
    if (!doc || !YAJL_IS_OBJECT(doc)) {
        arena_free(&a);
        return -EINVAL;
    }
    sheet__characters(json_get(doc, "characters"), out);
    sheet__questions(json_get(doc, "questions"), out);
    arena_free(&a);
    return 0;
}

int story_sheet_parse_characters(const char *json, size_t len, story_sheet_t *out)
{
    memset(out, 0, sizeof *out);
    if (!json || !len) return -EINVAL;
    arena_t a;
    arena_init(&a);
    char err[128];
    yajl_val doc = json_parse(&a, json, len, 16, err, sizeof err);
    if (!doc || !YAJL_IS_ARRAY(doc)) {
        arena_free(&a);
        return -EINVAL;
    }
    sheet__characters(doc, out);
    arena_free(&a);
    return 0;
}

void story_sheet_characters_json(const story_sheet_t *s, yajl_gen g)
{
    yajl_gen_array_open(g);
    for (size_t i = 0; i < s->n_characters; i++) {
        const sheet_character_t *c = &s->characters[i];
        yajl_gen_map_open(g);
        json_kv_str(g, "name", c->name);
        json_kv_str(g, "kind", c->kind);
        json_kv_str(g, "role", c->role);
        json_kv_str(g, "looks", c->looks);
        json_kv_str(g, "clothes", c->clothes);
        json_key(g, "colours");
        yajl_gen_array_open(g);
        for (size_t k = 0; k < c->n_colours; k++)
            json_str(g, c->colours[k]);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

void story_sheet_questions_json(const story_sheet_t *s, yajl_gen g)
{
    yajl_gen_array_open(g);
    for (size_t i = 0; i < s->n_questions; i++) {
        yajl_gen_map_open(g);
        json_kv_str(g, "question", s->questions[i].question);
        json_kv_str(g, "answer", s->questions[i].answer);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

/* True when name occurs in text as a whole word, ignoring ASCII case. */
static bool sheet__has_word(const char *text, const char *name)
{
    size_t n = strlen(name);
    if (!n) return false;
    for (const char *p = text; (p = strcasestr(p, name)) != NULL; p++) {
        bool left = p == text || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[n]);
        if (left && right) return true;
    }
    return false;
}

int story_sheet_find_in(const story_sheet_t *s, const char *text, size_t from)
{
    for (size_t i = from; text && i < s->n_characters; i++) {
        if (sheet__has_word(text, s->characters[i].name)) return (int)i;
        /* "Captain Pip" is found as "Pip" too: the last word of a name is how stories refer
         * to a character after the first mention. */
        const char *sp = strrchr(s->characters[i].name, ' ');
        if (sp && strlen(sp + 1) >= 3 && sheet__has_word(text, sp + 1)) return (int)i;
    }
    return -1;
}

size_t story_sheet_entry(const sheet_character_t *c, char *out, size_t cap)
{
    if (!cap) return 0;
    char colours[96] = "";
    size_t cl = 0;
    for (size_t k = 0; k < c->n_colours && cl < sizeof colours; k++)
        cl += (size_t)snprintf(colours + cl, sizeof colours - cl, "%s%s",
                               k == 0                  ? ""
                               : k + 1 == c->n_colours ? " and "
                                                       : ", ",
                               c->colours[k]);
    int n = snprintf(out, cap, "%s the %s (%s%s%s%s%s%s)", c->name, c->kind[0] ? c->kind : "child",
                     c->looks, c->looks[0] && c->clothes[0] ? "; " : "", c->clothes,
                     (c->looks[0] || c->clothes[0]) && colours[0] ? "; " : "",
                     colours[0] ? "colours " : "", colours);
    if (n < 0) return 0;
    /* An entry without any detail drops its empty brackets. */
    size_t len = (size_t)n < cap ? (size_t)n : cap - 1;
    if (len >= 3 && strcmp(out + len - 3, " ()") == 0) out[len -= 3] = '\0';
    return len;
}
