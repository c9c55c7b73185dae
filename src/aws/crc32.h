/* crc32: the IEEE 802.3 CRC-32 (reflected polynomial 0xEDB88320, initial value and final xor
 * 0xFFFFFFFF) that the application/vnd.amazon.eventstream framing uses for its prelude and
 * message checksums. Same result as zlib's crc32(); kept here so the AWS code does not depend
 * on zlib being linked directly. */
#ifndef NOVA_AWS_CRC32_H
#define NOVA_AWS_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a running CRC: start with crc = 0, then feed the data in any number of pieces;
 * crc32_update(crc32_update(0, a, n), b, m) equals the CRC of a followed by b. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

#endif
