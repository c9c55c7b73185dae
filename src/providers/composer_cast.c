/* composer cast: seeds the random generator from the whole input and chooses who is in the
 * story (the listener, the prompt's own characters, template companions), what they look like,
 * what they are looking for and where they go. */
#include "providers/composer_internal.h"

#include <stdio.h>
#include <string.h>

void composer__clean(const char *s, char *out, size_t cap, bool strip_end)
{
    size_t o = 0;
    if (!cap) return;
    for (size_t i = 0; s && s[i] && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) ch = ' ';
        if (ch == ' ' && (o == 0 || out[o - 1] == ' ')) continue;
        out[o++] = (char)ch;
    }
    /* Never cut a UTF-8 sequence in half when the bound was hit. */
    while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
        o--;
    if (o > 0 && (unsigned char)out[o - 1] >= 0xC0) o--;
    out[o] = '\0';
    if (strip_end) {
        while (o > 0 && strchr(" .!?,;:\"'", out[o - 1]))
            out[--o] = '\0';
        size_t lead = 0;
        while (out[lead] == '"' || out[lead] == '\'' || out[lead] == ' ')
            lead++;
        memmove(out, out + lead, o - lead + 1);
    } else {
        while (o > 0 && out[o - 1] == ' ')
            out[--o] = '\0';
    }
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    static const char sep = '\x1f';
    if (s) h = composer__hash(h, s, strlen(s));
    return composer__hash(h, &sep, 1);
}

static uint64_t seed_of(const composer_input_t *in)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    int nums[] = {(int)in->template_id, in->age_min,   in->age_max,
                  in->target_words,     in->parts,     (int)in->level,
                  in->sound_effects,    in->questions, in->explain_words};
    h = hash_str(h, in->prompt);
    h = hash_str(h, in->image_description);
    h = hash_str(h, in->moral);
    h = hash_str(h, in->child_name);
    return composer__hash(h, nums, sizeof nums);
}

static void expand_to(composer__ctx_t *c, const char *phrase, char *out, size_t cap)
{
    buf_t b;
    buf_init(&b, 512);
    out[0] = '\0';
    if (composer__expand(c, phrase, &b) == 0 && b.data) composer__copy(out, cap, b.data);
    buf_free(&b);
}

/* Splits "a:b:c" into at most 4 fields. */
static size_t split_entry(const char *e, char f[4][64])
{
    size_t n = 0, k = 0;
    memset(f, 0, 4 * 64);
    for (; *e && n < 4; e++) {
        if (*e == ':') {
            n++;
            k = 0;
        } else if (k < 63) {
            f[n][k++] = *e;
        }
    }
    return n + 1;
}

static int kind_gender(const char *kind)
{
    static const char *const she[] = {"girl",    "princess", "queen",       "grandma", "sister",
                                      "mermaid", "witch",    "fairy queen", NULL};
    static const char *const he[] = {"boy", "prince", "king", "grandpa", "brother", NULL};
    for (size_t i = 0; she[i]; i++)
        if (!strcmp(kind, she[i])) return 0;
    for (size_t i = 0; he[i]; i++)
        if (!strcmp(kind, he[i])) return 1;
    return -1;
}

static void gen_name(composer__ctx_t *c, int pron, char *out, size_t cap, const char *avoid1,
                     const char *avoid2)
{
    if (pron == 2) pron = (int)composer__rng_below(&c->rng, 2);
    const char *const *pool = pron == 0 ? composer__hero_names_she : composer__hero_names_he;
    size_t n = 0;
    while (pool[n])
        n++;
    for (int tries = 0; tries < 8; tries++) {
        const char *nm = pool[composer__rng_below(&c->rng, n)];
        if ((avoid1 && !strcmp(nm, avoid1)) || (avoid2 && !strcmp(nm, avoid2))) continue;
        composer__copy(out, cap, nm);
        return;
    }
    composer__copy(out, cap, pron == 0 ? "Juniper" : "Bartholomew");
}

static const char *pick(composer__ctx_t *c, const char *const *list, size_t n)
{
    return list[composer__rng_below(&c->rng, n)];
}

#define PICK(c, arr) pick((c), (arr), sizeof(arr) / sizeof((arr)[0]))

/* Chooses colours, looks and clothes so an illustrator can draw the same character in every
 * picture; the story text reuses the same words. */
static void describe(composer__ctx_t *c, composer__cast_t *k, composer_character_t *pc)
{
    static const char *const eyes[] = {"bright", "twinkly", "big round", "kind", "sparkly"};
    static const char *const hair[] = {"curly black",  "short brown", "long red",
                                       "wavy golden",  "fluffy dark", "straight black",
                                       "bouncy auburn"};
    static const char *const wear_person[] = {"raincoat", "jumper", "dungarees", "cape",
                                              "hoodie",   "dress",  "waistcoat"};
    static const char *const wear_animal[] = {"scarf", "bow tie", "backpack", "hat", "neckerchief"};
    static const char *const wear_robot[] = {"antenna cap", "bow tie", "tool belt"};
    size_t nc = 0;
    while (composer__colours[nc])
        nc++;
    size_t want = 2 + composer__rng_below(&c->rng, 2), got = 0;
    while (got < want) {
        const char *col = composer__colours[composer__rng_below(&c->rng, nc)];
        bool dup = false;
        for (size_t i = 0; i < got; i++)
            if (!strcmp(pc->colours[i], col)) dup = true;
        if (!dup) composer__copy(pc->colours[got++], sizeof pc->colours[0], col);
    }
    pc->n_colours = got;
    const char *c1 = pc->colours[0], *c2 = pc->colours[1];
    composer__copy(k->coat, sizeof k->coat, composer__kind_coat(k->kind));
    const char *coat = k->coat;
    if (!strcmp(coat, "hair"))
        snprintf(k->looks, sizeof k->looks, "%s hair and %s eyes", PICK(c, hair), PICK(c, eyes));
    else if (!strcmp(coat, "metal"))
        snprintf(k->looks, sizeof k->looks, "shiny %s metal and two round lights for eyes", c1);
    else if (!strcmp(coat, "shell") || !strcmp(coat, "wings"))
        snprintf(k->looks, sizeof k->looks, "a %s %s with little %s spots", c1,
                 !strcmp(coat, "shell") ? "shell" : "pair of wings", c2);
    else
        snprintf(k->looks, sizeof k->looks, "%s %s %s and %s eyes",
                 !strcmp(coat, "fur")        ? "soft"
                 : !strcmp(coat, "feathers") ? "fluffy"
                 : !strcmp(coat, "scales")   ? "shiny"
                                             : "smooth",
                 c1, coat, PICK(c, eyes));
    const char *wear = composer__kind_is_person(k->kind) ? PICK(c, wear_person)
                       : !strcmp(coat, "metal")          ? PICK(c, wear_robot)
                                                         : PICK(c, wear_animal);
    snprintf(k->clothes, sizeof k->clothes, "%s %s", c2, wear);
    composer__copy(pc->name, sizeof pc->name, k->name);
    composer__copy(pc->kind, sizeof pc->kind, k->kind);
    composer__copy(pc->looks, sizeof pc->looks, k->looks);
    /* Clipping to the plan's fixed field is intended: the article plus the clothes phrase. */
    const char *article = strchr("aeiou", k->clothes[0]) ? "an " : "a ";
    composer__copy(pc->clothes, sizeof pc->clothes, article);
    size_t used = strlen(pc->clothes);
    composer__copy(pc->clothes + used, sizeof pc->clothes - used, k->clothes);
}

/* Fills k from a template cast entry "adj:kind[:Name]:pron". */
static void from_entry(composer__ctx_t *c, const char *sym, composer__cast_t *k, bool named)
{
    char e[200], f[4][64];
    expand_to(c, sym, e, sizeof e);
    size_t n = split_entry(e, f);
    composer__copy(k->adj, sizeof k->adj, f[0]);
    composer__copy(k->kind, sizeof k->kind, n > 1 ? f[1] : "friend");
    if (named && n > 3) {
        composer__copy(k->name, sizeof k->name, f[2]);
        k->pron = f[3][0] - '0';
    } else {
        k->pron = n > 2 ? f[n - 1][0] - '0' : 2;
    }
    if (k->pron < 0 || k->pron > 2) k->pron = 2;
}

static const composer__noun_t *next_creature(const composer__prompt_t *pa, size_t *cursor,
                                             const char *avoid)
{
    for (; *cursor < pa->n_nouns; (*cursor)++)
        if (pa->nouns[*cursor].cls == COMPOSER__NOUN_CREATURE &&
            strcmp(pa->nouns[*cursor].word, avoid) != 0)
            return &pa->nouns[(*cursor)++];
    return NULL;
}

/* The main character the prompt talks about: its first name and/or first creature noun. */
static bool prompt_character(composer__ctx_t *c, const composer__prompt_t *pa, size_t idx,
                             size_t *cursor, composer__cast_t *k, const char *avoid_kind,
                             const char *avoid_name)
{
    const composer__noun_t *cr = NULL;
    bool has_name = idx < pa->n_names;
    if (!has_name || !pa->name_kind[idx][0]) cr = next_creature(pa, cursor, avoid_kind);
    if (!has_name && !cr) return false;
    from_entry(c, "{hero}", k, false);
    if (has_name && pa->name_kind[idx][0]) {
        composer__copy(k->kind, sizeof k->kind, pa->name_kind[idx]);
        k->adj[0] = '\0';
        for (size_t i = 0; i < pa->n_nouns; i++)
            if (!strcmp(pa->nouns[i].word, k->kind))
                composer__copy(k->adj, sizeof k->adj, pa->nouns[i].adj);
    } else if (cr) {
        composer__copy(k->kind, sizeof k->kind, cr->word);
        if (cr->adj[0]) composer__copy(k->adj, sizeof k->adj, cr->adj);
    }
    int g = kind_gender(k->kind);
    if (has_name) {
        composer__copy(k->name, sizeof k->name, pa->names[idx]);
        int ng = composer__name_gender(k->name);
        if (g < 0 && idx == 0) g = pa->pronoun_hint;
        if (g < 0) g = ng;
        if (!cr && !pa->name_kind[idx][0] && ng >= 0)
            composer__copy(k->kind, sizeof k->kind, ng ? "boy" : "girl");
        k->pron = g >= 0 ? g : 2;
    } else {
        if (g < 0 && idx == 0) g = pa->pronoun_hint;
        k->pron = g >= 0 ? g : (int)composer__rng_below(&c->rng, 2);
        gen_name(c, k->pron, k->name, sizeof k->name, avoid_name, NULL);
    }
    if (idx == 0) composer__copy(k->who, sizeof k->who, pa->who);
    return true;
}

static void choose_cast(composer__ctx_t *c, const composer_input_t *in,
                        const composer__prompt_t *pa)
{
    composer__cast_t *hero = &c->cast[COMPOSER__HERO], *friend = &c->cast[COMPOSER__FRIEND];
    size_t cursor = 0, next_name = 0;
    char child[COMPOSER_MAX_CHILD_NAME + 1] = "";
    composer__clean(in->child_name, child, sizeof child, true);
    if (child[0]) {
        from_entry(c, "{hero}", hero, false);
        composer__copy(hero->name, sizeof hero->name, child);
        if (hero->name[0] >= 'a' && hero->name[0] <= 'z')
            hero->name[0] = (char)(hero->name[0] - 32);
        int g = composer__name_gender(hero->name);
        hero->pron = g >= 0 ? g : 2;
        composer__copy(hero->kind, sizeof hero->kind, g == 0 ? "girl" : g == 1 ? "boy" : "child");
    } else if (prompt_character(c, pa, 0, &cursor, hero, "", NULL)) {
        next_name = 1;
    } else {
        from_entry(c, "{hero}", hero, false);
        gen_name(c, hero->pron, hero->name, sizeof hero->name, NULL, NULL);
    }
    if (!prompt_character(c, pa, next_name, &cursor, friend, hero->kind, hero->name) ||
        !strcmp(friend->name, hero->name)) {
        memset(friend, 0, sizeof *friend);
        from_entry(c, "{friend}", friend, false);
        gen_name(c, friend->pron, friend->name, sizeof friend->name, hero->name, NULL);
    }
    composer__cast_t *helper = &c->cast[COMPOSER__HELPER];
    for (int tries = 0; tries < 4; tries++) {
        from_entry(c, "{helper}", helper, true);
        if (strcmp(helper->name, hero->name) != 0 && strcmp(helper->name, friend->name) != 0) break;
    }
}

static void choose_places(composer__ctx_t *c, const composer__prompt_t *pa)
{
    char home[96];
    expand_to(c, "{home_place}", home, sizeof home);
    /* Homes are written "a yellow cottage"; the story always says "the yellow cottage". */
    snprintf(c->home, sizeof c->home, "%s%.90s", strncmp(home, "a ", 2) ? "" : "the ",
             strncmp(home, "a ", 2) ? home : home + 2);
    c->at_home = true;
    c->n_places = 0;
    if (c->tpl == COMPOSER_TEMPLATE_EDUCATIONAL)
        composer__copy(c->places[c->n_places++], sizeof c->places[0],
                       composer__topics[c->topic].place);
    for (size_t i = 0; i < pa->n_nouns && c->n_places < 3; i++) {
        const composer__noun_t *n = &pa->nouns[i];
        if (n->cls != COMPOSER__NOUN_PLACE) continue;
        if (n->word[0] >= 'A' && n->word[0] <= 'Z')
            composer__copy(c->places[c->n_places++], sizeof c->places[0], n->word);
        else if (!strcmp(n->word, "space"))
            snprintf(c->places[c->n_places++], sizeof c->places[0], "outer space");
        else
            snprintf(c->places[c->n_places++], sizeof c->places[0], "the %s%s%s", n->adj,
                     n->adj[0] ? " " : "", n->word);
    }
    for (int tries = 0; tries < 40 && c->n_places < COMPOSER__MAX_PLACES; tries++) {
        char p[96];
        expand_to(c, "{journey_place}", p, sizeof p);
        /* "the Wobbly Bridge" and "the Rope Bridge" are the same kind of place: keep one. */
        bool dup = !p[0];
        const char *last = strrchr(p, ' ');
        for (size_t i = 0; i < c->n_places && !dup; i++) {
            const char *ol = strrchr(c->places[i], ' ');
            if (!strcmp(c->places[i], p) || (last && ol && !strcmp(ol, last))) dup = true;
        }
        if (!dup) composer__copy(c->places[c->n_places++], sizeof c->places[0], p);
    }
}

static void choose_topic(composer__ctx_t *c, const composer__prompt_t *pa, const char *prompt)
{
    c->topic = (int)composer__rng_below(&c->rng, composer__n_topics);
    for (size_t t = 0; t < composer__n_topics; t++) {
        const char *tr = composer__topics[t].triggers;
        for (size_t i = 0; i < pa->n_nouns; i++) {
            const char *w = pa->nouns[i].word;
            const char *hit = strstr(tr, w);
            size_t wl = strlen(w);
            if (hit && (hit == tr || hit[-1] == ' ') && (hit[wl] == ' ' || hit[wl] == '\0')) {
                c->topic = (int)t;
                return;
            }
        }
    }
    (void)prompt;
}

static void choose_quest(composer__ctx_t *c, const composer__prompt_t *pa)
{
    const composer__noun_t *q = NULL;
    for (size_t pass = 0; pass < 2 && !q; pass++)
        for (size_t i = 0; i < pa->n_nouns && !q; i++)
            if (pa->nouns[i].cls == (pass ? COMPOSER__NOUN_UNKNOWN : COMPOSER__NOUN_OBJECT))
                q = &pa->nouns[i];
    c->n_nouns = 0;
    for (size_t i = 0; i < pa->n_nouns && c->n_nouns < COMPOSER__MAX_NOUNS; i++) {
        const composer__noun_t *n = &pa->nouns[i];
        if (n->cls != COMPOSER__NOUN_OBJECT && n->cls != COMPOSER__NOUN_UNKNOWN) continue;
        snprintf(c->nouns[c->n_nouns++], sizeof c->nouns[0], "%.14s%s%.16s", n->adj,
                 n->adj[0] ? " " : "", n->word);
    }
    if (c->tpl == COMPOSER_TEMPLATE_EDUCATIONAL) {
        composer__copy(c->quest, sizeof c->quest, composer__topics[c->topic].object);
        c->quest_plural = false;
    } else if (q) {
        snprintf(c->quest, sizeof c->quest, "%.30s%s%.30s", q->adj, q->adj[0] ? " " : "", q->word);
        c->quest_plural = q->plural;
    } else {
        expand_to(c, "{quest}", c->quest, sizeof c->quest);
        c->quest_plural = false;
    }
}

void composer__setup(composer__ctx_t *c, const composer_input_t *in, composer_story_t *st)
{
    static const int clause[] = {15, 40, 65};
    composer__prompt_t pa, ia;
    memset(c, 0, sizeof *c);
    c->rng.s = seed_of(in);
    c->tpl = in->template_id;
    c->tabs[0] = composer__lexicon_template(in->template_id);
    c->tabs[1] = composer__lexicon_common();
    c->tier = (int)in->level;
    if (in->age_max <= 5 && c->tier > 1) c->tier = 1;
    c->clause_pct = clause[in->level] + (in->age_min >= 9 ? 10 : in->age_max <= 5 ? -10 : 0);
    if (c->clause_pct < 0) c->clause_pct = 0;
    composer__prompt_analyze(in->prompt, &pa);
    if (in->image_description && in->image_description[0]) {
        /* Picture nouns join the prompt's own so the story and the picture agree. */
        composer__prompt_analyze(in->image_description, &ia);
        for (size_t i = 0; i < ia.n_nouns && pa.n_nouns < COMPOSER__MAX_NOUNS; i++)
            if (ia.nouns[i].cls != COMPOSER__NOUN_CREATURE) pa.nouns[pa.n_nouns++] = ia.nouns[i];
    }
    choose_topic(c, &pa, in->prompt);
    choose_cast(c, in, &pa);
    choose_quest(c, &pa);
    choose_places(c, &pa);
    static const char *const roles[] = {"hero", "friend", "helper"};
    for (size_t i = 0; i < COMPOSER__CAST; i++) {
        describe(c, &c->cast[i], &st->plan.characters[i]);
        composer__copy(st->plan.characters[i].role, sizeof st->plan.characters[i].role, roles[i]);
    }
    st->plan.n_characters = COMPOSER__CAST;
}
