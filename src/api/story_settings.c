/* story_settings: GET/PUT/PATCH /api/story-settings/, one row per user created on first read
 * (the reference's get_or_create). Every setting is validated and stored for the pipeline,
 * including those the reference kept but ignored (max_word_count, story_parts,
 * explain_complex_words) and our default voice and language. The frontend PATCHes back the
 * whole object it read, so read-only members (id, user, timestamps) are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/stories.h"
#include "core/json.h"

typedef enum { SET_CHOICE, SET_BOOL, SET_INT, SET_VOICE, SET_LANGUAGE } set__kind_t;

typedef struct {
    const char *name;
    set__kind_t kind;
    const char *def;            /* SQL literal default for the insert */
    const char *const *choices; /* SET_CHOICE, NULL-terminated */
    int64_t min, max;           /* SET_INT */
    const char *range_msg;      /* SET_INT */
} set__field_t;

static const char *const set__ages[] = {"3-5", "6-8", "9-12", NULL};
static const char *const set__genres[] = {"fantasy",     "adventure", "sci-fi", "mystery",
                                          "educational", "mixed",     NULL};
static const char *const set__levels[] = {"simple", "moderate", "advanced", NULL};
static const char *const set__morals[] = {"friendship", "kindness", "bravery",
                                          "curiosity",  "teamwork", "growth",
                                          "empathy",    "mixed",    NULL};

/* In column order; the SQL below depends on it. */
static const set__field_t set__fields[] = {
    {"age_range", SET_CHOICE, "6-8", set__ages, 0, 0, NULL},
    {"genre_preference", SET_CHOICE, "mixed", set__genres, 0, 0, NULL},
    {"language_level", SET_CHOICE, "moderate", set__levels, 0, 0, NULL},
    {"moral_theme", SET_CHOICE, "mixed", set__morals, 0, 0, NULL},
    {"include_diversity", SET_BOOL, "t", NULL, 0, 0, NULL},
    {"include_sensory_details", SET_BOOL, "t", NULL, 0, 0, NULL},
    {"include_interactive_questions", SET_BOOL, "t", NULL, 0, 0, NULL},
    {"max_word_count", SET_INT, "800", NULL, 100, 2000,
     "Max word count must be between 100 and 2000."},
    {"story_parts", SET_INT, "5", NULL, 3, 8, "Story parts must be between 3 and 8."},
    {"include_sound_effects", SET_BOOL, "t", NULL, 0, 0, NULL},
    {"explain_complex_words", SET_BOOL, "t", NULL, 0, 0, NULL},
    {"default_voice_id", SET_VOICE, "", NULL, 0, 0, NULL},
    {"default_language_code", SET_LANGUAGE, "en-US", NULL, 0, 0, NULL},
};
#define SET__N (sizeof set__fields / sizeof set__fields[0])

// clang-format off
#define SETTINGS_COLS                                                                              \
    "t.id, t.user_id, t.age_range, t.genre_preference, t.language_level, t.moral_theme, "         \
    "t.include_diversity, t.include_sensory_details, t.include_interactive_questions, "            \
    "t.max_word_count, t.story_parts, t.include_sound_effects, t.explain_complex_words, "          \
    "t.default_voice_id, t.default_language_code, "                                                \
    API_ISO_UTC("t.created_at") " AS created_at, " API_ISO_UTC("t.updated_at") " AS updated_at"
// clang-format on

static void settings__done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_error(req, 500, "internal_error", "story settings missing");
        return;
    }
#define C(name) db_result_get_by_name(res, 0, name)
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_int(g, "id", strtoll(C("id") ? C("id") : "0", NULL, 10));
    json_kv_int(g, "user", strtoll(C("user_id") ? C("user_id") : "0", NULL, 10));
    for (size_t i = 0; i < SET__N; i++) {
        const set__field_t *f = &set__fields[i];
        const char *v = C(f->name);
        if (f->kind == SET_BOOL)
            json_kv_bool(g, f->name, v && v[0] == 't');
        else if (f->kind == SET_INT)
            json_kv_int(g, f->name, strtoll(v ? v : "0", NULL, 10));
        else
            json_kv_str(g, f->name, v);
    }
    json_kv_str(g, "created_at", C("created_at"));
    json_kv_str(g, "updated_at", C("updated_at"));
    yajl_gen_map_close(g);
#undef C
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void get__authed(http_req_t *req, const api_user_t *user)
{
    const char *params[1] = {stories_int(req, user->id)};
    stories_q(req,
              "WITH ins AS (INSERT INTO user_story_settings AS t (user_id) VALUES ($1) ON CONFLICT "
              "(user_id) DO NOTHING RETURNING " SETTINGS_COLS ") SELECT * FROM ins UNION ALL "
              "SELECT " SETTINGS_COLS " FROM user_story_settings t WHERE t.user_id = $1",
              1, params, settings__done, NULL);
}

void api_story_settings_get(http_req_t *req)
{
    api_auth(req, true, get__authed);
}

/* Validates one field; the value as an SQL parameter (text), NULL when absent. */
static const char *set__read(http_req_t *req, const stories_form_t *form, const set__field_t *f,
                             stories_errors_t *errs)
{
    if (f->kind == SET_BOOL) {
        bool b;
        int rc = stories_form_bool(form, f->name, &b);
        if (rc == FORM_OK) return b ? "t" : "f";
        if (rc != FORM_ABSENT) stories_errors_add(errs, f->name, "Must be a valid boolean.");
        return NULL;
    }
    if (f->kind == SET_INT) {
        int64_t n;
        int rc = stories_form_int(form, f->name, &n);
        if (rc == FORM_ABSENT) return NULL;
        if (rc != FORM_OK) {
            stories_errors_add(errs, f->name, "A valid integer is required.");
            return NULL;
        }
        if (n < f->min || n > f->max) {
            stories_errors_add(errs, f->name, f->range_msg);
            return NULL;
        }
        return stories_int(req, n);
    }
    const char *v;
    int rc = stories_form_str(form, f->name, &v);
    if (rc == FORM_ABSENT) return NULL;
    if (rc != FORM_OK) {
        stories_errors_add(errs, f->name,
                           rc == FORM_NULL ? "This field may not be null." : "Not a valid string.");
        return NULL;
    }
    bool ok = false;
    if (f->kind == SET_CHOICE) {
        for (const char *const *c = f->choices; *c && !ok; c++)
            ok = strcmp(*c, v) == 0;
    } else if (f->kind == SET_VOICE) {
        ok = !*v || stories_voice_valid(v);
    } else {
        ok = stories_language_valid(v);
    }
    if (!ok) {
        stories_errors_add(errs, f->name,
                           arena_printf(&req->arena, "\"%s\" is not a valid choice.", v));
        return NULL;
    }
    return v;
}

static void update__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t form;
    if (!stories_form_init(&form, req)) return;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    const char *params[1 + SET__N];
    params[0] = stories_int(req, user->id);
    for (size_t i = 0; i < SET__N; i++)
        params[1 + i] = set__read(req, &form, &set__fields[i], &errs);
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return;
    }
    stories_q(
        req,
        "INSERT INTO user_story_settings AS t (user_id, age_range, genre_preference, "
        "language_level, moral_theme, include_diversity, include_sensory_details, "
        "include_interactive_questions, max_word_count, story_parts, include_sound_effects, "
        "explain_complex_words, default_voice_id, default_language_code) VALUES ($1, "
        "COALESCE($2, '6-8'), COALESCE($3, 'mixed'), COALESCE($4, 'moderate'), COALESCE($5, "
        "'mixed'), COALESCE($6::boolean, true), COALESCE($7::boolean, true), COALESCE($8::boolean, "
        "true), COALESCE($9::int, 800), COALESCE($10::int, 5), COALESCE($11::boolean, true), "
        "COALESCE($12::boolean, true), COALESCE($13, ''), COALESCE($14, 'en-US')) ON CONFLICT "
        "(user_id) DO UPDATE SET age_range = COALESCE($2, t.age_range), genre_preference = "
        "COALESCE($3, t.genre_preference), language_level = COALESCE($4, t.language_level), "
        "moral_theme = COALESCE($5, t.moral_theme), include_diversity = COALESCE($6::boolean, "
        "t.include_diversity), include_sensory_details = COALESCE($7::boolean, "
        "t.include_sensory_details), include_interactive_questions = COALESCE($8::boolean, "
        "t.include_interactive_questions), max_word_count = COALESCE($9::int, t.max_word_count), "
        "story_parts = COALESCE($10::int, t.story_parts), include_sound_effects = "
        "COALESCE($11::boolean, t.include_sound_effects), explain_complex_words = "
        "COALESCE($12::boolean, t.explain_complex_words), default_voice_id = COALESCE($13, "
        "t.default_voice_id), default_language_code = COALESCE($14, t.default_language_code) "
        "RETURNING " SETTINGS_COLS,
        (int)(1 + SET__N), params, settings__done, NULL);
}

void api_story_settings_update(http_req_t *req)
{
    api_auth(req, true, update__authed);
}
