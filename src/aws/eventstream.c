#include "aws/eventstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aws/crc32.h"

/* After a message larger than this, the decoder gives its buffers back instead of keeping them
 * for the next message: real streams are made of small events, and one large message should
 * not pin megabytes for the rest of a long stream. */
#define EVENTSTREAM__KEEP_BYTES (256u * 1024u)

static uint32_t es__be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t es__be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t es__be64(const uint8_t *p)
{
    return (uint64_t)es__be32(p) << 32 | es__be32(p + 4);
}

static void es__put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void es__put64(uint8_t *p, uint64_t v)
{
    es__put32(p, (uint32_t)(v >> 32));
    es__put32(p + 4, (uint32_t)v);
}

const char *eventstream_strerror(int err)
{
    switch (err) {
    case 0:
        return "no error";
    case EVENTSTREAM_E_PRELUDE_CRC:
        return "event stream prelude CRC mismatch";
    case EVENTSTREAM_E_MESSAGE_CRC:
        return "event stream message CRC mismatch";
    case EVENTSTREAM_E_BAD_LENGTH:
        return "event stream message has inconsistent lengths";
    case EVENTSTREAM_E_TOO_LARGE:
        return "event stream message exceeds the size limit";
    case EVENTSTREAM_E_BAD_HEADER:
        return "event stream message has a malformed header";
    case EVENTSTREAM_E_DUP_HEADER:
        return "event stream message repeats a header name";
    case EVENTSTREAM_E_TRUNCATED:
        return "event stream ended inside a message";
    case EVENTSTREAM_E_NOMEM:
        return "out of memory decoding the event stream";
    case EVENTSTREAM_E_FINISHED:
        return "event stream data after the end";
    default:
        return "unknown error";
    }
}

void eventstream_decoder_init(eventstream_decoder_t *d, size_t max_message,
                              eventstream_message_cb cb, void *ud)
{
    memset(d, 0, sizeof *d);
    if (max_message == 0) max_message = EVENTSTREAM_DEFAULT_MAX_MESSAGE;
    if (max_message < EVENTSTREAM_OVERHEAD) max_message = EVENTSTREAM_OVERHEAD;
    d->max_message = max_message;
    d->cb = cb;
    d->ud = ud;
}

void eventstream_decoder_free(eventstream_decoder_t *d)
{
    free(d->msg);
    free(d->hdrs);
    free(d->pool);
    d->msg = NULL;
    d->hdrs = NULL;
    d->pool = NULL;
    d->msg_cap = d->hdrs_cap = d->pool_cap = 0;
    d->have = 0;
}

int eventstream_decoder_error(const eventstream_decoder_t *d)
{
    return d->error;
}

static int es__fail(eventstream_decoder_t *d, int err)
{
    d->error = err;
    return err;
}

/* Grows *buf to hold at least need elements (contents are not preserved). A released buffer
 * (NULL, capacity 0) is always allocated again, so success means *buf is usable. */
static int es__reserve(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (*buf && need <= *cap) return 0;
    void *nb = malloc(need * elem);
    if (!nb) return EVENTSTREAM_E_NOMEM;
    free(*buf);
    *buf = nb;
    *cap = need;
    return 0;
}

/* Validates a prelude and records total_length. The CRC is checked first: until it matches, the
 * lengths are just noise and reporting them as "too large" would mislead. */
static int es__prelude(eventstream_decoder_t *d, const uint8_t *p)
{
    uint32_t total = es__be32(p), hlen = es__be32(p + 4);
    if (crc32_update(0, p, 8) != es__be32(p + 8)) return EVENTSTREAM_E_PRELUDE_CRC;
    if (total < EVENTSTREAM_OVERHEAD) return EVENTSTREAM_E_BAD_LENGTH;
    if (total > d->max_message) return EVENTSTREAM_E_TOO_LARGE;
    if (hlen > total - EVENTSTREAM_OVERHEAD) return EVENTSTREAM_E_BAD_LENGTH;
    d->total = total;
    return 0;
}

static int es__name_cmp(const void *a, const void *b)
{
    const eventstream_header_t *x = *(const eventstream_header_t *const *)a;
    const eventstream_header_t *y = *(const eventstream_header_t *const *)b;
    if (x->name_len != y->name_len) return x->name_len < y->name_len ? -1 : 1;
    return memcmp(x->name, y->name, x->name_len);
}

/* Reports whether two headers share a name: pairwise for the usual handful of headers, sorted
 * when a message carries many, so a hostile message cannot make this quadratic. */
static int es__check_duplicates(const eventstream_header_t *h, size_t n)
{
    if (n <= 16) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (h[i].name_len == h[j].name_len &&
                    memcmp(h[i].name, h[j].name, h[i].name_len) == 0)
                    return EVENTSTREAM_E_DUP_HEADER;
        return 0;
    }
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sizeof *p is right
    const eventstream_header_t **s = malloc(n * sizeof *s);
    if (!s) return EVENTSTREAM_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        s[i] = &h[i];
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sizeof *p is right
    qsort(s, n, sizeof *s, es__name_cmp);
    int rc = 0;
    for (size_t i = 1; i < n && !rc; i++)
        if (es__name_cmp(&s[i - 1], &s[i]) == 0) rc = EVENTSTREAM_E_DUP_HEADER;
    free(s);
    return rc;
}

/* Parses the headers section p[0..len) into d->hdrs, copying names and byte values into the
 * NUL-terminated pool. Every header takes at least 3 bytes on the wire, so there are at most len/3
 * of them; and each needs no more pool bytes than wire bytes (its NULs replace the length and
 * type bytes), so len + 1 pool bytes suffice. Both are reserved up front. */
static int es__parse_headers(eventstream_decoder_t *d, const uint8_t *p, size_t len, size_t *count)
{
    size_t n = 0, pool = 0, i = 0;
    int rc = es__reserve((void **)&d->hdrs, &d->hdrs_cap, len / 3 + 1, sizeof *d->hdrs);
    if (!rc) rc = es__reserve((void **)&d->pool, &d->pool_cap, len + 1, 1);
    if (rc) return rc;
    while (i < len) {
        eventstream_header_t *h = &d->hdrs[n];
        memset(h, 0, sizeof *h);
        size_t nl = p[i++];
        if (nl == 0 || len - i < nl + 1) return EVENTSTREAM_E_BAD_HEADER;
        memcpy(d->pool + pool, p + i, nl);
        d->pool[pool + nl] = '\0';
        h->name = d->pool + pool;
        h->name_len = nl;
        pool += nl + 1;
        i += nl;
        uint8_t type = p[i++];
        size_t avail = len - i;
        switch (type) {
        case EVENTSTREAM_BOOL_TRUE:
        case EVENTSTREAM_BOOL_FALSE:
            h->value.boolean = type == EVENTSTREAM_BOOL_TRUE;
            break;
        case EVENTSTREAM_BYTE:
            if (avail < 1) return EVENTSTREAM_E_BAD_HEADER;
            h->value.i8 = (int8_t)p[i];
            i += 1;
            break;
        case EVENTSTREAM_SHORT:
            if (avail < 2) return EVENTSTREAM_E_BAD_HEADER;
            h->value.i16 = (int16_t)es__be16(p + i);
            i += 2;
            break;
        case EVENTSTREAM_INT:
            if (avail < 4) return EVENTSTREAM_E_BAD_HEADER;
            h->value.i32 = (int32_t)es__be32(p + i);
            i += 4;
            break;
        case EVENTSTREAM_LONG:
        case EVENTSTREAM_TIMESTAMP:
            if (avail < 8) return EVENTSTREAM_E_BAD_HEADER;
            h->value.i64 = (int64_t)es__be64(p + i);
            i += 8;
            break;
        case EVENTSTREAM_BYTES:
        case EVENTSTREAM_STRING: {
            if (avail < 2) return EVENTSTREAM_E_BAD_HEADER;
            size_t vl = es__be16(p + i);
            i += 2;
            if (avail - 2 < vl) return EVENTSTREAM_E_BAD_HEADER;
            memcpy(d->pool + pool, p + i, vl);
            d->pool[pool + vl] = '\0';
            h->value.bytes.data = d->pool + pool;
            h->value.bytes.len = vl;
            pool += vl + 1;
            i += vl;
            break;
        }
        case EVENTSTREAM_UUID:
            if (avail < 16) return EVENTSTREAM_E_BAD_HEADER;
            memcpy(h->value.uuid, p + i, 16);
            i += 16;
            break;
        default:
            return EVENTSTREAM_E_BAD_HEADER;
        }
        h->type = (eventstream_type_t)type;
        n++;
    }
    *count = n;
    return es__check_duplicates(d->hdrs, n);
}

/* Checks and delivers one complete message m[0..total). */
static int es__deliver(eventstream_decoder_t *d, const uint8_t *m, size_t total)
{
    if (crc32_update(0, m, total - 4) != es__be32(m + total - 4)) return EVENTSTREAM_E_MESSAGE_CRC;
    size_t hlen = es__be32(m + 4), count = 0;
    int rc = es__parse_headers(d, m + EVENTSTREAM_PRELUDE_LEN, hlen, &count);
    if (rc) return rc;
    eventstream_message_t msg = {
        .headers = d->hdrs,
        .header_count = count,
        .payload = m + EVENTSTREAM_PRELUDE_LEN + hlen,
        .payload_len = total - EVENTSTREAM_OVERHEAD - hlen,
    };
    d->messages++;
    if (d->cb) {
        rc = d->cb(d->ud, &msg);
        if (rc > 0) rc = -ECANCELED;
    }
    if (d->pool_cap > EVENTSTREAM__KEEP_BYTES) {
        free(d->pool);
        free(d->hdrs);
        d->pool = NULL;
        d->hdrs = NULL;
        d->pool_cap = d->hdrs_cap = 0;
    }
    return rc;
}

int eventstream_decoder_feed(eventstream_decoder_t *d, const void *data, size_t len)
{
    const uint8_t *p = data;
    int rc;
    if (d->error) return d->error;
    if (d->finished) return es__fail(d, EVENTSTREAM_E_FINISHED);
    while (len > 0) {
        if (d->have == 0 && len >= EVENTSTREAM_PRELUDE_LEN) {
            /* Fast path: the prelude is in the input, and often the whole message is too, in
             * which case it is decoded in place without copying. */
            if ((rc = es__prelude(d, p))) return es__fail(d, rc);
            if (len >= d->total) {
                if ((rc = es__deliver(d, p, d->total))) return es__fail(d, rc);
                p += d->total;
                len -= d->total;
                continue;
            }
            rc = es__reserve((void **)&d->msg, &d->msg_cap, d->total, 1);
            if (rc) return es__fail(d, rc);
            memcpy(d->msg, p, len);
            d->have = len;
            return 0;
        }
        if (d->have < EVENTSTREAM_PRELUDE_LEN) {
            size_t take = EVENTSTREAM_PRELUDE_LEN - d->have;
            if (take > len) take = len;
            memcpy(d->prelude + d->have, p, take);
            d->have += take;
            p += take;
            len -= take;
            if (d->have < EVENTSTREAM_PRELUDE_LEN) return 0;
            if ((rc = es__prelude(d, d->prelude))) return es__fail(d, rc);
            rc = es__reserve((void **)&d->msg, &d->msg_cap, d->total, 1);
            if (rc) return es__fail(d, rc);
            memcpy(d->msg, d->prelude, EVENTSTREAM_PRELUDE_LEN);
            continue;
        }
        size_t take = d->total - d->have;
        if (take > len) take = len;
        memcpy(d->msg + d->have, p, take);
        d->have += take;
        p += take;
        len -= take;
        if (d->have < d->total) return 0;
        d->have = 0;
        rc = es__deliver(d, d->msg, d->total);
        if (d->msg_cap > EVENTSTREAM__KEEP_BYTES) {
            free(d->msg);
            d->msg = NULL;
            d->msg_cap = 0;
        }
        if (rc) return es__fail(d, rc);
    }
    return 0;
}

int eventstream_decoder_finish(eventstream_decoder_t *d)
{
    if (d->error) return d->error;
    d->finished = true;
    if (d->have) return es__fail(d, EVENTSTREAM_E_TRUNCATED);
    return 0;
}

const eventstream_header_t *eventstream_message_header(const eventstream_message_t *m,
                                                       const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < m->header_count; i++)
        if (m->headers[i].name_len == nl && memcmp(m->headers[i].name, name, nl) == 0)
            return &m->headers[i];
    return NULL;
}

const char *eventstream_message_string(const eventstream_message_t *m, const char *name)
{
    const eventstream_header_t *h = eventstream_message_header(m, name);
    return (h && h->type == EVENTSTREAM_STRING) ? h->value.bytes.data : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Encoder */

static size_t es__value_size(const eventstream_header_t *h)
{
    switch (h->type) {
    case EVENTSTREAM_BOOL_TRUE:
    case EVENTSTREAM_BOOL_FALSE:
        return 0;
    case EVENTSTREAM_BYTE:
        return 1;
    case EVENTSTREAM_SHORT:
        return 2;
    case EVENTSTREAM_INT:
        return 4;
    case EVENTSTREAM_LONG:
    case EVENTSTREAM_TIMESTAMP:
        return 8;
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        return 2 + h->value.bytes.len;
    case EVENTSTREAM_UUID:
        return 16;
    }
    return 0;
}

static int es__validate_header(const eventstream_header_t *h)
{
    if (!h->name || h->name_len == 0 || h->name_len > 255) return -EINVAL;
    if ((unsigned)h->type > EVENTSTREAM_UUID) return -EINVAL;
    if ((h->type == EVENTSTREAM_BYTES || h->type == EVENTSTREAM_STRING) &&
        (h->value.bytes.len > 65535 || (h->value.bytes.len && !h->value.bytes.data)))
        return -EINVAL;
    return 0;
}

int eventstream_encode(buf_t *out, const eventstream_header_t *headers, size_t header_count,
                       const void *payload, size_t payload_len)
{
    if ((header_count && !headers) || (payload_len && !payload)) return -EINVAL;
    uint64_t hlen = 0;
    for (size_t i = 0; i < header_count; i++) {
        if (es__validate_header(&headers[i])) return -EINVAL;
        hlen += 2 + headers[i].name_len + es__value_size(&headers[i]);
    }
    if (es__check_duplicates(headers, header_count) != 0) return -EINVAL;
    uint64_t total = EVENTSTREAM_OVERHEAD + hlen + (uint64_t)payload_len;
    if (total > UINT32_MAX || total > out->max) return -ENOBUFS;
    uint8_t *m = malloc((size_t)total);
    if (!m) return -ENOMEM;
    es__put32(m, (uint32_t)total);
    es__put32(m + 4, (uint32_t)hlen);
    es__put32(m + 8, crc32_update(0, m, 8));
    size_t o = EVENTSTREAM_PRELUDE_LEN;
    for (size_t i = 0; i < header_count; i++) {
        const eventstream_header_t *h = &headers[i];
        m[o++] = (uint8_t)h->name_len;
        memcpy(m + o, h->name, h->name_len);
        o += h->name_len;
        m[o++] = (uint8_t)h->type;
        switch (h->type) {
        case EVENTSTREAM_BOOL_TRUE:
        case EVENTSTREAM_BOOL_FALSE:
            break;
        case EVENTSTREAM_BYTE:
            m[o++] = (uint8_t)h->value.i8;
            break;
        case EVENTSTREAM_SHORT:
            m[o++] = (uint8_t)((uint16_t)h->value.i16 >> 8);
            m[o++] = (uint8_t)h->value.i16;
            break;
        case EVENTSTREAM_INT:
            es__put32(m + o, (uint32_t)h->value.i32);
            o += 4;
            break;
        case EVENTSTREAM_LONG:
        case EVENTSTREAM_TIMESTAMP:
            es__put64(m + o, (uint64_t)h->value.i64);
            o += 8;
            break;
        case EVENTSTREAM_BYTES:
        case EVENTSTREAM_STRING:
            m[o++] = (uint8_t)(h->value.bytes.len >> 8);
            m[o++] = (uint8_t)h->value.bytes.len;
            if (h->value.bytes.len) memcpy(m + o, h->value.bytes.data, h->value.bytes.len);
            o += h->value.bytes.len;
            break;
        case EVENTSTREAM_UUID:
            memcpy(m + o, h->value.uuid, 16);
            o += 16;
            break;
        }
    }
    if (payload_len) memcpy(m + o, payload, payload_len);
    o += payload_len;
    es__put32(m + o, crc32_update(0, m, o));
    int rc = buf_append(out, m, (size_t)total);
    free(m);
    return rc;
}
