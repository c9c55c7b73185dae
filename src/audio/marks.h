/* audio/marks: word and sentence timing marks for a narration, and their marks.json form.
 * A mark list owns its array and every mark's value string (malloc); audio_marks_free releases
 * them. Offsets are byte offsets into the UTF-8 text the marks describe (end exclusive), as in
 * Amazon Polly speech marks, so the browser can highlight text while the MP3 plays. */
#ifndef NOVA_AUDIO_MARKS_H
#define NOVA_AUDIO_MARKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum { AUDIO_MARK_WORD = 0, AUDIO_MARK_SENTENCE = 1 } audio_mark_type_t;

typedef struct {
    uint32_t time_ms;       /* start time from the beginning of the audio */
    audio_mark_type_t type; /* word or sentence */
    uint32_t start;         /* first byte of the marked text */
    uint32_t end;           /* one past its last byte */
    char *value;            /* the marked text, NUL-terminated UTF-8, owned by the list */
} audio_mark_t;

typedef struct {
    audio_mark_t *items;
    size_t len;
    size_t cap;
} audio_marks_t;

/* Upper bound on the number of marks one list accepts (a story of ~100k words fits). */
#define AUDIO_MARKS_MAX 1000000

void audio_marks_init(audio_marks_t *m);
/* Frees every value and the array; leaves m empty and reusable. */
void audio_marks_free(audio_marks_t *m);
/* Appends a mark; value (value_len bytes, need not be NUL-terminated) is copied.
 * Returns 0, -EINVAL (end < start), -ENOBUFS (over AUDIO_MARKS_MAX) or -ENOMEM. */
int audio_marks_push(audio_marks_t *m, uint32_t time_ms, audio_mark_type_t type, uint32_t start,
                     uint32_t end, const char *value, size_t value_len);

/* "word" or "sentence". */
const char *audio_mark_type_name(audio_mark_type_t type);

/* Appends the marks as one JSON array to out:
 * [{"time":0,"type":"sentence","start":0,"end":12,"value":"Hello world."},...]
 * Returns 0, -EINVAL if a value is not valid UTF-8, -ENOBUFS if out's maximum is reached, or
 * -ENOMEM. On error out may hold a partial array (the caller discards it). */
int audio_marks_to_json(const audio_mark_t *marks, size_t n, buf_t *out);

#endif
