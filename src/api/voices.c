/* voices: the speech voices a story may use, and GET /api/stories/available_voices/. The
 * catalogue is the active speech provider's: espeak-ng's curated list (default), or a fixed list
 * of Amazon Polly voices when the provider is Polly. Everything provider-specific is in this
 * file, so it can be swapped for the providers registry in one place. */
#include <stdbool.h>
#include <string.h>

#include "api/stories.h"
#include "core/json.h"
#include "providers/speech_espeak.h"

typedef struct {
    const char *id, *gender, *language;
    bool neural;
} voices__polly_t;

/* Polly voices the reference offered (its id == name). neural is false for the voices Polly
 * offers only with the standard engine. */
static const voices__polly_t voices__polly[] = {
    {"Joanna", "Female", "en-US", true},    {"Matthew", "Male", "en-US", true},
    {"Ivy", "Female", "en-US", true},       {"Joey", "Male", "en-US", true},
    {"Justin", "Male", "en-US", true},      {"Kendra", "Female", "en-US", true},
    {"Kimberly", "Female", "en-US", true},  {"Salli", "Female", "en-US", true},
    {"Amy", "Female", "en-GB", true},       {"Emma", "Female", "en-GB", true},
    {"Brian", "Male", "en-GB", true},       {"Nicole", "Female", "en-AU", false},
    {"Russell", "Male", "en-AU", false},    {"Olivia", "Female", "en-AU", true},
    {"Conchita", "Female", "es-ES", false}, {"Lucia", "Female", "es-ES", true},
    {"Enrique", "Male", "es-ES", false},    {"Lupe", "Female", "es-US", true},
    {"Penelope", "Female", "es-US", false}, {"Miguel", "Male", "es-US", false},
    {"Celine", "Female", "fr-FR", false},   {"Lea", "Female", "fr-FR", true},
    {"Mathieu", "Male", "fr-FR", false},    {"Marlene", "Female", "de-DE", false},
    {"Vicki", "Female", "de-DE", true},     {"Hans", "Male", "de-DE", false},
    {"Carla", "Female", "it-IT", false},    {"Bianca", "Female", "it-IT", true},
    {"Giorgio", "Male", "it-IT", false},    {"Vitoria", "Female", "pt-BR", true},
    {"Camila", "Female", "pt-BR", true},    {"Ricardo", "Male", "pt-BR", false},
    {"Mizuki", "Female", "ja-JP", false},   {"Takumi", "Male", "ja-JP", true},
    {"Seoyeon", "Female", "ko-KR", true},   {"Zhiyu", "Female", "zh-CN", true},
};
#define VOICES__NPOLLY (sizeof voices__polly / sizeof voices__polly[0])

static bool voices__is_polly;

void stories_voices_set_provider(const char *name)
{
    voices__is_polly = name && strcmp(name, "polly") == 0;
}

/* One view over both catalogues. */
typedef struct {
    const char *id, *name, *gender, *language;
    bool neural;
} voices__entry_t;

static size_t voices__count(void)
{
    size_t n = VOICES__NPOLLY;
    if (!voices__is_polly) speech_espeak_voices(&n);
    return n;
}

static voices__entry_t voices__at(size_t i)
{
    voices__entry_t e;
    if (voices__is_polly) {
        const voices__polly_t *p = &voices__polly[i];
        e = (voices__entry_t){p->id, p->id, p->gender, p->language, p->neural};
        return e;
    }
    size_t n;
    const speech_espeak_voice_t *v = speech_espeak_voices(&n);
    bool female = strcmp(v[i].gender, "female") == 0;
    e = (voices__entry_t){v[i].id, v[i].name, female ? "Female" : "Male", v[i].language, false};
    return e;
}

bool stories_voice_valid(const char *voice_id)
{
    for (size_t i = 0, n = voices__count(); voice_id && i < n; i++)
        if (strcmp(voices__at(i).id, voice_id) == 0) return true;
    return false;
}

bool stories_language_valid(const char *code)
{
    for (size_t i = 0, n = voices__count(); code && i < n; i++)
        if (strcmp(voices__at(i).language, code) == 0) return true;
    return false;
}

const char *stories_voice_default(const char *language_code)
{
    size_t n = voices__count();
    for (size_t i = 0; language_code && i < n; i++)
        if (strcmp(voices__at(i).language, language_code) == 0) return voices__at(i).id;
    for (size_t i = 0; i < n; i++)
        if (strcmp(voices__at(i).language, "en-US") == 0) return voices__at(i).id;
    return n ? voices__at(0).id : "";
}

static void voices__list(yajl_gen g, const char *language)
{
    yajl_gen_array_open(g);
    for (size_t i = 0, n = voices__count(); i < n; i++) {
        voices__entry_t e = voices__at(i);
        if (strcmp(e.language, language) != 0) continue;
        yajl_gen_map_open(g);
        json_kv_str(g, "id", e.id);
        json_kv_str(g, "name", e.name);
        json_kv_str(g, "gender", e.gender);
        json_kv_bool(g, "neural", e.neural);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void voices__authed(http_req_t *req, const api_user_t *user)
{
    (void)user;
    const char *code = http_req_query(req, "language_code");
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    if (code && !*code) {
        /* The reference's "every language" form. */
        json_key(g, "voices_by_language");
        yajl_gen_map_open(g);
        size_t n = voices__count();
        for (size_t i = 0; i < n; i++) {
            const char *lang = voices__at(i).language;
            bool seen = false;
            for (size_t k = 0; k < i; k++)
                if (strcmp(voices__at(k).language, lang) == 0) seen = true;
            if (seen) continue;
            json_key(g, lang);
            voices__list(g, lang);
        }
        yajl_gen_map_close(g);
        json_kv_str(g, "default_language", "en-US");
    } else {
        if (!code) code = "en-US";
        json_kv_str(g, "language_code", code);
        json_key(g, "voices");
        /* An unknown language gets the en-US list with its code echoed, as in the reference. */
        voices__list(g, stories_language_valid(code) ? code : "en-US");
    }
    yajl_gen_map_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

void api_stories_available_voices(http_req_t *req)
{
    api_auth(req, true, voices__authed);
}
