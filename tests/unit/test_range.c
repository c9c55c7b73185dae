/* Unit tests for Range / If-Range / If-None-Match / ETag / HTTP-date helpers. */
#include "test.h"

#include <errno.h>

#include "http/range.h"

typedef struct {
    const char *header;
    uint64_t size;
    range_result_t want;
    uint64_t start, end;
} range_case_t;

TEST(range_table)
{
    static const range_case_t cases[] = {
        {NULL, 100, RANGE_FULL, 0, 0},
        {"bytes=0-0", 100, RANGE_PARTIAL, 0, 0},
        {"bytes=0-99", 100, RANGE_PARTIAL, 0, 99},
        {"bytes=0-", 100, RANGE_PARTIAL, 0, 99},
        {"bytes=10-19", 100, RANGE_PARTIAL, 10, 19},
        {"bytes=90-200", 100, RANGE_PARTIAL, 90, 99}, /* last clamps to size - 1 */
        {"bytes=99-", 100, RANGE_PARTIAL, 99, 99},
        {"bytes=-1", 100, RANGE_PARTIAL, 99, 99},
        {"bytes=-10", 5, RANGE_PARTIAL, 0, 4}, /* suffix longer than file: all */
        {"bytes=-5", 5, RANGE_PARTIAL, 0, 4},
        {"bytes=-0", 5, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5-", 5, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5-10", 5, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0}, /* empty file has no bytes to range */
        {"bytes=-1", 0, RANGE_UNSATISFIABLE, 0, 0},
        {"BYTES=1-2", 10, RANGE_PARTIAL, 1, 2},   /* unit is case-insensitive */
        {"bytes= 1-2 ", 10, RANGE_PARTIAL, 1, 2}, /* OWS around list elements */
        {"bytes=1-2,", 10, RANGE_PARTIAL, 1, 2},  /* empty list elements */
        {"bytes=, ,1-2", 10, RANGE_PARTIAL, 1, 2},
        {"bytes=1 - 2", 10, RANGE_FULL, 0, 0}, /* no spaces inside a range-spec */
        {"bytes =1-2", 10, RANGE_FULL, 0, 0},
        {"bytes=2-1", 10, RANGE_FULL, 0, 0}, /* invalid: first > last */
        {"bytes=", 10, RANGE_FULL, 0, 0},
        {"bytes=-", 10, RANGE_FULL, 0, 0},
        {"bytes=--1", 10, RANGE_FULL, 0, 0},
        {"bytes=1", 10, RANGE_FULL, 0, 0},
        {"bytes=a-b", 10, RANGE_FULL, 0, 0},
        {"bytes=+1-2", 10, RANGE_FULL, 0, 0},
        {"bytes=0x1-2", 10, RANGE_FULL, 0, 0},
        {"items=0-1", 10, RANGE_FULL, 0, 0},
        {"bytes 0-1", 10, RANGE_FULL, 0, 0},
        {"", 10, RANGE_FULL, 0, 0},
        {"bytes=0-1,5-6", 10, RANGE_FULL, 0, 0}, /* multi-range: whole body (policy) */
        {"bytes=0-1, 20-30", 10, RANGE_FULL, 0, 0},
        {"bytes=0-1,x", 10, RANGE_FULL, 0, 0},
        /* Overflow: saturate rather than wrap. */
        {"bytes=0-99999999999999999999999999", 10, RANGE_PARTIAL, 0, 9},
        {"bytes=18446744073709551615-", 10, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=18446744073709551616-18446744073709551617", 10, RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-99999999999999999999999999", 10, RANGE_PARTIAL, 0, 9},
        {"bytes=5-18446744073709551614", UINT64_MAX, RANGE_PARTIAL, 5, 18446744073709551614u},
        {"bytes=-18446744073709551615", UINT64_MAX, RANGE_PARTIAL, 0, UINT64_MAX - 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const range_case_t *c = &cases[i];
        range_t r = {7, 7};
        range_result_t got = range_parse(c->header, c->size, &r);
        if (got != c->want || r.start != c->start || r.end != c->end)
            TEST__FAIL("[%s] size %llu: got %d %llu-%llu, want %d %llu-%llu",
                       c->header ? c->header : "(null)", (unsigned long long)c->size, got,
                       (unsigned long long)r.start, (unsigned long long)r.end, c->want,
                       (unsigned long long)c->start, (unsigned long long)c->end);
    }
}

TEST(content_range_values)
{
    char b[RANGE_CONTENT_RANGE_MAX];
    range_t r = {0, 4};
    ASSERT_EQ(range_content_range(b, sizeof b, &r, 5), 11);
    ASSERT_STREQ(b, "bytes 0-4/5");
    ASSERT_EQ(range_content_range(b, sizeof b, NULL, 5), 9);
    ASSERT_STREQ(b, "bytes */5");
    r.start = r.end = UINT64_MAX - 1;
    ASSERT(range_content_range(b, sizeof b, &r, UINT64_MAX) > 0);
    ASSERT_STREQ(b, "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
    ASSERT_EQ(range_content_range(b, 5, &r, 10), -ENOSPC);
}

TEST(etag_make_and_change)
{
    char a[RANGE_ETAG_MAX], b[RANGE_ETAG_MAX];
    ASSERT(range_etag_make(a, sizeof a, 1234, 1700000000123456789LL, 42) > 0);
    ASSERT_STREQ(a, "\"4d2-17979cfe3d85cd15-2a\"");
    ASSERT(range_etag_make(b, sizeof b, 1234, 1700000000123456790LL, 42) > 0);
    ASSERT(strcmp(a, b) != 0); /* 1 ns later */
    ASSERT(range_etag_make(b, sizeof b, 1234, 1700000000123456789LL, 43) > 0);
    ASSERT(strcmp(a, b) != 0); /* replaced by rename */
    ASSERT(range_etag_make(b, sizeof b, UINT64_MAX, -1, UINT64_MAX) > 0);
    ASSERT(strlen(b) < RANGE_ETAG_MAX);
    ASSERT_EQ(range_etag_make(b, 4, 1, 1, 1), -ENOSPC);
}

TEST(if_none_match)
{
    const char *etag = "\"abc-1\"";
    ASSERT(!range_if_none_match(NULL, etag));
    ASSERT(range_if_none_match("\"abc-1\"", etag));
    ASSERT(range_if_none_match("W/\"abc-1\"", etag)); /* weak comparison */
    ASSERT(range_if_none_match("\"x\", W/\"abc-1\"", etag));
    ASSERT(range_if_none_match("\"x\",\"abc-1\" , \"y\"", etag));
    ASSERT(range_if_none_match("*", etag));
    ASSERT(range_if_none_match(" * ", etag));
    ASSERT(!range_if_none_match("\"abc-2\"", etag));
    ASSERT(!range_if_none_match("\"abc-1", etag));        /* unterminated */
    ASSERT(!range_if_none_match("abc-1", etag));          /* unquoted */
    ASSERT(!range_if_none_match("\"abc-1\" junk", etag)); /* malformed list: no 304 */
    ASSERT(!range_if_none_match("*, \"abc-1\"", etag));
    ASSERT(!range_if_none_match("", etag));
    ASSERT(!range_if_none_match("w/\"abc-1\"", etag)); /* W is case-sensitive */
    ASSERT(!range_if_none_match("\"ABC-1\"", etag));
}

TEST(if_range)
{
    const char *etag = "\"abc-1\"";
    time_t lm = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    ASSERT(range_if_range_ok(NULL, etag, lm));
    ASSERT(range_if_range_ok("\"abc-1\"", etag, lm));
    ASSERT(!range_if_range_ok("W/\"abc-1\"", etag, lm)); /* weak never matches If-Range */
    ASSERT(!range_if_range_ok("\"abc-2\"", etag, lm));
    ASSERT(!range_if_range_ok("\"abc-1\", \"x\"", etag, lm));
    ASSERT(!range_if_range_ok("\"abc-1\"", "W/\"abc-1\"", lm));
    ASSERT(!range_if_range_ok("\"abc-1\"", NULL, lm));
    ASSERT(range_if_range_ok("Sun, 06 Nov 1994 08:49:37 GMT", etag, lm));
    ASSERT(range_if_range_ok("Sunday, 06-Nov-94 08:49:37 GMT", etag, lm));
    ASSERT(range_if_range_ok("Sun Nov  6 08:49:37 1994", etag, lm));
    ASSERT(!range_if_range_ok("Sun, 06 Nov 1994 08:49:38 GMT", etag, lm));
    ASSERT(!range_if_range_ok("Sun, 06 Nov 1994 08:49:36 GMT", etag, lm));
    ASSERT(!range_if_range_ok("yesterday", etag, lm));
    ASSERT(!range_if_range_ok("", etag, lm));
}

TEST(http_date_format)
{
    char b[RANGE_HTTP_DATE_LEN];
    ASSERT_EQ(range_http_date_format(784111777, b), 0);
    ASSERT_STREQ(b, "Sun, 06 Nov 1994 08:49:37 GMT");
    ASSERT_EQ(range_http_date_format(0, b), 0);
    ASSERT_STREQ(b, "Thu, 01 Jan 1970 00:00:00 GMT");
    ASSERT_EQ(range_http_date_format(951782400, b), 0); /* leap day of a /400 year */
    ASSERT_STREQ(b, "Tue, 29 Feb 2000 00:00:00 GMT");
    ASSERT_EQ(range_http_date_format(253402300799LL, b), 0);
    ASSERT_STREQ(b, "Fri, 31 Dec 9999 23:59:59 GMT");
    ASSERT_EQ(range_http_date_format(-1, b), 0);
    ASSERT_STREQ(b, "Wed, 31 Dec 1969 23:59:59 GMT");
    ASSERT_EQ(range_http_date_format(253402300800LL, b), -ERANGE);
    /* Round trip across a range of instants, against the C library as an oracle. */
    for (time_t t = 0; t < 4102444800; t += 86400 * 37 + 3671) {
        time_t back;
        ASSERT_EQ(range_http_date_format(t, b), 0);
        ASSERT_EQ(range_http_date_parse(b, &back), 0);
        ASSERT_EQ(back, t);
        struct tm tm;
        char want[64];
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        ASSERT_STREQ(b, want);
    }
}

TEST(http_date_parse)
{
    time_t t;
    ASSERT_EQ(range_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    ASSERT_EQ(t, 784111777);
    ASSERT_EQ(range_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    ASSERT_EQ(t, 784111777);
    ASSERT_EQ(range_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    ASSERT_EQ(t, 784111777);
    ASSERT_EQ(range_http_date_parse("Thu Feb 29 12:00:00 2024", &t), 0);
    ASSERT_EQ(t, 1709208000);
    ASSERT_EQ(range_http_date_parse("Thursday, 29-Feb-24 12:00:00 GMT", &t), 0);
    ASSERT_EQ(t, 1709208000); /* two-digit year within 50 years: this century */
    ASSERT_EQ(range_http_date_parse("  Sun, 06 Nov 1994 08:49:37 GMT ", &t), 0);
    const char *bad[] = {
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMTx",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "",
        "1700000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (range_http_date_parse(bad[i], &t) != -EINVAL) TEST__FAIL("accepted [%s]", bad[i]);
    ASSERT_EQ(range_http_date_parse(NULL, &t), -EINVAL);
}

TEST_MAIN({"range_table", range_table}, {"content_range_values", content_range_values},
          {"etag_make_and_change", etag_make_and_change}, {"if_none_match", if_none_match},
          {"if_range", if_range}, {"http_date_format", http_date_format},
          {"http_date_parse", http_date_parse})
