/* illustrate prompt reading: finds the nouns it can draw and the time of day in a free-text
 * scene prompt, plus the small deterministic random generator and hash used for layouts. Only
 * ASCII letters form words; everything else separates them. */
#include "providers/illustrate_int.h"

#include <string.h>

uint64_t illustrate__next(illustrate__rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double illustrate__uniform(illustrate__rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(illustrate__next(r) >> 11) / 9007199254740992.0);
}

static char lower(char c)
{
    return (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
}

static int is_letter(char c)
{
    c = lower(c);
    return c >= 'a' && c <= 'z';
}

uint64_t illustrate__hash(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; s && *s; s++) {
        h ^= (uint8_t)lower(*s);
        h *= 0x100000001B3ull;
    }
    return h;
}

int illustrate__mentions(const char *text, const char *name)
{
    if (!text || !name) return 0;
    size_t n = strlen(name);
    if (n == 0) return 0;
    for (const char *p = text; *p; p++) {
        if (p != text && is_letter(p[-1])) continue;
        size_t i = 0;
        while (i < n && p[i] && lower(p[i]) == lower(name[i]))
            i++;
        /* A possessive ("Milo's") still counts: the apostrophe ends the word. */
        if (i == n && !is_letter(p[n])) return 1;
    }
    return 0;
}

/* Does the word w (length n, lower case) name noun word `base`, singular or plural? */
static int word_is(const char *w, size_t n, const char *base, int *plural)
{
    size_t b = strlen(base);
    if (n == b && memcmp(w, base, n) == 0) {
        *plural = 0;
        return 1;
    }
    if (n == b + 1 && w[b] == 's' && memcmp(w, base, b) == 0) {
        *plural = 1;
        return 1;
    }
    if (n == b + 2 && w[b] == 'e' && w[b + 1] == 's' && memcmp(w, base, b) == 0) {
        *plural = 1;
        return 1;
    }
    /* puppy -> puppies, bunny -> bunnies */
    if (b > 1 && base[b - 1] == 'y' && n == b + 2 && memcmp(w, base, b - 1) == 0 &&
        memcmp(w + b - 1, "ies", 3) == 0) {
        *plural = 1;
        return 1;
    }
    return 0;
}

static int word_in(const char *w, size_t n, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && memcmp(w, list[i], n) == 0) return 1;
    return 0;
}

void illustrate__read_prompt(const char *prompt, illustrate__scene_t *scene)
{
    static const char *const night[] = {"night",     "midnight", "nighttime", "starry",  "moonlit",
                                        "moonlight", "bedtime",  "dark",      "tonight", NULL};
    static const char *const sunset[] = {"sunset", "dusk", "evening", "twilight", NULL};
    static const char *const dawn[] = {"dawn", "sunrise", "morning", "daybreak", NULL};
    static const char *const many[] = {"two",  "three", "four", "five",    "many",
                                       "some", "lots",  "few",  "several", NULL};
    memset(scene, 0, sizeof *scene);
    if (!prompt) return;
    int saw_night = 0, saw_sunset = 0, saw_dawn = 0, next_many = 0;
    char w[32];
    const char *p = prompt;
    /* Prompts are short; the cap keeps the work bounded for hostile input. */
    for (int words = 0; *p && words < 400;) {
        while (*p && !is_letter(*p))
            p++;
        size_t n = 0;
        while (is_letter(*p)) {
            if (n < sizeof w) w[n] = lower(*p);
            n++;
            p++;
        }
        if (n == 0 || n > sizeof w) continue;
        words++;
        if (word_in(w, n, night)) saw_night = 1;
        if (word_in(w, n, sunset)) saw_sunset = 1;
        if (word_in(w, n, dawn)) saw_dawn = 1;
        int is_many = word_in(w, n, many);
        for (size_t i = 0; i < illustrate__noun_count && i < 64; i++) {
            int plural = 0, hit = 0;
            for (const char *const *syn = illustrate__nouns[i].words; *syn && !hit; syn++)
                hit = word_is(w, n, *syn, &plural);
            if (!hit && illustrate__nouns[i].many_words &&
                word_in(w, n, illustrate__nouns[i].many_words))
                hit = plural = 1;
            if (!hit) continue;
            int c = (plural || next_many) ? 2 : 1;
            if (scene->count[i] < c) scene->count[i] = c;
        }
        next_many = is_many;
    }
    scene->time = saw_night    ? ILLUSTRATE__TIME_NIGHT
                  : saw_sunset ? ILLUSTRATE__TIME_SUNSET
                  : saw_dawn   ? ILLUSTRATE__TIME_DAWN
                               : ILLUSTRATE__TIME_DAY;
}
