/* providers: the registry's choices and the offline providers through the asynchronous
 * interface the pipeline uses: story deltas that add up to the result, settings honoured
 * (parts, headings, questions, length), determinism, pacing that leaves the loop free, invalid
 * specs, cancellation and close; vision on pictures of known colours; espeak word timings that
 * increase and cover the audio; illustrations that decode as PNGs of the requested size. */
#include <arpa/inet.h>
#include <cairo.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "aws/aws.h"
#include "core/arena.h"
#include "core/json.h"
#include "net/net.h"
#include "providers/registry.h"
#include "providers/vision_offline.h"
#include "test.h"

/* fontconfig (used by the illustrator's captions) keeps process-lifetime caches that
 * LeakSanitizer would report at exit; they are not leaks of ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\n";
}

static uv_loop_t loop;
static providers_t *reg;
static int in_start; /* set while a start call runs: callbacks must never see it */

static void closed_cb(void *arg)
{
    (*(int *)arg)++;
}

static void start_reg(int delay_ms)
{
    ASSERT_EQ(uv_loop_init(&loop), 0);
    providers_config_t cfg;
    providers_config_defaults(&cfg);
    cfg.offline_stream_delay_ms = delay_ms;
    char err[200];
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), 0);
}

static void stop_reg(void)
{
    int closed = 0;
    providers_close(reg, closed_cb, &closed);
    ASSERT_EQ(closed, 0); /* never from inside providers_close */
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(closed, 1);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    reg = NULL;
}

/* Runs the loop until *flag is set (or nothing is left to run). */
static void run_until(const int *flag)
{
    while (!*flag && uv_run(&loop, UV_RUN_ONCE))
        ;
    ASSERT(*flag);
}

/* ---- text ---- */

typedef struct {
    int done, status, ndeltas;
    buf_t deltas;
    char title[200], provider[32], model[64], message[320], finish[32];
    char *text;
    size_t len;
    char *plan;
    int cancel_after; /* cancel from inside the n-th delta (0 = never) */
    int restarts;     /* spec->on_restart calls; the deltas start over at each */
    prov_call_t *call;
} story_out_t;

static void story_init(story_out_t *o)
{
    memset(o, 0, sizeof *o);
    buf_init(&o->deltas, 1 << 20);
}

static void story_free(story_out_t *o)
{
    buf_free(&o->deltas);
    free(o->text);
    free(o->plan);
}

static void on_delta(const char *text, size_t len, void *arg)
{
    story_out_t *o = arg;
    ASSERT(!in_start);
    ASSERT(len > 0);
    ASSERT_EQ(o->done, 0);
    o->ndeltas++;
    ASSERT_EQ(buf_append(&o->deltas, text, len), 0);
    if (o->cancel_after && o->ndeltas == o->cancel_after) ASSERT_EQ(prov_cancel(o->call), 0);
}

static void on_restart(void *arg)
{
    story_out_t *o = arg;
    ASSERT_EQ(o->done, 0);
    o->restarts++;
    buf_reset(&o->deltas);
}

static void on_story(int status, const prov_story_result_t *r, void *arg)
{
    story_out_t *o = arg;
    ASSERT(!in_start);
    ASSERT(r != NULL);
    o->done++;
    o->status = status;
    snprintf(o->title, sizeof o->title, "%s", r->title);
    snprintf(o->provider, sizeof o->provider, "%s", r->provider);
    snprintf(o->model, sizeof o->model, "%s", r->model);
    snprintf(o->message, sizeof o->message, "%s", r->message);
    snprintf(o->finish, sizeof o->finish, "%s", r->finish_reason);
    ASSERT_EQ(strlen(r->text), r->len);
    o->text = strndup(r->text, r->len);
    o->len = r->len;
    o->plan = r->plan_json ? strdup(r->plan_json) : NULL;
}

static void write_story(const prov_story_spec_t *spec, story_out_t *o)
{
    in_start = 1;
    int rc = prov_text_write_story(providers_text(reg), spec, on_delta, on_story, o, &o->call);
    in_start = 0;
    ASSERT_EQ(rc, 0);
    ASSERT(o->call != NULL);
    ASSERT_EQ(o->done, 0);
    run_until(&o->done);
    ASSERT_EQ(o->done, 1);
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static size_t count_words(const char *s)
{
    size_t n = 0;
    int in = 0;
    for (; *s; s++) {
        int w = !(*s == ' ' || *s == '\n' || *s == '\t');
        if (w && !in) n++;
        in = w;
    }
    return n;
}

TEST(registry_choices)
{
    ASSERT_EQ(uv_loop_init(&loop), 0);
    providers_config_t cfg;
    providers_config_defaults(&cfg);
    char err[200];
    /* auto without AWS: every kind offline. */
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), 0);
    ASSERT_STREQ(prov_text_name(providers_text(reg)), "offline");
    ASSERT_STREQ(prov_text_model(providers_text(reg)), "composer-v1");
    ASSERT_STREQ(prov_vision_name(providers_vision(reg)), "offline");
    ASSERT_STREQ(prov_speech_name(providers_speech(reg)), "espeak");
    ASSERT_STREQ(prov_image_name(providers_image(reg)), "offline");
    yajl_gen g = json_gen_new();
    providers_describe_json(reg, g);
    const unsigned char *b;
    size_t bl;
    ASSERT_EQ(yajl_gen_get_buf(g, &b, &bl), yajl_gen_status_ok);
    arena_t a;
    arena_init(&a);
    yajl_val root = json_parse(&a, (const char *)b, bl, 16, err, sizeof err);
    ASSERT(root != NULL);
    ASSERT_STREQ(json_get_str(json_get(root, "text"), "provider"), "offline");
    ASSERT_STREQ(json_get_str(json_get(root, "text"), "model"), "composer-v1");
    ASSERT_STREQ(json_get_str(json_get(root, "text"), "configured"), "auto");
    ASSERT_STREQ(json_get_str(json_get(root, "speech"), "provider"), "espeak");
    ASSERT_STREQ(json_get_str(json_get(root, "speech"), "default_voice"), "en-us-f");
    yajl_val voices = json_get(json_get(root, "speech"), "voices");
    ASSERT(voices && YAJL_IS_ARRAY(voices) && voices->u.array.len >= 10);
    ASSERT_STREQ(json_get_str(json_get(root, "image"), "model"), "illustrator-v1");
    ASSERT_STREQ(json_get_str(json_get(root, "vision"), "model"), "describer-v1");
    arena_free(&a);
    yajl_gen_free(g);
    stop_reg();

    ASSERT_EQ(uv_loop_init(&loop), 0);
    /* Unknown choices and bedrock without an aws client are refused with a reason. */
    cfg.text = "gpt";
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "gpt") != NULL);
    cfg.text = "bedrock";
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "AWS") != NULL);
    cfg.text = "openai";
    cfg.openai_base_url = "ftp://x";
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), -EINVAL);
    /* auto with credentials but no client stays offline. */
    cfg.text = "auto";
    cfg.aws_available = true;
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), 0);
    ASSERT_STREQ(prov_text_name(providers_text(reg)), "offline");
    stop_reg();

    /* auto with credentials and a client: the AWS providers, with their models. */
    ASSERT_EQ(uv_loop_init(&loop), 0);
    net_config_t nc;
    net_config_defaults(&nc);
    net_client_t *net = net_client_new(&loop, &nc);
    ASSERT(net != NULL);
    aws_config_t ac;
    aws_config_defaults(&ac);
    ASSERT_EQ(aws_config_set(&ac.access_key_id, "AKIDEXAMPLE"), 0);
    ASSERT_EQ(aws_config_set(&ac.secret_access_key, "secret"), 0);
    ac.imds_disabled = true;
    aws_client_t *aws = aws_client_new(&loop, net, &ac);
    aws_config_free(&ac);
    ASSERT(aws != NULL);
    cfg.aws = aws;
    cfg.aws_available = true;
    cfg.speech = "espeak"; /* explicit choices win over auto */
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), 0);
    ASSERT_STREQ(prov_text_name(providers_text(reg)), "bedrock");
    ASSERT_STREQ(prov_text_model(providers_text(reg)), PROVIDERS_DEFAULT_BEDROCK_TEXT);
    ASSERT_STREQ(prov_vision_name(providers_vision(reg)), "bedrock");
    ASSERT_STREQ(prov_image_name(providers_image(reg)), "bedrock");
    ASSERT_STREQ(prov_speech_name(providers_speech(reg)), "espeak");
    int closed = 0;
    providers_close(reg, closed_cb, &closed);
    while (!closed && uv_run(&loop, UV_RUN_ONCE))
        ;
    ASSERT_EQ(closed, 1);
    cfg.speech = "auto";
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), 0);
    ASSERT_STREQ(prov_speech_name(providers_speech(reg)), "polly");
    ASSERT_STREQ(prov_speech_default_voice(providers_speech(reg)), "Joanna");
    providers_close(reg, closed_cb, &closed);
    while (closed < 2 && uv_run(&loop, UV_RUN_ONCE))
        ;
    ASSERT_EQ(closed, 2);
    aws_client_close(aws, closed_cb, &closed);
    while (closed < 3 && uv_run(&loop, UV_RUN_ONCE))
        ;
    net_client_close(net, closed_cb, &closed);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(closed, 4);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

static void spec_fox(prov_story_spec_t *s)
{
    prov_story_spec_defaults(s);
    s->prompt = "A brave fox named Tilly who finds a lost star";
}

TEST(offline_story_deltas_add_up)
{
    start_reg(0);
    prov_story_spec_t s;
    spec_fox(&s);
    s.parts = 4;
    s.target_words = 400;
    story_out_t o;
    story_init(&o);
    write_story(&s, &o);
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_STREQ(o.provider, "offline");
    ASSERT_STREQ(o.model, "composer-v1");
    ASSERT_STREQ(o.finish, "stop");
    ASSERT(strlen(o.title) > 3);
    ASSERT(o.ndeltas > 20); /* a few words each, not one blob */
    ASSERT_EQ(o.deltas.len, o.len);
    ASSERT_MEMEQ(o.deltas.data, o.text, o.len);
    ASSERT(strncmp(o.text, "Part 1: ", 8) == 0);
    /* The plan carries characters and one entry per part. */
    ASSERT(o.plan != NULL);
    arena_t a;
    arena_init(&a);
    char err[100];
    yajl_val plan = json_parse(&a, o.plan, strlen(o.plan), 32, err, sizeof err);
    ASSERT(plan != NULL);
    yajl_val parts = json_get(plan, "parts"), chars = json_get(plan, "characters");
    ASSERT(parts && YAJL_IS_ARRAY(parts));
    ASSERT_EQ(parts->u.array.len, 4);
    ASSERT(chars && YAJL_IS_ARRAY(chars) && chars->u.array.len >= 1);
    ASSERT_STREQ(json_get_str(chars->u.array.values[0], "name"), "Tilly");
    arena_free(&a);
    ASSERT_EQ(providers_in_flight(reg), 0);
    story_free(&o);
    stop_reg();
}

TEST(offline_story_honours_settings)
{
    start_reg(0);
    static const int nparts[] = {1, 2, 5};
    for (size_t i = 0; i < 3; i++) {
        prov_story_spec_t s;
        spec_fox(&s);
        s.parts = nparts[i];
        s.target_words = 300 + 150 * (int)i;
        s.questions = true;
        s.child_name = "Mira";
        story_out_t o;
        story_init(&o);
        write_story(&s, &o);
        ASSERT_EQ(o.status, PROV_OK);
        /* Exactly N "Part k:" headings, in order, each at the start of a line. */
        ASSERT_EQ(count_str(o.text, "Part "), (size_t)nparts[i]);
        for (int k = 1; k <= nparts[i]; k++) {
            char h[32];
            snprintf(h, sizeof h, k == 1 ? "Part %d: " : "\nPart %d: ", k);
            ASSERT(k == 1 ? strncmp(o.text, h, strlen(h)) == 0 : strstr(o.text, h) != NULL);
        }
        /* Questions on: a question to the listener in every part. */
        ASSERT(count_str(o.text, "?\n") + (o.text[o.len - 1] == '?') >= (size_t)nparts[i]);
        ASSERT(strstr(o.text, "Mira") != NULL);
        size_t words = count_words(o.text);
        ASSERT(words > (size_t)s.target_words * 6 / 10);
        ASSERT(words < (size_t)s.target_words * 14 / 10);
        story_free(&o);
    }
    stop_reg();
}

TEST(offline_story_deterministic)
{
    start_reg(0);
    prov_story_spec_t s;
    spec_fox(&s);
    story_out_t a, b, c;
    story_init(&a);
    story_init(&b);
    story_init(&c);
    write_story(&s, &a);
    write_story(&s, &b);
    ASSERT_EQ(a.len, b.len);
    ASSERT_MEMEQ(a.text, b.text, a.len);
    ASSERT_STREQ(a.title, b.title);
    /* Requested changes (regenerate) give a different story. */
    s.modifications = "make it about the moon and a friendly owl";
    write_story(&s, &c);
    ASSERT_EQ(c.status, PROV_OK);
    ASSERT(c.len != a.len || memcmp(a.text, c.text, a.len) != 0);
    story_free(&a);
    story_free(&b);
    story_free(&c);
    stop_reg();
}

static int ticks;
static void tick_cb(uv_timer_t *t)
{
    ticks++;
}

TEST(offline_story_paced_without_blocking)
{
    start_reg(5);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    ticks = 0;
    uv_timer_start(&t, tick_cb, 1, 1);
    prov_story_spec_t s;
    spec_fox(&s);
    s.target_words = 150;
    s.parts = 1;
    story_out_t o;
    story_init(&o);
    uint64_t t0 = uv_hrtime();
    write_story(&s, &o);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_EQ(o.deltas.len, o.len);
    /* About 3 words every 5 ms: the deltas are spread in time... */
    ASSERT(o.ndeltas >= 30);
    ASSERT(ms >= (o.ndeltas - 1) * 5 * 0.9);
    /* ...and the loop kept running meanwhile (a 1 ms timer fired throughout). */
    ASSERT(ticks >= o.ndeltas);
    printf("  paced: %d deltas in %.0f ms, %d loop ticks\n", o.ndeltas, ms, ticks);
    story_free(&o);
    stop_reg();
}

TEST(offline_story_invalid_spec)
{
    start_reg(0);
    static const struct {
        const char *prompt, *tmpl;
        int parts, words;
    } bad[] = {{"", NULL, 3, 500},
               {"a cat", "horror", 3, 500},
               {"a cat", NULL, 11, 500},
               {"a cat", NULL, 3, 100},
               {"bad \xff utf8", NULL, 3, 500}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        prov_story_spec_t s;
        prov_story_spec_defaults(&s);
        s.prompt = bad[i].prompt;
        if (bad[i].tmpl) s.template_name = bad[i].tmpl;
        s.parts = bad[i].parts;
        s.target_words = bad[i].words;
        story_out_t o;
        story_init(&o);
        write_story(&s, &o);
        ASSERT_EQ(o.status, PROV_E_INVALID);
        ASSERT(strlen(o.message) > 5);
        ASSERT_EQ(o.ndeltas, 0);
        ASSERT_STREQ(o.provider, "offline");
        story_free(&o);
    }
    /* Missing arguments are refused at once, without a callback. */
    story_out_t o;
    story_init(&o);
    ASSERT_EQ(prov_text_write_story(providers_text(reg), NULL, on_delta, on_story, &o, NULL),
              -EINVAL);
    prov_story_spec_t s;
    spec_fox(&s);
    ASSERT_EQ(prov_text_write_story(providers_text(reg), &s, on_delta, NULL, &o, NULL), -EINVAL);
    ASSERT_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
    ASSERT_EQ(o.done, 0);
    story_free(&o);
    stop_reg();
}

TEST(cancel_means_no_callback)
{
    start_reg(2);
    prov_story_spec_t s;
    spec_fox(&s);
    /* Cancelled from inside the third delta: no more deltas and no done. */
    story_out_t a;
    story_init(&a);
    a.cancel_after = 3;
    ASSERT_EQ(prov_text_write_story(providers_text(reg), &s, on_delta, on_story, &a, &a.call), 0);
    /* Cancelled right after the start (the composer may already run on a worker). */
    story_out_t b;
    story_init(&b);
    ASSERT_EQ(prov_text_write_story(providers_text(reg), &s, on_delta, on_story, &b, &b.call), 0);
    ASSERT_EQ(prov_cancel(b.call), 0);
    ASSERT_EQ(prov_cancel(b.call), -EALREADY);
    ASSERT_EQ(providers_in_flight(reg), 2);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(a.ndeltas, 3);
    ASSERT_EQ(a.done, 0);
    ASSERT_EQ(b.ndeltas, 0);
    ASSERT_EQ(b.done, 0);
    ASSERT_EQ(providers_in_flight(reg), 0); /* everything reclaimed */
    story_free(&a);
    story_free(&b);
    stop_reg();
}

/* ---- image ---- */

typedef struct {
    int done, status, width, height;
    uint8_t *png;
    size_t len;
    char model[64], message[200];
} image_out_t;

static void on_image(int status, prov_image_result_t *r, void *arg)
{
    image_out_t *o = arg;
    ASSERT(!in_start);
    o->done++;
    o->status = status;
    o->width = r->width;
    o->height = r->height;
    snprintf(o->model, sizeof o->model, "%s", r->model);
    snprintf(o->message, sizeof o->message, "%s", r->message);
    o->png = r->png; /* taken: freed by the test */
    o->len = r->len;
    r->png = NULL;
}

static void render(const prov_image_spec_t *s, image_out_t *o)
{
    memset(o, 0, sizeof *o);
    in_start = 1;
    ASSERT_EQ(prov_image_render(providers_image(reg), s, on_image, o, NULL), 0);
    in_start = 0;
    run_until(&o->done);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

TEST(offline_image_png_of_requested_size)
{
    start_reg(0);
    prov_character_t ch[2] = {{"Tilly", "fox", {"yellow", "purple", NULL}},
                              {"Bolt", "robot", {"#3366ff", NULL, NULL}}};
    prov_image_spec_t s = {.prompt = "Tilly the fox and Bolt the robot under the moon",
                           .width = 320,
                           .height = 200,
                           .seed = 7,
                           .template_name = "sci-fi",
                           .scene_number = 2,
                           .caption = "Off to the stars",
                           .characters = ch,
                           .ncharacters = 2};
    image_out_t a, b, c;
    render(&s, &a);
    ASSERT_EQ(a.status, PROV_OK);
    ASSERT_STREQ(a.model, "illustrator-v1");
    ASSERT(a.len > 33 && a.png != NULL);
    ASSERT_MEMEQ(a.png, "\x89PNG\r\n\x1a\n", 8);
    ASSERT_EQ(be32(a.png + 16), 320); /* IHDR width, height */
    ASSERT_EQ(be32(a.png + 20), 200);
    ASSERT_EQ(a.width, 320);
    ASSERT_EQ(a.height, 200);
    vision_offline_image_t img;
    ASSERT_EQ(vision_offline_decode(a.png, a.len, NULL, &img), 0); /* really decodes */
    ASSERT_EQ(img.src_width, 320);
    ASSERT_EQ(img.src_height, 200);
    vision_offline_image_free(&img);
    render(&s, &b); /* same request, same bytes */
    ASSERT_EQ(a.len, b.len);
    ASSERT_MEMEQ(a.png, b.png, a.len);
    s.seed = 8;
    render(&s, &c);
    ASSERT(c.len != a.len || memcmp(a.png, c.png, a.len) != 0);
    free(a.png);
    free(b.png);
    free(c.png);
    /* Default size and a refused size. */
    prov_image_spec_t d = {.prompt = "a castle on a hill", .seed = -1};
    render(&d, &a);
    ASSERT_EQ(a.status, PROV_OK);
    ASSERT_EQ(be32(a.png + 16), 768);
    ASSERT_EQ(be32(a.png + 20), 1152);
    free(a.png);
    d.width = 10;
    render(&d, &a);
    ASSERT_EQ(a.status, PROV_E_INVALID);
    ASSERT(a.png == NULL);
    ASSERT(strstr(a.message, "size") != NULL);
    stop_reg();
}

/* ---- vision ---- */

static cairo_status_t png_sink(void *closure, const unsigned char *data, unsigned int len)
{
    return buf_append(closure, data, len) ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

/* A w x h PNG: the top `split` fraction in colour top, the rest in bottom (0xRRGGBB). */
static buf_t make_png(int w, int h, uint32_t top, uint32_t bottom, double split)
{
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(sf);
    uint32_t cols[2] = {top, bottom};
    for (int i = 0; i < 2; i++) {
        cairo_set_source_rgb(cr, ((cols[i] >> 16) & 255) / 255.0, ((cols[i] >> 8) & 255) / 255.0,
                             (cols[i] & 255) / 255.0);
        cairo_rectangle(cr, 0, i ? h * split : 0, w, i ? h * (1 - split) : h * split);
        cairo_fill(cr);
    }
    buf_t b;
    buf_init(&b, 16 << 20);
    ASSERT_EQ(cairo_surface_write_to_png_stream(sf, png_sink, &b), CAIRO_STATUS_SUCCESS);
    cairo_destroy(cr);
    cairo_surface_destroy(sf);
    return b;
}

typedef struct {
    int done, status;
    char text[512], provider[32], model[64];
} vision_out_t;

static void on_vision(int status, const prov_vision_result_t *r, void *arg)
{
    vision_out_t *o = arg;
    ASSERT(!in_start);
    o->done++;
    o->status = status;
    snprintf(o->text, sizeof o->text, "%s", status == PROV_OK ? r->text : r->message);
    snprintf(o->provider, sizeof o->provider, "%s", r->provider);
    snprintf(o->model, sizeof o->model, "%s", r->model);
}

static void describe(const buf_t *png, vision_out_t *o)
{
    memset(o, 0, sizeof *o);
    in_start = 1;
    ASSERT_EQ(prov_vision_describe(providers_vision(reg), (const uint8_t *)png->data, png->len,
                                   on_vision, o, NULL),
              0);
    in_start = 0;
    run_until(&o->done);
}

TEST(offline_vision_known_colours)
{
    start_reg(0);
    vision_out_t o, o2;
    buf_t red = make_png(200, 200, 0xE02020, 0xE02020, 0.5);
    describe(&red, &o);
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_STREQ(o.provider, "offline");
    ASSERT_STREQ(o.model, "describer-v1");
    ASSERT(strstr(o.text, "red") != NULL);
    ASSERT(strstr(o.text, "blue") == NULL);
    describe(&red, &o2); /* deterministic */
    ASSERT_STREQ(o.text, o2.text);
    buf_free(&red);

    buf_t sky = make_png(400, 240, 0x3A7BE0, 0x2E9E3A, 0.5); /* blue over green, landscape */
    describe(&sky, &o);
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT(strstr(o.text, "blue") != NULL);
    ASSERT(strstr(o.text, "green") != NULL);
    ASSERT(strstr(o.text, "red") == NULL);
    buf_free(&sky);

    buf_t junk;
    buf_init(&junk, 100);
    buf_append_str(&junk, "this is not a picture at all");
    describe(&junk, &o);
    ASSERT_EQ(o.status, PROV_E_INVALID);
    ASSERT(strlen(o.text) > 5);
    buf_free(&junk);
    stop_reg();
}

/* ---- speech ---- */

typedef struct {
    int done, status;
    prov_speech_result_t res; /* pcm and marks taken from the callback */
    char voice[64], message[320], model[32];
} speech_out_t;

static void on_speech(int status, prov_speech_result_t *r, void *arg)
{
    speech_out_t *o = arg;
    ASSERT(!in_start);
    o->done++;
    o->status = status;
    o->res = *r;
    r->pcm = NULL;               /* take the audio */
    audio_marks_init(&r->marks); /* and the marks */
    snprintf(o->voice, sizeof o->voice, "%s", r->voice);
    snprintf(o->message, sizeof o->message, "%s", r->message);
    snprintf(o->model, sizeof o->model, "%s", r->model);
}

static void speak(const char *text, const char *voice, speech_out_t *o)
{
    memset(o, 0, sizeof *o);
    in_start = 1;
    ASSERT_EQ(prov_speech_synthesize(providers_speech(reg), text, voice, on_speech, o, NULL), 0);
    in_start = 0;
    run_until(&o->done);
}

static void speech_free(speech_out_t *o)
{
    free(o->res.pcm);
    audio_marks_free(&o->res.marks);
}

TEST(espeak_word_timings_cover_audio)
{
    start_reg(0);
    static const char text[] = "Tilly the fox looked up at the sky. A tiny star was falling, "
                               "and she ran to catch it!";
    speech_out_t o;
    speak(text, NULL, &o);
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_STREQ(o.voice, "en-us-f");
    ASSERT_STREQ(o.model, "espeak-ng");
    ASSERT_EQ(o.res.sample_rate, 22050);
    double dur_ms = (double)o.res.nsamples * 1000.0 / o.res.sample_rate;
    ASSERT(dur_ms > 2000 && dur_ms < 15000);
    size_t words = 0, sentences = 0;
    uint32_t last = 0, first_word = UINT32_MAX;
    for (size_t i = 0; i < o.res.marks.len; i++) {
        const audio_mark_t *m = &o.res.marks.items[i];
        ASSERT(m->end <= sizeof text - 1);
        ASSERT_EQ(strlen(m->value), m->end - m->start);
        ASSERT_MEMEQ(text + m->start, m->value, m->end - m->start);
        if (m->type == AUDIO_MARK_SENTENCE) {
            sentences++;
            continue;
        }
        if (words) ASSERT(m->time_ms > last); /* strictly increasing word times */
        if (first_word == UINT32_MAX) first_word = m->time_ms;
        last = m->time_ms;
        words++;
    }
    ASSERT_EQ(words, 19);
    ASSERT_EQ(sentences, 2);
    /* The words span the audio: the first starts near the beginning, the last near the end. */
    ASSERT(first_word < dur_ms * 0.15);
    ASSERT(last > dur_ms * 0.75 && last < dur_ms);
    speech_out_t o2;
    speak(text, NULL, &o2); /* same marks; audio length equal within 1% */
    ASSERT_EQ(o2.res.marks.len, o.res.marks.len);
    for (size_t i = 0; i < o.res.marks.len; i++) {
        ASSERT_EQ(o2.res.marks.items[i].start, o.res.marks.items[i].start);
        ASSERT_STREQ(o2.res.marks.items[i].value, o.res.marks.items[i].value);
    }
    ASSERT(o2.res.nsamples > o.res.nsamples * 0.99 && o2.res.nsamples < o.res.nsamples * 1.01);
    speech_free(&o2);
    speech_free(&o);

    /* A Polly voice is replaced by the closest espeak voice; an unknown one is refused. */
    speak("Hello there.", "Brian", &o);
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_STREQ(o.voice, "en-gb-m");
    ASSERT(strstr(o.message, "Brian") != NULL);
    speech_free(&o);
    speak("Hello there.", "Nobody", &o);
    ASSERT_EQ(o.status, PROV_E_INVALID);
    ASSERT(o.res.pcm == NULL && o.res.marks.len == 0);
    speak("", NULL, &o);
    ASSERT_EQ(o.status, PROV_E_INVALID);
    size_t n = 0;
    const prov_voice_t *v = prov_speech_voices(providers_speech(reg), &n);
    ASSERT(n >= 10);
    ASSERT_STREQ(v[0].provider, "espeak");
    stop_reg();
}

/* ---- close ---- */

TEST(close_finishes_calls_with_shutdown)
{
    start_reg(20); /* slow pacing: the story is still streaming when close runs */
    prov_story_spec_t s;
    spec_fox(&s);
    story_out_t o;
    story_init(&o);
    ASSERT_EQ(prov_text_write_story(providers_text(reg), &s, on_delta, on_story, &o, &o.call), 0);
    while (o.ndeltas < 2 && uv_run(&loop, UV_RUN_ONCE))
        ;
    ASSERT_EQ(o.done, 0);
    /* One synthesis runs on a worker, the second waits in espeak's queue. */
    speech_out_t sp;
    memset(&sp, 0, sizeof sp);
    ASSERT_EQ(prov_speech_synthesize(providers_speech(reg), "One. Two. Three. Four. Five.", NULL,
                                     on_speech, &sp, NULL),
              0);
    speech_out_t sp2;
    memset(&sp2, 0, sizeof sp2);
    ASSERT_EQ(prov_speech_synthesize(providers_speech(reg), "Six.", NULL, on_speech, &sp2, NULL),
              0);
    int closed = 0;
    providers_close(reg, closed_cb, &closed);
    ASSERT_EQ(o.done, 0); /* not from inside close */
    ASSERT_EQ(sp.done + sp2.done, 0);
    /* New work is refused while closing. */
    story_out_t late;
    story_init(&late);
    ASSERT_EQ(prov_text_write_story(providers_text(reg), &s, on_delta, on_story, &late, NULL),
              -ESHUTDOWN);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(closed, 1);
    ASSERT_EQ(o.done, 1);
    ASSERT_EQ(o.status, PROV_E_SHUTDOWN);
    ASSERT_EQ(sp.done, 1);
    ASSERT_EQ(sp.status, PROV_E_SHUTDOWN);
    ASSERT_EQ(sp2.done, 1);
    ASSERT_EQ(sp2.status, PROV_E_SHUTDOWN);
    ASSERT_EQ(late.done, 0);
    speech_free(&sp);
    speech_free(&sp2);
    story_free(&o);
    story_free(&late);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    /* The espeak singleton was released: a new registry can start it again. */
    start_reg(0);
    stop_reg();
}

TEST(prompt_builder_and_titles)
{
    prov_story_spec_t s;
    prov_story_spec_defaults(&s);
    s.prompt = "a shy dragon who learns to sing";
    s.parts = 4;
    s.target_words = 800;
    s.template_name = "fantasy";
    s.child_name = "Noah";
    s.moral = "being yourself";
    s.questions = true;
    s.sound_effects = true;
    s.language = "de";
    s.previous_text = "Title: Old\n\nPart 1: Old start";
    s.modifications = "add a cat";
    buf_t sys, user;
    buf_init(&sys, 1 << 16);
    buf_init(&user, 1 << 16);
    ASSERT_EQ(prov_story_prompt_build(&s, &sys, &user), 0);
    ASSERT(strstr(sys.data, "exactly 4 parts") != NULL);
    ASSERT(strstr(sys.data, "About 800 words") != NULL);
    ASSERT(strstr(sys.data, "Title: ") != NULL);
    ASSERT(strstr(sys.data, "German") != NULL);
    ASSERT(strstr(sys.data, "aged 6 to 8") != NULL);
    ASSERT(strstr(user.data, "a shy dragon who learns to sing") != NULL);
    ASSERT(strstr(user.data, "Noah") != NULL);
    ASSERT(strstr(user.data, "being yourself") != NULL);
    ASSERT(strstr(user.data, "question") != NULL);
    ASSERT(strstr(user.data, "Whoosh") != NULL);
    ASSERT(strstr(user.data, "Part 1: Old start") != NULL);
    ASSERT(strstr(user.data, "add a cat") != NULL);
    ASSERT(strstr(user.data, "magical") != NULL);
    s.template_name = "horror";
    ASSERT_EQ(prov_story_prompt_build(&s, &sys, &user), -EINVAL);
    buf_free(&sys);
    buf_free(&user);

    char title[64];
    size_t off;
    static const char a[] = "\n**Title:** The Singing Dragon\n\nPart 1: Hum";
    prov_story_split_title(a, sizeof a - 1, title, sizeof title, &off);
    ASSERT_STREQ(title, "The Singing Dragon");
    ASSERT_STREQ(a + off, "Part 1: Hum");
    static const char b[] = "The Singing Dragon\nPart 1: Hum";
    prov_story_split_title(b, sizeof b - 1, title, sizeof title, &off);
    ASSERT_STREQ(title, "The Singing Dragon");
    ASSERT_EQ(off, 0);
    static const char c[] = "Part 1: Hum\nOnce upon a time";
    prov_story_split_title(c, sizeof c - 1, title, sizeof title, &off);
    ASSERT_STREQ(title, "");
    ASSERT_EQ(off, 0);
}

/* ---- bedrock and polly against tools/fake-aws ---- */

extern char **environ;
static pid_t fake_pid;

static void fake_stop(void)
{
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, NULL, 0);
        fake_pid = 0;
    }
}

/* One blocking request to fake-aws's control API (test setup, before the loop runs). */
static void fake_control(int port, const char *path, const char *json)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     path, strlen(json), json);
    ASSERT(n > 0 && (size_t)n < sizeof req);
    ASSERT_EQ(write(fd, req, (size_t)n), n);
    char resp[4096];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = '\0';
    close(fd);
    ASSERT(strncmp(resp, "HTTP/1.1 200", 12) == 0 || strncmp(resp, "HTTP/1.0 200", 12) == 0);
}

static int fake_aws_start(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) TEST_SKIP("no /usr/bin/python3");
    char dir[] = "/tmp/test_providers.XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char script[600], portfile[128];
    const char *src = getenv("NOVA_SOURCE_DIR");
    if (src && *src) {
        snprintf(script, sizeof script, "%s/tools/fake-aws", src);
    } else {
        snprintf(script, sizeof script, "%s", __FILE__);
        char *cut = strstr(script, "/tests/unit/");
        ASSERT(cut != NULL);
        snprintf(cut, sizeof script - (size_t)(cut - script), "/tools/fake-aws");
    }
    snprintf(portfile, sizeof portfile, "%s/port", dir);
    char *argv[] = {"python3",      script,     "--port",       "0",      "--port-file", portfile,
                    "--access-key", "AKIDFAKE", "--secret-key", "SECRET", NULL};
    ASSERT_EQ(posix_spawn(&fake_pid, "/usr/bin/python3", NULL, NULL, argv, environ), 0);
    atexit(fake_stop);
    for (int waited = 0; waited < 20000; waited += 20) {
        FILE *f = fopen(portfile, "r");
        int port = 0;
        if (f) {
            int ok = fscanf(f, "%d", &port);
            fclose(f);
            if (ok == 1 && port > 0) {
                unlink(portfile);
                rmdir(dir);
                return port;
            }
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    TEST__FAIL("fake-aws did not start");
    return -1;
}

TEST(aws_providers_against_fake_aws)
{
    int port = fake_aws_start();
    ASSERT_EQ(uv_loop_init(&loop), 0);
    net_config_t nc;
    net_config_defaults(&nc);
    net_client_t *net = net_client_new(&loop, &nc);
    ASSERT(net != NULL);
    aws_config_t ac;
    aws_config_defaults(&ac);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    aws_config_set(&ac.bedrock_endpoint, url);
    aws_config_set(&ac.polly_endpoint, url);
    aws_config_set(&ac.region, "us-east-1");
    aws_config_set(&ac.access_key_id, "AKIDFAKE");
    aws_config_set(&ac.secret_access_key, "SECRET");
    ac.imds_disabled = true;
    aws_client_t *aws = aws_client_new(&loop, net, &ac);
    aws_config_free(&ac);
    ASSERT(aws != NULL);
    providers_config_t cfg;
    providers_config_defaults(&cfg);
    cfg.aws = aws;
    cfg.aws_available = true;
    char err[200];
    ASSERT_EQ(providers_new(&loop, &cfg, &reg, err, sizeof err), 0);

    /* Story: streamed deltas that add up, the parts asked for. */
    prov_story_spec_t s;
    spec_fox(&s);
    s.parts = 3;
    story_out_t o;
    story_init(&o);
    write_story(&s, &o);
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_STREQ(o.provider, "bedrock");
    ASSERT_STREQ(o.model, PROVIDERS_DEFAULT_BEDROCK_TEXT);
    ASSERT(o.ndeltas > 1);
    ASSERT_EQ(o.deltas.len, o.len);
    ASSERT_MEMEQ(o.deltas.data, o.text, o.len);
    ASSERT(strstr(o.text, "Part 1:") && strstr(o.text, "Part 3:") && !strstr(o.text, "Part 4:"));
    ASSERT(o.title[0] != '\0');
    story_free(&o);

    /* A stream that breaks off mid-story with a throttling exception is written again: the
     * owner hears on_restart once, and the deltas after it add up to the whole text. */
    fake_control(port, "/__fake/faults",
                 "{\"match\":{\"op\":\"converse-stream\"},\"action\":\"midstream_exception\","
                 "\"after\":3,\"exception\":\"throttlingException\",\"times\":1}");
    s.on_restart = on_restart;
    story_init(&o);
    write_story(&s, &o);
    ASSERT_EQ(o.status, PROV_OK);
    ASSERT_EQ(o.restarts, 1);
    ASSERT_EQ(o.deltas.len, o.len);
    ASSERT_MEMEQ(o.deltas.data, o.text, o.len);
    ASSERT(strstr(o.text, "Part 1:") && strstr(o.text, "Part 3:"));
    story_free(&o);
    s.on_restart = NULL;

    /* Vision: a description comes back. */
    buf_t sky = make_png(64, 64, 0x3A7BE0, 0x2E9E3A, 0.5);
    vision_out_t v;
    describe(&sky, &v);
    buf_free(&sky);
    ASSERT_EQ(v.status, PROV_OK);
    ASSERT_STREQ(v.provider, "bedrock");
    ASSERT(strlen(v.text) > 5);

    /* Image: a PNG from the head of the model chain. */
    prov_image_spec_t is = {
        .prompt = "a fox under the moon", .width = 512, .height = 512, .seed = 3};
    image_out_t im;
    render(&is, &im);
    ASSERT_EQ(im.status, PROV_OK);
    ASSERT(im.len > 8 && im.png != NULL);
    ASSERT_MEMEQ(im.png, "\x89PNG\r\n\x1a\n", 8);
    ASSERT_STREQ(im.model, "stability.stable-image-core-v1:1");
    free(im.png);

    /* Speech: 16 kHz PCM with increasing word marks; an espeak voice maps to a Polly voice. */
    static const char text[] = "Hello there. The fox ran home.";
    speech_out_t sp;
    speak(text, "en-gb-m", &sp);
    ASSERT_EQ(sp.status, PROV_OK);
    ASSERT_STREQ(sp.voice, "Brian");
    ASSERT(strstr(sp.message, "en-gb-m") != NULL);
    ASSERT_EQ(sp.res.sample_rate, 16000);
    ASSERT(sp.res.nsamples > 8000);
    size_t words = 0, sentences = 0;
    uint32_t last = 0;
    for (size_t i = 0; i < sp.res.marks.len; i++) {
        const audio_mark_t *m = &sp.res.marks.items[i];
        ASSERT_MEMEQ(text + m->start, m->value, m->end - m->start);
        if (m->type == AUDIO_MARK_SENTENCE) {
            sentences++;
            continue;
        }
        if (words) ASSERT(m->time_ms > last);
        last = m->time_ms;
        words++;
    }
    ASSERT_EQ(words, 6);
    ASSERT_EQ(sentences, 2);
    ASSERT(last < sp.res.nsamples * 1000.0 / 16000);
    speech_free(&sp);

    int closed = 0;
    providers_close(reg, closed_cb, &closed);
    while (!closed && uv_run(&loop, UV_RUN_ONCE))
        ;
    aws_client_close(aws, closed_cb, &closed);
    while (closed < 2 && uv_run(&loop, UV_RUN_ONCE))
        ;
    net_client_close(net, closed_cb, &closed);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(closed, 3);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    fake_stop();
}

TEST(concurrent_calls_complete_independently)
{
    start_reg(0);
    static const char *const prompts[] = {
        "a fox who finds a star",      "a robot who bakes bread",     "a whale who sings",
        "a girl named Ada and a kite", "a dragon afraid of the dark", "an owl who cannot sleep"};
    enum { N = sizeof prompts / sizeof prompts[0] };
    story_out_t seq[N], par[N];
    prov_story_spec_t s[N];
    /* One at a time first, then all at once with pictures in between: same stories. */
    uint64_t t0 = uv_hrtime();
    for (size_t i = 0; i < N; i++) {
        prov_story_spec_defaults(&s[i]);
        s[i].prompt = prompts[i];
        story_init(&seq[i]);
        write_story(&s[i], &seq[i]);
        ASSERT_EQ(seq[i].status, PROV_OK);
    }
    double story_ms = (double)(uv_hrtime() - t0) / 1e6 / N;
    image_out_t im[N];
    prov_image_spec_t is = {.prompt = "a castle by the sea at night", .seed = 1};
    t0 = uv_hrtime();
    for (size_t i = 0; i < N; i++) {
        story_init(&par[i]);
        ASSERT_EQ(prov_text_write_story(providers_text(reg), &s[i], on_delta, on_story, &par[i],
                                        &par[i].call),
                  0);
        memset(&im[i], 0, sizeof im[i]);
        ASSERT_EQ(prov_image_render(providers_image(reg), &is, on_image, &im[i], NULL), 0);
    }
    ASSERT_EQ(providers_in_flight(reg), 2 * N);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    double all_ms = (double)(uv_hrtime() - t0) / 1e6;
    for (size_t i = 0; i < N; i++) {
        ASSERT_EQ(par[i].done, 1);
        ASSERT_EQ(par[i].status, PROV_OK);
        ASSERT_EQ(par[i].len, seq[i].len);
        ASSERT_MEMEQ(par[i].text, seq[i].text, seq[i].len);
        ASSERT_EQ(par[i].deltas.len, par[i].len);
        ASSERT_EQ(im[i].status, PROV_OK);
        ASSERT_EQ(im[i].len, im[0].len);
        ASSERT_MEMEQ(im[i].png, im[0].png, im[0].len);
    }
    for (size_t i = 0; i < N; i++) {
        free(im[i].png);
        story_free(&seq[i]);
        story_free(&par[i]);
    }
    printf("  offline story: %.1f ms each; %d stories + %d 768x1152 pictures at once: %.0f ms\n",
           story_ms, (int)N, (int)N, all_ms);
    stop_reg();
}

TEST_MAIN({"registry_choices", registry_choices},
          {"offline_story_deltas_add_up", offline_story_deltas_add_up},
          {"offline_story_honours_settings", offline_story_honours_settings},
          {"offline_story_deterministic", offline_story_deterministic},
          {"offline_story_paced_without_blocking", offline_story_paced_without_blocking},
          {"offline_story_invalid_spec", offline_story_invalid_spec},
          {"cancel_means_no_callback", cancel_means_no_callback},
          {"offline_image_png_of_requested_size", offline_image_png_of_requested_size},
          {"offline_vision_known_colours", offline_vision_known_colours},
          {"espeak_word_timings_cover_audio", espeak_word_timings_cover_audio},
          {"close_finishes_calls_with_shutdown", close_finishes_calls_with_shutdown},
          {"prompt_builder_and_titles", prompt_builder_and_titles},
          {"concurrent_calls_complete_independently", concurrent_calls_complete_independently},
          {"aws_providers_against_fake_aws", aws_providers_against_fake_aws})
