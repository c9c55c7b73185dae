#include "core/json.h"
#include "test.h"

TEST(parse_valid_and_lookup)
{
    arena_t a;
    arena_init(&a);
    char err[200];
    const char *doc = "{\"name\":\"Zo\\u00eb\",\"n\":42,\"ok\":true,\"list\":[1,2]}";
    yajl_val v = json_parse(&a, doc, strlen(doc), 8, err, sizeof err);
    ASSERT(v != NULL);
    ASSERT_STREQ(json_get_str(v, "name"), "Zo\xc3\xab");
    int64_t n = 0;
    ASSERT(json_get_int(v, "n", &n));
    ASSERT_EQ(n, 42);
    bool b = false;
    ASSERT(json_get_bool(v, "ok", &b));
    ASSERT(b);
    ASSERT(json_get_str(v, "n") == NULL); /* wrong type */
    ASSERT(json_get(v, "missing") == NULL);
    arena_free(&a);
}

TEST(parse_errors_say_where)
{
    arena_t a;
    arena_init(&a);
    char err[200];
    ASSERT(json_parse(&a, "{\"a\":}", 6, 8, err, sizeof err) == NULL);
    ASSERT(strstr(err, "invalid JSON") != NULL);
    ASSERT(json_parse(&a, "[[[[[]]]]]", 10, 4, err, sizeof err) == NULL);
    ASSERT(strstr(err, "deeper than 4") != NULL);
    ASSERT(json_parse(&a, "\"\xff\"", 3, 4, err, sizeof err) == NULL);
    ASSERT(strstr(err, "UTF-8") != NULL);
    ASSERT(json_parse(&a, "", 0, 4, err, sizeof err) == NULL);
    /* brackets inside strings do not count towards depth */
    ASSERT(json_parse(&a, "[\"[[[[[[\"]", 10, 2, err, sizeof err) != NULL);
    arena_free(&a);
}

TEST(utf8_validation)
{
    ASSERT(json_utf8_valid("plain", 5));
    ASSERT(json_utf8_valid("\xe2\x82\xac", 3));      /* euro sign */
    ASSERT(!json_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    ASSERT(!json_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ASSERT(!json_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    ASSERT(!json_utf8_valid("\xe2\x82", 2));         /* truncated */
}

TEST(generator_repairs_invalid_utf8)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_kv_str(g, "s", "ok\xff!");
    json_kv_str(g, "n", NULL);
    json_kv_int(g, "i", -7);
    yajl_gen_map_close(g);
    const unsigned char *out;
    size_t len;
    ASSERT_EQ(yajl_gen_get_buf(g, &out, &len), yajl_gen_status_ok);
    ASSERT_STREQ((const char *)out, "{\"s\":\"ok\xef\xbf\xbd!\",\"n\":null,\"i\":-7}");
    yajl_gen_free(g);
}

TEST_MAIN({"parse_valid_and_lookup", parse_valid_and_lookup},
          {"parse_errors_say_where", parse_errors_say_where}, {"utf8_validation", utf8_validation},
          {"generator_repairs_invalid_utf8", generator_repairs_invalid_utf8})
