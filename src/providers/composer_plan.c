/* composer plan: what an illustrator and a quiz need from a finished story: who appears in
 * each part, which drawable things are mentioned, and comprehension questions whose answers
 * are checked against the text so a question is never asked about something left out. */
#include "providers/composer_internal.h"

#include <stdio.h>
#include <string.h>

static bool is_letter(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static void add_object(composer_part_plan_t *pp, const char *w)
{
    if (pp->n_objects >= COMPOSER_MAX_OBJECTS) return;
    for (size_t i = 0; i < pp->n_objects; i++)
        if (!strcmp(pp->objects[i], w)) return;
    composer__copy(pp->objects[pp->n_objects++], sizeof pp->objects[0], w);
}

/* Returns the picture noun for a lower-case word (singular for plain plurals) or NULL. */
static const char *picture_noun(const char *w)
{
    size_t n = strlen(w);
    for (size_t i = 0; composer__picture_nouns[i]; i++) {
        const char *p = composer__picture_nouns[i];
        size_t pl = strlen(p);
        if (!strcmp(p, w)) return p;
        if (n == pl + 1 && w[n - 1] == 's' && !strncmp(p, w, pl)) return p;
    }
    return NULL;
}

void composer__plan_part(const composer__ctx_t *c, const composer_story_t *st, const char *text,
                         size_t len, composer_part_plan_t *pp)
{
    (void)st;
    pp->n_characters = 0;
    pp->n_objects = 0;
    for (size_t i = 0; i < COMPOSER__CAST; i++) {
        if (!strstr(text, c->cast[i].name)) continue;
        pp->characters[pp->n_characters++] = i;
        const char *k = strrchr(c->cast[i].kind, ' ');
        const char *noun = picture_noun(k ? k + 1 : c->cast[i].kind);
        if (noun) add_object(pp, noun);
    }
    char w[32];
    for (size_t i = 0; i < len;) {
        if (!is_letter((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t n = 0;
        while (i < len && is_letter((unsigned char)text[i])) {
            if (n < sizeof w - 1) w[n++] = (char)(text[i] | 32);
            i++;
        }
        w[n] = '\0';
        const char *noun = picture_noun(w);
        if (noun) add_object(pp, noun);
    }
}

typedef struct {
    char q[200];
    char a[240];
    bool ok;
} cand_t;

static void finish(char *s, size_t cap)
{
    composer__tidy(s, cap);
    if (s[0] >= 'a' && s[0] <= 'z') s[0] = (char)(s[0] - 32);
}

static void set(cand_t *k, bool ok, const char *q, const char *a)
{
    composer__copy(k->q, sizeof k->q, q);
    composer__copy(k->a, sizeof k->a, a);
    finish(k->q, sizeof k->q);
    finish(k->a, sizeof k->a);
    k->ok = ok;
}

enum { Q_WHO, Q_COLOUR, Q_FRIEND, Q_FOUND, Q_HELPER, Q_WHERE, Q_WHY, Q_LESSON, Q_COUNT };

void composer__plan_questions(const composer__ctx_t *c, const composer_input_t *in,
                              composer_story_t *st, const char *lesson, const char *text)
{
    const composer__cast_t *p = &c->cast[COMPOSER__HERO], *f = &c->cast[COMPOSER__FRIEND],
                           *h = &c->cast[COMPOSER__HELPER];
    bool young = in->age_max <= 5, older = in->age_min >= 9;
    cand_t k[Q_COUNT];
    char q[200], a[240];
    memset(k, 0, sizeof k);

    snprintf(q, sizeof q,
             young ? "Who is this story about?" : "Who is the main character of the story?");
    snprintf(a, sizeof a, "%.63s, a %.47s%s%.39s.", p->name, p->adj, p->adj[0] ? " " : "", p->kind);
    set(&k[Q_WHO], strstr(text, p->name) != NULL, q, a);

    const char *wear = strchr(p->clothes, ' ');
    snprintf(q, sizeof q, "What colour is %s's %s?", p->name, wear ? wear + 1 : p->clothes);
    snprintf(a, sizeof a, "%.*s.", (int)(wear ? (size_t)(wear - p->clothes) : strlen(p->clothes)),
             p->clothes);
    set(&k[Q_COLOUR], wear && strstr(text, p->clothes), q, a);

    snprintf(q, sizeof q, "Who went with %s?", p->name);
    snprintf(a, sizeof a, "%.63s, a %.47s%s%.39s.", f->name, f->adj, f->adj[0] ? " " : "", f->kind);
    set(&k[Q_FRIEND], strstr(text, f->name) != NULL, q, a);

    snprintf(q, sizeof q, young ? "What did %s find?" : "What did %s find at the end of the story?",
             p->name);
    snprintf(a, sizeof a, "%s %s.", c->quest_plural ? "some" : "a", c->quest);
    set(&k[Q_FOUND], strstr(text, c->quest) != NULL, q, a);

    snprintf(q, sizeof q,
             older ? "Who helped %s along the way, and what kind of character were they?"
                   : "Who helped %s?",
             p->name);
    snprintf(a, sizeof a, "%.63s, a %.47s%s%.39s.", h->name, h->adj, h->adj[0] ? " " : "", h->kind);
    set(&k[Q_HELPER], strstr(text, h->name) != NULL, q, a);

    const char *place = NULL;
    for (size_t i = 0; i < c->n_places && !place; i++)
        if (strstr(text, c->places[i]) && strcmp(c->places[i], c->home) != 0) place = c->places[i];
    snprintf(q, sizeof q, "Where did %s go on the adventure?", p->name);
    snprintf(a, sizeof a, "To %s.", place ? place : "");
    set(&k[Q_WHERE], place != NULL, q, a);

    snprintf(q, sizeof q, "Why do you think %s set off on this adventure?", p->name);
    bool edu = c->tpl == COMPOSER_TEMPLATE_EDUCATIONAL;
    const char *goal = edu ? composer__topics[c->topic].name : c->quest;
    if (edu)
        snprintf(a, sizeof a, "Because %s wanted to learn about %s.", p->name, goal);
    else
        snprintf(a, sizeof a, "Because %s wanted to find the %s.", p->name, goal);
    set(&k[Q_WHY], strstr(text, goal) != NULL, q, a);

    snprintf(q, sizeof q, young ? "What did %s learn?" : "What lesson does this story teach?",
             p->name);
    snprintf(a, sizeof a, "That %s.", lesson);
    set(&k[Q_LESSON], lesson[0] && strstr(text, lesson) != NULL, q, a);
    /* The lesson may start with a capital letter from the user; keep "That" readable. */

    static const int order_young[] = {Q_WHO, Q_FRIEND, Q_COLOUR, Q_FOUND, Q_HELPER, Q_LESSON};
    static const int order_mid[] = {Q_WHO, Q_WHERE, Q_HELPER, Q_FOUND, Q_FRIEND, Q_LESSON, Q_WHY};
    static const int order_old[] = {Q_WHO, Q_WHY, Q_WHERE, Q_HELPER, Q_LESSON, Q_FOUND, Q_FRIEND};
    const int *order = young ? order_young : older ? order_old : order_mid;
    size_t n_order = young ? 6 : 7, want = young ? 3 : older ? 5 : 4;
    st->plan.n_questions = 0;
    for (size_t i = 0; i < n_order && st->plan.n_questions < want; i++) {
        const cand_t *e = &k[order[i]];
        if (!e->ok) continue;
        composer_comprehension_t *out = &st->plan.questions[st->plan.n_questions++];
        composer__copy(out->question, sizeof out->question, e->q);
        composer__copy(out->answer, sizeof out->answer, e->a);
    }
}
