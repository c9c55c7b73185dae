#include "aws/sigv4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SIGV4__ALGORITHM "AWS4-HMAC-SHA256"

/* Headers a proxy or the HTTP stack may add, drop or rewrite on the way, so they are never part
 * of the signature (botocore's SIGNED_HEADERS_BLACKLIST as of 1.43). */
static const char *const sigv4__unsigned_headers[] = {
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
};

/* Headers the signer itself produces; a caller-supplied copy would be signed twice. */
static const char *const sigv4__owned_headers[] = {
    "host", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
};

/* Query parameters that presigning adds; a caller-supplied copy would make the URL ambiguous. */
static const char *const sigv4__owned_params[] = {
    "X-Amz-Algorithm",     "X-Amz-Credential",     "X-Amz-Date",      "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature",
};

#define SIGV4__COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool sigv4__in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(s, list[i]) == 0) return true;
    return false;
}

static bool sigv4__unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int sigv4_uri_encode(buf_t *out, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0; /* start of the pending run of bytes that need no encoding */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (sigv4__unreserved(c) || (keep_slash && c == '/')) continue;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        int rc = buf_append(out, s + run, i - run);
        if (!rc) rc = buf_append(out, esc, 3);
        if (rc) return rc;
        run = i + 1;
    }
    return buf_append(out, s + run, len - run);
}

static void sigv4__hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const unsigned char empty = 0;
    if (EVP_Digest(data ? data : &empty, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -ENOMEM;
    sigv4__hex(md, 32, hex);
    return 0;
}

static int sigv4__hmac(const void *key, size_t keylen, const char *msg, size_t msglen,
                       unsigned char out[32])
{
    unsigned int outlen = 0;
    if (keylen > 1024 * 1024) return -EINVAL;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen, out, &outlen) ||
        outlen != 32)
        return -ENOMEM;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Input validation */

static bool sigv4__is_token(const char *s)
{
    if (!s || !*s) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
            continue;
        if (!strchr("!#$%&'*+-.^_`|~", *p)) return false;
    }
    return true;
}

/* Text that goes inside the Authorization header or the credential scope: visible ASCII, and
 * none of the scope/list separators. */
static bool sigv4__is_scope_part(const char *s)
{
    if (!s || !*s) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == ',' || *p == '=') return false;
    return true;
}

static bool sigv4__no_crlf(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

static bool sigv4__is_payload_hash(const char *h)
{
    if (strcmp(h, SIGV4_UNSIGNED_PAYLOAD) == 0) return true;
    if (strlen(h) != 64) return false;
    for (size_t i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
    return true;
}

static int sigv4__validate(const sigv4_request_t *r)
{
    if (!sigv4__is_token(r->method) || !r->host || !*r->host || !sigv4__no_crlf(r->host) ||
        !sigv4__is_scope_part(r->service) || !sigv4__is_scope_part(r->region) ||
        !sigv4__is_scope_part(r->creds.access_key_id) || !r->creds.secret_access_key ||
        !*r->creds.secret_access_key)
        return -EINVAL;
    if (r->creds.session_token && !sigv4__no_crlf(r->creds.session_token)) return -EINVAL;
    if (r->path && r->path[0] && r->path[0] != '/') return -EINVAL;
    if (r->payload_hash && !sigv4__is_payload_hash(r->payload_hash)) return -EINVAL;
    if (!r->payload_hash && r->body_len && !r->body) return -EINVAL;
    if ((r->query_count && !r->query) || (r->header_count && !r->headers)) return -EINVAL;
    for (size_t i = 0; i < r->query_count; i++)
        if (!r->query[i].name) return -EINVAL;
    for (size_t i = 0; i < r->header_count; i++) {
        const sigv4_pair_t *h = &r->headers[i];
        if (!sigv4__is_token(h->name) || !h->value || !sigv4__no_crlf(h->value)) return -EINVAL;
        if (sigv4__in_list(h->name, sigv4__owned_headers, SIGV4__COUNT(sigv4__owned_headers)))
            return -EINVAL;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Path */

/* Removes "." and ".." segments and empty segments (runs of '/'), exactly as botocore's
 * remove_dot_segments does for every service but S3: a trailing '/' survives only when at least
 * one segment remains, and ".." never climbs above the root. */
static int sigv4__normalize_path(buf_t *out, const char *p, size_t len)
{
    size_t *seg = malloc((len / 2 + 2) * 2 * sizeof *seg); /* kept segments: start, length */
    if (!seg) return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (n) n--;
        } else if (sl > 0 && !(sl == 1 && p[i] == '.')) {
            seg[2 * n] = i;
            seg[2 * n + 1] = sl;
            n++;
        }
        i = j + 1;
    }
    int rc = buf_append(out, "/", 1);
    for (size_t k = 0; k < n && !rc; k++) {
        if (k) rc = buf_append(out, "/", 1);
        if (!rc) rc = buf_append(out, p + seg[2 * k], seg[2 * k + 1]);
    }
    if (!rc && n && p[len - 1] == '/') rc = buf_append(out, "/", 1);
    free(seg);
    return rc;
}

/* Builds the wire path and the canonical URI. */
static int sigv4__paths(const sigv4_request_t *r, buf_t *wire, buf_t *canon)
{
    const char *path = (r->path && r->path[0]) ? r->path : "/";
    size_t len = strlen(path);
    buf_t given;
    buf_init(&given, SIGV4_MAX_TEXT);
    int rc = 0;
    if (r->path_is_encoded) {
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f) return -EINVAL;
        rc = buf_append(&given, path, len);
    } else {
        rc = sigv4_uri_encode(&given, path, len, true);
    }
    if (rc) goto out;
    if (r->s3 || r->no_normalize_path) {
        rc = buf_append(wire, given.data, given.len);
    } else {
        /* The normalized form also goes on the wire: the server normalizes the same way, and
         * libcurl would otherwise remove dot segments on its own after we signed. */
        rc = sigv4__normalize_path(wire, given.data, given.len);
    }
    if (rc) goto out;
    if (r->s3)
        rc = buf_append(canon, wire->data, wire->len);
    else
        rc = sigv4_uri_encode(canon, wire->data, wire->len, true);
out:
    buf_free(&given);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Query */

typedef struct {
    char *name; /* encoded */
    char *value;
} sigv4__kv_t;

typedef struct {
    sigv4__kv_t *v;
    size_t n, cap;
} sigv4__kvs_t;

static void sigv4__kvs_free(sigv4__kvs_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static char *sigv4__encode_dup(const char *s, int *rc)
{
    buf_t b;
    buf_init(&b, SIGV4_MAX_TEXT);
    *rc = sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, false);
    if (!*rc && !b.data) *rc = buf_append(&b, "", 0);
    if (*rc) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* Adds a parameter, encoding both parts. */
static int sigv4__kvs_add(sigv4__kvs_t *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        sigv4__kv_t *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return -ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    int rc;
    char *n = sigv4__encode_dup(name, &rc);
    if (!n) return rc;
    char *v = sigv4__encode_dup(value, &rc);
    if (!v) {
        free(n);
        return rc;
    }
    l->v[l->n].name = n;
    l->v[l->n].value = v;
    l->n++;
    return 0;
}

static int sigv4__kv_cmp(const void *a, const void *b)
{
    const sigv4__kv_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Sorts by encoded name, then encoded value, and joins as name=value&... */
static int sigv4__kvs_join(sigv4__kvs_t *l, buf_t *out)
{
    if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, sigv4__kv_cmp);
    int rc = buf_append(out, "", 0);
    for (size_t i = 0; i < l->n && !rc; i++) {
        if (i) rc = buf_append(out, "&", 1);
        if (!rc) rc = buf_append_str(out, l->v[i].name);
        if (!rc) rc = buf_append(out, "=", 1);
        if (!rc) rc = buf_append_str(out, l->v[i].value);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Headers */

typedef struct {
    char *name;  /* lower-case */
    char *value; /* trimmed, whitespace runs collapsed */
    size_t order;
} sigv4__hdr_t;

static bool sigv4__ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char *sigv4__lower_dup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    for (size_t i = 0; i <= n; i++)
        d[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    return d;
}

static char *sigv4__trim_dup(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    if (!d) return NULL;
    size_t o = 0;
    bool gap = false;
    for (const char *p = s; *p; p++) {
        if (sigv4__ws(*p)) {
            gap = o > 0;
            continue;
        }
        if (gap) d[o++] = ' ';
        gap = false;
        d[o++] = *p;
    }
    d[o] = '\0';
    return d;
}

static int sigv4__hdr_cmp(const void *a, const void *b)
{
    const sigv4__hdr_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Builds the canonical headers block (each line "name:value\n") and the signed header list.
 * `extra` are the headers the signer adds itself (host, x-amz-*), already lower-case. */
static int sigv4__headers(const sigv4_request_t *r, const sigv4_pair_t *extra, size_t nextra,
                          buf_t *canon, buf_t *signed_list)
{
    size_t cap = r->header_count + nextra, n = 0;
    sigv4__hdr_t *h = calloc(cap ? cap : 1, sizeof *h);
    if (!h) return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < cap; i++) {
        const sigv4_pair_t *p = i < r->header_count ? &r->headers[i] : &extra[i - r->header_count];
        if (sigv4__in_list(p->name, sigv4__unsigned_headers, SIGV4__COUNT(sigv4__unsigned_headers)))
            continue;
        h[n].name = sigv4__lower_dup(p->name);
        h[n].value = sigv4__trim_dup(p->value);
        h[n].order = i;
        n++;
        if (!h[n - 1].name || !h[n - 1].value) {
            rc = -ENOMEM;
            goto out;
        }
    }
    qsort(h, n, sizeof *h, sigv4__hdr_cmp);
    for (size_t i = 0; i < n && !rc; i++) {
        bool first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
        bool last = i + 1 == n || strcmp(h[i].name, h[i + 1].name) != 0;
        if (first) {
            if (signed_list->len) rc = buf_append(signed_list, ";", 1);
            if (!rc) rc = buf_append_str(signed_list, h[i].name);
            if (!rc) rc = buf_append_str(canon, h[i].name);
            if (!rc) rc = buf_append(canon, ":", 1);
        } else {
            rc = buf_append(canon, ",", 1);
        }
        if (!rc) rc = buf_append_str(canon, h[i].value);
        if (!rc && last) rc = buf_append(canon, "\n", 1);
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Signing */

static int sigv4__format_time(time_t t, char amz_date[17])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 9999 - 1900) return -EINVAL;
    if (strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) return -EINVAL;
    return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request"),
 * then signature = hex(HMAC(kSigning, string_to_sign)). Key material is wiped afterwards. */
static int sigv4__signature(const sigv4_request_t *r, const char *date8, const buf_t *sts,
                            char sig[65])
{
    size_t slen = strlen(r->creds.secret_access_key);
    unsigned char *k0 = malloc(slen + 4);
    if (!k0) return -ENOMEM;
    memcpy(k0, "AWS4", 4); // NOLINT(bugprone-not-null-terminated-result): key bytes
    memcpy(k0 + 4, r->creds.secret_access_key, slen);
    unsigned char k[32], out[32];
    int rc = sigv4__hmac(k0, slen + 4, date8, 8, k);
    if (!rc) rc = sigv4__hmac(k, 32, r->region, strlen(r->region), k);
    if (!rc) rc = sigv4__hmac(k, 32, r->service, strlen(r->service), k);
    if (!rc) rc = sigv4__hmac(k, 32, "aws4_request", 12, k);
    if (!rc) rc = sigv4__hmac(k, 32, sts->data, sts->len, out);
    if (!rc) sigv4__hex(out, 32, sig);
    OPENSSL_cleanse(k0, slen + 4);
    OPENSSL_cleanse(k, sizeof k);
    free(k0);
    return rc;
}

static char *sigv4__steal(buf_t *b)
{
    if (!b->data && buf_append(b, "", 0) != 0) return NULL;
    return buf_steal(b, NULL);
}

static int sigv4__add_out_header(sigv4_result_t *out, const char *name, const char *value)
{
    char *v = strdup(value);
    if (!v) return -ENOMEM;
    out->headers[out->header_count].name = name;
    out->headers[out->header_count].value = v;
    out->header_count++;
    return 0;
}

static int sigv4__sign(const sigv4_request_t *r, bool presign, uint32_t expires,
                       sigv4_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return -EINVAL;
    int rc = sigv4__validate(r);
    if (rc) return rc;
    if (presign && (expires == 0 || expires > SIGV4_MAX_EXPIRES)) return -EINVAL;
    if (presign)
        for (size_t i = 0; i < r->query_count; i++)
            if (sigv4__in_list(r->query[i].name, sigv4__owned_params,
                               SIGV4__COUNT(sigv4__owned_params)))
                return -EINVAL;
    if ((rc = sigv4__format_time(r->time, out->amz_date))) return rc;

    bool token = r->creds.session_token && r->creds.session_token[0];
    bool sign_token = token && !r->session_token_unsigned;
    if (r->payload_hash)
        snprintf(out->payload_hash, sizeof out->payload_hash, "%s", r->payload_hash);
    else if ((rc = sigv4_sha256_hex(r->body, r->body_len, out->payload_hash)))
        return rc;
    bool unsigned_payload = strcmp(out->payload_hash, SIGV4_UNSIGNED_PAYLOAD) == 0;
    bool content_header = !presign && (r->s3 || r->content_sha256_header || unsigned_payload);

    char date8[9];
    memcpy(date8, out->amz_date, 8);
    date8[8] = '\0';

    buf_t wire, canon_uri, canon_hdrs, signed_list, scope, query, creq, sts, tmp;
    buf_t *all[] = {&wire,  &canon_uri, &canon_hdrs, &signed_list, &scope,
                    &query, &creq,      &sts,        &tmp};
    for (size_t i = 0; i < SIGV4__COUNT(all); i++)
        buf_init(all[i], SIGV4_MAX_TEXT);
    sigv4__kvs_t params = {0};

    /* Headers the signer adds and signs. */
    sigv4_pair_t extra[4];
    size_t nextra = 0;
    extra[nextra++] = (sigv4_pair_t){"host", r->host};
    if (!presign) {
        extra[nextra++] = (sigv4_pair_t){"x-amz-date", out->amz_date};
        if (sign_token)
            extra[nextra++] = (sigv4_pair_t){"x-amz-security-token", r->creds.session_token};
        if (content_header)
            extra[nextra++] = (sigv4_pair_t){"x-amz-content-sha256", out->payload_hash};
    }

    if ((rc = sigv4__paths(r, &wire, &canon_uri))) goto out;
    if ((rc = sigv4__headers(r, extra, nextra, &canon_hdrs, &signed_list))) goto out;
    if ((rc = buf_printf(&scope, "%s/%s/%s/aws4_request", date8, r->region, r->service))) goto out;

    for (size_t i = 0; i < r->query_count && !rc; i++)
        rc = sigv4__kvs_add(&params, r->query[i].name, r->query[i].value);
    if (!rc && presign) {
        char exp[16];
        snprintf(exp, sizeof exp, "%u", (unsigned)expires);
        rc = buf_printf(&tmp, "%s/%s", r->creds.access_key_id, scope.data);
        if (!rc) rc = sigv4__kvs_add(&params, "X-Amz-Algorithm", SIGV4__ALGORITHM);
        if (!rc) rc = sigv4__kvs_add(&params, "X-Amz-Credential", tmp.data);
        if (!rc) rc = sigv4__kvs_add(&params, "X-Amz-Date", out->amz_date);
        if (!rc) rc = sigv4__kvs_add(&params, "X-Amz-Expires", exp);
        if (!rc) rc = sigv4__kvs_add(&params, "X-Amz-SignedHeaders", signed_list.data);
        if (!rc && sign_token)
            rc = sigv4__kvs_add(&params, "X-Amz-Security-Token", r->creds.session_token);
    }
    if (!rc) rc = sigv4__kvs_join(&params, &query);
    if (rc) goto out;

    rc = buf_printf(&creq, "%s\n%s\n%s\n%s\n%s\n%s", r->method, canon_uri.data, query.data,
                    canon_hdrs.data, signed_list.data, out->payload_hash);
    if (rc) goto out;
    char creq_hash[65];
    if ((rc = sigv4_sha256_hex(creq.data, creq.len, creq_hash))) goto out;
    rc = buf_printf(&sts, SIGV4__ALGORITHM "\n%s\n%s\n%s", out->amz_date, scope.data, creq_hash);
    if (!rc) rc = sigv4__signature(r, date8, &sts, out->signature);
    if (rc) goto out;

    if (presign) {
        if (token && !sign_token) {
            rc = buf_append_str(&query, "&X-Amz-Security-Token=");
            if (!rc)
                rc = sigv4_uri_encode(&query, r->creds.session_token,
                                      strlen(r->creds.session_token), false);
        }
        if (!rc) rc = buf_printf(&query, "&X-Amz-Signature=%s", out->signature);
    } else {
        buf_reset(&tmp);
        rc = buf_printf(&tmp, SIGV4__ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                        r->creds.access_key_id, scope.data, signed_list.data, out->signature);
        if (!rc) rc = sigv4__add_out_header(out, "X-Amz-Date", out->amz_date);
        if (!rc && token)
            rc = sigv4__add_out_header(out, "X-Amz-Security-Token", r->creds.session_token);
        if (!rc && content_header)
            rc = sigv4__add_out_header(out, "X-Amz-Content-SHA256", out->payload_hash);
        if (!rc) rc = sigv4__add_out_header(out, "Authorization", tmp.data);
    }
    if (rc) goto out;

    out->wire_path = sigv4__steal(&wire);
    out->wire_query = sigv4__steal(&query);
    out->canonical_request = sigv4__steal(&creq);
    out->string_to_sign = sigv4__steal(&sts);
    if (!out->wire_path || !out->wire_query || !out->canonical_request || !out->string_to_sign)
        rc = -ENOMEM;
out:
    for (size_t i = 0; i < SIGV4__COUNT(all); i++)
        buf_free(all[i]);
    sigv4__kvs_free(&params);
    if (rc) sigv4_result_free(out);
    return rc;
}

int sigv4_sign_headers(const sigv4_request_t *req, sigv4_result_t *out)
{
    return sigv4__sign(req, false, 0, out);
}

int sigv4_presign(const sigv4_request_t *req, uint32_t expires, sigv4_result_t *out)
{
    return sigv4__sign(req, true, expires, out);
}

void sigv4_result_free(sigv4_result_t *out)
{
    if (!out) return;
    free(out->wire_path);
    free(out->wire_query);
    free(out->canonical_request);
    free(out->string_to_sign);
    for (size_t i = 0; i < out->header_count && i < SIGV4_MAX_OUT_HEADERS; i++)
        free(out->headers[i].value);
    memset(out, 0, sizeof *out);
}
