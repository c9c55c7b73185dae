/* crypto: small general-purpose primitives shared by the server: random bytes from the kernel
 * (getrandom), SHA-256, hex and base64/base64url codecs, and constant-time comparison. Pure
 * functions without global state (thread-safe); none of them allocate: callers pass buffers. */
#ifndef NOVA_CORE_CRYPTO_H
#define NOVA_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN     32
#define CRYPTO_SHA256_HEX_LEN 64 /* without the NUL */

/* Fills buf with n bytes from the kernel CSPRNG. Returns 0 or a negative errno (-EIO, ...). */
int crypto_random(void *buf, size_t n);

/* SHA-256 of data into out[32]. */
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* Lower-case hex SHA-256 into out (cap >= 65, NUL-terminated). */
void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN + 1]);

/* Lower-case hex of n bytes into out (cap >= 2n+1). Returns the length or -ENOSPC. */
int crypto_hex_encode(const void *data, size_t n, char *out, size_t cap);
/* Decodes hex (either case, even length) into out. Returns the byte count, -EINVAL or -ENOSPC. */
int crypto_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap);

/* Output sizes including the NUL. */
#define CRYPTO_B64_ENC_LEN(n)    ((((n) + 2) / 3) * 4 + 1)
#define CRYPTO_B64URL_ENC_LEN(n) (((n)*4 + 2) / 3 + 1)

/* Standard base64 (RFC 4648 section 4, '=' padding). Returns the length or -ENOSPC. */
int crypto_base64_encode(const void *data, size_t n, char *out, size_t cap);
/* base64url without padding (RFC 4648 section 5), for tokens in URLs and headers. */
int crypto_base64url_encode(const void *data, size_t n, char *out, size_t cap);
/* Decoders accept exactly the canonical form their encoder produces (padding required for
 * base64, forbidden for base64url; unused trailing bits must be zero), so one value has one
 * spelling. Return the byte count, -EINVAL or -ENOSPC. */
int crypto_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap);
int crypto_base64url_decode(const char *s, size_t len, uint8_t *out, size_t cap);

/* Compares n bytes in time independent of the content. Returns true when equal. */
bool crypto_ct_equal(const void *a, const void *b, size_t n);

/* Overwrites n bytes with zeros in a way the compiler cannot drop (passwords, keys). */
void crypto_wipe(void *p, size_t n);

#endif
