/* Minimal unit-test harness: TEST(name) functions registered in a table by the test file,
 * ASSERT macros that print both operands, and a runner that reports each test by name.
 * A failing assertion aborts the current test (longjmp) and the runner exits non-zero. */
#ifndef NOVA_TEST_H
#define NOVA_TEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern jmp_buf test__jmp;
extern int test__failed;
extern int test__in_test;

#define TEST__FAIL(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        longjmp(test__jmp, 1);                                                                     \
    } while (0)

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) TEST__FAIL("assertion failed: %s", #c);                                          \
    } while (0)
#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) TEST__FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);                        \
    } while (0)
#define ASSERT_NE(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_) TEST__FAIL("%s != %s: both %lld", #a, #b, a_);                               \
    } while (0)
#define ASSERT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            TEST__FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                   \
                       b_ ? b_ : "(null)");                                                        \
    } while (0)
#define ASSERT_MEMEQ(a, b, n)                                                                      \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            TEST__FAIL("%s == %s (%zu bytes) differ", #a, #b, (size_t)(n));                        \
    } while (0)

typedef struct {
    const char *name;
    void (*fn)(void);
} test_entry_t;

#define TEST(name) static void name(void)

/* Usage at the end of a test file: TEST_MAIN({"a", a}, {"b", b}). The binary exits 0 when every
 * test that ran passed, 1 on any failure, and 77 (ctest: skipped) when every test skipped. */
#define TEST_MAIN(...)                                                                             \
    jmp_buf test__jmp;                                                                             \
    int test__failed;                                                                              \
    int test__in_test;                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const test_entry_t tests[] = {__VA_ARGS__};                                         \
        volatile int failed = 0, ran = 0, skipped = 0;                                             \
        for (volatile size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {                     \
            if (argc > 1 && strcmp(argv[1], tests[i].name) != 0) continue;                         \
            ran++;                                                                                 \
            test__in_test = 1;                                                                     \
            int jr = setjmp(test__jmp);                                                            \
            if (jr == 0) {                                                                         \
                tests[i].fn();                                                                     \
                printf("ok   %s\n", tests[i].name);                                                \
            } else if (jr == 2) {                                                                  \
                printf("skip %s\n", tests[i].name);                                                \
                skipped++;                                                                         \
            } else {                                                                               \
                printf("FAIL %s\n", tests[i].name);                                                \
                failed++;                                                                          \
            }                                                                                      \
            test__in_test = 0;                                                                     \
        }                                                                                          \
        printf("%d/%d passed, %d skipped\n", ran - failed - skipped, ran, skipped);                \
        if (failed) return 1;                                                                      \
        if (ran == 0) return 1;                                                                    \
        return skipped == ran ? 77 : 0;                                                            \
    }

/* A test that needs something absent (../shared, a database) calls TEST_SKIP: inside a test it
 * skips that test only; outside any test it exits 77, which ctest reports as skipped. */
#define TEST_SKIP(why)                                                                             \
    do {                                                                                           \
        printf("skip: %s\n", why);                                                                 \
        if (test__in_test) longjmp(test__jmp, 2);                                                  \
        exit(77);                                                                                  \
    } while (0)

#endif
