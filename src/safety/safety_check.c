/* The verdict: personal data first (its words are then left out of word matching), the
 * allow-list next (a flagged word inside an allowed phrase such as "shoot a basket" does not
 * count), then the unsafe lists. Any severe hit blocks; otherwise mild hits and personal data
 * are rewritten, and the rewrite is screened again so it can never carry a flagged term. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "safety/safety_int.h"

#define SF_REWRITE_MAX (16u * 1024 * 1024)

static int sf_hit_cmp(const void *a, const void *b)
{
    const sf_hit_t *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->severe != y->severe) return x->severe ? -1 : 1;
    if (x->end != y->end) return x->end > y->end ? -1 : 1;
    return 0;
}

/* Sorts hits and keeps a non-overlapping set, preferring severe and then longer hits. */
static void sf_resolve(sf_hits_t *h)
{
    if (h->n > 1) qsort(h->v, h->n, sizeof *h->v, sf_hit_cmp);
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (k && h->v[i].start < h->v[k - 1].end) {
            sf_hit_t *kept = &h->v[k - 1];
            bool better = (h->v[i].severe && !kept->severe) ||
                          (h->v[i].severe == kept->severe &&
                           h->v[i].end - h->v[i].start > kept->end - kept->start);
            /* The kept hit covers both spans, so a rewrite leaves no part of either behind;
             * it takes its entry (and replacement) from the stronger one. */
            sf_hit_t u = better ? h->v[i] : *kept;
            u.start = kept->start;
            u.tok0 = kept->tok0;
            u.case_flags = kept->case_flags;
            if (h->v[i].end > kept->end) u.end = h->v[i].end, u.tok1 = h->v[i].tok1;
            if (kept->end > u.end) u.end = kept->end, u.tok1 = kept->tok1;
            u.severe = kept->severe || h->v[i].severe;
            *kept = u;
            continue;
        }
        h->v[k++] = h->v[i];
    }
    h->n = k;
}

static bool sf_vowel_sound(const char *w, size_t n)
{
    if (n == 0) return false;
    char c = (char)tolower((unsigned char)w[0]);
    if (c == 'u') { /* "a unicorn", "a useful", but "an umbrella" */
        char c1 = (char)(n > 1 ? tolower((unsigned char)w[1]) : 0);
        char c2 = (char)(n > 2 ? tolower((unsigned char)w[2]) : 0);
        return !((c1 == 'n' && c2 == 'i') || c1 == 's' || c1 == 't');
    }
    return c == 'a' || c == 'e' || c == 'i' || c == 'o';
}

/* Makes a preceding "a"/"an" agree with the word about to be written. */
static int sf_fix_article(buf_t *out, const char *next, size_t nn)
{
    size_t e = out->len;
    while (e > 0 && (out->data[e - 1] == ' ' || out->data[e - 1] == '\t'))
        e--;
    if (e == out->len) return 0;
    size_t b = e;
    while (b > 0 && isalpha((unsigned char)out->data[b - 1]))
        b--;
    if (b > 0 && isalnum((unsigned char)out->data[b - 1])) return 0;
    bool an = sf_vowel_sound(next, nn);
    if (e - b == 1 && (out->data[b] == 'a' || out->data[b] == 'A') && an) {
        if (buf_append(out, "x", 1)) return -ENOMEM;
        memmove(out->data + e + 1, out->data + e, out->len - 1 - e);
        out->data[e] = 'n';
        out->data[out->len] = '\0';
    } else if (e - b == 2 && tolower((unsigned char)out->data[b]) == 'a' &&
               tolower((unsigned char)out->data[b + 1]) == 'n' && !an) {
        memmove(out->data + b + 1, out->data + b + 2, out->len - (b + 2));
        out->len--;
        out->data[out->len] = '\0';
    }
    return 0;
}

static bool sf_gap_char(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || strchr(",.!?;:", c);
}

static int sf_rewrite(const char *text, size_t len, const sf_hits_t *h, buf_t *out)
{
    size_t pos = 0;
    for (size_t i = 0; i < h->n; i++) {
        const sf_hit_t *hit = &h->v[i];
        if (buf_append(out, text + pos, hit->start - pos)) return -ENOBUFS;
        pos = hit->end;
        if (hit->repl_len == 0) {
            /* Removed: keep single spacing and no space before punctuation. */
            char next = (char)(pos < len ? text[pos] : '\0');
            if (sf_gap_char(next)) {
                while (out->len &&
                       (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t'))
                    out->data[--out->len] = '\0';
                /* "big one, blooming!" -> "big one!", not "big one,!" */
                if (out->len && strchr(",;:", out->data[out->len - 1]) && next != ' ' &&
                    next != '\t')
                    out->data[--out->len] = '\0';
            }
            if (out->len == 0 || out->data[out->len - 1] == '\n')
                while (pos < len && (text[pos] == ' ' || text[pos] == ',' || text[pos] == ';' ||
                                     text[pos] == ':'))
                    pos++;
            continue;
        }
        char r[128];
        size_t rn = hit->repl_len < sizeof r ? hit->repl_len : sizeof r - 1;
        memcpy(r, hit->repl, rn);
        if (hit->case_flags & SF_TOK_ALLCAPS) {
            for (size_t k = 0; k < rn; k++)
                r[k] = (char)toupper((unsigned char)r[k]);
        } else if (hit->case_flags & SF_TOK_UPPER1) {
            r[0] = (char)toupper((unsigned char)r[0]);
        }
        if (sf_fix_article(out, r, rn)) return -ENOBUFS;
        if (buf_append(out, r, rn)) return -ENOBUFS;
    }
    if (buf_append(out, text + pos, len - pos)) return -ENOBUFS;
    return 0;
}

static int sf_check(const safety_t *s, const char *text, size_t len, safety_verdict_t *out,
                    int depth)
{
    sf_scan_t sc;
    sf_hits_t all = {0}, allow = {0}, words = {0};
    uint8_t *excluded = NULL, *covered = NULL;
    int rc = sf_scan(&sc, text, len);
    if (rc) goto out;
    rc = -ENOMEM;
    excluded = calloc(sc.ntoks + 1, 1);
    covered = calloc(sc.ntoks + 1, 1);
    if (!excluded || !covered) goto out;
    if (sf_find_pii(&sc, &all, excluded)) goto out;
    if (sf_match(&s->allow, true, &sc, excluded, &allow)) goto out;
    for (size_t i = 0; i < allow.n; i++)
        for (uint32_t k = allow.v[i].tok0; k <= allow.v[i].tok1; k++)
            covered[k] = 1;
    if (sf_match(&s->unsafe, false, &sc, excluded, &words)) goto out;
    for (size_t i = 0; i < words.n; i++) {
        bool inside = true;
        for (uint32_t k = words.v[i].tok0; inside && k <= words.v[i].tok1; k++)
            if (!covered[k]) inside = false;
        if (!inside && sf_hits_push(&all, &words.v[i])) goto out;
    }
    sf_resolve(&all);

    bool severe = false;
    for (size_t i = 0; i < all.n; i++) {
        out->categories |= 1u << all.v[i].category;
        if (all.v[i].severe) severe = true;
    }
    out->action = severe ? SAFETY_BLOCK : all.n ? SAFETY_REWRITE : SAFETY_ALLOW;
    if (all.n) {
        out->hits = calloc(all.n, sizeof *out->hits);
        if (!out->hits) goto out;
        for (size_t i = 0; i < all.n; i++) {
            const sf_hit_t *h = &all.v[i];
            out->hits[i] = (safety_hit_t){
                .category = (safety_category_t)h->category,
                .severe = h->severe,
                .start = h->start,
                .end = h->end,
                .term = h->rule ? sf_str(&s->unsafe, h->rule->display) : NULL,
            };
        }
        out->nhits = all.n;
    }
    rc = 0;
    if (out->action == SAFETY_REWRITE) {
        buf_t b;
        buf_init(&b, SF_REWRITE_MAX);
        if (sf_rewrite(text, len, &all, &b) || !b.data) {
            /* Too large to rewrite: refuse instead. */
            buf_free(&b);
            out->action = SAFETY_BLOCK;
        } else {
            out->rewritten = buf_steal(&b, &out->rewritten_len);
        }
    }
    if (out->action == SAFETY_REWRITE && depth == 0) {
        safety_verdict_t again;
        memset(&again, 0, sizeof again);
        rc = sf_check(s, out->rewritten, out->rewritten_len, &again, 1);
        if (!rc && again.action != SAFETY_ALLOW) {
            out->action = SAFETY_BLOCK;
            out->categories |= again.categories;
        }
        safety_verdict_free(&again);
        if (out->action == SAFETY_BLOCK) {
            free(out->rewritten);
            out->rewritten = NULL;
            out->rewritten_len = 0;
        }
    }
out:
    free(all.v);
    free(allow.v);
    free(words.v);
    free(excluded);
    free(covered);
    sf_scan_free(&sc);
    return rc;
}

int safety_check(const safety_t *s, const char *text, size_t len, safety_verdict_t *out)
{
    if (!out) return -EINVAL;
    memset(out, 0, sizeof *out);
    out->action = SAFETY_BLOCK; /* whoever ignores an error still refuses the text */
    if (!s || (!text && len)) return -EINVAL;
    if (len > SAFETY_TEXT_MAX) return -E2BIG;
    if (!text) text = "";
    int rc = sf_check(s, text, len, out, 0);
    if (rc) {
        safety_verdict_free(out);
        out->action = SAFETY_BLOCK;
    }
    return rc;
}

void safety_verdict_free(safety_verdict_t *v)
{
    if (!v) return;
    free(v->hits);
    free(v->rewritten);
    v->hits = NULL;
    v->nhits = 0;
    v->rewritten = NULL;
    v->rewritten_len = 0;
}
