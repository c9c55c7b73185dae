/* aws client (Bedrock side, credentials, retries) through the real net client against the real
 * tools/fake-aws (and tests/aws_creds_server.py for container/IMDS credentials), each started by
 * this file with /usr/bin/python3. Assertions use fake-aws's request log (GET /__fake/requests). */
#include "aws/aws_bedrock.h"
#include "aws/aws_creds_int.h"
#include "fake_aws_fixture.h"
static void fx_close(fx_t *f)
{
    int aws_closed = 0, net_closed = 0;
    aws_client_close(f->aws, set_flag, &aws_closed);
    fx_run_until(f, &aws_closed, 10000);
    net_client_close(f->net, set_flag, &net_closed);
    fx_run_until(f, &net_closed, 10000);
    uv_close((uv_handle_t *)&f->watchdog, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&f->loop), 0);
    aws_config_free(&f->cfg);
}

/* ---- converse helpers ---- */

typedef struct {
    int done;
    aws_error_t err;
    bool ok;
    char *text;
    char stop[48];
    int64_t in_tok, out_tok;
    int attempts;
    buf_t deltas;
    int ndeltas, resets;
} conv_out_t;

static void conv_cb(void *arg, const aws_error_t *err, aws_converse_res_t *res)
{
    conv_out_t *o = arg;
    o->done = 1;
    if (err) {
        o->err = *err;
        o->attempts = err->attempts;
        return;
    }
    o->ok = true;
    o->text = res->text;
    res->text = NULL;
    snprintf(o->stop, sizeof o->stop, "%s", res->stop_reason);
    o->in_tok = res->input_tokens;
    o->out_tok = res->output_tokens;
    o->attempts = res->attempts;
}

static void delta_cb(void *arg, const char *t, size_t n)
{
    conv_out_t *o = arg;
    buf_append(&o->deltas, t, n);
    o->ndeltas++;
}

static void reset_cb(void *arg)
{
    conv_out_t *o = arg;
    buf_reset(&o->deltas);
    o->resets++;
}

static void conv_free(conv_out_t *o)
{
    free(o->text);
    buf_free(&o->deltas);
}

static aws_message_t g_msg = {"user", "Tell a short story about a fox, in 3 parts.", NULL, 0};

static void conv_req(aws_converse_req_t *r)
{
    aws_converse_req_init(r);
    r->model_id = "us.amazon.nova-2-lite-v1:0";
    r->system = "You are a storyteller.";
    r->messages = &g_msg;
    r->message_count = 1;
    r->max_tokens = 2000;
    r->temperature = 0.7;
}

static void run_converse(fx_t *f, conv_out_t *o, bool stream, aws_reset_cb on_reset)
{
    memset(o, 0, sizeof *o);
    buf_init(&o->deltas, 1 << 20);
    aws_converse_req_t r;
    conv_req(&r);
    if (stream)
        ASSERT_EQ(aws_converse_stream(f->aws, &r, delta_cb, on_reset, conv_cb, o, NULL), 0);
    else
        ASSERT_EQ(aws_converse(f->aws, &r, conv_cb, o, NULL), 0);
    fx_run_until(f, &o->done, 30000);
}

static int g_fake; /* the shared fake-aws (no session token) */

static void shared_fake(void)
{
    if (!g_fake) {
        const char *extra[] = {"--bearer-token", "BEARER-KEY-1", NULL};
        g_fake = fake_start("fake", extra);
    }
    fake_reset(g_fake);
}

/* ---- tests ---- */

TEST(signing_without_session_token)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    ASSERT(strstr(o.text, "Part 1") != NULL);
    ASSERT_STREQ(o.stop, "end_turn");
    ASSERT(o.in_tok > 0 && o.out_tok > 0);
    arena_t a;
    arena_init(&a);
    fake_count(g_fake, "converse"); /* let the log settle */
    yajl_val log = fake_log(&a, g_fake, "converse");
    ASSERT_EQ(log->u.array.len, 1);
    bool signed_ok = false;
    json_get_bool(log->u.array.values[0], "signed_ok", &signed_ok);
    ASSERT(signed_ok);
    ASSERT_STREQ(json_get_str(log->u.array.values[0], "auth"), "sigv4");
    ASSERT_STREQ(json_get_str(log->u.array.values[0], "model"), "us.amazon.nova-2-lite-v1:0");
    arena_free(&a);
    conv_free(&o);
    fx_close(&f);
}

TEST(signing_with_session_token)
{
    const char *extra[] = {"--session-token", "SESSION-TOKEN-XYZ", NULL};
    int port = fake_start("fake_tok", extra);
    fx_t f;
    fx_cfg(&f, port);
    aws_config_set(&f.cfg.session_token, "SESSION-TOKEN-XYZ");
    fx_start(&f);
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    conv_free(&o);
    fx_close(&f);
    /* The same server refuses a request without the token: a typed, non-retried error. */
    fx_cfg(&f, port);
    fx_start(&f);
    run_converse(&f, &o, false, NULL);
    ASSERT(!o.ok);
    ASSERT_EQ(o.err.code, AWS_ERR_ACCESS_DENIED);
    ASSERT_STREQ(o.err.type, "UnrecognizedClientException");
    ASSERT_EQ(o.err.http_status, 403);
    ASSERT(o.err.request_id[0]);
    ASSERT_EQ(o.attempts, 1);
    conv_free(&o);
    fx_close(&f);
}

TEST(stream_deltas_equal_converse_text)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    conv_out_t a, b;
    run_converse(&f, &a, false, NULL);
    run_converse(&f, &b, true, NULL);
    ASSERT(a.ok && b.ok);
    ASSERT(b.ndeltas > 3);
    ASSERT_STREQ(b.deltas.data, a.text);
    ASSERT_STREQ(b.text, a.text);
    ASSERT_STREQ(b.stop, a.stop);
    ASSERT_EQ(b.out_tok, a.out_tok);
    ASSERT_EQ(fake_count(g_fake, "converse-stream"), 1);
    conv_free(&a);
    conv_free(&b);
    fx_close(&f);
}

TEST(midstream_throttle_retried)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    conv_out_t ref;
    run_converse(&f, &ref, false, NULL);
    /* Before any text: retried transparently. */
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse-stream\"},\"action\":\"midstream_exception\","
              "\"exception\":\"throttlingException\",\"after\":0,\"times\":1}");
    conv_out_t o;
    run_converse(&f, &o, true, NULL);
    ASSERT(o.ok);
    ASSERT_EQ(o.attempts, 2);
    ASSERT_STREQ(o.deltas.data, ref.text);
    ASSERT_EQ(o.resets, 0);
    ASSERT_EQ(fake_count(g_fake, "converse-stream"), 2);
    conv_free(&o);
    /* After text, without on_reset: the typed error, no second attempt. */
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse-stream\"},\"action\":\"midstream_exception\","
              "\"exception\":\"throttlingException\",\"after\":3,\"times\":1}");
    run_converse(&f, &o, true, NULL);
    ASSERT(!o.ok);
    ASSERT_EQ(o.err.code, AWS_ERR_THROTTLED);
    ASSERT_STREQ(o.err.type, "ThrottlingException");
    ASSERT_EQ(o.attempts, 1);
    ASSERT_EQ(o.ndeltas, 3);
    ASSERT_EQ(fake_count(g_fake, "converse-stream"), 3);
    conv_free(&o);
    /* After text, with on_reset: restarted, the caller told to reset, the text complete. */
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse-stream\"},\"action\":\"midstream_exception\","
              "\"exception\":\"throttlingException\",\"after\":3,\"times\":1}");
    run_converse(&f, &o, true, reset_cb);
    ASSERT(o.ok);
    ASSERT_EQ(o.resets, 1);
    ASSERT_STREQ(o.deltas.data, ref.text);
    ASSERT_STREQ(o.text, ref.text);
    conv_free(&o);
    /* A model stream error mid-way is not retryable at all. */
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse-stream\"},\"action\":\"midstream_exception\","
              "\"after\":0,\"times\":1}");
    size_t before = fake_count(g_fake, "converse-stream");
    run_converse(&f, &o, true, reset_cb);
    ASSERT_EQ(o.err.code, AWS_ERR_MODEL_ERROR);
    ASSERT_EQ(fake_count(g_fake, "converse-stream"), before + 1);
    conv_free(&o);
    conv_free(&ref);
    fx_close(&f);
}

TEST(throttling_retried_then_succeeds)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse\"},\"action\":\"throttle\",\"times\":2}");
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    ASSERT_EQ(o.attempts, 3);
    ASSERT_EQ(fake_count(g_fake, "converse"), 3);
    aws_op_counts_t n;
    ASSERT_EQ(aws_client_op_counts(f.aws, "converse", &n), 0);
    ASSERT_EQ(n.calls, 1);
    ASSERT_EQ(n.retries, 2);
    ASSERT_EQ(n.throttles, 2);
    ASSERT_EQ(n.errors, 0);
    /* Two retries cost 10 tokens; the success refunds the last cost (5). */
    ASSERT_EQ(aws_client_retry_quota(f.aws), 495);
    conv_free(&o);
    /* A dropped connection and ModelNotReady are retried too. */
    fake_post(g_fake, "/__fake/faults",
              "[{\"match\":{\"op\":\"converse\"},\"action\":\"drop\",\"times\":1},"
              "{\"match\":{\"op\":\"converse\"},\"action\":\"status\",\"status\":429,"
              "\"error\":\"ModelNotReadyException\",\"times\":1}]");
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    /* curl itself may resend on a fresh connection when a reused one dies without an answer,
     * so the drop costs us either an attempt or nothing; the server saw three requests. */
    ASSERT(o.attempts >= 2);
    ASSERT_EQ(fake_count(g_fake, "converse"), 6);
    conv_free(&o);
    buf_t m;
    buf_init(&m, 1 << 20);
    ASSERT_EQ(aws_metrics_write(f.aws, &m), 0);
    ASSERT(strstr(m.data, "nova_aws_throttles_total{op=\"converse\"} 2") != NULL);
    ASSERT(strstr(m.data, "nova_aws_latency_seconds_count{op=\"converse\"} 2") != NULL);
    buf_free(&m);
    fx_close(&f);
}

typedef struct {
    int status;
    aws_err_t code;
    const char *type;
} error_case_t;

static const error_case_t k_not_retried[] = {
    {408, AWS_ERR_MODEL_TIMEOUT, "ModelTimeoutException"},
    {424, AWS_ERR_MODEL_ERROR, "ModelErrorException"},
    {400, AWS_ERR_VALIDATION, "ValidationException"},
    {403, AWS_ERR_ACCESS_DENIED, "AccessDeniedException"},
};

/* Each error answer reaches the caller typed (the :http://... suffix gone, the request id kept)
 * after exactly one attempt. For ConverseStream the answer is a JSON error document instead of
 * an event stream: it must not be read as a corrupt stream, which would be retried. */
static void expect_not_retried(fx_t *f, bool stream)
{
    const char *op = stream ? "converse-stream" : "converse";
    for (size_t i = 0; i < sizeof k_not_retried / sizeof k_not_retried[0]; i++) {
        const error_case_t *ec = &k_not_retried[i];
        fake_reset(g_fake);
        char rule[200];
        snprintf(rule, sizeof rule,
                 "{\"match\":{\"op\":\"%s\"},\"action\":\"status\",\"status\":%d}", op, ec->status);
        fake_post(g_fake, "/__fake/faults", rule);
        conv_out_t o;
        run_converse(f, &o, stream, stream ? reset_cb : NULL);
        ASSERT(!o.ok);
        ASSERT_EQ(o.err.code, ec->code);
        ASSERT_STREQ(o.err.type, ec->type);
        ASSERT_EQ(o.err.http_status, ec->status);
        ASSERT(o.err.request_id[0]);
        ASSERT(strstr(o.err.message, "corrupt") == NULL);
        ASSERT_EQ(o.attempts, 1);
        ASSERT_EQ(o.ndeltas, 0);
        ASSERT_EQ(fake_count(g_fake, op), 1);
        char line[600];
        aws_error_format(&o.err, op, line, sizeof line);
        ASSERT(strstr(line, ec->type) && strstr(line, "[request "));
        conv_free(&o);
    }
}

TEST(model_timeout_and_model_error_not_retried)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    expect_not_retried(&f, false);
    fx_close(&f);
}

static long elapsed_ms(uint64_t t0)
{
    return (long)((uv_hrtime() - t0) / 1000000u);
}

TEST(backoff_retry_after_and_quota)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    f.cfg.retry_quota = 12;
    fx_start(&f);
    /* Retry-After (x-amz-retry-after, ms) lengthens the first backoff to at least 400 ms. */
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse\"},\"action\":\"throttle\",\"times\":1,"
              "\"headers\":{\"x-amz-retry-after\":\"400\"}}");
    uint64_t t0 = uv_hrtime();
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    ASSERT(elapsed_ms(t0) >= 400);
    ASSERT_EQ(aws_client_retry_quota(f.aws), 12); /* 12 - 5 + 5 */
    conv_free(&o);
    /* Always throttled: three attempts, then the typed error; 10 tokens spent. */
    fake_reset(g_fake);
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse\"},\"action\":\"throttle\"}");
    run_converse(&f, &o, false, NULL);
    ASSERT_EQ(o.err.code, AWS_ERR_THROTTLED);
    ASSERT_EQ(o.attempts, 3);
    ASSERT_EQ(fake_count(g_fake, "converse"), 3);
    ASSERT_EQ(aws_client_retry_quota(f.aws), 2);
    conv_free(&o);
    /* The quota is exhausted: no retry at all, and the message says why. */
    run_converse(&f, &o, false, NULL);
    ASSERT_EQ(o.err.code, AWS_ERR_THROTTLED);
    ASSERT_EQ(o.attempts, 1);
    ASSERT_EQ(fake_count(g_fake, "converse"), 4);
    ASSERT(strstr(o.err.message, "retry quota exhausted") != NULL);
    conv_free(&o);
    /* A first-try success refunds one token. */
    fake_reset(g_fake);
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    ASSERT_EQ(aws_client_retry_quota(f.aws), 3);
    conv_free(&o);
    fx_close(&f);
}

TEST(inflight_limit_and_cancel)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    f.cfg.bedrock_max_inflight = 2;
    fx_start(&f);
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":200}");
    conv_out_t o[6];
    aws_converse_req_t r;
    conv_req(&r);
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < 6; i++) {
        memset(&o[i], 0, sizeof o[i]);
        ASSERT_EQ(aws_converse(f.aws, &r, conv_cb, &o[i], NULL), 0);
    }
    buf_t m;
    buf_init(&m, 1 << 20);
    aws_metrics_write(f.aws, &m);
    ASSERT(strstr(m.data, "nova_aws_queued{service=\"bedrock\"} 4") != NULL);
    buf_free(&m);
    for (int i = 0; i < 6; i++)
        fx_run_until(&f, &o[i].done, 10000);
    ASSERT(elapsed_ms(t0) >= 550); /* three waves of 200 ms */
    for (int i = 0; i < 6; i++) {
        ASSERT(o[i].ok);
        free(o[i].text);
    }
    /* Cancelling an in-flight call ends it at once with a typed error. */
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":3000}");
    conv_out_t c;
    memset(&c, 0, sizeof c);
    aws_call_t *call;
    ASSERT_EQ(aws_converse(f.aws, &r, conv_cb, &c, &call), 0);
    t0 = uv_hrtime();
    ASSERT_EQ(aws_call_cancel(call), 0);
    ASSERT(!c.done); /* never from inside cancel */
    fx_run_until(&f, &c.done, 2000);
    ASSERT_EQ(c.err.code, AWS_ERR_CANCELLED);
    ASSERT(elapsed_ms(t0) < 1000);
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":0}");
    fx_close(&f);
}

/* ---- images ---- */

typedef struct {
    int done;
    bool ok;
    aws_error_t err;
    char model[128];
    size_t len;
    bool png_magic;
} img_out_t;

static void img_cb(void *arg, const aws_error_t *err, aws_image_res_t *res)
{
    img_out_t *o = arg;
    o->done = 1;
    if (err) {
        o->err = *err;
        return;
    }
    o->ok = true;
    snprintf(o->model, sizeof o->model, "%s", res->model_id);
    o->len = res->png_len;
    o->png_magic = res->png_len > 8 && memcmp(res->png, "\x89PNG\r\n\x1a\n", 8) == 0;
}

static const char *const CHAIN =
    "stability.stable-image-core-v1:1,amazon.nova-canvas-v1:0,amazon.titan-image-generator-v2:0";

static void run_chain(fx_t *f, img_out_t *o, const char *prompt)
{
    memset(o, 0, sizeof *o);
    aws_image_req_t r;
    aws_image_req_init(&r);
    r.prompt = prompt;
    r.negative = "blurry";
    r.width = 768;
    r.height = 1024;
    r.seed = 42;
    ASSERT_EQ(aws_image_generate_chain(f->aws, CHAIN, &r, img_cb, o, NULL), 0);
    fx_run_until(f, &o->done, 30000);
}

TEST(image_chain_skips_end_of_life)
{
    shared_fake();
    fake_post(g_fake, "/__fake/config", "{\"eol_models\":[\"stability.stable-image-core-v1:1\"]}");
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    img_out_t o;
    run_chain(&f, &o, "A fox under the stars");
    ASSERT(o.ok);
    ASSERT_STREQ(o.model, "amazon.nova-canvas-v1:0");
    ASSERT(o.png_magic);
    ASSERT(aws_image_model_is_dead(f.aws, "stability.stable-image-core-v1:1"));
    ASSERT_EQ(fake_count(g_fake, "invoke"), 2);
    /* Second time: the dead model is skipped without a call. */
    run_chain(&f, &o, "A fox under the moon");
    ASSERT(o.ok);
    ASSERT_STREQ(o.model, "amazon.nova-canvas-v1:0");
    arena_t a;
    arena_init(&a);
    fake_count(g_fake, "invoke"); /* let the log settle */
    yajl_val log = fake_log(&a, g_fake, "invoke");
    ASSERT_EQ(log->u.array.len, 3);
    ASSERT_STREQ(json_get_str(log->u.array.values[2], "model"), "amazon.nova-canvas-v1:0");
    arena_free(&a);
    /* A throttled model falls through to the next one (after its own retries). */
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"invoke\",\"model\":\"amazon.nova-canvas-v1:0\"},"
              "\"action\":\"status\",\"status\":500}");
    run_chain(&f, &o, "A fox in the snow");
    ASSERT(o.ok);
    ASSERT_STREQ(o.model, "amazon.titan-image-generator-v2:0");
    fx_close(&f);
}

TEST(image_moderation_not_retried)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    /* Stable Image (finish_reasons), then Titan (400 content filters), then SDXL (artifact). */
    static const char *const models[] = {"stability.stable-image-core-v1:1",
                                         "amazon.titan-image-generator-v2:0",
                                         "stability.stable-diffusion-xl-v1"};
    for (size_t i = 0; i < 3; i++) {
        fake_reset(g_fake);
        fake_post(g_fake, "/__fake/faults",
                  "{\"match\":{\"op\":\"invoke\"},\"action\":\"moderate\"}");
        img_out_t o;
        memset(&o, 0, sizeof o);
        aws_image_req_t r;
        aws_image_req_init(&r);
        r.model_id = models[i];
        r.prompt = "something refused";
        ASSERT_EQ(aws_image_generate(f.aws, &r, img_cb, &o, NULL), 0);
        fx_run_until(&f, &o.done, 30000);
        ASSERT(!o.ok);
        ASSERT_EQ(o.err.code, AWS_ERR_CONTENT_FILTERED);
        ASSERT_EQ(o.err.attempts, 1);
        ASSERT_EQ(fake_count(g_fake, "invoke"), 1);
    }
    /* The chain stops at a refusal instead of asking the next model. */
    fake_reset(g_fake);
    fake_post(g_fake, "/__fake/faults", "{\"match\":{\"op\":\"invoke\"},\"action\":\"moderate\"}");
    img_out_t o;
    run_chain(&f, &o, "something refused");
    ASSERT_EQ(o.err.code, AWS_ERR_CONTENT_FILTERED);
    ASSERT_EQ(fake_count(g_fake, "invoke"), 1);
    fx_close(&f);
}

TEST(image_request_bodies)
{
    aws_image_req_t r;
    aws_image_req_init(&r);
    char prompt[700];
    for (int i = 0; i < 699; i++)
        prompt[i] = (i % 7 == 6) ? ' ' : 'a';
    prompt[699] = '\0';
    r.prompt = prompt;
    r.width = 768;
    r.height = 1024;
    buf_t b;
    int w, h;
    arena_t a;
    char err[64];
    /* Titan: 512 characters at most, cut at a word boundary; 768x1024 is not allowed. */
    r.model_id = "amazon.titan-image-generator-v2:0";
    buf_init(&b, 1 << 20);
    ASSERT_EQ(aws_image_build_body(&r, &b, &w, &h), 0);
    arena_init(&a);
    yajl_val v = json_parse(&a, b.data, b.len, 8, err, sizeof err);
    ASSERT(v);
    const char *text = json_get_str(json_get(v, "textToImageParams"), "text");
    ASSERT(strlen(text) <= 512 && strlen(text) > 500);
    ASSERT(text[strlen(text) - 1] == 'a' && prompt[strlen(text)] == ' ');
    ASSERT(w == 896 && h == 1152); /* the nearest allowed ratio (7:9) */
    arena_free(&a);
    buf_free(&b);
    /* SDXL: the negative prompt has weight -1; Stable Image: an aspect ratio, png. */
    r.negative = "ugly";
    r.model_id = "stability.stable-diffusion-xl-v1";
    buf_init(&b, 1 << 20);
    ASSERT_EQ(aws_image_build_body(&r, &b, &w, &h), 0);
    ASSERT(strstr(b.data, "\"weight\":-1") != NULL);
    ASSERT(w == 896 && h == 1152);
    buf_free(&b);
    r.model_id = "stability.stable-image-core-v1:1";
    buf_init(&b, 1 << 20);
    ASSERT_EQ(aws_image_build_body(&r, &b, &w, &h), 0);
    ASSERT(strstr(b.data, "\"aspect_ratio\":\"4:5\"") != NULL);
    ASSERT(strstr(b.data, "\"output_format\":\"png\"") != NULL);
    buf_free(&b);
    r.model_id = "amazon.unknown";
    buf_init(&b, 1 << 20);
    ASSERT_EQ(aws_image_build_body(&r, &b, NULL, NULL), -EINVAL);
    buf_free(&b);
}

/* ---- credentials ---- */

typedef struct {
    int done;
    aws_probe_t p;
    char source[16];
} probe_out_t;

static void probe_cb(void *arg, const aws_probe_t *p)
{
    probe_out_t *o = arg;
    o->p = *p;
    snprintf(o->source, sizeof o->source, "%s", p->source);
    o->p.source = o->source;
    o->p.message = "";
    o->done = 1;
}

TEST(credentials_from_profile_file)
{
    shared_fake();
    need_python();
    char path[256];
    snprintf(path, sizeof path, "%s/credentials", g_dir);
    FILE *fp = fopen(path, "w");
    ASSERT(fp);
    fprintf(fp, "[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = nope\n\n"
                "# the one we use\n[storyteller]\naws_access_key_id = AKIDFAKE\n"
                "aws_secret_access_key = SECRET\n");
    fclose(fp);
    fx_t f;
    fx_cfg(&f, g_fake);
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    aws_config_set(&f.cfg.credentials_file, path);
    aws_config_set(&f.cfg.profile, "storyteller");
    fx_start(&f);
    probe_out_t p = {0};
    ASSERT_EQ(aws_client_probe(f.aws, probe_cb, &p), 0);
    fx_run_until(&f, &p.done, 5000);
    ASSERT(p.p.sigv4 && p.p.polly && p.p.bedrock);
    ASSERT_STREQ(p.source, "profile");
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    conv_free(&o);
    fx_close(&f);
}

TEST(credentials_from_rotating_container_endpoint)
{
    shared_fake();
    need_python();
    char script[256], server[600];
    snprintf(script, sizeof script, "%s/creds.json", g_dir);
    FILE *fp = fopen(script, "w");
    ASSERT(fp);
    /* First a key fake-aws does not know (expiring in 4 s), then the right one. */
    fprintf(fp, "[{\"AccessKeyId\":\"AKIDSTALE\",\"SecretAccessKey\":\"x\",\"Token\":\"t1\","
                "\"ExpiresIn\":4},{\"AccessKeyId\":\"AKIDFAKE\",\"SecretAccessKey\":\"SECRET\","
                "\"ExpiresIn\":3600}]");
    fclose(fp);
    snprintf(server, sizeof server, "%s/tests/aws_creds_server.py", source_dir());
    const char *args[] = {"--script", script, "--auth-token", "container-auth-123", NULL};
    int cport = spawn_server(server, "creds", args);
    char tokfile[256];
    snprintf(tokfile, sizeof tokfile, "%s/ecs-token", g_dir);
    fp = fopen(tokfile, "w");
    ASSERT(fp);
    fprintf(fp, "container-auth-123\n");
    fclose(fp);
    fx_t f;
    fx_cfg(&f, g_fake);
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    char full[128];
    snprintf(full, sizeof full, "http://127.0.0.1:%d/creds", cport);
    aws_config_set(&f.cfg.container_full_uri, full);
    aws_config_set(&f.cfg.container_auth_token_file, tokfile);
    f.cfg.creds_refresh_margin_s = 2;
    fx_start(&f);
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT_EQ(o.err.code, AWS_ERR_ACCESS_DENIED); /* AKIDSTALE is refused */
    aws_creds_info_t ci;
    aws_client_creds_info(f.aws, &ci);
    ASSERT_STREQ(ci.access_key_id, "AKIDSTALE");
    ASSERT_STREQ(ci.source, "container");
    ASSERT(ci.has_session_token);
    conv_free(&o);
    /* The loop keeps running while the refresh happens in the background (2 s before expiry). */
    uint64_t t0 = uv_hrtime();
    while (elapsed_ms(t0) < 4000) {
        aws_client_creds_info(f.aws, &ci);
        if (ci.fetches >= 2) break;
        uv_run(&f.loop, UV_RUN_NOWAIT);
        sleep_ms(10);
    }
    ASSERT_EQ(ci.fetches, 2);
    ASSERT_STREQ(ci.access_key_id, "AKIDFAKE");
    ASSERT(!ci.has_session_token);
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    conv_free(&o);
    int st;
    char *hits = http_local(cport, "GET", "/__hits", NULL, &st);
    ASSERT(strstr(hits, "\"creds\": 2") != NULL);
    ASSERT(strstr(hits, "\"unauthorized\": 0") != NULL);
    fx_close(&f);
}

TEST(credentials_from_imds)
{
    shared_fake();
    need_python();
    char script[256], server[600];
    snprintf(script, sizeof script, "%s/imds.json", g_dir);
    FILE *fp = fopen(script, "w");
    ASSERT(fp);
    fprintf(fp, "[{\"AccessKeyId\":\"AKIDFAKE\",\"SecretAccessKey\":\"SECRET\","
                "\"ExpiresIn\":3600}]");
    fclose(fp);
    snprintf(server, sizeof server, "%s/tests/aws_creds_server.py", source_dir());
    const char *args[] = {"--script", script, NULL};
    int port = spawn_server(server, "imds", args);
    fx_t f;
    fx_cfg(&f, g_fake);
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    aws_config_set(&f.cfg.imds_endpoint, url);
    f.cfg.imds_disabled = false;
    fx_start(&f);
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    aws_creds_info_t ci;
    aws_client_creds_info(f.aws, &ci);
    ASSERT_STREQ(ci.source, "imds");
    ASSERT(ci.expiration > (int64_t)time(NULL) + 3000);
    conv_free(&o);
    fx_close(&f);
}

TEST(bearer_token_and_no_credentials)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    aws_config_set(&f.cfg.bearer_token, "BEARER-KEY-1");
    fx_start(&f);
    probe_out_t p = {0};
    ASSERT_EQ(aws_client_probe(f.aws, probe_cb, &p), 0);
    fx_run_until(&f, &p.done, 5000);
    ASSERT(p.p.bedrock && p.p.bearer);
    ASSERT(!p.p.sigv4 && !p.p.polly);
    conv_out_t o;
    run_converse(&f, &o, true, NULL);
    ASSERT(o.ok);
    arena_t a;
    arena_init(&a);
    fake_count(g_fake, "converse-stream"); /* let the log settle */
    yajl_val log = fake_log(&a, g_fake, "converse-stream");
    ASSERT_EQ(log->u.array.len, 1);
    ASSERT_STREQ(json_get_str(log->u.array.values[0], "auth"), "bearer");
    arena_free(&a);
    conv_free(&o);
    fx_close(&f);
    /* Neither keys nor a bearer key: every call fails with a typed credentials error. */
    fx_cfg(&f, g_fake);
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    aws_config_set(&f.cfg.credentials_file, "/nonexistent/credentials");
    aws_config_set(&f.cfg.config_file, "/nonexistent/config");
    fx_start(&f);
    memset(&p, 0, sizeof p);
    ASSERT_EQ(aws_client_probe(f.aws, probe_cb, &p), 0);
    fx_run_until(&f, &p.done, 5000);
    ASSERT(!p.p.bedrock && !p.p.polly);
    run_converse(&f, &o, false, NULL);
    ASSERT_EQ(o.err.code, AWS_ERR_CREDENTIALS);
    conv_free(&o);
    fx_close(&f);
}

/* ---- ConverseStream errors before the stream ---- */

TEST(stream_error_answers_typed_and_not_retried)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    expect_not_retried(&f, true);
    /* 429 ThrottlingException before the stream: retried, then the whole text streams. */
    fake_reset(g_fake);
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse-stream\"},\"action\":\"throttle\",\"times\":1}");
    conv_out_t o;
    run_converse(&f, &o, true, NULL);
    ASSERT(o.ok);
    ASSERT_EQ(o.attempts, 2);
    ASSERT(o.ndeltas > 3);
    ASSERT_STREQ(o.deltas.data, o.text);
    ASSERT_EQ(fake_count(g_fake, "converse-stream"), 2);
    aws_op_counts_t n;
    ASSERT_EQ(aws_client_op_counts(f.aws, "converse_stream", &n), 0);
    ASSERT_EQ(n.throttles, 1);
    conv_free(&o);
    /* Always throttled: three attempts, the typed error. */
    fake_reset(g_fake);
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse-stream\"},\"action\":\"throttle\"}");
    run_converse(&f, &o, true, NULL);
    ASSERT_EQ(o.err.code, AWS_ERR_THROTTLED);
    ASSERT_STREQ(o.err.type, "ThrottlingException");
    ASSERT_EQ(o.err.http_status, 429);
    ASSERT_EQ(o.attempts, 3);
    conv_free(&o);
    fx_close(&f);
}

/* ---- retries: timeout cost, Retry-After seconds, the jitter bound ---- */

TEST(client_timeout_costs_ten_tokens)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    f.cfg.max_attempts = 2;
    fx_start(&f);
    ASSERT_EQ(aws_client_retry_quota(f.aws), 500);
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":500}");
    conv_out_t o;
    memset(&o, 0, sizeof o);
    buf_init(&o.deltas, 1 << 20);
    aws_converse_req_t r;
    conv_req(&r);
    r.timeout_ms = 100;
    ASSERT_EQ(aws_converse(f.aws, &r, conv_cb, &o, NULL), 0);
    fx_run_until(&f, &o.done, 10000);
    ASSERT_EQ(o.err.code, AWS_ERR_TIMEOUT);
    ASSERT_EQ(o.err.http_status, 0);
    ASSERT_EQ(o.attempts, 2);
    /* One retry after a timeout costs 10 (not 5); a failed call refunds nothing. */
    ASSERT_EQ(aws_client_retry_quota(f.aws), 490);
    conv_free(&o);
    /* A first-try success gives one token back. */
    fake_post(g_fake, "/__fake/config", "{\"latency_ms\":0}");
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    ASSERT_EQ(aws_client_retry_quota(f.aws), 491);
    conv_free(&o);
    fx_close(&f);
}

TEST(retry_after_seconds_honoured)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    /* Our own backoff would be under 20 ms (fx_cfg); the server asks for a second. */
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse\"},\"action\":\"throttle\",\"times\":1,"
              "\"headers\":{\"Retry-After\":\"1\"}}");
    uint64_t t0 = uv_hrtime();
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    long ms = elapsed_ms(t0);
    ASSERT(o.ok);
    ASSERT_EQ(o.attempts, 2);
    ASSERT(ms >= 1000);
    ASSERT(ms < 4000);
    conv_free(&o);
    fx_close(&f);
}

TEST(backoff_within_full_jitter_bound)
{
    /* The delay computation itself, sampled many times per attempt. */
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    f.cfg.backoff_base_ms = 100;
    f.cfg.backoff_max_ms = 1000;
    fx_start(&f);
    for (int attempt = 1; attempt <= 6; attempt++) {
        long cap = 100L << (attempt - 1);
        if (cap > 1000) cap = 1000;
        long lo = cap, hi = -1;
        for (int i = 0; i < 2000; i++) {
            long d = aws__backoff_ms(f.aws, attempt, -1);
            ASSERT(d >= 0 && d < cap);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        /* Jittered over the whole range, not a fixed or half-range delay. */
        ASSERT(lo < cap / 10);
        ASSERT(hi >= cap * 9 / 10);
    }
    /* A hint lengthens the delay, by at most 5 s over our own choice and never past the max. */
    for (int i = 0; i < 200; i++) {
        ASSERT_EQ(aws__backoff_ms(f.aws, 1, 300), 300);
        ASSERT_EQ(aws__backoff_ms(f.aws, 1, 100000), 1000);
        long d = aws__backoff_ms(f.aws, 2, 0);
        ASSERT(d >= 0 && d < 200);
    }
    /* Through the fake: always throttled, base 200 ms: two sleeps below 200 + 400 ms. */
    fx_close(&f);
    fx_cfg(&f, g_fake);
    f.cfg.backoff_base_ms = 200;
    fx_start(&f);
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"converse\"},\"action\":\"throttle\"}");
    uint64_t t0 = uv_hrtime();
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    long ms = elapsed_ms(t0);
    ASSERT_EQ(o.err.code, AWS_ERR_THROTTLED);
    ASSERT_EQ(o.attempts, 3);
    ASSERT(ms < 600 + 400); /* the sleeps plus three local round trips */
    conv_free(&o);
    fx_close(&f);
}

/* ---- images: a model failure is not a refusal ---- */

TEST(image_inference_error_tries_next_model)
{
    shared_fake();
    fx_t f;
    fx_cfg(&f, g_fake);
    fx_start(&f);
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"invoke\",\"model\":\"stability.stable-image-core-v1:1\"},"
              "\"action\":\"inference_error\",\"times\":1}");
    img_out_t o;
    memset(&o, 0, sizeof o);
    aws_image_req_t r;
    aws_image_req_init(&r);
    r.model_id = "stability.stable-image-core-v1:1";
    r.prompt = "A fox in a lantern-lit forest";
    ASSERT_EQ(aws_image_generate(f.aws, &r, img_cb, &o, NULL), 0);
    fx_run_until(&f, &o.done, 30000);
    ASSERT(!o.ok);
    ASSERT_EQ(o.err.code, AWS_ERR_MODEL_ERROR);
    ASSERT(strstr(o.err.message, "Inference error") != NULL);
    ASSERT_EQ(o.err.attempts, 1);
    /* In the chain the next model is asked, and the failing one is not marked dead. */
    fake_reset(g_fake);
    fake_post(g_fake, "/__fake/faults",
              "{\"match\":{\"op\":\"invoke\",\"model\":\"stability.stable-image-core-v1:1\"},"
              "\"action\":\"inference_error\",\"times\":1}");
    run_chain(&f, &o, "A fox in a lantern-lit forest");
    ASSERT(o.ok);
    ASSERT_STREQ(o.model, "amazon.nova-canvas-v1:0");
    ASSERT(o.png_magic);
    ASSERT(!aws_image_model_is_dead(f.aws, "stability.stable-image-core-v1:1"));
    ASSERT_EQ(fake_count(g_fake, "invoke"), 2);
    fx_close(&f);
}

/* ---- region from a profile ---- */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ASSERT(fp);
    fputs(text, fp);
    fclose(fp);
}

TEST(profile_region_moves_scope_and_endpoint)
{
    need_python();
    /* This fake only accepts signatures scoped to eu-west-3. */
    const char *extra[] = {"--region", "eu-west-3", NULL};
    static int port;
    if (!port) port = fake_start("fake_euw3", extra);
    fake_reset(port);
    char conf[256];
    snprintf(conf, sizeof conf, "%s/config-region", g_dir);
    /* Keys and region in a [profile x] section of the config file. */
    write_file(conf, "[default]\nregion = ap-south-1\n\n[profile story]\n"
                     "aws_access_key_id = AKIDFAKE\naws_secret_access_key = SECRET\n"
                     "region = eu-west-3\n");
    fx_t f;
    fx_cfg(&f, port);
    aws_config_set(&f.cfg.region, NULL);
    aws_config_set(&f.cfg.polly_endpoint, NULL); /* the default host follows the region */
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    aws_config_set(&f.cfg.credentials_file, "/nonexistent/credentials");
    aws_config_set(&f.cfg.config_file, conf);
    aws_config_set(&f.cfg.profile, "story");
    fx_start(&f);
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    conv_free(&o);
    aws_creds_info_t ci;
    aws_client_creds_info(f.aws, &ci);
    ASSERT_STREQ(ci.source, "profile");
    ASSERT_STREQ(aws_client_region(f.aws), "eu-west-3");
    ASSERT_STREQ(aws_client_endpoint(f.aws, "polly"), "https://polly.eu-west-3.amazonaws.com");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    ASSERT_STREQ(aws_client_endpoint(f.aws, "bedrock"), url); /* an override stays */
    fx_close(&f);

    /* Static keys with the region in ~/.aws/config: the region is still read (before the first
     * call is signed), and both default hosts move to it. */
    char home[256], dir[300], conf2[320];
    snprintf(home, sizeof home, "%s/home-region", g_dir);
    snprintf(dir, sizeof dir, "%s/.aws", home);
    mkdir(home, 0700);
    mkdir(dir, 0700);
    snprintf(conf2, sizeof conf2, "%s/config", dir);
    write_file(conf2, "[default]\nregion = eu-west-3\n");
    fx_cfg(&f, port);
    aws_config_set(&f.cfg.region, NULL);
    aws_config_set(&f.cfg.polly_endpoint, NULL);
    aws_config_set(&f.cfg.home, home);
    fx_start(&f);
    ASSERT_STREQ(aws_client_endpoint(f.aws, "polly"), "https://polly.us-east-1.amazonaws.com");
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    conv_free(&o);
    aws_client_creds_info(f.aws, &ci);
    ASSERT_STREQ(ci.source, "environment");
    ASSERT_STREQ(aws_client_endpoint(f.aws, "polly"), "https://polly.eu-west-3.amazonaws.com");
    arena_t a;
    arena_init(&a);
    fake_count(port, "converse");
    yajl_val log = fake_log(&a, port, "converse");
    ASSERT_EQ(log->u.array.len, 2);
    for (size_t i = 0; i < 2; i++) {
        bool ok = false;
        json_get_bool(log->u.array.values[i], "signed_ok", &ok);
        ASSERT(ok);
    }
    arena_free(&a);
    fx_close(&f);
    /* Without an explicit endpoint the Bedrock host follows as well. */
    fx_cfg(&f, port);
    aws_config_set(&f.cfg.region, NULL);
    aws_config_set(&f.cfg.bedrock_endpoint, NULL);
    aws_config_set(&f.cfg.home, home);
    fx_start(&f);
    probe_out_t p = {0};
    ASSERT_EQ(aws_client_probe(f.aws, probe_cb, &p), 0);
    fx_run_until(&f, &p.done, 5000);
    ASSERT(p.p.sigv4);
    ASSERT_STREQ(aws_client_endpoint(f.aws, "bedrock"),
                 "https://bedrock-runtime.eu-west-3.amazonaws.com");
    fx_close(&f);
}

/* ---- container credentials: relative URI, token variable, token file ---- */

static int creds_server(const char *tag, const char *auth)
{
    char script[256], server[600];
    snprintf(script, sizeof script, "%s/%s.json", g_dir, tag);
    /* No session token: the shared fake knows none. */
    write_file(script, "[{\"AccessKeyId\":\"AKIDFAKE\",\"SecretAccessKey\":\"SECRET\","
                       "\"ExpiresIn\":3600}]");
    snprintf(server, sizeof server, "%s/tests/aws_creds_server.py", source_dir());
    const char *args[] = {"--script", script, "--auth-token", auth, NULL};
    return spawn_server(server, tag, args);
}

static const char *const g_aws_env[] = {"AWS_REGION",
                                        "AWS_DEFAULT_REGION",
                                        "AWS_ENDPOINT_URL",
                                        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
                                        "AWS_ENDPOINT_URL_POLLY",
                                        "AWS_ACCESS_KEY_ID",
                                        "AWS_SECRET_ACCESS_KEY",
                                        "AWS_SESSION_TOKEN",
                                        "AWS_BEARER_TOKEN_BEDROCK",
                                        "AWS_PROFILE",
                                        "AWS_SHARED_CREDENTIALS_FILE",
                                        "AWS_CONFIG_FILE",
                                        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                        "AWS_EC2_METADATA_DISABLED",
                                        "AWS_MAX_ATTEMPTS",
                                        NULL};

TEST(container_relative_uri_and_token_from_env)
{
    shared_fake();
    need_python();
    int cport = creds_server("creds_rel", "env-token-7");
    for (size_t i = 0; g_aws_env[i]; i++)
        unsetenv(g_aws_env[i]);
    char home[256];
    snprintf(home, sizeof home, "%s/empty-home", g_dir);
    mkdir(home, 0700);
    setenv("HOME", home, 1);
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-token-7", 1);
    fx_t f;
    fx_cfg(&f, g_fake);
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    int rc = aws_config_from_env(&f.cfg);
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    ASSERT_EQ(rc, 0);
    ASSERT_STREQ(f.cfg.container_relative_uri, "/creds");
    ASSERT_STREQ(f.cfg.container_auth_token, "env-token-7");
    char host[64];
    snprintf(host, sizeof host, "http://127.0.0.1:%d", cport);
    aws_config_set(&f.cfg.container_host, host);
    fx_start(&f);
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    conv_free(&o);
    aws_creds_info_t ci;
    aws_client_creds_info(f.aws, &ci);
    ASSERT_STREQ(ci.source, "container");
    ASSERT(ci.expiration > (int64_t)time(NULL) + 3000);
    int st;
    char *hits = http_local(cport, "GET", "/__hits", NULL, &st);
    ASSERT(strstr(hits, "\"creds\": 1") != NULL);
    ASSERT(strstr(hits, "\"unauthorized\": 0") != NULL);
    fx_close(&f);
}

TEST(container_token_file_wins_over_variable)
{
    shared_fake();
    need_python();
    int cport = creds_server("creds_file", "file-token-9");
    char tokfile[256], full[128];
    snprintf(tokfile, sizeof tokfile, "%s/token-9", g_dir);
    write_file(tokfile, "file-token-9\n");
    snprintf(full, sizeof full, "http://localhost:%d/creds", cport);
    fx_t f;
    fx_cfg(&f, g_fake);
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    aws_config_set(&f.cfg.container_full_uri, full);
    aws_config_set(&f.cfg.container_auth_token, "stale-variable-token");
    aws_config_set(&f.cfg.container_auth_token_file, tokfile);
    fx_start(&f);
    conv_out_t o;
    run_converse(&f, &o, false, NULL);
    ASSERT(o.ok);
    conv_free(&o);
    int st;
    char *hits = http_local(cport, "GET", "/__hits", NULL, &st);
    ASSERT(strstr(hits, "\"creds\": 1") != NULL);
    ASSERT(strstr(hits, "\"unauthorized\": 0") != NULL);
    fx_close(&f);
    /* A configured token file that cannot be read is an error, not a fallback. */
    fx_cfg(&f, g_fake);
    aws_config_set(&f.cfg.access_key_id, NULL);
    aws_config_set(&f.cfg.secret_access_key, NULL);
    aws_config_set(&f.cfg.container_full_uri, full);
    aws_config_set(&f.cfg.container_auth_token, "file-token-9");
    aws_config_set(&f.cfg.container_auth_token_file, "/nonexistent/token");
    fx_start(&f);
    run_converse(&f, &o, false, NULL);
    ASSERT_EQ(o.err.code, AWS_ERR_CREDENTIALS);
    ASSERT(strstr(o.err.message, "TOKEN_FILE") != NULL);
    conv_free(&o);
    hits = http_local(cport, "GET", "/__hits", NULL, &st);
    ASSERT(strstr(hits, "\"creds\": 1") != NULL);
    fx_close(&f);
}

TEST(container_full_uri_hosts)
{
    static const struct {
        const char *uri;
        bool ok;
    } cases[] = {
        {"https://creds.example.com/v1", true},
        {"HTTPS://anything:8443/x", true},
        {"http://localhost/creds", true},
        {"http://LOCALHOST:8080/creds", true},
        {"http://127.0.0.1:9911/creds", true},
        {"http://127.255.3.4/creds", true},
        {"http://127.0.0.1", true},
        {"http://169.254.170.2/v2/credentials/x", true},
        {"http://169.254.170.23/v1/credentials", true},
        {"http://[::1]:8080/creds", true},
        {"http://[fd00:ec2::23]/creds", true},
        {"http://[0:0:0:0:0:0:0:1]/creds", true},
        {"http://localhost.evil.com/creds", false},
        {"http://localhostevil.com/creds", false},
        {"http://127.0.0.1.example.com/creds", false},
        {"http://127.x.example/creds", false},
        {"http://127.0.0.1@evil.com/creds", false},
        {"http://evil.com#@127.0.0.1/", false},
        {"http://169.254.170.2.evil.com/", false},
        {"http://169.254.170.20/", false},
        {"http://169.254.169.254/latest", false},
        {"http://10.0.0.1/creds", false},
        {"http://[::2]/creds", false},
        {"http://[fd00:ec2::24]/creds", false},
        {"http://[::1/creds", false},
        {"http://localhost:80x/creds", false},
        {"http://localhost:/creds", false},
        {"http:///creds", false},
        {"https://", false},
        {"ftp://localhost/creds", false},
        {"localhost/creds", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (aws__creds_full_uri_allowed(cases[i].uri) != cases[i].ok)
            TEST__FAIL("%s should be %s", cases[i].uri, cases[i].ok ? "allowed" : "refused");
    }
    ASSERT(!aws__creds_full_uri_allowed(NULL));
}

TEST_MAIN({"signing_without_session_token", signing_without_session_token},
          {"signing_with_session_token", signing_with_session_token},
          {"stream_deltas_equal_converse_text", stream_deltas_equal_converse_text},
          {"midstream_throttle_retried", midstream_throttle_retried},
          {"throttling_retried_then_succeeds", throttling_retried_then_succeeds},
          {"model_timeout_and_model_error_not_retried", model_timeout_and_model_error_not_retried},
          {"backoff_retry_after_and_quota", backoff_retry_after_and_quota},
          {"inflight_limit_and_cancel", inflight_limit_and_cancel},
          {"image_chain_skips_end_of_life", image_chain_skips_end_of_life},
          {"image_moderation_not_retried", image_moderation_not_retried},
          {"image_request_bodies", image_request_bodies},
          {"credentials_from_profile_file", credentials_from_profile_file},
          {"credentials_from_rotating_container_endpoint",
           credentials_from_rotating_container_endpoint},
          {"credentials_from_imds", credentials_from_imds},
          {"bearer_token_and_no_credentials", bearer_token_and_no_credentials},
          {"stream_error_answers_typed_and_not_retried",
           stream_error_answers_typed_and_not_retried},
          {"client_timeout_costs_ten_tokens", client_timeout_costs_ten_tokens},
          {"retry_after_seconds_honoured", retry_after_seconds_honoured},
          {"backoff_within_full_jitter_bound", backoff_within_full_jitter_bound},
          {"image_inference_error_tries_next_model", image_inference_error_tries_next_model},
          {"profile_region_moves_scope_and_endpoint", profile_region_moves_scope_and_endpoint},
          {"container_relative_uri_and_token_from_env", container_relative_uri_and_token_from_env},
          {"container_token_file_wins_over_variable", container_token_file_wins_over_variable},
          {"container_full_uri_hosts", container_full_uri_hosts})
