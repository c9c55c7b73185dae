/* openai_stream: incremental parser for the body of an OpenAI-compatible
 * POST /v1/chat/completions response with "stream": true. The body is server-sent events:
 * "data: {json}" lines ended by a blank line, a final "data: [DONE]", comment lines starting with
 * ':', LF, CRLF or CR line ends, and chunks that may split anywhere. Feed bytes as they arrive;
 * callbacks report each text delta (choices[0].delta.content), the finish_reason and errors.
 * Pure: no I/O and no allocation beyond its own bounded buffers. The parser owns its buffers;
 * strings passed to callbacks are valid only during the call. */
#ifndef NOVA_PROVIDERS_OPENAI_STREAM_H
#define NOVA_PROVIDERS_OPENAI_STREAM_H

#include <stddef.h>

enum {
    OPENAI_STREAM_E_MALFORMED = -2001, /* a data event that is not a JSON object */
    OPENAI_STREAM_E_API = -2002,       /* the server sent {"error": {...}} */
    OPENAI_STREAM_E_TOO_LONG = -2003,  /* a line or event longer than max_line */
    OPENAI_STREAM_E_TRUNCATED = -2004, /* body ended without [DONE] or a finish_reason */
    OPENAI_STREAM_E_ABORTED = -2005,   /* a callback returned non-zero */
};

#define OPENAI_STREAM_DEFAULT_MAX_LINE (256 * 1024)

typedef struct {
    /* A non-empty piece of the answer text (UTF-8, not NUL-terminated). Non-zero aborts. */
    int (*on_delta)(void *arg, const char *text, size_t len);
    /* choices[0].finish_reason when it is a string ("stop", "length", ...). Non-zero aborts. */
    int (*on_finish)(void *arg, const char *reason);
    /* Called once, for the first error; the parser then refuses further input. detail is a
     * short human-readable text (for API errors: the server's message). */
    void (*on_error)(void *arg, int code, const char *detail);
    /* "data: [DONE]" arrived. */
    void (*on_done)(void *arg);
} openai_stream_callbacks_t;

typedef struct openai_stream openai_stream_t;

/* Callbacks may be NULL individually; the struct is copied. max_line 0 = the default. */
openai_stream_t *openai_stream_new(const openai_stream_callbacks_t *cb, void *arg, size_t max_line);
void openai_stream_free(openai_stream_t *p);

/* Feeds the next bytes. Returns 0, or the (sticky) error code once an error happened. */
int openai_stream_feed(openai_stream_t *p, const char *data, size_t len);
/* End of body: handles a last unterminated line, then returns 0 if [DONE] or a finish_reason was
 * seen, else reports OPENAI_STREAM_E_TRUNCATED. */
int openai_stream_finish(openai_stream_t *p);
/* 1 once "data: [DONE]" was seen. */
int openai_stream_is_done(const openai_stream_t *p);
const char *openai_stream_strerror(int code);

#endif
