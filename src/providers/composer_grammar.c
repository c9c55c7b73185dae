/* composer grammar: seeded random numbers and the expansion of the phrase language used by the
 * lexicon ({symbol}, [a|b], [?optional]) into finished sentences. */
#include "providers/composer_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define EXPAND_MAX_DEPTH 14

void composer__copy(char *dst, size_t cap, const char *src)
{
    if (!cap) return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

uint64_t composer__hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t composer__rng_next(composer__rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

size_t composer__rng_below(composer__rng_t *r, size_t n)
{
    if (n == 0) return 0;
    return (size_t)(composer__rng_next(r) % n);
}

static bool is_alpha(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
}

static char up(char ch)
{
    return (char)((ch >= 'a' && ch <= 'z') ? ch - 32 : ch);
}

/* ---- dynamic symbols: characters, places and the quest object ---- */

static const char *const PRON[3][4] = {
    {"she", "her", "her", "was"}, {"he", "him", "his", "was"}, {"they", "them", "their", "were"}};

static int cast_symbol(composer__ctx_t *c, const composer__cast_t *p, const char *field, buf_t *out)
{
    if (field[0] == '\0') return buf_append_str(out, p->name);
    if (!strcmp(field, "k")) return buf_append_str(out, p->kind);
    if (!strcmp(field, "s")) return buf_append_str(out, PRON[p->pron][0]);
    if (!strcmp(field, "o")) return buf_append_str(out, PRON[p->pron][1]);
    if (!strcmp(field, "p")) return buf_append_str(out, PRON[p->pron][2]);
    if (!strcmp(field, "was")) return buf_append_str(out, PRON[p->pron][3]);
    if (!strcmp(field, "coat")) return buf_append_str(out, p->coat);
    if (!strcmp(field, "looks")) return buf_append_str(out, p->looks);
    if (!strcmp(field, "clothes")) return buf_append_str(out, p->clothes);
    if (!strcmp(field, "who")) {
        if (!p->who[0]) return 0;
        int rc = buf_append_str(out, ", ");
        return rc ? rc : buf_append_str(out, p->who);
    }
    if (!strcmp(field, "a")) {
        /* "a brave little dragon": the article is fixed later by composer__tidy. */
        int rc = buf_append_str(out, "a ");
        if (!rc && p->adj[0]) rc = buf_printf(out, "%s ", p->adj);
        return rc ? rc : buf_append_str(out, p->kind);
    }
    (void)c;
    return -ENOENT;
}

static int pick_character(composer__ctx_t *c)
{
    size_t r = composer__rng_below(&c->rng, 100);
    if (c->helper_met && r < 20) return COMPOSER__HELPER;
    return r < 60 ? COMPOSER__HERO : COMPOSER__FRIEND;
}

static int dynamic_symbol(composer__ctx_t *c, const char *name, buf_t *out)
{
    switch (name[0]) {
    case 'P':
        if (!strcmp(name, "Place")) break;
        return cast_symbol(c, &c->cast[COMPOSER__HERO], name + 1, out);
    case 'F':
        return cast_symbol(c, &c->cast[COMPOSER__FRIEND], name + 1, out);
    case 'H':
        return cast_symbol(c, &c->cast[COMPOSER__HELPER], name + 1, out);
    case 'C':
        if (name[1] == '\0') c->cur = pick_character(c);
        return cast_symbol(c, &c->cast[c->cur], name + 1, out);
    case 'O': {
        /* The companion of whoever {C} picked last, so "{C} smiled at {O}" never pairs
         * a character with itself. */
        int o = c->cur == COMPOSER__HERO ? COMPOSER__FRIEND : COMPOSER__HERO;
        return cast_symbol(c, &c->cast[o], name + 1, out);
    }
    default:
        break;
    }
    if (!strcmp(name, "X")) return buf_printf(out, "the %s", c->quest);
    if (!strcmp(name, "Xn")) return buf_append_str(out, c->quest);
    if (!strcmp(name, "Xa"))
        return buf_printf(out, "%s %s", c->quest_plural ? "some" : "a", c->quest);
    if (!strcmp(name, "Xit")) return buf_append_str(out, c->quest_plural ? "them" : "it");
    if (!strcmp(name, "Xwas")) return buf_append_str(out, c->quest_plural ? "were" : "was");
    if (!strcmp(name, "N")) {
        if (!c->n_nouns) return buf_printf(out, "the %s", c->quest);
        return buf_printf(out, "the %s", c->nouns[composer__rng_below(&c->rng, c->n_nouns)]);
    }
    if (!strcmp(name, "place") || !strcmp(name, "Place")) {
        const char *p = c->n_places && !c->at_home ? c->places[c->place_i % c->n_places] : c->home;
        return buf_append_str(out, p);
    }
    if (!strcmp(name, "home")) return buf_append_str(out, c->home);
    if (!strcmp(name, "colour")) {
        size_t n = 0;
        while (composer__colours[n])
            n++;
        if (n == 0) return -ENOENT; /* an empty list is a lexicon defect, like a missing symbol */
        return buf_append_str(out, composer__colours[composer__rng_below(&c->rng, n)]);
    }
    if (!strcmp(name, "topic_place")) return buf_append_str(out, composer__topics[c->topic].place);
    if (!strcmp(name, "topic")) return buf_append_str(out, composer__topics[c->topic].name);
    if (!strcmp(name, "fact")) {
        const char *const *f = composer__topics[c->topic].facts;
        size_t n = 0;
        while (f[n])
            n++;
        if (n == 0) return -ENOENT; /* a topic without facts: nothing to say, never % 0 */
        return buf_append_str(out, f[c->fact_i++ % n]);
    }
    if (!strcmp(name, "SPECIAL")) return buf_append_str(out, c->special ? c->special : "");
    return -ENOENT;
}

/* ---- static symbols from the lexicon ---- */

static size_t collect(const composer__ctx_t *c, const char *name, const char *const **lists,
                      size_t max)
{
    char key[64];
    size_t n = 0;
    for (int tier = 0; tier <= c->tier; tier++) {
        int k = snprintf(key, sizeof key, "%s%s", name, tier == 0 ? "" : tier == 1 ? "+" : "++");
        if (k < 0 || (size_t)k >= sizeof key) return n;
        for (size_t t = 0; t < 2; t++) {
            const composer__symtab_t *tab = c->tabs[t];
            if (!tab) continue;
            for (size_t i = 0; i < tab->n && n < max; i++)
                if (!strcmp(tab->syms[i].name, key)) lists[n++] = tab->syms[i].alts;
        }
    }
    return n;
}

static int expand_range(composer__ctx_t *c, const char *s, size_t len, buf_t *out, int depth);

static int static_symbol(composer__ctx_t *c, const char *name, buf_t *out, int depth)
{
    const char *const *lists[12];
    size_t nl = collect(c, name, lists, 12), total = 0;
    for (size_t i = 0; i < nl; i++)
        for (size_t j = 0; lists[i][j]; j++)
            total++;
    if (total == 0) return -ENOENT;
    size_t pick = composer__rng_below(&c->rng, total);
    for (size_t i = 0; i < nl; i++)
        for (size_t j = 0; lists[i][j]; j++)
            if (pick-- == 0)
                return expand_range(c, lists[i][j], strlen(lists[i][j]), out, depth + 1);
    return -ENOENT;
}

static int symbol(composer__ctx_t *c, const char *name, buf_t *out, int depth)
{
    int rc = dynamic_symbol(c, name, out);
    if (rc != -ENOENT) return rc;
    return static_symbol(c, name, out, depth);
}

/* Finds the ']' matching the '[' at s[0]; returns its offset or len when unbalanced. */
static size_t match_bracket(const char *s, size_t len)
{
    int d = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '[') d++;
        if (s[i] == ']' && --d == 0) return i;
    }
    return len;
}

static int choose(composer__ctx_t *c, const char *s, size_t len, buf_t *out, int depth)
{
    if (len && s[0] == '?') {
        if ((int)composer__rng_below(&c->rng, 100) >= c->clause_pct) return 0;
        return expand_range(c, s + 1, len - 1, out, depth + 1);
    }
    size_t starts[24], ends[24], n = 0, st = 0;
    int d = 0;
    for (size_t i = 0; i <= len && n < 24; i++) {
        if (i < len && s[i] == '[') d++;
        if (i < len && s[i] == ']') d--;
        if (i == len || (s[i] == '|' && d == 0)) {
            starts[n] = st;
            ends[n++] = i;
            st = i + 1;
        }
    }
    size_t k = composer__rng_below(&c->rng, n);
    return expand_range(c, s + starts[k], ends[k] - starts[k], out, depth + 1);
}

static int expand_range(composer__ctx_t *c, const char *s, size_t len, buf_t *out, int depth)
{
    if (depth > EXPAND_MAX_DEPTH) return -ELOOP;
    size_t i = 0;
    while (i < len) {
        int rc = 0;
        if (s[i] == '[') {
            size_t e = match_bracket(s + i, len - i);
            if (e >= len - i) return -EINVAL;
            rc = choose(c, s + i + 1, e - 1, out, depth);
            i += e + 1;
        } else if (s[i] == '{') {
            const char *close = memchr(s + i, '}', len - i);
            char name[40];
            size_t nl = close ? (size_t)(close - (s + i) - 1) : 0;
            if (!close || nl == 0 || nl >= sizeof name) return -EINVAL;
            memcpy(name, s + i + 1, nl);
            name[nl] = '\0';
            rc = symbol(c, name, out, depth);
            i += nl + 2;
        } else {
            size_t j = i;
            while (j < len && s[j] != '[' && s[j] != '{')
                j++;
            rc = buf_append(out, s + i, j - i);
            i = j;
        }
        if (rc) return rc;
    }
    return 0;
}

int composer__expand(composer__ctx_t *c, const char *phrase, buf_t *out)
{
    return expand_range(c, phrase, strlen(phrase), out, 0);
}

/* ---- finishing ---- */

static bool vowel_sound(const char *w)
{
    static const char *const an_exceptions[] = {"hour", "honest", "honour", "heir", NULL};
    static const char *const a_exceptions[] = {"uni",  "use", "usu", "eu",      "one",
                                               "once", "uk",  "ufo", "ukulele", NULL};
    char low[12];
    size_t n = 0;
    while (w[n] && n < sizeof low - 1 && is_alpha((unsigned char)w[n])) {
        low[n] = (char)(w[n] >= 'A' && w[n] <= 'Z' ? w[n] + 32 : w[n]);
        n++;
    }
    low[n] = '\0';
    for (size_t i = 0; an_exceptions[i]; i++)
        if (!strncmp(low, an_exceptions[i], strlen(an_exceptions[i]))) return true;
    for (size_t i = 0; a_exceptions[i]; i++)
        if (!strncmp(low, a_exceptions[i], strlen(a_exceptions[i]))) return false;
    return strchr("aeiou", low[0]) != NULL && low[0];
}

void composer__tidy(char *s, size_t cap)
{
    /* Pass 1: collapse runs of spaces, drop spaces before punctuation and doubled commas. */
    size_t w = 0;
    for (size_t r = 0; s[r]; r++) {
        char ch = s[r];
        if (ch == ' ' && (w == 0 || s[w - 1] == ' ' || s[w - 1] == '\n')) continue;
        if ((ch == ',' || ch == '.' || ch == '!' || ch == '?' || ch == ';' || ch == ':') && w > 0 &&
            s[w - 1] == ' ')
            w--;
        if (ch == ',' && w > 0 && (s[w - 1] == ',' || s[w - 1] == '.')) continue;
        s[w++] = ch;
    }
    while (w > 0 && s[w - 1] == ' ')
        w--;
    s[w] = '\0';
    /* Pass 2: "a"/"an" agree with the next word. "a" may become "an", so rebuild from a copy
     * and never write past cap. */
    char tmp[2048];
    size_t n = strlen(s);
    if (n >= sizeof tmp) return;
    memcpy(tmp, s, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        bool start = i == 0 || !is_alpha((unsigned char)tmp[i - 1]);
        if (start && (tmp[i] == 'a' || tmp[i] == 'A')) {
            bool is_an = tmp[i + 1] == 'n' && tmp[i + 2] == ' ';
            bool is_a = tmp[i + 1] == ' ';
            if (is_a || is_an) {
                const char *next = tmp + i + (is_an ? 3 : 2);
                if (is_alpha((unsigned char)next[0])) {
                    bool v = vowel_sound(next);
                    if (o + 4 >= cap) break;
                    s[o++] = tmp[i];
                    if (v) s[o++] = 'n';
                    s[o++] = ' ';
                    i = (size_t)(next - tmp);
                    continue;
                }
            }
        }
        if (o + 1 >= cap) break;
        s[o++] = tmp[i++];
    }
    s[o] = '\0';
}

int composer__sentence(composer__ctx_t *c, const char *sym, buf_t *out)
{
    buf_t tmp;
    buf_init(&tmp, 1800);
    int rc = symbol(c, sym, &tmp, 0);
    if (rc || !tmp.data) {
        buf_free(&tmp);
        return rc ? rc : -ENOENT;
    }
    /* composer__tidy may add an "n" to "a", so leave room in a larger copy. */
    char s[2048];
    size_t n = tmp.len < 1800 ? tmp.len : 1799;
    memcpy(s, tmp.data, n);
    s[n] = '\0';
    buf_free(&tmp);
    composer__tidy(s, sizeof s);
    n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (is_alpha((unsigned char)s[i])) {
            s[i] = up(s[i]);
            break;
        }
    if (n && !strchr(".!?\"", s[n - 1]) && n + 1 < sizeof s) {
        s[n++] = '.';
        s[n] = '\0';
    }
    return buf_append(out, s, n);
}

size_t composer__count_words(const char *s, size_t len)
{
    size_t n = 0;
    bool in = false;
    for (size_t i = 0; i < len; i++) {
        bool sp = s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r';
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

void composer__titlecase(char *s)
{
    static const char *const small[] = {"a",  "an", "the", "and",  "of",   "in", "on",
                                        "to", "at", "for", "with", "from", "by", NULL};
    bool first = true;
    for (char *p = s; *p;) {
        while (*p && !is_alpha((unsigned char)*p))
            p++;
        char *w = p;
        while (*p && (is_alpha((unsigned char)*p) || *p == '\'' || *p == '-'))
            p++;
        size_t wl = (size_t)(p - w);
        if (!wl) break;
        bool is_small = false;
        for (size_t i = 0; small[i]; i++)
            if (strlen(small[i]) == wl && !strncmp(w, small[i], wl)) is_small = true;
        if (first || !is_small) w[0] = up(w[0]);
        first = false;
    }
}
