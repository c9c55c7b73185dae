#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "api/story_cache.h"
#include "test.h"

TEST(story_cache_serves_only_the_same_version_while_young)
{
    story_cache_t *c = story_cache_new(1 << 20, 1000);
    ASSERT(c != NULL);
    size_t len = 0;
    ASSERT(story_cache_get(c, "s1|http://a", "10:5", 0, &len) == NULL);
    story_cache_put(c, "s1|http://a", "10:5", "{\"id\":1}", 8, 100);
    const char *b = story_cache_get(c, "s1|http://a", "10:5", 600, &len);
    ASSERT(b != NULL);
    ASSERT_EQ(len, 8);
    ASSERT_EQ(memcmp(b, "{\"id\":1}", 8), 0);
    /* Another public base is another entry. */
    ASSERT(story_cache_get(c, "s1|http://b", "10:5", 600, &len) == NULL);
    /* A new version of the story (or its owner) is never answered from the old entry, and the
     * old entry is gone. */
    ASSERT(story_cache_get(c, "s1|http://a", "11:5", 600, &len) == NULL);
    ASSERT(story_cache_get(c, "s1|http://a", "10:5", 600, &len) == NULL);
    /* Too old: its signed URLs were made too long ago. */
    story_cache_put(c, "s2", "1:1", "x", 1, 1000);
    ASSERT(story_cache_get(c, "s2", "1:1", 2000, &len) != NULL);
    ASSERT(story_cache_get(c, "s2", "1:1", 2001, &len) == NULL);
    story_cache_stats_t st;
    story_cache_stats(c, &st);
    ASSERT_EQ(st.hits, 2);
    ASSERT_EQ(st.misses, 5);
    ASSERT_EQ(st.entries, 0);
    ASSERT_EQ(st.bytes, 0);
    story_cache_free(c);
}

TEST(story_cache_stays_within_its_budget_dropping_the_least_recently_used)
{
    story_cache_t *c = story_cache_new(8000, 60000);
    char body[1000];
    memset(body, 'a', sizeof body);
    char key[16];
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "k%d", i);
        story_cache_put(c, key, "v", body, sizeof body, 0);
    }
    size_t len;
    ASSERT(story_cache_get(c, "k0", "v", 1, &len) != NULL); /* k0 is now the most recent */
    story_cache_put(c, "k8", "v", body, sizeof body, 1);    /* evicts k1, the oldest */
    ASSERT(story_cache_get(c, "k1", "v", 2, &len) == NULL);
    ASSERT(story_cache_get(c, "k0", "v", 2, &len) != NULL);
    ASSERT(story_cache_get(c, "k8", "v", 2, &len) != NULL);
    story_cache_stats_t st;
    story_cache_stats(c, &st);
    ASSERT(st.bytes <= 8000);
    /* A body over an eighth of the budget is not kept at all. */
    story_cache_put(c, "big", "v", body, 1001, 3);
    ASSERT(story_cache_get(c, "big", "v", 3, &len) == NULL);
    /* Replacing an entry keeps one copy. */
    story_cache_put(c, "k8", "w", "zz", 2, 4);
    ASSERT(story_cache_get(c, "k8", "w", 4, &len) != NULL);
    ASSERT_EQ(len, 2);
    story_cache_free(c);
    /* No budget, no cache: every read misses and nothing breaks. */
    ASSERT(story_cache_new(0, 1000) == NULL);
    story_cache_put(NULL, "k", "v", "x", 1, 0);
    ASSERT(story_cache_get(NULL, "k", "v", 0, &len) == NULL);
}

TEST_MAIN({"story_cache_serves_only_the_same_version_while_young",
           story_cache_serves_only_the_same_version_while_young},
          {"story_cache_stays_within_its_budget_dropping_the_least_recently_used",
           story_cache_stays_within_its_budget_dropping_the_least_recently_used})
