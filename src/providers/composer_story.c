/* composer story: lays out the parts (opening, journeys, ending), fills each part with plot
 * beats and small "texture" moments until its share of the word target is met, and assembles
 * headings, paragraphs, listener questions and word explanations into the final text. */
#include "providers/composer_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { K_SYM, K_IMAGE, K_MORAL, K_SFX, K_FACT, K_MEET, K_TRAVEL };

typedef struct {
    const char *sym;
    int kind;
    int prio; /* 0 must, 1 wanted, 2 nice */
    int dep;  /* index of a beat this one needs, or -1 */
    int pair; /* index of the beat this one is told together with (a problem and its fix) */
} spec_t;

typedef struct {
    size_t off, len, words;
    int prio, dep, pair;
    bool travel;
    size_t place_i;
    bool helper, included, sfx, at_home;
} sent_t;

typedef struct {
    sent_t *v;
    size_t n, cap;
    buf_t pool; /* sentence texts, NUL-separated */
} sents_t;

typedef struct {
    uint64_t *h;
    size_t n, cap;
} seen_t;

typedef struct {
    composer__ctx_t *c;
    const composer_input_t *in;
    composer_story_t *st;
    buf_t out;
    size_t words;
    seen_t seen;
    char moral[COMPOSER_MAX_MORAL + 1];
    char image[COMPOSER_MAX_IMAGE_DESC + 64];
    bool explained[64];
    int n_explained, max_explained;
    int explain_left; /* explanations this part may still add (its words were reserved) */
    bool compact;
    int est; /* estimated words per sentence */
} story_t;

static bool seen_add(seen_t *s, const char *text)
{
    uint64_t h = composer__hash(0xcbf29ce484222325ULL, text, strlen(text));
    for (size_t i = 0; i < s->n; i++)
        if (s->h[i] == h) return false;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 128;
        uint64_t *nh = realloc(s->h, cap * sizeof *nh);
        if (!nh) return true; /* dedup is best effort */
        s->h = nh;
        s->cap = cap;
    }
    s->h[s->n++] = h;
    return true;
}

static int sents_push(sents_t *s, const char *text, size_t len, int prio, int dep)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        sent_t *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) return -ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    sent_t *e = &s->v[s->n++];
    memset(e, 0, sizeof *e);
    e->off = s->pool.len;
    e->len = len;
    e->words = composer__count_words(text, len);
    e->prio = prio;
    e->dep = dep;
    e->pair = -1;
    int rc = buf_append(&s->pool, text, len);
    return rc ? rc : buf_append(&s->pool, "", 1);
}

static const char *sent_text(const sents_t *s, size_t i)
{
    return s->pool.data + s->v[i].off;
}

/* ---- part layouts ---- */

#define MAX_SPECS 64

static size_t add(spec_t *v, size_t n, const char *sym, int kind, int prio, int dep)
{
    if (n >= MAX_SPECS) return n;
    v[n] = (spec_t){sym, kind, prio, dep, -1};
    return n + 1;
}

static size_t add_episode(const story_t *s, spec_t *v, size_t n, int variant, bool must)
{
    n = add(v, n, "travel", K_TRAVEL, must ? 0 : 1, -1);
    n = add(v, n, "arrive", K_SYM, 2, (int)n - 1);
    if (variant == 0) {
        size_t m = n;
        n = add(v, n, "meet", K_MEET, must && !s->compact ? 0 : 1, -1);
        n = add(v, n, "advice", K_SYM, 1, (int)m);
        n = add(v, n, "clue", K_SYM, 2, -1);
    } else if (variant == 1) {
        size_t o = n;
        n = add(v, n, "obstacle", K_SYM, 1, -1);
        n = add(v, n, "try", K_SYM, 2, (int)o);
        n = add(v, n, "solve", K_SYM, 1, (int)o);
        v[o].pair = (int)n - 1;
    } else {
        n = add(v, n, "clue", K_SYM, 1, -1);
        n = add(v, n, "setback", K_SYM, 2, -1);
        n = add(v, n, "obstacle", K_SYM, 2, -1);
        v[n - 1].pair = (int)n;
        n = add(v, n, "solve", K_SYM, 2, (int)n - 1);
    }
    if (s->c->tpl == COMPOSER_TEMPLATE_EDUCATIONAL) {
        n = add(v, n, "fact_say", K_FACT, must && !s->compact ? 0 : 1, -1);
        n = add(v, n, "fact_say", K_FACT, 1, -1);
    }
    return n;
}

static size_t layout(story_t *s, size_t part, size_t nparts, int budget, spec_t *v)
{
    size_t n = 0;
    bool first = part == 0, last = part + 1 == nparts;
    bool edu = s->c->tpl == COMPOSER_TEMPLATE_EDUCATIONAL;
    if (first) {
        n = add(v, n, "intro", K_SYM, 0, -1);
        if (s->image[0]) n = add(v, n, "image_wrap", K_IMAGE, 0, -1);
        n = add(v, n, "looks", K_SYM, 2, -1);
        n = add(v, n, "wish", K_SYM, 1, -1);
        n = add(v, n, "friend_intro", K_SYM, 1, -1);
        n = add(v, n, "intro_home", K_SYM, 2, -1);
        n = add(v, n, "inciting", K_SYM, 1, -1);
        if (edu) n = add(v, n, "fact_say", K_FACT, 2, -1);
        n = add(v, n, "decide", K_SYM, 2, -1);
    }
    /* The helper is met once, in the first journey part; later parts alternate obstacles and
     * clues. */
    if (!first && !last) n = add_episode(s, v, n, part == 1 ? 0 : 1 + (int)(part % 2), true);
    if (last && nparts <= 2) n = add_episode(s, v, n, 0, nparts == 2);
    /* Long parts get extra episodes so the plot keeps moving instead of only describing. */
    size_t tail = last ? 6 : 0;
    int variant = (int)(part % 2);
    while ((int)((n + tail) * (size_t)s->est) < budget * 55 / 100 && n + 8 < MAX_SPECS - tail)
        n = add_episode(s, v, n, 1 + variant++ % 2, false);
    if (last) {
        if (nparts > 2) {
            n = add(v, n, "obstacle", K_SYM, 2, -1);
            v[n - 1].pair = (int)n;
            n = add(v, n, "solve", K_SYM, 2, (int)n - 1);
        }
        n = add(v, n, "climax", K_SYM, 1, -1);
        n = add(v, n, "discover", K_SYM, 0, -1);
        n = add(v, n, "resolve", K_SYM, 2, -1);
        n = add(v, n, "moral_wrap", K_MORAL, 0, -1);
        n = add(v, n, "return", K_SYM, 2, -1);
        n = add(v, n, "end", K_SYM, 1, -1);
    }
    return n;
}

/* ---- generation ---- */

/* Simple stories keep the shorter of two candidate sentences and advanced ones the longer,
 * which (with the richer vocabulary tiers) is what makes the levels read differently. */
/* A story squeezed into few words per part ("compact") keeps the shortest of three. */
static int gen_sentence(story_t *s, const char *sym, buf_t *tmp)
{
    buf_reset(tmp);
    int rc = composer__sentence(s->c, sym, tmp);
    bool shorter = s->compact || s->in->level == COMPOSER_LEVEL_SIMPLE;
    int extra = s->compact ? 2 : s->in->level == COMPOSER_LEVEL_INTERMEDIATE ? 0 : 1;
    buf_t alt;
    buf_init(&alt, 4096);
    for (int k = 0; k < extra && !rc; k++) {
        buf_reset(&alt);
        rc = composer__sentence(s->c, sym, &alt);
        if (rc || !alt.data) break;
        size_t a = composer__count_words(tmp->data, tmp->len);
        size_t b = composer__count_words(alt.data, alt.len);
        if (shorter ? b < a : b > a) {
            buf_reset(tmp);
            rc = buf_append(tmp, alt.data, alt.len);
        }
    }
    buf_free(&alt);
    return rc;
}

static int gen_beats(story_t *s, const spec_t *v, size_t n, sents_t *out)
{
    composer__ctx_t *c = s->c;
    buf_t tmp;
    buf_init(&tmp, 4096);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const spec_t *sp = &v[i];
        if (sp->kind == K_TRAVEL && c->n_places) {
            if (!c->at_home) c->place_i = (c->place_i + 1) % c->n_places;
            c->at_home = false;
        }
        c->special = sp->kind == K_MORAL ? s->moral : sp->kind == K_IMAGE ? s->image : NULL;
        if (sp->kind == K_FACT) {
            const char *const *f = composer__topics[c->topic].facts;
            size_t nf = 0;
            while (f[nf])
                nf++;
            if (c->fact_i >= nf) {
                rc = sents_push(out, "", 0, 3, -1); /* placeholder, never included */
                continue;
            }
        }
        for (int tries = 0; tries < 4; tries++) {
            rc = gen_sentence(s, sp->sym, &tmp);
            if (rc || seen_add(&s->seen, tmp.data ? tmp.data : "")) break;
        }
        if (sp->kind == K_MEET) c->helper_met = true;
        if (!rc) rc = sents_push(out, tmp.data ? tmp.data : "", tmp.len, sp->prio, sp->dep);
        if (!rc) out->v[out->n - 1].place_i = c->place_i;
        if (!rc) out->v[out->n - 1].helper = c->helper_met;
        if (!rc) out->v[out->n - 1].at_home = c->at_home;
        if (!rc) out->v[out->n - 1].pair = sp->pair;
        if (!rc) out->v[out->n - 1].travel = sp->kind == K_TRAVEL;
    }
    buf_free(&tmp);
    return rc;
}

/* Marks beats to include: every must, then wanted and nice ones while they fit. */
static size_t select_beats(sents_t *b, int budget)
{
    size_t total = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].prio == 0) {
            b->v[i].included = true;
            total += b->v[i].words;
        }
    for (int prio = 1; prio <= 2; prio++)
        for (size_t i = 0; i < b->n; i++) {
            sent_t *e = &b->v[i];
            if (e->prio != prio || !e->len) continue;
            if (e->included || (e->dep >= 0 && !b->v[e->dep].included)) continue;
            /* A problem is only told together with the sentence that follows it up. */
            size_t w = e->words;
            sent_t *next = e->pair >= 0 && (size_t)e->pair < b->n ? &b->v[e->pair] : NULL;
            if (next && next->included) next = NULL;
            if (next) w += next->words;
            if ((int)(total + w) <= budget + (int)w / 3) {
                e->included = true;
                if (next) next->included = true;
                total += w;
            }
        }
    return total;
}

static int add_sfx(story_t *s, sents_t *b, size_t at)
{
    buf_t tmp;
    buf_init(&tmp, 4096);
    int rc = 0;
    for (int tries = 0; tries < 4; tries++) {
        rc = gen_sentence(s, "sfx", &tmp);
        if (rc || seen_add(&s->seen, tmp.data)) break;
    }
    if (!rc) rc = sents_push(b, tmp.data, tmp.len, 0, -1);
    buf_free(&tmp);
    if (rc) return rc;
    /* Move the new sentence to position `at`. */
    sent_t e = b->v[b->n - 1];
    e.included = true;
    e.sfx = true;
    e.place_i = at > 0 ? b->v[at - 1].place_i : s->c->place_i;
    e.at_home = at > 0 ? b->v[at - 1].at_home : s->c->at_home;
    e.helper = at > 0 && b->v[at - 1].helper;
    memmove(&b->v[at + 1], &b->v[at], (b->n - 1 - at) * sizeof e);
    b->v[at] = e;
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].dep >= (int)at) b->v[i].dep++;
        if (b->v[i].pair >= (int)at) b->v[i].pair++;
    }
    return 0;
}

/* Appends one sentence to the part body, explaining the first harder word when asked. */
static int emit(story_t *s, buf_t *body, const char *text)
{
    if (!s->in->explain_words || s->n_explained >= s->max_explained || s->explain_left <= 0)
        return buf_append_str(body, text);
    for (size_t w = 0; composer__hard_words[w].word && w < 64; w++) {
        if (s->explained[w]) continue;
        const char *word = composer__hard_words[w].word;
        size_t wl = strlen(word);
        for (const char *p = text; (p = strstr(p, word)) != NULL; p += wl) {
            bool left = p == text || !((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z');
            bool right = !((p[wl] | 32) >= 'a' && (p[wl] | 32) <= 'z');
            if (!left || !right) continue;
            s->explained[w] = true;
            s->n_explained++;
            s->explain_left--;
            /* The explanation goes at the end of the clause so it never splits a phrase like
             * "a shimmering fairy queen". */
            size_t at = (size_t)(p - text) + wl;
            at += strcspn(text + at, ",.!?;:\"");
            int rc = buf_append(body, text, at);
            if (!rc) rc = buf_printf(body, " (%s means %s)", word, composer__hard_words[w].meaning);
            return rc ? rc : buf_append_str(body, text + at);
        }
    }
    return buf_append_str(body, text);
}

/* At home the small moments are about home; on the way they are about the road. */
static int gen_texture(story_t *s, buf_t *tmp)
{
    for (int tries = 0; tries < 5; tries++) {
        size_t r = composer__rng_below(&s->c->rng, 100);
        const char *sym =
            s->c->at_home ? (r < 55 ? "tex_home" : "tex_any") : (r < 40 ? "tex_any" : "tex_road");
        int rc = gen_sentence(s, sym, tmp);
        if (rc) return rc;
        if (seen_add(&s->seen, tmp->data)) return 0;
    }
    return -EEXIST;
}

static void part_heading(story_t *s, size_t part, size_t nparts, char *title, size_t cap)
{
    const char *sym = part == 0 && nparts > 1 ? "ptitle_open"
                      : part + 1 == nparts    ? "ptitle_end"
                                              : "ptitle_mid";
    char phrase[32];
    snprintf(phrase, sizeof phrase, "{%s}", s->compact && nparts > 3 ? "ptitle_short" : sym);
    buf_t tmp;
    buf_init(&tmp, 512);
    title[0] = '\0';
    /* Prefer a heading not used before in this story; compact stories also want it short. */
    size_t best_score = (size_t)-1;
    for (int tries = 0; tries < 10; tries++) {
        buf_reset(&tmp);
        if (composer__expand(s->c, phrase, &tmp) || !tmp.data) continue;
        char key[128];
        snprintf(key, sizeof key, "Part:%s", tmp.data);
        uint64_t h = composer__hash(0xcbf29ce484222325ULL, key, strlen(key));
        bool used = false;
        for (size_t i = 0; i < s->seen.n; i++)
            used |= s->seen.h[i] == h;
        size_t score =
            (used ? 100 : 0) + (s->compact ? composer__count_words(tmp.data, tmp.len) : 0);
        if (score < best_score) {
            best_score = score;
            composer__copy(title, cap, tmp.data);
        }
        if (!used && !s->compact) break;
    }
    char key[128];
    snprintf(key, sizeof key, "Part:%s", title);
    seen_add(&s->seen, key);
    buf_free(&tmp);
    composer__tidy(title, cap);
    composer__titlecase(title);
}

static void note_sound(composer_part_plan_t *pp, const char *t)
{
    if (pp->n_sounds >= COMPOSER_MAX_SOUNDS) return;
    t += *t == '"';
    size_t wl = strcspn(t, "!,");
    snprintf(pp->sounds[pp->n_sounds++], sizeof pp->sounds[0], "%.*s", (int)wl, t);
}

static int write_part(story_t *s, size_t part, size_t nparts)
{
    composer__ctx_t *c = s->c;
    composer_part_plan_t *pp = &s->st->plan.parts[part];
    bool last = part + 1 == nparts;
    /* Earlier parts leave room for the ending's fixed sentences (the discovery and lesson). */
    int reserve = nparts > 1 ? (int)composer__count_words(s->moral, strlen(s->moral)) + 12 : 0;
    int target = last ? s->in->target_words
                      : (s->in->target_words - reserve) * (int)(part + 1) / (int)nparts;
    int q_est = s->in->questions ? (s->compact ? 5 : 10) : 0;
    spec_t specs[MAX_SPECS];
    size_t ns = layout(s, part, nparts, target - (int)s->words - 5 - q_est, specs);
    size_t start_place = c->place_i;
    bool start_home = c->at_home;
    sents_t b = {0};
    buf_init(&b.pool, 1 << 20);
    buf_t body, tmp, question;
    buf_init(&body, 1 << 20);
    buf_init(&tmp, 4096);
    buf_init(&question, 4096);
    int rc = gen_beats(s, specs, ns, &b);
    /* Heading and question are written now so the body gets exactly the words left over. */
    char title[96];
    part_heading(s, part, nparts, title, sizeof title);
    for (int tries = 0; !rc && s->in->questions && tries < 4; tries++) {
        rc = gen_sentence(s, s->compact ? "lq_short" : last ? "lq_end" : "lq_mid", &question);
        if (rc || seen_add(&s->seen, question.data)) break;
    }
    int budget = target - (int)s->words - 2 - (int)composer__count_words(title, strlen(title)) -
                 (int)composer__count_words(question.data ? question.data : "", question.len);
    /* Explanations are spread over the parts, and their words are paid for up front. */
    s->explain_left = 0;
    if (s->in->explain_words && s->n_explained < s->max_explained) {
        s->explain_left = budget > 150 ? 2 : 1;
        if (s->explain_left > s->max_explained - s->n_explained)
            s->explain_left = s->max_explained - s->n_explained;
        budget -= 10 * s->explain_left;
    }
    if (!rc && s->in->sound_effects) {
        rc = add_sfx(s, &b, b.n > 1 ? 1 : b.n);
        if (!rc && budget > 220) rc = add_sfx(s, &b, b.n * 2 / 3);
    }
    if (!rc && s->in->sound_effects && budget < 16 && part > 0 && !last) {
        /* Too tight for a sound in every part: keep them in the first and last parts. */
        for (size_t i = 0; i < b.n; i++)
            if (b.v[i].sfx) b.v[i].prio = 3, b.v[i].included = false;
    }
    size_t total = select_beats(&b, budget);
    /* Texture sentences go into the gaps after included beats, spread evenly. */
    size_t slots[MAX_SPECS + 4], nslots = 0, nb = 0;
    for (size_t i = 0; i < b.n; i++)
        if (b.v[i].included) nb++;
    for (size_t i = 0, k = 0; i < b.n && nslots < MAX_SPECS; i++) {
        if (!b.v[i].included) continue;
        k++;
        if (k < nb || nb == 1) slots[nslots++] = i;
    }
    int remaining = budget - (int)total;
    size_t per_par = s->in->age_max <= 5 ? 2 : 3, in_par = 0, slot_i = 0;
    int added = 0; /* texture words so far; explanation words come out of their reserve */
    if (s->in->level == COMPOSER_LEVEL_ADVANCED && s->in->age_min >= 8) per_par = 4;
    for (size_t i = 0; i < b.n && !rc; i++) {
        if (!b.v[i].included) continue;
        if (in_par >= per_par) {
            rc = buf_append_str(&body, "\n\n");
            in_par = 0;
        } else if (body.len) {
            rc = buf_append_str(&body, " ");
        }
        if (!rc) rc = emit(s, &body, sent_text(&b, i));
        in_par++;
        if (b.v[i].sfx) note_sound(pp, sent_text(&b, i));
        if (slot_i >= nslots || slots[slot_i] != i) continue;
        slot_i++;
        c->place_i = b.v[i].place_i;
        c->helper_met = b.v[i].helper;
        c->at_home = b.v[i].at_home;
        int share = (remaining > 0 ? remaining : 0) * (int)slot_i / (int)nslots - added;
        while (!rc && share > 0) {
            rc = gen_texture(s, &tmp);
            if (rc == -EEXIST) {
                rc = 0;
                break;
            }
            int w = (int)composer__count_words(tmp.data, tmp.len);
            if (rc || share - w < -w / 2) break;
            rc = buf_append_str(&body, in_par >= per_par ? "\n\n" : " ");
            in_par = in_par >= per_par ? 0 : in_par;
            if (!rc) rc = emit(s, &body, tmp.data);
            share -= w;
            added += w;
            in_par++;
        }
    }
    if (!rc && question.data) {
        rc = buf_printf(&body, "\n\n%s", question.data);
        composer__copy(pp->listener_question, sizeof pp->listener_question, question.data);
    }
    composer__copy(pp->title, sizeof pp->title, title);
    const char *setting =
        start_home || !c->n_places ? c->home : c->places[start_place % c->n_places];
    for (size_t i = 0; i < b.n; i++)
        if (b.v[i].included && b.v[i].travel && c->n_places) {
            setting = c->places[b.v[i].place_i % c->n_places];
            break;
        }
    composer__copy(pp->setting, sizeof pp->setting, setting);
    if (!rc) rc = buf_printf(&s->out, "%sPart %zu: %s\n\n", part ? "\n\n" : "", part + 1, title);
    if (!rc && body.data) {
        composer__plan_part(c, s->st, body.data, body.len, pp);
        rc = buf_append(&s->out, body.data, body.len);
    }
    s->words = composer__count_words(s->out.data ? s->out.data : "", s->out.len);
    buf_free(&body);
    buf_free(&tmp);
    buf_free(&question);
    buf_free(&b.pool);
    free(b.v);
    return rc;
}

/* "a girl with a red balloon" -> "we can see a girl with a red balloon". */
static void picture_phrase(const char *desc, char *out, size_t cap)
{
    static const char *const lead_in[] = {
        "this picture shows ", "the picture shows ", "a picture of ",
        "an image of ",        "a photo of ",        "this is ",
        "the image shows ",    "it shows ",          NULL};
    static const char *const dets[] = {"a",    "an",   "the",  "some",    "two", "three", "four",
                                       "five", "many", "lots", "several", "one", NULL};
    char clean[COMPOSER_MAX_IMAGE_DESC + 1];
    composer__clean(desc, clean, sizeof clean, true);
    const char *p = clean;
    bool see = false;
    for (size_t i = 0; lead_in[i]; i++)
        if (!strncasecmp(p, lead_in[i], strlen(lead_in[i]))) {
            p += strlen(lead_in[i]);
            see = true;
            break;
        }
    size_t fl = strcspn(p, " ");
    for (size_t i = 0; dets[i] && !see; i++)
        if (fl == strlen(dets[i]) && !strncasecmp(p, dets[i], fl)) see = true;
    snprintf(out, cap, "%s%s", see ? "we can see " : "", p);
    char *first = out + (see ? 11 : 0);
    bool lower_ok = see || composer__is_stopword((char[]){(char)(first[0] | 32), 0}) || fl <= 5;
    if (lower_ok && first[0] >= 'A' && first[0] <= 'Z' && !(first[0] == 'I' && first[1] == ' '))
        first[0] = (char)(first[0] + 32);
}

static bool has_unsafe(const char *s)
{
    char w[32];
    size_t n = 0;
    for (const char *p = s;; p++) {
        bool letter = (*p | 32) >= 'a' && (*p | 32) <= 'z';
        if (letter && n < sizeof w - 1) {
            w[n++] = (char)(*p | 32);
        } else if (!letter) {
            w[n] = '\0';
            if (n && composer__is_unsafe(w)) return true;
            n = 0;
        }
        if (!*p) return false;
    }
}

int composer__build(composer__ctx_t *c, const composer_input_t *in, composer_story_t *st)
{
    static const int est[] = {10, 14, 18};
    story_t s = {.c = c, .in = in, .st = st, .est = est[in->level]};
    buf_init(&s.out, 1 << 20);
    s.max_explained = in->level == COMPOSER_LEVEL_SIMPLE ? 3 : 4;
    composer__clean(in->moral, s.moral, sizeof s.moral, true);
    if (s.moral[0] && has_unsafe(s.moral)) s.moral[0] = '\0';
    if (!s.moral[0]) {
        buf_t t;
        buf_init(&t, 256);
        if (composer__expand(c, "{lesson}", &t) == 0 && t.data)
            composer__copy(s.moral, sizeof s.moral, t.data);
        buf_free(&t);
    }
    if (in->image_description && !has_unsafe(in->image_description))
        picture_phrase(in->image_description, s.image, sizeof s.image);
    /* Compact: so few words per part once the fixed pieces (headings, questions, sounds,
     * picture, lesson) are paid for that every sentence must be as short as possible. */
    int fixed = (int)composer__count_words(s.moral, strlen(s.moral)) + 8;
    if (s.image[0]) fixed += (int)composer__count_words(s.image, strlen(s.image)) + 6;
    fixed += in->parts * (4 + (in->questions ? 7 : 0) + (in->sound_effects ? 9 : 0));
    s.compact = (in->target_words - fixed) / in->parts < 45;
    if (s.compact) s.max_explained = 1;
    buf_t t;
    buf_init(&t, 512);
    int rc = composer__expand(c, "{title}", &t);
    if (!rc && t.data) {
        composer__copy(st->title, sizeof st->title, t.data);
        composer__tidy(st->title, sizeof st->title);
        composer__titlecase(st->title);
        if (strlen(st->title) > 200) {
            char *cut = st->title + 200;
            while (cut > st->title && *cut != ' ')
                cut--;
            *cut = '\0';
        }
    }
    buf_free(&t);
    st->plan.n_parts = (size_t)in->parts;
    for (size_t p = 0; p < (size_t)in->parts && !rc; p++)
        rc = write_part(&s, p, (size_t)in->parts);
    if (!rc) rc = buf_append_str(&s.out, "\n");
    if (!rc) composer__plan_questions(c, in, st, s.moral, s.out.data);
    free(s.seen.h);
    if (rc) {
        buf_free(&s.out);
        return rc;
    }
    st->text = buf_steal(&s.out, &st->text_len);
    return 0;
}
