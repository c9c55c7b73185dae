/* signed_url: expiring HMAC-SHA256 signatures for media URLs, so that generated images and audio
 * can be fetched by <img>/<audio> elements (which send no Authorization header) without making
 * the media folder public.
 *
 * The signature covers the bytes "nova-media-v1\n" + path + "\n" + expires, where path is the
 * exact request path as it appears on the wire (percent-encoding untouched, query excluded,
 * e.g. "/media/2024/05/<uuid>/image_1715.png") and expires is the decimal Unix time. The
 * version prefix separates these MACs from anything else that might ever share the key. The
 * query carried by the URL is "?expires=<unix>&sig=<base64url(HMAC), no padding>" (43 chars).
 *
 * URLs are deliberately not bound to a user: they end up in <audio> sources and share sheets,
 * and the story's access check already happened when the URL was issued; the expiry bounds how
 * long a leaked URL works. The key must be at least SIGNED_URL_MIN_SECRET bytes of random data.
 * Pure CPU work (one HMAC, microseconds): fine on the event loop. */
#ifndef NOVA_MEDIA_SIGNED_URL_H
#define NOVA_MEDIA_SIGNED_URL_H

#include <stddef.h>
#include <stdint.h>

#define SIGNED_URL_MIN_SECRET 32
/* "?expires=" + 20 digits + "&sig=" + 43 + NUL, rounded up. */
#define SIGNED_URL_QUERY_MAX 96
#define SIGNED_URL_SIG_LEN   43

typedef enum {
    SIGNED_URL_OK = 0,
    SIGNED_URL_EXPIRED,       /* genuine signature, but now > expires */
    SIGNED_URL_BAD_SIGNATURE, /* well-formed, signature does not match path/expires */
    SIGNED_URL_MALFORMED,     /* missing/duplicate parameter, non-canonical number or base64 */
} signed_url_status_t;

/* The start of the time step that `now` falls in, for a URL that should live `ttl_s` seconds: the
 * step is ttl/24, at most an hour. URLs issued within one step are then byte-identical (so
 * browsers cache what they point at), and each still lives between ttl - step and ttl seconds.
 * Used for both our own signed URLs (expires = start + ttl) and S3 presigned ones (signed at the
 * start). */
int64_t signed_url_step_start(int64_t now, int64_t ttl_s);

/* Writes "?expires=<expires_unix>&sig=<sig>" for `path` into out. Returns the length written,
 * -EINVAL (secret shorter than SIGNED_URL_MIN_SECRET, NULL/empty path, negative expires) or
 * -ENOSPC (cap < SIGNED_URL_QUERY_MAX may be too small). */
int signed_url_make(const void *secret, size_t secret_len, const char *path, int64_t expires_unix,
                    char *out, size_t cap);

/* Verifies the two query values as received (still percent-encoded: neither contains characters
 * that need encoding, so an encoded value is simply malformed). The signature is checked before
 * the expiry, so EXPIRED is only reported for URLs this server issued. A URL is valid while
 * now <= expires. Comparison is constant-time (CRYPTO_memcmp). */
signed_url_status_t signed_url_verify(const void *secret, size_t secret_len, const char *path,
                                      const char *expires_str, const char *sig_str, int64_t now);

/* Same, extracting expires and sig from a raw query string (without the leading '?'; NULL is
 * MALFORMED). Other parameters are ignored; a repeated expires or sig is MALFORMED. */
signed_url_status_t signed_url_verify_query(const void *secret, size_t secret_len, const char *path,
                                            const char *query, int64_t now);

/* Stable short name ("ok", "expired", "bad_signature", "malformed") for logs. */
const char *signed_url_status_name(signed_url_status_t st);

#endif
