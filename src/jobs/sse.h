/* sse: the server-sent events wire format (WHATWG HTML, "server-sent events") and the catch-up
 * coalescing of stored events. Pure functions, no I/O.
 *
 * An event is "id: N\nevent: TYPE\ndata: LINE\n...\n\n": every line of the data becomes its own
 * "data:" field, whatever the line ending (\n, \r\n or a lone \r), so no raw line break can end
 * a field early or forge another field. The type and id never contain line breaks (a type with
 * one is refused). */
#ifndef NOVA_JOBS_SSE_H
#define NOVA_JOBS_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"

/* Appends one event. id <= 0 omits the id field; type NULL omits the event field (a "message").
 * Returns 0, -EINVAL (a type with a line break or NUL) or the buf_append error. */
int jobs_sse_format(buf_t *out, int64_t id, const char *type, const char *data, size_t len);

/* Appends "retry: ms\n" (and a comment line when comment != NULL) followed by a blank line. */
int jobs_sse_retry(buf_t *out, int64_t retry_ms, const char *comment);

/* A stored event as the catch-up reads it. */
typedef struct {
    int64_t id;
    const char *job_id;
    const char *type;
    const char *data; /* JSON object text */
    size_t data_len;
    int skip; /* set by jobs_sse_coalesce: superseded by a later event in the batch */
} jobs_sse_event_t;

/* Coalesces a batch read from the database for a client that fell behind, in place:
 *  - consecutive story.delta events of one job whose offsets are contiguous become the last of
 *    them carrying the concatenated text and the first offset (the id of the last one, so the
 *    client's Last-Event-ID covers them all);
 *  - a job.progress event followed later in the batch by another job.progress of the same job
 *    is skipped (progress events are snapshots).
 * Merged data is allocated in arena. Returns the number of events still to send. */
size_t jobs_sse_coalesce(jobs_sse_event_t *ev, size_t n, arena_t *arena);

#endif
