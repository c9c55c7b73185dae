/* Splitting text for Polly's 3,000 billed-character limit: greedy spans ending at the last
 * sentence boundary that fits, else the last clause boundary (, ; :), else the last space, and
 * only for a single over-long word at a UTF-8 character boundary. Spans are consecutive and
 * cover the text exactly, so joining the chunks' audio loses nothing and byte offsets map back
 * to the input by adding the span start. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_polly.h"

static bool is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static bool is_cont(unsigned char ch)
{
    return (ch & 0xC0) == 0x80;
}

/* Closing quotes and brackets that may follow a sentence's final punctuation. */
static size_t closer_len(const char *t, size_t i, size_t len)
{
    unsigned char ch = (unsigned char)t[i];
    if (ch == '"' || ch == '\'' || ch == ')' || ch == ']') return 1;
    /* U+2019 ’ and U+201D ” */
    if (i + 2 < len && ch == 0xE2 && (unsigned char)t[i + 1] == 0x80 &&
        ((unsigned char)t[i + 2] == 0x99 || (unsigned char)t[i + 2] == 0x9D))
        return 3;
    return 0;
}

int aws_polly_split(const char *text, size_t len, size_t max_chars, aws_span_t **out, size_t *count)
{
    if (!out || !count || (len && !text)) return -EINVAL;
    if (max_chars < 1) return -EINVAL;
    *out = NULL;
    *count = 0;
    size_t cap = 0, n = 0;
    aws_span_t *spans = NULL;
    size_t pos = 0;
    while (pos < len) {
        /* lim: the byte offset after max_chars characters (or the end). */
        size_t lim = pos, chars = 0;
        while (lim < len && chars < max_chars) {
            lim++;
            while (lim < len && is_cont((unsigned char)text[lim]))
                lim++;
            chars++;
        }
        size_t cut = lim;
        if (lim < len) {
            size_t sentence = 0, clause = 0, space = 0;
            for (size_t i = pos; i < lim; i++) {
                unsigned char ch = (unsigned char)text[i];
                if (!is_space(ch)) continue;
                /* A boundary is after a whitespace run; it must also fit (the run may cross lim).
                 */
                size_t end = i;
                while (end < lim && is_space((unsigned char)text[end]))
                    end++;
                size_t k = i; /* the text before the whitespace run */
                size_t p = k;
                while (p > pos) {
                    size_t q = p - 1;
                    while (q > pos && is_cont((unsigned char)text[q]))
                        q--;
                    size_t cl = closer_len(text, q, len);
                    if (cl && q + cl == p) {
                        p = q;
                        continue;
                    }
                    break;
                }
                char prev = (char)(p > pos ? text[p - 1] : '\0');
                if (prev == '.' || prev == '!' || prev == '?' || text[i] == '\n')
                    sentence = end;
                else if (prev == ',' || prev == ';' || prev == ':')
                    clause = end;
                space = end;
                i = end - 1;
            }
            if (sentence > pos)
                cut = sentence;
            else if (clause > pos)
                cut = clause;
            else if (space > pos)
                cut = space;
            /* else: one word longer than the limit, cut at the character boundary lim. */
        }
        size_t nchars = 0;
        for (size_t i = pos; i < cut; i++)
            if (!is_cont((unsigned char)text[i])) nchars++;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            aws_span_t *ns = realloc(spans, cap * sizeof *ns);
            if (!ns) {
                free(spans);
                return -ENOMEM;
            }
            spans = ns;
        }
        spans[n++] = (aws_span_t){pos, cut, nchars};
        pos = cut;
    }
    *out = spans;
    *count = n;
    return 0;
}
