#include "core/arena.h"
#include "core/buf.h"
#include "test.h"

static int cleaned;
static void cleanup(void *p)
{
    cleaned += *(int *)p;
}

TEST(arena_allocates_aligned_and_frees_everything)
{
    arena_t a;
    arena_init(&a);
    for (int i = 0; i < 1000; i++) {
        char *p = arena_alloc(&a, (size_t)(i % 50) + 1);
        ASSERT_EQ(((uintptr_t)p) % 16, 0);
        memset(p, 1, (size_t)(i % 50) + 1);
    }
    char *big = arena_alloc(&a, 100000);
    memset(big, 2, 100000);
    ASSERT_STREQ(arena_printf(&a, "%d-%s", 7, "x"), "7-x");
    static int v = 5;
    arena_on_free(&a, cleanup, &v);
    arena_free(&a);
    ASSERT_EQ(cleaned, 5);
    ASSERT_EQ(a.used, 0);
}

TEST(buf_is_bounded)
{
    buf_t b;
    buf_init(&b, 10);
    ASSERT_EQ(buf_append_str(&b, "12345"), 0);
    ASSERT_EQ(buf_append_str(&b, "67890"), 0);
    ASSERT(buf_append_str(&b, "x") < 0);
    ASSERT_EQ(b.len, 10);
    buf_consume(&b, 3);
    ASSERT_STREQ(b.data, "4567890");
    ASSERT(buf_printf(&b, "%s", "abcd") < 0);
    ASSERT_EQ(buf_printf(&b, "%s", "abc"), 0);
    ASSERT_STREQ(b.data, "4567890abc");
    buf_free(&b);
}

TEST_MAIN({"arena_allocates_aligned_and_frees_everything",
           arena_allocates_aligned_and_frees_everything},
          {"buf_is_bounded", buf_is_bounded})
