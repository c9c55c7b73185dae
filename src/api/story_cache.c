#include "api/story_cache.h"

#include <stdlib.h>
#include <string.h>

#define STORY_CACHE_BUCKETS 4096

typedef struct entry entry_t;
struct entry {
    entry_t *hnext;       /* bucket chain */
    entry_t *prev, *next; /* LRU list: head = most recently used */
    char *key, *version;  /* owned */
    char *body;           /* owned */
    size_t len;
    uint64_t born_ms;
};

struct story_cache {
    entry_t *buckets[STORY_CACHE_BUCKETS];
    entry_t *head, *tail;
    size_t max_bytes, bytes;
    uint64_t max_age_ms;
    uint64_t hits, misses, entries;
};

static size_t bucket_of(const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h % STORY_CACHE_BUCKETS);
}

story_cache_t *story_cache_new(size_t max_bytes, uint64_t max_age_ms)
{
    if (max_bytes == 0) return NULL;
    story_cache_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->max_bytes = max_bytes;
    c->max_age_ms = max_age_ms;
    return c;
}

/* The list's ends are recognised by the cache's own head and tail pointers, so unlinking the
 * tail always moves c->tail (the eviction loop in story_cache_put relies on that). */
static void lru_unlink(story_cache_t *c, entry_t *e)
{
    if (c->head == e)
        c->head = e->next;
    else
        e->prev->next = e->next;
    if (c->tail == e)
        c->tail = e->prev;
    else
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(story_cache_t *c, entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static void entry_drop(story_cache_t *c, entry_t *e)
{
    entry_t **pp = &c->buckets[bucket_of(e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    lru_unlink(c, e);
    c->bytes -= e->len;
    c->entries--;
    free(e->key);
    free(e->version);
    free(e->body);
    free(e);
}

void story_cache_free(story_cache_t *c)
{
    if (!c) return;
    while (c->head)
        entry_drop(c, c->head);
    free(c);
}

static entry_t *find(story_cache_t *c, const char *key)
{
    for (entry_t *e = c->buckets[bucket_of(key)]; e; e = e->hnext)
        if (strcmp(e->key, key) == 0) return e;
    return NULL;
}

const char *story_cache_get(story_cache_t *c, const char *key, const char *version, uint64_t now_ms,
                            size_t *len)
{
    if (!c) return NULL;
    entry_t *e = find(c, key);
    if (!e || strcmp(e->version, version) != 0 || now_ms - e->born_ms > c->max_age_ms) {
        if (e) entry_drop(c, e); /* stale: its successor is about to be rendered */
        c->misses++;
        return NULL;
    }
    lru_unlink(c, e);
    lru_push_front(c, e);
    c->hits++;
    *len = e->len;
    return e->body;
}

void story_cache_put(story_cache_t *c, const char *key, const char *version, const char *body,
                     size_t len, uint64_t now_ms)
{
    if (!c || len > c->max_bytes / 8) return;
    entry_t *old = find(c, key);
    if (old) entry_drop(c, old);
    entry_t *e = calloc(1, sizeof *e);
    if (!e) return;
    e->key = strdup(key);
    e->version = strdup(version);
    e->body = malloc(len ? len : 1);
    if (!e->key || !e->version || !e->body) {
        free(e->key);
        free(e->version);
        free(e->body);
        free(e);
        return;
    }
    memcpy(e->body, body, len);
    e->len = len;
    e->born_ms = now_ms;
    while (c->tail && c->bytes + len > c->max_bytes)
        entry_drop(c, c->tail);
    size_t b = bucket_of(key);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    lru_push_front(c, e);
    c->bytes += len;
    c->entries++;
}

void story_cache_stats(const story_cache_t *c, story_cache_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!c) return;
    out->hits = c->hits;
    out->misses = c->misses;
    out->entries = c->entries;
    out->bytes = c->bytes;
}
