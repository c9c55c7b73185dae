/* illustrate: an offline illustration provider. It paints a simple, friendly storybook picture
 * with cairo from a scene prompt: a sky for the template and time of day, ground and horizon,
 * shapes for the nouns it recognises (sun, tree, castle, rocket, dragon, ...), the story's
 * characters (same shape and colours on every page), a scene-number badge and a caption banner,
 * and returns it as PNG bytes. Pure CPU work for the libuv threadpool: synchronous, no global
 * mutable state, deterministic (same request -> byte-identical PNG on the same machine). */
#ifndef NOVA_PROVIDERS_ILLUSTRATE_H
#define NOVA_PROVIDERS_ILLUSTRATE_H

#include <stddef.h>
#include <stdint.h>

#define ILLUSTRATE_DEFAULT_WIDTH  768
#define ILLUSTRATE_DEFAULT_HEIGHT 1152
#define ILLUSTRATE_MIN_SIDE       64
#define ILLUSTRATE_MAX_SIDE       2048
#define ILLUSTRATE_MAX_CHARACTERS 8

typedef enum {
    ILLUSTRATE_TEMPLATE_ADVENTURE = 0,
    ILLUSTRATE_TEMPLATE_FANTASY,
    ILLUSTRATE_TEMPLATE_SCIFI,
    ILLUSTRATE_TEMPLATE_MYSTERY,
    ILLUSTRATE_TEMPLATE_EDUCATIONAL,
    ILLUSTRATE_TEMPLATE_COUNT
} illustrate_template_t;

/* A story character. The name is matched (case-insensitively, as whole words) in the scene
 * prompt to decide whether the character appears on a page. kind picks the shape ("cat", "dog",
 * "robot", "dragon", "owl", "unicorn", "bird", "fish", "bunny", "bear", "fox", "mouse";
 * anything else is drawn as a child). colors are 0xRRGGBB: body, accent, detail; missing ones
 * are derived from the name, so a character always looks the same. */
typedef struct {
    const char *name;
    const char *kind;
    uint32_t colors[3];
    size_t ncolors; /* 0..3 */
} illustrate_character_t;

/* Debug/test hook: called for each element drawn, in drawing order. */
typedef enum {
    ILLUSTRATE_ELEM_SKY = 0,
    ILLUSTRATE_ELEM_OBJECT,    /* a recognised noun; name is the canonical noun */
    ILLUSTRATE_ELEM_CHARACTER, /* name is the character's name */
    ILLUSTRATE_ELEM_BADGE,
    ILLUSTRATE_ELEM_CAPTION,
} illustrate_elem_t;

typedef struct {
    illustrate_elem_t elem;
    const char *name;   /* valid during the callback only */
    double x, y, w, h;  /* bounding box in pixels */
    uint32_t colors[3]; /* 0xRRGGBB actually used for fills (characters and objects) */
    int night;          /* sky events: 1 when a night sky was chosen */
} illustrate_trace_t;

typedef void (*illustrate_trace_fn)(void *ctx, const illustrate_trace_t *ev);

typedef struct {
    int width, height; /* 0 = default 768 x 1152; otherwise 64..2048 each */
    illustrate_template_t tmpl;
    const char *prompt;  /* scene description; may be NULL */
    int scene_number;    /* shown in the badge when > 0 */
    const char *caption; /* short text for the banner; may be NULL; UTF-8 (invalid bytes shown
                            as '?'), long captions are shortened with an ellipsis */
    uint64_t seed;       /* varies the layout; same seed + inputs -> same picture */
    const illustrate_character_t *characters;
    size_t ncharacters;        /* at most ILLUSTRATE_MAX_CHARACTERS are considered */
    illustrate_trace_fn trace; /* optional */
    void *trace_ctx;
} illustrate_request_t;

/* Renders the picture. On success returns 0 and sets *png (malloc'd; the caller frees it) and
 * *png_len. Returns -EINVAL for bad sizes/arguments, -ENOMEM, or -EIO if cairo failed. */
int illustrate_render_png(const illustrate_request_t *req, uint8_t **png, size_t *png_len);

/* "adventure", "fantasy", "sci-fi" (or "scifi"), "mystery", "educational" -> template.
 * Returns 0 or -EINVAL (and leaves *out unchanged). */
int illustrate_template_parse(const char *name, illustrate_template_t *out);
const char *illustrate_template_name(illustrate_template_t t);

#endif
