/* stories: list, create, read, update and delete (GET/POST /api/stories/, GET/PUT/PATCH/DELETE
 * /api/stories/{id}/). Visibility: the owner, or a superuser; anyone else gets 404. Image files
 * arrive through the upload sink, are checked by content and moved into the media folder before
 * the row points at them; a replaced image is deleted only after the update committed, and a
 * deleted story's folder only after the delete committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "api/pagination.h"
#include "api/story_cache.h"
#include "api/story_json.h"
#include "api/stories.h"
#include "core/crypto.h"
#include "core/json.h"
#include "media/paths.h"
#include "media/store.h"
#include "media/upload.h"

#define STORY_TITLE_MAX  200
#define STORY_PROMPT_MAX 20000
#define STORY_TEXT_MAX   200000

/* ---- list -------------------------------------------------------------------------------- */

static const api_order_field_t stories__order[] = {
    {"created_at", "s.created_at"},
    {"updated_at", "s.updated_at"},
    {"title", "s.title"},
};

typedef struct {
    api_page_t page;
} list__t;

static void list__done(http_req_t *req, db_result_t *res, void *ctx)
{
    list__t *l = ctx;
    if (api_db_failed(req, res)) return;
    int n = db_result_nrows(res);
    if (!api_page_check_rows(req, &l->page, n)) return;
    const char *total = n ? db_result_get_by_name(res, 0, "total_count") : "0";
    yajl_gen g = json_gen_new();
    api_page_open(g, req, &l->page, strtoll(total ? total : "0", NULL, 10));
    for (int i = 0; i < n; i++)
        story_json_list_item(g, req, res, i);
    api_page_close(g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void list__authed(http_req_t *req, const api_user_t *user)
{
    list__t *l = arena_calloc(&req->arena, sizeof *l);
    if (!api_page_parse(req, stories__order, sizeof stories__order / sizeof stories__order[0],
                        "s.created_at DESC", "s.id DESC", 10, &l->page))
        return;
    const char *sql = arena_printf(
        &req->arena,
        "SELECT " STORY_LIST_COLS ", count(*) OVER () AS total_count FROM stories s JOIN users u "
        "ON u.id = s.user_id WHERE (s.user_id = $1 OR $2::boolean) AND ($3::text[] IS NULL OR "
        "NOT EXISTS (SELECT 1 FROM unnest($3::text[]) t(p) WHERE NOT (s.title ILIKE t.p OR "
        "s.prompt ILIKE t.p OR s.story_text ILIKE t.p))) ORDER BY %s LIMIT $4 OFFSET $5",
        l->page.order_by);
    const char *params[5] = {stories_int(req, user->id), user->is_superuser ? "t" : "f",
                             l->page.patterns, l->page.limit_s, l->page.offset_s};
    stories_q(req, sql, 5, params, list__done, l);
}

void api_stories_list(http_req_t *req)
{
    api_auth(req, true, list__authed);
}

/* ---- get / delete ------------------------------------------------------------------------ */

static void get__authed(http_req_t *req, const api_user_t *user)
{
    story_respond(req, user, req->params[0], 200, NULL);
}

/* The hot path of the API (the frontend polls a story while it is generated): the token lookup
 * and the story read in one statement, one round trip instead of two. It applies only when
 * everything is in order (a well-formed key, a live token that needs no sliding-expiry update,
 * an active user); any other case goes through api_auth, which answers 401s and touches tokens
 * exactly as everywhere else. */
#define STORIES__STR_(x) #x
#define STORIES__STR(x)  STORIES__STR_(x)

static bool get__fast_key(http_req_t *req, char hash[67])
{
    const char *h = http_req_header(req, "authorization");
    if (!h) return false;
    const char *p;
    if (strncasecmp(h, "Token ", 6) == 0)
        p = h + 6;
    else if (strncasecmp(h, "Bearer ", 7) == 0)
        p = h + 7;
    else
        return false;
    uint8_t raw[32];
    size_t n = strlen(p);
    if (n != API_TOKEN_KEY_LEN || crypto_base64url_decode(p, n, raw, sizeof raw) != 32)
        return false;
    api_token_hash_param(p, n, hash);
    return true;
}

/* The cache of rendered stories (api/story_cache.h): created on first use from the settings;
 * one per process, like the event loop that uses it. */
static story_cache_t *get__cache;
static bool get__cache_made;

story_cache_t *stories_cache(const config_t *cfg)
{
    if (!get__cache_made) {
        get__cache_made = true;
        /* Entries carry signed media URLs made when they were rendered: they are served for at
         * most a minute (and a tenth of the URLs' lifetime), so the links stay fresh. */
        int64_t age_ms = cfg->media_url_ttl_s * 100;
        if (age_ms > 60000) age_ms = 60000;
        get__cache = story_cache_new((size_t)cfg->story_cache_bytes, (uint64_t)age_ms);
    }
    return get__cache;
}

static uint64_t get__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *get__cache_key(http_req_t *req)
{
    /* The rendered URLs are absolute: one entry per story and public base. */
    return arena_printf(&req->arena, "%s|%s", req->params[0], api_public_base(req));
}

static void get__full_done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) != 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    yajl_gen g = json_gen_new();
    story_json_detail(g, req, res, 0);
    const unsigned char *out;
    size_t len;
    yajl_gen_get_buf(g, &out, &len);
    app_t *app = req->app;
    story_cache_put(stories_cache(app->cfg), get__cache_key(req),
                    db_result_get_by_name(res, 0, "version"), (const char *)out, len,
                    get__now_ms());
    http_respond(req, 200, "application/json", out, len);
    yajl_gen_free(g);
}

static void get__checked(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    const char *ok = db_result_nrows(res) == 1 ? db_result_get_by_name(res, 0, "auth_ok") : NULL;
    if (!ok || ok[0] != 't') {
        api_auth(req, true, get__authed);
        return;
    }
    const char *uid = db_result_get_by_name(res, 0, "auth_user_id");
    req->user_id = strtoll(uid ? uid : "0", NULL, 10);
    const char *version = db_result_get_by_name(res, 0, "version");
    if (!version) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    app_t *app = req->app;
    size_t len;
    const char *body =
        story_cache_get(stories_cache(app->cfg), get__cache_key(req), version, get__now_ms(), &len);
    if (body) {
        http_respond(req, 200, "application/json", body, len);
        return;
    }
    /* Visible to the caller (just checked): render it, with the version it was rendered at. */
    const char *params[1] = {req->params[0]};
    stories_q(req,
              "SELECT " STORY_DETAIL_COLS ", s.xmin::text || ':' || u.xmin::text AS version "
              "FROM stories s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
              1, params, get__full_done, NULL);
}

/* One statement checks the token and reads the story's version (the xmin of its row, which
 * changes with the story and its scenes, and of its owner's row); a story rendered at that
 * version is answered from the cache, any other is read and rendered. */
void api_stories_get(http_req_t *req)
{
    char hash[67];
    if (!get__fast_key(req, hash)) {
        api_auth(req, true, get__authed);
        return;
    }
    const char *params[2] = {arena_strdup(&req->arena, hash), req->params[0]};
    stories_q(
        req,
        "SELECT a.auth_ok, a.auth_user_id, s.xmin::text || ':' || u.xmin::text AS version"
        " FROM (SELECT u.id AS auth_user_id, u.is_superuser AS auth_su, (t.expires_at > now() "
        "AND t.last_used_at >= now() - interval '" STORIES__STR(
            API_AUTH_TOUCH_S) " seconds' AND u.is_active) AS auth_ok FROM auth_tokens t JOIN "
                              "users u ON u.id = t.user_id WHERE t.token_hash = $1::bytea) a "
                              "LEFT JOIN (stories s JOIN users u ON u.id = s.user_id) ON "
                              "s.id = $2 AND (s.user_id = a.auth_user_id OR a.auth_su)",
        2, params, get__checked, NULL);
}

static void delete__files_gone(int status, void *arg)
{
    http_req_t *req = arg;
    (void)status; /* the row is gone either way; a leftover file is harmless and unreachable */
    http_respond(req, 204, NULL, NULL, 0);
}

static void delete__done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    app_t *app = req->app;
    const char *created = db_result_get_by_name(res, 0, "created_unix");
    /* The row (and its scenes) are committed as gone: now the story's folder can go. The answer
     * waits for it so a client that deletes and then looks finds nothing left. */
    if (media_store_remove_story(app->loop, app->cfg->media_dir,
                                 strtoll(created ? created : "0", NULL, 10), req->params[0],
                                 delete__files_gone, req) != 0)
        http_respond(req, 204, NULL, NULL, 0);
}

static void delete__authed(http_req_t *req, const api_user_t *user)
{
    const char *params[3] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f"};
    stories_q(req,
              "DELETE FROM stories s WHERE s.id = $1 AND " STORIES_VISIBLE
              " RETURNING extract(epoch FROM s.created_at)::bigint AS created_unix",
              3, params, delete__done, NULL);
}

void api_stories_delete(http_req_t *req)
{
    api_auth(req, true, delete__authed);
}

/* ---- shared by create and update ---------------------------------------------------------- */

typedef struct {
    const api_user_t *user;
    const char *id;
    int64_t created_unix;
    const char *created_iso;
    const char *title, *prompt, *story_text, *template_name, *voice_id, *language_code;
    const char *is_published; /* "t", "f" or NULL */
    const char *image_path;   /* new image (relative), NULL when none */
    bool put;
} edit__t;

/* Validates the writable fields. On create, title and prompt are required. */
static bool edit__validate(http_req_t *req, edit__t *e, bool create, bool put)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return false;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    e->title = stories_field_text(&f, &errs, "title", create || put, false, STORY_TITLE_MAX);
    e->prompt = stories_field_text(&f, &errs, "prompt", create || put, false, STORY_PROMPT_MAX);
    e->story_text = stories_field_text(&f, &errs, "story_text", false, true, STORY_TEXT_MAX);
    e->template_name = stories_field_text(&f, &errs, "template", false, false, 20);
    if (e->template_name && !stories_template_valid(e->template_name))
        stories_errors_add(
            &errs, "template",
            arena_printf(&req->arena, "\"%s\" is not a valid choice.", e->template_name));
    e->voice_id = stories_field_text(&f, &errs, "voice_id", false, false, 50);
    if (e->voice_id && !stories_voice_valid(e->voice_id))
        stories_errors_add(&errs, "voice_id",
                           arena_printf(&req->arena,
                                        "\"%s\" is not a voice of the speech provider; see "
                                        "/api/stories/available_voices/.",
                                        e->voice_id));
    e->language_code = stories_field_text(&f, &errs, "language_code", false, false, 16);
    if (e->language_code && !stories_language_valid(e->language_code))
        stories_errors_add(
            &errs, "language_code",
            arena_printf(&req->arena, "\"%s\" is not a supported language.", e->language_code));
    bool pub;
    int rc = stories_form_bool(&f, "is_published", &pub);
    if (rc == FORM_OK)
        e->is_published = pub ? "t" : "f";
    else if (rc != FORM_ABSENT)
        stories_errors_add(&errs, "is_published", "Must be a valid boolean.");
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return false;
    }
    return true;
}

/* Answers a refused upload (media_upload_finish) in the error shape of the story endpoints. */
static void edit__upload_failed(http_req_t *req, int status, const char *detail)
{
    if (status == 400 && detail && strncmp(detail, "image: ", 7) == 0) {
        stories_errors_t errs;
        stories_errors_init(&errs, req);
        stories_errors_add(&errs, "image", detail + 7);
        stories_errors_respond(&errs);
        return;
    }
    api_respond_error_only(req, status, detail ? detail : http_status_text(status));
}

static void edit__new_uuid(char out[37])
{
    uint8_t b[16];
    if (crypto_random(b, sizeof b) != 0) {
        /* The kernel CSPRNG does not fail on Linux once booted; fall back to time-based bytes
         * so the id stays unique rather than failing the request. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(b, &ts, sizeof ts < sizeof b ? sizeof ts : sizeof b);
    }
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

static int64_t edit__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Builds the path of the uploaded image and moves the spool file there. */
static bool edit__place_image(http_req_t *req, edit__t *e, media_store_cb cb)
{
    app_t *app = req->app;
    const media_upload_file_t *img = media_upload_file(req, "image");
    char path[MEDIA_STORY_PATH_MAX];
    if (media_path_story_file(path, sizeof path, e->created_unix, e->id, MEDIA_KIND_IMAGE, 0,
                              edit__now_ms(), img->image.extension) < 0) {
        api_respond_error_only(req, 500, "cannot name the image file");
        return false;
    }
    e->image_path = arena_strdup(&req->arena, path);
    if (media_store_adopt(app->loop, app->cfg->media_dir, img->spool, e->image_path, cb, req) !=
        0) {
        api_respond_error_only(req, 503, "the image could not be stored");
        return false;
    }
    return true;
}

static void edit__remove_file(http_req_t *req, const char *path)
{
    app_t *app = req->app;
    const char *paths[1] = {path};
    if (path && *path) media_store_remove(app->loop, app->cfg->media_dir, paths, 1, NULL, NULL);
}

/* ---- create ------------------------------------------------------------------------------ */

static void create__inserted(http_req_t *req, db_result_t *res, void *ctx)
{
    edit__t *e = ctx;
    if (db_result_status(res) != DB_OK || db_result_nrows(res) < 1) {
        edit__remove_file(req, e->image_path); /* the row never pointed at it */
        if (!api_db_failed(req, res)) api_respond_error_only(req, 500, "the story was not saved");
        return;
    }
    const stories_generation_hooks_t *h = stories_generation_hooks();
    if (h->create) {
        stories_gen_request_t g = {.kind = STORIES_GEN_CREATE,
                                   .story_id = e->id,
                                   .user_id = e->user->id,
                                   .template_name = e->template_name};
        h->create(req, e->user, &g);
        return;
    }
    story_respond(req, e->user, e->id, 201, NULL);
}

static void create__insert(http_req_t *req, edit__t *e)
{
    const char *lang = e->language_code;
    const char *params[12] = {
        e->id,
        stories_int(req, e->user->id),
        e->title,
        e->prompt,
        e->story_text ? e->story_text : "",
        e->template_name ? e->template_name : "adventure",
        e->is_published ? e->is_published : "f",
        e->voice_id,
        lang,
        stories_voice_default(lang ? lang : "en-US"),
        e->image_path,
        e->created_iso,
    };
    /* Voice and language fall back to the user's story settings, then to the provider's
     * default voice for the language. */
    stories_q(req,
              "INSERT INTO stories (id, user_id, title, prompt, story_text, template, "
              "is_published, voice_id, language_code, image, created_at, updated_at) SELECT $1, "
              "$2, $3, $4, $5, $6, $7, COALESCE($8, NULLIF(st.default_voice_id, ''), $10), "
              "COALESCE($9, NULLIF(st.default_language_code, ''), 'en-US'), $11, $12, $12 FROM "
              "(SELECT 1) one LEFT JOIN user_story_settings st ON st.user_id = $2 RETURNING id",
              12, params, create__inserted, e);
}

static void create__placed(int status, void *arg)
{
    http_req_t *req = arg;
    edit__t *ed = req->on_abort_arg;
    req->on_abort = NULL;
    if (status != 0) {
        api_respond_error_only(req, 500, "the image could not be stored");
        return;
    }
    media_upload_take(req, "image");
    create__insert(req, ed);
}

static void create__noop_abort(http_req_t *req, void *arg)
{
    (void)req;
    (void)arg;
    /* The file move finishes on its own; its callback answers (the answer is discarded). */
}

static void create__authed(http_req_t *req, const api_user_t *user)
{
    edit__t *e = arena_calloc(&req->arena, sizeof *e);
    e->user = user;
    if (!edit__validate(req, e, true, false)) return;
    char id[37];
    edit__new_uuid(id);
    e->id = arena_strdup(&req->arena, id);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    e->created_unix = tv.tv_sec;
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    e->created_iso =
        arena_printf(&req->arena, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
    if (media_upload_file(req, "image")) {
        req->on_abort = create__noop_abort;
        req->on_abort_arg = e;
        edit__place_image(req, e, create__placed);
        return;
    }
    create__insert(req, e);
}

static void create__uploaded(http_req_t *req, int status, const char *detail)
{
    if (status) {
        edit__upload_failed(req, status, detail);
        return;
    }
    api_auth(req, true, create__authed);
}

void api_stories_create(http_req_t *req)
{
    media_upload_finish(req, create__uploaded);
}

/* ---- update (PUT / PATCH) ------------------------------------------------------------------- */

static void update__done(http_req_t *req, db_result_t *res, void *ctx)
{
    edit__t *e = ctx;
    if (db_result_status(res) != DB_OK || db_result_nrows(res) < 1) {
        edit__remove_file(req, e->image_path);
        if (api_db_failed(req, res)) return;
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    if (e->image_path) {
        /* The row now points at the new image: the old one can go. */
        const char *old = db_result_get_by_name(res, 0, "old_image");
        if (old && strcmp(old, e->image_path) != 0) edit__remove_file(req, old);
        const stories_generation_hooks_t *h = stories_generation_hooks();
        if (h->image_changed) {
            stories_gen_request_t g = {
                .kind = STORIES_GEN_IMAGE_CHANGED, .story_id = e->id, .user_id = e->user->id};
            h->image_changed(req, e->user, &g);
            return;
        }
    }
    story_respond(req, e->user, e->id, 200, NULL);
}

static void update__run(http_req_t *req, edit__t *e)
{
    const char *params[11] = {e->id,
                              stories_int(req, e->user->id),
                              e->user->is_superuser ? "t" : "f",
                              e->title,
                              e->prompt,
                              e->story_text,
                              e->template_name,
                              e->is_published,
                              e->voice_id,
                              e->language_code,
                              e->image_path};
    stories_q(req,
              "WITH old AS (SELECT s.id, s.story_text, s.prompt, s.template, s.image FROM stories "
              "s WHERE s.id = $1 AND (s.user_id = $2 OR $3::boolean) FOR UPDATE), rev AS (INSERT "
              "INTO story_revisions (story_id, story_text, prompt, template, reason, created_by) "
              "SELECT id, story_text, prompt, template, 'edit', $2::bigint FROM old WHERE "
              "$6::text IS NOT NULL AND old.story_text <> '' AND old.story_text <> $6) UPDATE "
              "stories s SET title = COALESCE($4, s.title), prompt = COALESCE($5, s.prompt), "
              "story_text = COALESCE($6, s.story_text), template = COALESCE($7, s.template), "
              "is_published = COALESCE($8::boolean, s.is_published), voice_id = COALESCE($9, "
              "s.voice_id), language_code = COALESCE($10, s.language_code), image = COALESCE($11, "
              "s.image) FROM old WHERE s.id = old.id RETURNING old.image AS old_image",
              11, params, update__done, e);
}

static void update__placed(int status, void *arg)
{
    http_req_t *req = arg;
    edit__t *e = req->on_abort_arg;
    req->on_abort = NULL;
    if (status != 0) {
        api_respond_error_only(req, 500, "the image could not be stored");
        return;
    }
    media_upload_take(req, "image");
    update__run(req, e);
}

static void update__found(http_req_t *req, db_result_t *res, void *ctx)
{
    edit__t *e = ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    const char *c = db_result_get(res, 0, 0);
    e->created_unix = strtoll(c ? c : "0", NULL, 10);
    req->on_abort = create__noop_abort;
    req->on_abort_arg = e;
    edit__place_image(req, e, update__placed);
}

static void update__authed(http_req_t *req, const api_user_t *user)
{
    edit__t *e = arena_calloc(&req->arena, sizeof *e);
    e->user = user;
    e->id = req->params[0];
    e->put = req->method == HTTP_M_PUT;
    if (!edit__validate(req, e, false, e->put)) return;
    if (!media_upload_file(req, "image")) {
        update__run(req, e);
        return;
    }
    /* The image path depends on the story's creation month: look the story up first (which also
     * answers 404 before any file is placed). */
    const char *params[3] = {e->id, stories_int(req, user->id), user->is_superuser ? "t" : "f"};
    stories_q(req,
              "SELECT extract(epoch FROM s.created_at)::bigint FROM stories s WHERE s.id = $1 "
              "AND " STORIES_VISIBLE,
              3, params, update__found, e);
}

static void update__uploaded(http_req_t *req, int status, const char *detail)
{
    if (status) {
        edit__upload_failed(req, status, detail);
        return;
    }
    api_auth(req, true, update__authed);
}

void api_stories_update(http_req_t *req)
{
    media_upload_finish(req, update__uploaded);
}
