/* stories: the story domain's REST API (stories, revisions, scenes, voices, sessions,
 * playlists, story settings, dashboard, media) and the hooks through which the generation
 * pipeline plugs in. Handlers are wired in routes.c; shared helpers live here.
 *
 * Generation hooks. The endpoints that start AI work validate their input here and then hand
 * the request to a hook that the pipeline installs with stories_set_generation_hooks (once, on
 * the loop thread, before serving):
 *   - create          POST /api/stories/               after the row is inserted (status draft)
 *   - regenerate      POST /api/stories/{id}/regenerate/
 *   - generate_audio  POST /api/stories/{id}/generate_audio/   (voice_id already validated
 *                     and stored on the story)
 *   - generate_scenes POST /api/stories/{id}/generate_scenes/
 *   - image_changed   PATCH/PUT /api/stories/{id}/ that replaced the image (saved and committed)
 * A hook owns the request from then on and must answer it exactly once (typically after
 * queuing a job: 201/200 with the story, rendered with story_respond). Without a hook:
 * create answers 201 with the draft story (the user's title, prompt and text only),
 * image_changed answers 200 with the story, and the other three answer
 * 503 {"error":"generation unavailable"}.
 * Whoever replaces a story's text must go through stories_replace_text, which snapshots the old
 * text as a revision in the same statement. */
#ifndef NOVA_API_STORIES_H
#define NOVA_API_STORIES_H

#include <stdbool.h>
#include <stdint.h>

#include "api/app.h"
#include "api/accounts.h"
#include "api/auth.h"
#include "db/db.h"
#include "http/http.h"
#include "http/router.h"
#include <yajl/yajl_tree.h>

/* The process's cache of rendered stories (api/story_cache.h), made on first use from cfg;
 * NULL when NOVA_STORY_CACHE_BYTES is 0. */
typedef struct story_cache story_cache_t;
story_cache_t *stories_cache(const config_t *cfg);

typedef enum {
    STORIES_GEN_CREATE = 0,
    STORIES_GEN_REGENERATE,
    STORIES_GEN_AUDIO,
    STORIES_GEN_SCENES,
    STORIES_GEN_IMAGE_CHANGED,
} stories_gen_kind_t;

/* What the caller asked for; strings live in the request arena. */
typedef struct {
    stories_gen_kind_t kind;
    const char *story_id; /* canonical UUID */
    int64_t user_id;      /* the caller */
    /* Validated, not yet saved: they become the story's when the job is created, and the job
     * carries them in its payload (so a replay or a mismatched Idempotency-Key changes nothing). */
    const char *prompt;        /* regenerate: a new prompt or NULL */
    const char *modifications; /* regenerate: requested changes, or NULL */
    const char *template_name; /* regenerate: validated template or NULL */
    const char *voice_id;      /* generate_audio: the voice or NULL (keep the story's) */
    const int *scene_numbers;  /* generate_scenes: redraw only these (NULL = every scene) */
    size_t nscene_numbers;
} stories_gen_request_t;

typedef void (*stories_gen_fn)(http_req_t *req, const api_user_t *user,
                               const stories_gen_request_t *r);

typedef struct {
    stories_gen_fn create, regenerate, generate_audio, generate_scenes, image_changed;
} stories_generation_hooks_t;

/* Installs the hooks (copied; NULL members keep the defaults). Loop thread, before serving. */
void stories_set_generation_hooks(const stories_generation_hooks_t *hooks);
const stories_generation_hooks_t *stories_generation_hooks(void);

/* Replaces the text of a story and, in the same statement, stores the old text (with its prompt
 * and template) as a revision with `reason` ("edit", "regenerate" or "restore") when it was not
 * empty and differs. new_prompt/new_template NULL keep the current values. by_user 0 = none.
 * cb gets one row (id) when the story exists, none otherwise. Returns as db_query. */
int stories_replace_text(db_pool_t *db, const char *story_id, int64_t by_user, const char *reason,
                         const char *new_text, const char *new_prompt, const char *new_template,
                         db_query_cb cb, void *arg);

/* ---- helpers shared by the handlers ------------------------------------------------------ */

/* A query bound to a request: if the client leaves first, the query is cancelled and the
 * request finished (the callback never runs). Returns false after answering 503. */
typedef void (*stories_q_cb)(http_req_t *req, db_result_t *res, void *ctx);
bool stories_q(http_req_t *req, const char *sql, int n, const char *const *params, stories_q_cb cb,
               void *ctx);

/* "123" into the arena. */
const char *stories_int(http_req_t *req, int64_t v);
/* The visibility parameters of a caller: user id and "t"/"f" for superuser. */
#define STORIES_VISIBLE "(s.user_id = $2 OR $3::boolean)"

/* Field errors answered as a bare DRF dict: 400 {"field": ["message"], ...}. */
typedef struct stories_err stories_err_t;
typedef struct {
    http_req_t *req;
    stories_err_t *head, *tail;
} stories_errors_t;
void stories_errors_init(stories_errors_t *e, http_req_t *req);
void stories_errors_add(stories_errors_t *e, const char *field, const char *msg);
bool stories_errors_any(const stories_errors_t *e);
void stories_errors_respond(stories_errors_t *e);

/* Action errors and messages ({"error": msg}, {"message": msg}) are answered with
 * api_respond_error_only and api_respond_message (api/accounts.h). */

/* Request fields from a JSON body or a multipart/form-data body (after media_upload_finish),
 * so one handler serves the frontend's multipart forms and JSON clients alike. */
typedef struct {
    http_req_t *req;
    yajl_val json; /* NULL for multipart */
} stories_form_t;
enum { FORM_ABSENT = 0, FORM_OK = 1, FORM_NULL = -1, FORM_BAD = -2 };
/* Parses the JSON body (an empty body is {}); false after answering 400. */
bool stories_form_init(stories_form_t *f, http_req_t *req);
/* Each returns FORM_ABSENT, FORM_OK (value in *out), FORM_NULL (JSON null) or FORM_BAD (wrong
 * type or unparseable; form strings "true"/"false"/"1"/"0" are booleans, digits integers). */
int stories_form_str(const stories_form_t *f, const char *key, const char **out);
int stories_form_bool(const stories_form_t *f, const char *key, bool *out);
int stories_form_int(const stories_form_t *f, const char *key, int64_t *out);
/* Reads an optional string field with checks (max chars, not blank when required) and adds
 * DRF messages to e. Returns the value, or NULL when absent or invalid. */
const char *stories_field_text(const stories_form_t *f, stories_errors_t *e, const char *key,
                               bool required, bool allow_blank, size_t max_chars);

/* The five templates of the reference. */
bool stories_template_valid(const char *t);
/* Value of a JSON member as a boolean, accepting form strings ("true", "1", "on"...). Returns
 * false when absent (present = false) or when the value is not a boolean (*bad = true). */
bool stories_bool_value(const char *s, bool *out);

/* ---- voices and languages (voices.c; swap for the providers registry when it lands) --------- */
bool stories_voice_valid(const char *voice_id);
/* The default voice of a language (the provider's first voice for it), or of en-US. */
const char *stories_voice_default(const char *language_code);
bool stories_language_valid(const char *code);
/* Selects the speech provider whose catalogue applies: "espeak" (default) or "polly". */
void stories_voices_set_provider(const char *name);

/* ---- handlers ------------------------------------------------------------------------------ */
extern const http_body_sink_t stories_upload_sink;

void api_stories_list(http_req_t *req);
void api_stories_create(http_req_t *req);
void api_stories_get(http_req_t *req);
void api_stories_update(http_req_t *req); /* PUT and PATCH */
void api_stories_delete(http_req_t *req);
void api_stories_available_voices(http_req_t *req);
void api_stories_revisions(http_req_t *req);
void api_stories_restore(http_req_t *req);
void api_stories_regenerate(http_req_t *req);
void api_stories_generate_audio(http_req_t *req);
void api_stories_generate_scenes(http_req_t *req);
void api_stories_initialize_scenes(http_req_t *req);
void api_stories_add_scene(http_req_t *req);
void api_stories_delete_scene(http_req_t *req);
void api_stories_upload_scene_image(http_req_t *req);
void api_stories_start_voice_session(http_req_t *req);
void api_stories_end_voice_session(http_req_t *req);

void api_sessions_list(http_req_t *req);
void api_sessions_create(http_req_t *req);
void api_sessions_get(http_req_t *req);
void api_sessions_update(http_req_t *req);
void api_sessions_delete(http_req_t *req);
void api_sessions_end(http_req_t *req);

void api_playlists_list(http_req_t *req);
void api_playlists_create(http_req_t *req);
void api_playlists_get(http_req_t *req);
void api_playlists_update(http_req_t *req);
void api_playlists_delete(http_req_t *req);
void api_playlists_add_story(http_req_t *req);
void api_playlists_remove_story(http_req_t *req);
void api_playlists_reorder(http_req_t *req);

void api_story_settings_get(http_req_t *req);
void api_story_settings_update(http_req_t *req);

void api_dashboard_stats(http_req_t *req);

void api_media_get(http_req_t *req);

#endif
