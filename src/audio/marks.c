#include "audio/marks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

void audio_marks_init(audio_marks_t *m)
{
    m->items = NULL;
    m->len = m->cap = 0;
}

void audio_marks_free(audio_marks_t *m)
{
    for (size_t i = 0; i < m->len; i++)
        free(m->items[i].value);
    free(m->items);
    audio_marks_init(m);
}

int audio_marks_push(audio_marks_t *m, uint32_t time_ms, audio_mark_type_t type, uint32_t start,
                     uint32_t end, const char *value, size_t value_len)
{
    if (end < start || (!value && value_len)) return -EINVAL;
    if (m->len >= AUDIO_MARKS_MAX) return -ENOBUFS;
    if (m->len == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        audio_mark_t *items = realloc(m->items, cap * sizeof *items);
        if (!items) return -ENOMEM;
        m->items = items;
        m->cap = cap;
    }
    char *copy = malloc(value_len + 1);
    if (!copy) return -ENOMEM;
    if (value_len) memcpy(copy, value, value_len);
    copy[value_len] = '\0';
    m->items[m->len++] =
        (audio_mark_t){.time_ms = time_ms, .type = type, .start = start, .end = end, .value = copy};
    return 0;
}

const char *audio_mark_type_name(audio_mark_type_t type)
{
    return type == AUDIO_MARK_SENTENCE ? "sentence" : "word";
}

/* yajl's generator owns its output buffer; we drain it into `out` after every mark so the
 * generator never holds more than one mark's worth of text. */
static int marks__drain(yajl_gen g, buf_t *out)
{
    const unsigned char *data;
    size_t len;
    if (yajl_gen_get_buf(g, &data, &len) != yajl_gen_status_ok) return -ENOMEM;
    int rc = buf_append(out, data, len);
    yajl_gen_clear(g);
    return rc;
}

static int marks__key(yajl_gen g, const char *key)
{
    return yajl_gen_string(g, (const unsigned char *)key, strlen(key)) == yajl_gen_status_ok
               ? 0
               : -EINVAL;
}

static int marks__one(yajl_gen g, const audio_mark_t *mk)
{
    const char *type = audio_mark_type_name(mk->type);
    const char *value = mk->value ? mk->value : "";
    if (yajl_gen_map_open(g) != yajl_gen_status_ok) return -EINVAL;
    if (marks__key(g, "time") || yajl_gen_integer(g, mk->time_ms) != yajl_gen_status_ok)
        return -EINVAL;
    if (marks__key(g, "type") || marks__key(g, type)) return -EINVAL;
    if (marks__key(g, "start") || yajl_gen_integer(g, mk->start) != yajl_gen_status_ok)
        return -EINVAL;
    if (marks__key(g, "end") || yajl_gen_integer(g, mk->end) != yajl_gen_status_ok) return -EINVAL;
    /* With yajl_gen_validate_utf8 set, invalid UTF-8 makes this call fail. */
    if (marks__key(g, "value") || marks__key(g, value)) return -EINVAL;
    if (yajl_gen_map_close(g) != yajl_gen_status_ok) return -EINVAL;
    return 0;
}

int audio_marks_to_json(const audio_mark_t *marks, size_t n, buf_t *out)
{
    if (!marks && n) return -EINVAL;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g) return -ENOMEM;
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    int rc = yajl_gen_array_open(g) == yajl_gen_status_ok ? 0 : -EINVAL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = marks__one(g, &marks[i]);
        if (rc == 0) rc = marks__drain(g, out);
    }
    if (rc == 0 && yajl_gen_array_close(g) != yajl_gen_status_ok) rc = -EINVAL;
    if (rc == 0) rc = marks__drain(g, out);
    yajl_gen_free(g);
    return rc;
}
