/* signed_url: HMAC-SHA256 media URL signatures. See signed_url.h for the signed message. */
#include "media/signed_url.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MAC_LEN         32
#define PATH_MAX_SIGNED 4096
static const char PREFIX[] = "nova-media-v1\n";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Computes the MAC; false when the inputs cannot be signed (path too long, HMAC failure). */
static bool compute_mac(const void *secret, size_t secret_len, const char *path,
                        const char *expires, unsigned char mac[MAC_LEN])
{
    char msg[sizeof PREFIX + PATH_MAX_SIGNED + 32];
    size_t plen = strlen(path), elen = strlen(expires);
    if (plen > PATH_MAX_SIGNED || elen > 20 || secret_len > 1024) return false;
    size_t n = 0;
    memcpy(msg + n, PREFIX, sizeof PREFIX - 1);
    n += sizeof PREFIX - 1;
    memcpy(msg + n, path, plen); // NOLINT(bugprone-not-null-terminated-result): MAC input
    n += plen;
    msg[n++] = '\n';
    memcpy(msg + n, expires, elen); // NOLINT(bugprone-not-null-terminated-result): MAC input
    n += elen;
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg, n, mac, &maclen))
        return false;
    return maclen == MAC_LEN;
}

static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
        out[o++] = B64URL[(v >> 6) & 63];
        out[o++] = B64URL[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
        out[o++] = B64URL[(v >> 6) & 63];
    }
    out[o] = '\0';
}

static int b64val(char c)
{
    const char *p = c ? strchr(B64URL, c) : NULL;
    return p ? (int)(p - B64URL) : -1;
}

/* Decodes exactly SIGNED_URL_SIG_LEN characters into MAC_LEN bytes. Rejects padding, foreign
 * characters and non-zero trailing bits, so each MAC has exactly one accepted spelling. */
static bool b64url_decode_mac(const char *s, unsigned char out[MAC_LEN])
{
    if (strlen(s) != SIGNED_URL_SIG_LEN) return false;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < SIGNED_URL_SIG_LEN; i++) {
        int v = b64val(s[i]);
        if (v < 0) return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o == MAC_LEN && acc == 0;
}

/* Canonical decimal: 1..19 digits, no sign, no leading zero, fits int64. */
static bool parse_expires(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0')) return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int64_t signed_url_step_start(int64_t now, int64_t ttl_s)
{
    int64_t step = ttl_s / 24;
    if (step > 3600) step = 3600;
    if (step < 1) step = 1;
    return now - now % step;
}

int signed_url_make(const void *secret, size_t secret_len, const char *path, int64_t expires_unix,
                    char *out, size_t cap)
{
    if (!secret || secret_len < SIGNED_URL_MIN_SECRET || !path || !path[0] || expires_unix < 0 ||
        !out)
        return -EINVAL;
    char exp[24], sig[SIGNED_URL_SIG_LEN + 1];
    snprintf(exp, sizeof exp, "%lld", (long long)expires_unix);
    unsigned char mac[MAC_LEN];
    if (!compute_mac(secret, secret_len, path, exp, mac)) return -EINVAL;
    b64url_encode(mac, MAC_LEN, sig);
    OPENSSL_cleanse(mac, sizeof mac);
    int n = snprintf(out, cap, "?expires=%s&sig=%s", exp, sig);
    if (n < 0 || (size_t)n >= cap) return -ENOSPC;
    return n;
}

signed_url_status_t signed_url_verify(const void *secret, size_t secret_len, const char *path,
                                      const char *expires_str, const char *sig_str, int64_t now)
{
    int64_t expires;
    unsigned char want[MAC_LEN], got[MAC_LEN];
    if (!path || !path[0] || !expires_str || !sig_str) return SIGNED_URL_MALFORMED;
    if (!parse_expires(expires_str, &expires) || !b64url_decode_mac(sig_str, got))
        return SIGNED_URL_MALFORMED;
    /* A misconfigured (short) key must never validate anything. */
    if (!secret || secret_len < SIGNED_URL_MIN_SECRET) return SIGNED_URL_BAD_SIGNATURE;
    if (!compute_mac(secret, secret_len, path, expires_str, want)) return SIGNED_URL_BAD_SIGNATURE;
    int diff = CRYPTO_memcmp(want, got, MAC_LEN);
    OPENSSL_cleanse(want, sizeof want);
    if (diff != 0) return SIGNED_URL_BAD_SIGNATURE;
    return now > expires ? SIGNED_URL_EXPIRED : SIGNED_URL_OK;
}

/* Copies the value of `key` out of the query. Returns 1 found, 0 absent, -1 malformed. */
static int query_get(const char *q, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    int found = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
            size_t vlen = len - klen - 1;
            if (found || vlen + 1 > cap) return -1;
            memcpy(out, q + klen + 1, vlen);
            out[vlen] = '\0';
            found = 1;
        } else if (len == klen && strncmp(q, key, klen) == 0) {
            return -1; /* "expires" without a value */
        }
        if (!amp) break;
        q = amp + 1;
    }
    return found;
}

signed_url_status_t signed_url_verify_query(const void *secret, size_t secret_len, const char *path,
                                            const char *query, int64_t now)
{
    char exp[24], sig[SIGNED_URL_SIG_LEN + 2];
    if (!query) return SIGNED_URL_MALFORMED;
    if (query_get(query, "expires", exp, sizeof exp) != 1) return SIGNED_URL_MALFORMED;
    if (query_get(query, "sig", sig, sizeof sig) != 1) return SIGNED_URL_MALFORMED;
    return signed_url_verify(secret, secret_len, path, exp, sig, now);
}

const char *signed_url_status_name(signed_url_status_t st)
{
    switch (st) {
    case SIGNED_URL_OK:
        return "ok";
    case SIGNED_URL_EXPIRED:
        return "expired";
    case SIGNED_URL_BAD_SIGNATURE:
        return "bad_signature";
    case SIGNED_URL_MALFORMED:
        return "malformed";
    }
    return "unknown";
}
