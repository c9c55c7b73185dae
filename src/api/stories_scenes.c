/* stories_scenes: the manual scene tools of the reference API: initialize_scenes (split the text
 * into parts), add_scene, delete_scene and upload_scene_image, with the story-part parser. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/story_json.h"
#include "api/stories.h"
#include "api/stories_int.h"
#include "core/buf.h"
#include "core/json.h"
#include "http/router.h"
#include "media/paths.h"
#include "media/store.h"
#include "media/upload.h"

#define SCENES_MAX       100
#define SCENE_NUMBER_MAX 1000
#define SCENE_TEXT_MAX   20000

/* ---- the part parser --------------------------------------------------------------------- */

/* If the line [s, e) is a heading, returns its number and sets the title span. */
static int parts__heading(const char *s, const char *e, const char **ts, const char **te)
{
    while (s < e && (*s == ' ' || *s == '\t' || *s == '#' || *s == '*' || *s == '_'))
        s++;
    static const char *const words[] = {"part", "chapter", "scene"};
    size_t wl = 0;
    for (size_t i = 0; i < 3 && !wl; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(e - s) > n && strncasecmp(s, words[i], n) == 0) wl = n;
    }
    if (!wl) return 0;
    s += wl;
    if (s >= e || (*s != ' ' && *s != '\t')) return 0;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    int num = 0, digits = 0;
    while (s < e && isdigit((unsigned char)*s) && digits < 5)
        num = num * 10 + (*s++ - '0'), digits++;
    if (!digits || (s < e && isdigit((unsigned char)*s))) return 0;
    while (s < e && (*s == ' ' || *s == '*' || *s == '_'))
        s++;
    /* After the number: the end of the line, or a separator before a title. */
    if (s < e) {
        if (*s == ':' || *s == '.' || *s == '-' || *s == ')')
            s++;
        else if (e - s >= 3 && (unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x80 &&
                 ((unsigned char)s[2] == 0x93 || (unsigned char)s[2] == 0x94))
            s += 3; /* en or em dash */
        else
            return 0;
    }
    while (s < e && (*s == ' ' || *s == '\t' || *s == '*' || *s == '_'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '*' ||
                     e[-1] == '_' || e[-1] == '#'))
        e--;
    if (e - s > 160) return 0; /* a sentence that starts with "Part 1." is not a heading */
    *ts = s;
    *te = e;
    return num ? num : -1;
}

static const char *parts__trim(http_req_t *req, const char *s, const char *e)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    return arena_strndup(&req->arena, s, (size_t)(e - s));
}

size_t stories_parse_parts(http_req_t *req, const char *text, stories_part_t *parts, size_t max)
{
    if (!text || !max) return 0;
    typedef struct {
        const char *line, *body, *ts, *te;
        int num;
    } head_t;
    head_t *heads = arena_alloc(&req->arena, (max + 1) * sizeof *heads);
    size_t nh = 0;
    const char *text_end = text + strlen(text);
    for (const char *p = text; p < text_end && nh <= max;) {
        const char *eol = memchr(p, '\n', (size_t)(text_end - p));
        const char *end = eol ? eol : text_end;
        const char *hs, *he;
        int h = parts__heading(p, end, &hs, &he);
        if (h) heads[nh++] = (head_t){p, eol ? eol + 1 : end, hs, he, h};
        p = eol ? eol + 1 : text_end;
    }
    size_t n = 0;
    bool increasing = true;
    for (size_t i = 0; i < nh && n < max; i++) {
        const char *stop = i + 1 < nh ? heads[i + 1].line : text_end;
        const char *t = parts__trim(req, heads[i].body, stop);
        if (!*t) t = parts__trim(req, heads[i].ts, heads[i].te);
        if (!*t) continue;
        if (n && heads[i].num <= parts[n - 1].number) increasing = false;
        parts[n].number = heads[i].num;
        parts[n].text = t;
        n++;
    }
    if (n == 0) {
        const char *t = parts__trim(req, text, text_end);
        if (!*t) return 0;
        parts[0].number = 1;
        parts[0].text = t;
        return 1;
    }
    if (!increasing || parts[0].number < 1)
        for (size_t i = 0; i < n; i++)
            parts[i].number = (int)i + 1;
    return n;
}

/* PostgreSQL array literals for unnest(). */
static const char *scenes__int_array(http_req_t *req, const stories_part_t *parts, size_t n)
{
    buf_t b;
    buf_init(&b, 16 * SCENES_MAX);
    buf_append_str(&b, "{");
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%d", i ? "," : "", parts[i].number);
    buf_append_str(&b, "}");
    const char *out = arena_strndup(&req->arena, b.data, b.len);
    buf_free(&b);
    return out;
}

static const char *scenes__text_array(http_req_t *req, const stories_part_t *parts, size_t n)
{
    buf_t b;
    buf_init(&b, 4u << 20);
    buf_append_str(&b, "{");
    for (size_t i = 0; i < n; i++) {
        buf_append_str(&b, i ? ",\"" : "\"");
        for (const char *s = parts[i].text; *s; s++) {
            if (*s == '"' || *s == '\\') buf_append_str(&b, "\\");
            buf_append(&b, s, 1);
        }
        buf_append_str(&b, "\"");
    }
    buf_append_str(&b, "}");
    const char *out = b.data ? arena_strndup(&req->arena, b.data, b.len) : NULL;
    buf_free(&b);
    return out;
}

static void scenes__respond_list(http_req_t *req, db_result_t *res, int status, const char *msg)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "message", msg);
    json_key(g, "scenes");
    yajl_gen_array_open(g);
    for (int i = 0; i < db_result_nrows(res); i++)
        story_json_scene_row(g, req, res, i);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    http_respond_json(req, status, g);
    yajl_gen_free(g);
}

static void scenes__respond_one(http_req_t *req, db_result_t *res, int status, const char *msg)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "message", msg);
    json_key(g, "scene");
    story_json_scene_row(g, req, res, 0);
    yajl_gen_map_close(g);
    http_respond_json(req, status, g);
    yajl_gen_free(g);
}

/* ---- initialize_scenes -------------------------------------------------------------------- */

static void init__done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    scenes__respond_list(
        req, res, 200, arena_printf(&req->arena, "Initialized %d scene(s)", db_result_nrows(res)));
}

static void init__loaded(http_req_t *req, stories_ctx_t *c)
{
    stories_part_t parts[SCENES_MAX];
    size_t n = stories_parse_parts(req, c->text, parts, SCENES_MAX);
    if (n == 0) {
        api_respond_error_only(req, 400, "Story has no content. Please generate a story first.");
        return;
    }
    const char *texts = scenes__text_array(req, parts, n);
    if (!texts) {
        api_respond_error_only(req, 500, "Failed to initialize scenes: the story is too long.");
        return;
    }
    const char *params[3] = {c->id, scenes__int_array(req, parts, n), texts};
    stories_q(req,
              "WITH up AS (INSERT INTO story_scenes (story_id, scene_number, scene_text, "
              "prompt_used) SELECT $1, x.n, x.t, 'Manual upload' FROM unnest($2::int[], "
              "$3::text[]) AS x(n, t) ON CONFLICT (story_id, scene_number) DO UPDATE SET "
              "scene_text = EXCLUDED.scene_text RETURNING *) SELECT " STORY_SCENE_COLS
              " FROM up c ORDER BY c.scene_number",
              3, params, init__done, c);
}

static void init__authed(http_req_t *req, const api_user_t *user)
{
    stories_ctx_t *c = stories_ctx_new(req, user);
    c->next = init__loaded;
    stories_load(req, c);
}

void api_stories_initialize_scenes(http_req_t *req)
{
    api_auth(req, true, init__authed);
}

/* ---- add_scene ----------------------------------------------------------------------------- */

/* Reads scene_number with the reference's messages; false after answering 400. */
static bool scenes__number(http_req_t *req, const stories_form_t *f, int64_t *out)
{
    int rc = stories_form_int(f, "scene_number", out);
    if (rc == FORM_ABSENT || rc == FORM_NULL) {
        api_respond_error_only(req, 400, "scene_number is required.");
        return false;
    }
    if (rc == FORM_BAD) {
        api_respond_error_only(req, 400, "scene_number must be a valid integer.");
        return false;
    }
    if (*out < 1 || *out > SCENE_NUMBER_MAX) {
        api_respond_error_only(
            req, 400,
            arena_printf(&req->arena, "scene_number must be between 1 and %d.", SCENE_NUMBER_MAX));
        return false;
    }
    return true;
}

static void add__done(http_req_t *req, db_result_t *res, void *ctx)
{
    stories_ctx_t *c = ctx;
    if (api_db_failed(req, res)) return;
    const char *found = db_result_get_by_name(res, 0, "found");
    if (!found || strcmp(found, "0") == 0) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    if (!db_result_get_by_name(res, 0, "id")) {
        api_respond_error_only(
            req, 400,
            arena_printf(&req->arena, "Scene %lld already exists.", (long long)c->scene_number));
        return;
    }
    scenes__respond_one(
        req, res, 201,
        arena_printf(&req->arena, "Scene %lld added successfully.", (long long)c->scene_number));
}

static void add__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    stories_ctx_t *c = stories_ctx_new(req, user);
    if (!scenes__number(req, &f, &c->scene_number)) return;
    stories_errors_t errs;
    stories_errors_init(&errs, req);
    c->scene_text = stories_field_text(&f, &errs, "scene_text", false, true, SCENE_TEXT_MAX);
    if (stories_errors_any(&errs)) {
        stories_errors_respond(&errs);
        return;
    }
    const char *params[5] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f", stories_int(req, c->scene_number),
                             c->scene_text ? c->scene_text : ""};
    stories_q(req,
              "WITH st AS (SELECT s.id FROM stories s WHERE s.id = $1 AND " STORIES_VISIBLE
              "), ins AS (INSERT INTO story_scenes (story_id, scene_number, scene_text, "
              "prompt_used) SELECT st.id, $4::int, $5, 'Manual creation' FROM st ON CONFLICT "
              "(story_id, scene_number) DO NOTHING RETURNING *) SELECT (SELECT count(*) FROM st) "
              "AS found, " STORY_SCENE_COLS " FROM (SELECT 1) one LEFT JOIN ins c ON true",
              5, params, add__done, c);
}

void api_stories_add_scene(http_req_t *req)
{
    api_auth(req, true, add__authed);
}

/* ---- delete_scene -------------------------------------------------------------------------- */

static void del__done(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    const char *found = db_result_get_by_name(res, 0, "found");
    if (!found || strcmp(found, "0") == 0) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    const char *deleted = db_result_get_by_name(res, 0, "deleted");
    if (!deleted || strcmp(deleted, "0") == 0) {
        api_respond_error_only(req, 404, "Scene not found.");
        return;
    }
    /* The row is gone (committed): its picture can go too. */
    const char *image = db_result_get_by_name(res, 0, "image");
    if (image) {
        app_t *app = req->app;
        const char *paths[1] = {image};
        media_store_remove(app->loop, app->cfg->media_dir, paths, 1, NULL, NULL);
    }
    api_respond_message(req, 200, "Scene deleted successfully.");
}

static void del__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    const char *scene_id;
    int rc = stories_form_str(&f, "scene_id", &scene_id);
    if (rc == FORM_ABSENT || rc == FORM_NULL || (rc == FORM_OK && !*scene_id)) {
        api_respond_error_only(req, 400, "scene_id is required.");
        return;
    }
    /* A malformed id cannot name a scene: 404, without asking the database. */
    if (rc == FORM_BAD || !router_is_uuid(scene_id, strlen(scene_id))) {
        api_respond_error_only(req, 404, "Scene not found.");
        return;
    }
    const char *params[4] = {req->params[0], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f", scene_id};
    stories_q(req,
              "WITH st AS (SELECT s.id FROM stories s WHERE s.id = $1 AND " STORIES_VISIBLE
              "), del AS (DELETE FROM story_scenes c USING st WHERE c.story_id = st.id AND c.id = "
              "$4::uuid RETURNING c.image) SELECT (SELECT count(*) FROM st) AS found, (SELECT "
              "count(*) FROM del) AS deleted, (SELECT image FROM del LIMIT 1) AS image",
              4, params, del__done, NULL);
}

void api_stories_delete_scene(http_req_t *req)
{
    api_auth(req, true, del__authed);
}

/* ---- upload_scene_image -------------------------------------------------------------------- */

static void upimg__done(http_req_t *req, db_result_t *res, void *ctx)
{
    stories_ctx_t *c = ctx;
    if (db_result_status(res) != DB_OK || db_result_nrows(res) < 1) {
        app_t *app = req->app;
        const char *paths[1] = {c->image_path};
        media_store_remove(app->loop, app->cfg->media_dir, paths, 1, NULL, NULL);
        if (!api_db_failed(req, res)) http_respond_detail(req, 404, "Not found.");
        return;
    }
    const char *old = db_result_get_by_name(res, 0, "old_image");
    if (old && strcmp(old, c->image_path) != 0) {
        app_t *app = req->app;
        const char *paths[1] = {old};
        media_store_remove(app->loop, app->cfg->media_dir, paths, 1, NULL, NULL);
    }
    scenes__respond_one(req, res, 200, "Scene image uploaded successfully.");
}

static void upimg__placed(int status, void *arg)
{
    stories_ctx_t *c = arg;
    http_req_t *req = c->req;
    if (status != 0) {
        api_respond_error_only(req, 500, "the image could not be stored");
        return;
    }
    media_upload_take(req, "image");
    /* A new scene takes its text from the story part with the same number. */
    stories_part_t parts[SCENES_MAX];
    size_t n = stories_parse_parts(req, c->text, parts, SCENES_MAX);
    const char *text = "";
    for (size_t i = 0; i < n; i++)
        if (parts[i].number == c->scene_number) text = parts[i].text;
    const char *params[4] = {c->id, stories_int(req, c->scene_number), text, c->image_path};
    /* `old` is a plain read of the statement's snapshot (the row before the upsert); FOR UPDATE
     * there would skip the row the upsert itself changes. */
    stories_q(req,
              "WITH old AS (SELECT image FROM story_scenes WHERE story_id = $1 AND scene_number = "
              "$2::int), up AS (INSERT INTO story_scenes (story_id, scene_number, "
              "scene_text, image, prompt_used, status) VALUES ($1, $2::int, $3, $4, 'Manual "
              "upload', 'ready') ON CONFLICT (story_id, scene_number) DO UPDATE SET image = "
              "EXCLUDED.image, status = 'ready', error = NULL RETURNING *) SELECT " STORY_SCENE_COLS
              ", (SELECT image FROM old) AS old_image FROM up c",
              4, params, upimg__done, c);
}

static void upimg__loaded(http_req_t *req, stories_ctx_t *c)
{
    app_t *app = req->app;
    const media_upload_file_t *img = media_upload_file(req, "image");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char path[MEDIA_STORY_PATH_MAX];
    int n = media_path_story_file(path, sizeof path, c->created_unix, c->id, MEDIA_KIND_SCENE,
                                  (unsigned)c->scene_number,
                                  (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, NULL);
    if (n < 5) {
        api_respond_error_only(req, 500, "cannot name the image file");
        return;
    }
    /* The layout names scene pictures .png; an uploaded JPEG, GIF or WebP keeps its own
     * extension so that it is served with its real type. */
    path[n - 4] = '\0';
    c->image_path = arena_printf(&req->arena, "%s.%s", path, img->image.extension);
    c->req = req;
    if (media_store_adopt(app->loop, app->cfg->media_dir, img->spool, c->image_path, upimg__placed,
                          c) != 0)
        api_respond_error_only(req, 503, "the image could not be stored");
}

static void upimg__authed(http_req_t *req, const api_user_t *user)
{
    stories_form_t f;
    if (!stories_form_init(&f, req)) return;
    stories_ctx_t *c = stories_ctx_new(req, user);
    if (!scenes__number(req, &f, &c->scene_number)) return;
    if (!media_upload_file(req, "image")) {
        api_respond_error_only(req, 400, "image file is required.");
        return;
    }
    c->next = upimg__loaded;
    stories_load(req, c);
}

static void upimg__uploaded(http_req_t *req, int status, const char *detail)
{
    if (status) {
        api_respond_error_only(req, status, detail ? detail : http_status_text(status));
        return;
    }
    api_auth(req, true, upimg__authed);
}

void api_stories_upload_scene_image(http_req_t *req)
{
    media_upload_finish(req, upimg__uploaded);
}
