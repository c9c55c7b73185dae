/* Fuzz target for providers/openai_stream: the input is fed twice, once whole and once in pieces
 * whose sizes come from the first input byte, and both runs must report the same text, finish
 * reason, [DONE] and result; the parser must never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "providers/openai_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    buf_t text;
    char finish[64];
    int done, errors;
} fz_out_t;

static int fz_delta(void *arg, const char *s, size_t n)
{
    fz_out_t *o = arg;
    buf_append(&o->text, s, n);
    return 0;
}

static int fz_finish(void *arg, const char *reason)
{
    snprintf(((fz_out_t *)arg)->finish, 64, "%s", reason);
    return 0;
}

static void fz_error(void *arg, int code, const char *detail)
{
    ((fz_out_t *)arg)->errors++;
    (void)strlen(detail);
}

static void fz_done(void *arg)
{
    ((fz_out_t *)arg)->done++;
}

static int fz_run(const uint8_t *d, size_t n, size_t step, fz_out_t *o)
{
    static const openai_stream_callbacks_t cbs = {fz_delta, fz_finish, fz_error, fz_done};
    memset(o, 0, sizeof *o);
    buf_init(&o->text, 1u << 24);
    openai_stream_t *p = openai_stream_new(&cbs, o, 4096);
    if (!p) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += step)
        rc = openai_stream_feed(p, (const char *)d + i, n - i < step ? n - i : step);
    if (rc == 0) rc = openai_stream_finish(p);
    openai_stream_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t step = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    fz_out_t a, b;
    int ra = fz_run(data, size, size ? size : 1, &a);
    int rb = fz_run(data, size, step, &b);
    if (ra != rb || a.text.len != b.text.len ||
        (a.text.len && memcmp(a.text.data, b.text.data, a.text.len) != 0) ||
        strcmp(a.finish, b.finish) != 0 || a.done != b.done || a.errors != b.errors || a.errors > 1)
        __builtin_trap(); /* chunk boundaries changed the outcome */
    buf_free(&a.text);
    buf_free(&b.text);
    return 0;
}
