/* Unit tests for media/imgsniff: real tiny images made by the actual encoders (cairo for PNG,
 * libjpeg, libwebp) or by hand (GIF), every truncation of them, garbage, and the size limit. */
#include "test.h"

#include <stdio.h>

#include <cairo.h>
#include <jpeglib.h>
#include <webp/encode.h>

#include "core/buf.h"
#include "media/imgsniff.h"

static cairo_status_t png_sink(void *closure, const unsigned char *data, unsigned int len)
{
    return buf_append(closure, data, len) == 0 ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static void make_png(buf_t *out, int w, int h)
{
    buf_init(out, 1 << 20);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgba(cr, 0.2, 0.4, 0.9, 0.5);
    cairo_paint(cr);
    cairo_destroy(cr);
    ASSERT_EQ(cairo_surface_write_to_png_stream(s, png_sink, out), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
}

static void make_jpeg(buf_t *out, int w, int h, int progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *mem = NULL;
    unsigned long memlen = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &memlen);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = calloc((size_t)w, 3);
    for (int i = 0; i < w * 3; i++)
        row[i] = (unsigned char)(i * 7);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r[1] = {row};
        jpeg_write_scanlines(&c, r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    buf_init(out, 1 << 20);
    ASSERT_EQ(buf_append(out, mem, memlen), 0);
    free(mem);
    free(row);
}

enum { WEBP_LOSSY, WEBP_LOSSLESS, WEBP_ALPHA };

static void make_webp(buf_t *out, int w, int h, int kind)
{
    uint8_t *px = malloc((size_t)w * h * 4);
    for (int i = 0; i < w * h * 4; i++)
        px[i] = (uint8_t)(i % 4 == 3 ? 128 : i * 3);
    uint8_t *enc = NULL;
    size_t n = kind == WEBP_LOSSY      ? WebPEncodeRGB(px, w, h, w * 3, 80, &enc)
               : kind == WEBP_LOSSLESS ? WebPEncodeLosslessRGB(px, w, h, w * 3, &enc)
                                       : WebPEncodeRGBA(px, w, h, w * 4, 80, &enc);
    ASSERT(n > 0);
    buf_init(out, 1 << 20);
    ASSERT_EQ(buf_append(out, enc, n), 0);
    WebPFree(enc);
    free(px);
}

/* A 3x2 GIF89a: global 2-colour table, one image, LZW min code size 2. */
static const uint8_t tiny_gif[] = {'G', 'I', 'F', '8', '9', 'a', 3,   0,    2,    0,    0x80, 0,
                                   0,   255, 0,   0,   0,   0,   255, 0x2C, 0,    0,    0,    0,
                                   3,   0,   2,   0,   0,   2,   3,   0x84, 0x8F, 0x05, 0,    0x3B};

/* Every proper prefix of a valid image must be reported as truncated (never as garbage or as
 * success with wrong numbers) until the dimensions are available. */
static void check_prefixes(const uint8_t *d, size_t len, imgsniff_type_t type, uint32_t w,
                           uint32_t h)
{
    for (size_t n = 0; n < len; n++) {
        imgsniff_info_t info;
        int rc = imgsniff_detect(d, n, &info);
        if (rc == 0) {
            ASSERT_EQ(info.type, type);
            ASSERT_EQ(info.width, w);
            ASSERT_EQ(info.height, h);
        } else if (rc != IMGSNIFF_ERR_TRUNCATED) {
            TEST__FAIL("prefix %zu of %s: %s", n, imgsniff_type_name(type), imgsniff_strerror(rc));
        }
    }
}

TEST(png_detected)
{
    buf_t b;
    make_png(&b, 7, 5);
    imgsniff_info_t info;
    ASSERT_EQ(imgsniff_detect((const uint8_t *)b.data, b.len, &info), 0);
    ASSERT_EQ(info.type, IMGSNIFF_PNG);
    ASSERT_STREQ(info.mime, "image/png");
    ASSERT_STREQ(info.extension, "png");
    ASSERT_EQ(info.width, 7);
    ASSERT_EQ(info.height, 5);
    ASSERT_EQ(info.has_alpha, 1);
    check_prefixes((const uint8_t *)b.data, b.len, IMGSNIFF_PNG, 7, 5);
    buf_free(&b);
}

TEST(jpeg_baseline_and_progressive)
{
    for (int prog = 0; prog < 2; prog++) {
        buf_t b;
        make_jpeg(&b, 33, 17, prog);
        imgsniff_info_t info;
        ASSERT_EQ(imgsniff_detect((const uint8_t *)b.data, b.len, &info), 0);
        ASSERT_EQ(info.type, IMGSNIFF_JPEG);
        ASSERT_STREQ(info.mime, "image/jpeg");
        ASSERT_STREQ(info.extension, "jpg");
        ASSERT_EQ(info.width, 33);
        ASSERT_EQ(info.height, 17);
        check_prefixes((const uint8_t *)b.data, b.len, IMGSNIFF_JPEG, 33, 17);
        buf_free(&b);
    }
}

TEST(jpeg_segments_are_skipped)
{
    /* SOI, APP0 (len 6), fill bytes, COM (len 4), a stray byte, then SOF2 with 300x200. */
    static const uint8_t j[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 6,    'J', 'F',  0,    0,    0xFF,
                                0xFF, 0xFF, 0xFE, 0,    4, 'h',  'i', 0x00, 0xFF, 0xC2, 0,
                                11,   8,    0,    200,  1, 0x2C, 3,   1,    0x11, 0};
    imgsniff_info_t info;
    ASSERT_EQ(imgsniff_detect(j, sizeof j, &info), 0);
    ASSERT_EQ(info.width, 300);
    ASSERT_EQ(info.height, 200);
    /* DHT (C4) is in the SOF range but is not a frame header. */
    static const uint8_t dht[] = {0xFF, 0xD8, 0xFF, 0xC4, 0, 4, 1, 2, 0xFF, 0xC0, 0,
                                  11,   8,    0,    2,    0, 3, 1, 1, 0x11, 0};
    ASSERT_EQ(imgsniff_detect(dht, sizeof dht, &info), 0);
    ASSERT_EQ(info.width, 3);
    ASSERT_EQ(info.height, 2);
    /* Start of scan before any frame header, and a segment length below 2, are corrupt. */
    static const uint8_t sos[] = {0xFF, 0xD8, 0xFF, 0xDA, 0, 8, 1, 2, 3, 4, 5, 6};
    ASSERT_EQ(imgsniff_detect(sos, sizeof sos, &info), IMGSNIFF_ERR_CORRUPT);
    static const uint8_t badlen[] = {0xFF, 0xD8, 0xFF, 0xE1, 0, 1, 0, 0};
    ASSERT_EQ(imgsniff_detect(badlen, sizeof badlen, &info), IMGSNIFF_ERR_CORRUPT);
    /* An APP segment claiming more bytes than there are is truncated, not a crash. */
    static const uint8_t longseg[] = {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 1, 2, 3};
    ASSERT_EQ(imgsniff_detect(longseg, sizeof longseg, &info), IMGSNIFF_ERR_TRUNCATED);
}

TEST(gif_detected)
{
    imgsniff_info_t info;
    ASSERT_EQ(imgsniff_detect(tiny_gif, sizeof tiny_gif, &info), 0);
    ASSERT_EQ(info.type, IMGSNIFF_GIF);
    ASSERT_STREQ(info.mime, "image/gif");
    ASSERT_STREQ(info.extension, "gif");
    ASSERT_EQ(info.width, 3);
    ASSERT_EQ(info.height, 2);
    check_prefixes(tiny_gif, sizeof tiny_gif, IMGSNIFF_GIF, 3, 2);
}

TEST(webp_three_flavours)
{
    static const struct {
        int kind;
        imgsniff_webp_kind_t want;
        int alpha;
    } cases[] = {{WEBP_LOSSY, IMGSNIFF_WEBP_LOSSY, 0},
                 {WEBP_LOSSLESS, IMGSNIFF_WEBP_LOSSLESS, 0},
                 {WEBP_ALPHA, IMGSNIFF_WEBP_EXTENDED, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b;
        make_webp(&b, 21, 13, cases[i].kind);
        imgsniff_info_t info;
        ASSERT_EQ(imgsniff_detect((const uint8_t *)b.data, b.len, &info), 0);
        ASSERT_EQ(info.type, IMGSNIFF_WEBP);
        ASSERT_STREQ(info.mime, "image/webp");
        ASSERT_STREQ(info.extension, "webp");
        ASSERT_EQ(info.webp_kind, cases[i].want);
        ASSERT_EQ(info.width, 21);
        ASSERT_EQ(info.height, 13);
        ASSERT_EQ(info.has_alpha, cases[i].alpha);
        check_prefixes((const uint8_t *)b.data, b.len, IMGSNIFF_WEBP, 21, 13);
        buf_free(&b);
    }
}

TEST(garbage_and_other_formats)
{
    imgsniff_info_t info;
    const char *text = "hello, this is plainly not an image";
    ASSERT_EQ(imgsniff_detect((const uint8_t *)text, strlen(text), &info), IMGSNIFF_ERR_NOT_IMAGE);
    ASSERT_EQ(info.type, IMGSNIFF_NONE);
    ASSERT(info.mime == NULL);
    static const uint8_t wav[] = "RIFF\x24\0\0\0WAVEfmt ";
    ASSERT_EQ(imgsniff_detect(wav, sizeof wav - 1, &info), IMGSNIFF_ERR_NOT_IMAGE);
    static const uint8_t bmp[] = "BM\x36\0\0\0\0\0";
    ASSERT_EQ(imgsniff_detect(bmp, sizeof bmp - 1, &info), IMGSNIFF_ERR_UNSUPPORTED);
    static const uint8_t tiff[] = "II*\0\x08\0\0\0";
    ASSERT_EQ(imgsniff_detect(tiff, sizeof tiff - 1, &info), IMGSNIFF_ERR_UNSUPPORTED);
    static const uint8_t avif[] = "\0\0\0\x1c"
                                  "ftypavif\0\0\0\0";
    ASSERT_EQ(imgsniff_detect(avif, sizeof avif - 1, &info), IMGSNIFF_ERR_UNSUPPORTED);
    static const uint8_t webp_alien[] = "RIFF\x20\0\0\0WEBPALPH\0\0\0\0\0\0\0\0\0\0";
    ASSERT_EQ(imgsniff_detect(webp_alien, sizeof webp_alien - 1, &info), IMGSNIFF_ERR_UNSUPPORTED);
    ASSERT_EQ(imgsniff_detect(NULL, 0, &info), IMGSNIFF_ERR_TRUNCATED);
    ASSERT_EQ(imgsniff_detect(NULL, 5, &info), IMGSNIFF_ERR_INVALID);
    ASSERT_EQ(imgsniff_detect(wav, 4, NULL), IMGSNIFF_ERR_INVALID);

    /* Deterministic pseudo-random garbage must never be mistaken for an image. */
    uint32_t x = 12345;
    uint8_t junk[256];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (uint8_t)(x >> 16);
        }
        int rc = imgsniff_detect(junk, sizeof junk, &info);
        ASSERT(rc == IMGSNIFF_ERR_NOT_IMAGE || rc == IMGSNIFF_ERR_UNSUPPORTED);
    }
}

TEST(corrupt_headers)
{
    imgsniff_info_t info;
    /* PNG whose first chunk is not IHDR. */
    static const uint8_t png_noihdr[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0,
                                         0,    0,   13,  'I', 'D',  'A',  'T',  0,    0,
                                         0,    1,   0,   0,   0,    1,    8,    2};
    ASSERT_EQ(imgsniff_detect(png_noihdr, sizeof png_noihdr, &info), IMGSNIFF_ERR_CORRUPT);
    ASSERT_EQ(info.type, IMGSNIFF_PNG); /* still says what it looked like */
    static const uint8_t gif_zero[] = "GIF89a\0\0\x05\0\0\0\0";
    ASSERT_EQ(imgsniff_detect(gif_zero, sizeof gif_zero - 1, &info), IMGSNIFF_ERR_CORRUPT);
    /* VP8 chunk that is an interframe (bit 0 set) cannot start a WebP file. */
    static const uint8_t vp8_inter[] =
        "RIFF\x30\0\0\0WEBPVP8 \x20\0\0\0\x01\0\0\x9d\x01\x2a\x10\0\x10\0";
    ASSERT_EQ(imgsniff_detect(vp8_inter, sizeof vp8_inter - 1, &info), IMGSNIFF_ERR_CORRUPT);
}

TEST(size_limits)
{
    /* Hand-made PNG header for 9000 x 10. */
    static const uint8_t big[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0,    0,
                                  0,    13,  'I', 'H', 'D',  'R',  0,    0,    0x23, 0x28,
                                  0,    0,   0,   10,  8,    2,    0,    0,    0};
    imgsniff_info_t info;
    ASSERT_EQ(imgsniff_detect(big, sizeof big, &info), 0);
    ASSERT_EQ(info.width, 9000);
    ASSERT_EQ(imgsniff_check_limits(&info, 0, 0), IMGSNIFF_ERR_TOO_LARGE);
    ASSERT_EQ(imgsniff_check_limits(&info, 9000, 10), 0);
    ASSERT_EQ(imgsniff_check_limits(&info, 8999, 10), IMGSNIFF_ERR_TOO_LARGE);
    ASSERT_EQ(imgsniff_check_limits(&info, 9000, 9), IMGSNIFF_ERR_TOO_LARGE);
    ASSERT_EQ(imgsniff_detect_limited(big, sizeof big, 0, 0, &info), IMGSNIFF_ERR_TOO_LARGE);
    ASSERT_EQ(imgsniff_detect_limited(big, sizeof big, 10000, 10000, &info), 0);
    /* 8000 x 8000 exactly is allowed by default. */
    info.width = info.height = 8000;
    ASSERT_EQ(imgsniff_check_limits(&info, 0, 0), 0);
}

TEST(error_strings_distinct)
{
    const int errs[] = {IMGSNIFF_ERR_INVALID,   IMGSNIFF_ERR_NOT_IMAGE, IMGSNIFF_ERR_UNSUPPORTED,
                        IMGSNIFF_ERR_TRUNCATED, IMGSNIFF_ERR_CORRUPT,   IMGSNIFF_ERR_TOO_LARGE};
    for (size_t i = 0; i < 6; i++) {
        ASSERT(errs[i] < 0);
        for (size_t j = i + 1; j < 6; j++) {
            ASSERT_NE(errs[i], errs[j]);
            ASSERT(strcmp(imgsniff_strerror(errs[i]), imgsniff_strerror(errs[j])) != 0);
        }
    }
}

TEST_MAIN({"png_detected", png_detected},
          {"jpeg_baseline_and_progressive", jpeg_baseline_and_progressive},
          {"jpeg_segments_are_skipped", jpeg_segments_are_skipped}, {"gif_detected", gif_detected},
          {"webp_three_flavours", webp_three_flavours},
          {"garbage_and_other_formats", garbage_and_other_formats},
          {"corrupt_headers", corrupt_headers}, {"size_limits", size_limits},
          {"error_strings_distinct", error_strings_distinct})
