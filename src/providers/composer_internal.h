/* composer internals shared by the composer_*.c files only: the seeded random generator, the
 * phrase grammar and its expansion context, the lexicon tables and prompt analysis. Nothing here
 * is part of the public API (see composer.h). All tables are const; all state lives in a
 * composer__ctx_t owned by one composer_write call, which is what makes the module thread-safe. */
#ifndef NOVA_PROVIDERS_COMPOSER_INTERNAL_H
#define NOVA_PROVIDERS_COMPOSER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "providers/composer.h"

/* Copies src into dst (cap bytes), truncating without splitting a UTF-8 sequence. */
void composer__copy(char *dst, size_t cap, const char *src);

/* ---- random numbers: splitmix64, seeded from an FNV-1a hash of the input ---- */
typedef struct {
    uint64_t s;
} composer__rng_t;

uint64_t composer__hash(uint64_t h, const void *data, size_t len);
uint64_t composer__rng_next(composer__rng_t *r);
size_t composer__rng_below(composer__rng_t *r, size_t n); /* 0..n-1; 0 when n is 0 */

/* ---- lexicon ---- */
/* A grammar symbol: alternatives written in the phrase language that composer__expand reads:
 * literal text, {symbol} references, [a|b|c] choices and [?optional clause] groups. A symbol
 * "x+" adds alternatives to "x" from the intermediate level up, "x++" from the advanced one. */
typedef struct {
    const char *name;
    const char *const *alts; /* NULL-terminated */
} composer__sym_t;

typedef struct {
    const composer__sym_t *syms;
    size_t n;
} composer__symtab_t;

#define COMPOSER__ALTS(...) ((const char *const[]){__VA_ARGS__, NULL})

const composer__symtab_t *composer__lexicon_common(void);
const composer__symtab_t *composer__lexicon_template(composer_template_t t);
const composer__symtab_t *composer__lex_adventure(void);
const composer__symtab_t *composer__lex_fantasy(void);
const composer__symtab_t *composer__lex_scifi(void);
const composer__symtab_t *composer__lex_mystery(void);
const composer__symtab_t *composer__lex_educational(void);

/* Word classes used by prompt analysis and the plan. */
typedef enum {
    COMPOSER__NOUN_UNKNOWN = 0,
    COMPOSER__NOUN_CREATURE, /* can be a character: dragon, girl, robot */
    COMPOSER__NOUN_PLACE,    /* can be a setting: castle, forest, moon */
    COMPOSER__NOUN_OBJECT,   /* a thing to find or carry: key, kite, map */
} composer__noun_class_t;

composer__noun_class_t composer__noun_class(const char *lower_word);
/* Body covering of a kind ("fur", "scales", "feathers", "hair", "metal", "skin"). */
const char *composer__kind_coat(const char *kind);
bool composer__kind_is_person(const char *kind);
bool composer__is_stopword(const char *lower_word);
bool composer__is_unsafe(const char *lower_word);
bool composer__is_adjective(const char *lower_word);
/* Past tense for the handful of present-tense verbs a prompt clause usually starts with. */
const char *composer__past_tense(const char *lower_word);
/* 0 she, 1 he, -1 unknown, for names in the built-in pools. */
int composer__name_gender(const char *name);
bool composer__is_place_name(const char *name); /* Mars, Paris... */
bool composer__is_title_word(const char *word); /* Captain, Princess... */

extern const char *const composer__hero_names_she[];
extern const char *const composer__hero_names_he[];
extern const char *const composer__colours[];
extern const char *const composer__picture_nouns[]; /* illustrator object vocabulary */

typedef struct {
    const char *word;
    const char *meaning;
} composer__hard_word_t;
extern const composer__hard_word_t composer__hard_words[];

/* Educational topics: trigger nouns and simple, true facts written as clauses. */
typedef struct {
    const char *name;     /* "bees" */
    const char *triggers; /* space separated lower-case words */
    const char *place;    /* where the lesson happens, with article */
    const char *object;   /* what the hero brings home */
    const char *const *facts;
} composer__topic_t;
extern const composer__topic_t composer__topics[];
extern const size_t composer__n_topics;

/* ---- prompt analysis ---- */
#define COMPOSER__MAX_NAMES 4
#define COMPOSER__MAX_NOUNS 12

typedef struct {
    char word[32];
    char adj[48]; /* adjectives that came before it in the prompt ("brave little") */
    composer__noun_class_t cls;
    bool plural;
} composer__noun_t;

typedef struct {
    char names[COMPOSER__MAX_NAMES][64];
    char name_kind[COMPOSER__MAX_NAMES][40]; /* "dragon" for "a dragon named Ember", or "" */
    size_t n_names;
    composer__noun_t nouns[COMPOSER__MAX_NOUNS];
    size_t n_nouns;
    char who[160];    /* "who was afraid of the dark" (past tense), or "" */
    int pronoun_hint; /* 0 she, 1 he, -1 none */
} composer__prompt_t;

void composer__prompt_analyze(const char *text, composer__prompt_t *out);

/* ---- expansion context ---- */
typedef struct {
    char name[64];
    char kind[40];
    char adj[48];     /* short description before the kind: "brave little" */
    char coat[24];    /* "fur" */
    char looks[128];  /* "soft orange fur and bright green eyes" */
    char clothes[96]; /* without article: "red scarf" */
    char who[160];
    int pron; /* 0 she, 1 he, 2 they */
} composer__cast_t;

enum { COMPOSER__HERO = 0, COMPOSER__FRIEND = 1, COMPOSER__HELPER = 2, COMPOSER__CAST = 3 };

#define COMPOSER__MAX_PLACES 12

typedef struct {
    composer__rng_t rng;
    composer_template_t tpl;
    const composer__symtab_t *tabs[2]; /* template first, then common */
    int tier;                          /* vocabulary tier 0..2 */
    int clause_pct;                    /* chance of [?optional] groups */
    composer__cast_t cast[COMPOSER__CAST];
    int cur;         /* character last picked by {C} */
    bool helper_met; /* {C} may pick the helper */
    char quest[64];  /* quest object without article */
    bool quest_plural;
    char nouns[COMPOSER__MAX_NOUNS][32]; /* prompt object nouns for {N} */
    size_t n_nouns;
    char places[COMPOSER__MAX_PLACES][96]; /* journey places with article */
    size_t n_places, place_i;
    bool at_home; /* before the first journey: {place} is home */
    char home[96];
    int topic; /* index into composer__topics, educational only */
    size_t fact_i;
    const char *special; /* text for {SPECIAL}: the moral or picture description */
} composer__ctx_t;

/* Expands a phrase into out. Returns 0 or a buf error. */
int composer__expand(composer__ctx_t *c, const char *phrase, buf_t *out);
/* Expands one alternative of symbol `sym` into out as a finished sentence: articles fixed,
 * first letter capitalised, final punctuation ensured. Returns 0, -ENOENT or a buf error. */
int composer__sentence(composer__ctx_t *c, const char *sym, buf_t *out);
/* Fixes spacing and a/an in s in place; s has room for cap bytes (a may become an). */
void composer__tidy(char *s, size_t cap);
size_t composer__count_words(const char *s, size_t len);
void composer__titlecase(char *s);

/* ---- story assembly ---- */
struct composer_story {
    char title[208];
    char *text; /* malloc, NUL-terminated */
    size_t text_len;
    composer_template_t tpl;
    composer_plan_t plan;
};

/* composer_cast.c: copies s to out (cap bytes) with control characters turned to spaces,
 * runs of spaces collapsed and ends trimmed; with strip_end also trailing punctuation and
 * surrounding quotes. */
void composer__clean(const char *s, char *out, size_t cap, bool strip_end);
/* Seeds the context and chooses the cast, quest object, places and topic; fills
 * st->plan.characters. */
void composer__setup(composer__ctx_t *c, const composer_input_t *in, composer_story_t *st);
/* composer_story.c: writes title, text and the per-part plan. Returns 0 or -ENOMEM. */
int composer__build(composer__ctx_t *c, const composer_input_t *in, composer_story_t *st);
/* composer_plan.c: fills a part plan from its text (characters present, picture nouns). */
void composer__plan_part(const composer__ctx_t *c, const composer_story_t *st, const char *text,
                         size_t len, composer_part_plan_t *pp);
/* Adds 3..5 comprehension questions fitted to the age range. */
void composer__plan_questions(const composer__ctx_t *c, const composer_input_t *in,
                              composer_story_t *st, const char *lesson, const char *text);

#endif
