/* imgsniff: identifies an image by its content (magic bytes, never its file name) and reads its
 * dimensions from the format headers without decoding pixels. Supports PNG, JPEG, GIF and WebP
 * (VP8, VP8L, VP8X). Pure and bounded: every read is checked against the input length, so it is
 * safe on truncated or hostile bytes, allocates nothing and keeps no state (thread-safe). */
#ifndef NOVA_MEDIA_IMGSNIFF_H
#define NOVA_MEDIA_IMGSNIFF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Default upper bound for either side, used when a caller passes 0 to imgsniff_check_limits. */
#define IMGSNIFF_DEFAULT_MAX_SIDE 8000u

/* Typed errors (negative errno values so they compose with the rest of the code base). */
#define IMGSNIFF_ERR_INVALID   (-EINVAL) /* NULL arguments */
#define IMGSNIFF_ERR_NOT_IMAGE (-EILSEQ) /* no known image signature */
#define IMGSNIFF_ERR_UNSUPPORTED                                                                   \
    (-ENOTSUP)                            /* an image, but a format or variant we do not handle    \
                                           */
#define IMGSNIFF_ERR_TRUNCATED (-ENODATA) /* the input ends before the dimensions */
#define IMGSNIFF_ERR_CORRUPT   (-EBADMSG) /* signature matched but the header is malformed */
#define IMGSNIFF_ERR_TOO_LARGE (-EFBIG)   /* dimensions exceed the caller's limits */

typedef enum {
    IMGSNIFF_NONE = 0,
    IMGSNIFF_PNG,
    IMGSNIFF_JPEG,
    IMGSNIFF_GIF,
    IMGSNIFF_WEBP,
} imgsniff_type_t;

/* WebP bitstream flavour; IMGSNIFF_WEBP_NONE for other types. */
typedef enum {
    IMGSNIFF_WEBP_NONE = 0,
    IMGSNIFF_WEBP_LOSSY,    /* "VP8 " */
    IMGSNIFF_WEBP_LOSSLESS, /* "VP8L" */
    IMGSNIFF_WEBP_EXTENDED, /* "VP8X" */
} imgsniff_webp_kind_t;

typedef struct {
    imgsniff_type_t type;
    const char *mime;      /* static string, e.g. "image/png" */
    const char *extension; /* static string without dot, e.g. "jpg" */
    uint32_t width;
    uint32_t height;
    imgsniff_webp_kind_t webp_kind;
    int has_alpha; /* 1 when the header says so (PNG colour type, VP8L/VP8X flag), else 0 */
    int animated;  /* 1 for VP8X with the animation flag; GIF animation is not detected */
} imgsniff_info_t;

/* Identifies `data` and fills *info. Returns 0, or one of the IMGSNIFF_ERR_* codes. On
 * IMGSNIFF_ERR_TRUNCATED/CORRUPT/UNSUPPORTED, info->type/mime/extension are still set when the
 * signature was recognised (so callers can say "a truncated PNG"). */
int imgsniff_detect(const uint8_t *data, size_t len, imgsniff_info_t *info);

/* Returns 0 when info's dimensions fit within max_width x max_height (0 means
 * IMGSNIFF_DEFAULT_MAX_SIDE), else IMGSNIFF_ERR_TOO_LARGE. */
int imgsniff_check_limits(const imgsniff_info_t *info, uint32_t max_width, uint32_t max_height);

/* imgsniff_detect followed by imgsniff_check_limits. */
int imgsniff_detect_limited(const uint8_t *data, size_t len, uint32_t max_width,
                            uint32_t max_height, imgsniff_info_t *info);

/* Static names for logs and API errors. */
const char *imgsniff_type_name(imgsniff_type_t type);
const char *imgsniff_strerror(int err);

#endif
