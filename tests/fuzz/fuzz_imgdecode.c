/* Fuzz target for providers/vision_offline: bytes go through the real decoders (libpng,
 * libjpeg, giflib, libwebp) and the describer with small budgets. It must never crash, exit,
 * leak or hang; libjpeg/libpng errors must come back as codes through our longjmp handlers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/vision_offline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    /* Small limits keep each run fast: the fuzzer explores parsers, not big pictures. */
    vision_offline_config_t cfg = {.max_pixels = 1024,
                                   .max_width = 2048,
                                   .max_height = 2048,
                                   .max_codec_bytes = (size_t)32 << 20};
    vision_offline_facts_t facts;
    char text[256];
    int rc = vision_offline_describe(copy, size, &cfg, &facts, text, sizeof text);
    if (rc == 0 && (strlen(text) == 0 || facts.width == 0 || facts.n_dominant < 1)) abort();
    vision_offline_image_t img;
    cfg.max_pixels = 7;
    if (vision_offline_decode(copy, size, &cfg, &img) == 0) {
        if (!img.rgb || (uint64_t)img.width * img.height > 7) abort();
        vision_offline_image_free(&img);
    }
    free(copy);
    return 0;
}
