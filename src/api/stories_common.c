/* stories_common: what the story-domain handlers share: generation hooks, text replacement
 * with revisions, request-bound queries, DRF-style field errors, the upload body sink. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/stories.h"
#include "core/json.h"
#include "media/upload.h"

static stories_generation_hooks_t stories__hooks;

void stories_set_generation_hooks(const stories_generation_hooks_t *hooks)
{
    if (hooks)
        stories__hooks = *hooks;
    else
        memset(&stories__hooks, 0, sizeof stories__hooks);
}

const stories_generation_hooks_t *stories_generation_hooks(void)
{
    return &stories__hooks;
}

int stories_replace_text(db_pool_t *db, const char *story_id, int64_t by_user, const char *reason,
                         const char *new_text, const char *new_prompt, const char *new_template,
                         db_query_cb cb, void *arg)
{
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)by_user);
    const char *params[6] = {story_id, uid, reason, new_text, new_prompt, new_template};
    /* One statement: the row lock of `old` serialises concurrent replacements, and the revision
     * exists exactly when the update happened. */
    return db_query(
        db,
        "WITH old AS (SELECT id, story_text, prompt, template FROM stories WHERE id = "
        "$1 FOR UPDATE), rev AS (INSERT INTO story_revisions (story_id, story_text, "
        "prompt, template, reason, created_by) SELECT id, story_text, prompt, template, "
        "$3, NULLIF($2::bigint, 0) FROM old WHERE old.story_text <> '' AND "
        "old.story_text <> $4) UPDATE stories s SET story_text = $4, prompt = "
        "COALESCE($5, s.prompt), template = COALESCE($6, s.template) FROM old WHERE "
        "s.id = old.id RETURNING s.id",
        6, params, cb, arg, NULL);
}

/* ---- request-bound queries -------------------------------------------------------------- */

typedef struct {
    http_req_t *req;
    stories_q_cb cb;
    void *ctx;
} q__t;

static void q__abort(http_req_t *req, void *arg)
{
    db_query_cancel(arg);
    http_respond(req, 499, NULL, NULL, 0);
}

static void q__done(db_result_t *res, void *arg)
{
    q__t *q = arg;
    q->req->on_abort = NULL;
    q->cb(q->req, res, q->ctx);
}

bool stories_q(http_req_t *req, const char *sql, int n, const char *const *params, stories_q_cb cb,
               void *ctx)
{
    app_t *app = req->app;
    q__t *q = arena_alloc(&req->arena, sizeof *q);
    q->req = req;
    q->cb = cb;
    q->ctx = ctx;
    db_query_t *h = NULL;
    if (!app->db || db_query(app->db, sql, n, params, q__done, q, &h) != 0) {
        api_db_unavailable(req);
        return false;
    }
    req->on_abort = q__abort;
    req->on_abort_arg = h;
    return true;
}

const char *stories_int(http_req_t *req, int64_t v)
{
    return arena_printf(&req->arena, "%lld", (long long)v);
}

/* ---- errors ------------------------------------------------------------------------------- */

struct stories_err {
    stories_err_t *next;
    const char *field, *msg;
};

void stories_errors_init(stories_errors_t *e, http_req_t *req)
{
    e->req = req;
    e->head = e->tail = NULL;
}

void stories_errors_add(stories_errors_t *e, const char *field, const char *msg)
{
    stories_err_t *x = arena_calloc(&e->req->arena, sizeof *x);
    x->field = field;
    x->msg = arena_strdup(&e->req->arena, msg);
    if (e->tail)
        e->tail->next = x;
    else
        e->head = x;
    e->tail = x;
}

bool stories_errors_any(const stories_errors_t *e)
{
    return e->head != NULL;
}

void stories_errors_respond(stories_errors_t *e)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    /* Group messages by field, in the order fields first failed. */
    for (stories_err_t *x = e->head; x; x = x->next) {
        bool seen = false;
        for (stories_err_t *y = e->head; y != x; y = y->next)
            if (strcmp(y->field, x->field) == 0) seen = true;
        if (seen) continue;
        json_key(g, x->field);
        yajl_gen_array_open(g);
        for (stories_err_t *y = x; y; y = y->next)
            if (strcmp(y->field, x->field) == 0) json_str(g, y->msg);
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    http_respond_json(e->req, 400, g);
    yajl_gen_free(g);
}

bool stories_template_valid(const char *t)
{
    static const char *const names[] = {"adventure", "fantasy", "sci-fi", "mystery", "educational"};
    for (size_t i = 0; t && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(t, names[i]) == 0) return true;
    return false;
}

bool stories_bool_value(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "on", "yes", "True"};
    static const char *const no[] = {"false", "0", "off", "no", "False", ""};
    for (size_t i = 0; s && i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp(s, yes[i]) == 0) return (*out = true);
    for (size_t i = 0; s && i < sizeof no / sizeof no[0]; i++)
        if (strcasecmp(s, no[i]) == 0) return !(*out = false);
    return false;
}

/* ---- form fields ------------------------------------------------------------------------ */

bool stories_form_init(stories_form_t *f, http_req_t *req)
{
    f->req = req;
    f->json = NULL;
    if (media_upload_is_multipart(req)) return true;
    if (!req->body || req->body_len == 0) {
        static const char empty[] = "{}";
        char err[64];
        f->json = json_parse(&req->arena, empty, 2, 4, err, sizeof err);
        return f->json != NULL;
    }
    f->json = http_req_json(req);
    if (!f->json) return false;
    if (!YAJL_IS_OBJECT(f->json)) {
        yajl_gen g = json_gen_new();
        yajl_gen_map_open(g);
        json_key(g, "non_field_errors");
        yajl_gen_array_open(g);
        json_str(g, "Invalid data. Expected a dictionary.");
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        http_respond_json(req, 400, g);
        yajl_gen_free(g);
        return false;
    }
    return true;
}

int stories_form_str(const stories_form_t *f, const char *key, const char **out)
{
    *out = NULL;
    if (!f->json) {
        const char *v = media_upload_field(f->req, key);
        if (!v) return FORM_ABSENT;
        *out = v;
        return FORM_OK;
    }
    yajl_val v = json_get(f->json, key);
    if (!v) return FORM_ABSENT;
    if (YAJL_IS_NULL(v)) return FORM_NULL;
    if (!YAJL_IS_STRING(v)) return FORM_BAD;
    *out = v->u.string;
    return FORM_OK;
}

int stories_form_bool(const stories_form_t *f, const char *key, bool *out)
{
    *out = false;
    if (f->json) {
        yajl_val v = json_get(f->json, key);
        if (!v) return FORM_ABSENT;
        if (YAJL_IS_NULL(v)) return FORM_NULL;
        if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
            *out = YAJL_IS_TRUE(v);
            return FORM_OK;
        }
        if (YAJL_IS_INTEGER(v) && (v->u.number.i == 0 || v->u.number.i == 1)) {
            *out = v->u.number.i == 1;
            return FORM_OK;
        }
        if (!YAJL_IS_STRING(v)) return FORM_BAD;
        return stories_bool_value(v->u.string, out) ? FORM_OK : FORM_BAD;
    }
    const char *s;
    int rc = stories_form_str(f, key, &s);
    if (rc != FORM_OK) return rc;
    return stories_bool_value(s, out) ? FORM_OK : FORM_BAD;
}

int stories_form_int(const stories_form_t *f, const char *key, int64_t *out)
{
    *out = 0;
    const char *s = NULL;
    if (f->json) {
        yajl_val v = json_get(f->json, key);
        if (!v) return FORM_ABSENT;
        if (YAJL_IS_NULL(v)) return FORM_NULL;
        if (YAJL_IS_INTEGER(v)) {
            *out = v->u.number.i;
            return FORM_OK;
        }
        if (YAJL_IS_DOUBLE(v) && v->u.number.d == (double)(int64_t)v->u.number.d) {
            *out = (int64_t)v->u.number.d;
            return FORM_OK;
        }
        if (!YAJL_IS_STRING(v)) return FORM_BAD;
        s = v->u.string;
    } else {
        int rc = stories_form_str(f, key, &s);
        if (rc != FORM_OK) return rc;
    }
    while (*s == ' ')
        s++;
    char *end;
    long long n = strtoll(s, &end, 10);
    while (*end == ' ')
        end++;
    if (end == s || *end || (s[0] != '-' && (s[0] < '0' || s[0] > '9'))) return FORM_BAD;
    *out = n;
    return FORM_OK;
}

static size_t stories__utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

const char *stories_field_text(const stories_form_t *f, stories_errors_t *e, const char *key,
                               bool required, bool allow_blank, size_t max_chars)
{
    const char *v;
    int rc = stories_form_str(f, key, &v);
    if (rc == FORM_ABSENT) {
        if (required) stories_errors_add(e, key, "This field is required.");
        return NULL;
    }
    if (rc == FORM_NULL) {
        stories_errors_add(e, key, "This field may not be null.");
        return NULL;
    }
    if (rc == FORM_BAD) {
        stories_errors_add(e, key, "Not a valid string.");
        return NULL;
    }
    if (!json_utf8_valid(v, strlen(v))) {
        stories_errors_add(e, key, "Not valid UTF-8 text.");
        return NULL;
    }
    bool blank = true;
    for (const char *p = v; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') blank = false;
    if (blank && !allow_blank) {
        stories_errors_add(e, key, "This field may not be blank.");
        return NULL;
    }
    if (max_chars && stories__utf8_chars(v) > max_chars) {
        stories_errors_add(e, key,
                           arena_printf(&f->req->arena,
                                        "Ensure this field has no more than %zu characters.",
                                        max_chars));
        return NULL;
    }
    return v;
}

/* ---- upload sink ------------------------------------------------------------------------- */

static int stories__upload_begin(http_req_t *req)
{
    app_t *app = req->app;
    /* Every route with this sink needs a signed-in user: refuse anonymous uploads before any byte
     * is spooled (the credentials themselves are checked once the body is in). */
    if (!http_req_header(req, "authorization")) {
        http_req_body_error(req, "Authentication credentials were not provided.");
        return 401;
    }
    static const char *const fields[] = {"image", NULL};
    media_upload_config_t cfg = {
        .loop = app->loop,
        .media_dir = app->cfg->media_dir,
        .max_bytes = (uint64_t)app->cfg->max_upload_bytes,
        .max_json_bytes = (size_t)app->cfg->max_body_bytes,
        .max_fields_bytes = 1 << 20,
        .max_image_side = IMGSNIFF_DEFAULT_MAX_SIDE,
        .file_fields = fields,
    };
    return media_upload_begin(req, &cfg);
}

static int stories__upload_data(http_req_t *req, const char *at, size_t len)
{
    return media_upload_data(req, at, len);
}

const http_body_sink_t stories_upload_sink = {stories__upload_begin, stories__upload_data};
