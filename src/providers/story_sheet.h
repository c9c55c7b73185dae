/* story_sheet: the character sheet and the comprehension questions of one story (issue 12), as
 * the pipeline stores them (stories.characters, stories.questions) and hands them to the
 * illustrators. Parsed defensively from either the offline composer's plan JSON or a model's
 * JSON-shaped answer (code fences, prose around the object, "colors" for "colours", colours as
 * a list or a comma-separated string, over-long strings and extra entries are all tolerated).
 * Pure functions on caller-owned structs; no I/O, thread-safe.
 *
 * Stored shapes:
 *   characters: [{"name","kind","role","looks","clothes","colours":["orange","green"]}]
 *   questions:  [{"question","answer"}]   (3 to 5 when the source had that many) */
#ifndef NOVA_PROVIDERS_STORY_SHEET_H
#define NOVA_PROVIDERS_STORY_SHEET_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>

#define SHEET_MAX_CHARACTERS 8
#define SHEET_MAX_QUESTIONS  5
#define SHEET_MIN_QUESTIONS  3

typedef struct {
    char name[64];
    char kind[40];
    char role[16];
    char looks[160];
    char clothes[120];
    char colours[3][24];
    size_t n_colours;
} sheet_character_t;

typedef struct {
    char question[240];
    char answer[280];
} sheet_question_t;

typedef struct {
    sheet_character_t characters[SHEET_MAX_CHARACTERS];
    size_t n_characters;
    sheet_question_t questions[SHEET_MAX_QUESTIONS];
    size_t n_questions;
} story_sheet_t;

/* Parses an object with "characters" and/or "questions" out of text (the first '{' to the last
 * '}'). Characters without a name and questions without both parts are skipped; duplicates by
 * name are dropped. Returns 0 (possibly with nothing found) or -EINVAL when no JSON object could
 * be read. out is always initialised. */
int story_sheet_parse(const char *text, size_t len, story_sheet_t *out);

/* Parses the stored characters array (stories.characters) into out->characters. Returns 0 or
 * -EINVAL; out->n_characters is 0 on error. */
int story_sheet_parse_characters(const char *json, size_t len, story_sheet_t *out);

/* Writes the characters array / the questions array (the stored shapes above) into g. */
void story_sheet_characters_json(const story_sheet_t *s, yajl_gen g);
void story_sheet_questions_json(const story_sheet_t *s, yajl_gen g);

/* The index of the character whose name appears in text as a whole word (case-insensitive), in
 * sheet order, for i from *from on; -1 when none. */
int story_sheet_find_in(const story_sheet_t *s, const char *text, size_t from);

/* Writes one entry for a picture prompt: "Pip the fox (small with bright eyes; green scarf;
 * colours orange and green)". Returns the length written (cut to cap - 1). */
size_t story_sheet_entry(const sheet_character_t *c, char *out, size_t cap);

#endif
