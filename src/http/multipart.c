/* multipart: streaming multipart/form-data parser. See multipart.h for the contract. */
#include "http/multipart.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_PREAMBLE,    /* looking for the first delimiter, discarding bytes */
    ST_AFTER_DELIM, /* just matched CRLF--boundary */
    ST_CLOSE_DASH,  /* saw one '-' after the delimiter */
    ST_PADDING,     /* transport padding (SP/HT) after the delimiter */
    ST_LF,          /* saw CR ending the delimiter line */
    ST_HEADERS,     /* accumulating a part's header block */
    ST_DATA,        /* streaming part data */
    ST_EPILOGUE,    /* after the close delimiter: everything is ignored */
    ST_DONE,        /* finish() succeeded */
    ST_FAILED,
};

struct multipart_parser {
    multipart_callbacks_t cbs;
    void *user;
    multipart_limits_t lim;
    /* "\r\n--" boundary. The held-back prefix of a split delimiter is replayed from here. */
    char delim[4 + MULTIPART_BOUNDARY_MAX + 1];
    size_t dlen;
    size_t matched; /* bytes of delim matched at the end of the previous chunk */
    int state;
    uint64_t pos; /* body bytes consumed before the current chunk */
    size_t parts;
    bool in_part;
    multipart_part_t part;
    multipart_error_t err;
    char detail[192];
    char *hdr; /* raw header block of the current part, max_header_bytes */
    size_t hdr_len;
    char *fields; /* decoded name/filename/content_type strings */
    size_t fields_len, fields_cap;
};

/* ---- character classes ---- */

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 2046 bcharsnospace; space is handled by the caller. */
static bool is_bchar_nospace(unsigned char c)
{
    return is_alnum(c) || (c != 0 && strchr("'()+_,-./:=?", c) != NULL);
}

static bool is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool ieq_n(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return false;
    return true;
}

static bool boundary_valid(const char *b, size_t len)
{
    if (len < 1 || len > MULTIPART_BOUNDARY_MAX || b[len - 1] == ' ') return false;
    for (size_t i = 0; i < len; i++)
        if (b[i] != ' ' && !is_bchar_nospace((unsigned char)b[i])) return false;
    return true;
}

/* ---- parameter lists (shared by Content-Type and Content-Disposition) ---- */

/* Reads a quoted-string starting at s[*i] == '"' into out (at most cap - 1 bytes plus NUL),
 * resolving quoted-pairs. Returns decoded length or -1 on bad syntax or overflow. */
static long read_quoted(const char *s, size_t len, size_t *i, char *out, size_t cap)
{
    size_t n = 0, k = *i + 1;
    for (;;) {
        if (k >= len) return -1;
        unsigned char c = (unsigned char)s[k];
        if (c == '"') break;
        if (c == '\\') {
            if (++k >= len) return -1;
            c = (unsigned char)s[k];
            if (c != '\t' && (c < 0x20 || c == 0x7f)) return -1;
        } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
            return -1;
        }
        if (n + 1 >= cap) return -1;
        out[n++] = (char)c;
        k++;
    }
    out[n] = '\0';
    *i = k + 1;
    return (long)n;
}

typedef struct {
    const char *name;
    size_t name_len;
    const char *raw; /* unquoted value in the input, or NULL when quoted (see val) */
    size_t raw_len;
    bool quoted;
} param_t;

/* Parses one `; name=value` element at s[*i] (positioned after OWS). Quoted values are decoded
 * into qbuf. Returns 1 on a parameter, 0 at the end of input, -1 on bad syntax. */
static int next_param(const char *s, size_t len, size_t *i, param_t *pm, char *qbuf, size_t qcap)
{
    size_t k = *i;
    for (;;) {
        while (k < len && is_ows(s[k]))
            k++;
        if (k == len) return 0;
        if (s[k] != ';') return -1;
        k++;
        while (k < len && is_ows(s[k]))
            k++;
        if (k == len) return 0; /* tolerate a trailing ';' */
        if (s[k] != ';') break; /* tolerate empty list elements */
    }
    pm->name = s + k;
    while (k < len && is_tchar((unsigned char)s[k]))
        k++;
    pm->name_len = (size_t)(s + k - pm->name);
    if (pm->name_len == 0) return -1;
    while (k < len && is_ows(s[k]))
        k++;
    if (k == len || s[k] != '=') return -1;
    k++;
    while (k < len && is_ows(s[k]))
        k++;
    if (k < len && s[k] == '"') {
        long n = read_quoted(s, len, &k, qbuf, qcap);
        if (n < 0) return -1;
        pm->raw = qbuf;
        pm->raw_len = (size_t)n;
        pm->quoted = true;
    } else {
        pm->raw = s + k;
        while (k < len && s[k] != ';' && !is_ows(s[k])) {
            unsigned char c = (unsigned char)s[k];
            if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') return -1;
            k++;
        }
        pm->raw_len = (size_t)(s + k - pm->raw);
        pm->quoted = false;
        if (pm->raw_len == 0) return -1;
    }
    *i = k;
    return 1;
}

int multipart_boundary_from_content_type(const char *ct, char *out, size_t cap)
{
    if (!ct || !out) return -EINVAL;
    size_t len = strlen(ct), i = 0;
    while (i < len && is_ows(ct[i]))
        i++;
    size_t t0 = i;
    while (i < len && is_tchar((unsigned char)ct[i]))
        i++;
    if (!ieq_n(ct + t0, i - t0, "multipart") || i >= len || ct[i] != '/') return -EINVAL;
    size_t s0 = ++i;
    while (i < len && is_tchar((unsigned char)ct[i]))
        i++;
    if (!ieq_n(ct + s0, i - s0, "form-data")) return -EINVAL;

    char qbuf[256], found[MULTIPART_BOUNDARY_MAX + 1];
    size_t found_len = 0;
    bool have = false;
    for (;;) {
        param_t pm;
        int r = next_param(ct, len, &i, &pm, qbuf, sizeof qbuf);
        if (r < 0) return -EINVAL;
        if (r == 0) break;
        if (!ieq_n(pm.name, pm.name_len, "boundary")) continue;
        if (have) return -EINVAL;
        /* An unquoted value cannot contain a space; a quoted one may, except at its end. */
        if (!boundary_valid(pm.raw, pm.raw_len)) return -EINVAL;
        if (!pm.quoted && memchr(pm.raw, ' ', pm.raw_len)) return -EINVAL;
        memcpy(found, pm.raw, pm.raw_len);
        found_len = pm.raw_len;
        have = true;
    }
    if (!have) return -ENOENT;
    if (found_len + 1 > cap) return -ENOSPC;
    memcpy(out, found, found_len);
    out[found_len] = '\0';
    return 0;
}

/* ---- parser ---- */

multipart_parser_t *multipart_parser_new(const char *boundary, const multipart_limits_t *limits,
                                         const multipart_callbacks_t *cbs, void *user)
{
    if (!boundary || !boundary_valid(boundary, strlen(boundary))) return NULL;
    multipart_parser_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (limits) p->lim = *limits;
    if (!p->lim.max_header_bytes) p->lim.max_header_bytes = 8192;
    if (!p->lim.max_parts) p->lim.max_parts = 64;
    if (!p->lim.max_name_len) p->lim.max_name_len = 128;
    if (cbs) p->cbs = *cbs;
    p->user = user;
    p->dlen = (size_t)snprintf(p->delim, sizeof p->delim, "\r\n--%s", boundary);
    /* The first delimiter may open the body without a CRLF: pretend one was just seen. */
    p->matched = 2;
    p->state = ST_PREAMBLE;
    p->fields_cap = p->lim.max_header_bytes + 8;
    p->hdr = malloc(p->lim.max_header_bytes);
    p->fields = malloc(p->fields_cap);
    if (!p->hdr || !p->fields) {
        multipart_parser_free(p);
        return NULL;
    }
    return p;
}

void multipart_parser_free(multipart_parser_t *p)
{
    if (!p) return;
    free(p->hdr);
    free(p->fields);
    free(p);
}

static int err_code(multipart_error_t e)
{
    switch (e) {
    case MULTIPART_ERR_NONE:
        return 0;
    case MULTIPART_ERR_NAME_TOO_LONG:
    case MULTIPART_ERR_HEADER_TOO_LARGE:
    case MULTIPART_ERR_TOO_MANY_PARTS:
        return -E2BIG;
    case MULTIPART_ERR_CALLBACK:
        return -ECANCELED;
    case MULTIPART_ERR_STATE:
        return -EINVAL;
    default:
        return -EBADMSG;
    }
}

static int fail(multipart_parser_t *p, multipart_error_t e, uint64_t at, const char *what)
{
    if (p->err == MULTIPART_ERR_NONE) {
        p->err = e;
        snprintf(p->detail, sizeof p->detail, "at byte %llu: %s", (unsigned long long)at, what);
    }
    p->state = ST_FAILED;
    return err_code(p->err);
}

/* Appends a decoded string to the fields area and returns it. Never overflows: decoded values
 * are no longer than their raw form inside the header block, which is at most fields_cap - 8. */
static const char *store(multipart_parser_t *p, const char *s, size_t n)
{
    if (p->fields_len + n + 1 > p->fields_cap) return NULL;
    char *d = p->fields + p->fields_len;
    memmove(d, s, n); /* quoted values were decoded in place at d */
    d[n] = '\0';
    p->fields_len += n + 1;
    return d;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)lower((unsigned char)c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes an RFC 5987 ext-value (charset'lang'pct-encoded). Returns 1 and sets *out when the
 * charset is UTF-8, 0 to ignore (other charsets), -1 on bad syntax or control bytes. */
static int decode_ext_value(multipart_parser_t *p, const char *v, size_t n, const char **out)
{
    const char *q1 = memchr(v, '\'', n);
    if (!q1) return -1;
    const char *q2 = memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - v));
    if (!q2) return -1;
    if (!ieq_n(v, (size_t)(q1 - v), "utf-8")) return 0;
    const char *s = q2 + 1, *end = v + n;
    char *d = p->fields + p->fields_len, *d0 = d;
    if (p->fields_len + (size_t)(end - s) + 1 > p->fields_cap) return -1;
    while (s < end) {
        unsigned char c = (unsigned char)*s;
        if (c == '%') {
            if (end - s < 3) return -1;
            int hi = hexval(s[1]), lo = hexval(s[2]);
            if (hi < 0 || lo < 0) return -1;
            c = (unsigned char)(hi * 16 + lo);
            s += 3;
        } else {
            if (!is_tchar(c) || c == '%' || c == '\'' || c == '*') return -1;
            s++;
        }
        if (c < 0x20 || c == 0x7f) return -1;
        *d++ = (char)c;
    }
    *d++ = '\0';
    p->fields_len += (size_t)(d - d0);
    *out = d0;
    return 1;
}

static int parse_disposition(multipart_parser_t *p, const char *v, size_t n, uint64_t at)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)v[i]))
        i++;
    if (!ieq_n(v, i, "form-data"))
        return fail(p, MULTIPART_ERR_DISPOSITION, at, "Content-Disposition is not form-data");
    const char *name = NULL, *fname = NULL, *fname_ext = NULL;
    bool seen_name = false, seen_fname = false, seen_ext = false;
    for (;;) {
        param_t pm;
        /* Quoted values decode into the free tail of the fields area, then get committed. */
        char *q = p->fields + p->fields_len;
        int r = next_param(v, n, &i, &pm, q, p->fields_cap - p->fields_len);
        if (r < 0)
            return fail(p, MULTIPART_ERR_DISPOSITION, at,
                        "malformed Content-Disposition parameters");
        if (r == 0) break;
        bool *seen;
        if (ieq_n(pm.name, pm.name_len, "name"))
            seen = &seen_name;
        else if (ieq_n(pm.name, pm.name_len, "filename"))
            seen = &seen_fname;
        else if (ieq_n(pm.name, pm.name_len, "filename*"))
            seen = &seen_ext;
        else
            continue;
        if (*seen)
            return fail(p, MULTIPART_ERR_DISPOSITION, at,
                        "duplicate Content-Disposition parameter");
        *seen = true;
        if (seen == &seen_ext) {
            if (pm.quoted)
                return fail(p, MULTIPART_ERR_DISPOSITION, at, "filename* must not be quoted");
            if (decode_ext_value(p, pm.raw, pm.raw_len, &fname_ext) < 0)
                return fail(p, MULTIPART_ERR_DISPOSITION, at, "malformed filename* value");
            continue;
        }
        const char *s = store(p, pm.raw, pm.raw_len);
        if (!s) return fail(p, MULTIPART_ERR_HEADER_TOO_LARGE, at, "part headers too large");
        if (seen == &seen_name)
            name = s;
        else
            fname = s;
    }
    if (!name || !name[0])
        return fail(p, MULTIPART_ERR_NAME_MISSING, at, "form-data part without a name");
    if (strlen(name) > p->lim.max_name_len)
        return fail(p, MULTIPART_ERR_NAME_TOO_LONG, at, "field name too long");
    p->part.name = name;
    p->part.filename = fname_ext ? fname_ext : fname;
    return 0;
}

/* Parses the complete header block in p->hdr (CRLF line ends already verified). */
static int parse_headers(multipart_parser_t *p, uint64_t at)
{
    p->fields_len = 0;
    memset(&p->part, 0, sizeof p->part);
    p->part.index = p->parts - 1;
    bool have_cd = false;
    size_t i = 0, end = p->hdr_len - 2; /* drop the final empty line */
    while (i < end) {
        const char *line = p->hdr + i;
        const char *eol = memchr(line, '\r', end - i);
        size_t ll = (size_t)(eol - line);
        i += ll + 2;
        if (is_ows(line[0]))
            return fail(p, MULTIPART_ERR_HEADER_MALFORMED, at, "folded header line");
        size_t k = 0;
        while (k < ll && is_tchar((unsigned char)line[k]))
            k++;
        if (k == 0 || k == ll || line[k] != ':')
            return fail(p, MULTIPART_ERR_HEADER_MALFORMED, at, "malformed header line");
        const char *hname = line;
        size_t hlen = k, v0 = k + 1, v1 = ll;
        while (v0 < v1 && is_ows(line[v0]))
            v0++;
        while (v1 > v0 && is_ows(line[v1 - 1]))
            v1--;
        for (size_t j = v0; j < v1; j++) {
            unsigned char c = (unsigned char)line[j];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(p, MULTIPART_ERR_HEADER_MALFORMED, at, "control byte in header");
        }
        if (ieq_n(hname, hlen, "content-disposition")) {
            if (have_cd)
                return fail(p, MULTIPART_ERR_DISPOSITION, at, "duplicate Content-Disposition");
            have_cd = true;
            int r = parse_disposition(p, line + v0, v1 - v0, at);
            if (r) return r;
        } else if (ieq_n(hname, hlen, "content-type")) {
            if (p->part.content_type)
                return fail(p, MULTIPART_ERR_HEADER_MALFORMED, at, "duplicate Content-Type");
            p->part.content_type = store(p, line + v0, v1 - v0);
        }
        /* Other headers (Content-Transfer-Encoding is deprecated by RFC 7578) are ignored. */
    }
    if (!have_cd) return fail(p, MULTIPART_ERR_DISPOSITION, at, "part without Content-Disposition");
    return 0;
}

static int emit(multipart_parser_t *p, const char *d, size_t n, uint64_t at)
{
    if (n == 0 || !p->cbs.on_part_data) return 0;
    if (p->cbs.on_part_data(p->user, d, n))
        return fail(p, MULTIPART_ERR_CALLBACK, at, "part data rejected");
    return 0;
}

static int delimiter_found(multipart_parser_t *p, uint64_t at)
{
    if (p->in_part) {
        p->in_part = false;
        if (p->cbs.on_part_end && p->cbs.on_part_end(p->user, &p->part))
            return fail(p, MULTIPART_ERR_CALLBACK, at, "part end rejected");
    }
    p->state = ST_AFTER_DELIM;
    return 0;
}

/* Scans for the delimiter from d[*ip]; in ST_DATA everything before it is part data. Because
 * the delimiter contains exactly one CR (its first byte: bchars exclude CR and LF), a failed
 * partial match can only restart at a later CR, so no KMP table is needed. */
static int scan(multipart_parser_t *p, const char *d, size_t len, size_t *ip)
{
    size_t i = *ip;
    bool data = p->state == ST_DATA;
    int r;
    if (p->matched) {
        while (i < len && p->matched < p->dlen && d[i] == p->delim[p->matched]) {
            i++;
            p->matched++;
        }
        if (p->matched == p->dlen) {
            p->matched = 0;
            *ip = i;
            return delimiter_found(p, p->pos + i);
        }
        if (i == len) {
            *ip = i;
            return 0;
        }
        /* The held-back bytes were data after all; they equal the delimiter's prefix. */
        if (data && (r = emit(p, p->delim, p->matched, p->pos + i))) return r;
        p->matched = 0;
    }
    size_t start = i;
    while (i < len) {
        const char *cr = memchr(d + i, '\r', len - i);
        if (!cr) {
            i = len;
            break;
        }
        size_t at = (size_t)(cr - d), avail = len - at;
        size_t n = avail < p->dlen ? avail : p->dlen;
        if (memcmp(cr, p->delim, n) == 0) {
            if (data && (r = emit(p, d + start, at - start, p->pos + at))) return r;
            if (n == p->dlen) {
                *ip = at + n;
                return delimiter_found(p, p->pos + at + n);
            }
            p->matched = n; /* hold back a possible split delimiter */
            *ip = len;
            return 0;
        }
        i = at + 1;
    }
    if (data && (r = emit(p, d + start, i - start, p->pos + i))) return r;
    *ip = i;
    return 0;
}

static int header_byte(multipart_parser_t *p, char c, uint64_t at)
{
    char prev = (char)(p->hdr_len ? p->hdr[p->hdr_len - 1] : '\0');
    if (c == '\0') return fail(p, MULTIPART_ERR_HEADER_MALFORMED, at, "NUL byte in part headers");
    if (prev == '\r' && c != '\n')
        return fail(p, MULTIPART_ERR_HEADER_MALFORMED, at, "bare CR in part headers");
    if (c == '\n' && prev != '\r')
        return fail(p, MULTIPART_ERR_HEADER_MALFORMED, at, "bare LF in part headers");
    if (p->hdr_len >= p->lim.max_header_bytes) {
        char what[96];
        snprintf(what, sizeof what, "part header block exceeds %zu bytes", p->lim.max_header_bytes);
        return fail(p, MULTIPART_ERR_HEADER_TOO_LARGE, at, what);
    }
    p->hdr[p->hdr_len++] = c;
    if (c != '\n') return 0;
    bool done =
        p->hdr_len == 2 || (p->hdr_len >= 4 && memcmp(p->hdr + p->hdr_len - 4, "\r\n\r\n", 4) == 0);
    if (!done) return 0;
    int r = parse_headers(p, at);
    if (r) return r;
    p->in_part = true;
    p->state = ST_DATA;
    if (p->cbs.on_part_begin && p->cbs.on_part_begin(p->user, &p->part))
        return fail(p, MULTIPART_ERR_CALLBACK, at, "part rejected");
    return 0;
}

int multipart_parser_feed(multipart_parser_t *p, const char *data, size_t len)
{
    if (!p) return -EINVAL;
    if (p->state == ST_FAILED) return err_code(p->err);
    if (p->state == ST_DONE) return fail(p, MULTIPART_ERR_STATE, p->pos, "data after finish");
    if (!data && len) return -EINVAL;
    size_t i = 0;
    int r = 0;
    while (i < len && r == 0) {
        uint64_t at = p->pos + i;
        char c = data[i];
        switch (p->state) {
        case ST_PREAMBLE:
        case ST_DATA:
            r = scan(p, data, len, &i);
            break;
        case ST_AFTER_DELIM:
            i++;
            if (c == '-')
                p->state = ST_CLOSE_DASH;
            else if (is_ows(c))
                p->state = ST_PADDING;
            else if (c == '\r')
                p->state = ST_LF;
            else
                r = fail(p, MULTIPART_ERR_BOUNDARY_LINE, at, "unexpected byte after boundary");
            break;
        case ST_CLOSE_DASH:
            i++;
            if (c == '-')
                p->state = ST_EPILOGUE;
            else
                r = fail(p, MULTIPART_ERR_BOUNDARY_LINE, at, "unexpected byte after boundary");
            break;
        case ST_PADDING:
            i++;
            if (c == '\r')
                p->state = ST_LF;
            else if (!is_ows(c))
                r = fail(p, MULTIPART_ERR_BOUNDARY_LINE, at, "unexpected byte after boundary");
            break;
        case ST_LF:
            i++;
            if (c != '\n') {
                r = fail(p, MULTIPART_ERR_BOUNDARY_LINE, at, "boundary line without CRLF");
            } else if (p->parts >= p->lim.max_parts) {
                char what[64];
                snprintf(what, sizeof what, "more than %zu parts", p->lim.max_parts);
                r = fail(p, MULTIPART_ERR_TOO_MANY_PARTS, at, what);
            } else {
                p->parts++;
                p->hdr_len = 0;
                p->state = ST_HEADERS;
            }
            break;
        case ST_HEADERS:
            i++;
            r = header_byte(p, c, at);
            break;
        case ST_EPILOGUE:
            i = len;
            break;
        default:
            r = fail(p, MULTIPART_ERR_STATE, at, "parser in invalid state");
            break;
        }
    }
    p->pos += len;
    return r;
}

int multipart_parser_finish(multipart_parser_t *p)
{
    if (!p) return -EINVAL;
    if (p->state == ST_FAILED) return err_code(p->err);
    if (p->state == ST_DONE) return 0;
    if (p->state == ST_PREAMBLE)
        return fail(p, MULTIPART_ERR_TRUNCATED, p->pos, "no boundary found in body");
    if (p->state != ST_EPILOGUE)
        return fail(p, MULTIPART_ERR_TRUNCATED, p->pos, "body ended before the closing boundary");
    p->state = ST_DONE;
    return 0;
}

multipart_error_t multipart_parser_error(const multipart_parser_t *p)
{
    return p->err;
}

const char *multipart_parser_error_detail(const multipart_parser_t *p)
{
    return p->detail;
}

uint64_t multipart_parser_position(const multipart_parser_t *p)
{
    return p->pos;
}

size_t multipart_parser_part_count(const multipart_parser_t *p)
{
    return p->parts;
}

const char *multipart_error_name(multipart_error_t err)
{
    switch (err) {
    case MULTIPART_ERR_NONE:
        return "none";
    case MULTIPART_ERR_BOUNDARY_LINE:
        return "boundary_line";
    case MULTIPART_ERR_HEADER_MALFORMED:
        return "header_malformed";
    case MULTIPART_ERR_DISPOSITION:
        return "disposition";
    case MULTIPART_ERR_NAME_MISSING:
        return "name_missing";
    case MULTIPART_ERR_NAME_TOO_LONG:
        return "name_too_long";
    case MULTIPART_ERR_HEADER_TOO_LARGE:
        return "header_too_large";
    case MULTIPART_ERR_TOO_MANY_PARTS:
        return "too_many_parts";
    case MULTIPART_ERR_TRUNCATED:
        return "truncated";
    case MULTIPART_ERR_CALLBACK:
        return "callback";
    case MULTIPART_ERR_STATE:
        return "state";
    }
    return "unknown";
}
