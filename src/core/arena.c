#include "core/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE 4096
/* The first block is small: most requests need one or two kilobytes (parsed headers, path
 * parameters), and requests that live long (server-sent event streams) keep only that. */
#define ARENA_FIRST_BLOCK_SIZE 2048
#define ARENA_LARGE            1024 /* allocations above this bypass the blocks */

struct arena_block {
    arena_block_t *next;
    size_t size; /* usable bytes in data */
    size_t pos;
    _Alignas(16) unsigned char data[];
};

struct arena_cleanup {
    arena_cleanup_t *next;
    void (*fn)(void *);
    void *ptr;
};

static void *arena__xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fputs("nova: out of memory\n", stderr);
        abort();
    }
    return p;
}

void arena_init(arena_t *a)
{
    memset(a, 0, sizeof *a);
}

void arena_free(arena_t *a)
{
    while (a->cleanups) {
        arena_cleanup_t *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->ptr);
    }
    for (arena_block_t *b = a->blocks, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    for (arena_block_t *b = a->large, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    arena_init(a);
}

void *arena_alloc(arena_t *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    a->used += size;
    if (size > ARENA_LARGE) {
        arena_block_t *b = arena__xmalloc(sizeof *b + size);
        b->size = b->pos = size;
        b->next = a->large;
        a->large = b;
        return b->data;
    }
    arena_block_t *b = a->blocks;
    if (!b || b->size - b->pos < size) {
        size_t bs = b ? ARENA_BLOCK_SIZE : ARENA_FIRST_BLOCK_SIZE;
        b = arena__xmalloc(sizeof *b + bs);
        b->size = bs;
        b->pos = 0;
        b->next = a->blocks;
        a->blocks = b;
    }
    void *p = b->data + b->pos;
    b->pos += size;
    return p;
}

void *arena_calloc(arena_t *a, size_t size)
{
    void *p = arena_alloc(a, size);
    memset(p, 0, size);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_on_free(arena_t *a, void (*fn)(void *), void *ptr)
{
    arena_cleanup_t *c = arena_alloc(a, sizeof *c);
    c->fn = fn;
    c->ptr = ptr;
    c->next = a->cleanups;
    a->cleanups = c;
}
