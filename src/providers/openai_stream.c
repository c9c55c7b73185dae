/* Server-sent events line splitting and per-event JSON decoding for OpenAI-style streams.
 * Each event's JSON is small (bounded by max_line), so it is parsed with yajl's tree API after a
 * cheap nesting-depth check that keeps hostile input from building very deep trees. */
#include "providers/openai_stream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "core/buf.h"

#define OPENAI_STREAM__MAX_DEPTH 64

struct openai_stream {
    openai_stream_callbacks_t cb;
    void *arg;
    buf_t line;     /* the current, unterminated line */
    buf_t data;     /* the current event's data lines, joined with '\n' */
    bool have_data; /* at least one data line in the current event */
    bool skip_lf;   /* the previous chunk ended in CR: a leading LF belongs to it */
    bool done, finished;
    int err;
};

const char *openai_stream_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case OPENAI_STREAM_E_MALFORMED:
        return "malformed stream chunk";
    case OPENAI_STREAM_E_API:
        return "provider error";
    case OPENAI_STREAM_E_TOO_LONG:
        return "stream line too long";
    case OPENAI_STREAM_E_TRUNCATED:
        return "stream truncated";
    case OPENAI_STREAM_E_ABORTED:
        return "aborted by callback";
    default:
        return "unknown error";
    }
}

openai_stream_t *openai_stream_new(const openai_stream_callbacks_t *cb, void *arg, size_t max_line)
{
    openai_stream_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (cb) p->cb = *cb;
    p->arg = arg;
    if (!max_line) max_line = OPENAI_STREAM_DEFAULT_MAX_LINE;
    buf_init(&p->line, max_line);
    buf_init(&p->data, max_line);
    return p;
}

void openai_stream_free(openai_stream_t *p)
{
    if (!p) return;
    buf_free(&p->line);
    buf_free(&p->data);
    free(p);
}

int openai_stream_is_done(const openai_stream_t *p)
{
    return p->done;
}

static int openai_stream__fail(openai_stream_t *p, int code, const char *detail)
{
    if (p->err) return p->err;
    p->err = code;
    if (p->cb.on_error && code != OPENAI_STREAM_E_ABORTED) p->cb.on_error(p->arg, code, detail);
    return code;
}

/* Rejects nesting deeper than the limit (counting brackets outside strings). */
static bool openai_stream__depth_ok(const char *s, size_t n)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (ch == '\\')
                esc = true;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > OPENAI_STREAM__MAX_DEPTH) return false;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return true;
}

/* {"error": {"message": "...", "type": "...", "code": ...}} or {"error": "text"}. */
static int openai_stream__api_error(openai_stream_t *p, yajl_val err)
{
    char detail[512];
    const char *msg_path[] = {"message", NULL}, *type_path[] = {"type", NULL};
    const char *msg = YAJL_GET_STRING(err);
    const char *type = NULL;
    if (YAJL_IS_OBJECT(err)) {
        msg = YAJL_GET_STRING(yajl_tree_get(err, msg_path, yajl_t_string));
        type = YAJL_GET_STRING(yajl_tree_get(err, type_path, yajl_t_string));
    }
    if (type && msg)
        snprintf(detail, sizeof detail, "%s: %s", type, msg);
    else
        snprintf(detail, sizeof detail, "%s", msg ? msg : type ? type : "error object");
    return openai_stream__fail(p, OPENAI_STREAM_E_API, detail);
}

static int openai_stream__json(openai_stream_t *p, const char *s, size_t n)
{
    char detail[256], yerr[160];
    if (memchr(s, '\0', n) || !openai_stream__depth_ok(s, n)) {
        return openai_stream__fail(p, OPENAI_STREAM_E_MALFORMED,
                                   "chunk contains NUL bytes or nests too deeply");
    }
    yerr[0] = '\0';
    yajl_val root = yajl_tree_parse(s, yerr, sizeof yerr);
    if (!YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        yerr[strcspn(yerr, "\r\n")] = '\0';
        snprintf(detail, sizeof detail, "chunk is not a JSON object%s%s (starts \"%.32s\")",
                 yerr[0] ? ": " : "", yerr, s);
        return openai_stream__fail(p, OPENAI_STREAM_E_MALFORMED, detail);
    }
    int rc = 0;
    const char *err_path[] = {"error", NULL}, *choices_path[] = {"choices", NULL};
    const char *content_path[] = {"delta", "content", NULL},
               *finish_path[] = {"finish_reason", NULL};
    yajl_val err = yajl_tree_get(root, err_path, yajl_t_any);
    yajl_val choices = yajl_tree_get(root, choices_path, yajl_t_array);
    if (err && !YAJL_IS_NULL(err)) {
        rc = openai_stream__api_error(p, err);
    } else if (choices && choices->u.array.len > 0 && YAJL_IS_OBJECT(choices->u.array.values[0])) {
        yajl_val c0 = choices->u.array.values[0];
        const char *text = YAJL_GET_STRING(yajl_tree_get(c0, content_path, yajl_t_string));
        const char *fin = YAJL_GET_STRING(yajl_tree_get(c0, finish_path, yajl_t_string));
        if (text && *text && p->cb.on_delta && p->cb.on_delta(p->arg, text, strlen(text)) != 0)
            rc = openai_stream__fail(p, OPENAI_STREAM_E_ABORTED, "");
        if (!rc && fin) {
            p->finished = true;
            if (p->cb.on_finish && p->cb.on_finish(p->arg, fin) != 0)
                rc = openai_stream__fail(p, OPENAI_STREAM_E_ABORTED, "");
        }
    }
    yajl_tree_free(root);
    return rc;
}

/* A blank line ends an event: decode the data collected for it. */
static int openai_stream__dispatch(openai_stream_t *p)
{
    if (!p->have_data) return 0;
    p->have_data = false;
    int rc = 0;
    if (!p->done) {
        if (p->data.len == 6 && memcmp(p->data.data, "[DONE]", 6) == 0) {
            p->done = true;
            if (p->cb.on_done) p->cb.on_done(p->arg);
        } else {
            rc = openai_stream__json(p, p->data.data ? p->data.data : "", p->data.len);
        }
    }
    buf_reset(&p->data);
    return rc;
}

static int openai_stream__line(openai_stream_t *p, const char *l, size_t n)
{
    if (n == 0) return openai_stream__dispatch(p);
    if (l[0] == ':') return 0; /* comment / keep-alive */
    const char *colon = memchr(l, ':', n);
    size_t flen = colon ? (size_t)(colon - l) : n;
    if (flen != 4 || memcmp(l, "data", 4) != 0) return 0; /* event:, id:, retry:, unknown */
    const char *v = colon ? colon + 1 : l + n;
    if (v < l + n && *v == ' ') v++;
    if ((p->have_data && buf_append(&p->data, "\n", 1) != 0) ||
        buf_append(&p->data, v, (size_t)(l + n - v)) != 0)
        return openai_stream__fail(p, OPENAI_STREAM_E_TOO_LONG, "event data exceeds the limit");
    p->have_data = true;
    return 0;
}

int openai_stream_feed(openai_stream_t *p, const char *data, size_t len)
{
    if (p->err) return p->err;
    size_t i = 0;
    if (len && p->skip_lf) {
        p->skip_lf = false;
        if (data[0] == '\n') i = 1;
    }
    while (i < len) {
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        if (j > i && buf_append(&p->line, data + i, j - i) != 0)
            return openai_stream__fail(p, OPENAI_STREAM_E_TOO_LONG, "line exceeds the limit");
        if (j == len) break;
        if (data[j] == '\r') {
            if (j + 1 < len && data[j + 1] == '\n')
                j++;
            else if (j + 1 == len)
                p->skip_lf = true;
        }
        int rc = openai_stream__line(p, p->line.data ? p->line.data : "", p->line.len);
        buf_reset(&p->line);
        if (rc) return rc;
        i = j + 1;
    }
    return 0;
}

int openai_stream_finish(openai_stream_t *p)
{
    if (p->err) return p->err;
    /* Be lenient with a last line or event that lacks its terminator. */
    if (p->line.len) {
        int rc = openai_stream__line(p, p->line.data, p->line.len);
        buf_reset(&p->line);
        if (rc) return rc;
    }
    int rc = openai_stream__dispatch(p);
    if (rc) return rc;
    if (!p->done && !p->finished)
        return openai_stream__fail(p, OPENAI_STREAM_E_TRUNCATED, "stream ended before [DONE]");
    return 0;
}
