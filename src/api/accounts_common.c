/* accounts_common: validation, error bodies and JSON shapes shared by the account endpoints. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/accounts.h"
#include "api/app.h"
#include "core/json.h"

struct api_field_err {
    const char *field, *msg;
    api_field_err_t *next;
};

void api_errors_init(api_errors_t *e, http_req_t *req)
{
    memset(e, 0, sizeof *e);
    e->arena = &req->arena;
}

void api_errors_add(api_errors_t *e, const char *field, const char *msg)
{
    api_field_err_t *f = arena_calloc(e->arena, sizeof *f);
    f->field = field;
    f->msg = msg;
    if (e->tail)
        e->tail->next = f;
    else
        e->head = f;
    e->tail = f;
    e->n++;
}

void api_errors_respond(http_req_t *req, const api_errors_t *e)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "error", "Validation failed");
    json_key(g, "details");
    yajl_gen_map_open(g);
    /* Group by field in first-seen order: the list is short, so quadratic is fine. */
    for (const api_field_err_t *f = e->head; f; f = f->next) {
        bool seen = false;
        for (const api_field_err_t *p = e->head; p != f; p = p->next)
            if (strcmp(p->field, f->field) == 0) seen = true;
        if (seen) continue;
        json_key(g, f->field);
        yajl_gen_array_open(g);
        for (const api_field_err_t *p = f; p; p = p->next)
            if (strcmp(p->field, f->field) == 0) json_str(g, p->msg);
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    http_respond_json(req, 400, g);
    yajl_gen_free(g);
}

bool api_field_str(api_errors_t *e, yajl_val body, const char *key, bool required, size_t max,
                   const char **out)
{
    *out = NULL;
    yajl_val v = json_get(body, key);
    if (!v || (YAJL_IS_NULL(v) && !required)) {
        if (required) api_errors_add(e, key, "This field is required.");
        return !required;
    }
    if (!YAJL_IS_STRING(v)) {
        api_errors_add(e, key, "Not a valid string.");
        return false;
    }
    const char *s = YAJL_GET_STRING(v);
    size_t n = strlen(s);
    if (required && n == 0) {
        api_errors_add(e, key, "This field may not be blank.");
        return false;
    }
    if (n > max) {
        api_errors_add(
            e, key,
            arena_printf(e->arena, "Ensure this field has no more than %zu characters.", max));
        return false;
    }
    *out = s;
    return true;
}

bool api_field_bool(api_errors_t *e, yajl_val body, const char *key, bool required, bool *present,
                    bool *out)
{
    yajl_val v = json_get(body, key);
    *present = false;
    *out = false;
    if (!v || YAJL_IS_NULL(v)) {
        if (required) api_errors_add(e, key, "This field is required.");
        return !required;
    }
    const char *s = YAJL_IS_STRING(v) ? v->u.string : NULL;
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        *out = YAJL_IS_TRUE(v);
    } else if (s && (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0)) {
        *out = strcasecmp(s, "true") == 0;
    } else {
        api_errors_add(e, key, "Must be a valid boolean.");
        return false;
    }
    *present = true;
    return true;
}

const char *api_validate_username(const char *s)
{
    size_t n = strlen(s);
    if (n < 4) return "Ensure this field has at least 4 characters.";
    if (n > 150) return "Ensure this field has no more than 150 characters.";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !strchr("@.+-_", c))
            return "Enter a valid username. This value may contain only letters, numbers, and "
                   "@/./+/-/_ characters.";
    }
    return NULL;
}

const char *api_validate_email(const char *s)
{
    static const char bad[] = "Enter a valid email address.";
    size_t n = strlen(s);
    const char *at = strrchr(s, '@');
    if (n < 3 || n > 254 || !at || at == s || !at[1]) return bad;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' ||
            c == '\\' || c == '(' || c == ')' || c == '[' || c == ']')
            return bad;
        if (c == '@' && s + i != at) return bad;
    }
    const char *dom = at + 1;
    if (!strchr(dom, '.') || dom[0] == '.' || dom[strlen(dom) - 1] == '.' || strstr(dom, ".."))
        return bad;
    if (at - s > 64) return bad;
    return NULL;
}

const char *api_validate_password(const char *pw, const char *username, const char *email)
{
    size_t n = strlen(pw);
    if (n < 8) return "This password is too short. It must contain at least 8 characters.";
    if (n > PASSWORD_MAX_LEN) return "This password is too long.";
    bool digits = true;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)pw[i])) digits = false;
    if (digits) return "This password is entirely numeric.";
    if (username && strcasecmp(pw, username) == 0)
        return "The password is too similar to the username.";
    if (email && strcasecmp(pw, email) == 0) return "The password is too similar to the email.";
    return NULL;
}

void api_password_params(const config_t *cfg, password_params_t *p)
{
    p->memory_kib = (uint32_t)cfg->argon2_memory_kib;
    p->iterations = (uint32_t)cfg->argon2_iterations;
    p->parallelism = (uint32_t)cfg->argon2_parallelism;
    /* argon2 needs at least 8 KiB per lane. */
    if (p->memory_kib < 8 * p->parallelism) p->memory_kib = 8 * p->parallelism;
}

/* For links answered to the request that produced them (avatar URLs, pagination), where a forged
 * Host only misleads the forger. Links that reach anyone else, such as mail, never come from here
 * (mailer_base_url). */
const char *api_base_url(http_req_t *req)
{
    app_t *app = req->app;
    const char *pub = app->cfg->public_url;
    if (pub && *pub) {
        size_t n = strlen(pub);
        while (n && pub[n - 1] == '/')
            n--;
        return arena_strndup(&req->arena, pub, n);
    }
    const char *host = http_req_header(req, "host");
    /* The Host header is client-controlled: keep only characters a host[:port] can have, so a
     * link built from it cannot carry anything else. */
    char clean[256];
    size_t j = 0;
    for (size_t i = 0; host && host[i] && j < sizeof clean - 1; i++) {
        unsigned char c = (unsigned char)host[i];
        if (isalnum(c) || strchr(".-:[]", c)) clean[j++] = (char)c;
    }
    clean[j] = '\0';
    return arena_printf(&req->arena, "http://%s", j ? clean : "localhost");
}

void api_user_json_brief(yajl_gen g, const api_user_t *u)
{
    json_kv_int(g, "id", u->id);
    json_kv_str(g, "email", u->email);
    json_kv_str(g, "username", u->username);
    json_kv_str(g, "firstName", u->first_name);
    json_kv_str(g, "lastName", u->last_name);
    json_kv_str(g, "role", api_user_role(u));
}

void api_user_json_admin(yajl_gen g, const api_user_t *u, bool detail)
{
    yajl_gen_map_open(g);
    json_kv_int(g, "id", u->id);
    json_kv_str(g, "username", u->username);
    json_kv_str(g, "email", u->email);
    json_kv_str(g, "first_name", u->first_name);
    json_kv_str(g, "last_name", u->last_name);
    /* Django's get_full_name(): "first last" stripped. */
    char full[320];
    snprintf(full, sizeof full, "%s %s", u->first_name, u->last_name);
    char *s = full;
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
    json_kv_str(g, "full_name", s);
    json_kv_bool(g, "is_staff", u->is_staff);
    json_kv_bool(g, "is_superuser", u->is_superuser);
    json_kv_bool(g, "is_active", u->is_active);
    json_kv_str(g, "date_joined", u->date_joined);
    if (detail) json_kv_bool(g, "is_senior", false);
    yajl_gen_map_close(g);
}

void api_respond_message(http_req_t *req, int status, const char *msg)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "message", msg);
    yajl_gen_map_close(g);
    http_respond_json(req, status, g);
    yajl_gen_free(g);
}

void api_respond_error_only(http_req_t *req, int status, const char *error)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "error", error);
    yajl_gen_map_close(g);
    http_respond_json(req, status, g);
    yajl_gen_free(g);
}
