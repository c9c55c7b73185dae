/* safety: the offline content screen that every prompt, modification, image description and
 * generated text passes before it is used or shown (issue 12). It owns the word and phrase lists
 * (the .txt files in src/safety/data plus a small built-in list compiled in, so the screen never
 * runs empty), the matcher (word boundaries, case and accent folding, light leetspeak, stretched
 * letters and spaced-out letters), personal-data redaction (phone numbers, e-mail addresses, links,
 * street addresses), the policy that turns a verdict into the text to use (original, rewritten or a
 * gentle fallback theme) and the `safety` record stored with a story.
 *
 * Severity comes from the data: a list entry with a gentle replacement ("kill = defeat") is mild
 * and gets rewritten; an entry without one ("murder*") is severe and blocks. Personal data is
 * always rewritten (redacted), never blocked.
 *
 * A loaded screen is read-only: every function taking a `const safety_t *` is thread-safe and may
 * run on the threadpool. Screening is CPU work proportional to the text (about 0.3 ms for a
 * 2,000-word story in an optimised build); callers on the event loop may screen prompts inline
 * but should screen whole stories from uv_queue_work.
 *
 * Data directory: the server's NOVA_SAFETY_DATA_DIR setting (default <source>/src/safety/data) is
 * passed to safety_load at start-up; this module reads no environment itself. */
#ifndef NOVA_SAFETY_SAFETY_H
#define NOVA_SAFETY_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

/* Texts longer than this are refused by safety_check (-E2BIG); the screen_* helpers fall back. */
#define SAFETY_TEXT_MAX (4u * 1024 * 1024)

typedef struct safety safety_t;

/* Reason codes, in the order they appear in records. */
typedef enum {
    SAFETY_CAT_VIOLENCE = 0,
    SAFETY_CAT_SEXUAL,
    SAFETY_CAT_SELF_HARM,
    SAFETY_CAT_HATE,
    SAFETY_CAT_DRUGS,
    SAFETY_CAT_PROFANITY,
    SAFETY_CAT_PHONE,        /* personal data: phone number */
    SAFETY_CAT_EMAIL,        /* personal data: e-mail address (also "name at mail dot com") */
    SAFETY_CAT_ADDRESS,      /* personal data: street address ("12 Baker Street") */
    SAFETY_CAT_LINK,         /* personal data: web address */
    SAFETY_CAT_MODEL_FILTER, /* a model's own filter or Bedrock Guardrails refused the text
                              * (never produced by safety_check; recorded by the flows) */
    SAFETY_CAT_COUNT_
} safety_category_t;

/* "violence", "sexual", "self_harm", "hate", "drugs", "profanity", "personal_phone",
 * "personal_email", "personal_address", "personal_link", "model_filter"; NULL when out of range. */
const char *safety_category_name(safety_category_t c);
/* The data file stem of a word category ("violence" -> violence.txt); -1 when unknown. */
int safety_category_parse(const char *name);

/* ---- loading ---- */

/* One list given from memory: `category` is a word category name as above or "allow". */
typedef struct {
    const char *category;
    const char *name; /* for error messages ("violence.txt"); may be NULL */
    const char *text;
    size_t len;
} safety_source_t;

/* Loads the built-in list plus violence.txt, sexual.txt, self_harm.txt, hate.txt, drugs.txt,
 * profanity.txt and allow.txt from `dir` (blocking reads: call at start-up). dir NULL loads the
 * built-in list only. Returns NULL on error with a message such as
 * "violence.txt:12: a term needs at least one letter or digit" in err (errors: missing or
 * unreadable file, file over 1 MiB, invalid UTF-8, bad line). Free with safety_free. */
safety_t *safety_load(const char *dir, char *err, size_t errlen);
/* The same from memory (tests, fuzzing); the built-in list is always included. */
safety_t *safety_load_mem(const safety_source_t *src, size_t n, char *err, size_t errlen);
void safety_free(safety_t *s);
/* Number of loaded entries (word and phrase rules, allow-list included). */
size_t safety_rule_count(const safety_t *s);

/* ---- checking ---- */

typedef enum { SAFETY_ALLOW = 0, SAFETY_REWRITE, SAFETY_BLOCK } safety_action_t;

typedef struct {
    safety_category_t category;
    bool severe;       /* true: this hit alone blocks */
    size_t start, end; /* byte span in the checked text */
    const char *term;  /* the list entry that matched (owned by the safety_t); NULL for
                        * personal data */
} safety_hit_t;

typedef struct {
    safety_action_t action;
    uint32_t categories; /* bit (1u << safety_category_t) for every category hit */
    safety_hit_t *hits;  /* in text order, non-overlapping; owned by the verdict */
    size_t nhits;
    char *rewritten; /* REWRITE only: the text with mild terms replaced by gentle words and
                      * personal data redacted; NUL-terminated, owned by the verdict. The screen
                      * re-checks it, so it never contains a flagged term. */
    size_t rewritten_len;
} safety_verdict_t;

/* Screens len bytes of text (any bytes; UTF-8 expected). Returns 0 and fills *out (release with
 * safety_verdict_free even after an error), or -EINVAL (NULL arguments), -E2BIG (over
 * SAFETY_TEXT_MAX) or -ENOMEM. */
int safety_check(const safety_t *s, const char *text, size_t len, safety_verdict_t *out);
void safety_verdict_free(safety_verdict_t *v);

/* ---- policy: what to use, and the record kept with a story ---- */

typedef enum {
    SAFETY_RECORD_ALLOWED = 0,
    SAFETY_RECORD_REWRITTEN,
    SAFETY_RECORD_FALLBACK
} safety_record_action_t;

/* The story's `safety` field: {"action":"allowed|rewritten|fallback","reasons":[...]}. Shown to
 * the story's owner and to staff. It names categories only, never the matched words or the
 * personal data. */
typedef struct {
    safety_record_action_t action;
    uint32_t reasons; /* bit (1u << safety_category_t) */
} safety_record_t;

const char *safety_record_action_name(safety_record_action_t a); /* "allowed", ... */
/* dst becomes the stronger action of the two, reasons the union: one record per story covers
 * its prompt, modifications, descriptions and outputs. */
void safety_record_merge(safety_record_t *dst, const safety_record_t *src);
/* Writes the record as one JSON object (the caller has opened any enclosing map/key). */
void safety_record_to_json(const safety_record_t *r, yajl_gen g);
/* Reads a stored record; unknown reason names are ignored. Returns 0 or -EINVAL. */
int safety_record_from_json(yajl_val v, safety_record_t *out);

/* Result of a screen_* call. `text`/`len` is what to use: the input itself (allowed), `owned`
 * (rewritten) or a static fallback theme; NULL only for SAFETY_STEP_REGENERATE. Release with
 * safety_screen_free (frees `owned`). The input must outlive `text` when the action is allowed. */
typedef struct {
    const char *text;
    size_t len;
    char *owned;
    safety_record_t record;
} safety_screen_t;

void safety_screen_free(safety_screen_t *r);

/* The gentle theme used instead of a blocked prompt: one of a few per story template
 * ("adventure", "fantasy", "sci-fi"/"scifi", "mystery", "educational"; anything else uses the
 * adventure list), picked by seed. Static string. */
const char *safety_fallback_theme(const char *template_name, uint64_t seed);

/* Screens a prompt, a modification request or a scene description before it reaches a model.
 * Never fails: allowed -> the input; mild terms or personal data -> the rewritten text; severe
 * terms, a rewrite that leaves too little, an internal error or s == NULL -> a fallback theme
 * chosen deterministically from the template and the text. */
void safety_screen_prompt(const safety_t *s, const char *text, size_t len,
                          const char *template_name, safety_screen_t *out);

typedef enum {
    SAFETY_STEP_USE = 0,    /* show out->text (the output or its gentle rewrite) */
    SAFETY_STEP_REGENERATE, /* blocked on the first attempt: generate again, then call again
                             * with attempt 1 and merge both records */
    SAFETY_STEP_FALLBACK    /* blocked again: out->text is a fallback theme; compose the story
                             * from it offline (the composer) and show that */
} safety_step_t;

/* Screens generated text (a story, a title, an image description) before it is shown or
 * stored. attempt counts from 0. The record says "rewritten" for a regenerated or rewritten
 * output and "fallback" for a replaced one. */
safety_step_t safety_screen_output(const safety_t *s, const char *text, size_t len, int attempt,
                                   const char *template_name, safety_screen_t *out);

/* Runs safety_screen_output on the libuv threadpool (a whole story is too much work for the
 * loop). text is copied. cb runs once on the loop with the step and the screen result (valid
 * during the callback only: copy out->text). Returns 0, -EINVAL or -ENOMEM (or a uv error);
 * then cb never runs. There is no cancel: an owner that goes away must outlive the work or
 * ignore the answer. */
typedef void (*safety_output_cb)(safety_step_t step, const safety_screen_t *out, void *arg);
int safety_screen_output_async(uv_loop_t *loop, const safety_t *s, const char *text, size_t len,
                               int attempt, const char *template_name, safety_output_cb cb,
                               void *arg);

/* ---- image prompts ---- */

typedef struct {
    const char *style;     /* child-safe style words to append to every scene prompt */
    const char *negative;  /* negative prompt, or NULL when the family has none */
    float negative_weight; /* SDXL text_prompts weight for the negative (-1); 0 otherwise */
} safety_style_t;

/* family: a model id or family name: "titan"/"amazon.titan-image-*", "nova-canvas" (Titan and
 * Nova Canvas: negativeText), "sdxl"/"stability.stable-diffusion-xl-*" (negative text_prompts
 * entry with weight -1), "stable-image"/"sd3"/"stability.stable-image-*" (negative_prompt). Other
 * families (NULL, "offline", "openai", unknown) get style words only. The negative prompt lists
 * what to avoid and must not itself be screened. Static strings. */
void safety_scene_style(const char *family, safety_style_t *out);

#endif
