/* Fuzz target for the event-stream decoder. Input: byte 0 selects a split point, the rest is the
 * stream. The stream is decoded three ways - in two pieces split where byte 0 says, in one call,
 * and (for short inputs) one byte at a time - and all three must agree on the verdict and on the
 * messages. Every delivered message is re-encoded, and the encoding must equal the bytes it was
 * decoded from (the format has exactly one encoding per message). A disagreement traps; ASan
 * and LeakSanitizer catch memory errors and leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/crc32.h"
#include "aws/eventstream.h"

/* Small enough that hostile lengths cannot exhaust memory, large enough for real events. */
#define FUZZ_MAX_MESSAGE    (1u << 20)
#define FUZZ_BYTEWISE_LIMIT 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint32_t digest; /* running CRC over everything delivered */
    size_t count;
    const uint8_t *stream; /* for the one-shot pass: where the next message must come from */
    size_t stream_len, cursor;
} fuzz_state_t;

static void fuzz_digest(fuzz_state_t *st, const void *p, size_t n)
{
    st->digest = crc32_update(st->digest, p, n);
}

static int fuzz_on_message(void *ud, const eventstream_message_t *m)
{
    fuzz_state_t *st = ud;
    st->count++;
    for (size_t i = 0; i < m->header_count; i++) {
        const eventstream_header_t *h = &m->headers[i];
        uint8_t t = (uint8_t)h->type;
        fuzz_digest(st, h->name, h->name_len);
        fuzz_digest(st, &t, 1);
        if (h->type == EVENTSTREAM_BYTES || h->type == EVENTSTREAM_STRING)
            fuzz_digest(st, h->value.bytes.data, h->value.bytes.len);
        else if (h->type == EVENTSTREAM_UUID)
            fuzz_digest(st, h->value.uuid, 16);
        else if (h->type > EVENTSTREAM_BOOL_FALSE) {
            int64_t v = h->type == EVENTSTREAM_BYTE    ? h->value.i8
                        : h->type == EVENTSTREAM_SHORT ? h->value.i16
                        : h->type == EVENTSTREAM_INT   ? h->value.i32
                                                       : h->value.i64;
            fuzz_digest(st, &v, sizeof v);
        }
    }
    fuzz_digest(st, m->payload, m->payload_len);

    if (st->stream) {
        buf_t b;
        buf_init(&b, 2u * FUZZ_MAX_MESSAGE);
        if (eventstream_encode(&b, m->headers, m->header_count, m->payload, m->payload_len) != 0)
            __builtin_trap();
        if (b.len > st->stream_len - st->cursor ||
            memcmp(b.data, st->stream + st->cursor, b.len) != 0)
            __builtin_trap();
        st->cursor += b.len;
        buf_free(&b);
    }
    /* Exercise the lookup helpers on decoder-owned memory. */
    (void)eventstream_message_string(m, ":message-type");
    (void)eventstream_message_header(m, ":event-type");
    return 0;
}

static int fuzz_decode(const uint8_t *s, size_t n, size_t split, int bytewise, fuzz_state_t *st)
{
    eventstream_decoder_t d;
    eventstream_decoder_init(&d, FUZZ_MAX_MESSAGE, fuzz_on_message, st);
    int rc = 0;
    if (bytewise) {
        for (size_t i = 0; i < n && !rc; i++)
            rc = eventstream_decoder_feed(&d, s + i, 1);
    } else {
        rc = eventstream_decoder_feed(&d, s, split);
        if (!rc) rc = eventstream_decoder_feed(&d, s + split, n - split);
    }
    if (!rc) rc = eventstream_decoder_finish(&d);
    if (eventstream_decoder_error(&d) != rc) __builtin_trap();
    /* Sticky: a failed decoder keeps failing the same way. */
    if (rc && eventstream_decoder_feed(&d, s, n ? 1 : 0) != rc) __builtin_trap();
    eventstream_decoder_free(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const uint8_t *s = data + 1;
    size_t n = size - 1;
    size_t split = (size_t)((uint64_t)data[0] * n / 255u);

    fuzz_state_t a = {0}, b = {0}, c = {0};
    int ra = fuzz_decode(s, n, split, 0, &a);
    b.stream = s;
    b.stream_len = n;
    int rb = fuzz_decode(s, n, n, 0, &b);
    if (ra != rb || a.count != b.count || a.digest != b.digest) __builtin_trap();
    if (n <= FUZZ_BYTEWISE_LIMIT) {
        int rc = fuzz_decode(s, n, 0, 1, &c);
        if (rc != ra || c.count != a.count || c.digest != a.digest) __builtin_trap();
    }
    return 0;
}
