/* Text normalisation and tokenizing for the screen. A word is a run of letters, digits and the
 * symbols that stand in for letters (@, $), with apostrophes and '*' allowed inside. Each word
 * gets a plain form (case and accents folded, Cyrillic look-alikes and full-width letters mapped
 * to ASCII, zero-width characters dropped, runs of one letter cut to three) and, when it looks
 * obfuscated, extra forms: leetspeak undone, stars removed, and spaced-out single letters
 * ("k i l l", "k.i.l.l") joined. Word boundaries are where the text has anything else, so
 * "Scunthorpe" is one word and never matches a shorter entry. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "safety/safety_int.h"

enum { CP_SEP, CP_WORD, CP_IGNORE, CP_APOS, CP_STAR };

/* Latin-1 letters U+00C0..U+00FF folded to ASCII ("" = not a letter). */
static const char *const LATIN1[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y"};

/* Latin Extended-A U+0100..U+017F, by ranges. */
static const struct {
    uint16_t lo, hi;
    const char *to;
} LATIN_EXT_A[] = {
    {0x100, 0x105, "a"}, {0x106, 0x10D, "c"},  {0x10E, 0x111, "d"}, {0x112, 0x11B, "e"},
    {0x11C, 0x123, "g"}, {0x124, 0x127, "h"},  {0x128, 0x131, "i"}, {0x132, 0x133, "ij"},
    {0x134, 0x135, "j"}, {0x136, 0x138, "k"},  {0x139, 0x142, "l"}, {0x143, 0x14B, "n"},
    {0x14C, 0x151, "o"}, {0x152, 0x153, "oe"}, {0x154, 0x159, "r"}, {0x15A, 0x161, "s"},
    {0x162, 0x167, "t"}, {0x168, 0x173, "u"},  {0x174, 0x175, "w"}, {0x176, 0x178, "y"},
    {0x179, 0x17E, "z"}, {0x17F, 0x17F, "s"},
};

/* Cyrillic letters that look like Latin ones, used to disguise words. */
static const struct {
    uint16_t cp;
    char to;
} CYRILLIC[] = {
    {0x410, 'a'}, {0x412, 'b'}, {0x415, 'e'}, {0x41A, 'k'}, {0x41C, 'm'}, {0x41D, 'h'},
    {0x41E, 'o'}, {0x420, 'p'}, {0x421, 'c'}, {0x422, 't'}, {0x425, 'x'}, {0x430, 'a'},
    {0x435, 'e'}, {0x43E, 'o'}, {0x440, 'p'}, {0x441, 'c'}, {0x443, 'y'}, {0x445, 'x'},
    {0x455, 's'}, {0x456, 'i'}, {0x458, 'j'},
};

/* Decodes one code point at s[i]; invalid or truncated sequences give UINT32_MAX, length 1. */
static size_t sf_decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = UINT32_MAX;
        return 1;
    }
    if (i + n > len) {
        *cp = UINT32_MAX;
        return 1;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80) {
            *cp = UINT32_MAX;
            return 1;
        }
        v = (v << 6) | (s[i + k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = UINT32_MAX;
        return 1;
    }
    *cp = v;
    return n;
}

/* Classifies a code point; for CP_WORD writes its folded ASCII (1-2 chars, '#' for letters of
 * other scripts, which never match) and whether it is an upper-case letter. */
static int sf_classify(uint32_t cp, char fold[3], bool *upper)
{
    *upper = false;
    fold[0] = fold[1] = fold[2] = '\0';
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z') {
            fold[0] = (char)(cp + 32);
            *upper = true;
            return CP_WORD;
        }
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '@' || cp == '$') {
            fold[0] = (char)cp;
            return CP_WORD;
        }
        if (cp == '\'') return CP_APOS;
        if (cp == '*') return CP_STAR;
        return CP_SEP;
    }
    if (cp == UINT32_MAX) return CP_IGNORE; /* invalid bytes must not split a word */
    if (cp == 0xAD || (cp >= 0x300 && cp <= 0x36F) || (cp >= 0x200B && cp <= 0x200D) ||
        cp == 0x2060 || cp == 0xFEFF || cp == 0x34F || (cp >= 0xFE00 && cp <= 0xFE0F))
        return CP_IGNORE; /* soft hyphen, combining accents, zero-width, variation selectors */
    if (cp == 0x2018 || cp == 0x2019 || cp == 0x2BC) return CP_APOS;
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) return CP_SEP;
    if (cp <= 0xFF) {
        const char *f = LATIN1[cp - 0xC0];
        memcpy(fold, f, strlen(f));
        *upper = cp < 0xDF;
        return CP_WORD;
    }
    if (cp <= 0x17F) {
        for (size_t i = 0; i < sizeof LATIN_EXT_A / sizeof LATIN_EXT_A[0]; i++)
            if (cp >= LATIN_EXT_A[i].lo && cp <= LATIN_EXT_A[i].hi) {
                memcpy(fold, LATIN_EXT_A[i].to, strlen(LATIN_EXT_A[i].to));
                break;
            }
        *upper = (cp & 1) == 0;
        return CP_WORD;
    }
    if (cp >= 0x400 && cp <= 0x4FF) {
        fold[0] = '#';
        for (size_t i = 0; i < sizeof CYRILLIC / sizeof CYRILLIC[0]; i++)
            if (CYRILLIC[i].cp == cp) fold[0] = CYRILLIC[i].to;
        return CP_WORD;
    }
    if (cp >= 0xFF10 && cp <= 0xFF19) {
        fold[0] = (char)('0' + (cp - 0xFF10));
        return CP_WORD;
    }
    if ((cp >= 0xFF21 && cp <= 0xFF3A) || (cp >= 0xFF41 && cp <= 0xFF5A)) {
        fold[0] = (char)('a' + (cp >= 0xFF41 ? cp - 0xFF41 : cp - 0xFF21));
        *upper = cp <= 0xFF3A;
        return CP_WORD;
    }
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xFF00 && cp <= 0xFF65) || (cp >= 0x1F000 && cp <= 0x1FAFF) || cp >= 0xE0000)
        return CP_SEP; /* punctuation, symbols, arrows, emoji, tags */
    fold[0] = '#';
    return CP_WORD;
}

/* Decodes and classifies the code point at s[i], with a fast path for ASCII letters and
 * spaces, which are most of any text. */
static inline int sf_next(const unsigned char *s, size_t len, size_t i, uint32_t *cp, size_t *k,
                          char f[3], bool *up)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = c;
        *k = 1;
        if (c >= 'a' && c <= 'z') {
            f[0] = (char)c, f[1] = f[2] = '\0';
            *up = false;
            return CP_WORD;
        }
        if (c == ' ') {
            f[0] = f[1] = f[2] = '\0';
            *up = false;
            return CP_SEP;
        }
        return sf_classify(c, f, up);
    }
    *k = sf_decode(s, len, i, cp);
    return sf_classify(*cp, f, up);
}

uint64_t sf_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

size_t sf_squeeze(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (o == 0 || out[o - 1] != s[i]) out[o++] = s[i];
    return o;
}

bool sf_dominates(const char *tok, size_t tn, const char *term, size_t sn)
{
    size_t i = 0, j = 0;
    while (i < tn && j < sn) {
        if (tok[i] != term[j]) return false;
        char c = tok[i];
        size_t ri = 0, rj = 0;
        while (i + ri < tn && tok[i + ri] == c)
            ri++;
        while (j + rj < sn && term[j + rj] == c)
            rj++;
        if (!(ri == rj || (ri >= 3 && ri > rj))) return false;
        i += ri;
        j += rj;
    }
    return i == tn && j == sn;
}

/* Appends c to a form unless it would make a fourth letter of one run. */
static void sf_put(char *buf, size_t *n, size_t cap, char c, bool *longf)
{
    if (*n >= 3 && buf[*n - 1] == c && buf[*n - 2] == c && buf[*n - 3] == c) return;
    if (*n >= cap) {
        *longf = true;
        return;
    }
    buf[(*n)++] = c;
}

static char sf_leet(char c, bool one_is_l)
{
    switch (c) {
    case '0':
        return 'o';
    case '1':
        return one_is_l ? 'l' : 'i';
    case '3':
        return 'e';
    case '4':
        return 'a';
    case '5':
        return 's';
    case '7':
        return 't';
    case '@':
        return 'a';
    case '$':
        return 's';
    default:
        return c;
    }
}

int sf_norm_term(const char *w, size_t n, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)w;
    size_t o = 0;
    bool longf = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = sf_decode(s, n, i, &cp);
        i += k;
        if (cp == UINT32_MAX) return -1;
        char f[3];
        bool up;
        int cls = sf_classify(cp, f, &up);
        if (cls == CP_IGNORE || cls == CP_APOS) continue;
        if (cls == CP_STAR) {
            sf_put(out, &o, cap, '*', &longf);
            continue;
        }
        if (cls != CP_WORD || f[0] == '#' || f[0] == '@' || f[0] == '$') return -1;
        for (int j = 0; f[j]; j++)
            sf_put(out, &o, cap, f[j], &longf);
    }
    if (longf) return -1;
    return (int)o;
}

static int sf_pool_reserve(sf_scan_t *sc, size_t extra)
{
    if (sc->pool_len + extra <= sc->pool_cap) return 0;
    size_t cap = sc->pool_cap ? sc->pool_cap : 1024;
    while (cap < sc->pool_len + extra)
        cap *= 2;
    char *p = realloc(sc->pool, cap);
    if (!p) return -ENOMEM;
    sc->pool = p;
    sc->pool_cap = cap;
    return 0;
}

static int sf_add_form(sf_scan_t *sc, sf_tok_t *t, const char *f, size_t n, uint32_t last)
{
    if (t->nforms >= SF_FORMS_MAX || n == 0) return 0;
    for (int i = 0; i < t->nforms; i++)
        if (t->form_len[i] == n && t->form_last[i] == last &&
            memcmp(sc->pool + t->form_off[i], f, n) == 0)
            return 0;
    if (sf_pool_reserve(sc, n + 1)) return -ENOMEM;
    memcpy(sc->pool + sc->pool_len, f, n);
    sc->pool[sc->pool_len + n] = '\0';
    t->form_off[t->nforms] = (uint32_t)sc->pool_len;
    t->form_len[t->nforms] = (uint16_t)n;
    t->form_last[t->nforms] = last;
    t->nforms++;
    sc->pool_len += n + 1;
    return 0;
}

/* Derived forms of a word that uses digits or symbols for letters, or stars inside. */
static int sf_obfuscated_forms(sf_scan_t *sc, sf_tok_t *t, const char *plain, size_t n,
                               uint32_t idx)
{
    bool leet = false, star = false, one = false, alpha = false;
    for (size_t i = 0; i < n; i++) {
        char c = plain[i];
        if (c == '*') star = true;
        if (sf_leet(c, false) != c) leet = true;
        if (c == '1') one = true;
        if ((c >= 'a' && c <= 'z') || c == '@' || c == '$') alpha = true;
    }
    /* A plain number ("1999", "45") is never leetspeak. */
    if (!alpha) leet = false;
    if (!leet && !star) return 0;
    for (int variant = 0; variant < (one ? 2 : 1); variant++) {
        char buf[SF_FORM_MAX + 1];
        size_t o = 0;
        bool longf = false;
        for (size_t i = 0; i < n; i++) {
            char c = plain[i];
            if (c == '*') continue;
            sf_put(buf, &o, SF_FORM_MAX, (char)(leet ? sf_leet(c, variant == 1) : c), &longf);
        }
        if (!longf && sf_add_form(sc, t, buf, o, idx)) return -ENOMEM;
    }
    return 0;
}

static int sf_push_tok(sf_scan_t *sc, const sf_tok_t *t)
{
    if (sc->ntoks == sc->toks_cap) {
        size_t cap = sc->toks_cap ? sc->toks_cap * 2 : 64;
        sf_tok_t *nt = realloc(sc->toks, cap * sizeof *nt);
        if (!nt) return -ENOMEM;
        sc->toks = nt;
        sc->toks_cap = cap;
    }
    sc->toks[sc->ntoks++] = *t;
    return 0;
}

/* Joins runs of three or more single-character words separated by one or two characters
 * ("k i l l", "s.e.x", "k - i - l - l" is not joined). Each position of a run gets the join from
 * there to the end of the run as an extra form, so leading noise does not hide a word. */
static int sf_join_words(sf_scan_t *sc)
{
    size_t i = 0;
    while (i < sc->ntoks) {
        sf_tok_t *t = &sc->toks[i];
        if (!(t->end - t->start <= 4 && t->form_len[0] == 1)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j + 1 < sc->ntoks && j + 1 - i < SF_FORM_MAX) {
            sf_tok_t *a = &sc->toks[j], *b = &sc->toks[j + 1];
            if (b->form_len[0] != 1 || b->end - b->start > 4) break;
            size_t gap = b->start - a->end;
            if (gap < 1 || gap > 2 || memchr(sc->text + a->end, '\n', gap)) break;
            j++;
        }
        if (j - i + 1 >= 3) {
            for (size_t p = i; p + 2 <= j; p++) {
                char buf[SF_FORM_MAX + 1];
                size_t o = 0;
                bool longf = false;
                for (size_t k = p; k <= j; k++)
                    sf_put(buf, &o, SF_FORM_MAX, sf_leet(sc->pool[sc->toks[k].form_off[0]], false),
                           &longf);
                if (sf_add_form(sc, &sc->toks[p], buf, o, (uint32_t)j)) return -ENOMEM;
            }
        }
        i = j + 1;
    }
    /* "sh!t": '!' splits words, so two words with just a '!' between them also get their
     * join, with the '!' read as an i. Both words still match on their own ("yes!fuck"). */
    for (i = 0; i + 1 < sc->ntoks; i++) {
        sf_tok_t *a = &sc->toks[i], *b = &sc->toks[i + 1];
        if (b->start != a->end + 1 || sc->text[a->end] != '!') continue;
        if ((a->flags | b->flags) & SF_TOK_LONG) continue;
        char buf[SF_FORM_MAX + 1];
        size_t o = 0;
        bool longf = false;
        const char *fa = sf_form(sc, a, 0), *fb = sf_form(sc, b, 0);
        for (size_t k = 0; k < a->form_len[0]; k++)
            sf_put(buf, &o, SF_FORM_MAX, sf_leet(fa[k], false), &longf);
        sf_put(buf, &o, SF_FORM_MAX, 'i', &longf);
        for (size_t k = 0; k < b->form_len[0]; k++)
            sf_put(buf, &o, SF_FORM_MAX, sf_leet(fb[k], false), &longf);
        if (!longf && sf_add_form(sc, a, buf, o, (uint32_t)(i + 1))) return -ENOMEM;
    }
    return 0;
}

int sf_scan(sf_scan_t *sc, const char *text, size_t len)
{
    memset(sc, 0, sizeof *sc);
    sc->text = text;
    sc->len = len;
    if (sf_pool_reserve(sc, len + len / 2 + 64)) return -ENOMEM;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t k;
        char f[3];
        bool up;
        int cls = sf_next(s, len, i, &cp, &k, f, &up);
        if (cls != CP_WORD) {
            i += k;
            continue;
        }
        /* A word starts here: collect it. */
        sf_tok_t t;
        memset(&t, 0, sizeof t);
        t.start = (uint32_t)i;
        char plain[SF_FORM_MAX + 1];
        size_t pn = 0;
        bool longf = false, all_digits = true, all_alpha = true, all_upper = true;
        size_t nletters = 0, ndigits = 0, nalpha_ascii = 0;
        size_t end = i;
        bool first = true;
        while (i < len) {
            cls = sf_next(s, len, i, &cp, &k, f, &up);
            if (cls == CP_WORD) {
                bool digit = f[0] >= '0' && f[0] <= '9' && cp < 0x80;
                bool letter = !digit && f[0] != '@' && f[0] != '$';
                if (first && letter && up) t.flags |= SF_TOK_UPPER1;
                first = false;
                if (letter) {
                    nletters++;
                    if (!up) all_upper = false;
                    if (cp < 0x80) nalpha_ascii++;
                } else {
                    all_alpha = false;
                }
                if (digit)
                    ndigits++;
                else
                    all_digits = false;
                for (int j = 0; f[j]; j++)
                    sf_put(plain, &pn, SF_FORM_MAX, f[j], &longf);
                i += k;
                end = i;
                continue;
            }
            if (cls == CP_IGNORE) {
                i += k;
                continue;
            }
            if (cls == CP_APOS || cls == CP_STAR) {
                /* Inside a word only when a word character follows the run of them. */
                size_t q = i;
                int stars = 0, qcls = cls;
                for (;;) {
                    if (qcls == CP_STAR) stars++;
                    q += sf_decode(s, len, q, &cp);
                    if (q >= len) {
                        qcls = CP_SEP;
                        break;
                    }
                    uint32_t c2;
                    sf_decode(s, len, q, &c2);
                    qcls = sf_classify(c2, f, &up);
                    if (qcls != CP_APOS && qcls != CP_STAR && qcls != CP_IGNORE) break;
                }
                if (qcls != CP_WORD) break;
                for (int j = 0; j < stars; j++)
                    sf_put(plain, &pn, SF_FORM_MAX, '*', &longf);
                if (stars) all_alpha = false, all_digits = false;
                i = q;
                continue;
            }
            break;
        }
        t.end = (uint32_t)end;
        if (all_digits && ndigits) t.flags |= SF_TOK_DIGITS;
        if (all_alpha && nletters) t.flags |= SF_TOK_ALPHA;
        if (nletters >= 2 && all_upper) t.flags |= SF_TOK_ALLCAPS;
        if (longf) t.flags |= SF_TOK_LONG;
        if (ndigits >= 1 && ndigits <= 5 && nalpha_ascii <= 1 && nletters == nalpha_ascii &&
            pn == ndigits + nalpha_ascii && plain[0] >= '0' && plain[0] <= '9')
            t.flags |= SF_TOK_HOUSENUM;
        uint32_t idx = (uint32_t)sc->ntoks;
        /* A word cut at SF_FORM_MAX keeps a (never matching) empty form list. */
        if (!longf) {
            if (sf_add_form(sc, &t, plain, pn, idx)) return -ENOMEM;
            /* Only words with digits, symbols or stars can be disguised. */
            if (!all_alpha && sf_obfuscated_forms(sc, &t, plain, pn, idx)) return -ENOMEM;
        } else {
            /* Keep a form slot so form 0 exists; '#' never matches a list entry. */
            if (sf_add_form(sc, &t, "#", 1, idx)) return -ENOMEM;
        }
        if (sf_push_tok(sc, &t)) return -ENOMEM;
    }
    return sf_join_words(sc);
}

void sf_scan_free(sf_scan_t *sc)
{
    free(sc->toks);
    free(sc->pool);
    memset(sc, 0, sizeof *sc);
}
