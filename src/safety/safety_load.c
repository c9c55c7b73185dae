/* Loading the word and phrase lists. Each list line is one entry:
 *
 *   murder*              severe: blocks. A trailing '*' also matches -s, -es, -ed, -ing, -er,
 *                        -ers, -ings (with the usual e-dropping, y -> i and consonant doubling)
 *   kill = defeat        mild: rewritten to the words after '=' (nothing after '=' removes it)
 *   kill* myself|yourself   a phrase; '|' separates alternatives for one word
 *
 * Lines starting with '#' are comments. Entries are normalised exactly like text words and
 * indexed by the squeezed form of their first word, so a text word costs one hash lookup per
 * form. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "safety/safety_int.h"

#define SF_FILE_MAX       (1024 * 1024)
#define SF_LINE_MAX       400
#define SF_REPL_MAX       64
#define SF_SPEC_FORMS_MAX 256

static const char *const WORD_CATS[SAFETY_CAT_PHONE] = {"violence", "sexual", "self_harm",
                                                        "hate",     "drugs",  "profanity"};

static const char *const CAT_NAMES[SAFETY_CAT_COUNT_] = {
    "violence",       "sexual",         "self_harm",
    "hate",           "drugs",          "profanity",
    "personal_phone", "personal_email", "personal_address",
    "personal_link",  "model_filter"};

const char *safety_category_name(safety_category_t c)
{
    return (unsigned)c < SAFETY_CAT_COUNT_ ? CAT_NAMES[c] : NULL;
}

int safety_category_parse(const char *name)
{
    for (int i = 0; name && i < SAFETY_CAT_COUNT_; i++)
        if (strcmp(name, CAT_NAMES[i]) == 0) return i;
    return -1;
}

static int sf_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *np = realloc(*p, c * elem);
    if (!np) return -ENOMEM;
    *p = np;
    *cap = c;
    return 0;
}

static int sf_pool_add(sf_table_t *t, const char *s, size_t n, sf_str_t *out)
{
    if (sf_grow((void **)&t->pool, &t->pool_cap, t->pool_len + n + 1, 1)) return -ENOMEM;
    memcpy(t->pool + t->pool_len, s, n);
    t->pool[t->pool_len + n] = '\0';
    out->off = (uint32_t)t->pool_len;
    out->len = (uint16_t)n;
    t->pool_len += n + 1;
    return 0;
}

static void sf_table_free(sf_table_t *t)
{
    free(t->pool);
    free(t->rules);
    free(t->specs);
    free(t->alts);
    free(t->links);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Cuts runs of one letter to three, as text words are. */
static size_t sf_clip(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o >= 3 && s[o - 1] == s[i] && s[o - 2] == s[i] && s[o - 3] == s[i]) continue;
        s[o++] = s[i];
    }
    return o;
}

static bool sf_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* Adds one form to the current spec unless it is already there. */
static int sf_add_alt(sf_table_t *t, size_t spec_first_alt, const char *f, size_t n)
{
    char buf[SF_FORM_MAX + 8];
    if (n == 0 || n > SF_FORM_MAX) return 0; /* an inflection past the limit can never match */
    memcpy(buf, f, n);
    n = sf_clip(buf, n);
    for (size_t i = spec_first_alt; i < t->nalts; i++)
        if (t->alts[i].len == n && memcmp(t->pool + t->alts[i].off, buf, n) == 0) return 0;
    if (t->nalts - spec_first_alt >= SF_SPEC_FORMS_MAX) return -E2BIG;
    if (sf_grow((void **)&t->alts, &t->alts_cap, t->nalts + 1, sizeof *t->alts)) return -ENOMEM;
    return sf_pool_add(t, buf, n, &t->alts[t->nalts++]);
}

static int sf_add_suffixed(sf_table_t *t, size_t first, const char *stem, size_t n,
                           const char *const *sfx)
{
    for (size_t i = 0; sfx[i]; i++) {
        char buf[SF_FORM_MAX * 2];
        size_t k = strlen(sfx[i]);
        if (n + k > SF_FORM_MAX) continue;
        memcpy(buf, stem, n);
        memcpy(buf + n, sfx[i], k);
        int rc = sf_add_alt(t, first, buf, n + k);
        if (rc) return rc;
    }
    return 0;
}

/* A stem and its common English inflections. Over-generating ("stabed") is harmless. */
static int sf_add_inflected(sf_table_t *t, size_t first, const char *w, size_t n)
{
    static const char *const ALL[] = {"", "s", "es", "ed", "ing", "er", "ers", "ings", NULL};
    static const char *const E_DROP[] = {"ing", "ings", "ed", "er", "ers", NULL};
    static const char *const Y_I[] = {"es", "ed", "er", "ers", NULL};
    static const char *const DOUBLE[] = {"ed", "ing", "er", "ers", "ings", NULL};
    int rc = sf_add_suffixed(t, first, w, n, ALL);
    if (!rc && n >= 2 && w[n - 1] == 'e') rc = sf_add_suffixed(t, first, w, n - 1, E_DROP);
    if (!rc && n >= 2 && w[n - 1] == 'y' && !sf_vowel(w[n - 2])) {
        char buf[SF_FORM_MAX + 1];
        memcpy(buf, w, n - 1);
        buf[n - 1] = 'i';
        rc = sf_add_suffixed(t, first, buf, n, Y_I);
    }
    if (!rc && n >= 3 && !sf_vowel(w[n - 1]) && w[n - 1] != 'w' && w[n - 1] != 'x' &&
        w[n - 1] != 'y' && sf_vowel(w[n - 2]) && !sf_vowel(w[n - 3])) {
        char buf[SF_FORM_MAX + 2];
        memcpy(buf, w, n);
        buf[n] = w[n - 1];
        rc = sf_add_suffixed(t, first, buf, n + 1, DOUBLE);
    }
    return rc;
}

typedef struct {
    const char *name;
    size_t line;
    char *err;
    size_t errlen;
} sf_where_t;

static int sf_fail(const sf_where_t *w, int rc, const char *msg)
{
    snprintf(w->err, w->errlen, "%s:%zu: %s", w->name, w->line, msg);
    return rc;
}

static bool sf_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Parses one non-comment line into a rule of table t. */
static int sf_parse_line(sf_table_t *t, uint8_t cat, const char *line, size_t n,
                         const sf_where_t *w)
{
    const char *eq = memchr(line, '=', n);
    size_t tn = eq ? (size_t)(eq - line) : n;
    while (tn > 0 && sf_space(line[tn - 1]))
        tn--;
    if (tn == 0) return sf_fail(w, -EINVAL, "empty term");
    if (eq && cat == SF_CAT_ALLOW)
        return sf_fail(w, -EINVAL, "allow-list entries take no replacement");
    sf_rule_t r;
    memset(&r, 0, sizeof r);
    r.category = cat;
    r.severe = cat != SF_CAT_ALLOW && !eq;
    if (eq) {
        const char *rp = eq + 1;
        size_t rn = n - (size_t)(rp - line);
        while (rn && sf_space(*rp))
            rp++, rn--;
        while (rn && sf_space(rp[rn - 1]))
            rn--;
        if (rn > SF_REPL_MAX) return sf_fail(w, -EINVAL, "replacement longer than 64 bytes");
        if (memchr(rp, '=', rn)) return sf_fail(w, -EINVAL, "more than one '='");
        r.has_repl = true;
        if (sf_pool_add(t, rp, rn, &r.repl)) return -ENOMEM;
    }
    if (sf_pool_add(t, line, tn, &r.display)) return -ENOMEM;
    r.spec = (uint32_t)t->nspecs;

    /* Words are separated by spaces or hyphens ("self-harm" is "self harm"). */
    size_t i = 0;
    while (i < tn) {
        while (i < tn && (sf_space(line[i]) || line[i] == '-'))
            i++;
        if (i >= tn) break;
        size_t ws = i;
        while (i < tn && !sf_space(line[i]) && line[i] != '-')
            i++;
        if (r.ntok >= SF_PHRASE_MAX) return sf_fail(w, -EINVAL, "phrase longer than 8 words");
        if (sf_grow((void **)&t->specs, &t->specs_cap, t->nspecs + 1, sizeof *t->specs))
            return -ENOMEM;
        sf_spec_t *sp = &t->specs[t->nspecs];
        sp->alt = (uint32_t)t->nalts;
        /* Alternatives of this word. */
        size_t a = ws;
        while (a <= i) {
            size_t ae = a;
            while (ae < i && line[ae] != '|')
                ae++;
            size_t an = ae - a;
            bool infl = an > 0 && line[a + an - 1] == '*';
            if (infl) an--;
            char norm[SF_FORM_MAX + 1];
            int nn = an ? sf_norm_term(line + a, an, norm, SF_FORM_MAX) : 0;
            if (nn < 0) return sf_fail(w, -EINVAL, "unsupported character or word too long");
            if (nn == 0 || strspn(norm, "*") == (size_t)nn)
                return sf_fail(w, -EINVAL, "a term needs at least one letter or digit");
            int rc = infl ? sf_add_inflected(t, sp->alt, norm, (size_t)nn)
                          : sf_add_alt(t, sp->alt, norm, (size_t)nn);
            if (rc == -E2BIG) return sf_fail(w, rc, "too many alternatives for one word");
            if (rc) return rc;
            a = ae + 1;
        }
        sp->nalts = (uint32_t)(t->nalts - sp->alt);
        t->nspecs++;
        r.ntok++;
    }
    if (r.ntok == 0) return sf_fail(w, -EINVAL, "a term needs at least one letter or digit");
    if (sf_grow((void **)&t->rules, &t->rules_cap, t->nrules + 1, sizeof *t->rules)) return -ENOMEM;
    uint32_t rid = (uint32_t)t->nrules;
    t->rules[t->nrules++] = r;
    /* One link per form of the first word; chained into slots by sf_index. */
    const sf_spec_t *sp = &t->specs[r.spec];
    for (uint32_t k = 0; k < sp->nalts; k++) {
        if (sf_grow((void **)&t->links, &t->links_cap, t->nlinks + 1, sizeof *t->links))
            return -ENOMEM;
        t->links[t->nlinks++] = (sf_link_t){.rule = rid, .form = t->alts[sp->alt + k]};
    }
    return 0;
}

static int sf_parse_source(safety_t *s, const safety_source_t *src, char *err, size_t errlen)
{
    sf_where_t w = {src->name ? src->name : src->category, 0, err, errlen};
    uint8_t cat;
    sf_table_t *t;
    if (src->category && strcmp(src->category, "allow") == 0) {
        cat = SF_CAT_ALLOW;
        t = &s->allow;
    } else {
        int c = -1;
        for (int i = 0; src->category && i < SAFETY_CAT_PHONE; i++)
            if (strcmp(src->category, WORD_CATS[i]) == 0) c = i;
        if (c < 0) {
            snprintf(err, errlen, "%s: unknown category \"%s\"", w.name,
                     src->category ? src->category : "(null)");
            return -EINVAL;
        }
        cat = (uint8_t)c;
        t = &s->unsafe;
    }
    if (!src->text && src->len) return sf_fail(&w, -EINVAL, "no text");
    if (src->len > SF_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than 1 MiB", w.name);
        return -EFBIG;
    }
    if (src->len && !json_utf8_valid(src->text, src->len)) {
        snprintf(err, errlen, "%s: not valid UTF-8", w.name);
        return -EILSEQ;
    }
    size_t i = 0;
    while (i < src->len) {
        const char *nl = memchr(src->text + i, '\n', src->len - i);
        size_t le = nl ? (size_t)(nl - src->text) : src->len;
        w.line++;
        const char *l = src->text + i;
        size_t n = le - i;
        i = le + 1;
        while (n && sf_space(*l))
            l++, n--;
        while (n && sf_space(l[n - 1]))
            n--;
        if (n == 0 || l[0] == '#') continue;
        if (n > SF_LINE_MAX) return sf_fail(&w, -EINVAL, "line longer than 400 bytes");
        if (memchr(l, '\0', n)) return sf_fail(&w, -EINVAL, "NUL byte");
        int rc = sf_parse_line(t, cat, l, n, &w);
        if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
        if (rc) return rc;
    }
    return 0;
}

/* Builds the open-addressing index from squeezed first-word forms to chains of links. */
static int sf_index(sf_table_t *t)
{
    size_t n = 16;
    while (n < t->nlinks * 2 + 1)
        n *= 2;
    t->slots = calloc(n, sizeof *t->slots);
    if (!t->slots) return -ENOMEM;
    t->nslots = n;
    for (size_t i = 0; i < t->nlinks; i++) {
        sf_link_t *l = &t->links[i];
        char key[SF_FORM_MAX + 1];
        size_t kn = sf_squeeze(t->pool + l->form.off, l->form.len, key);
        uint64_t hv = sf_hash(key, kn);
        t->bloom[hv >> 54] |= 1ull << ((hv >> 48) & 63);
        size_t h = (size_t)hv & (n - 1);
        while (t->slots[h].head) {
            sf_slot_t *sl = &t->slots[h];
            if (sl->key.len == kn && memcmp(t->pool + sl->key.off, key, kn) == 0) break;
            h = (h + 1) & (n - 1);
        }
        sf_slot_t *sl = &t->slots[h];
        if (!sl->head && sf_pool_add(t, key, kn, &sl->key)) return -ENOMEM;
        l->next = sl->head;
        sl->head = (uint32_t)i + 1;
    }
    return 0;
}

const sf_link_t *sf_lookup(const sf_table_t *t, const char *key, size_t n)
{
    if (!t->nslots) return NULL;
    uint64_t hv = sf_hash(key, n);
    if (!(t->bloom[hv >> 54] & (1ull << ((hv >> 48) & 63)))) return NULL;
    size_t h = (size_t)hv & (t->nslots - 1);
    while (t->slots[h].head) {
        const sf_slot_t *sl = &t->slots[h];
        if (sl->key.len == n && memcmp(t->pool + sl->key.off, key, n) == 0)
            return &t->links[sl->head - 1];
        h = (h + 1) & (t->nslots - 1);
    }
    return NULL;
}

/* A replacement must itself pass the screen, or every rewrite using it would be refused. */
static int sf_check_replacements(safety_t *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->unsafe.nrules; i++) {
        const sf_rule_t *r = &s->unsafe.rules[i];
        if (!r->has_repl || r->repl.len == 0) continue;
        safety_verdict_t v;
        int rc = safety_check(s, sf_str(&s->unsafe, r->repl), r->repl.len, &v);
        safety_action_t act = v.action;
        safety_verdict_free(&v);
        if (rc) return rc;
        if (act != SAFETY_ALLOW) {
            snprintf(err, errlen, "%s: the replacement \"%s\" is itself flagged",
                     CAT_NAMES[r->category], sf_str(&s->unsafe, r->repl));
            return -EINVAL;
        }
    }
    return 0;
}

safety_t *safety_load_mem(const safety_source_t *src, size_t n, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    if (n && !src) {
        snprintf(err, errlen, "no sources");
        return NULL;
    }
    safety_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = 0;
    for (size_t i = 0; !rc && i < sf_builtin_nsources; i++)
        rc = sf_parse_source(s, &sf_builtin_sources[i], err, errlen);
    for (size_t i = 0; !rc && i < n; i++)
        rc = sf_parse_source(s, &src[i], err, errlen);
    if (!rc) rc = sf_index(&s->unsafe);
    if (!rc) rc = sf_index(&s->allow);
    if (!rc) rc = sf_check_replacements(s, err, errlen);
    if (rc) {
        if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
        safety_free(s);
        return NULL;
    }
    return s;
}

static int sf_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SF_FILE_MAX) {
        snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", path);
        close(fd);
        return -EFBIG;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            snprintf(err, errlen, "%s: %s", path, strerror(e));
            free(buf);
            close(fd);
            return -e;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == cap) { /* the file grew while read: refuse rather than truncate */
            snprintf(err, errlen, "%s: changed while being read", path);
            free(buf);
            close(fd);
            return -EAGAIN;
        }
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
}

safety_t *safety_load(const char *dir, char *err, size_t errlen)
{
    static const char *const FILES[] = {"violence", "sexual",    "self_harm", "hate",
                                        "drugs",    "profanity", "allow"};
    enum { NFILES = sizeof FILES / sizeof FILES[0] };
    char dummy[8];
    if (!err || !errlen) err = dummy, errlen = sizeof dummy;
    if (!dir) return safety_load_mem(NULL, 0, err, errlen);
    safety_source_t src[NFILES];
    char *bufs[NFILES] = {0};
    char names[NFILES][32];
    safety_t *s = NULL;
    size_t i;
    for (i = 0; i < NFILES; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s.txt", dir, FILES[i]) >= (int)sizeof path) {
            snprintf(err, errlen, "data directory path too long");
            goto out;
        }
        size_t len = 0;
        if (sf_read_file(path, &bufs[i], &len, err, errlen)) goto out;
        snprintf(names[i], sizeof names[i], "%s.txt", FILES[i]);
        src[i] = (safety_source_t){FILES[i], names[i], bufs[i], len};
    }
    s = safety_load_mem(src, NFILES, err, errlen);
out:
    for (i = 0; i < NFILES; i++)
        free(bufs[i]);
    return s;
}

void safety_free(safety_t *s)
{
    if (!s) return;
    sf_table_free(&s->unsafe);
    sf_table_free(&s->allow);
    free(s);
}

size_t safety_rule_count(const safety_t *s)
{
    return s ? s->unsafe.nrules + s->allow.nrules : 0;
}
