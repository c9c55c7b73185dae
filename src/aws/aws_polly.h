/* aws_polly: Amazon Polly on an aws_client_t. A speech job turns any length of plain text into
 * one PCM stream (16-bit mono little-endian, 16 kHz by default) plus word and sentence speech
 * marks that line up with the joined audio: the text is split at sentence boundaries into chunks
 * of at most cfg.polly_chunk_chars billed characters (never inside a word), each chunk is
 * synthesized (audio, and marks in a second call with OutputFormat json) with bounded
 * concurrency, and the results are joined in text order with mark times shifted by the duration
 * of the preceding audio and start/end shifted by the chunk's byte offset in the full text.
 * DescribeVoices is cached for cfg.voices_ttl_s and decides the engine per voice. */
#ifndef NOVA_AWS_AWS_POLLY_H
#define NOVA_AWS_AWS_POLLY_H

#include "aws/aws.h"

/* ---- text splitting (pure) ---- */

typedef struct {
    size_t start, end; /* byte offsets into the text; consecutive spans cover it exactly */
    size_t chars;      /* code points (what Polly bills for plain text) */
} aws_span_t;

/* Splits text[0..len) into consecutive spans of at most max_chars code points each: whole
 * sentences where they fit, otherwise a long sentence is cut after a comma/semicolon/colon, else
 * at a space; a single word longer than max_chars is cut at a UTF-8 character boundary (the only
 * case where a word is split). Whitespace stays attached to the preceding span. *out is malloc'd
 * (caller frees). Returns 0, -EINVAL (max_chars < 1) or -ENOMEM; 0 spans for empty text. */
int aws_polly_split(const char *text, size_t len, size_t max_chars, aws_span_t **out,
                    size_t *count);

/* ---- voices ---- */

enum {
    AWS_ENGINE_STANDARD = 1,
    AWS_ENGINE_NEURAL = 2,
    AWS_ENGINE_LONG_FORM = 4,
    AWS_ENGINE_GENERATIVE = 8,
};

typedef struct {
    char id[32], name[48], gender[12], language_code[16], language_name[48];
    unsigned engines; /* AWS_ENGINE_* bits */
} aws_voice_t;

/* voices valid during the callback only. err NULL on success. */
typedef void (*aws_voices_cb)(void *arg, const aws_error_t *err, const aws_voice_t *voices,
                              size_t count);
/* language NULL or "" = every language. Answers from the cache when fresh (still async);
 * otherwise every page of the answer is fetched (NextToken), and callers asking for a language
 * whose lookup is already running wait for that lookup instead of starting another. */
int aws_polly_describe_voices(aws_client_t *c, const char *language, aws_voices_cb cb, void *arg);

/* ---- speech ---- */

typedef enum { AWS_MARK_SENTENCE = 1, AWS_MARK_WORD = 2 } aws_mark_type_t;

typedef struct {
    aws_mark_type_t type;
    uint32_t time_ms;  /* from the start of the joined audio */
    size_t start, end; /* UTF-8 byte offsets into the full input text */
    char *value;       /* owned by the result */
} aws_speech_mark_t;

typedef struct {
    const char *text;          /* plain text (TextType text), required */
    const char *voice_id;      /* required, e.g. "Joanna" */
    const char *engine;        /* NULL = cfg.polly_engine, else per voice */
    const char *language_code; /* NULL = omitted (only bilingual voices need it) */
    bool marks;                /* also fetch word + sentence marks */
    int sample_rate;           /* 8000 or 16000; 0 = 16000 */
    long timeout_ms;           /* per call; 0 = cfg.speech_timeout_ms */
} aws_speech_req_t;

typedef struct {
    uint8_t *pcm; /* joined audio; the callback may take it (free, set NULL) */
    size_t pcm_len;
    int sample_rate;
    aws_speech_mark_t *marks; /* in time order; freed by the library after the callback */
    size_t mark_count;
    char engine[16];
    size_t chunks;           /* text spans synthesized */
    size_t calls;            /* SynthesizeSpeech calls that succeeded */
    size_t billed_chars;     /* sum of x-amzn-RequestCharacters */
    const aws_span_t *spans; /* the spans, for callers that report progress */
} aws_speech_res_t;

typedef void (*aws_speech_cb)(void *arg, const aws_error_t *err, aws_speech_res_t *res);
typedef struct aws_speech aws_speech_t;

/* Returns 0, -EINVAL (empty text, no voice, bad sample rate) or -ENOMEM. */
int aws_polly_speak(aws_client_t *c, const aws_speech_req_t *req, aws_speech_cb cb, void *arg,
                    aws_speech_t **out);
int aws_speech_cancel(aws_speech_t *s);

#endif
