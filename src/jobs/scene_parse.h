/* scene_parse: splits a story into the parts that become illustrated scenes, and words the
 * child-safe picture prompt of a scene. Pure functions, no I/O.
 *
 * Headings recognised, one per line, in this order of preference:
 *  1. "Part N", "Chapter N", "Scene N" (any case; N in digits or a number word one..twenty),
 *     with or without a title after ":", ".", "-", "–", "—" or ")": "Part 2: The Cave",
 *     also as a markdown heading ("## Chapter 2 - The Cave") or in bold ("**Scene 2.** The
 *     Cave", "**Part 2: The Cave**");
 *  2. when there is none of those: numbered sections "2. The Cave", "2) The Cave",
 *     "## 2: The Cave" whose title is short (at most 80 bytes), so ordinary numbered lists of
 *     sentences are not taken for sections.
 * A part's body is every line up to the next heading (multi-line, blank lines kept inside,
 * trimmed at both ends). Parts with the same number are merged in order. A story without any
 * heading is split at paragraph breaks into up to max_parts parts of similar length. Text
 * before the first heading is kept in the first part unless it is a single line (a title).
 * More parts than max_parts: the extra ones are appended to the last kept part, so no text is
 * lost. Numbers outside 1..1000 or out of order are renumbered 1, 2, 3... */
#ifndef NOVA_JOBS_SCENE_PARSE_H
#define NOVA_JOBS_SCENE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define SCENE_PARSE_MAX_PARTS 100

typedef struct {
    int number;
    char *title; /* "" when the heading had none */
    char *text;  /* the body; the title when the body is empty */
} scene_part_t;

typedef struct {
    scene_part_t *parts; /* sorted by number, numbers unique */
    size_t n;
} scene_parts_t;

/* Parses text (len bytes, UTF-8). max_parts 1..SCENE_PARSE_MAX_PARTS. On success returns 0 and
 * out owns malloc'd parts (scene_parts_free); blank text gives n == 0. Returns -EINVAL or
 * -ENOMEM. */
int scene_parse(const char *text, size_t len, int max_parts, scene_parts_t *out);
void scene_parts_free(scene_parts_t *p);

/* Prompt limits of the picture models (characters). */
#define SCENE_PROMPT_MIN 120
size_t scene_prompt_limit(const char *provider_name, const char *model);

/* Writes a picture prompt for one scene into out (cap bytes, NUL-terminated): a child-safe
 * frame (gentle picture-book style, nothing frightening), the template's mood, the scene's
 * title and text with markdown removed, whitespace collapsed, a few unsafe words softened, cut
 * at a word boundary so that the whole prompt fits limit characters (and cap bytes). Returns
 * the length or -EINVAL. */
int scene_prompt_build(const char *template_name, const char *title, const char *text, size_t limit,
                       char *out, size_t cap);

/* A scene prompt with the story's character sheet (issue 12). */
typedef struct {
    const char *template_name;
    const char *title, *text; /* the part */
    const char *characters;   /* sheet entries of the characters in the scene, "; "-separated
                                 ("Pip the fox (small; green scarf; colours orange and green)");
                                 NULL or "" = none */
    const char *style;        /* child-safe style words (safety_scene_style); NULL = the frame of
                                 scene_prompt_build */
    bool softened;            /* the retry after a moderated picture: the scene text is left
                                 out, only its title, the characters and a calm setting stay */
} scene_prompt_t;

/* Writes the prompt: style words and mood, "Characters: ..." (kept whole when it fits in about
 * half the limit, so every page describes them alike), "Scene: title: text" cut at a word
 * boundary, and the no-text tail, within limit characters and cap bytes. Returns the length or
 * -EINVAL. */
int scene_prompt_compose(const scene_prompt_t *p, size_t limit, char *out, size_t cap);

/* The negative prompt sent to models that take one. */
const char *scene_negative_prompt(void);

#endif
