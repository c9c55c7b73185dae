/* Fuzz target for the Range / conditional request helpers. Input layout: 8 bytes of file size
 * (little endian), then the header text. Checks the invariants the server relies on: a partial
 * range lies inside the file, Content-Range always fits its buffer, and any date that parses
 * formats back to a date that parses to the same instant. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    uint64_t fsize = 0;
    for (int i = 0; i < 8; i++)
        fsize |= (uint64_t)data[i] << (8 * i);
    /* Small sizes are the interesting ones half of the time. */
    if (data[7] & 0x80) fsize &= 0xff;
    size_t len = size - 8;
    char *h = malloc(len + 1);
    if (!h) return 0;
    memcpy(h, data + 8, len);
    h[len] = '\0';

    range_t r;
    char cr[RANGE_CONTENT_RANGE_MAX];
    range_result_t res = range_parse(h, fsize, &r);
    if (res == RANGE_PARTIAL) {
        if (r.start > r.end || r.end >= fsize) abort();
        if (range_content_range(cr, sizeof cr, &r, fsize) <= 0) abort();
    } else if (res == RANGE_UNSATISFIABLE) {
        if (range_content_range(cr, sizeof cr, NULL, fsize) <= 0) abort();
    } else if (res != RANGE_FULL) {
        abort();
    }

    char etag[RANGE_ETAG_MAX];
    if (range_etag_make(etag, sizeof etag, fsize, (int64_t)fsize, ~fsize) <= 0) abort();
    (void)range_if_none_match(h, etag);
    /* Every etag matches itself, weakly and strongly. */
    if (!range_if_none_match(etag, etag) || !range_if_range_ok(etag, etag, 0)) abort();

    time_t t;
    if (range_http_date_parse(h, &t) == 0) {
        char d[RANGE_HTTP_DATE_LEN];
        time_t back;
        if (range_http_date_format(t, d) == 0) {
            if (range_http_date_parse(d, &back) != 0 || back != t) abort();
            if (!range_if_range_ok(d, etag, t)) abort();
        }
    }
    (void)range_if_range_ok(h, etag, (time_t)fsize);
    free(h);
    return 0;
}
