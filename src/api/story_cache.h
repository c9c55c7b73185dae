/* story_cache: the rendered JSON of recently read stories, per process, so the hot read
 * (GET /api/stories/{id}/, polled by the frontend) costs one cheap statement: the token lookup
 * plus the story's version. An entry is served only when the version the database reports now
 * equals the one it was rendered at, so every instance reads its own and every other instance's
 * writes at once; no invalidation messages are needed.
 *
 * The version is the xmin of the story row and of its owner's row: every change to a story
 * makes a new row version, and every change to its scenes touches the story row (a trigger,
 * sql/0005_story_version.sql). Entries also age out (their signed media URLs were made when they
 * were rendered) and the whole cache is bounded in bytes (least recently used go first).
 * Loop thread only. */
#ifndef NOVA_API_STORY_CACHE_H
#define NOVA_API_STORY_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct story_cache story_cache_t;

/* max_bytes: total of the cached bodies (0 = no cache: every call misses); max_age_ms: how long
 * an entry may be served. Returns NULL when max_bytes is 0 or on allocation failure. */
story_cache_t *story_cache_new(size_t max_bytes, uint64_t max_age_ms);
void story_cache_free(story_cache_t *c);

/* The body cached for key at exactly this version and still young enough, or NULL. The pointer
 * stays valid until the next story_cache_put or story_cache_free. */
const char *story_cache_get(story_cache_t *c, const char *key, const char *version, uint64_t now_ms,
                            size_t *len);

/* Stores a copy of body for key at version (replacing any older entry). Bodies larger than an
 * eighth of the budget are not cached. */
void story_cache_put(story_cache_t *c, const char *key, const char *version, const char *body,
                     size_t len, uint64_t now_ms);

/* Counters for /metrics. */
typedef struct {
    uint64_t hits, misses, entries, bytes;
} story_cache_stats_t;
void story_cache_stats(const story_cache_t *c, story_cache_stats_t *out);

#endif
