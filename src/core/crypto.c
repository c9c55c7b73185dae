#include "core/crypto.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>

int crypto_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        /* getrandom returns at most 32 MiB per call and may be interrupted by a signal. */
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
    unsigned int olen = 0;
    if (EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) != 1 || olen != CRYPTO_SHA256_LEN)
        memset(out, 0, CRYPTO_SHA256_LEN); /* only on allocation failure inside OpenSSL */
}

void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN + 1])
{
    uint8_t d[CRYPTO_SHA256_LEN];
    crypto_sha256(data, len, d);
    crypto_hex_encode(d, sizeof d, out, CRYPTO_SHA256_HEX_LEN + 1);
}

int crypto_hex_encode(const void *data, size_t n, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    if (cap < 2 * n + 1) return -ENOSPC;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
    return (int)(2 * n);
}

static int crypto__hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int crypto_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap)
{
    if (len % 2) return -EINVAL;
    if (cap < len / 2) return -ENOSPC;
    for (size_t i = 0; i < len; i += 2) {
        int hi = crypto__hexval(hex[i]), lo = crypto__hexval(hex[i + 1]);
        if (hi < 0 || lo < 0) return -EINVAL;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(len / 2);
}

static const char crypto__b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char crypto__b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int crypto__b64_enc(const char *alpha, bool pad, const uint8_t *p, size_t n, char *out,
                           size_t cap)
{
    size_t need = pad ? ((n + 2) / 3) * 4 : (n * 4 + 2) / 3;
    if (cap < need + 1) return -ENOSPC;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (pad) out[o++] = '=', out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        if (pad) out[o++] = '=';
    }
    out[o] = '\0';
    return (int)o;
}

int crypto_base64_encode(const void *data, size_t n, char *out, size_t cap)
{
    return crypto__b64_enc(crypto__b64, true, data, n, out, cap);
}

int crypto_base64url_encode(const void *data, size_t n, char *out, size_t cap)
{
    return crypto__b64_enc(crypto__b64url, false, data, n, out, cap);
}

static int crypto__b64_val(const char *alpha, char c)
{
    const char *p = c ? strchr(alpha, c) : NULL;
    return p ? (int)(p - alpha) : -1;
}

static int crypto__b64_dec(const char *alpha, bool pad, const char *s, size_t len, uint8_t *out,
                           size_t cap)
{
    size_t npad = 0;
    if (pad) {
        if (len % 4) return -EINVAL;
        while (npad < 2 && len > npad && s[len - 1 - npad] == '=')
            npad++;
        len -= npad;
    } else if (len % 4 == 1) {
        return -EINVAL;
    }
    size_t rem = len % 4;
    if (pad && npad && rem != 4 - npad) return -EINVAL;
    size_t nout = len / 4 * 3 + (rem ? rem - 1 : 0);
    if (nout > cap) return -ENOSPC;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = crypto__b64_val(alpha, s[i]);
        if (v < 0) return -EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) return -EINVAL; /* non-zero unused bits: not the canonical spelling */
    return (int)o;
}

int crypto_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    return crypto__b64_dec(crypto__b64, true, s, len, out, cap);
}

int crypto_base64url_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    return crypto__b64_dec(crypto__b64url, false, s, len, out, cap);
}

bool crypto_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void crypto_wipe(void *p, size_t n)
{
    if (p && n) OPENSSL_cleanse(p, n);
}
