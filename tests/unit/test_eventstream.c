/* Event-stream decoder/encoder tests: the public vectors of notes §3.1 (aws-c-event-stream,
 * botocore, and six Bedrock ConverseStream frames including a throttlingException), every
 * single-bit corruption of a stream, crafted bad lengths and headers with valid CRCs, chunking
 * down to one byte, truncation, size limits, all header types, and encoder round trips. */
#include "test.h"

#include <errno.h>

#include "aws/crc32.h"
#include "aws/eventstream.h"

/* ---------------------------------------------------------------------------------------------
 * Vectors (hex, notes §3.1) */

static const char *const V_EMPTY = "000000100000000005c248eb7d98c8ff";
static const char *const V_PAYLOAD = "0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936";
static const char *const V_ONE_HEADER =
    "0000003d0000002007fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b2766"
    "6f6f273a27626172277d8d9c08b1";
static const char *const V_ERROR =
    "0000005200000042bf23637e0d3a6d6573736167652d747970650700056572726f720b3a6572726f722d636f646507"
    "0004636f64650e3a6572726f722d6d6573736167650700076d6573736167656b6cea3d";

static const char *const V_BEDROCK[6] = {
    /* messageStart */
    "00000081000000526cc176930b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e7465"
    "6e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065070005657665"
    "6e747b2270223a2261626364222c22726f6c65223a22617373697374616e74227df512a005",
    /* contentBlockDelta */
    "000000a300000057a7aafe780b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a"
    "636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d7479706507"
    "00056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a"
    "224869227d2c2270223a226162636465666768227d0bca37be",
    /* contentBlockStop */
    "0000008600000056d98c6e9a0b3a6576656e742d74797065070010636f6e74656e74426c6f636b53746f700d3a63"
    "6f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700"
    "056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2270223a226162227df3388a20",
    /* messageStop */
    "00000084000000513d28a8590b3a6576656e742d7479706507000b6d65737361676553746f700d3a636f6e74656e"
    "742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e"
    "747b2270223a22616263222c2273746f70526561736f6e223a22656e645f7475726e227d8a7bbdd0",
    /* metadata */
    "000000bf0000004e66d12c3b0b3a6576656e742d747970650700086d657461646174610d3a636f6e74656e742d74"
    "7970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22"
    "6d657472696373223a7b226c6174656e63794d73223a3331327d2c2270223a2261222c227573616765223a7b2269"
    "6e707574546f6b656e73223a392c226f7574707574546f6b656e73223a322c22746f74616c546f6b656e73223a31"
    "317d7d9252475d",
    /* exception throttlingException */
    "000000b2000000613590d5d30f3a657863657074696f6e2d747970650700137468726f74746c696e674578636570"
    "74696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d657373616765"
    "2d74797065070009657863657074696f6e7b226d657373616765223a22546f6f206d616e79207265717565737473"
    "2c20706c656173652077616974206265666f726520747279696e6720616761696e2e227de8ffb26a",
};
static const char *const BEDROCK_TYPES[6] = {"messageStart",     "contentBlockDelta",
                                             "contentBlockStop", "messageStop",
                                             "metadata",         "throttlingException"};

static void unhex(buf_t *out, const char *hex)
{
    size_t n = strlen(hex);
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v;
        sscanf(hex + i, "%2x", &v);
        uint8_t c = (uint8_t)v;
        buf_append(out, &c, 1);
    }
}

/* The six Bedrock frames back to back, as one HTTP body. */
static void bedrock_stream(buf_t *out, size_t *offsets)
{
    for (int i = 0; i < 6; i++) {
        if (offsets) offsets[i] = out->len;
        unhex(out, V_BEDROCK[i]);
    }
    if (offsets) offsets[6] = out->len;
}

/* ---------------------------------------------------------------------------------------------
 * A collector: renders each delivered message into one line of text, so that different ways of
 * feeding the same bytes can be compared exactly. */

typedef struct {
    buf_t text;
    int count;
    int stop_after; /* return an error from the callback after this many messages (0: never) */
    char event_type[6][64];
    char message_type[6][32];
    char payload[6][256];
} collector_t;

static void collector_init(collector_t *c)
{
    memset(c, 0, sizeof *c);
    buf_init(&c->text, 64u << 20);
    buf_append(&c->text, "", 0);
}

static void render_header(buf_t *b, const eventstream_header_t *h)
{
    buf_printf(b, "%.*s/%d=", (int)h->name_len, h->name, (int)h->type);
    switch (h->type) {
    case EVENTSTREAM_BOOL_TRUE:
    case EVENTSTREAM_BOOL_FALSE:
        buf_printf(b, "%d", h->value.boolean);
        break;
    case EVENTSTREAM_BYTE:
        buf_printf(b, "%d", h->value.i8);
        break;
    case EVENTSTREAM_SHORT:
        buf_printf(b, "%d", h->value.i16);
        break;
    case EVENTSTREAM_INT:
        buf_printf(b, "%d", h->value.i32);
        break;
    case EVENTSTREAM_LONG:
    case EVENTSTREAM_TIMESTAMP:
        buf_printf(b, "%lld", (long long)h->value.i64);
        break;
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        for (size_t i = 0; i < h->value.bytes.len; i++)
            buf_printf(b, "%02x", (uint8_t)h->value.bytes.data[i]);
        break;
    case EVENTSTREAM_UUID:
        for (size_t i = 0; i < 16; i++)
            buf_printf(b, "%02x", h->value.uuid[i]);
        break;
    }
    buf_append(b, ";", 1);
}

static int collect(void *ud, const eventstream_message_t *m)
{
    collector_t *c = ud;
    for (size_t i = 0; i < m->header_count; i++)
        render_header(&c->text, &m->headers[i]);
    buf_append(&c->text, "|", 1);
    for (size_t i = 0; i < m->payload_len; i++)
        buf_printf(&c->text, "%02x", m->payload[i]);
    buf_append(&c->text, "\n", 1);
    if (c->count < 6) {
        const char *et = eventstream_message_string(m, ":event-type");
        if (!et) et = eventstream_message_string(m, ":exception-type");
        const char *mt = eventstream_message_string(m, ":message-type");
        snprintf(c->event_type[c->count], 64, "%s", et ? et : "");
        snprintf(c->message_type[c->count], 32, "%s", mt ? mt : "");
        snprintf(c->payload[c->count], 256, "%.*s", (int)m->payload_len, (const char *)m->payload);
    }
    c->count++;
    if (c->stop_after && c->count >= c->stop_after) return -42;
    return 0;
}

/* Feeds data in chunks of the given size (0: one call) and finishes. Returns finish()'s or the
 * first feed error. */
static int decode_chunked(const uint8_t *data, size_t len, size_t chunk, size_t max, collector_t *c)
{
    eventstream_decoder_t d;
    eventstream_decoder_init(&d, max, collect, c);
    int rc = 0;
    if (chunk == 0) chunk = len ? len : 1;
    for (size_t off = 0; off < len && !rc; off += chunk)
        rc = eventstream_decoder_feed(&d, data + off, len - off < chunk ? len - off : chunk);
    if (!rc) rc = eventstream_decoder_finish(&d);
    ASSERT_EQ(eventstream_decoder_error(&d), rc);
    eventstream_decoder_free(&d);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Tests */

TEST(crc32_check_value)
{
    ASSERT_EQ(crc32_update(0, "123456789", 9), 0xcbf43926u);
    ASSERT_EQ(crc32_update(crc32_update(0, "1234", 4), "56789", 5), 0xcbf43926u);
    ASSERT_EQ(crc32_update(0, "", 0), 0);
    buf_t b;
    buf_init(&b, 64);
    unhex(&b, V_EMPTY);
    ASSERT_EQ(crc32_update(0, b.data, 8), 0x05c248ebu); /* prelude CRC from the notes */
    ASSERT_EQ(crc32_update(0, b.data, 12), 0x7d98c8ffu);
    buf_free(&b);
}

TEST(public_vectors)
{
    buf_t b;
    buf_init(&b, 4096);
    collector_t c;

    unhex(&b, V_EMPTY);
    collector_init(&c);
    ASSERT_EQ(decode_chunked((uint8_t *)b.data, b.len, 0, 0, &c), 0);
    ASSERT_EQ(c.count, 1);
    ASSERT_STREQ(c.text.data, "|\n");
    buf_free(&c.text);

    buf_reset(&b);
    unhex(&b, V_PAYLOAD);
    collector_init(&c);
    ASSERT_EQ(decode_chunked((uint8_t *)b.data, b.len, 0, 0, &c), 0);
    ASSERT_EQ(c.count, 1);
    ASSERT_STREQ(c.payload[0], "{'foo':'bar'}");
    buf_free(&c.text);

    buf_reset(&b);
    unhex(&b, V_ONE_HEADER);
    collector_init(&c);
    ASSERT_EQ(decode_chunked((uint8_t *)b.data, b.len, 0, 0, &c), 0);
    ASSERT_EQ(c.count, 1);
    ASSERT_STREQ(c.text.data, "content-type/7=6170706c69636174696f6e2f6a736f6e;|"
                              "7b27666f6f273a27626172277d\n");
    buf_free(&c.text);

    /* Unmodeled error: three string headers, no payload. */
    buf_reset(&b);
    unhex(&b, V_ERROR);
    eventstream_decoder_t d;
    collector_init(&c);
    eventstream_decoder_init(&d, 0, collect, &c);
    ASSERT_EQ(eventstream_decoder_feed(&d, b.data, b.len), 0);
    ASSERT_EQ(eventstream_decoder_finish(&d), 0);
    ASSERT_EQ(c.count, 1);
    ASSERT_STREQ(c.message_type[0], "error");
    ASSERT_STREQ(c.payload[0], "");
    ASSERT(strstr(c.text.data, ":error-code/7=636f6465;")); /* "code" */
    ASSERT(strstr(c.text.data, ":error-message/7=6d657373616765;"));
    eventstream_decoder_free(&d);
    buf_free(&c.text);
    buf_free(&b);
}

TEST(bedrock_frames)
{
    buf_t s;
    buf_init(&s, 1 << 20);
    bedrock_stream(&s, NULL);
    collector_t c;
    collector_init(&c);
    ASSERT_EQ(decode_chunked((uint8_t *)s.data, s.len, 0, 0, &c), 0);
    ASSERT_EQ(c.count, 6);
    for (int i = 0; i < 6; i++) {
        ASSERT_STREQ(c.event_type[i], BEDROCK_TYPES[i]);
        ASSERT_STREQ(c.message_type[i], i == 5 ? "exception" : "event");
    }
    ASSERT_STREQ(c.payload[1],
                 "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"},\"p\":\"abcdefgh\"}");
    ASSERT_STREQ(c.payload[5],
                 "{\"message\":\"Too many requests, please wait before trying again.\"}");
    ASSERT(strstr(c.text.data, ":content-type/7=6170706c69636174696f6e2f6a736f6e;"));
    buf_free(&c.text);
    buf_free(&s);
}

/* Any chunking, down to one byte, yields exactly the messages of a one-shot decode. */
TEST(chunking_is_transparent)
{
    buf_t s;
    buf_init(&s, 1 << 20);
    bedrock_stream(&s, NULL);
    unhex(&s, V_EMPTY);
    unhex(&s, V_ERROR);
    collector_t whole;
    collector_init(&whole);
    ASSERT_EQ(decode_chunked((uint8_t *)s.data, s.len, 0, 0, &whole), 0);
    ASSERT_EQ(whole.count, 8);
    size_t chunks[] = {1, 2, 3, 5, 7, 11, 12, 13, 16, 64, 129, 130, 1000};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        collector_t c;
        collector_init(&c);
        ASSERT_EQ(decode_chunked((uint8_t *)s.data, s.len, chunks[i], 0, &c), 0);
        ASSERT_EQ(c.count, 8);
        ASSERT_STREQ(c.text.data, whole.text.data);
        buf_free(&c.text);
    }
    /* Random split points. */
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        eventstream_decoder_t d;
        collector_t c;
        collector_init(&c);
        eventstream_decoder_init(&d, 0, collect, &c);
        for (size_t off = 0; off < s.len;) {
            seed = seed * 1103515245u + 12345u;
            size_t n = 1 + (seed >> 16) % 200;
            if (n > s.len - off) n = s.len - off;
            ASSERT_EQ(eventstream_decoder_feed(&d, s.data + off, n), 0);
            off += n;
        }
        ASSERT_EQ(eventstream_decoder_finish(&d), 0);
        ASSERT_STREQ(c.text.data, whole.text.data);
        eventstream_decoder_free(&d);
        buf_free(&c.text);
    }
    buf_free(&whole.text);
    buf_free(&s);
}

/* Flipping any single bit anywhere in the stream (prelude lengths, prelude CRC, headers,
 * payload, message CRC) is detected, with the right error kind, and the messages before the
 * damaged one are still delivered - whether fed at once or byte by byte. */
TEST(every_bit_flip_is_detected)
{
    buf_t s;
    buf_init(&s, 1 << 20);
    size_t off[7];
    bedrock_stream(&s, off);
    size_t checked = 0;
    for (size_t pos = 0; pos < s.len; pos++) {
        int frame = 0;
        while (pos >= off[frame + 1])
            frame++;
        size_t rel = pos - off[frame];
        size_t flen = off[frame + 1] - off[frame];
        int want =
            rel < EVENTSTREAM_PRELUDE_LEN ? EVENTSTREAM_E_PRELUDE_CRC : EVENTSTREAM_E_MESSAGE_CRC;
        for (int bit = 0; bit < 8; bit++) {
            s.data[pos] ^= (char)(1 << bit);
            for (int bytewise = 0; bytewise < 2; bytewise++) {
                if (bytewise && bit != 0 && bit != 7) continue; /* keep the run short */
                collector_t c;
                collector_init(&c);
                int rc = decode_chunked((uint8_t *)s.data, s.len, bytewise ? 1 : 0, 0, &c);
                if (rc != want || c.count != frame)
                    TEST__FAIL("byte %zu (frame %d offset %zu/%zu) bit %d: rc %d want %d, %d "
                               "messages want %d",
                               pos, frame, rel, flen, bit, rc, want, c.count, frame);
                buf_free(&c.text);
                checked++;
            }
            s.data[pos] ^= (char)(1 << bit);
        }
    }
    printf("  %zu corrupted streams rejected\n", checked);
    buf_free(&s);
}

/* Builds a frame around arbitrary header bytes with correct CRCs (lengths from the arguments, so
 * they can lie). */
static void raw_frame(buf_t *out, uint32_t total, uint32_t hlen, const void *headers, size_t hn,
                      const void *payload, size_t pn)
{
    uint8_t p[12];
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(total >> (24 - 8 * i));
        p[4 + i] = (uint8_t)(hlen >> (24 - 8 * i));
    }
    uint32_t crc = crc32_update(0, p, 8);
    for (int i = 0; i < 4; i++)
        p[8 + i] = (uint8_t)(crc >> (24 - 8 * i));
    size_t start = out->len;
    buf_append(out, p, 12);
    buf_append(out, headers, hn);
    buf_append(out, payload, pn);
    crc = crc32_update(0, out->data + start, out->len - start);
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(crc >> (24 - 8 * i));
    buf_append(out, p, 4);
}

static int decode_raw(const buf_t *b, size_t max, int *count)
{
    collector_t c;
    collector_init(&c);
    int rc = decode_chunked((const uint8_t *)b->data, b->len, 0, max, &c);
    int rc1 = 0;
    collector_t c1;
    collector_init(&c1);
    rc1 = decode_chunked((const uint8_t *)b->data, b->len, 1, max, &c1);
    ASSERT_EQ(rc1, rc); /* byte-by-byte reaches the same verdict */
    ASSERT_EQ(c1.count, c.count);
    if (count) *count = c.count;
    buf_free(&c.text);
    buf_free(&c1.text);
    return rc;
}

TEST(bad_lengths_with_valid_crcs)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    int n;
    /* total_length below the 16-byte minimum. */
    raw_frame(&b, 15, 0, "", 0, "", 0);
    ASSERT_EQ(decode_raw(&b, 0, &n), EVENTSTREAM_E_BAD_LENGTH);
    /* headers_length larger than the message has room for. */
    buf_reset(&b);
    raw_frame(&b, 20, 5, "", 0, "abcd", 4);
    ASSERT_EQ(decode_raw(&b, 0, &n), EVENTSTREAM_E_BAD_LENGTH);
    buf_reset(&b);
    raw_frame(&b, 20, 0xffffffffu, "", 0, "abcd", 4);
    ASSERT_EQ(decode_raw(&b, 0, &n), EVENTSTREAM_E_BAD_LENGTH);
    /* Above the configured limit: rejected from the prelude alone. */
    buf_reset(&b);
    raw_frame(&b, 16 + 1000, 0, "", 0, "", 0);
    b.len = 12;
    ASSERT_EQ(decode_raw(&b, 1015, &n), EVENTSTREAM_E_TOO_LARGE);
    /* ... and the default limit (16 MiB) without allocating anything of that size. */
    buf_reset(&b);
    raw_frame(&b, EVENTSTREAM_DEFAULT_MAX_MESSAGE + 1, 0, "", 0, "", 0);
    b.len = 12;
    ASSERT_EQ(decode_raw(&b, 0, &n), EVENTSTREAM_E_TOO_LARGE);
    buf_reset(&b);
    raw_frame(&b, 0xffffffffu, 0, "", 0, "", 0);
    b.len = 12;
    ASSERT_EQ(decode_raw(&b, 0, &n), EVENTSTREAM_E_TOO_LARGE);
    /* Exactly at the limit is fine. */
    buf_reset(&b);
    char payload[1000] = {0};
    raw_frame(&b, 16 + 1000, 0, "", 0, payload, 1000);
    ASSERT_EQ(decode_raw(&b, 1016, &n), 0);
    ASSERT_EQ(n, 1);
    buf_free(&b);
}

TEST(bad_headers_with_valid_crcs)
{
    static const struct {
        const char *hex;
        int want;
    } cases[] = {
        {"00", EVENTSTREAM_E_BAD_HEADER},                       /* empty name */
        {"01", EVENTSTREAM_E_BAD_HEADER},                       /* name cut off */
        {"0161", EVENTSTREAM_E_BAD_HEADER},                     /* type missing */
        {"01610a", EVENTSTREAM_E_BAD_HEADER},                   /* unknown type 10 */
        {"0161ff", EVENTSTREAM_E_BAD_HEADER},                   /* unknown type 255 */
        {"016102", EVENTSTREAM_E_BAD_HEADER},                   /* byte value missing */
        {"01610300", EVENTSTREAM_E_BAD_HEADER},                 /* short cut off */
        {"016104000000", EVENTSTREAM_E_BAD_HEADER},             /* int cut off */
        {"01610500000000000000", EVENTSTREAM_E_BAD_HEADER},     /* long cut off */
        {"01610800", EVENTSTREAM_E_BAD_HEADER},                 /* timestamp cut off */
        {"016107", EVENTSTREAM_E_BAD_HEADER},                   /* string length missing */
        {"0161070005616263", EVENTSTREAM_E_BAD_HEADER},         /* string longer than headers */
        {"016106ffff", EVENTSTREAM_E_BAD_HEADER},               /* bytes longer than headers */
        {"016109000102", EVENTSTREAM_E_BAD_HEADER},             /* uuid cut off */
        {"0161000162", EVENTSTREAM_E_BAD_HEADER},               /* second header cut off */
        {"016100016100", EVENTSTREAM_E_DUP_HEADER},             /* "a" twice (bools) */
        {"016107000178016107000179", EVENTSTREAM_E_DUP_HEADER}, /* "a" twice (strings) */
        {"0161000162010163070000", 0},                          /* valid: a=true b=false c="" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t h, b;
        buf_init(&h, 4096);
        buf_init(&b, 4096);
        unhex(&h, cases[i].hex);
        raw_frame(&b, (uint32_t)(16 + h.len + 2), (uint32_t)h.len, h.data, h.len, "{}", 2);
        int n = -1, rc = decode_raw(&b, 0, &n);
        if (rc != cases[i].want)
            TEST__FAIL("case %zu (%s): rc %d want %d", i, cases[i].hex, rc, cases[i].want);
        ASSERT_EQ(n, cases[i].want ? 0 : 1);
        buf_free(&h);
        buf_free(&b);
    }
    /* Many headers (the sorted duplicate check): 300 distinct names pass, one repeat fails. */
    buf_t h, b;
    buf_init(&h, 1 << 16);
    buf_init(&b, 1 << 16);
    for (int i = 0; i < 300; i++) {
        char name[8];
        int nl = snprintf(name, sizeof name, "h%03d", i);
        uint8_t l = (uint8_t)nl, t = EVENTSTREAM_BOOL_TRUE;
        buf_append(&h, &l, 1);
        buf_append(&h, name, (size_t)nl);
        buf_append(&h, &t, 1);
    }
    raw_frame(&b, (uint32_t)(16 + h.len), (uint32_t)h.len, h.data, h.len, "", 0);
    int n;
    ASSERT_EQ(decode_raw(&b, 0, &n), 0);
    buf_append(&h, "\x04h150\x01", 6);
    buf_reset(&b);
    raw_frame(&b, (uint32_t)(16 + h.len), (uint32_t)h.len, h.data, h.len, "", 0);
    ASSERT_EQ(decode_raw(&b, 0, &n), EVENTSTREAM_E_DUP_HEADER);
    buf_free(&h);
    buf_free(&b);
}

TEST(truncation_and_finish)
{
    buf_t s;
    buf_init(&s, 1 << 20);
    size_t off[7];
    bedrock_stream(&s, off);
    /* Cut at every position: complete frames are delivered, finish() reports the partial one. */
    for (size_t cut = 0; cut <= s.len; cut++) {
        int complete = 0;
        while (complete < 6 && off[complete + 1] <= cut)
            complete++;
        bool boundary = cut == off[complete];
        for (size_t chunk = 0; chunk <= 1; chunk++) {
            collector_t c;
            collector_init(&c);
            int rc = decode_chunked((uint8_t *)s.data, cut, chunk, 0, &c);
            ASSERT_EQ(rc, boundary ? 0 : EVENTSTREAM_E_TRUNCATED);
            ASSERT_EQ(c.count, complete);
            buf_free(&c.text);
        }
    }
    /* Errors are sticky; data after finish() is refused. */
    eventstream_decoder_t d;
    collector_t c;
    collector_init(&c);
    eventstream_decoder_init(&d, 0, collect, &c);
    ASSERT_EQ(eventstream_decoder_feed(&d, s.data, 5), 0);
    ASSERT_EQ(eventstream_decoder_finish(&d), EVENTSTREAM_E_TRUNCATED);
    ASSERT_EQ(eventstream_decoder_feed(&d, s.data + 5, s.len - 5), EVENTSTREAM_E_TRUNCATED);
    ASSERT_EQ(c.count, 0);
    eventstream_decoder_free(&d);
    eventstream_decoder_init(&d, 0, collect, &c);
    ASSERT_EQ(eventstream_decoder_finish(&d), 0);
    ASSERT_EQ(eventstream_decoder_feed(&d, s.data, s.len), EVENTSTREAM_E_FINISHED);
    ASSERT_EQ(eventstream_decoder_error(&d), EVENTSTREAM_E_FINISHED);
    ASSERT_EQ(c.count, 0);
    eventstream_decoder_free(&d);
    ASSERT(strstr(eventstream_strerror(EVENTSTREAM_E_TRUNCATED), "ended inside"));
    buf_free(&c.text);
    buf_free(&s);
}

TEST(callback_can_abort)
{
    buf_t s;
    buf_init(&s, 1 << 20);
    bedrock_stream(&s, NULL);
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        collector_t c;
        collector_init(&c);
        c.stop_after = 2;
        ASSERT_EQ(decode_chunked((uint8_t *)s.data, s.len, chunk, 0, &c), -42);
        ASSERT_EQ(c.count, 2); /* nothing delivered after the callback said stop */
        buf_free(&c.text);
    }
    buf_free(&s);
}

/* The encoder reproduces the public vectors byte for byte from their decoded contents. */
TEST(encoder_matches_vectors)
{
    buf_t want, got;
    buf_init(&want, 4096);
    buf_init(&got, 4096);
    unhex(&want, V_EMPTY);
    ASSERT_EQ(eventstream_encode(&got, NULL, 0, NULL, 0), 0);
    ASSERT_EQ(got.len, want.len);
    ASSERT_MEMEQ(got.data, want.data, want.len);

    buf_reset(&want);
    buf_reset(&got);
    unhex(&want, V_ONE_HEADER);
    eventstream_header_t ct = {.name = "content-type", .name_len = 12, .type = EVENTSTREAM_STRING};
    ct.value.bytes.data = "application/json";
    ct.value.bytes.len = 16;
    ASSERT_EQ(eventstream_encode(&got, &ct, 1, "{'foo':'bar'}", 13), 0);
    ASSERT_EQ(got.len, want.len);
    ASSERT_MEMEQ(got.data, want.data, want.len);

    /* Bedrock exception frame: headers in the frame's order. */
    buf_reset(&want);
    buf_reset(&got);
    unhex(&want, V_BEDROCK[5]);
    eventstream_header_t h[3] = {
        {.name = ":exception-type", .name_len = 15, .type = EVENTSTREAM_STRING},
        {.name = ":content-type", .name_len = 13, .type = EVENTSTREAM_STRING},
        {.name = ":message-type", .name_len = 13, .type = EVENTSTREAM_STRING},
    };
    h[0].value.bytes.data = "throttlingException";
    h[0].value.bytes.len = 19;
    h[1].value.bytes.data = "application/json";
    h[1].value.bytes.len = 16;
    h[2].value.bytes.data = "exception";
    h[2].value.bytes.len = 9;
    const char *p = "{\"message\":\"Too many requests, please wait before trying again.\"}";
    ASSERT_EQ(eventstream_encode(&got, h, 3, p, strlen(p)), 0);
    ASSERT_EQ(got.len, want.len);
    ASSERT_MEMEQ(got.data, want.data, want.len);

    /* Invalid input leaves the output untouched. */
    size_t before = got.len;
    eventstream_header_t bad = {.name = "", .name_len = 0, .type = EVENTSTREAM_BOOL_TRUE};
    ASSERT_EQ(eventstream_encode(&got, &bad, 1, NULL, 0), -EINVAL);
    eventstream_header_t dup[2] = {h[0], h[0]};
    ASSERT_EQ(eventstream_encode(&got, dup, 2, NULL, 0), -EINVAL);
    eventstream_header_t badtype = h[0];
    badtype.type = (eventstream_type_t)10;
    ASSERT_EQ(eventstream_encode(&got, &badtype, 1, NULL, 0), -EINVAL);
    buf_t small;
    buf_init(&small, 20);
    ASSERT_EQ(eventstream_encode(&small, h, 3, p, strlen(p)), -ENOBUFS);
    ASSERT_EQ(got.len, before);
    buf_free(&small);
    buf_free(&want);
    buf_free(&got);
}

typedef struct {
    int count;
    eventstream_header_t h[10];
    char names[10][16];
    uint8_t bytes[8];
    size_t payload_len;
    uint8_t payload[300000];
} capture_t;

static int capture(void *ud, const eventstream_message_t *m)
{
    capture_t *c = ud;
    c->count++;
    ASSERT(m->header_count == 10);
    for (size_t i = 0; i < 10; i++) {
        c->h[i] = m->headers[i];
        ASSERT(m->headers[i].name[m->headers[i].name_len] == '\0'); /* NUL-terminated */
        snprintf(c->names[i], 16, "%s", m->headers[i].name);
    }
    memcpy(c->bytes, m->headers[6].value.bytes.data, 4);
    ASSERT(m->payload_len <= sizeof c->payload);
    memcpy(c->payload, m->payload, m->payload_len);
    c->payload_len = m->payload_len;
    return 0;
}

/* Every header type survives encode -> decode, including extreme values, through a message
 * large enough to be buffered across many chunks. */
TEST(all_header_types_round_trip)
{
    eventstream_header_t h[10];
    memset(h, 0, sizeof h);
    const char *names[10] = {"t",    "f",     "byte", "short", "int",
                             "long", "bytes", "str",  "ts",    "uuid"};
    for (int i = 0; i < 10; i++) {
        h[i].name = names[i];
        h[i].name_len = strlen(names[i]);
        h[i].type = (eventstream_type_t)i;
    }
    h[2].value.i8 = -128;
    h[3].value.i16 = -32768;
    h[4].value.i32 = -2147483647 - 1;
    h[5].value.i64 = INT64_MIN;
    h[6].value.bytes.data = "a\0b\xff";
    h[6].value.bytes.len = 4;
    h[7].value.bytes.data = "caf\xc3\xa9";
    h[7].value.bytes.len = 5;
    h[8].value.i64 = 1736937000123;
    for (int i = 0; i < 16; i++)
        h[9].value.uuid[i] = (uint8_t)(0xf0 + i);

    static uint8_t payload[300000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    buf_t b;
    buf_init(&b, 1 << 20);
    ASSERT_EQ(eventstream_encode(&b, h, 10, payload, sizeof payload), 0);
    ASSERT_EQ(eventstream_encode(&b, h, 10, payload, 10), 0);

    static capture_t c;
    for (size_t chunk = 0; chunk < 3; chunk++) {
        memset(&c, 0, sizeof c);
        eventstream_decoder_t d;
        eventstream_decoder_init(&d, 0, capture, &c);
        size_t step = chunk == 0 ? b.len : chunk == 1 ? 4096 : 1;
        for (size_t off = 0; off < b.len; off += step)
            ASSERT_EQ(
                eventstream_decoder_feed(&d, b.data + off, b.len - off < step ? b.len - off : step),
                0);
        ASSERT_EQ(eventstream_decoder_finish(&d), 0);
        eventstream_decoder_free(&d);
        ASSERT_EQ(c.count, 2);
        for (int i = 0; i < 10; i++) {
            ASSERT_STREQ(c.names[i], names[i]);
            ASSERT_EQ(c.h[i].type, i);
        }
        ASSERT_EQ(c.h[0].value.boolean, 1);
        ASSERT_EQ(c.h[1].value.boolean, 0);
        ASSERT_EQ(c.h[2].value.i8, -128);
        ASSERT_EQ(c.h[3].value.i16, -32768);
        ASSERT_EQ(c.h[4].value.i32, -2147483647 - 1);
        ASSERT(c.h[5].value.i64 == INT64_MIN);
        ASSERT_EQ(c.h[6].value.bytes.len, 4);
        ASSERT_MEMEQ(c.bytes, "a\0b\xff", 4);
        ASSERT_EQ(c.h[8].value.i64, 1736937000123);
        ASSERT_EQ(c.h[9].value.uuid[0], 0xf0);
        ASSERT_EQ(c.h[9].value.uuid[15], 0xff);
        ASSERT_EQ(c.payload_len, 10); /* the second (last) message */
        ASSERT_MEMEQ(c.payload, payload, 10);
    }
    /* The big message alone with a limit just below its size is refused. */
    uint32_t total = (uint32_t)((uint8_t)b.data[0] << 24 | (uint8_t)b.data[1] << 16 |
                                (uint8_t)b.data[2] << 8 | (uint8_t)b.data[3]);
    eventstream_decoder_t d;
    eventstream_decoder_init(&d, total - 1, NULL, NULL);
    ASSERT_EQ(eventstream_decoder_feed(&d, b.data, b.len), EVENTSTREAM_E_TOO_LARGE);
    eventstream_decoder_free(&d);
    eventstream_decoder_init(&d, total, NULL, NULL);
    ASSERT_EQ(eventstream_decoder_feed(&d, b.data, b.len), 0);
    ASSERT_EQ(eventstream_decoder_finish(&d), 0);
    ASSERT_EQ(d.messages, 2);
    eventstream_decoder_free(&d);
    buf_free(&b);
}

TEST_MAIN({"crc32_check_value", crc32_check_value}, {"public_vectors", public_vectors},
          {"bedrock_frames", bedrock_frames}, {"chunking_is_transparent", chunking_is_transparent},
          {"every_bit_flip_is_detected", every_bit_flip_is_detected},
          {"bad_lengths_with_valid_crcs", bad_lengths_with_valid_crcs},
          {"bad_headers_with_valid_crcs", bad_headers_with_valid_crcs},
          {"truncation_and_finish", truncation_and_finish},
          {"callback_can_abort", callback_can_abort},
          {"encoder_matches_vectors", encoder_matches_vectors},
          {"all_header_types_round_trip", all_header_types_round_trip})
