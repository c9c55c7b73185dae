/* composer: the offline story writer behind the "offline" text provider. It turns a story idea
 * (prompt, template, optional picture description and settings) into a titled story with
 * "Part N: <title>" headings and a plan for illustrators and quizzes, entirely without a model.
 *
 * Output is a pure function of the input: the same input gives byte-identical text, and a
 * different prompt gives a different story (the random choices are seeded from a hash of every
 * input field). The module keeps no global mutable state, so composer_write may run on any
 * number of threads at once (the async wrapper runs it on the libuv threadpool). */
#ifndef NOVA_PROVIDERS_COMPOSER_H
#define NOVA_PROVIDERS_COMPOSER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Input bounds (bytes unless stated). Inputs past them are rejected with -E2BIG or -EINVAL. */
#define COMPOSER_MAX_PROMPT     4000
#define COMPOSER_MAX_IMAGE_DESC 1000
#define COMPOSER_MAX_MORAL      300
#define COMPOSER_MAX_CHILD_NAME 40
#define COMPOSER_MIN_WORDS      150
#define COMPOSER_MAX_WORDS      2000
#define COMPOSER_MAX_PARTS      10
#define COMPOSER_MIN_AGE        2
#define COMPOSER_MAX_AGE        14

/* Plan bounds: fixed arrays keep the plan a single allocation without ownership questions. */
#define COMPOSER_MAX_CHARACTERS    5
#define COMPOSER_MAX_OBJECTS       8
#define COMPOSER_MAX_SOUNDS        3
#define COMPOSER_MAX_COMPREHENSION 5

typedef enum {
    COMPOSER_TEMPLATE_ADVENTURE = 0,
    COMPOSER_TEMPLATE_FANTASY,
    COMPOSER_TEMPLATE_SCIFI,
    COMPOSER_TEMPLATE_MYSTERY,
    COMPOSER_TEMPLATE_EDUCATIONAL,
    COMPOSER_TEMPLATE_COUNT_
} composer_template_t;

typedef enum {
    COMPOSER_LEVEL_SIMPLE = 0,
    COMPOSER_LEVEL_INTERMEDIATE,
    COMPOSER_LEVEL_ADVANCED,
    COMPOSER_LEVEL_COUNT_
} composer_level_t;

/* All strings are borrowed for the duration of composer_write only; NULL or "" means absent. */
typedef struct {
    const char *prompt; /* required, UTF-8, 1..COMPOSER_MAX_PROMPT bytes */
    composer_template_t template_id;
    const char *image_description; /* optional: words describing the uploaded picture */
    int age_min, age_max;          /* listener age range, e.g. 6 and 8 */
    int target_words;              /* COMPOSER_MIN_WORDS..COMPOSER_MAX_WORDS */
    int parts;                     /* 1..COMPOSER_MAX_PARTS */
    const char *moral;             /* optional lesson woven into the last part */
    composer_level_t level;
    bool sound_effects;     /* "Whoosh!"-style sounds in every part */
    bool questions;         /* a question to the listener at the end of every part */
    bool explain_words;     /* short in-text explanations of a few harder words */
    const char *child_name; /* optional: the listener becomes the hero */
} composer_input_t;

typedef struct {
    char name[64];
    char kind[40]; /* "dragon", "girl", "robot" */
    char role[12]; /* "hero", "friend" or "helper"; the hero is always characters[0] */
    char looks[128];
    char clothes[96];
    char colours[3][16];
    size_t n_colours; /* 2 or 3 */
} composer_character_t;

typedef struct {
    char title[96];
    char setting[96];
    size_t characters[COMPOSER_MAX_CHARACTERS]; /* indexes into plan.characters, hero first */
    size_t n_characters;
    char objects[COMPOSER_MAX_OBJECTS][24]; /* picture nouns for an illustrator: "moon", "boat" */
    size_t n_objects;
    char sounds[COMPOSER_MAX_SOUNDS][24]; /* sound words used in this part, e.g. "Whoosh" */
    size_t n_sounds;
    char listener_question[200]; /* "" unless input.questions */
} composer_part_plan_t;

typedef struct {
    char question[200];
    char answer[240];
} composer_comprehension_t;

typedef struct {
    composer_character_t characters[COMPOSER_MAX_CHARACTERS];
    size_t n_characters;
    composer_part_plan_t parts[COMPOSER_MAX_PARTS];
    size_t n_parts;
    composer_comprehension_t questions[COMPOSER_MAX_COMPREHENSION]; /* 3..5, by age */
    size_t n_questions;
} composer_plan_t;

typedef struct composer_story composer_story_t;

/* Parses "adventure", "fantasy", "sci-fi"/"scifi", "mystery", "educational" (case-insensitive).
 * Returns 0 or -EINVAL. */
int composer_template_parse(const char *name, composer_template_t *out);
const char *composer_template_name(composer_template_t t);
/* Parses "simple", "intermediate", "advanced". Returns 0 or -EINVAL. */
int composer_level_parse(const char *name, composer_level_t *out);
/* Parses an age range "6-8" (or a single age "7"). Returns 0 or -EINVAL. */
int composer_age_parse(const char *range, int *age_min, int *age_max);

/* Fills *in with the defaults: adventure, ages 6-8, 500 words, 3 parts, intermediate level,
 * every toggle off. The caller sets prompt and whatever else it needs. */
void composer_input_defaults(composer_input_t *in);

/* Writes a story. On success returns 0 and *out owns the story (free with composer_story_free).
 * Errors: -EINVAL (NULL/empty prompt, unknown template or level, parts/words/ages out of range,
 * invalid UTF-8 in any string), -E2BIG (a string past its bound), -ENOMEM. *out is NULL on
 * error. Takes about a millisecond; CPU only, no I/O. */
int composer_write(const composer_input_t *in, composer_story_t **out);
void composer_story_free(composer_story_t *s);

/* Accessors: the pointers stay valid until composer_story_free. */
const char *composer_story_title(const composer_story_t *s);
const char *composer_story_text(const composer_story_t *s);
size_t composer_story_text_len(const composer_story_t *s);
const composer_plan_t *composer_story_plan(const composer_story_t *s);

/* Delivers the text in chunks of chunk_words words (each chunk carries the whitespace that
 * follows its words), as a model streams deltas: concatenating every chunk gives exactly the
 * text. A non-zero return from cb stops the stream and is returned; otherwise returns 0.
 * chunk_words 0 is treated as 1. Returns -EINVAL for NULL arguments. */
int composer_stream(const composer_story_t *s, size_t chunk_words,
                    int (*cb)(const char *chunk, size_t len, void *arg), void *arg);

/* Appends the plan as one JSON object to out:
 * {"title":..,"template":..,"characters":[{"name","kind","role","looks","clothes","colours"}],
 *  "parts":[{"number","title","setting","characters":[names],"objects","sounds",
 *            "listener_question"}],"questions":[{"question","answer"}]}
 * Returns 0, -ENOMEM, or the buf_append error (-ENOBUFS when out's maximum is too small). */
int composer_plan_to_json(const composer_story_t *s, buf_t *out);

#endif
