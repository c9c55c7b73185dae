/* provider_voices: the voice catalogues of the speech providers (espeak's curated list and a
 * curated list of Amazon Polly voices) and the substitution of a voice of one provider by the
 * closest voice of the other, so a story narrated with Polly can be re-narrated offline. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "providers/provider_int.h"
#include "providers/speech_espeak.h"

/* Voices suited to children's stories; the engine is picked per voice by the aws client. */
static const prov_voice_t prov__polly_voices[] = {
    {"Joanna", "Joanna (US English)", "female", "en-US", "polly"},
    {"Matthew", "Matthew (US English)", "male", "en-US", "polly"},
    {"Ivy", "Ivy (US English, child)", "female", "en-US", "polly"},
    {"Justin", "Justin (US English, child)", "male", "en-US", "polly"},
    {"Kevin", "Kevin (US English, child)", "male", "en-US", "polly"},
    {"Kendra", "Kendra (US English)", "female", "en-US", "polly"},
    {"Salli", "Salli (US English)", "female", "en-US", "polly"},
    {"Joey", "Joey (US English)", "male", "en-US", "polly"},
    {"Ruth", "Ruth (US English)", "female", "en-US", "polly"},
    {"Stephen", "Stephen (US English)", "male", "en-US", "polly"},
    {"Amy", "Amy (British English)", "female", "en-GB", "polly"},
    {"Emma", "Emma (British English)", "female", "en-GB", "polly"},
    {"Brian", "Brian (British English)", "male", "en-GB", "polly"},
    {"Arthur", "Arthur (British English)", "male", "en-GB", "polly"},
    {"Olivia", "Olivia (Australian English)", "female", "en-AU", "polly"},
    {"Niamh", "Niamh (Irish English)", "female", "en-IE", "polly"},
    {"Kajal", "Kajal (Indian English)", "female", "en-IN", "polly"},
    {"Vicki", "Vicki (German)", "female", "de-DE", "polly"},
    {"Daniel", "Daniel (German)", "male", "de-DE", "polly"},
    {"Lea", "Léa (French)", "female", "fr-FR", "polly"},
    {"Remi", "Rémi (French)", "male", "fr-FR", "polly"},
    {"Lucia", "Lucia (Spanish)", "female", "es-ES", "polly"},
    {"Sergio", "Sergio (Spanish)", "male", "es-ES", "polly"},
    {"Lupe", "Lupe (US Spanish)", "female", "es-US", "polly"},
    {"Pedro", "Pedro (US Spanish)", "male", "es-US", "polly"},
    {"Bianca", "Bianca (Italian)", "female", "it-IT", "polly"},
    {"Adriano", "Adriano (Italian)", "male", "it-IT", "polly"},
    {"Camila", "Camila (Brazilian Portuguese)", "female", "pt-BR", "polly"},
    {"Thiago", "Thiago (Brazilian Portuguese)", "male", "pt-BR", "polly"},
    {"Laura", "Laura (Dutch)", "female", "nl-NL", "polly"},
};

const prov_voice_t *prov__polly_catalogue(size_t *count)
{
    *count = sizeof prov__polly_voices / sizeof prov__polly_voices[0];
    return prov__polly_voices;
}

#define PROV__ESPEAK_MAX 64

const prov_voice_t *prov__espeak_catalogue(size_t *count)
{
    /* Built once from espeak's static list; only the loop thread calls this. */
    static prov_voice_t list[PROV__ESPEAK_MAX];
    static size_t n;
    if (!n) {
        size_t m = 0;
        const speech_espeak_voice_t *v = speech_espeak_voices(&m);
        for (size_t i = 0; i < m && n < PROV__ESPEAK_MAX; i++, n++)
            list[n] = (prov_voice_t){v[i].id, v[i].name, v[i].gender, v[i].language, "espeak"};
    }
    *count = n;
    return list;
}

static const prov_voice_t *prov__find(const prov_voice_t *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].id, id)) return &v[i];
    return NULL;
}

/* Length of the primary language subtag ("en" of "en-US"). */
static size_t prov__primary_len(const char *tag)
{
    size_t n = 0;
    while (tag[n] && tag[n] != '-')
        n++;
    return n;
}

const prov_voice_t *prov__voice_resolve(const prov_voice_t *own, size_t nown,
                                        const prov_voice_t *other, size_t nother,
                                        const char *voice_id, const char *default_id, char *note,
                                        size_t cap)
{
    if (cap) note[0] = '\0';
    if (!voice_id || !*voice_id) voice_id = default_id;
    const prov_voice_t *v = prov__find(own, nown, voice_id);
    if (v) return v;
    const prov_voice_t *foreign = prov__find(other, nother, voice_id);
    if (!foreign) return NULL;
    /* Score: same full tag 4, same primary language 2, same gender 1. */
    const prov_voice_t *best = NULL;
    int best_score = 0;
    size_t fp = prov__primary_len(foreign->language);
    for (size_t i = 0; i < nown; i++) {
        int score = 0;
        if (!strcasecmp(own[i].language, foreign->language))
            score += 4;
        else if (prov__primary_len(own[i].language) == fp &&
                 !strncasecmp(own[i].language, foreign->language, fp))
            score += 2;
        if (score == 0) continue;
        if (!strcmp(own[i].gender, foreign->gender)) score += 1;
        if (score > best_score) {
            best = &own[i];
            best_score = score;
        }
    }
    if (!best) best = prov__find(own, nown, default_id);
    if (!best && nown) best = &own[0];
    if (best && cap)
        snprintf(note, cap, "the %s voice %s is not available here; used %s instead",
                 foreign->provider, foreign->id, best->id);
    return best;
}
