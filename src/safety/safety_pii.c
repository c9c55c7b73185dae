/* Personal data: phone numbers, e-mail addresses (also spelled "name at mail dot com"), web
 * addresses and street addresses ("12 Baker Street"). These are redacted, never blocked: a child
 * who types a phone number still gets a story, just without the number. The patterns lean
 * towards catching: a redacted "2024 2025" costs less than a leaked number, but dates, counting
 * ("10 11 12 13") and decimals are recognised and left alone. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "safety/safety_int.h"

#define SF_MAX_GROUPS 24

static const char REPL_PHONE[] = "a secret number";
static const char REPL_EMAIL[] = "a secret e-mail address";
static const char REPL_LINK[] = "a website";
static const char REPL_ADDRESS[] = "a cosy little house";

/* Top-level domains that count for bare web addresses. Two-letter ones that are English words
 * ("it", "in", "me", "no") are left out: "cats.It was fun" is a typo, not a link. */
static const char *const TLDS[] = {"com", "net", "org", "io", "co",  "uk",  "us",     "ca",
                                   "au",  "nz",  "ie",  "de", "fr",  "es",  "nl",     "ch",
                                   "ru",  "jp",  "cn",  "br", "edu", "gov", "info",   "biz",
                                   "tv",  "app", "dev", "ly", "gg",  "xyz", "online", NULL};

static bool sf_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool sf_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool sf_tld(const char *s, size_t n)
{
    char low[8];
    if (n < 2 || n >= sizeof low) return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalpha((unsigned char)s[i])) return false;
        low[i] = (char)tolower((unsigned char)s[i]);
    }
    low[n] = '\0';
    for (size_t i = 0; TLDS[i]; i++)
        if (strcmp(low, TLDS[i]) == 0) return true;
    return false;
}

/* Marks every token overlapping [start, end) as excluded from word matching. */
static void sf_exclude(const sf_scan_t *sc, uint8_t *excluded, size_t start, size_t end)
{
    size_t lo = 0, hi = sc->ntoks;
    while (lo < hi) { /* first token ending after start */
        size_t mid = (lo + hi) / 2;
        if (sc->toks[mid].end <= start)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < sc->ntoks && sc->toks[i].start < end; i++)
        excluded[i] = 1;
}

static int sf_add(const sf_scan_t *sc, sf_hits_t *out, uint8_t *excluded, safety_category_t c,
                  size_t start, size_t end)
{
    static const char *const R[SAFETY_CAT_COUNT_] = {
        [SAFETY_CAT_PHONE] = REPL_PHONE,
        [SAFETY_CAT_EMAIL] = REPL_EMAIL,
        [SAFETY_CAT_ADDRESS] = REPL_ADDRESS,
        [SAFETY_CAT_LINK] = REPL_LINK,
    };
    sf_hit_t h = {.category = (uint8_t)c,
                  .start = (uint32_t)start,
                  .end = (uint32_t)end,
                  .tok0 = UINT32_MAX,
                  .tok1 = UINT32_MAX,
                  .repl = R[c],
                  .repl_len = strlen(R[c])};
    sf_exclude(sc, excluded, start, end);
    return sf_hits_push(out, &h);
}

/* user@example.com: the local part and the domain are bounded so a run of '@' stays linear. */
static int sf_emails(const sf_scan_t *sc, sf_hits_t *out, uint8_t *excluded)
{
    const char *s = sc->text;
    size_t len = sc->len;
    for (const char *at = memchr(s, '@', len); at;
         at = memchr(at + 1, '@', len - (size_t)(at + 1 - s))) {
        size_t p = (size_t)(at - s);
        if (p + 1 >= len) break;
        size_t l = p;
        while (l > 0 && p - l < 64 && (sf_alnum(s[l - 1]) || strchr("._%+-", s[l - 1]) != NULL) &&
               s[l - 1] != '\0')
            l--;
        while (l < p && !sf_alnum(s[l]))
            l++;
        size_t r = p + 1;
        while (r < len && r - p < 254 && (sf_alnum(s[r]) || s[r] == '.' || s[r] == '-'))
            r++;
        while (r > p + 1 && (s[r - 1] == '.' || s[r - 1] == '-'))
            r--;
        if (l == p || r == p + 1 || !sf_alnum(s[p + 1])) continue;
        const char *dot = NULL;
        for (size_t k = p + 1; k < r; k++)
            if (s[k] == '.') dot = s + k;
        if (!dot) continue;
        size_t tl = (size_t)(s + r - dot - 1);
        bool alpha = tl >= 2;
        for (size_t k = 0; alpha && k < tl; k++)
            if (!isalpha((unsigned char)dot[1 + k])) alpha = false;
        if (!alpha) continue;
        if (sf_add(sc, out, excluded, SAFETY_CAT_EMAIL, l, r)) return -1;
        at = s + r - 1;
    }
    return 0;
}

static bool sf_prefix_ci(const char *s, size_t n, const char *pre)
{
    size_t k = strlen(pre);
    if (n < k) return false;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)s[i]) != pre[i]) return false;
    return true;
}

static size_t sf_url_end(const char *s, size_t len, size_t r)
{
    while (r < len && (unsigned char)s[r] > 0x20 && !strchr("<>\"'`", s[r]))
        r++;
    return r;
}

static size_t sf_url_trim(const char *s, size_t p, size_t r)
{
    while (r > p && strchr(".,;:!?)]}'\"", s[r - 1]))
        r--;
    return r;
}

/* http(s)://..., www.... and bare names like "example.com/path". */
static int sf_links(const sf_scan_t *sc, sf_hits_t *out, uint8_t *excluded)
{
    const char *s = sc->text;
    size_t len = sc->len;
    size_t p = 0;
    while (p < len) {
        if (p > 0 && (sf_alnum(s[p - 1]) || s[p - 1] == '@' || s[p - 1] == '.' || s[p - 1] == '-' ||
                      s[p - 1] == '/')) {
            p++;
            continue;
        }
        char c0 = (char)(s[p] | 0x20);
        size_t pre = c0 != 'h' && c0 != 'w'                     ? 0
                     : sf_prefix_ci(s + p, len - p, "https://") ? 8
                     : sf_prefix_ci(s + p, len - p, "http://")  ? 7
                     : sf_prefix_ci(s + p, len - p, "www.")     ? 4
                                                                : 0;
        if (pre) {
            size_t r = sf_url_trim(s, p, sf_url_end(s, len, p + pre));
            if (r > p + pre && sf_alnum(s[p + pre])) {
                if (sf_add(sc, out, excluded, SAFETY_CAT_LINK, p, r)) return -1;
                p = r;
                continue;
            }
        }
        if (!sf_alnum(s[p])) {
            p++;
            continue;
        }
        /* A dotted name: labels of letters, digits and '-'. */
        size_t r = p, last_dot = 0, ndots = 0;
        bool ok = true;
        while (r < len && r - p < 253 && (sf_alnum(s[r]) || s[r] == '-' || s[r] == '.')) {
            if (s[r] == '.') {
                if (r == p || s[r - 1] == '.') ok = false;
                last_dot = r;
                ndots++;
            }
            r++;
        }
        while (r > p && (s[r - 1] == '.' || s[r - 1] == '-')) {
            if (s[r - 1] == '.') ndots--;
            r--;
        }
        if (ndots && last_dot >= r) { /* recompute: the trailing dot was trimmed */
            last_dot = 0;
            for (size_t k = p; k < r; k++)
                if (s[k] == '.') last_dot = k;
        }
        if (ok && ndots && last_dot > p && (r == len || s[r] != '@') &&
            sf_tld(s + last_dot + 1, r - last_dot - 1)) {
            if (r < len && s[r] == '/') r = sf_url_trim(s, p, sf_url_end(s, len, r));
            if (sf_add(sc, out, excluded, SAFETY_CAT_LINK, p, r)) return -1;
        }
        p = r > p ? r : p + 1;
    }
    return 0;
}

typedef struct {
    size_t start, end; /* digits of the group */
    size_t n;
    char sep; /* the separator before this group (first char of it); 0 for the first */
} sf_group_t;

static unsigned long sf_group_value(const char *s, const sf_group_t *g)
{
    unsigned long v = 0;
    for (size_t i = g->start; i < g->end && i - g->start < 9; i++)
        v = v * 10 + (unsigned long)(s[i] - '0');
    return v;
}

static bool sf_phone_ok(const char *s, const sf_group_t *g, size_t a, size_t b, bool plus)
{
    size_t digits = 0;
    for (size_t k = a; k <= b; k++)
        digits += g[k].n;
    if (digits < 7 || digits > 15) return false;
    plus = plus && a == 0;
    if (a == b) return digits >= 10 || (plus && digits >= 8);
    for (size_t k = a + 1; k <= b; k++)
        if (g[k].n < 2) return false;
    if (g[a].n < 2 && !plus && !(g[a].n == 1 && (s[g[a].start] == '1' || s[g[a].start] == '0')))
        return false;
    /* Dates: 2024-01-15, 15.01.2024. */
    if (b - a == 2 && g[a + 1].sep != ' ' && g[a + 2].sep != ' ' &&
        ((g[a].n == 4 && g[a + 1].n == 2 && g[a + 2].n == 2) ||
         (g[a].n <= 2 && g[a + 1].n <= 2 && g[a + 2].n == 4)))
        return false;
    /* Two years: 1999 2000. */
    if (b - a == 1 && g[a].n == 4 && g[b].n == 4 &&
        (s[g[a].start] == '1' || s[g[a].start] == '2') &&
        (s[g[b].start] == '1' || s[g[b].start] == '2'))
        return false;
    /* Counting: 10 11 12 13. */
    bool counting = true;
    for (size_t k = a + 1; counting && k <= b; k++)
        if (sf_group_value(s, &g[k]) != sf_group_value(s, &g[k - 1]) + 1) counting = false;
    return !counting;
}

static int sf_phones(const sf_scan_t *sc, sf_hits_t *out, uint8_t *excluded)
{
    const char *s = sc->text;
    size_t len = sc->len;
    size_t p = 0;
    while (p < len) {
        char c = s[p];
        bool start = sf_digit(c) || ((c == '+' || c == '(') && p + 1 < len && sf_digit(s[p + 1]));
        if (!start) {
            p++;
            continue;
        }
        if (p > 0 && (sf_alnum(s[p - 1]) || s[p - 1] == '.' || s[p - 1] == ',' || s[p - 1] == '/' ||
                      s[p - 1] == ':' || s[p - 1] == '$' || s[p - 1] == '-')) {
            p++; /* always move on: s[p] may be a '+' or '(' */
            while (p < len && (sf_alnum(s[p]) || s[p] == '.' || s[p] == ','))
                p++;
            continue;
        }
        bool plus = c == '+';
        size_t q = plus ? p + 1 : p;
        sf_group_t g[SF_MAX_GROUPS];
        size_t ng = 0;
        char sep = 0;
        for (;;) {
            size_t sq = q;
            while (q < len && q - sq < 3 && strchr(" -.()", s[q]) && s[q] != '\0')
                q++;
            /* No digit after the separator: the number ended with the previous group. */
            if (!sf_digit(q < len ? s[q] : 0) || (ng && q == sq) || (!ng && q - sq > 1)) break;
            sep = (char)(ng ? s[sq] : 0);
            size_t gs = q;
            while (q < len && sf_digit(s[q]))
                q++;
            g[ng] = (sf_group_t){gs, q, q - gs, sep};
            ng++;
            if (ng == SF_MAX_GROUPS) break;
        }
        size_t run_end = ng ? g[ng - 1].end : p + 1;
        if (run_end < len && s[run_end] == ')') run_end++;
        if (ng == 0 || (run_end < len && (sf_alnum(s[run_end]) || s[run_end] == '@'))) {
            /* Part of a word or an address ("555-1234abc", "12@x"): not a phone number. */
            while (run_end < len && sf_alnum(s[run_end]))
                run_end++;
            p = run_end > p ? run_end : p + 1;
            continue;
        }
        /* Greedy: the longest valid phone number from each group on. */
        size_t a = 0;
        while (a < ng) {
            size_t b = a + 6 < ng ? a + 6 : ng - 1;
            bool found = false;
            for (;; b--) {
                if (sf_phone_ok(s, g, a, b, plus)) {
                    size_t st = (a == 0 && plus) ? p : g[a].start;
                    if (a == 0 && !plus && s[p] == '(') st = p;
                    size_t en = g[b].end;
                    if (en < len && s[en] == ')') en++;
                    if (sf_add(sc, out, excluded, SAFETY_CAT_PHONE, st, en)) return -1;
                    a = b + 1;
                    found = true;
                    break;
                }
                if (b == a) break;
            }
            if (!found) a++;
        }
        p = run_end;
    }
    return 0;
}

static bool sf_tok_is(const sf_scan_t *sc, size_t i, const char *w)
{
    const sf_tok_t *t = &sc->toks[i];
    return t->form_len[0] == strlen(w) && memcmp(sf_form(sc, t, 0), w, t->form_len[0]) == 0;
}

static bool sf_tok_in(const sf_scan_t *sc, size_t i, const char *const *list)
{
    for (size_t k = 0; list[k]; k++)
        if (sf_tok_is(sc, i, list[k])) return true;
    return false;
}

/* Text between two tokens: only spaces (and at most one comma), no line break. */
static bool sf_gap_ok(const sf_scan_t *sc, size_t a, size_t b, bool comma)
{
    size_t s = sc->toks[a].end, e = sc->toks[b].start;
    if (e - s < 1 || e - s > 3) return false;
    int commas = 0;
    for (size_t i = s; i < e; i++) {
        if (sc->text[i] == ',' && comma && commas++ == 0) continue;
        if (sc->text[i] != ' ' && sc->text[i] != '\t') return false;
    }
    return true;
}

static const char *const STOP[] = {
    "the",   "a",     "an",      "and",   "or",     "of",      "on",    "in",    "at",
    "to",    "by",    "for",     "with",  "from",   "into",    "onto",  "down",  "up",
    "over",  "under", "my",      "his",   "her",    "their",   "our",   "your",  "its",
    "this",  "that",  "these",   "those", "is",     "are",     "was",   "were",  "who",
    "which", "then",  "when",    "what",  "little", "big",     "small", "tiny",  "huge",
    "happy", "sad",   "friends", "kids",  "cats",   "dogs",    "bears", "years", "days",
    "times", "more",  "across",  "along", "around", "through", NULL};
static const char *const STRONG_SUFFIX[] = {"street",  "road",    "avenue", "lane",    "boulevard",
                                            "blvd",    "ave",     "rd",     "terrace", "crescent",
                                            "highway", "parkway", NULL};
static const char *const WEAK_SUFFIX[] = {
    "st",     "dr",  "drive", "way",  "place", "pl",   "court",   "ct",   "close", "square", "sq",
    "circle", "row", "grove", "walk", "mews",  "hill", "gardens", "rise", "view",  NULL};

/* "12 Baker Street", "221b Baker St", "4 Old Kent Road": a house number, one to three name
 * words and a street word. Weak street words ("Way", "Close") need capitals throughout. */
static int sf_addresses(const sf_scan_t *sc, sf_hits_t *out, uint8_t *excluded)
{
    for (size_t i = 0; i + 2 < sc->ntoks; i++) {
        if (!(sc->toks[i].flags & SF_TOK_HOUSENUM) || excluded[i]) continue;
        for (size_t n = 1; n <= 3 && i + n + 1 < sc->ntoks; n++) {
            size_t sfx = i + n + 1;
            bool names = true, caps = true;
            for (size_t k = i + 1; names && k < sfx; k++) {
                const sf_tok_t *t = &sc->toks[k];
                if (!(t->flags & SF_TOK_ALPHA) || sf_tok_in(sc, k, STOP) || excluded[k] ||
                    !sf_gap_ok(sc, k - 1, k, k == i + 1))
                    names = false;
                if (!(t->flags & SF_TOK_UPPER1)) caps = false;
            }
            if (!names) break;
            if (excluded[sfx] || !sf_gap_ok(sc, sfx - 1, sfx, false)) break;
            bool strong = sf_tok_in(sc, sfx, STRONG_SUFFIX);
            bool weak =
                sf_tok_in(sc, sfx, WEAK_SUFFIX) && caps && (sc->toks[sfx].flags & SF_TOK_UPPER1);
            if (strong || weak) {
                if (sf_add(sc, out, excluded, SAFETY_CAT_ADDRESS, sc->toks[i].start,
                           sc->toks[sfx].end))
                    return -1;
                i = sfx;
                break;
            }
        }
    }
    return 0;
}

/* "bob at gmail dot com", "bob (at) gmail.com". */
static int sf_spelled_emails(const sf_scan_t *sc, sf_hits_t *out, uint8_t *excluded)
{
    for (size_t i = 0; i + 3 < sc->ntoks; i++) {
        if (excluded[i] || !sf_tok_is(sc, i + 1, "at") || sf_tok_in(sc, i, STOP)) continue;
        size_t k = i + 2, last_label = 0;
        int dots = 0;
        while (k < sc->ntoks && !excluded[k]) {
            if (k + 2 < sc->ntoks && sf_tok_is(sc, k + 1, "dot")) {
                k += 2;
            } else if (k + 1 < sc->ntoks && sc->toks[k + 1].start == sc->toks[k].end + 1 &&
                       sc->text[sc->toks[k].end] == '.') {
                k += 1;
            } else {
                break;
            }
            dots++;
            last_label = k;
        }
        /* "channel at www.example.com" is a link, not an address. */
        if (!dots || sf_tok_is(sc, i + 2, "www")) continue;
        const sf_tok_t *t = &sc->toks[last_label];
        if (!sf_tld(sc->text + t->start, t->end - t->start)) continue;
        if (sf_add(sc, out, excluded, SAFETY_CAT_EMAIL, sc->toks[i].start, t->end)) return -1;
        i = last_label;
    }
    return 0;
}

int sf_find_pii(const sf_scan_t *sc, sf_hits_t *out, uint8_t *excluded)
{
    if (sf_emails(sc, out, excluded) || sf_spelled_emails(sc, out, excluded) ||
        sf_links(sc, out, excluded) || sf_phones(sc, out, excluded) ||
        sf_addresses(sc, out, excluded))
        return -1;
    return 0;
}
