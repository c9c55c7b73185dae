/* safety internals shared by the module's files: the compiled rule tables, the tokenizer's
 * output and the hit list. Nothing here is used outside src/safety. */
#ifndef NOVA_SAFETY_INT_H
#define NOVA_SAFETY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "safety/safety.h"

/* Normalised forms longer than this never match (no list entry is that long). */
#define SF_FORM_MAX   48
#define SF_PHRASE_MAX 8
#define SF_ALTS_MAX   16
/* Forms per token: plain, leet (1 -> i), leet (1 -> l), stars removed, joined letters. */
#define SF_FORMS_MAX 5
#define SF_CAT_ALLOW 255

typedef struct {
    uint32_t off; /* into the table's string pool */
    uint16_t len;
} sf_str_t;

typedef struct {
    uint8_t category; /* safety_category_t, or SF_CAT_ALLOW */
    bool severe;
    bool has_repl;
    uint8_t ntok;
    uint32_t spec; /* first of ntok token specs */
    sf_str_t repl;
    sf_str_t display; /* the entry as written in the list */
} sf_rule_t;

typedef struct {
    uint32_t alt; /* first of nalts forms in sf_table_t.alts */
    uint32_t nalts;
} sf_spec_t;

typedef struct {
    uint32_t rule;
    sf_str_t form; /* the first-token form this link stands for */
    uint32_t next; /* index + 1 of the next link with the same key; 0 ends */
} sf_link_t;

typedef struct {
    sf_str_t key;  /* squeezed form */
    uint32_t head; /* index + 1 of the first link; 0 = empty slot */
} sf_slot_t;

/* One list (unsafe words or the allow-list) compiled for lookup by the first word. */
typedef struct {
    char *pool;
    size_t pool_len, pool_cap;
    sf_rule_t *rules;
    size_t nrules, rules_cap;
    sf_spec_t *specs;
    size_t nspecs, specs_cap;
    sf_str_t *alts;
    size_t nalts, alts_cap;
    sf_link_t *links;
    size_t nlinks, links_cap;
    sf_slot_t *slots;
    size_t nslots; /* power of two */
    /* One bit per key hash (top 16 bits): most words of a text are in no list, and this
     * answers that from 8 KiB that stay in cache instead of probing the slots. */
    uint64_t bloom[1024];
} sf_table_t;

struct safety {
    sf_table_t unsafe;
    sf_table_t allow;
};

/* One word of the text. Forms are NUL-free strings in the scan's pool; form 0 is the plain
 * (folded, lower-case) form, used by the allow-list; later forms undo obfuscation. */
typedef struct {
    uint32_t start, end; /* byte span in the text */
    uint8_t nforms;
    uint8_t flags; /* SF_TOK_* */
    uint16_t form_len[SF_FORMS_MAX];
    uint32_t form_off[SF_FORMS_MAX];
    uint32_t form_last[SF_FORMS_MAX]; /* last token index the form spans (joined letters) */
} sf_tok_t;

#define SF_TOK_UPPER1   0x01 /* first letter upper-case */
#define SF_TOK_ALLCAPS  0x02 /* two or more letters, all upper-case */
#define SF_TOK_DIGITS   0x04 /* only ASCII digits */
#define SF_TOK_ALPHA    0x08 /* only letters */
#define SF_TOK_LONG     0x10 /* plain form was cut at SF_FORM_MAX: never matches */
#define SF_TOK_HOUSENUM 0x20 /* 1-5 digits, optionally one letter: "12", "221b" */

typedef struct {
    const char *text;
    size_t len;
    sf_tok_t *toks;
    size_t ntoks, toks_cap;
    char *pool;
    size_t pool_len, pool_cap;
} sf_scan_t;

typedef struct {
    uint8_t category;
    bool severe;
    uint32_t start, end;   /* bytes */
    uint32_t tok0, tok1;   /* token range (inclusive); UINT32_MAX for raw personal-data spans */
    const sf_rule_t *rule; /* NULL for personal data */
    const char *repl;      /* replacement text (personal data: static); NULL = none */
    size_t repl_len;
    uint8_t case_flags; /* SF_TOK_UPPER1 / SF_TOK_ALLCAPS of the first word */
} sf_hit_t;

typedef struct {
    sf_hit_t *v;
    size_t n, cap;
} sf_hits_t;

/* safety_norm.c */
int sf_scan(sf_scan_t *sc, const char *text, size_t len);
void sf_scan_free(sf_scan_t *sc);
static inline const char *sf_form(const sf_scan_t *sc, const sf_tok_t *t, int i)
{
    return sc->pool + t->form_off[i];
}
/* Normalises one data-file word into out (lower-case, folded, apostrophes dropped, runs of a
 * letter cut to three); returns the length, 0 when nothing is left, -1 when too long or when it
 * holds a character a text word can never normalise to. */
int sf_norm_term(const char *w, size_t n, char *out, size_t cap);
/* Writes the squeezed form (each run of a letter once) of s into out; returns its length. */
size_t sf_squeeze(const char *s, size_t n, char *out);
/* Run-length dominance: true when tok spells term with each run of term either kept or
 * stretched to three or more letters ("kiiill" matches "kill", "kil" and "as" do not match
 * "kill" and "ass"). */
bool sf_dominates(const char *tok, size_t tn, const char *term, size_t sn);
uint64_t sf_hash(const char *s, size_t n);

/* safety_load.c */
const sf_link_t *sf_lookup(const sf_table_t *t, const char *key, size_t n);
static inline const char *sf_str(const sf_table_t *t, sf_str_t s)
{
    return t->pool + s.off;
}

/* safety_builtin.c: the compiled-in minimal lists (always loaded). */
extern const safety_source_t sf_builtin_sources[];
extern const size_t sf_builtin_nsources;

/* safety_match.c */
int sf_hits_push(sf_hits_t *h, const sf_hit_t *hit);
/* Appends a hit for every rule of t matched in the text. strict (the allow-list): plain forms
 * compared exactly; otherwise every form, with stretched letters accepted. Tokens with a
 * non-zero excluded[] entry never match. */
int sf_match(const sf_table_t *t, bool strict, const sf_scan_t *sc, const uint8_t *excluded,
             sf_hits_t *out);

/* safety_pii.c: appends personal-data hits; marks tokens inside them in excluded[]. */
int sf_find_pii(const sf_scan_t *sc, sf_hits_t *out, uint8_t *excluded);

#endif
