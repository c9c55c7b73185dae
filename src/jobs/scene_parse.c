/* scene_parse: story parts and scene prompts (see scene_parse.h). */
#include "jobs/scene_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

#define SP__TITLE_MAX 80

typedef struct {
    const char *s; /* line start */
    size_t len;    /* without the line break */
} sp__line_t;

typedef struct {
    int number;
    buf_t title, body;
} sp__part_t;

static const char *const sp__words[] = {"one",     "two",       "three",    "four",     "five",
                                        "six",     "seven",     "eight",    "nine",     "ten",
                                        "eleven",  "twelve",    "thirteen", "fourteen", "fifteen",
                                        "sixteen", "seventeen", "eighteen", "nineteen", "twenty"};

static size_t sp__skip_spaces(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* Strips markdown decoration around a heading: leading #'s, bold/italic markers, and the same
 * at the end. Returns the inner span. */
static void sp__strip(const char *s, size_t n, size_t *b, size_t *e, bool *decorated)
{
    size_t i = sp__skip_spaces(s, 0, n), j = n;
    *decorated = false;
    size_t h = i;
    while (h < n && s[h] == '#' && h - i < 6)
        h++;
    if (h > i && h < n && (s[h] == ' ' || s[h] == '\t')) {
        i = sp__skip_spaces(s, h, n);
        *decorated = true;
    }
    while (i < n && (s[i] == '*' || s[i] == '_')) {
        i++;
        *decorated = true;
    }
    while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t' || s[j - 1] == '#'))
        j--;
    while (j > i && (s[j - 1] == '*' || s[j - 1] == '_'))
        j--;
    while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t'))
        j--;
    *b = i;
    *e = j;
}

/* The title after a number: separators, bold markers and spaces skipped. */
static void sp__title(const char *s, size_t i, size_t e, size_t *tb, size_t *te)
{
    while (i < e && (s[i] == '*' || s[i] == '_' || s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < e && strchr(":.-)", s[i]))
        i++;
    else if (i + 2 < e && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
             ((unsigned char)s[i + 2] == 0x93 || (unsigned char)s[i + 2] == 0x94))
        i += 3; /* en and em dash */
    while (i < e && (s[i] == '*' || s[i] == '_' || s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t j = e;
    while (j > i && (s[j - 1] == '*' || s[j - 1] == '_' || s[j - 1] == ' '))
        j--;
    *tb = i;
    *te = j;
}

static bool sp__sep_at(const char *s, size_t i, size_t e)
{
    while (i < e && (s[i] == '*' || s[i] == '_' || s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= e) return true;
    if (strchr(":.-)", s[i])) return true;
    return i + 2 < e && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
           ((unsigned char)s[i + 2] == 0x93 || (unsigned char)s[i + 2] == 0x94);
}

/* "Part N ..." headings. Returns the number (> 0) or 0. */
static int sp__heading_kw(const char *s, size_t n, size_t *tb, size_t *te)
{
    size_t b, e;
    bool deco;
    sp__strip(s, n, &b, &e, &deco);
    static const char *const kws[] = {"part", "chapter", "scene"};
    size_t i = b;
    size_t k;
    for (k = 0; k < 3; k++) {
        size_t l = strlen(kws[k]);
        if (e - b > l && strncasecmp(s + b, kws[k], l) == 0 &&
            (s[b + l] == ' ' || s[b + l] == '\t')) {
            i = b + l;
            break;
        }
    }
    if (k == 3) return 0;
    i = sp__skip_spaces(s, i, e);
    int num = 0;
    size_t d = i;
    while (d < e && isdigit((unsigned char)s[d]) && d - i < 4)
        num = num * 10 + (s[d++] - '0');
    if (d == i) {
        for (size_t w = 0; w < sizeof sp__words / sizeof sp__words[0]; w++) {
            size_t l = strlen(sp__words[w]);
            if (e - i >= l && strncasecmp(s + i, sp__words[w], l) == 0 &&
                (i + l == e || !isalpha((unsigned char)s[i + l]))) {
                num = (int)w + 1;
                d = i + l;
                break;
            }
        }
        if (d == i) return 0;
    } else if (d < e && isdigit((unsigned char)s[d])) {
        return 0;
    }
    /* A plain line needs a separator or nothing after the number ("Part 2 of the trip began"
     * is prose); a markdown or bold heading may carry its title after a space. */
    if (!deco && !sp__sep_at(s, d, e)) return 0;
    sp__title(s, d, e, tb, te);
    if (*te - *tb > 200) return 0;
    return num > 0 ? num : 0;
}

/* "N. Title" numbered sections. Returns the number or 0. */
static int sp__heading_num(const char *s, size_t n, size_t *tb, size_t *te)
{
    size_t b, e;
    bool deco;
    sp__strip(s, n, &b, &e, &deco);
    size_t d = b;
    int num = 0;
    while (d < e && isdigit((unsigned char)s[d]) && d - b < 3)
        num = num * 10 + (s[d++] - '0');
    if (d == b || d >= e || !strchr(".):", s[d])) return 0;
    d++;
    if (d < e && s[d] != ' ' && s[d] != '*') return 0;
    sp__title(s, d, e, tb, te);
    if (*te <= *tb || *te - *tb > SP__TITLE_MAX) return 0;
    return num;
}

static bool sp__blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) return false;
    return true;
}

/* Appends a line to a body, keeping inner blank lines but none at the start. */
static void sp__body_add(buf_t *body, const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (body->len == 0 && sp__blank(s, n)) return;
    if (body->len) buf_append(body, "\n", 1);
    buf_append(body, s, n);
}

static void sp__body_trim(buf_t *body)
{
    while (body->len && isspace((unsigned char)body->data[body->len - 1]))
        body->len--;
    if (body->data) body->data[body->len] = '\0';
}

static char *sp__dup(const buf_t *b)
{
    char *s = malloc(b->len + 1);
    if (!s) return NULL;
    if (b->len) memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}

static int sp__cmp(const void *a, const void *b)
{
    const sp__part_t *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

void scene_parts_free(scene_parts_t *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->parts[i].title);
        free(p->parts[i].text);
    }
    free(p->parts);
    p->parts = NULL;
    p->n = 0;
}

/* Splits text without headings into up to max parts at paragraph breaks. */
static size_t sp__paragraphs(const sp__line_t *lines, size_t nl, size_t total, int max,
                             sp__part_t *parts)
{
    size_t np = 0, target = total / (size_t)max + 1, acc = 0;
    bool in_par = false;
    for (size_t i = 0; i < nl; i++) {
        bool blank = sp__blank(lines[i].s, lines[i].len);
        if (blank) {
            in_par = false;
            continue;
        }
        if (!in_par && (np == 0 || (acc >= target && (int)np < max))) {
            parts[np].number = (int)np + 1;
            np++;
            acc = 0;
        } else if (!in_par) {
            buf_append(&parts[np - 1].body, "\n", 1); /* keep the paragraph break */
        }
        in_par = true;
        sp__body_add(&parts[np - 1].body, lines[i].s, lines[i].len);
        acc += lines[i].len;
    }
    return np;
}

int scene_parse(const char *text, size_t len, int max_parts, scene_parts_t *out)
{
    out->parts = NULL;
    out->n = 0;
    if (!text || max_parts < 1 || max_parts > SCENE_PARSE_MAX_PARTS) return -EINVAL;
    /* Lines. */
    size_t cap = 16, nl = 0;
    sp__line_t *lines = malloc(cap * sizeof *lines);
    if (!lines) return -ENOMEM;
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && text[j] != '\n' && text[j] != '\r')
            j++;
        if (nl == cap) {
            sp__line_t *p = realloc(lines, 2 * cap * sizeof *lines);
            if (!p) {
                free(lines);
                return -ENOMEM;
            }
            lines = p;
            cap *= 2;
        }
        lines[nl].s = text + i;
        lines[nl].len = j - i;
        nl++;
        if (j >= len) break;
        if (text[j] == '\r' && j + 1 < len && text[j + 1] == '\n') j++;
        i = j + 1;
    }
    /* Which kind of heading does the story use? */
    int kind = 0; /* 1 = Part/Chapter/Scene, 2 = numbered sections */
    size_t tb, te;
    for (size_t i = 0; i < nl && !kind; i++)
        if (sp__heading_kw(lines[i].s, lines[i].len, &tb, &te)) kind = 1;
    if (!kind) {
        /* Numbered sections must have a body, so a list of numbered sentences is not split. */
        int sections = 0;
        for (size_t i = 0; i < nl; i++) {
            if (!sp__heading_num(lines[i].s, lines[i].len, &tb, &te)) continue;
            size_t k = i + 1;
            while (k < nl && sp__blank(lines[k].s, lines[k].len))
                k++;
            if (k < nl && !sp__heading_num(lines[k].s, lines[k].len, &tb, &te)) sections++;
        }
        if (sections >= 2) kind = 2;
    }
    sp__part_t *parts = calloc(nl + 1, sizeof *parts);
    if (!parts) {
        free(lines);
        return -ENOMEM;
    }
    for (size_t i = 0; i <= nl; i++) {
        buf_init(&parts[i].title, 1024);
        buf_init(&parts[i].body, (size_t)1 << 26);
    }
    size_t np = 0, total = 0;
    for (size_t i = 0; i < nl; i++)
        total += lines[i].len;
    if (kind == 0) {
        np = sp__paragraphs(lines, nl, total, max_parts, parts);
    } else {
        buf_t pre;
        buf_init(&pre, (size_t)1 << 26);
        int pre_lines = 0;
        sp__part_t *cur = NULL;
        for (size_t i = 0; i < nl; i++) {
            int num = kind == 1 ? sp__heading_kw(lines[i].s, lines[i].len, &tb, &te)
                                : sp__heading_num(lines[i].s, lines[i].len, &tb, &te);
            if (num > 0) {
                cur = NULL;
                for (size_t k = 0; k < np; k++)
                    if (parts[k].number == num) cur = &parts[k]; /* merged with its twin */
                if (cur) {
                    /* The twin's lines follow after a blank line (its title, if any, first). */
                    if (te > tb) {
                        if (cur->body.len) buf_append(&cur->body, "\n\n", 2);
                        buf_append(&cur->body, lines[i].s + tb, te - tb);
                    } else if (cur->body.len) {
                        buf_append(&cur->body, "\n", 1);
                    }
                } else {
                    cur = &parts[np++];
                    cur->number = num;
                    buf_append(&cur->title, lines[i].s + tb, te - tb);
                }
                continue;
            }
            if (cur) {
                sp__body_add(&cur->body, lines[i].s, lines[i].len);
            } else if (!sp__blank(lines[i].s, lines[i].len)) {
                pre_lines++;
                sp__body_add(&pre, lines[i].s, lines[i].len);
            }
        }
        /* A preamble of several lines is story text: it opens the first part. */
        if (pre_lines > 1 && np > 0) {
            sp__body_trim(&pre);
            buf_t merged;
            buf_init(&merged, (size_t)1 << 26);
            buf_append(&merged, pre.data, pre.len);
            if (parts[0].body.len) {
                buf_append(&merged, "\n\n", 2);
                buf_append(&merged, parts[0].body.data, parts[0].body.len);
            }
            buf_free(&parts[0].body);
            parts[0].body = merged;
        }
        buf_free(&pre);
    }
    free(lines);
    /* Drop empty parts, order by number (renumber when a number is out of range). */
    size_t k = 0;
    bool renumber = false;
    for (size_t i = 0; i < np; i++) {
        sp__body_trim(&parts[i].body);
        if (parts[i].body.len == 0 && parts[i].title.len == 0) {
            buf_free(&parts[i].title);
            buf_free(&parts[i].body);
            continue;
        }
        if (parts[i].number < 1 || parts[i].number > 1000) renumber = true;
        if (k != i) {
            parts[k] = parts[i];
            buf_init(&parts[i].title, 1);
            buf_init(&parts[i].body, 1);
        }
        k++;
    }
    np = k;
    if (renumber)
        for (size_t i = 0; i < np; i++)
            parts[i].number = (int)i + 1;
    else
        qsort(parts, np, sizeof *parts, sp__cmp);
    /* Cap: what is past the last kept part is appended to it. */
    while (np > (size_t)max_parts) {
        sp__part_t *x = &parts[np - 1];
        sp__part_t *into = &parts[np - 2];
        buf_append(&into->body, "\n\n", 2);
        if (x->title.len) {
            buf_append(&into->body, x->title.data, x->title.len);
            buf_append(&into->body, "\n", 1);
        }
        buf_append(&into->body, x->body.data ? x->body.data : "", x->body.len);
        buf_free(&x->title);
        buf_free(&x->body);
        np--;
    }
    int rc = 0;
    if (np > 0) {
        out->parts = calloc(np, sizeof *out->parts);
        if (!out->parts) rc = -ENOMEM;
    }
    for (size_t i = 0; i < np && rc == 0; i++) {
        out->parts[i].number = parts[i].number;
        out->parts[i].title = sp__dup(&parts[i].title);
        out->parts[i].text = sp__dup(parts[i].body.len ? &parts[i].body : &parts[i].title);
        out->n = i + 1;
        if (!out->parts[i].title || !out->parts[i].text) rc = -ENOMEM;
    }
    for (size_t i = 0; i <= nl; i++) {
        buf_free(&parts[i].title);
        buf_free(&parts[i].body);
    }
    free(parts);
    if (rc != 0) scene_parts_free(out);
    return rc;
}

/* ---- prompts --------------------------------------------------------------------------------- */

size_t scene_prompt_limit(const char *provider_name, const char *model)
{
    (void)model;
    /* Titan Image Generator and Nova Canvas take 512 characters, the smallest of the Bedrock
     * chain; the offline illustrator reads keywords from up to 1000. */
    if (provider_name && strcmp(provider_name, "bedrock") == 0) return 512;
    return 1000;
}

const char *scene_negative_prompt(void)
{
    return "violence, blood, gore, weapons, frightening, horror, injury, nudity, text, letters, "
           "watermark, signature";
}

static const char *sp__mood(const char *t)
{
    if (!t) return "bright and adventurous";
    if (strcmp(t, "fantasy") == 0) return "magical and whimsical, soft glowing colours";
    if (strcmp(t, "sci-fi") == 0) return "friendly and futuristic, playful robots and stars";
    if (strcmp(t, "mystery") == 0) return "curious and cosy, gentle light, never scary";
    if (strcmp(t, "educational") == 0) return "clear, cheerful and informative";
    return "bright and adventurous";
}

/* Words a picture prompt for young children should not carry, with softer stand-ins. */
static const char *const sp__soften[][2] = {
    {"blood", "red"},      {"bloody", "messy"},     {"kill", "stop"},
    {"killed", "stopped"}, {"kills", "stops"},      {"dead", "sleeping"},
    {"die", "rest"},       {"died", "rested"},      {"gun", "toy"},
    {"guns", "toys"},      {"knife", "spoon"},      {"weapon", "tool"},
    {"weapons", "tools"},  {"scary", "surprising"}, {"terrifying", "surprising"},
    {"horror", "wonder"},  {"monster", "creature"}, {"monsters", "creatures"},
    {"fight", "game"},     {"fighting", "playing"}, {"war", "parade"},
};

/* Cleans text into out: markdown removed, whitespace collapsed, unsafe words softened. */
static void sp__clean(const char *s, buf_t *out)
{
    bool space = false;
    for (size_t i = 0; s && s[i];) {
        unsigned char c = (unsigned char)s[i];
        if (c == '*' || c == '_' || c == '#' || c == '`' || c == '>' || c == '[' || c == ']') {
            i++;
            continue;
        }
        if (isspace(c)) {
            space = out->len > 0;
            i++;
            continue;
        }
        if (space) buf_append(out, " ", 1), space = false;
        if (isalpha(c) && (i == 0 || !isalpha((unsigned char)s[i - 1]))) {
            size_t j = i;
            while (isalpha((unsigned char)s[j]))
                j++;
            const char *rep = NULL;
            for (size_t k = 0; k < sizeof sp__soften / sizeof sp__soften[0]; k++)
                if (strlen(sp__soften[k][0]) == j - i &&
                    strncasecmp(s + i, sp__soften[k][0], j - i) == 0)
                    rep = sp__soften[k][1];
            if (rep)
                buf_append_str(out, rep);
            else
                buf_append(out, s + i, j - i);
            i = j;
            continue;
        }
        buf_append(out, s + i, 1);
        i++;
    }
}

/* Length of the longest prefix of s (n bytes) within max bytes, ending at a word boundary (or
 * a UTF-8 boundary when one word is longer). */
static size_t sp__cut(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t i = max;
    while (i > 0 && s[i] != ' ')
        i--;
    if (i > max / 2) return i;
    i = max;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

int scene_prompt_build(const char *template_name, const char *title, const char *text, size_t limit,
                       char *out, size_t cap)
{
    if (!out || cap < 2 || limit < SCENE_PROMPT_MIN) return -EINVAL;
    if (limit > cap - 1) limit = cap - 1;
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "A gentle, colourful children's picture-book illustration, friendly and "
                      "safe for young children, %s. Scene: ",
                      sp__mood(template_name));
    static const char tail[] = ". No words or letters in the picture.";
    buf_t body;
    buf_init(&body, 1 << 20);
    buf_t t;
    buf_init(&t, 1 << 20);
    if (title && *title) {
        sp__clean(title, &t);
        buf_append(&body, t.data ? t.data : "", t.len);
        if (t.len) buf_append(&body, ": ", 2);
    }
    buf_free(&t);
    buf_init(&t, 1 << 20);
    sp__clean(text ? text : "", &t);
    buf_append(&body, t.data ? t.data : "", t.len);
    buf_free(&t);
    while (body.len && (body.data[body.len - 1] == '.' || body.data[body.len - 1] == ' '))
        body.len--;
    size_t fixed = (size_t)hn + sizeof tail - 1;
    size_t room = limit > fixed ? limit - fixed : 0;
    size_t keep = sp__cut(body.data ? body.data : "", body.len, room);
    int n = snprintf(out, cap, "%s%.*s%s", head, (int)keep, body.data ? body.data : "", tail);
    buf_free(&body);
    return n < 0 ? -EINVAL : (int)strlen(out);
}

int scene_prompt_compose(const scene_prompt_t *p, size_t limit, char *out, size_t cap)
{
    if (!p || !out || cap < 2 || limit < SCENE_PROMPT_MIN) return -EINVAL;
    if (!p->style && !(p->characters && *p->characters) && !p->softened)
        return scene_prompt_build(p->template_name, p->title, p->text, limit, out, cap);
    if (limit > cap - 1) limit = cap - 1;
    static const char tail[] = ". No words or letters in the picture.";
    buf_t head, chars, body, t;
    buf_init(&head, 1 << 16);
    buf_init(&chars, 1 << 16);
    buf_init(&body, 1 << 20);
    if (p->style)
        buf_printf(&head, "%s, %s. ", p->style, sp__mood(p->template_name));
    else
        buf_printf(&head,
                   "A gentle, colourful children's picture-book illustration, friendly and safe "
                   "for young children, %s. ",
                   sp__mood(p->template_name));
    if (p->characters && *p->characters) {
        buf_init(&t, 1 << 16);
        sp__clean(p->characters, &t);
        buf_printf(&chars, "Characters: %.*s. ", (int)t.len, t.data ? t.data : "");
        buf_free(&t);
    }
    buf_append_str(&body, "Scene: ");
    if (p->title && *p->title) {
        buf_init(&t, 1 << 16);
        sp__clean(p->title, &t);
        buf_append(&body, t.data ? t.data : "", t.len);
        buf_free(&t);
    }
    if (p->softened) {
        buf_append_str(&body, body.len > 7 ? ", a calm and happy moment together"
                                           : "a calm and happy moment together");
    } else {
        if (p->title && *p->title && body.len > 7) buf_append_str(&body, ": ");
        buf_init(&t, 1 << 20);
        sp__clean(p->text ? p->text : "", &t);
        buf_append(&body, t.data ? t.data : "", t.len);
        buf_free(&t);
    }
    while (body.len && (body.data[body.len - 1] == '.' || body.data[body.len - 1] == ' '))
        body.len--;
    size_t fixed = head.len + sizeof tail - 1;
    if (fixed + 40 > limit) {
        /* A model with a very short prompt: the plain frame leaves the scene more room. */
        buf_free(&head);
        buf_free(&chars);
        buf_free(&body);
        return scene_prompt_build(p->template_name, p->title, p->text, limit, out, cap);
    }
    size_t room = limit - fixed;
    /* The characters keep at most about half the room, cut at a word boundary: the scene needs
     * the rest. */
    size_t ckeep = sp__cut(chars.data ? chars.data : "", chars.len, room / 2 + room / 8);
    size_t bkeep = sp__cut(body.data ? body.data : "", body.len, room - ckeep);
    int n =
        snprintf(out, cap, "%.*s%.*s%.*s%s", (int)head.len, head.data ? head.data : "", (int)ckeep,
                 chars.data ? chars.data : "", (int)bkeep, body.data ? body.data : "", tail);
    buf_free(&head);
    buf_free(&chars);
    buf_free(&body);
    return n < 0 ? -EINVAL : (int)strlen(out);
}
