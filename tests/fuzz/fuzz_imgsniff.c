/* Fuzz target for media/imgsniff: any bytes must give a typed result without reading out of
 * bounds, and a success must carry consistent facts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/imgsniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy into an exact-size heap block so ASan catches any read past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    imgsniff_info_t info;
    int rc = imgsniff_detect(copy, size, &info);
    if (rc == 0) {
        if (info.type == IMGSNIFF_NONE || !info.mime || !info.extension || info.width == 0 ||
            info.height == 0)
            abort();
        (void)imgsniff_check_limits(&info, 0, 0);
        (void)imgsniff_check_limits(&info, 1, 1);
    } else if (rc != IMGSNIFF_ERR_NOT_IMAGE && rc != IMGSNIFF_ERR_UNSUPPORTED &&
               rc != IMGSNIFF_ERR_TRUNCATED && rc != IMGSNIFF_ERR_CORRUPT) {
        abort();
    }
    (void)imgsniff_strerror(rc);
    (void)imgsniff_type_name(info.type);
    free(copy);
    return 0;
}
