/* range: conditional and partial GET helpers for static media (RFC 9110 sections 8.8, 13, 14):
 * Range parsing against a file size, Content-Range formatting, If-Range, If-None-Match, strong
 * ETags from file metadata, and HTTP-date formatting/parsing. All functions are pure (no I/O, no
 * locale, no allocation) and thread-safe.
 *
 * Policy (decided here so every route behaves the same):
 * - One satisfiable range -> 206 with that range. Unsatisfiable single range -> 416 with the
 *   "bytes STAR/size" Content-Range that range_content_range(NULL) writes.
 * - Several ranges -> the header is ignored and the full body is sent with 200. RFC 9110 14.2
 *   lets a server ignore Range; audio/video elements and download managers ask for one range,
 *   and never generating multipart/byteranges removes a whole class of amplification requests
 *   (many overlapping small ranges).
 * - A malformed header, an unknown unit or a syntactically invalid range (first > last) is
 *   ignored (200 full body), as RFC 9110 14.2 allows.
 * - Numbers saturate at UINT64_MAX instead of overflowing: a huge first-pos is unsatisfiable,
 *   a huge last-pos or suffix-length means "to the end" / "the whole file".
 * - Whitespace is accepted around list elements (after "=" and around commas) but not inside a
 *   range-spec ("0 - 5" is malformed).
 */
#ifndef NOVA_HTTP_RANGE_H
#define NOVA_HTTP_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" plus NUL. */
#define RANGE_HTTP_DATE_LEN 30
/* Enough for a quoted strong ETag made by range_etag_make plus NUL. */
#define RANGE_ETAG_MAX 64
/* Enough for "bytes <first>-<last>/<size>" with 20-digit numbers plus NUL. */
#define RANGE_CONTENT_RANGE_MAX 72

typedef enum {
    RANGE_FULL = 0,      /* no usable Range: send 200 with the whole body */
    RANGE_PARTIAL,       /* send 206 with bytes [start, end] */
    RANGE_UNSATISFIABLE, /* send 416 with range_content_range(.., NULL, ..) */
} range_result_t;

typedef struct {
    uint64_t start; /* first byte offset */
    uint64_t end;   /* last byte offset, inclusive (end >= start, end < size) */
} range_t;

/* Evaluates a Range header value (NULL means absent) for a representation of `size` bytes.
 * On RANGE_PARTIAL fills *out; otherwise *out is zeroed. */
range_result_t range_parse(const char *header, uint64_t size, range_t *out);

/* Writes the Content-Range value: "bytes 0-99/1000" for r, or the unsatisfied form (an asterisk
 * instead of first-last, e.g. for size 1000 the asterisk then "/1000") when r is NULL (416).
 * Returns the length written or -ENOSPC. */
int range_content_range(char *out, size_t cap, const range_t *r, uint64_t size);

/* Strong ETag from file metadata: "\"<size hex>-<mtime ns hex>-<inode hex>\"" (quotes included).
 * Any change of size, modification time (ns resolution) or inode (atomic rename) changes it.
 * Returns the length written or -ENOSPC (cap < RANGE_ETAG_MAX is always enough). */
int range_etag_make(char *out, size_t cap, uint64_t size, int64_t mtime_ns, uint64_t inode);

/* If-Range (RFC 9110 13.1.5): returns true when the Range header may be honoured. `if_range` is
 * the header value (NULL = absent -> true). An entity-tag matches only by strong comparison with
 * `etag` (a weak tag never matches); an HTTP-date matches only if it equals `last_modified`
 * exactly. Anything unparseable -> false (send the full body). */
bool range_if_range_ok(const char *if_range, const char *etag, time_t last_modified);

/* If-None-Match (RFC 9110 13.1.2) using weak comparison: returns true when the header (NULL =
 * absent -> false) is "*" or lists a tag whose opaque part equals that of `etag`; for GET/HEAD
 * the caller then answers 304. A malformed list -> false. */
bool range_if_none_match(const char *header, const char *etag);

/* Formats t as IMF-fixdate into out[RANGE_HTTP_DATE_LEN]. Returns 0, or -ERANGE for years
 * outside 0..9999. */
int range_http_date_format(time_t t, char out[RANGE_HTTP_DATE_LEN]);

/* Parses an HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime forms (RFC 9110 5.6.7).
 * A two-digit RFC 850 year more than 50 years in the future is taken as the past century.
 * Returns 0 or -EINVAL. */
int range_http_date_parse(const char *s, time_t *out);

#endif
