#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json__tree_free(void *p)
{
    yajl_tree_free(p);
}

/* yajl_tree has no depth limit, so nesting is checked first with a scan that skips strings. */
static int json__depth_ok(const char *s, size_t n, int max_depth, size_t *where)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > max_depth) {
                *where = i;
                return 0;
            }
        } else if (c == '}' || c == ']')
            depth--;
    }
    return 1;
}

yajl_val json_parse(arena_t *a, const char *data, size_t len, int max_depth, char *err,
                    size_t errlen)
{
    size_t where;
    if (len == 0) {
        snprintf(err, errlen, "empty body: a JSON document is required");
        return NULL;
    }
    if (!json_utf8_valid(data, len)) {
        snprintf(err, errlen, "body is not valid UTF-8");
        return NULL;
    }
    if (!json__depth_ok(data, len, max_depth, &where)) {
        snprintf(err, errlen, "JSON nested deeper than %d levels at byte %zu", max_depth, where);
        return NULL;
    }
    /* yajl_tree_parse needs a NUL-terminated string; NUL bytes inside are rejected by yajl. */
    char *copy = arena_strndup(a, data, len);
    if (memchr(data, '\0', len)) {
        snprintf(err, errlen, "NUL byte in JSON body");
        return NULL;
    }
    char yerr[256];
    yerr[0] = '\0';
    yajl_val v = yajl_tree_parse(copy, yerr, sizeof yerr);
    if (!v) {
        /* yajl's message spans lines with a caret diagram; keep its first line. */
        char *nl = strchr(yerr, '\n');
        if (nl) *nl = '\0';
        snprintf(err, errlen, "invalid JSON: %s", yerr[0] ? yerr : "parse error");
        return NULL;
    }
    arena_on_free(a, json__tree_free, v);
    return v;
}

yajl_val json_get(yajl_val obj, const char *key)
{
    if (!obj || !YAJL_IS_OBJECT(obj)) return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0) return obj->u.object.values[i];
    return NULL;
}

const char *json_get_str(yajl_val obj, const char *key)
{
    yajl_val v = json_get(obj, key);
    return v && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

bool json_get_int(yajl_val obj, const char *key, int64_t *out)
{
    yajl_val v = json_get(obj, key);
    if (!v || !YAJL_IS_INTEGER(v)) return false;
    *out = v->u.number.i;
    return true;
}

bool json_get_bool(yajl_val obj, const char *key, bool *out)
{
    yajl_val v = json_get(obj, key);
    if (!v || !(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))) return false;
    *out = YAJL_IS_TRUE(v);
    return true;
}

yajl_gen json_gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g) yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

static size_t json__utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min;
    unsigned cp;
    if ((c & 0xE0) == 0xC0)
        len = 2, min = 0x80, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

bool json_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = json__utf8_seq(p + i, n - i);
        if (!l) return false;
        i += l;
    }
    return true;
}

void json_strn(yajl_gen g, const char *s, size_t n)
{
    if (!s) {
        yajl_gen_null(g);
        return;
    }
    if (json_utf8_valid(s, n)) {
        yajl_gen_string(g, (const unsigned char *)s, n);
        return;
    }
    /* Replace each invalid byte with U+FFFD (3 bytes), so the output can grow 3x. */
    unsigned char stackbuf[512];
    unsigned char *out = n * 3 <= sizeof stackbuf ? stackbuf : malloc(n * 3);
    if (!out) {
        yajl_gen_null(g);
        return;
    }
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = json__utf8_seq(p + i, n - i);
        if (l) {
            memcpy(out + o, p + i, l);
            o += l;
            i += l;
        } else {
            out[o++] = 0xEF, out[o++] = 0xBF, out[o++] = 0xBD;
            i++;
        }
    }
    yajl_gen_string(g, out, o);
    if (out != stackbuf) free(out);
}

void json_str(yajl_gen g, const char *s)
{
    json_strn(g, s, s ? strlen(s) : 0);
}

void json_key(yajl_gen g, const char *k)
{
    yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

void json_kv_str(yajl_gen g, const char *k, const char *v)
{
    json_key(g, k);
    json_str(g, v);
}

void json_kv_int(yajl_gen g, const char *k, int64_t v)
{
    json_key(g, k);
    yajl_gen_integer(g, (long long)v);
}

void json_kv_bool(yajl_gen g, const char *k, bool v)
{
    json_key(g, k);
    yajl_gen_bool(g, v);
}

void json_kv_null(yajl_gen g, const char *k)
{
    json_key(g, k);
    yajl_gen_null(g);
}

void json_kv_double(yajl_gen g, const char *k, double v)
{
    json_key(g, k);
    yajl_gen_double(g, v);
}
