/* Fuzz target for the safety screen. The first byte picks the mode: 'L' parses the rest as a
 * list file (of a category picked by the second byte) and screens a fixed sentence with it;
 * anything else screens the whole input with the real lists. Checks what the pipeline relies
 * on: spans lie inside the text, in order and apart; a rewrite exists exactly when asked for,
 * stays valid UTF-8 when the input was, and passes the screen itself; whatever screen_prompt
 * and screen_output hand back for showing passes the screen. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "safety/safety.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static safety_t *fuzz_screen(void)
{
    static safety_t *s;
    if (s) return s;
    /* __FILE__ is <source>/tests/fuzz/fuzz_safety.c in CMake builds. */
    char dir[4096], err[256];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *p = strstr(dir, "/tests/fuzz/");
    if (p) {
        snprintf(p, sizeof dir - (size_t)(p - dir), "/src/safety/data");
        s = safety_load(dir, err, sizeof err);
    }
    if (!s) s = safety_load(NULL, err, sizeof err);
    if (!s) abort();
    return s;
}

static void check_clean(const safety_t *s, const char *t, size_t n)
{
    safety_verdict_t v;
    if (safety_check(s, t, n, &v) != 0 || v.action != SAFETY_ALLOW) abort();
    safety_verdict_free(&v);
}

/* shipped: the real lists, whose fallback themes are known to pass; a fuzzed list may flag
 * them ("a = b"), so then only the structure is checked. */
static void screen_text(const safety_t *s, const char *t, size_t n, bool shipped)
{
    safety_verdict_t v;
    int rc = safety_check(s, t, n, &v);
    if (rc != 0) {
        if (v.action != SAFETY_BLOCK) abort();
        safety_verdict_free(&v);
        return;
    }
    if (v.action > SAFETY_BLOCK) abort();
    size_t prev_end = 0;
    bool severe = false;
    for (size_t i = 0; i < v.nhits; i++) {
        const safety_hit_t *h = &v.hits[i];
        if (h->start >= h->end || h->end > n || h->start < prev_end) abort();
        if (!(v.categories & (1u << h->category))) abort();
        prev_end = h->end;
        severe |= h->severe;
    }
    if ((v.action == SAFETY_ALLOW) != (v.nhits == 0)) abort();
    if (severe && v.action != SAFETY_BLOCK) abort();
    if ((v.action == SAFETY_REWRITE) != (v.rewritten != NULL)) abort();
    if (v.rewritten) {
        if (strlen(v.rewritten) != v.rewritten_len) {
            /* NUL bytes of the input are copied; only check the length bound then. */
            if (memchr(t, '\0', n) == NULL) abort();
        }
        if (json_utf8_valid(t, n) && !json_utf8_valid(v.rewritten, v.rewritten_len)) abort();
        check_clean(s, v.rewritten, v.rewritten_len);
    }
    safety_verdict_free(&v);

    safety_screen_t r;
    safety_screen_prompt(s, t, n, "fantasy", &r);
    if (!r.text || r.len == 0) {
        if (!(r.record.action == SAFETY_RECORD_ALLOWED && n == 0)) abort();
    } else if (shipped || r.record.action != SAFETY_RECORD_FALLBACK) {
        check_clean(s, r.text, r.len);
    }
    safety_screen_free(&r);
    for (int attempt = 0; attempt < 2; attempt++) {
        safety_step_t st = safety_screen_output(s, t, n, attempt, "mystery", &r);
        if (st == SAFETY_STEP_REGENERATE) {
            if (attempt != 0 || r.text) abort();
        } else if (r.text && r.len && (shipped || st != SAFETY_STEP_FALLBACK)) {
            check_clean(s, r.text, r.len);
        }
        safety_screen_free(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) return 0;
    if (size >= 2 && data[0] == 'L') {
        static const char *const cats[] = {"violence", "sexual",    "self_harm", "hate",
                                           "drugs",    "profanity", "allow",     "bogus"};
        safety_source_t src = {cats[data[1] & 7], "fuzz.txt", (const char *)data + 2, size - 2};
        char err[256];
        safety_t *s = safety_load_mem(&src, 1, err, sizeof err);
        if (!s) {
            if (!err[0]) abort(); /* a failed load always says why */
            return 0;
        }
        static const char sentence[] = "The knight killed the dragon at 12 Baker Street, "
                                       "k i l l e d it, and shot a basket.";
        screen_text(s, sentence, sizeof sentence - 1, false);
        safety_free(s);
        return 0;
    }
    screen_text(fuzz_screen(), (const char *)data, size, true);
    return 0;
}
