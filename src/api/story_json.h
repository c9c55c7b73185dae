/* story_json: the JSON shapes of the story domain (the reference API's serializers plus our
 * additions) and the absolute, signed media URLs they carry. Shared by every story endpoint and
 * by the generation pipeline, so a story looks the same wherever it is returned.
 *
 * Story detail (StorySerializer): id, user (int), user_name, user_email, title, prompt,
 * system_prompt_used, story_text, template, image, image_url, image_description, audio_file,
 * audio_url, voice_id, is_published, scenes [...], created_at, updated_at; additions: status,
 * provider, model, audio_duration_ms, marks_url, questions, characters, safety (owner and staff
 * only, else null), language_code; scenes also carry seed and moderation.
 * Story list item (StoryListSerializer): id, user, user_name, title, template, is_published,
 * created_at, updated_at, image_url, audio_url, plus the same additions except scenes.
 * Media URLs are absolute ("<base>/media/<path>?expires=..&sig=..") and signed with a key
 * derived from NOVA_SECRET_KEY, so <img>/<audio> elements work without headers. */
#ifndef NOVA_API_STORY_JSON_H
#define NOVA_API_STORY_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "api/auth.h"
#include "core/config.h"
#include "db/db.h"
#include "http/http.h"

/* SELECT list of a story row over `stories s JOIN users u ON u.id = s.user_id`; story_json_*
 * read the columns by name. The scenes column is a JSON array built by PostgreSQL, so a story
 * with its scenes is one round trip. */
// clang-format off
#define STORY_LIST_COLS                                                                            \
    "s.id, s.user_id, u.username AS user_name, s.title, s.template, s.is_published, s.image, "    \
    "s.audio_file, s.audio_duration_ms, s.marks_file, s.voice_id, s.language_code, s.status, "     \
    "s.provider, s.model, s.questions::text AS questions, s.characters::text AS characters, "      \
    "s.safety::text AS safety, "                                                                   \
    API_ISO_UTC("s.created_at") " AS created_at, " API_ISO_UTC("s.updated_at") " AS updated_at"
#define STORY_DETAIL_COLS                                                                          \
    STORY_LIST_COLS ", u.email AS user_email, s.prompt, s.system_prompt_used, s.story_text, "      \
    "s.image_description, extract(epoch FROM s.created_at)::bigint AS created_unix, "              \
    "(SELECT coalesce(json_agg(json_build_object("                                                 \
    "'id', c.id, 'scene_number', c.scene_number, 'scene_text', c.scene_text, 'image', c.image, "   \
    "'prompt_used', c.prompt_used, 'status', c.status, 'error', c.error, "                         \
    "'provider', c.provider, 'model', c.model, 'seed', c.seed, 'moderation', c.moderation, "       \
    "'created_at', " API_ISO_UTC("c.created_at") ", "                                              \
    "'updated_at', " API_ISO_UTC("c.updated_at") ") ORDER BY c.scene_number), '[]') "              \
    "FROM story_scenes c WHERE c.story_id = s.id) AS scenes"
// clang-format on

/* SELECT list of a scene row (table alias c) for story_json_scene_row. */
#define STORY_SCENE_COLS                                                                           \
    "c.id, c.story_id, c.scene_number, c.scene_text, c.image, c.prompt_used, c.status, c.error, "  \
    "c.provider, c.model, c.seed, c.moderation::text AS moderation, " API_ISO_UTC(                 \
        "c.created_at") " AS created_at, " API_ISO_UTC("c.updated_at") " AS updated_at"

/* The absolute signed URL of a media path (relative to NOVA_MEDIA_DIR), in the request arena;
 * NULL for NULL or "". */
const char *story_media_url(http_req_t *req, const char *relpath);

/* The HMAC key for media URLs: SHA-256 over a label and NOVA_SECRET_KEY (computed once). */
const uint8_t *story_media_key(const config_t *cfg);

/* Writes a story object from row `row` of res (columns named as in STORY_*_COLS). */
void story_json_detail(yajl_gen g, http_req_t *req, const db_result_t *res, int row);
void story_json_list_item(yajl_gen g, http_req_t *req, const db_result_t *res, int row);
/* Writes a scene object from a row with STORY_SCENE_COLS (StorySceneSerializer, with `image`
 * and `story`, plus status, error, provider, model). */
void story_json_scene_row(yajl_gen g, http_req_t *req, const db_result_t *res, int row);

/* Answers status with the story `id` as seen by `user` (404 when missing or not visible); with
 * message != NULL the body is {"message": message, "story": {...}} as the reference's actions
 * return. */
void story_respond(http_req_t *req, const api_user_t *user, const char *id, int status,
                   const char *message);

#endif
