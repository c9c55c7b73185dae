/* story_json: story, scene and media-URL rendering (see story_json.h). */
#include "api/story_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "api/pagination.h"
#include "core/crypto.h"
#include "core/json.h"
#include "media/backend.h"
#include "media/signed_url.h"

const uint8_t *story_media_key(const config_t *cfg)
{
    /* One loop thread per process reads and fills it, and the secret never changes at run time:
     * computing it once is enough. The label keeps these MACs apart from any other use of the
     * secret. */
    static uint8_t key[CRYPTO_SHA256_LEN];
    static bool ready;
    if (!ready) {
        static const char label[] = "nova-story-media-url-key\n";
        const char *secret = cfg && cfg->secret_key ? cfg->secret_key : "";
        size_t ls = strlen(secret);
        char *buf = malloc(sizeof label + ls);
        if (!buf) return key; /* all-zero key: URLs fail to verify, nothing is exposed */
        memcpy(buf, label, sizeof label - 1);
        // NOLINTNEXTLINE(bugprone-not-null-terminated-result): hashed as bytes
        memcpy(buf + sizeof label - 1, secret, ls);
        crypto_sha256(buf, sizeof label - 1 + ls, key);
        crypto_wipe(buf, sizeof label - 1 + ls);
        free(buf);
        ready = true;
    }
    return key;
}

const char *story_media_url(http_req_t *req, const char *relpath)
{
    if (!relpath || !*relpath) return NULL;
    app_t *app = req->app;
    int64_t ttl = app->cfg->media_url_ttl_s > 0 ? app->cfg->media_url_ttl_s : 86400;
    media_backend_t *mb = media_backend_current();
    if (mb && !media_backend_proxy(mb)) {
        /* Media on S3: a presigned GET for the object, same lifetime (at most S3's 7 days). */
        char *url = NULL;
        if (media_backend_presign(mb, relpath, ttl, &url) != 0) return NULL;
        const char *out = arena_strdup(&req->arena, url);
        free(url);
        return out;
    }
    /* The same file keeps the same URL for a while, so browsers can cache it. */
    int64_t expires = signed_url_step_start((int64_t)time(NULL), ttl) + ttl;
    char *path = arena_printf(&req->arena, "/media/%s", relpath);
    char q[SIGNED_URL_QUERY_MAX];
    if (signed_url_make(story_media_key(app->cfg), CRYPTO_SHA256_LEN, path, expires, q, sizeof q) <
        0)
        return NULL;
    return arena_printf(&req->arena, "%s%s%s", api_public_base(req), path, q);
}

static const char *col(const db_result_t *res, int row, const char *name)
{
    return db_result_get_by_name(res, row, name);
}

static bool col_bool(const db_result_t *res, int row, const char *name)
{
    const char *v = col(res, row, name);
    return v && v[0] == 't';
}

static void kv_int_col(yajl_gen g, const char *key, const db_result_t *res, int row,
                       const char *name)
{
    const char *v = col(res, row, name);
    if (v)
        json_kv_int(g, key, strtoll(v, NULL, 10));
    else
        json_kv_null(g, key);
}

/* Writes a JSON value produced by PostgreSQL (already valid JSON) as it is. */
static void kv_raw_json(yajl_gen g, const char *key, const char *json, const char *fallback)
{
    json_key(g, key);
    const char *v = json && *json ? json : fallback;
    yajl_gen_number(g, v, strlen(v));
}

static void story__common(yajl_gen g, http_req_t *req, const db_result_t *res, int row)
{
    json_kv_str(g, "id", col(res, row, "id"));
    kv_int_col(g, "user", res, row, "user_id");
    json_kv_str(g, "user_name", col(res, row, "user_name"));
}

/* Whether this reader may see the story's safety record: its owner always; in the detail view
 * anyone it is shown to, because every detail query returns a story only to its owner or to
 * staff (superusers). A list may hold other people's published stories: there only the owner
 * sees it. */
static bool story__privileged(http_req_t *req, const db_result_t *res, int row, bool detail)
{
    if (detail) return true;
    const char *owner = col(res, row, "user_id");
    return owner && req->user_id > 0 && strtoll(owner, NULL, 10) == req->user_id;
}

/* Writes a JSON value produced by PostgreSQL only when it parses: a malformed stored value must
 * not break the whole answer. */
static void kv_json_checked(yajl_gen g, http_req_t *req, const char *key, const char *json,
                            const char *fallback)
{
    char err[64];
    if (json && *json && json_parse(&req->arena, json, strlen(json), 8, err, sizeof err))
        kv_raw_json(g, key, json, fallback);
    else
        kv_raw_json(g, key, fallback, fallback);
}

static void story__additions(yajl_gen g, http_req_t *req, const db_result_t *res, int row,
                             bool detail)
{
    json_kv_str(g, "status", col(res, row, "status"));
    json_kv_str(g, "provider", col(res, row, "provider"));
    json_kv_str(g, "model", col(res, row, "model"));
    kv_int_col(g, "audio_duration_ms", res, row, "audio_duration_ms");
    json_kv_str(g, "marks_url", story_media_url(req, col(res, row, "marks_file")));
    kv_raw_json(g, "questions", col(res, row, "questions"), "[]");
    kv_json_checked(g, req, "characters", col(res, row, "characters"), "[]");
    const char *safety = col(res, row, "safety");
    if (safety && story__privileged(req, res, row, detail))
        kv_json_checked(g, req, "safety", safety, "null");
    else
        json_kv_null(g, "safety");
    json_kv_str(g, "language_code", col(res, row, "language_code"));
}

void story_json_list_item(yajl_gen g, http_req_t *req, const db_result_t *res, int row)
{
    yajl_gen_map_open(g);
    story__common(g, req, res, row);
    json_kv_str(g, "title", col(res, row, "title"));
    json_kv_str(g, "template", col(res, row, "template"));
    json_kv_bool(g, "is_published", col_bool(res, row, "is_published"));
    json_kv_str(g, "created_at", col(res, row, "created_at"));
    json_kv_str(g, "updated_at", col(res, row, "updated_at"));
    json_kv_str(g, "image_url", story_media_url(req, col(res, row, "image")));
    json_kv_str(g, "audio_url", story_media_url(req, col(res, row, "audio_file")));
    json_kv_str(g, "voice_id", col(res, row, "voice_id"));
    story__additions(g, req, res, row, false);
    yajl_gen_map_close(g);
}

/* Copies a scene's moderation record {"moderated","retried","message","model"} (or null). */
static void scene__moderation(yajl_gen g, yajl_val m)
{
    if (!m || !YAJL_IS_OBJECT(m)) {
        yajl_gen_null(g);
        return;
    }
    yajl_gen_map_open(g);
    bool b = false;
    json_kv_bool(g, "moderated", json_get_bool(m, "moderated", &b) && b);
    b = false;
    json_kv_bool(g, "retried", json_get_bool(m, "retried", &b) && b);
    json_kv_str(g, "message", json_get_str(m, "message"));
    json_kv_str(g, "model", json_get_str(m, "model"));
    yajl_gen_map_close(g);
}

static void scene__inline(yajl_gen g, http_req_t *req, const char *story_id, yajl_val sc)
{
    yajl_gen_map_open(g);
    json_kv_str(g, "id", json_get_str(sc, "id"));
    json_kv_str(g, "story", story_id);
    int64_t n = 0;
    json_get_int(sc, "scene_number", &n);
    json_kv_int(g, "scene_number", n);
    json_kv_str(g, "scene_text", json_get_str(sc, "scene_text"));
    json_kv_str(g, "image_url", story_media_url(req, json_get_str(sc, "image")));
    json_kv_str(g, "prompt_used", json_get_str(sc, "prompt_used"));
    json_kv_str(g, "status", json_get_str(sc, "status"));
    json_kv_str(g, "error", json_get_str(sc, "error"));
    json_kv_str(g, "provider", json_get_str(sc, "provider"));
    json_kv_str(g, "model", json_get_str(sc, "model"));
    int64_t seed = 0;
    if (json_get_int(sc, "seed", &seed))
        json_kv_int(g, "seed", seed);
    else
        json_kv_null(g, "seed");
    yajl_val mod = json_get(sc, "moderation");
    json_key(g, "moderation");
    scene__moderation(g, mod);
    json_kv_str(g, "created_at", json_get_str(sc, "created_at"));
    json_kv_str(g, "updated_at", json_get_str(sc, "updated_at"));
    yajl_gen_map_close(g);
}

void story_json_detail(yajl_gen g, http_req_t *req, const db_result_t *res, int row)
{
    const char *id = col(res, row, "id");
    const char *image = story_media_url(req, col(res, row, "image"));
    const char *audio = story_media_url(req, col(res, row, "audio_file"));
    yajl_gen_map_open(g);
    story__common(g, req, res, row);
    json_kv_str(g, "user_email", col(res, row, "user_email"));
    json_kv_str(g, "title", col(res, row, "title"));
    json_kv_str(g, "prompt", col(res, row, "prompt"));
    json_kv_str(g, "system_prompt_used", col(res, row, "system_prompt_used"));
    json_kv_str(g, "story_text", col(res, row, "story_text"));
    json_kv_str(g, "template", col(res, row, "template"));
    json_kv_str(g, "image", image);
    json_kv_str(g, "image_url", image);
    json_kv_str(g, "image_description", col(res, row, "image_description"));
    json_kv_str(g, "audio_file", audio);
    json_kv_str(g, "audio_url", audio);
    json_kv_str(g, "voice_id", col(res, row, "voice_id"));
    json_kv_bool(g, "is_published", col_bool(res, row, "is_published"));
    json_key(g, "scenes");
    yajl_gen_array_open(g);
    const char *scenes = col(res, row, "scenes");
    char err[128];
    yajl_val arr =
        scenes ? json_parse(&req->arena, scenes, strlen(scenes), 8, err, sizeof err) : NULL;
    if (arr && YAJL_IS_ARRAY(arr))
        for (size_t i = 0; i < arr->u.array.len; i++)
            scene__inline(g, req, id, arr->u.array.values[i]);
    yajl_gen_array_close(g);
    json_kv_str(g, "created_at", col(res, row, "created_at"));
    json_kv_str(g, "updated_at", col(res, row, "updated_at"));
    story__additions(g, req, res, row, true);
    yajl_gen_map_close(g);
}

void story_json_scene_row(yajl_gen g, http_req_t *req, const db_result_t *res, int row)
{
    const char *image = story_media_url(req, col(res, row, "image"));
    yajl_gen_map_open(g);
    json_kv_str(g, "id", col(res, row, "id"));
    json_kv_str(g, "story", col(res, row, "story_id"));
    kv_int_col(g, "scene_number", res, row, "scene_number");
    json_kv_str(g, "scene_text", col(res, row, "scene_text"));
    json_kv_str(g, "image", image);
    json_kv_str(g, "image_url", image);
    json_kv_str(g, "prompt_used", col(res, row, "prompt_used"));
    json_kv_str(g, "status", col(res, row, "status"));
    json_kv_str(g, "error", col(res, row, "error"));
    json_kv_str(g, "provider", col(res, row, "provider"));
    json_kv_str(g, "model", col(res, row, "model"));
    kv_int_col(g, "seed", res, row, "seed");
    const char *mod = col(res, row, "moderation");
    char err[64];
    json_key(g, "moderation");
    scene__moderation(g,
                      mod ? json_parse(&req->arena, mod, strlen(mod), 4, err, sizeof err) : NULL);
    json_kv_str(g, "created_at", col(res, row, "created_at"));
    json_kv_str(g, "updated_at", col(res, row, "updated_at"));
    yajl_gen_map_close(g);
}

/* ---- story_respond ----------------------------------------------------------------------------
 */

typedef struct {
    http_req_t *req;
    int status;
    const char *message;
} respond__t;

static void respond__abort(http_req_t *req, void *arg)
{
    db_query_cancel(arg);
    http_respond(req, 499, NULL, NULL, 0);
}

static void respond__done(db_result_t *res, void *arg)
{
    respond__t *r = arg;
    http_req_t *req = r->req;
    req->on_abort = NULL;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    yajl_gen g = json_gen_new();
    if (r->message) {
        yajl_gen_map_open(g);
        json_kv_str(g, "message", r->message);
        json_key(g, "story");
    }
    story_json_detail(g, req, res, 0);
    if (r->message) yajl_gen_map_close(g);
    http_respond_json(req, r->status, g);
    yajl_gen_free(g);
}

void story_respond(http_req_t *req, const api_user_t *user, const char *id, int status,
                   const char *message)
{
    app_t *app = req->app;
    respond__t *r = arena_alloc(&req->arena, sizeof *r);
    r->req = req;
    r->status = status;
    r->message = message ? arena_strdup(&req->arena, message) : NULL;
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user->id);
    const char *params[3] = {id, uid, user->is_superuser ? "t" : "f"};
    db_query_t *q = NULL;
    if (!app->db || db_query(app->db,
                             "SELECT " STORY_DETAIL_COLS " FROM stories s JOIN users u ON u.id = "
                             "s.user_id WHERE s.id = $1 AND (s.user_id = $2 OR $3::boolean)",
                             3, params, respond__done, r, &q) != 0) {
        api_db_unavailable(req);
        return;
    }
    req->on_abort = respond__abort;
    req->on_abort_arg = q;
}
