/* eventstream: the application/vnd.amazon.eventstream binary framing (Bedrock ConverseStream and
 * friends). An incremental decoder that accepts the HTTP body in chunks of any size (down to one
 * byte), validates both CRCs and every length, and hands each complete message to a callback;
 * and an encoder producing the same bytes, for tests, fakes and benchmarks.
 *
 * Frame (big-endian): total_length u32, headers_length u32, prelude_crc u32 (CRC-32 of the first
 * 8 bytes), headers, payload, message_crc u32 (CRC-32 of everything before it). Header: name_len
 * u8 (>= 1), name, type u8, value by type (see eventstream_type_t). A name appears once.
 *
 * The decoder does no I/O and keeps no global state; it is cheap enough to run on the loop
 * thread (one memcpy and one CRC pass per byte). */
#ifndef NOVA_AWS_EVENTSTREAM_H
#define NOVA_AWS_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Default cap on total_length; larger messages fail with EVENTSTREAM_E_TOO_LARGE before any
 * allocation, so a corrupt or hostile length cannot make us allocate gigabytes. */
#define EVENTSTREAM_DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)
#define EVENTSTREAM_PRELUDE_LEN         12u
#define EVENTSTREAM_OVERHEAD            16u /* prelude + message CRC */

/* Header value types, as on the wire. */
typedef enum {
    EVENTSTREAM_BOOL_TRUE = 0, /* no value bytes */
    EVENTSTREAM_BOOL_FALSE = 1,
    EVENTSTREAM_BYTE = 2,      /* int8 */
    EVENTSTREAM_SHORT = 3,     /* int16 */
    EVENTSTREAM_INT = 4,       /* int32 */
    EVENTSTREAM_LONG = 5,      /* int64 */
    EVENTSTREAM_BYTES = 6,     /* u16 length + bytes */
    EVENTSTREAM_STRING = 7,    /* u16 length + UTF-8 */
    EVENTSTREAM_TIMESTAMP = 8, /* int64 milliseconds since the epoch */
    EVENTSTREAM_UUID = 9,      /* 16 bytes */
} eventstream_type_t;

/* One header. In a decoded message, name and value.bytes.data point into memory owned by the
 * decoder, valid only during the callback, and are NUL-terminated for convenience (the lengths
 * are authoritative: a bytes value may contain NULs). For the encoder the caller owns them. */
typedef struct {
    const char *name;
    size_t name_len;
    eventstream_type_t type;
    union {
        bool boolean; /* mirrors type for BOOL_TRUE / BOOL_FALSE when decoding */
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64; /* LONG, and TIMESTAMP in milliseconds */
        struct {
            const char *data;
            size_t len;
        } bytes; /* BYTES and STRING */
        uint8_t uuid[16];
    } value;
} eventstream_header_t;

typedef struct {
    const eventstream_header_t *headers;
    size_t header_count;
    const uint8_t *payload; /* valid only during the callback */
    size_t payload_len;
} eventstream_message_t;

/* Error codes (negative, outside the errno range), sticky once returned by the decoder. */
enum {
    EVENTSTREAM_E_PRELUDE_CRC = -2001, /* prelude checksum mismatch */
    EVENTSTREAM_E_MESSAGE_CRC = -2002, /* message checksum mismatch */
    EVENTSTREAM_E_BAD_LENGTH = -2003,  /* total_length < 16 or headers do not fit */
    EVENTSTREAM_E_TOO_LARGE = -2004,   /* total_length above the configured maximum */
    EVENTSTREAM_E_BAD_HEADER = -2005,  /* header truncated, empty name, unknown type */
    EVENTSTREAM_E_DUP_HEADER = -2006,  /* the same header name twice in one message */
    EVENTSTREAM_E_TRUNCATED = -2007,   /* finish() with a partial message buffered */
    EVENTSTREAM_E_NOMEM = -2008,       /* allocation failed */
    EVENTSTREAM_E_FINISHED = -2009,    /* feed() after finish() */
};

/* Called once per valid message, in stream order. Return 0 to continue; a negative value stops
 * decoding and becomes the decoder's sticky error (so a consumer can abort on a bad event). */
typedef int (*eventstream_message_cb)(void *ud, const eventstream_message_t *msg);

/* The decoder. Fields are private; the struct is public so it can live inside another struct. */
typedef struct {
    eventstream_message_cb cb;
    void *ud;
    size_t max_message;
    int error;
    bool finished;
    uint8_t prelude[EVENTSTREAM_PRELUDE_LEN];
    size_t have;    /* bytes of the current message received so far */
    uint32_t total; /* total_length of the current message once the prelude is valid */
    uint8_t *msg;   /* buffer for a message that arrives in pieces */
    size_t msg_cap;
    eventstream_header_t *hdrs;
    size_t hdrs_cap;
    char *pool; /* NUL-terminated copies of names and string/bytes values */
    size_t pool_cap;
    uint64_t messages; /* messages delivered so far */
} eventstream_decoder_t;

/* max_message: cap on total_length in bytes (0 = EVENTSTREAM_DEFAULT_MAX_MESSAGE; values below
 * 16 are raised to 16). Never fails; allocation happens lazily. */
void eventstream_decoder_init(eventstream_decoder_t *d, size_t max_message,
                              eventstream_message_cb cb, void *ud);
/* Consumes len bytes, delivering every message they complete. Returns 0, or the sticky error
 * (the same code on every later call). */
int eventstream_decoder_feed(eventstream_decoder_t *d, const void *data, size_t len);
/* Declares the end of the body. Returns 0 when the stream ended on a message boundary,
 * EVENTSTREAM_E_TRUNCATED when a partial message is pending, or the earlier sticky error. */
int eventstream_decoder_finish(eventstream_decoder_t *d);
int eventstream_decoder_error(const eventstream_decoder_t *d);
/* Releases the buffers; the decoder may be initialised again afterwards. */
void eventstream_decoder_free(eventstream_decoder_t *d);

/* Short English description of an EVENTSTREAM_E_* code (or "unknown error"). */
const char *eventstream_strerror(int err);

/* Finds a header by exact name, or NULL. */
const eventstream_header_t *eventstream_message_header(const eventstream_message_t *m,
                                                       const char *name);
/* The value of a STRING header (NUL-terminated, in decoder memory), or NULL when the header is
 * absent or of another type. Convenience for :message-type, :event-type, :exception-type. */
const char *eventstream_message_string(const eventstream_message_t *m, const char *name);

/* Appends one encoded message to out (the caller owns out). Header names must be 1..255 bytes,
 * BYTES/STRING values at most 65535 bytes, names unique. Returns 0, -EINVAL, or the buf_append
 * error (-ENOBUFS/-ENOMEM); on error out is unchanged. */
int eventstream_encode(buf_t *out, const eventstream_header_t *headers, size_t header_count,
                       const void *payload, size_t payload_len);

#endif
