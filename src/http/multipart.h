/* multipart: a streaming multipart/form-data parser (RFC 7578 on top of RFC 2046 section 5.1).
 * The parser owns no part data: it is fed arbitrary chunks of the request body (any split, down
 * to one byte at a time) and hands each part's body to a callback as slices of the caller's
 * input, so memory use is bounded by the header-block limit, never by part sizes. It is pure
 * (no I/O, no allocation after multipart_parser_new) and safe to run on the event loop.
 *
 * Framing rules implemented exactly: the delimiter is CRLF "--" boundary; the CRLF belongs to the
 * delimiter, not to the preceding part, so "--boundary" inside a part without a preceding CRLF is
 * data. The first delimiter may start at byte 0 (no CRLF needed there); anything before it is a
 * preamble and is ignored, as is anything after the close delimiter ("--boundary--"). Linear
 * whitespace after a delimiter (transport padding) is tolerated. Part headers must use CRLF line
 * ends; obsolete line folding, bare CR or LF, NUL bytes and header blocks above the configured
 * limit are errors. Every part must carry Content-Disposition: form-data with a name parameter.
 *
 * Quoted parameter values honour RFC 9110 quoted-pair escapes (\" and \\). Browsers following
 * the HTML standard never escape with backslashes (they percent-encode '"' as %22 and leave it
 * encoded), so a backslash in a filename sent by such a browser disappears; callers must treat
 * filenames as untrusted display hints anyway. filename* (RFC 5987, UTF-8'' form only) is decoded
 * and preferred over filename when present, as RFC 6266 recommends; other charsets are ignored.
 */
#ifndef NOVA_HTTP_MULTIPART_H
#define NOVA_HTTP_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

/* RFC 2046: 1 to 70 characters. */
#define MULTIPART_BOUNDARY_MAX 70

typedef enum {
    MULTIPART_ERR_NONE = 0,
    MULTIPART_ERR_BOUNDARY_LINE,    /* bytes other than padding/CRLF/"--" after a delimiter */
    MULTIPART_ERR_HEADER_MALFORMED, /* bad header syntax, bare CR/LF, NUL, obs-fold */
    MULTIPART_ERR_DISPOSITION,      /* Content-Disposition missing, not form-data, or bad params */
    MULTIPART_ERR_NAME_MISSING,     /* form-data part without a name parameter */
    MULTIPART_ERR_NAME_TOO_LONG,    /* name longer than limits.max_name_len */
    MULTIPART_ERR_HEADER_TOO_LARGE, /* a part's header block exceeds limits.max_header_bytes */
    MULTIPART_ERR_TOO_MANY_PARTS,   /* more than limits.max_parts parts */
    MULTIPART_ERR_TRUNCATED,        /* body ended before the close delimiter */
    MULTIPART_ERR_CALLBACK,         /* a callback returned non-zero */
    MULTIPART_ERR_STATE,            /* fed after finish or after an error */
} multipart_error_t;

/* Headers of one part. All strings are NUL-terminated, owned by the parser and valid until the
 * on_part_end callback for this part returns (or until the parser is freed). */
typedef struct {
    size_t index;             /* 0-based part number */
    const char *name;         /* Content-Disposition name (required, never NULL) */
    const char *filename;     /* filename* or filename parameter, NULL when absent */
    const char *content_type; /* Content-Type value trimmed, NULL when absent (text/plain) */
} multipart_part_t;

/* Each callback returns 0 to continue or non-zero to abort (MULTIPART_ERR_CALLBACK). Any callback
 * may be NULL. on_part_data receives slices that point into the buffer passed to
 * multipart_parser_feed (or into the parser's own copy of the boundary for bytes held back
 * across a chunk split); they are valid only during the call. A part's data may arrive in many
 * calls, and a part may have zero data calls. */
typedef struct {
    int (*on_part_begin)(void *user, const multipart_part_t *part);
    int (*on_part_data)(void *user, const char *data, size_t len);
    int (*on_part_end)(void *user, const multipart_part_t *part);
} multipart_callbacks_t;

typedef struct {
    size_t max_header_bytes; /* per part header block incl. the blank line; 0 = 8192 */
    size_t max_parts;        /* 0 = 64 */
    size_t max_name_len;     /* bytes of the name parameter; 0 = 128 */
} multipart_limits_t;

typedef struct multipart_parser multipart_parser_t;

/* Extracts the boundary parameter of a Content-Type header value, which must be
 * multipart/form-data (case-insensitive). Handles token and quoted-string values (with
 * quoted-pair escapes), parameter names in any case, other parameters in any order. Validates
 * RFC 2046 bchars, length 1..70, no trailing space. Writes a NUL-terminated boundary to out.
 * Returns 0, -EINVAL (not multipart/form-data, bad syntax, invalid boundary or duplicate
 * boundary parameter), -ENOENT (no boundary parameter) or -ENOSPC (cap too small). */
int multipart_boundary_from_content_type(const char *content_type, char *out, size_t cap);

/* Creates a parser for `boundary` (as returned above; validated again here). `limits` may be
 * NULL for the defaults; `cbs` is copied. Returns NULL on invalid boundary or out of memory.
 * The caller frees with multipart_parser_free. */
multipart_parser_t *multipart_parser_new(const char *boundary, const multipart_limits_t *limits,
                                         const multipart_callbacks_t *cbs, void *user);
void multipart_parser_free(multipart_parser_t *p);

/* Feeds the next chunk. Returns 0, -EBADMSG (malformed body), -E2BIG (a limit was exceeded),
 * -ECANCELED (a callback aborted) or -EINVAL (parser already failed or finished). After an error
 * every further call fails; multipart_parser_error and _detail describe the first error. */
int multipart_parser_feed(multipart_parser_t *p, const char *data, size_t len);

/* Declares the end of the body. Returns 0 when the close delimiter was seen, otherwise
 * -EBADMSG (MULTIPART_ERR_TRUNCATED) or the earlier error. */
int multipart_parser_finish(multipart_parser_t *p);

multipart_error_t multipart_parser_error(const multipart_parser_t *p);
/* Human-readable detail for a 400 response, e.g. "at byte 512: header block exceeds 8192 bytes".
 * Empty string when there is no error. Owned by the parser. Contains no request bytes, so it
 * is safe to echo to the client and to log. */
const char *multipart_parser_error_detail(const multipart_parser_t *p);
/* Number of body bytes consumed so far (the position used in error details). */
uint64_t multipart_parser_position(const multipart_parser_t *p);
/* Number of parts whose headers were parsed so far. */
size_t multipart_parser_part_count(const multipart_parser_t *p);
/* Stable short name for an error code ("truncated", "header_too_large", ...). */
const char *multipart_error_name(multipart_error_t err);

#endif
