/* sse: event formatting and catch-up coalescing (see sse.h). */
#include "jobs/sse.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "core/json.h"

int jobs_sse_format(buf_t *out, int64_t id, const char *type, const char *data, size_t len)
{
    int rc = 0;
    if (type && (strpbrk(type, "\r\n") || !*type)) return -EINVAL;
    if (id > 0) rc = buf_printf(out, "id: %" PRId64 "\n", id);
    if (rc == 0 && type) rc = buf_printf(out, "event: %s\n", type);
    /* Each line becomes a data field; the client joins them with \n, so "a\n" (two fields,
     * "a" and "") reads back as "a\n" and an empty payload as "". */
    size_t i = 0;
    while (rc == 0) {
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        rc = buf_append(out, "data: ", 6);
        if (rc == 0) rc = buf_append(out, data + i, j - i);
        if (rc == 0) rc = buf_append(out, "\n", 1);
        if (j >= len) break;
        if (data[j] == '\r' && j + 1 < len && data[j + 1] == '\n') j++;
        i = j + 1;
    }
    if (rc == 0) rc = buf_append(out, "\n", 1);
    return rc;
}

int jobs_sse_retry(buf_t *out, int64_t retry_ms, const char *comment)
{
    int rc = buf_printf(out, "retry: %" PRId64 "\n", retry_ms);
    if (rc == 0 && comment) rc = buf_printf(out, ": %s\n", comment);
    if (rc == 0) rc = buf_append(out, "\n", 1);
    return rc;
}

static bool jobs__is(const jobs_sse_event_t *e, const char *type)
{
    return e->type && strcmp(e->type, type) == 0;
}

static bool jobs__same_job(const jobs_sse_event_t *a, const jobs_sse_event_t *b)
{
    return a->job_id && b->job_id && strcmp(a->job_id, b->job_id) == 0;
}

size_t jobs_sse_coalesce(jobs_sse_event_t *ev, size_t n, arena_t *arena)
{
    char err[64];
    /* Deltas: find runs of contiguous deltas of one job. */
    for (size_t i = 0; i < n;) {
        if (!jobs__is(&ev[i], "story.delta")) {
            i++;
            continue;
        }
        yajl_val first = json_parse(arena, ev[i].data, ev[i].data_len, 8, err, sizeof err);
        int64_t off0 = 0, next_off;
        const char *t0 = first ? json_get_str(first, "text") : NULL;
        if (!t0 || !json_get_int(first, "offset", &off0)) {
            i++;
            continue;
        }
        buf_t text;
        buf_init(&text, 64u << 20);
        buf_append_str(&text, t0);
        next_off = off0 + (int64_t)strlen(t0);
        size_t j = i + 1, last = i;
        for (; j < n && jobs__is(&ev[j], "story.delta") && jobs__same_job(&ev[i], &ev[j]); j++) {
            yajl_val d = json_parse(arena, ev[j].data, ev[j].data_len, 8, err, sizeof err);
            int64_t off = -1;
            const char *t = d ? json_get_str(d, "text") : NULL;
            if (!t || !json_get_int(d, "offset", &off) || off != next_off) break;
            buf_append_str(&text, t);
            next_off += (int64_t)strlen(t);
            last = j;
        }
        if (last > i) {
            for (size_t k = i; k < last; k++)
                ev[k].skip = 1;
            yajl_gen g = json_gen_new();
            yajl_gen_map_open(g);
            json_key(g, "text");
            json_strn(g, text.data ? text.data : "", text.len);
            json_kv_int(g, "offset", off0);
            json_kv_str(g, "job_id", ev[last].job_id);
            yajl_val story = json_get(first, "story_id");
            if (story && YAJL_IS_STRING(story)) json_kv_str(g, "story_id", YAJL_GET_STRING(story));
            yajl_gen_map_close(g);
            const unsigned char *out;
            size_t len;
            yajl_gen_get_buf(g, &out, &len);
            ev[last].data = arena_strndup(arena, (const char *)out, len);
            ev[last].data_len = len;
            yajl_gen_free(g);
        }
        buf_free(&text);
        i = last + 1;
    }
    /* Progress snapshots: only the last one of each job in the batch. */
    for (size_t i = 0; i < n; i++) {
        if (ev[i].skip || !jobs__is(&ev[i], "job.progress")) continue;
        for (size_t j = i + 1; j < n; j++)
            if (jobs__is(&ev[j], "job.progress") && jobs__same_job(&ev[i], &ev[j])) {
                ev[i].skip = 1;
                break;
            }
    }
    size_t left = 0;
    for (size_t i = 0; i < n; i++)
        left += !ev[i].skip;
    return left;
}
