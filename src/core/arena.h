/* arena: a region allocator for per-request memory. Small allocations are carved from blocks
 * (2 KiB first, then 4 KiB); large ones are malloc'd separately and tracked on a list.
 * arena_reset/arena_free release everything in one step, so a request never frees its parsed
 * headers, path parameters or JSON tree piece by piece. Cleanups (arena_on_free) release non-memory
 * resources (a yajl tree, a PGresult) at the same moment. Allocation failure aborts the process
 * (like h2o_mem_alloc): every size passed here is already bounded by a configured limit. */
#ifndef NOVA_CORE_ARENA_H
#define NOVA_CORE_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block_t;
typedef struct arena_cleanup arena_cleanup_t;

typedef struct {
    arena_block_t *blocks; /* blocks with free space at the front; the first is current */
    arena_block_t *large;  /* separately malloc'd large allocations */
    arena_cleanup_t *cleanups;
    size_t used; /* bytes handed out (for limits and metrics) */
} arena_t;

void arena_init(arena_t *a);
/* Frees every allocation and runs the cleanups (most recent first). The arena is reusable. */
void arena_free(arena_t *a);
void *arena_alloc(arena_t *a, size_t size); /* 16-byte aligned, uninitialised */
void *arena_calloc(arena_t *a, size_t size);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_strdup(arena_t *a, const char *s);
char *arena_printf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs fn(ptr) when the arena is freed. */
void arena_on_free(arena_t *a, void (*fn)(void *), void *ptr);

#endif
