/* composer prompt analysis: pulls names, nouns (with their adjectives), a "who ..." clause and a
 * pronoun hint out of the user's idea with simple, predictable heuristics. Unsafe words are
 * dropped here so they can never reach a story. */
#include "providers/composer_internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_TOKENS 160

typedef struct {
    char text[32];
    char lower[32];
    bool cap;         /* starts with A-Z */
    bool sent_start;  /* first word of a sentence */
    bool punct_after; /* a comma or sentence end follows */
    bool end_after;   /* a sentence end follows */
} token_t;

static bool word_byte(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
}

static size_t tokenize(const char *s, token_t *tok, size_t max)
{
    size_t n = 0;
    bool start = true;
    for (size_t i = 0; s[i] && n < max;) {
        unsigned char ch = (unsigned char)s[i];
        if (word_byte(ch)) {
            size_t j = i;
            while (s[j] && (word_byte((unsigned char)s[j]) ||
                            ((s[j] == '\'' || s[j] == '-') && word_byte((unsigned char)s[j + 1]))))
                j++;
            size_t len = j - i;
            if (len < sizeof tok[n].text) {
                token_t *t = &tok[n++];
                memset(t, 0, sizeof *t);
                memcpy(t->text, s + i, len);
                for (size_t k = 0; k <= len; k++) {
                    char c = t->text[k];
                    t->lower[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                }
                t->cap = ch >= 'A' && ch <= 'Z';
                t->sent_start = start;
            }
            start = false;
            i = j;
            continue;
        }
        if (ch == '.' || ch == '!' || ch == '?' || ch == ';' || ch == '\n') {
            start = true;
            if (n) tok[n - 1].end_after = tok[n - 1].punct_after = true;
        } else if ((ch == ',' || ch == ':' || ch == '(' || ch == ')' || ch == '"') && n) {
            tok[n - 1].punct_after = true;
        }
        i++;
    }
    return n;
}

/* Appends " word" (just "word" when dst is empty) to dst, whose length *len tracks. Returns
 * false, leaving dst unchanged, when the word and its NUL would not fit in cap bytes. */
static bool append_word(char *dst, size_t cap, size_t *len, const char *word)
{
    size_t sep = *len ? 1 : 0, wl = strlen(word);
    if (*len + sep + wl + 1 > cap) return false;
    if (sep) dst[(*len)++] = ' ';
    memcpy(dst + *len, word, wl + 1);
    *len += wl;
    return true;
}

static bool lower_in(const char *w, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(w, list[i])) return true;
    return false;
}

/* Returns the singular noun class of w, writing the singular form to sing. */
static composer__noun_class_t classify(const char *w, char *sing, size_t cap, bool *plural)
{
    composer__copy(sing, cap, w);
    *plural = false;
    composer__noun_class_t c = composer__noun_class(w);
    if (c != COMPOSER__NOUN_UNKNOWN) return c;
    size_t n = strlen(w);
    if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's') {
        char tmp[32];
        if (n > 4 && !strcmp(w + n - 3, "ies")) {
            snprintf(tmp, sizeof tmp, "%.*sy", (int)(n - 3), w);
        } else {
            snprintf(tmp, sizeof tmp, "%.*s", (int)(n - 1), w);
        }
        c = composer__noun_class(tmp);
        if (c == COMPOSER__NOUN_UNKNOWN && n > 4 && w[n - 2] == 'e') {
            snprintf(tmp, sizeof tmp, "%.*s", (int)(n - 2), w);
            c = composer__noun_class(tmp);
        }
        if (c != COMPOSER__NOUN_UNKNOWN) {
            composer__copy(sing, cap, tmp);
            *plural = true;
        }
    }
    return c;
}

static bool looks_adjective(const char *w)
{
    size_t n = strlen(w);
    if (composer__is_adjective(w)) return true;
    static const char *const tails[] = {"ful", "ous", "ish", "ing", "ly", "y", NULL};
    for (size_t i = 0; tails[i]; i++) {
        size_t t = strlen(tails[i]);
        if (n > t + 2 && !strcmp(w + n - t, tails[i])) return true;
    }
    return false;
}

static void add_noun(composer__prompt_t *p, const char *word, const char *adj,
                     composer__noun_class_t cls, bool plural)
{
    if (p->n_nouns >= COMPOSER__MAX_NOUNS || strlen(word) < 3) return;
    for (size_t i = 0; i < p->n_nouns; i++)
        if (!strcmp(p->nouns[i].word, word)) return;
    composer__noun_t *n = &p->nouns[p->n_nouns++];
    composer__copy(n->word, sizeof n->word, word);
    composer__copy(n->adj, sizeof n->adj, adj);
    n->cls = cls;
    n->plural = plural;
}

static void add_name(composer__prompt_t *p, const char *name, const char *kind)
{
    if (p->n_names >= COMPOSER__MAX_NAMES || strlen(name) < 2) return;
    for (size_t i = 0; i < p->n_names; i++)
        if (!strcmp(p->names[i], name)) {
            if (kind[0] && !p->name_kind[i][0])
                composer__copy(p->name_kind[i], sizeof p->name_kind[i], kind);
            return;
        }
    composer__copy(p->names[p->n_names], sizeof p->names[0], name);
    composer__copy(p->name_kind[p->n_names], sizeof p->name_kind[0], kind);
    p->n_names++;
}

static const char *const TRIGGERS[] = {"a",     "an",   "the",   "my",  "his",  "her",
                                       "their", "some", "about", "our", "your", NULL};
static const char *const PERSONAL[] = {"i", "me", "my", "you", "your", "we", "our", "us", NULL};

/* Scans back from token i for a creature noun (for "a dragon named Ember"). */
static void kind_before(const token_t *t, size_t i, char *kind, size_t cap)
{
    kind[0] = '\0';
    for (size_t k = i; k > 0 && i - k < 4; k--) {
        char sing[32];
        bool pl;
        if (classify(t[k - 1].lower, sing, sizeof sing, &pl) == COMPOSER__NOUN_CREATURE) {
            composer__copy(kind, cap, sing);
            return;
        }
    }
}

static void find_names(const token_t *t, size_t n, composer__prompt_t *p)
{
    for (size_t i = 0; i < n; i++) {
        char kind[40] = "", name[64];
        const token_t *w = &t[i];
        if (composer__is_unsafe(w->lower)) continue;
        bool after_named =
            i > 0 && (!strcmp(t[i - 1].lower, "named") || !strcmp(t[i - 1].lower, "called"));
        bool known = w->cap && composer__name_gender(w->text) >= 0;
        bool cand = w->cap && !w->sent_start && !composer__is_stopword(w->lower) &&
                    composer__noun_class(w->lower) == COMPOSER__NOUN_UNKNOWN &&
                    !composer__is_place_name(w->text) && !composer__is_title_word(w->text);
        if (!after_named && !known && !cand) continue;
        if (after_named && composer__is_stopword(w->lower)) continue;
        if (i > 0 && t[i - 1].cap && composer__is_title_word(t[i - 1].text) &&
            !t[i - 1].punct_after)
            snprintf(name, sizeof name, "%.31s %.31s", t[i - 1].text, w->text);
        else
            composer__copy(name, sizeof name, w->text);
        if (name[0] >= 'a' && name[0] <= 'z') name[0] = (char)(name[0] - 32);
        if (after_named) kind_before(t, i - 1, kind, sizeof kind);
        /* "Ember the dragon" */
        if (!kind[0] && i + 2 < n && !w->punct_after && !strcmp(t[i + 1].lower, "the")) {
            char sing[32];
            bool pl;
            if (classify(t[i + 2].lower, sing, sizeof sing, &pl) == COMPOSER__NOUN_CREATURE)
                composer__copy(kind, sizeof kind, sing);
        }
        add_name(p, name, kind);
    }
}

static void find_nouns(const token_t *t, size_t n, composer__prompt_t *p)
{
    for (size_t i = 0; i < n; i++) {
        char sing[32];
        bool pl;
        if (composer__is_unsafe(t[i].lower)) continue;
        bool trig = lower_in(t[i].lower, TRIGGERS) && !t[i].punct_after;
        if (trig) {
            /* The run of plain words after a determiner: adjectives then the noun. */
            size_t j = i + 1, k = 0;
            while (j + k < n && k < 4 && !t[j + k].cap && !composer__is_stopword(t[j + k].lower) &&
                   !composer__is_unsafe(t[j + k].lower)) {
                k++;
                if (t[j + k - 1].punct_after) break;
            }
            if (k == 0) continue;
            size_t noun = j + k - 1;
            /* Prefer a known noun inside the run ("a boy explorer" keeps the last word). */
            char adj[48] = "";
            size_t al = 0;
            for (size_t a = j; a < noun; a++)
                if (looks_adjective(t[a].lower)) append_word(adj, sizeof adj, &al, t[a].lower);
            composer__noun_class_t c = classify(t[noun].lower, sing, sizeof sing, &pl);
            if (c == COMPOSER__NOUN_UNKNOWN && looks_adjective(t[noun].lower)) continue;
            add_noun(p, sing, adj, c,
                     pl || (c == COMPOSER__NOUN_UNKNOWN &&
                            t[noun].lower[strlen(t[noun].lower) - 1] == 's'));
            continue;
        }
        composer__noun_class_t c = classify(t[i].lower, sing, sizeof sing, &pl);
        if (c != COMPOSER__NOUN_UNKNOWN && !t[i].cap) add_noun(p, sing, "", c, pl);
    }
}

static void find_clause(const token_t *t, size_t n, composer__prompt_t *p)
{
    for (size_t i = 1; i < n; i++) {
        const char *past = composer__past_tense(t[i].lower);
        if (!past) continue;
        const token_t *prev = &t[i - 1];
        char sing[32];
        bool pl;
        bool subj = !strcmp(prev->lower, "who") || !strcmp(prev->lower, "that") ||
                    (prev->cap && !prev->sent_start) ||
                    classify(prev->lower, sing, sizeof sing, &pl) == COMPOSER__NOUN_CREATURE;
        if (!subj || prev->punct_after) continue;
        char out[160] = "who";
        size_t len = 3, words = 0;
        bool ok = true;
        for (size_t k = i; k < n && words < 12; k++, words++) {
            if (lower_in(t[k].lower, PERSONAL) || composer__is_unsafe(t[k].lower)) ok = false;
            const char *w = composer__past_tense(t[k].lower);
            /* "will" and "can" only change tense when they start the clause. */
            if (w && k > i && (!strcmp(t[k].lower, "will") || !strcmp(t[k].lower, "can"))) w = NULL;
            /* The room check is on the word actually written: a past form can be longer than
             * the prompt's word ("can't" -> "couldn't"). */
            if (!append_word(out, sizeof out, &len, w ? w : t[k].text)) break;
            if (t[k].punct_after) break;
        }
        if (ok && words >= 1) {
            composer__copy(p->who, sizeof p->who, out);
            return;
        }
    }
}

void composer__prompt_analyze(const char *text, composer__prompt_t *p)
{
    token_t tok[MAX_TOKENS];
    memset(p, 0, sizeof *p);
    p->pronoun_hint = -1;
    size_t n = tokenize(text, tok, MAX_TOKENS);
    for (size_t i = 0; i < n && p->pronoun_hint < 0; i++) {
        const char *w = tok[i].lower;
        if (!strcmp(w, "she") || !strcmp(w, "her") || !strcmp(w, "herself")) p->pronoun_hint = 0;
        if (!strcmp(w, "he") || !strcmp(w, "his") || !strcmp(w, "him") || !strcmp(w, "himself"))
            p->pronoun_hint = 1;
    }
    find_names(tok, n, p);
    find_nouns(tok, n, p);
    find_clause(tok, n, p);
}
