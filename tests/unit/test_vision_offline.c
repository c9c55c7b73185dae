/* Unit tests for providers/vision_offline: pictures of known colours and layouts are encoded with
 * the real encoders (libpng, libjpeg, giflib, libwebp), decoded within a pixel budget and
 * described; the words and facts must match what a person sees. */
#include "test.h"

#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "core/buf.h"
#include "providers/vision_offline.h"

typedef struct {
    int w, h;
    uint8_t *rgb;
} pic_t;

static pic_t pic_new(int w, int h, uint32_t rgb)
{
    pic_t p = {w, h, malloc((size_t)w * h * 3)};
    for (int i = 0; i < w * h; i++) {
        p.rgb[3 * i] = (uint8_t)(rgb >> 16);
        p.rgb[3 * i + 1] = (uint8_t)(rgb >> 8);
        p.rgb[3 * i + 2] = (uint8_t)rgb;
    }
    return p;
}

static void pic_rect(pic_t *p, int x0, int y0, int x1, int y1, uint32_t rgb)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            uint8_t *q = p->rgb + ((size_t)y * p->w + x) * 3;
            q[0] = (uint8_t)(rgb >> 16);
            q[1] = (uint8_t)(rgb >> 8);
            q[2] = (uint8_t)rgb;
        }
}

static void png_sink(png_structp png, png_bytep data, size_t len)
{
    buf_append(png_get_io_ptr(png), data, len);
}

static void png_flush(png_structp png)
{
    (void)png;
}

static buf_t enc_png(const pic_t *p, int interlace)
{
    buf_t b;
    buf_init(&b, 64 << 20);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_set_write_fn(png, &b, png_sink, png_flush);
    png_set_IHDR(png, info, (png_uint_32)p->w, (png_uint_32)p->h, 8, PNG_COLOR_TYPE_RGB,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)p->h);
    for (int y = 0; y < p->h; y++)
        rows[y] = p->rgb + (size_t)y * p->w * 3;
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return b;
}

static buf_t enc_jpeg(const pic_t *p)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *mem = NULL;
    unsigned long memlen = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &memlen);
    c.image_width = (JDIMENSION)p->w;
    c.image_height = (JDIMENSION)p->h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r[1] = {p->rgb + (size_t)c.next_scanline * p->w * 3};
        jpeg_write_scanlines(&c, r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    buf_t b;
    buf_init(&b, 64 << 20);
    buf_append(&b, mem, memlen);
    free(mem);
    return b;
}

static int gif_sink(GifFileType *gif, const GifByteType *data, int len)
{
    return buf_append(gif->UserData, data, (size_t)len) == 0 ? len : 0;
}

/* Pictures in these tests use few colours, so a palette of the distinct colours is exact. */
static buf_t enc_gif(const pic_t *p, int interlace)
{
    buf_t b;
    buf_init(&b, 64 << 20);
    ColorMapObject *map = GifMakeMapObject(256, NULL);
    int ncol = 0, err = 0;
    uint8_t *idx = malloc((size_t)p->w * p->h);
    for (int i = 0; i < p->w * p->h; i++) {
        const uint8_t *q = p->rgb + 3 * i;
        int k = 0;
        while (k < ncol && (map->Colors[k].Red != q[0] || map->Colors[k].Green != q[1] ||
                            map->Colors[k].Blue != q[2]))
            k++;
        if (k == ncol) {
            ASSERT(ncol < 256);
            map->Colors[k] = (GifColorType){q[0], q[1], q[2]};
            ncol++;
        }
        idx[i] = (uint8_t)k;
    }
    GifFileType *gif = EGifOpen(&b, gif_sink, &err);
    ASSERT(gif != NULL);
    ASSERT_EQ(EGifPutScreenDesc(gif, p->w, p->h, 8, 0, map), GIF_OK);
    ASSERT_EQ(EGifPutImageDesc(gif, 0, 0, p->w, p->h, interlace, NULL), GIF_OK);
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    for (int pass = 0; pass < (interlace ? 4 : 1); pass++) {
        int s0 = interlace ? start[pass] : 0, st = interlace ? step[pass] : 1;
        for (int y = s0; y < p->h; y += st)
            ASSERT_EQ(EGifPutLine(gif, idx + (size_t)y * p->w, p->w), GIF_OK);
    }
    ASSERT_EQ(EGifCloseFile(gif, &err), GIF_OK);
    GifFreeMapObject(map);
    free(idx);
    return b;
}

static buf_t enc_webp(const pic_t *p)
{
    uint8_t *out = NULL;
    size_t n = WebPEncodeLosslessRGB(p->rgb, p->w, p->h, p->w * 3, &out);
    ASSERT(n > 0);
    buf_t b;
    buf_init(&b, 64 << 20);
    buf_append(&b, out, n);
    WebPFree(out);
    return b;
}

enum { F_PNG, F_PNG_INTERLACED, F_JPEG, F_GIF, F_GIF_INTERLACED, F_WEBP, F_COUNT };

static buf_t encode(const pic_t *p, int fmt)
{
    switch (fmt) {
    case F_PNG:
        return enc_png(p, 0);
    case F_PNG_INTERLACED:
        return enc_png(p, 1);
    case F_JPEG:
        return enc_jpeg(p);
    case F_GIF:
        return enc_gif(p, 0);
    case F_GIF_INTERLACED:
        return enc_gif(p, 1);
    default:
        return enc_webp(p);
    }
}

static void describe(const pic_t *p, int fmt, vision_offline_facts_t *f, char *text, size_t cap)
{
    buf_t b = encode(p, fmt);
    vision_offline_config_t cfg = {.max_pixels = 4096};
    int rc = vision_offline_describe((const uint8_t *)b.data, b.len, &cfg, f, text, cap);
    if (rc != 0) TEST__FAIL("format %d: describe failed: %d", fmt, rc);
    buf_free(&b);
}

TEST(classify_named_colours)
{
    static const struct {
        uint32_t rgb;
        vision_color_t want;
    } cases[] = {
        {0xFF0000, VISION_COLOR_RED},    {0xFF8C00, VISION_COLOR_ORANGE},
        {0xFFD700, VISION_COLOR_YELLOW}, {0x228B22, VISION_COLOR_GREEN},
        {0x008080, VISION_COLOR_TEAL},   {0x87CEEB, VISION_COLOR_BLUE},
        {0x0000CD, VISION_COLOR_BLUE},   {0x800080, VISION_COLOR_PURPLE},
        {0xFF69B4, VISION_COLOR_PINK},   {0xFFB6C1, VISION_COLOR_PINK},
        {0x8B4513, VISION_COLOR_BROWN},  {0x000000, VISION_COLOR_BLACK},
        {0xFFFFFF, VISION_COLOR_WHITE},  {0x808080, VISION_COLOR_GREY},
        {0x101018, VISION_COLOR_BLACK},  {0x40E0D0, VISION_COLOR_TEAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t c = cases[i].rgb;
        vision_color_t got =
            vision_offline_classify_rgb((uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c);
        if (got != cases[i].want)
            TEST__FAIL("#%06x: got %s, want %s", c, vision_offline_color_name(got),
                       vision_offline_color_name(cases[i].want));
    }
}

TEST(solid_blue_every_format)
{
    pic_t p = pic_new(96, 96, 0x1E50DC);
    for (int fmt = 0; fmt < F_COUNT; fmt++) {
        vision_offline_facts_t f;
        char text[256];
        describe(&p, fmt, &f, text, sizeof text);
        printf("  fmt %d: %s\n", fmt, text);
        ASSERT_EQ(f.dominant[0], VISION_COLOR_BLUE);
        ASSERT(f.mostly_one_color);
        ASSERT_EQ(f.shape, VISION_SHAPE_SQUARE);
        ASSERT_EQ(f.width, 96);
        ASSERT(strstr(text, "blue") != NULL);
        ASSERT(strstr(text, "square") != NULL);
        ASSERT(strstr(text, "green") == NULL);
    }
    free(p.rgb);
}

TEST(sky_over_grass)
{
    pic_t p = pic_new(200, 120, 0x87CEEB);
    pic_rect(&p, 0, 60, 200, 120, 0x228B22);
    for (int fmt = 0; fmt < F_COUNT; fmt++) {
        vision_offline_facts_t f;
        char text[256];
        describe(&p, fmt, &f, text, sizeof text);
        printf("  fmt %d: %s\n", fmt, text);
        ASSERT_EQ(f.shape, VISION_SHAPE_LANDSCAPE);
        ASSERT(f.sky_like);
        ASSERT(!f.mostly_one_color);
        ASSERT(strstr(text, "wide") != NULL);
        ASSERT(strstr(text, "blue") != NULL);
        ASSERT(strstr(text, "green") != NULL);
        ASSERT(strstr(text, "like a sky") != NULL);
    }
    free(p.rgb);
}

TEST(dark_and_bright)
{
    pic_t p = pic_new(64, 64, 0x14141E);
    vision_offline_facts_t f;
    char text[256];
    describe(&p, F_PNG, &f, text, sizeof text);
    printf("  %s\n", text);
    ASSERT_EQ(f.light, VISION_LIGHT_DARK);
    ASSERT(strstr(text, "dark") != NULL);
    free(p.rgb);

    p = pic_new(64, 64, 0xFFF8E0);
    describe(&p, F_PNG, &f, text, sizeof text);
    printf("  %s\n", text);
    ASSERT_EQ(f.light, VISION_LIGHT_BRIGHT);
    ASSERT(strstr(text, "bright") != NULL);
    ASSERT(strstr(text, "dark") == NULL);
    free(p.rgb);
}

TEST(orientation)
{
    static const struct {
        int w, h;
        vision_shape_t shape;
        const char *word;
    } cases[] = {{60, 120, VISION_SHAPE_PORTRAIT, "tall"},
                 {120, 60, VISION_SHAPE_LANDSCAPE, "wide"},
                 {100, 104, VISION_SHAPE_SQUARE, "square"}};
    for (size_t i = 0; i < 3; i++) {
        pic_t p = pic_new(cases[i].w, cases[i].h, 0xCC3322);
        vision_offline_facts_t f;
        char text[256];
        describe(&p, F_WEBP, &f, text, sizeof text);
        ASSERT_EQ(f.shape, cases[i].shape);
        ASSERT(strstr(text, cases[i].word) != NULL);
        ASSERT(strstr(text, "red") != NULL);
        free(p.rgb);
    }
}

TEST(brightest_corner_and_grey)
{
    pic_t p = pic_new(90, 90, 0x202020);
    pic_rect(&p, 0, 0, 30, 30, 0xFFFFFF);
    vision_offline_facts_t f;
    char text[256];
    describe(&p, F_GIF, &f, text, sizeof text);
    printf("  %s\n", text);
    ASSERT_EQ(f.colorful, VISION_COLORFUL_GREY);
    ASSERT_EQ(f.brightest, VISION_POS_UPPER_LEFT);
    ASSERT(strstr(text, "black") != NULL);
    ASSERT(strstr(text, "upper left") != NULL);
    free(p.rgb);

    p = pic_new(90, 90, 0x777777);
    pic_rect(&p, 60, 60, 90, 90, 0xBBBBBB);
    describe(&p, F_PNG, &f, text, sizeof text);
    printf("  %s\n", text);
    ASSERT_EQ(f.brightest, VISION_POS_LOWER_RIGHT);
    ASSERT(strstr(text, "lower right") != NULL);
    ASSERT(strstr(text, "grey") != NULL);
    free(p.rgb);
}

TEST(budget_downscales_and_keeps_layout)
{
    /* Left half red, right half blue, larger than the budget; every decoder path must keep the
     * halves where they are. */
    pic_t p = pic_new(1000, 600, 0xDD1111);
    pic_rect(&p, 500, 0, 1000, 600, 0x1111DD);
    for (int fmt = 0; fmt < F_COUNT; fmt++) {
        buf_t b = encode(&p, fmt);
        vision_offline_config_t cfg = {.max_pixels = 3000};
        vision_offline_image_t img;
        ASSERT_EQ(vision_offline_decode((const uint8_t *)b.data, b.len, &cfg, &img), 0);
        ASSERT((uint64_t)img.width * img.height <= 3000);
        ASSERT(img.width > 40 && img.height > 20);
        ASSERT_EQ(img.src_width, 1000);
        ASSERT_EQ(img.src_height, 600);
        const uint8_t *left = img.rgb + ((size_t)(img.height / 2) * img.width + 2) * 3;
        const uint8_t *right = left + (size_t)(img.width - 5) * 3;
        if (!(left[0] > 150 && left[2] < 80 && right[2] > 150 && right[0] < 80))
            TEST__FAIL("fmt %d: left %d,%d,%d right %d,%d,%d", fmt, left[0], left[1], left[2],
                       right[0], right[1], right[2]);
        vision_offline_image_free(&img);
        buf_free(&b);
    }
    free(p.rgb);
}

TEST(bad_inputs_fail_cleanly)
{
    pic_t p = pic_new(40, 30, 0x33AA33);
    char text[256];
    for (int fmt = 0; fmt < F_COUNT; fmt++) {
        buf_t b = encode(&p, fmt);
        /* Cut in half: a typed error or (for codecs that pad) a description, never a crash. */
        int rc = vision_offline_describe((const uint8_t *)b.data, b.len / 2, NULL, NULL, text,
                                         sizeof text);
        ASSERT(rc <= 0);
        /* Flip bytes after the header. */
        for (size_t i = 40; i < b.len; i += 7)
            b.data[i] = (char)(b.data[i] ^ 0x5A);
        rc = vision_offline_describe((const uint8_t *)b.data, b.len, NULL, NULL, text, sizeof text);
        ASSERT(rc <= 0);
        buf_free(&b);
    }
    free(p.rgb);
    const char *junk = "definitely not a picture";
    ASSERT_EQ(
        vision_offline_describe((const uint8_t *)junk, strlen(junk), NULL, NULL, text, sizeof text),
        IMGSNIFF_ERR_NOT_IMAGE);
    ASSERT_EQ(text[0], '\0');
    /* The limit is enforced before decoding. */
    pic_t wide = pic_new(300, 2, 0x000000);
    buf_t b = encode(&wide, F_PNG);
    vision_offline_config_t cfg = {.max_width = 299};
    ASSERT_EQ(
        vision_offline_describe((const uint8_t *)b.data, b.len, &cfg, NULL, text, sizeof text),
        IMGSNIFF_ERR_TOO_LARGE);
    buf_free(&b);
    free(wide.rgb);
}

TEST(deterministic_and_bounded_text)
{
    pic_t p = pic_new(120, 80, 0xFFCC00);
    pic_rect(&p, 0, 40, 120, 80, 0x8B4513);
    buf_t b = encode(&p, F_JPEG);
    char t1[256], t2[256], tiny[12];
    ASSERT_EQ(vision_offline_describe((const uint8_t *)b.data, b.len, NULL, NULL, t1, sizeof t1),
              0);
    ASSERT_EQ(vision_offline_describe((const uint8_t *)b.data, b.len, NULL, NULL, t2, sizeof t2),
              0);
    ASSERT_STREQ(t1, t2);
    printf("  %s\n", t1);
    ASSERT(strstr(t1, "yellow") != NULL);
    ASSERT(strstr(t1, "brown") != NULL);
    ASSERT_EQ(
        vision_offline_describe((const uint8_t *)b.data, b.len, NULL, NULL, tiny, sizeof tiny),
        -ENOSPC);
    ASSERT_EQ(strlen(tiny), sizeof tiny - 1);
    buf_free(&b);
    free(p.rgb);
}

TEST_MAIN({"classify_named_colours", classify_named_colours},
          {"solid_blue_every_format", solid_blue_every_format}, {"sky_over_grass", sky_over_grass},
          {"dark_and_bright", dark_and_bright}, {"orientation", orientation},
          {"brightest_corner_and_grey", brightest_corner_and_grey},
          {"budget_downscales_and_keeps_layout", budget_downscales_and_keeps_layout},
          {"bad_inputs_fail_cleanly", bad_inputs_fail_cleanly},
          {"deterministic_and_bounded_text", deterministic_and_bounded_text})
