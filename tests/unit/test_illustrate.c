/* Unit tests for providers/illustrate: the output is a real PNG of the requested size (checked
 * with imgsniff and decoded with libpng), rendering is deterministic and thread-safe, prompts
 * change the picture, recognised nouns are drawn, night skies are dark, and a story character
 * keeps its exact colours on every page it appears on. Prints the render time. */
#include "test.h"

#include <pthread.h>
#include <time.h>

#include <png.h>

#include "media/imgsniff.h"
#include "providers/illustrate.h"

/* fontconfig keeps process-lifetime caches that LeakSanitizer reports at exit; they are not
 * leaks of this code. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\n";
}

typedef struct {
    uint8_t *rgb;
    int w, h;
} rgb_t;

static rgb_t decode(const uint8_t *png, size_t len)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    ASSERT(png_image_begin_read_from_memory(&img, png, len));
    img.format = PNG_FORMAT_RGB;
    rgb_t out = {malloc(PNG_IMAGE_SIZE(img)), (int)img.width, (int)img.height};
    ASSERT(png_image_finish_read(&img, NULL, out.rgb, 0, NULL));
    return out;
}

static int render(const illustrate_request_t *r, uint8_t **png, size_t *len)
{
    return illustrate_render_png(r, png, len);
}

static size_t count_color(const rgb_t *im, uint32_t c, int x0, int y0, int x1, int y1)
{
    size_t n = 0;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > im->w) x1 = im->w;
    if (y1 > im->h) y1 = im->h;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const uint8_t *p = im->rgb + ((size_t)y * im->w + x) * 3;
            if (p[0] == (c >> 16 & 255) && p[1] == (c >> 8 & 255) && p[2] == (c & 255)) n++;
        }
    return n;
}

typedef struct {
    char names[64][32];
    illustrate_trace_t ev[64];
    int n;
} trace_log_t;

static void on_trace(void *ctx, const illustrate_trace_t *ev)
{
    trace_log_t *t = ctx;
    if (t->n >= 64) return;
    t->ev[t->n] = *ev;
    snprintf(t->names[t->n], sizeof t->names[0], "%s", ev->name ? ev->name : "");
    t->ev[t->n].name = t->names[t->n];
    t->n++;
}

static const illustrate_trace_t *find(const trace_log_t *t, illustrate_elem_t e, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (t->ev[i].elem == e && (!name || strcmp(t->names[i], name) == 0)) return &t->ev[i];
    return NULL;
}

TEST(png_of_requested_size)
{
    static const int sizes[][2] = {{0, 0}, {64, 64}, {2048, 100}, {100, 2048}, {333, 517}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        illustrate_request_t r = {.width = sizes[i][0],
                                  .height = sizes[i][1],
                                  .prompt = "a cat under a tree by the sea at night",
                                  .scene_number = 12,
                                  .caption = "Hello",
                                  .seed = 7};
        uint8_t *png = NULL;
        size_t len = 0;
        ASSERT_EQ(render(&r, &png, &len), 0);
        int w = sizes[i][0] ? sizes[i][0] : 768, h = sizes[i][1] ? sizes[i][1] : 1152;
        imgsniff_info_t info;
        ASSERT_EQ(imgsniff_detect(png, len, &info), 0);
        ASSERT_EQ(info.type, IMGSNIFF_PNG);
        ASSERT_EQ(info.width, w);
        ASSERT_EQ(info.height, h);
        rgb_t im = decode(png, len);
        ASSERT_EQ(im.w, w);
        ASSERT_EQ(im.h, h);
        free(im.rgb);
        free(png);
    }
}

TEST(rejects_bad_requests)
{
    uint8_t *png = (uint8_t *)"x";
    size_t len = 5;
    illustrate_request_t r = {.width = 63, .height = 100};
    ASSERT_EQ(render(&r, &png, &len), -EINVAL);
    ASSERT(png == NULL);
    r.width = 2049;
    ASSERT_EQ(render(&r, &png, &len), -EINVAL);
    r.width = -5;
    ASSERT_EQ(render(&r, &png, &len), -EINVAL);
    r.width = 100;
    r.tmpl = ILLUSTRATE_TEMPLATE_COUNT;
    ASSERT_EQ(render(&r, &png, &len), -EINVAL);
    ASSERT_EQ(illustrate_render_png(NULL, &png, &len), -EINVAL);
    illustrate_template_t t = ILLUSTRATE_TEMPLATE_ADVENTURE;
    ASSERT_EQ(illustrate_template_parse("Sci-Fi", &t), 0);
    ASSERT_EQ(t, ILLUSTRATE_TEMPLATE_SCIFI);
    ASSERT_EQ(illustrate_template_parse("mystery", &t), 0);
    ASSERT_EQ(t, ILLUSTRATE_TEMPLATE_MYSTERY);
    ASSERT_EQ(illustrate_template_parse("horror", &t), -EINVAL);
    ASSERT_EQ(t, ILLUSTRATE_TEMPLATE_MYSTERY);
    ASSERT_STREQ(illustrate_template_name(ILLUSTRATE_TEMPLATE_EDUCATIONAL), "educational");
}

TEST(deterministic_and_input_sensitive)
{
    illustrate_request_t r = {.width = 300,
                              .height = 400,
                              .tmpl = ILLUSTRATE_TEMPLATE_FANTASY,
                              .prompt = "a dragon near a castle with clouds",
                              .scene_number = 2,
                              .caption = "The dragon wakes",
                              .seed = 99};
    uint8_t *a, *b;
    size_t la, lb;
    ASSERT_EQ(render(&r, &a, &la), 0);
    ASSERT_EQ(render(&r, &b, &lb), 0);
    ASSERT_EQ(la, lb);
    ASSERT_MEMEQ(a, b, la);
    free(b);
    /* Each input on its own changes the bytes. */
    illustrate_request_t v[4] = {r, r, r, r};
    v[0].prompt = "a robot and a rocket near a planet";
    v[1].seed = 100;
    v[2].scene_number = 3;
    v[3].tmpl = ILLUSTRATE_TEMPLATE_MYSTERY;
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(render(&v[i], &b, &lb), 0);
        if (la == lb && memcmp(a, b, la) == 0) TEST__FAIL("variant %d rendered identically", i);
        free(b);
    }
    free(a);
}

TEST(recognised_nouns_are_drawn)
{
    static const char *const nouns[] = {
        "sun",    "moon",   "star",    "tree",    "house",      "castle", "rocket",
        "planet", "boat",   "dragon",  "cat",     "dog",        "robot",  "mountain",
        "cloud",  "flower", "bird",    "fish",    "book",       "owl",    "unicorn",
        "car",    "train",  "rainbow", "balloon", "lighthouse", "bunny",  "bear"};
    for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++) {
        char prompt[80];
        snprintf(prompt, sizeof prompt, "Look, there is a %s here!", nouns[i]);
        trace_log_t log = {0};
        illustrate_request_t r = {
            .width = 128, .height = 128, .prompt = prompt, .trace = on_trace, .trace_ctx = &log};
        uint8_t *png;
        size_t len;
        ASSERT_EQ(render(&r, &png, &len), 0);
        free(png);
        if (!find(&log, ILLUSTRATE_ELEM_OBJECT, nouns[i])) TEST__FAIL("%s not drawn", nouns[i]);
    }
    /* Plurals and synonyms count; unknown words draw nothing extra. */
    trace_log_t log = {0};
    illustrate_request_t r = {.width = 128,
                              .height = 128,
                              .prompt = "Kittens play in the forest near two puppies",
                              .trace = on_trace,
                              .trace_ctx = &log};
    uint8_t *png;
    size_t len;
    ASSERT_EQ(render(&r, &png, &len), 0);
    free(png);
    int cats = 0, trees = 0, dogs = 0;
    for (int i = 0; i < log.n; i++) {
        cats += strcmp(log.names[i], "cat") == 0;
        trees += strcmp(log.names[i], "tree") == 0;
        dogs += strcmp(log.names[i], "dog") == 0;
    }
    ASSERT(cats >= 2);
    ASSERT(trees >= 2);
    ASSERT(dogs >= 2);
    ASSERT(find(&log, ILLUSTRATE_ELEM_OBJECT, "castle") == NULL);
}

static double mean_luma(const rgb_t *im, int y0, int y1)
{
    double s = 0;
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < im->w; x++) {
            const uint8_t *p = im->rgb + ((size_t)y * im->w + x) * 3;
            s += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        }
    return s / ((double)(y1 - y0) * im->w);
}

TEST(night_sky_is_dark)
{
    const char *prompts[] = {"A quiet night in the village", "A sunny day in the village"};
    double luma[2];
    for (int i = 0; i < 2; i++) {
        trace_log_t log = {0};
        illustrate_request_t r = {.width = 200,
                                  .height = 300,
                                  .prompt = prompts[i],
                                  .trace = on_trace,
                                  .trace_ctx = &log};
        uint8_t *png;
        size_t len;
        ASSERT_EQ(render(&r, &png, &len), 0);
        const illustrate_trace_t *sky = find(&log, ILLUSTRATE_ELEM_SKY, NULL);
        ASSERT(sky != NULL);
        ASSERT_EQ(sky->night, i == 0);
        rgb_t im = decode(png, len);
        luma[i] = mean_luma(&im, 0, 60);
        free(im.rgb);
        free(png);
    }
    printf("  sky luma: night %.0f, day %.0f\n", luma[0], luma[1]);
    ASSERT(luma[0] < 70);
    ASSERT(luma[1] > 120);
}

TEST(character_keeps_its_colours)
{
    const illustrate_character_t cast[] = {
        {"Milo", "cat", {0x12F39A, 0x3344AA, 0xE01010}, 3},
        {"Zara", "girl", {0xD81B9C}, 1},
    };
    const char *pages[] = {"Milo chases a butterfly near a tree", "Zara reads a book by the lake",
                           "At night Milo and Zara watch the moon"};
    const int milo_in[] = {1, 0, 1}, zara_in[] = {0, 1, 1};
    illustrate_trace_t milo_first = {0}, zara_first = {0};
    for (int i = 0; i < 3; i++) {
        trace_log_t log = {0};
        illustrate_request_t r = {.tmpl = ILLUSTRATE_TEMPLATE_ADVENTURE,
                                  .prompt = pages[i],
                                  .scene_number = i + 1,
                                  .caption = pages[i],
                                  .seed = 5,
                                  .characters = cast,
                                  .ncharacters = 2,
                                  .trace = on_trace,
                                  .trace_ctx = &log};
        uint8_t *png;
        size_t len;
        ASSERT_EQ(render(&r, &png, &len), 0);
        rgb_t im = decode(png, len);
        const illustrate_trace_t *m = find(&log, ILLUSTRATE_ELEM_CHARACTER, "Milo");
        const illustrate_trace_t *z = find(&log, ILLUSTRATE_ELEM_CHARACTER, "Zara");
        ASSERT_EQ(m != NULL, milo_in[i]);
        ASSERT_EQ(z != NULL, zara_in[i]);
        size_t milo_px = count_color(&im, 0x12F39A, 0, 0, im.w, im.h);
        size_t zara_px = count_color(&im, 0xD81B9C, 0, 0, im.w, im.h);
        printf("  page %d: Milo body pixels %zu, Zara shirt pixels %zu\n", i + 1, milo_px, zara_px);
        if (milo_in[i]) {
            /* The body colour is painted, and inside Milo's own box. */
            ASSERT(milo_px > 500);
            ASSERT(count_color(&im, 0x12F39A, (int)m->x, (int)m->y, (int)(m->x + m->w),
                               (int)(m->y + m->h)) == milo_px);
            ASSERT_EQ(m->colors[0], 0x12F39A);
            ASSERT_EQ(m->colors[2], 0xE01010);
            if (!milo_first.w) milo_first = *m;
            ASSERT(m->w == milo_first.w && m->h == milo_first.h); /* same shape and size */
        } else {
            ASSERT_EQ(milo_px, 0);
        }
        if (zara_in[i]) {
            ASSERT(zara_px > 500);
            ASSERT_EQ(z->colors[0], 0xD81B9C);
            /* Unspecified colours are derived from the name, so they match across pages. */
            if (!zara_first.w) zara_first = *z;
            ASSERT_EQ(z->colors[1], zara_first.colors[1]);
            ASSERT_EQ(z->colors[2], zara_first.colors[2]);
        } else {
            ASSERT_EQ(zara_px, 0);
        }
        free(im.rgb);
        free(png);
    }
}

TEST(captions_survive_bad_text)
{
    char long_caption[2000];
    for (size_t i = 0; i < sizeof long_caption - 1; i++)
        long_caption[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 26);
    long_caption[sizeof long_caption - 1] = '\0';
    const char *captions[] = {"bad \xff\xfe utf8 \xe2\x82 and \xc0\xaf overlong\x01\x02",
                              long_caption, "Supercalifragilisticexpialidocious-and-more-words",
                              "\xe2\x80\x9cQuoted\xe2\x80\x9d caf\xc3\xa9 \xf0\x9f\x90\xb1", ""};
    for (size_t i = 0; i < sizeof captions / sizeof captions[0]; i++) {
        trace_log_t log = {0};
        illustrate_request_t r = {.width = 64,
                                  .height = 96,
                                  .caption = captions[i],
                                  .scene_number = 100000,
                                  .trace = on_trace,
                                  .trace_ctx = &log};
        uint8_t *png;
        size_t len;
        ASSERT_EQ(render(&r, &png, &len), 0);
        imgsniff_info_t info;
        ASSERT_EQ(imgsniff_detect(png, len, &info), 0);
        ASSERT_EQ(find(&log, ILLUSTRATE_ELEM_CAPTION, NULL) != NULL, captions[i][0] != '\0');
        ASSERT(find(&log, ILLUSTRATE_ELEM_BADGE, "9999") != NULL);
        free(png);
    }
}

typedef struct {
    const illustrate_request_t *req;
    uint8_t *png;
    size_t len;
    int rc;
} job_t;

static void *worker(void *arg)
{
    job_t *j = arg;
    j->rc = illustrate_render_png(j->req, &j->png, &j->len);
    return NULL;
}

TEST(threads_and_timing)
{
    illustrate_request_t r = {.tmpl = ILLUSTRATE_TEMPLATE_ADVENTURE,
                              .prompt = "Milo the cat and a dog walk past a castle and a house "
                                        "under the sun with trees, flowers, birds and clouds",
                              .scene_number = 4,
                              .caption = "A long walk home",
                              .seed = 1};
    job_t jobs[2] = {{&r, NULL, 0, -1}, {&r, NULL, 0, -1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ASSERT_EQ(jobs[0].rc, 0);
    ASSERT_EQ(jobs[1].rc, 0);
    ASSERT_EQ(jobs[0].len, jobs[1].len);
    ASSERT_MEMEQ(jobs[0].png, jobs[1].png, jobs[0].len);

    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    const int n = 3;
    for (int i = 0; i < n; i++) {
        uint8_t *png;
        size_t len;
        ASSERT_EQ(render(&r, &png, &len), 0);
        ASSERT_EQ(len, jobs[0].len);
        ASSERT_MEMEQ(png, jobs[0].png, len);
        free(png);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / n;
    printf("  768x1152 render: %.1f ms per image (this build; see bench_illustrate for release)\n",
           ms);
    /* Generous bound: sanitizer builds are several times slower than release. */
    ASSERT(ms < 3000);
    free(jobs[0].png);
    free(jobs[1].png);
}

TEST_MAIN({"png_of_requested_size", png_of_requested_size},
          {"rejects_bad_requests", rejects_bad_requests},
          {"deterministic_and_input_sensitive", deterministic_and_input_sensitive},
          {"recognised_nouns_are_drawn", recognised_nouns_are_drawn},
          {"night_sky_is_dark", night_sky_is_dark},
          {"character_keeps_its_colours", character_keeps_its_colours},
          {"captions_survive_bad_text", captions_survive_bad_text},
          {"threads_and_timing", threads_and_timing})
