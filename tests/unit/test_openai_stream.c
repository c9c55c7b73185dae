/* openai_stream: the SSE chat-completions parser fed whole, in every split, and byte by byte. */
#include "providers/openai_stream.h"
#include "core/buf.h"
#include "test.h"

typedef struct {
    buf_t text;
    int deltas, done, errors, err_code;
    char finish[32];
    char detail[256];
    int abort_after; /* on_delta returns non-zero at this delta number (1-based); 0 = never */
} out_t;

static int o_delta(void *arg, const char *s, size_t n)
{
    out_t *o = arg;
    o->deltas++;
    buf_append(&o->text, s, n);
    return o->abort_after && o->deltas >= o->abort_after;
}

static int o_finish(void *arg, const char *reason)
{
    snprintf(((out_t *)arg)->finish, 32, "%s", reason);
    return 0;
}

static void o_error(void *arg, int code, const char *detail)
{
    out_t *o = arg;
    o->errors++;
    o->err_code = code;
    snprintf(o->detail, sizeof o->detail, "%s", detail);
}

static void o_done(void *arg)
{
    ((out_t *)arg)->done++;
}

static const openai_stream_callbacks_t CBS = {o_delta, o_finish, o_error, o_done};

/* Parses `in` fed in pieces of `step` bytes (0 = all at once); returns feed/finish's result. */
static int run(const char *in, size_t len, size_t step, out_t *o, size_t max_line)
{
    memset(o, 0, sizeof *o);
    buf_init(&o->text, 1 << 20);
    openai_stream_t *p = openai_stream_new(&CBS, o, max_line);
    ASSERT(p);
    int rc = 0;
    if (!step) step = len ? len : 1;
    for (size_t i = 0; i < len && rc == 0; i += step)
        rc = openai_stream_feed(p, in + i, len - i < step ? len - i : step);
    if (rc == 0) rc = openai_stream_finish(p);
    openai_stream_free(p);
    return rc;
}

static const char STREAM[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once "
    "\"},\"finish_reason\":null}]}\n\n"
    ": keep-alive comment\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"upon a \\u00e9t\\u00e9 \"}}]}\n\n"
    "event: message\nid: 7\nretry: 100\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"time.\\n\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"
    "data: [DONE]\n\n";
static const char WANT[] = "Once upon a \xc3\xa9t\xc3\xa9 time.\n";

TEST(deltas_joined_and_done)
{
    out_t o;
    ASSERT_EQ(run(STREAM, strlen(STREAM), 0, &o, 0), 0);
    ASSERT_STREQ(o.text.data, WANT);
    ASSERT_EQ(o.deltas, 3); /* the empty first content is not reported */
    ASSERT_STREQ(o.finish, "stop");
    ASSERT_EQ(o.done, 1);
    ASSERT_EQ(o.errors, 0);
    buf_free(&o.text);
}

TEST(every_split_and_byte_by_byte)
{
    out_t o;
    for (size_t step = 1; step < 64; step++) {
        ASSERT_EQ(run(STREAM, strlen(STREAM), step, &o, 0), 0);
        ASSERT_STREQ(o.text.data, WANT);
        ASSERT_EQ(o.done, 1);
        buf_free(&o.text);
    }
    /* Every two-piece split as well. */
    size_t n = strlen(STREAM);
    for (size_t cut = 0; cut <= n; cut++) {
        memset(&o, 0, sizeof o);
        buf_init(&o.text, 1 << 20);
        openai_stream_t *p = openai_stream_new(&CBS, &o, 0);
        ASSERT_EQ(openai_stream_feed(p, STREAM, cut), 0);
        ASSERT_EQ(openai_stream_feed(p, STREAM + cut, n - cut), 0);
        ASSERT_EQ(openai_stream_finish(p), 0);
        ASSERT_STREQ(o.text.data, WANT);
        openai_stream_free(p);
        buf_free(&o.text);
    }
}

/* Rewrites LF line ends as CRLF or CR. */
static char *with_eol(const char *s, const char *eol)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    for (; *s; s++) {
        if (*s == '\n')
            buf_append_str(&b, eol);
        else
            buf_append(&b, s, 1);
    }
    return buf_steal(&b, NULL);
}

TEST(crlf_and_cr_line_ends)
{
    const char *eols[] = {"\r\n", "\r"};
    for (int e = 0; e < 2; e++) {
        char *s = with_eol(STREAM, eols[e]);
        for (size_t step = 0; step < 4; step++) { /* 1..3 split CR from LF */
            out_t o;
            ASSERT_EQ(run(s, strlen(s), step, &o, 0), 0);
            ASSERT_STREQ(o.text.data, WANT);
            ASSERT_STREQ(o.finish, "stop");
            ASSERT_EQ(o.done, 1);
            buf_free(&o.text);
        }
        free(s);
    }
}

TEST(malformed_chunk)
{
    const char *in = "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n"
                     "data: {\"choices\":[{\"delta\":{\"content\":\"bro\n\n"
                     "data: {\"choices\":[{\"delta\":{\"content\":\"later\"}}]}\n\n";
    out_t o;
    ASSERT_EQ(run(in, strlen(in), 0, &o, 0), OPENAI_STREAM_E_MALFORMED);
    ASSERT_EQ(o.errors, 1);
    ASSERT_EQ(o.err_code, OPENAI_STREAM_E_MALFORMED);
    ASSERT(strstr(o.detail, "not a JSON object"));
    ASSERT_STREQ(o.text.data, "ok"); /* nothing after the error */
    buf_free(&o.text);

    const char *bad[] = {"data: [1,2]\n\n", "data: \"str\"\n\n", "data: {}{}\n\n", "data: \n\n",
                         "data: {\"a\":1}\0\n\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]) + (i == 4 ? 3 : 0);
        ASSERT_EQ(run(bad[i], len, 0, &o, 0), OPENAI_STREAM_E_MALFORMED);
        buf_free(&o.text);
    }
    /* Deep nesting is refused before any tree is built. */
    char deep[400] = "data: {\"a\":";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    strcat(deep, "\n\n");
    ASSERT_EQ(run(deep, strlen(deep), 0, &o, 0), OPENAI_STREAM_E_MALFORMED);
    buf_free(&o.text);
}

TEST(error_object)
{
    const char *in = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                     "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"rate_limit\","
                     "\"code\":\"429\"}}\n\n"
                     "data: [DONE]\n\n";
    out_t o;
    ASSERT_EQ(run(in, strlen(in), 3, &o, 0), OPENAI_STREAM_E_API);
    ASSERT_EQ(o.errors, 1);
    ASSERT_STREQ(o.detail, "rate_limit: Rate limit reached");
    ASSERT_STREQ(o.text.data, "Hi");
    ASSERT_EQ(o.done, 0);
    buf_free(&o.text);
    const char *in2 = "data: {\"error\":\"overloaded\"}\n\n";
    ASSERT_EQ(run(in2, strlen(in2), 0, &o, 0), OPENAI_STREAM_E_API);
    ASSERT_STREQ(o.detail, "overloaded");
    buf_free(&o.text);
    const char *in3 = "data: {\"error\":null,\"choices\":[{\"delta\":{\"content\":\"x\"},"
                      "\"finish_reason\":\"length\"}]}\n\n";
    ASSERT_EQ(run(in3, strlen(in3), 0, &o, 0), 0); /* error:null is not an error */
    ASSERT_STREQ(o.finish, "length");
    buf_free(&o.text);
}

TEST(comments_and_truncation)
{
    const char *only_comments = ": ping\n\n: ping\r\n\r\n";
    out_t o;
    ASSERT_EQ(run(only_comments, strlen(only_comments), 1, &o, 0), OPENAI_STREAM_E_TRUNCATED);
    ASSERT_EQ(o.deltas, 0);
    ASSERT_EQ(o.errors, 1);
    buf_free(&o.text);
    /* Cut mid-event: the partial last event is still decoded at the end, and is malformed. */
    ASSERT_EQ(run(STREAM, 200, 0, &o, 0), OPENAI_STREAM_E_MALFORMED);
    buf_free(&o.text);
    const char *no_nl = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]";
    ASSERT_EQ(run(no_nl, strlen(no_nl), 0, &o, 0), 0); /* last line without terminator */
    ASSERT_EQ(o.done, 1);
    buf_free(&o.text);
    const char *two = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
    ASSERT_EQ(run(two, strlen(two), 0, &o, 0), OPENAI_STREAM_E_TRUNCATED);
    ASSERT_STREQ(o.text.data, "a");
    buf_free(&o.text);
}

TEST(line_limit_and_abort)
{
    char big[3000], a2000[2001];
    memset(a2000, 'a', 2000);
    a2000[2000] = '\0';
    snprintf(big, sizeof big, "data: {\"x\":\"%s\"}\n\n", a2000);
    out_t o;
    ASSERT_EQ(run(big, strlen(big), 7, &o, 1024), OPENAI_STREAM_E_TOO_LONG);
    ASSERT_EQ(o.errors, 1);
    buf_free(&o.text);
    ASSERT_EQ(run(big, strlen(big), 7, &o, 4096), OPENAI_STREAM_E_TRUNCATED);
    buf_free(&o.text);
    /* Multi-line data joined with '\n' counts toward the limit as well. */
    const char *multi = "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"j\"}}]}\n\n";
    ASSERT_EQ(run(multi, strlen(multi), 0, &o, 0), OPENAI_STREAM_E_TRUNCATED);
    ASSERT_STREQ(o.text.data, "j");
    buf_free(&o.text);

    memset(&o, 0, sizeof o);
    buf_init(&o.text, 1 << 20);
    o.abort_after = 1;
    openai_stream_t *p = openai_stream_new(&CBS, &o, 0);
    ASSERT_EQ(openai_stream_feed(p, STREAM, strlen(STREAM)), OPENAI_STREAM_E_ABORTED);
    ASSERT_EQ(openai_stream_feed(p, "data: [DONE]\n\n", 14), OPENAI_STREAM_E_ABORTED);
    ASSERT_EQ(o.deltas, 1);
    ASSERT_EQ(o.errors, 0);
    ASSERT_EQ(o.done, 0);
    openai_stream_free(p);
    buf_free(&o.text);
}

TEST_MAIN({"deltas_joined_and_done", deltas_joined_and_done},
          {"every_split_and_byte_by_byte", every_split_and_byte_by_byte},
          {"crlf_and_cr_line_ends", crlf_and_cr_line_ends}, {"malformed_chunk", malformed_chunk},
          {"error_object", error_object}, {"comments_and_truncation", comments_and_truncation},
          {"line_limit_and_abort", line_limit_and_abort})
