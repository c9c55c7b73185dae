/* buf: a growable byte buffer with a mandatory maximum size (as curl's dynbuf): appends past the
 * maximum fail with -ENOBUFS instead of growing without bound. The buffer owns `data` (malloc);
 * buf_free releases it. data is always NUL-terminated when non-NULL (not counted in len). */
#ifndef NOVA_CORE_BUF_H
#define NOVA_CORE_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* appends that would make len exceed max fail */
} buf_t;

void buf_init(buf_t *b, size_t max);
void buf_free(buf_t *b);
void buf_reset(buf_t *b); /* len = 0, keeps the allocation */
int buf_append(buf_t *b, const void *data, size_t len);
int buf_append_str(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes. */
void buf_consume(buf_t *b, size_t n);
/* Transfers ownership of data to the caller (who frees it); leaves b empty. */
char *buf_steal(buf_t *b, size_t *len);

#endif
