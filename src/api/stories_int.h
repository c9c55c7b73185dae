/* stories_int: internals shared by the stories*.c files only (not for other modules). */
#ifndef NOVA_API_STORIES_INT_H
#define NOVA_API_STORIES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "api/stories.h"

/* The state of one story action; lives in the request arena. */
typedef struct stories_ctx stories_ctx_t;
struct stories_ctx {
    http_req_t *req;
    const api_user_t *user;
    const char *id;
    /* filled by stories_load */
    const char *title, *text;
    int64_t created_unix;
    void (*next)(http_req_t *req, stories_ctx_t *c);
    /* action arguments */
    const char *prompt, *modifications, *template_name, *voice_id;
    const int *scene_numbers; /* generate_scenes: only these (NULL = all) */
    size_t nscene_numbers;
    int64_t scene_number;
    const char *scene_text, *scene_id;
    const char *image_path;
};

stories_ctx_t *stories_ctx_new(http_req_t *req, const api_user_t *user);
/* Loads the story req->params[0] visible to c->user (404 otherwise), then calls c->next. */
void stories_load(http_req_t *req, stories_ctx_t *c);

/* Splits a story into numbered parts at headings such as "Part 2", "## Chapter 2: Title",
 * "**Scene 2.**" (the whole text is one part when there is none). A part's text is everything
 * up to the next heading (or the heading's title when nothing follows). Numbers are kept when
 * they increase, otherwise the parts are numbered in order. Returns the count (at most max);
 * the texts are in the arena. */
typedef struct {
    int number;
    const char *text;
} stories_part_t;
size_t stories_parse_parts(http_req_t *req, const char *text, stories_part_t *parts, size_t max);

#endif
