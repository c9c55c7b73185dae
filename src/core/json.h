/* json: yajl helpers. Parsing with size and depth limits into a yajl tree owned by an arena, with
 * an error message naming where it failed; a generator wrapper whose string writer always emits
 * valid UTF-8 (invalid bytes become U+FFFD) so responses are valid JSON whatever is stored. */
#ifndef NOVA_CORE_JSON_H
#define NOVA_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "core/arena.h"

/* Parses len bytes. On success returns the tree (freed with the arena). On failure returns NULL
 * and writes a short message such as "invalid JSON at byte 17: ..." into err. */
yajl_val json_parse(arena_t *a, const char *data, size_t len, int max_depth, char *err,
                    size_t errlen);

/* Object member lookup (NULL when absent or when obj is not an object). */
yajl_val json_get(yajl_val obj, const char *key);
/* Typed getters: return the value or NULL/false when the member is missing or of another type. */
const char *json_get_str(yajl_val obj, const char *key);
bool json_get_int(yajl_val obj, const char *key, int64_t *out);
bool json_get_bool(yajl_val obj, const char *key, bool *out);

/* Generator: yajl_gen with UTF-8 validation on. Free with yajl_gen_free. */
yajl_gen json_gen_new(void);
void json_str(yajl_gen g, const char *s); /* NULL → null */
void json_strn(yajl_gen g, const char *s, size_t n);
void json_key(yajl_gen g, const char *k);
void json_kv_str(yajl_gen g, const char *k, const char *v); /* NULL → null */
void json_kv_int(yajl_gen g, const char *k, int64_t v);
void json_kv_bool(yajl_gen g, const char *k, bool v);
void json_kv_null(yajl_gen g, const char *k);
void json_kv_double(yajl_gen g, const char *k, double v);
/* Checks UTF-8 validity (rejects overlongs, surrogates, > U+10FFFF). */
bool json_utf8_valid(const char *s, size_t n);

#endif
