/* Unit tests for the streaming multipart/form-data parser: framing exactness under every chunk
 * split, limits, malformed input and zero-copy streaming of large parts. */
#include "test.h"

#include <errno.h>

#include "core/buf.h"
#include "http/multipart.h"

/* Records every callback into a transcript so different chunkings can be compared exactly. */
typedef struct {
    buf_t log;
    int begins, ends;
    int abort_on_data;
    const char *chunk; /* current input chunk, for zero-copy checks */
    size_t chunk_len;
    int foreign_slices; /* data slices outside the current chunk longer than a delimiter */
    size_t data_bytes;
} coll_t;

static int on_begin(void *u, const multipart_part_t *p)
{
    coll_t *c = u;
    c->begins++;
    buf_printf(&c->log, "<begin %zu name=%s file=%s ct=%s>", p->index, p->name,
               p->filename ? p->filename : "(none)", p->content_type ? p->content_type : "(none)");
    return 0;
}

static int on_data(void *u, const char *d, size_t n)
{
    coll_t *c = u;
    if (c->abort_on_data) return 1;
    if (c->chunk && !(d >= c->chunk && d + n <= c->chunk + c->chunk_len) && n > 74)
        c->foreign_slices++;
    c->data_bytes += n;
    buf_append(&c->log, d, n);
    return 0;
}

static int on_end(void *u, const multipart_part_t *p)
{
    coll_t *c = u;
    c->ends++;
    buf_printf(&c->log, "<end %s>", p->name);
    return 0;
}

static const multipart_callbacks_t CBS = {on_begin, on_data, on_end};

static void coll_init(coll_t *c)
{
    memset(c, 0, sizeof *c);
    buf_init(&c->log, 1 << 20);
}

/* Parses body split at the given ascending cut points; returns feed/finish status. */
static int run_split(const char *boundary, const char *body, size_t len, const size_t *cuts,
                     size_t ncuts, const multipart_limits_t *lim, coll_t *c, multipart_error_t *err)
{
    multipart_parser_t *p = multipart_parser_new(boundary, lim, &CBS, c);
    ASSERT(p != NULL);
    size_t prev = 0;
    int rc = 0;
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        rc = multipart_parser_feed(p, body + prev, end - prev);
        prev = end;
    }
    if (rc == 0) rc = multipart_parser_finish(p);
    if (err) *err = multipart_parser_error(p);
    multipart_parser_free(p);
    return rc;
}

static int run_once(const char *boundary, const char *body, size_t len, coll_t *c,
                    multipart_error_t *err)
{
    return run_split(boundary, body, len, NULL, 0, NULL, c, err);
}

#define B  "----WebKitFormBoundary7MA4YWxkTrZu0gW"
#define BP "----WebKitFormBoundary7MA4YWxkTrZu0g" /* B minus its last character */
/* File bytes: "--"B after LF only, delimiter prefixes cut short by another byte or by a new CR,
 * and CR CR LF right before the real delimiter. A full CRLF--B never appears: RFC 2046 forbids
 * it inside a part and the parser rightly treats it as a delimiter. */
#define DATA                                                                                       \
    "\x89PNG\r\n\x1a\n--" B "\r--\r\n--" BP "X\r\n-\r\n--" BP "\r\r\n--"                           \
    "----WebKit\r\r\n"
/* A sample with a tricky file body: CR, LF, "--" + boundary without CRLF, a CRLF followed by a
 * prefix of the delimiter, and a trailing CR right before the real delimiter. */
static const char SAMPLE[] =
    "preamble --" B " is ignored\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "The Moon & Me\r\n"
    "--" B "\r\n"
    "content-disposition: form-data; name=\"photo\"; filename=\"moon \\\"big\\\".png\"\r\n"
    "Content-Type: image/png\r\n"
    "\r\n" DATA "\r\n--" B "\r\n"
    "Content-Disposition: form-data; name=empty\r\n"
    "\r\n"
    "\r\n--" B "--\r\n"
    "epilogue --" B "-- garbage\r\n";

static const char SAMPLE_LOG[] =
    "<begin 0 name=title file=(none) ct=(none)>The Moon & Me<end title>"
    "<begin 1 name=photo file=moon \"big\".png ct=image/png>" DATA "<end photo>"
    "<begin 2 name=empty file=(none) ct=(none)><end empty>";

TEST(boundary_from_content_type)
{
    char b[MULTIPART_BOUNDARY_MAX + 1];
    ASSERT_EQ(
        multipart_boundary_from_content_type("multipart/form-data; boundary=abc", b, sizeof b), 0);
    ASSERT_STREQ(b, "abc");
    ASSERT_EQ(
        multipart_boundary_from_content_type("Multipart/Form-Data;BOUNDARY=\"x y'z\"", b, sizeof b),
        0);
    ASSERT_STREQ(b, "x y'z");
    ASSERT_EQ(multipart_boundary_from_content_type(
                  "multipart/form-data ; charset=utf-8 ; Boundary = \"a:b=c?\" ; x=1", b, sizeof b),
              0);
    ASSERT_STREQ(b, "a:b=c?");
    /* A boundary-looking text inside another quoted parameter is not the boundary. */
    ASSERT_EQ(multipart_boundary_from_content_type(
                  "multipart/form-data; x=\"; boundary=evil\"; boundary=good", b, sizeof b),
              0);
    ASSERT_STREQ(b, "good");
    ASSERT_EQ(multipart_boundary_from_content_type("multipart/form-data; boundary=\"a\\-b\"", b,
                                                   sizeof b),
              0);
    ASSERT_STREQ(b, "a-b");

    char seventy[80];
    memset(seventy, 'a', 70);
    seventy[70] = '\0';
    char ct[160];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", seventy);
    ASSERT_EQ(multipart_boundary_from_content_type(ct, b, sizeof b), 0);
    ASSERT_EQ(strlen(b), 70);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%sa", seventy);
    ASSERT_EQ(multipart_boundary_from_content_type(ct, b, sizeof b), -EINVAL);
    ASSERT_EQ(multipart_boundary_from_content_type("multipart/form-data; boundary=abc", b, 3),
              -ENOSPC);

    ASSERT_EQ(multipart_boundary_from_content_type("multipart/form-data", b, sizeof b), -ENOENT);
    ASSERT_EQ(
        multipart_boundary_from_content_type("multipart/form-data; charset=utf-8", b, sizeof b),
        -ENOENT);
    const char *bad[] = {
        "multipart/mixed; boundary=abc",
        "text/plain; boundary=abc",
        "multipart/form-datax; boundary=abc",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"abc \"", /* trailing space */
        "multipart/form-data; boundary=ab@c",     /* not a bchar */
        "multipart/form-data; boundary=\"ab\"c\"",
        "multipart/form-data; boundary=\"abc",
        "multipart/form-data; boundary=a; boundary=b",
        "multipart/form-data boundary=abc",
        "multipart/form-data; =abc",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (multipart_boundary_from_content_type(bad[i], b, sizeof b) != -EINVAL)
            TEST__FAIL("accepted bad content type [%s]", bad[i]);
    }
}

TEST(parses_sample_one_shot)
{
    coll_t c;
    coll_init(&c);
    multipart_error_t err;
    ASSERT_EQ(run_once(B, SAMPLE, sizeof SAMPLE - 1, &c, &err), 0);
    ASSERT_EQ(err, MULTIPART_ERR_NONE);
    ASSERT_EQ(c.begins, 3);
    ASSERT_EQ(c.ends, 3);
    ASSERT_EQ(c.log.len, sizeof SAMPLE_LOG - 1);
    ASSERT_MEMEQ(c.log.data, SAMPLE_LOG, c.log.len);
    buf_free(&c.log);
}

TEST(byte_by_byte_equals_one_shot)
{
    size_t len = sizeof SAMPLE - 1;
    size_t *cuts = malloc(len * sizeof *cuts);
    for (size_t i = 0; i < len - 1; i++)
        cuts[i] = i + 1;
    coll_t c;
    coll_init(&c);
    ASSERT_EQ(run_split(B, SAMPLE, len, cuts, len - 1, NULL, &c, NULL), 0);
    free(cuts);
    ASSERT_EQ(c.log.len, sizeof SAMPLE_LOG - 1);
    ASSERT_MEMEQ(c.log.data, SAMPLE_LOG, c.log.len);
    buf_free(&c.log);
}

TEST(every_split_position_equals_one_shot)
{
    size_t len = sizeof SAMPLE - 1;
    for (size_t i = 0; i <= len; i++) {
        /* One cut at i, and a second cut at every 5th later position. */
        for (size_t j = i; j <= len; j += (j == i ? 1 : 5)) {
            size_t cuts[2] = {i, j};
            coll_t c;
            coll_init(&c);
            int rc = run_split(B, SAMPLE, len, cuts, 2, NULL, &c, NULL);
            if (rc != 0 || c.log.len != sizeof SAMPLE_LOG - 1 ||
                memcmp(c.log.data, SAMPLE_LOG, c.log.len) != 0)
                TEST__FAIL("split at %zu,%zu differs (rc %d)", i, j, rc);
            buf_free(&c.log);
        }
    }
}

TEST(truncated_body_fails_at_finish)
{
    const char *close = strstr(SAMPLE, "--" B "--");
    size_t full = (size_t)(close - SAMPLE) + strlen("--" B "--");
    for (size_t cut = 0; cut < full; cut++) {
        coll_t c;
        coll_init(&c);
        multipart_error_t err;
        int rc = run_once(B, SAMPLE, cut, &c, &err);
        if (rc != -EBADMSG || err != MULTIPART_ERR_TRUNCATED)
            TEST__FAIL("prefix of %zu bytes: rc %d err %s", cut, rc, multipart_error_name(err));
        buf_free(&c.log);
    }
    coll_t c;
    coll_init(&c);
    ASSERT_EQ(run_once(B, SAMPLE, full, &c, NULL), 0); /* close delimiter without CRLF is fine */
    buf_free(&c.log);
}

TEST(no_boundary_at_all)
{
    static const char body[] = "just some text --" B "\r\nnot a part";
    multipart_parser_t *p = multipart_parser_new(B, NULL, NULL, NULL);
    ASSERT_EQ(multipart_parser_feed(p, body, sizeof body - 1), 0);
    ASSERT_EQ(multipart_parser_finish(p), -EBADMSG);
    ASSERT_EQ(multipart_parser_error(p), MULTIPART_ERR_TRUNCATED);
    ASSERT(strstr(multipart_parser_error_detail(p), "no boundary") != NULL);
    /* Feeding after a failure keeps failing. */
    ASSERT_EQ(multipart_parser_feed(p, "x", 1), -EBADMSG);
    multipart_parser_free(p);
}

TEST(leading_crlf_and_padding_accepted)
{
    static const char body[] = "\r\n--b \t\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                               "1\r\n--b--";
    coll_t c;
    coll_init(&c);
    ASSERT_EQ(run_once("b", body, sizeof body - 1, &c, NULL), 0);
    buf_append(&c.log, "", 1);
    ASSERT_STREQ(c.log.data, "<begin 0 name=a file=(none) ct=(none)>1<end a>");
    buf_free(&c.log);
}

TEST(quoted_boundary_with_space)
{
    char b[MULTIPART_BOUNDARY_MAX + 1];
    ASSERT_EQ(
        multipart_boundary_from_content_type("multipart/form-data; boundary=\"a b\"", b, sizeof b),
        0);
    static const char body[] = "--a b\r\nContent-Disposition: form-data; name=x\r\n\r\n"
                               "--a c\r\n--a b--\r\n";
    coll_t c;
    coll_init(&c);
    ASSERT_EQ(run_once(b, body, sizeof body - 1, &c, NULL), 0);
    buf_append(&c.log, "", 1);
    ASSERT_STREQ(c.log.data, "<begin 0 name=x file=(none) ct=(none)>--a c<end x>");
    buf_free(&c.log);
}

TEST(filename_variants)
{
    static const char body[] =
        "--b\r\nContent-Disposition: form-data; name=\"f1\"; filename=\"a\\\\b\\\"c.txt\"\r\n\r\n"
        "\r\n--b\r\nContent-Disposition: form-data; filename=\"x.txt\"; "
        "filename*=UTF-8''%E2%82%AC%20rates.txt; name=f2\r\n\r\n"
        "\r\n--b\r\nContent-Disposition: form-data; name=f3; filename=\"plain.txt\"; "
        "filename*=iso-8859-1'en'%A3.txt\r\n\r\n"
        "\r\n--b\r\nCONTENT-DISPOSITION: FORM-DATA; NAME=f4; FILENAME=\"\"\r\n"
        "X-Other: ignored\r\ncontent-type:  text/plain; charset=utf-8  \r\n\r\n"
        "\r\n--b--";
    coll_t c;
    coll_init(&c);
    ASSERT_EQ(run_once("b", body, sizeof body - 1, &c, NULL), 0);
    buf_append(&c.log, "", 1);
    ASSERT_STREQ(c.log.data, "<begin 0 name=f1 file=a\\b\"c.txt ct=(none)><end f1>"
                             "<begin 1 name=f2 file=\xE2\x82\xAC rates.txt ct=(none)><end f2>"
                             "<begin 2 name=f3 file=plain.txt ct=(none)><end f3>"
                             "<begin 3 name=f4 file= ct=text/plain; charset=utf-8><end f4>");
    buf_free(&c.log);
}

static void expect_error(const char *body, const multipart_limits_t *lim, int want_rc,
                         multipart_error_t want_err)
{
    coll_t c;
    coll_init(&c);
    multipart_error_t err;
    int rc = run_split("b", body, strlen(body), NULL, 0, lim, &c, &err);
    if (rc != want_rc || err != want_err)
        TEST__FAIL("body [%s]: rc %d err %s, want %d %s", body, rc, multipart_error_name(err),
                   want_rc, multipart_error_name(want_err));
    buf_free(&c.log);
}

TEST(malformed_headers)
{
#define CD "Content-Disposition: form-data; name=a"
    expect_error("--b\r\n" CD "\n\r\n\r\n--b--", NULL, -EBADMSG, MULTIPART_ERR_HEADER_MALFORMED);
    expect_error("--b\r\n" CD "\r\r\n\r\n--b--", NULL, -EBADMSG, MULTIPART_ERR_HEADER_MALFORMED);
    expect_error("--b\r\n" CD "\r\nNoColon\r\n\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_HEADER_MALFORMED);
    expect_error("--b\r\n" CD "\r\n folded\r\n\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_HEADER_MALFORMED);
    expect_error("--b\r\nContent-Disposition : form-data; name=a\r\n\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_HEADER_MALFORMED);
    expect_error("--b\r\n" CD "\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_HEADER_MALFORMED);
    expect_error("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_DISPOSITION);
    expect_error("--b\r\n\r\nx\r\n--b--", NULL, -EBADMSG, MULTIPART_ERR_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: attachment; name=a\r\n\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n--b--", NULL,
                 -EBADMSG, MULTIPART_ERR_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_DISPOSITION);
    expect_error("--b\r\n" CD "\r\n" CD "\r\n\r\n--b--", NULL, -EBADMSG, MULTIPART_ERR_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; filename*=UTF-8''%00; name=a\r\n\r\n--b--",
                 NULL, -EBADMSG, MULTIPART_ERR_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; filename=x\r\n\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_NAME_MISSING);
    expect_error("--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n--b--", NULL, -EBADMSG,
                 MULTIPART_ERR_NAME_MISSING);
    expect_error("--bX\r\n" CD "\r\n\r\n--b--", NULL, -EBADMSG, MULTIPART_ERR_BOUNDARY_LINE);
    expect_error("--b\r\n" CD "\r\n\r\nx\r\n--b-x", NULL, -EBADMSG, MULTIPART_ERR_BOUNDARY_LINE);
    expect_error("--b\rx", NULL, -EBADMSG, MULTIPART_ERR_BOUNDARY_LINE);

    /* NUL inside headers (strlen cannot carry it, so feed by hand). */
    static const char nul[] = "--b\r\nContent-Disposition: form-data; name=a\0b\r\n\r\n--b--";
    coll_t c;
    coll_init(&c);
    multipart_error_t err;
    ASSERT_EQ(run_once("b", nul, sizeof nul - 1, &c, &err), -EBADMSG);
    ASSERT_EQ(err, MULTIPART_ERR_HEADER_MALFORMED);
    buf_free(&c.log);
#undef CD
}

TEST(limits)
{
    multipart_limits_t lim = {.max_header_bytes = 128, .max_parts = 2, .max_name_len = 8};
    char body[1024];
    snprintf(body, sizeof body,
             "--b\r\nContent-Disposition: form-data; name=a\r\nX-Pad: %0100d\r\n\r\n\r\n--b--", 0);
    coll_t c;
    coll_init(&c);
    multipart_parser_t *p = multipart_parser_new("b", &lim, &CBS, &c);
    ASSERT_EQ(multipart_parser_feed(p, body, strlen(body)), -E2BIG);
    ASSERT_EQ(multipart_parser_error(p), MULTIPART_ERR_HEADER_TOO_LARGE);
    /* Header block starts at byte 5; the 129th header byte is the first one refused. */
    ASSERT_STREQ(multipart_parser_error_detail(p),
                 "at byte 133: part header block exceeds 128 bytes");
    multipart_parser_free(p);
    buf_free(&c.log);

    expect_error("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
                 "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n\r\n"
                 "--b\r\nContent-Disposition: form-data; name=c\r\n\r\n\r\n--b--",
                 &lim, -E2BIG, MULTIPART_ERR_TOO_MANY_PARTS);
    expect_error("--b\r\nContent-Disposition: form-data; name=abcdefghi\r\n\r\n\r\n--b--", &lim,
                 -E2BIG, MULTIPART_ERR_NAME_TOO_LONG);
    expect_error("--b\r\nContent-Disposition: form-data; name=abcdefgh\r\n\r\n\r\n--b--", &lim, 0,
                 MULTIPART_ERR_NONE);
    /* Default header limit is 8 KiB: a 9000-byte header fails even without explicit limits. */
    char *big = malloc(10000);
    int n = snprintf(big, 10000, "--b\r\nContent-Disposition: form-data; name=a\r\nX: ");
    memset(big + n, 'x', 9000);
    strcpy(big + n + 9000, "\r\n\r\n\r\n--b--");
    expect_error(big, NULL, -E2BIG, MULTIPART_ERR_HEADER_TOO_LARGE);
    free(big);
}

static int abort_begin(void *u, const multipart_part_t *p)
{
    (void)u;
    return strcmp(p->name, "stop") == 0;
}

TEST(callback_abort)
{
    static const char body[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nxyz\r\n--b--";
    coll_t c;
    coll_init(&c);
    c.abort_on_data = 1;
    multipart_parser_t *p = multipart_parser_new("b", NULL, &CBS, &c);
    ASSERT_EQ(multipart_parser_feed(p, body, sizeof body - 1), -ECANCELED);
    ASSERT_EQ(multipart_parser_error(p), MULTIPART_ERR_CALLBACK);
    ASSERT_EQ(multipart_parser_finish(p), -ECANCELED);
    multipart_parser_free(p);
    buf_free(&c.log);

    multipart_callbacks_t cbs = {abort_begin, NULL, NULL};
    static const char b2[] = "--b\r\nContent-Disposition: form-data; name=stop\r\n\r\n\r\n--b--";
    p = multipart_parser_new("b", NULL, &cbs, NULL);
    ASSERT_EQ(multipart_parser_feed(p, b2, sizeof b2 - 1), -ECANCELED);
    multipart_parser_free(p);
}

TEST(finish_then_feed_is_state_error)
{
    static const char body[] = "--b--\r\n";
    multipart_parser_t *p = multipart_parser_new("b", NULL, NULL, NULL);
    ASSERT_EQ(multipart_parser_feed(p, body, sizeof body - 1), 0);
    ASSERT_EQ(multipart_parser_finish(p), 0);
    ASSERT_EQ(multipart_parser_part_count(p), 0);
    ASSERT_EQ(multipart_parser_feed(p, "x", 1), -EINVAL);
    ASSERT_EQ(multipart_parser_error(p), MULTIPART_ERR_STATE);
    multipart_parser_free(p);
    ASSERT(multipart_parser_new("bad@boundary", NULL, NULL, NULL) == NULL);
    ASSERT(multipart_parser_new("", NULL, NULL, NULL) == NULL);
}

/* A 16 MiB part fed in 64 KiB chunks arrives intact, as slices of the input (zero-copy), with
 * parser memory fixed at creation. Every 4 KiB of the payload holds a CRLF and "--b" to keep
 * the delimiter matcher busy. */
TEST(large_part_streams_zero_copy)
{
    const size_t payload = 16u << 20, chunk = 64u << 10;
    static const char head[] = "--bnd\r\nContent-Disposition: form-data; name=f; "
                               "filename=big.bin\r\n\r\n";
    static const char tail[] = "\r\n--bnd--\r\n";
    size_t total = sizeof head - 1 + payload + sizeof tail - 1;
    char *body = malloc(total);
    memcpy(body, head, sizeof head - 1);
    char *pl = body + sizeof head - 1;
    for (size_t i = 0; i < payload; i++)
        pl[i] = (char)(i * 131 % 251);
    for (size_t i = 0; i + 8 < payload; i += 4096)
        memcpy(pl + i, "\r\n--bn\r\n", 8);
    memcpy(pl + payload, tail, sizeof tail - 1);

    coll_t c;
    coll_init(&c);
    buf_free(&c.log);
    buf_init(&c.log, 64); /* transcript overflows harmlessly; we count bytes instead */
    multipart_parser_t *p = multipart_parser_new("bnd", NULL, &CBS, &c);
    for (size_t off = 0; off < total; off += chunk) {
        size_t n = total - off < chunk ? total - off : chunk;
        c.chunk = body + off;
        c.chunk_len = n;
        ASSERT_EQ(multipart_parser_feed(p, body + off, n), 0);
    }
    ASSERT_EQ(multipart_parser_finish(p), 0);
    ASSERT_EQ(c.data_bytes, payload);
    ASSERT_EQ(c.foreign_slices, 0);
    ASSERT_EQ(c.ends, 1);
    multipart_parser_free(p);
    buf_free(&c.log);
    free(body);
}

TEST(error_names_distinct)
{
    ASSERT_STREQ(multipart_error_name(MULTIPART_ERR_TRUNCATED), "truncated");
    ASSERT_STREQ(multipart_error_name(MULTIPART_ERR_HEADER_TOO_LARGE), "header_too_large");
    for (int a = 0; a <= MULTIPART_ERR_STATE; a++)
        for (int b = a + 1; b <= MULTIPART_ERR_STATE; b++)
            ASSERT(strcmp(multipart_error_name(a), multipart_error_name(b)) != 0);
}

TEST_MAIN({"boundary_from_content_type", boundary_from_content_type},
          {"parses_sample_one_shot", parses_sample_one_shot},
          {"byte_by_byte_equals_one_shot", byte_by_byte_equals_one_shot},
          {"every_split_position_equals_one_shot", every_split_position_equals_one_shot},
          {"truncated_body_fails_at_finish", truncated_body_fails_at_finish},
          {"no_boundary_at_all", no_boundary_at_all},
          {"leading_crlf_and_padding_accepted", leading_crlf_and_padding_accepted},
          {"quoted_boundary_with_space", quoted_boundary_with_space},
          {"filename_variants", filename_variants}, {"malformed_headers", malformed_headers},
          {"limits", limits}, {"callback_abort", callback_abort},
          {"finish_then_feed_is_state_error", finish_then_feed_is_state_error},
          {"large_part_streams_zero_copy", large_part_streams_zero_copy},
          {"error_names_distinct", error_names_distinct})
