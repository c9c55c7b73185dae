/* Small helpers for the AWS client: clocks, base64, yajl output, image magic, model paths. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "aws/aws_internal.h"

int64_t aws__now_s(void)
{
    return (int64_t)time(NULL);
}

uint64_t aws__now_ns(void)
{
    return uv_hrtime();
}

int aws__b64_encode(buf_t *out, const uint8_t *data, size_t len)
{
    /* EVP_EncodeBlock takes an int length: encode in slices that are a multiple of 3 bytes so
     * the pieces concatenate without padding in between. */
    enum { SLICE = 3 * 65536 };
    unsigned char tmp[SLICE / 3 * 4 + 1];
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < SLICE ? len - off : SLICE;
        int w = EVP_EncodeBlock(tmp, data + off, (int)n);
        int rc = buf_append(out, tmp, (size_t)w);
        if (rc) return rc;
        off += n;
    }
    return 0;
}

static int b64_val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

int aws__b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1) return -EINVAL;
    uint8_t *p = malloc(len / 4 * 3 + 3);
    if (!p) return -ENOMEM;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_val((unsigned char)in[i]);
        if (v < 0) {
            free(p);
            return -EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            p[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out = p;
    *out_len = o;
    return 0;
}

int aws__gen_take(yajl_gen g, char **out, size_t *len)
{
    const unsigned char *text;
    size_t n;
    if (yajl_gen_get_buf(g, &text, &n) != yajl_gen_status_ok) return -EINVAL;
    char *p = malloc(n + 1);
    if (!p) return -ENOMEM;
    memcpy(p, text, n);
    p[n] = '\0';
    *out = p;
    *len = n;
    return 0;
}

const char *aws__image_format(const uint8_t *p, size_t n)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return "png";
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "jpeg";
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) return "gif";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) return "webp";
    return NULL;
}

char *aws__model_path(const char *model_id, const char *action)
{
    buf_t b;
    buf_init(&b, 8192);
    if (buf_append_str(&b, "/model/") || sigv4_uri_encode(&b, model_id, strlen(model_id), false) ||
        buf_printf(&b, "/%s", action) < 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

int64_t aws__parse_iso8601(const char *s)
{
    if (!s) return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo, d, h, mi, se;
    char tail[16] = "";
    /* Field widths bound every number to four digits, so none can overflow an int. */
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%15s", &y, &mo, &d, &h, &mi, &se, // NOLINT(cert-err34-c)
               tail) < 6)
        return -1;
    /* Accept "Z", fractional seconds then "Z", or "+00:00" (UTC only: AWS always sends UTC). */
    const char *t = tail;
    if (*t == '.')
        while (*++t >= '0' && *t <= '9') {
        }
    if (*t && strcmp(t, "Z") != 0 && strcmp(t, "+00:00") != 0) return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t v = timegm(&tm);
    return v == (time_t)-1 ? -1 : (int64_t)v;
}

int aws__endpoint_authority(const char *url, bool *tls, char host[256])
{
    const char *h;
    if (strncasecmp(url, "https://", 8) == 0) {
        *tls = true;
        h = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        *tls = false;
        h = url + 7;
    } else {
        return -EINVAL;
    }
    size_t n = strcspn(h, "/?#");
    if (n == 0 || n > 255) return -EINVAL;
    /* Only a bare authority (a trailing '/' is tolerated): a base path would change what is
     * signed and no AWS endpoint needs one. */
    if (h[n] && !(h[n] == '/' && h[n + 1] == '\0')) return -EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    size_t hl = strlen(host);
    const char *dflt = *tls ? ":443" : ":80";
    if (hl > strlen(dflt) && host[0] != '[' && strcmp(host + hl - strlen(dflt), dflt) == 0)
        host[hl - strlen(dflt)] = '\0';
    return 0;
}
