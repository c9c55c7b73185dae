/* Fuzz target for the multipart parser. Input layout: byte 0 picks the boundary, bytes 1-2 give
 * a split position, byte 3 a chunk size for a third pass; the rest is the body. The body is
 * parsed one-shot, split in two at the position, and in small chunks: all three runs must
 * produce the same callback transcript (hashed) and the same error, which checks that chunking
 * never changes the result. The input is also tried as a Content-Type header value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

typedef struct {
    uint64_t hash;
    uint64_t bytes;
    int begins, ends;
} trace_t;

static void mix(trace_t *t, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        t->hash = (t->hash ^ s[i]) * 1099511628211ull;
}

static int on_begin(void *u, const multipart_part_t *p)
{
    trace_t *t = u;
    t->begins++;
    mix(t, "<b", 2);
    mix(t, p->name, strlen(p->name) + 1);
    if (p->filename) mix(t, p->filename, strlen(p->filename) + 1);
    if (p->content_type) mix(t, p->content_type, strlen(p->content_type) + 1);
    return 0;
}

static int on_data(void *u, const char *d, size_t n)
{
    trace_t *t = u;
    if (n == 0) abort(); /* empty slices are never emitted */
    t->bytes += n;
    mix(t, d, n);
    return 0;
}

static int on_end(void *u, const multipart_part_t *p)
{
    trace_t *t = u;
    t->ends++;
    mix(t, ">", 1);
    (void)p;
    return 0;
}

typedef struct {
    trace_t trace;
    int rc;
    multipart_error_t err;
    char detail[256];
} result_t;

static void run(const char *boundary, const char *body, size_t len, size_t split, size_t chunk,
                result_t *r)
{
    static const multipart_callbacks_t cbs = {on_begin, on_data, on_end};
    static const multipart_limits_t lim = {
        .max_header_bytes = 256, .max_parts = 8, .max_name_len = 16};
    memset(r, 0, sizeof *r);
    r->trace.hash = 1469598103934665603ull;
    multipart_parser_t *p = multipart_parser_new(boundary, &lim, &cbs, &r->trace);
    if (!p) abort();
    size_t off = 0;
    r->rc = 0;
    while (off < len && r->rc == 0) {
        size_t n = len - off;
        if (chunk)
            n = n < chunk ? n : chunk;
        else if (off < split)
            n = split - off;
        r->rc = multipart_parser_feed(p, body + off, n);
        off += n;
    }
    if (r->rc == 0) r->rc = multipart_parser_finish(p);
    r->err = multipart_parser_error(p);
    snprintf(r->detail, sizeof r->detail, "%s", multipart_parser_error_detail(p));
    /* Every begun part ends, unless parsing stopped early. */
    if (r->rc == 0 && r->trace.begins != r->trace.ends) abort();
    multipart_parser_free(p);
}

static void same(const result_t *a, const result_t *b)
{
    if (a->rc != b->rc || a->err != b->err || strcmp(a->detail, b->detail) != 0) abort();
    /* On error the parse stops at the same byte, so everything before it matches too. */
    if (a->trace.hash != b->trace.hash || a->trace.bytes != b->trace.bytes) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const boundaries[] = {"b", "--", "a b", "X-Y_z.0", "0123456789"};
    if (size < 4) return 0;
    const char *boundary = boundaries[data[0] % 5];
    size_t split = (size_t)data[1] | (size_t)data[2] << 8;
    size_t chunk = (size_t)(data[3] % 7) + 1;
    const char *body = (const char *)data + 4;
    size_t len = size - 4;
    split = len ? split % (len + 1) : 0;

    result_t one, two, small;
    run(boundary, body, len, len, 0, &one);
    run(boundary, body, len, split, 0, &two);
    run(boundary, body, len, 0, chunk, &small);
    same(&one, &two);
    same(&one, &small);

    char *ct = malloc(len + 1), out[MULTIPART_BOUNDARY_MAX + 1];
    if (!ct) return 0;
    memcpy(ct, body, len);
    ct[len] = '\0';
    if (multipart_boundary_from_content_type(ct, out, sizeof out) == 0) {
        /* Whatever it extracts must be usable as a boundary. */
        multipart_parser_t *p = multipart_parser_new(out, NULL, NULL, NULL);
        if (!p) abort();
        multipart_parser_free(p);
    }
    free(ct);
    return 0;
}
