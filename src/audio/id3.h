/* audio/id3: a small ID3v2.3 tag writer for the MP3 files we produce (title, artist, length).
 * The tag is built into a caller-owned buf_t. TLEN is written as a fixed-width run of digits so
 * the encoder can patch the exact length in place once the audio is finished. */
#ifndef NOVA_AUDIO_ID3_H
#define NOVA_AUDIO_ID3_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Width of the zero-padded TLEN value (milliseconds): 10 digits cover 115 days. */
#define AUDIO_ID3_TLEN_DIGITS 10
/* Longer title/artist texts are cut at this many characters (at a character boundary). */
#define AUDIO_ID3_MAX_TEXT_CHARS 512

/* Appends a complete ID3v2.3 tag to out: TIT2 (title) and TPE1 (artist) when non-NULL and
 * non-empty, then TLEN = length_ms. Texts are UTF-8; pure ASCII is stored as ISO-8859-1, anything
 * else as UTF-16 with a BOM (the only Unicode form ID3v2.3 has); invalid UTF-8 bytes become
 * U+FFFD. *tlen_offset receives the position of the TLEN digits relative to the start of the tag.
 * Returns 0, -ENOBUFS (out is full) or -ENOMEM. */
int audio_id3_build(const char *title, const char *artist, uint64_t length_ms, buf_t *out,
                    size_t *tlen_offset);

/* Formats length_ms as AUDIO_ID3_TLEN_DIGITS zero-padded digits (no NUL), saturating. */
void audio_id3_tlen_digits(uint64_t length_ms, char digits[AUDIO_ID3_TLEN_DIGITS]);

#endif
