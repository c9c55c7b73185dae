/* Request objects: building (method, URL, headers, body), the libcurl easy handle configuration
 * and the curl callbacks that collect headers and body while the transfer runs. */
#include "net/net_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NET__MAX_HEADERS      256
#define NET__MAX_HEADER_BYTES (64 * 1024)

const char *net_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case NET_E_CONNECT:
        return "connect failed";
    case NET_E_TIMEOUT:
        return "timed out";
    case NET_E_TOO_LARGE:
        return "response too large";
    case NET_E_CANCELLED:
        return "cancelled";
    case NET_E_TLS:
        return "TLS error";
    case NET_E_DROPPED:
        return "connection dropped";
    case NET_E_ABORTED:
        return "aborted by callback";
    case NET_E_IO:
        return "request body read failed";
    case NET_E_PROTOCOL:
        return "protocol error";
    case NET_E_CLOSING:
        return "client closing";
    default:
        return code < 0 && code > -1000 ? strerror(-code) : "unknown error";
    }
}

static char *net__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

net_request_t *net_request_new(const char *method, const char *url)
{
    if (!method || !url || !*method) return NULL;
    for (const char *p = method; *p; p++)
        if (!isupper((unsigned char)*p) && *p != '-' && *p != '_') return NULL;
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) return NULL;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ') return NULL; /* no spaces or control bytes in a URL */
    net_request_t *req = calloc(1, sizeof *req);
    if (!req) return NULL;
    req->method = net__strdup(method);
    req->url = net__strdup(url);
    req->body_fd = -1;
    buf_init(&req->body_buf, 0);
    if (!req->method || !req->url) {
        net_request_free(req);
        return NULL;
    }
    return req;
}

void net__headers_clear(net_headers_t *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->names[i]); /* value shares the allocation */
    free(h->names);
    free(h->values);
    memset(h, 0, sizeof *h);
}

void net_request_free(net_request_t *req)
{
    if (!req) return;
    if (req->easy) curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->hdrs);
    free(req->method);
    free(req->url);
    free(req->body);
    net__reader_detach(req);
    if (req->body_fd >= 0) close(req->body_fd);
    net__headers_clear(&req->headers);
    buf_free(&req->body_buf);
    free(req);
}

static bool net__field_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') return false;
    return true;
}

int net_request_add_header(net_request_t *req, const char *name, const char *value)
{
    if (!req || !name || !value || !*name || !net__field_ok(name) || !net__field_ok(value))
        return -EINVAL;
    if (strchr(name, ':') || strchr(name, ' ')) return -EINVAL;
    buf_t line;
    buf_init(&line, 16 * 1024);
    /* "name;" is curl's spelling for a header with an empty value. */
    int rc = *value ? buf_printf(&line, "%s: %s", name, value) : buf_printf(&line, "%s;", name);
    if (rc) {
        buf_free(&line);
        return rc;
    }
    struct curl_slist *n = curl_slist_append(req->hdrs, line.data);
    buf_free(&line);
    if (!n) return -ENOMEM;
    req->hdrs = n;
    if (strcasecmp(name, "Content-Type") == 0) req->has_content_type = true;
    return 0;
}

static void net__body_reset(net_request_t *req)
{
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
    net__reader_detach(req);
    if (req->body_fd >= 0) close(req->body_fd);
    req->body_fd = -1;
    req->has_body = false;
}

int net_request_set_body_take(net_request_t *req, char *data, size_t len)
{
    if (!req) {
        free(data);
        return -EINVAL;
    }
    net__body_reset(req);
    req->body = data;
    req->body_len = len;
    req->has_body = true;
    return 0;
}

int net_request_set_body(net_request_t *req, const void *data, size_t len)
{
    if (!req || (!data && len)) return -EINVAL;
    char *copy = malloc(len ? len : 1);
    if (!copy) return -ENOMEM;
    if (len) memcpy(copy, data, len);
    return net_request_set_body_take(req, copy, len);
}

int net_request_set_body_file(net_request_t *req, int fd, uint64_t offset, uint64_t len)
{
    if (!req || fd < 0 || offset > (uint64_t)LLONG_MAX || len > (uint64_t)LLONG_MAX - offset)
        return -EINVAL;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (nfd < 0) return -errno;
    net__body_reset(req);
    req->body_fd = nfd;
    req->file_off = offset;
    req->file_len = len;
    req->has_body = true;
    return 0;
}

void net_request_set_timeout_ms(net_request_t *req, long ms)
{
    req->timeout_ms = ms > 0 ? ms : 0;
}

void net_request_set_low_speed(net_request_t *req, long bytes_per_s, long seconds)
{
    req->low_speed_limit = bytes_per_s > 0 ? bytes_per_s : 0;
    req->low_speed_time = seconds > 0 ? seconds : 0;
    req->low_speed_set = true;
}

void net_request_set_max_response_bytes(net_request_t *req, size_t max)
{
    req->max_bytes = max;
}

void net_request_set_on_data(net_request_t *req, net_data_cb cb)
{
    req->on_data = cb;
}

void net_request_set_on_headers(net_request_t *req, net_headers_cb cb)
{
    req->on_headers = cb;
}

const char *net_headers_get(const net_headers_t *h, const char *name)
{
    if (!h || !name) return NULL;
    for (size_t i = 0; i < h->count; i++)
        if (strcasecmp(h->names[i], name) == 0) return h->values[i];
    return NULL;
}

/* Stores one "Name: value" line (CRLF already stripped); obsolete line folding (a line starting
 * with whitespace) continues the previous value. Returns false when over the caps. */
static bool net__header_store(net_request_t *req, const char *line, size_t len)
{
    net_headers_t *h = &req->headers;
    if (h->bytes + len > NET__MAX_HEADER_BYTES) return false;
    h->bytes += len;
    if ((line[0] == ' ' || line[0] == '\t') && h->count) {
        char *old = h->names[h->count - 1];
        size_t nl = strlen(old) + 1, vl = strlen(h->values[h->count - 1]);
        char *n = realloc(old, nl + vl + len + 1);
        if (!n) return false;
        n[nl + vl] = ' ';
        memcpy(n + nl + vl + 1, line + 1, len - 1);
        n[nl + vl + len] = '\0';
        h->names[h->count - 1] = n;
        h->values[h->count - 1] = n + nl;
        return true;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line) return true; /* not a header: ignore */
    if (h->count >= NET__MAX_HEADERS) return false;
    if (h->count % 16 == 0) {
        char **nn = realloc(h->names, (h->count + 16) * sizeof *nn);
        if (!nn) return false;
        h->names = nn;
        char **nv = realloc(h->values, (h->count + 16) * sizeof *nv);
        if (!nv) return false;
        h->values = nv;
    }
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    char *s = malloc(nlen + 1 + vlen + 1);
    if (!s) return false;
    memcpy(s, line, nlen);
    s[nlen] = '\0';
    memcpy(s + nlen + 1, v, vlen);
    s[nlen + 1 + vlen] = '\0';
    h->names[h->count] = s;
    h->values[h->count] = s + nlen + 1;
    h->count++;
    return true;
}

/* Marks the header block complete and tells the caller. Returns false to stop the transfer. */
static bool net__headers_finish(net_request_t *req)
{
    if (req->headers_done) return true;
    req->headers_done = true;
    if (!req->on_headers) return true;
    if (req->on_headers(req, req->http_status, &req->headers, req->arg) != 0) {
        if (req->state != NET__CANCELLED) req->fail = NET_E_ABORTED;
        return false;
    }
    return req->state != NET__CANCELLED;
}

static size_t net__header_cb(char *p, size_t size, size_t n, void *ud)
{
    net_request_t *req = ud;
    size_t len = size * n;
    if (req->state == NET__CANCELLED) return 0;
    if (req->headers_done) return len; /* trailers: ignored */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new status line starts a new header block (after a 1xx response). */
        net__headers_clear(&req->headers);
        const char *sp = memchr(p, ' ', len);
        req->http_status = 0;
        if (sp) {
            for (const char *d = sp + 1; d < p + len && isdigit((unsigned char)*d); d++)
                req->http_status = req->http_status * 10 + (*d - '0');
        }
        return len;
    }
    size_t l = len;
    while (l && (p[l - 1] == '\n' || p[l - 1] == '\r'))
        l--;
    if (l == 0) {
        if (req->http_status >= 100 && req->http_status < 200) return len; /* interim response */
        return net__headers_finish(req) ? len : 0;
    }
    if (!net__header_store(req, p, l)) {
        req->fail = NET_E_TOO_LARGE;
        return 0;
    }
    return len;
}

static size_t net__write_cb(char *p, size_t size, size_t n, void *ud)
{
    net_request_t *req = ud;
    size_t len = size * n;
    if (req->state == NET__CANCELLED) return 0;
    if (len == 0) return 0;
    if (!net__headers_finish(req)) return 0;
    if (len > req->max_bytes || req->rx_body > req->max_bytes - len) {
        req->fail = NET_E_TOO_LARGE;
        return 0;
    }
    req->rx_body += len;
    if (req->on_data) {
        if (req->on_data(req, p, len, req->arg) != 0) {
            if (req->state != NET__CANCELLED) req->fail = NET_E_ABORTED;
            return 0;
        }
        return req->state == NET__CANCELLED ? 0 : len;
    }
    int rc = buf_append(&req->body_buf, p, len);
    if (rc) {
        req->fail = rc == -ENOBUFS ? NET_E_TOO_LARGE : rc;
        return 0;
    }
    return len;
}

/* A file body is read ahead in pieces on the threadpool, never on the loop: curl's read callback
 * hands out what the last read brought and, when that is used up, starts the next read and pauses
 * the transfer until it completes (net__resume_send). The reader outlives its request when the
 * request ends with a read still in flight: it then owns the descriptor and frees itself. */
enum { NET__READ_AHEAD = 64 * 1024 };

typedef struct net__reader {
    uv_fs_t fs;
    net_request_t *req; /* NULL once the request is gone */
    int orphan_fd;      /* the descriptor to close when orphaned mid-read, else -1 */
    bool in_flight;
    int error;         /* errno-style failure of the last read, or 0 */
    size_t have, used; /* bytes in buf, of which handed to curl */
    uint64_t next;     /* offset (from file_off) of the next read */
    char buf[NET__READ_AHEAD];
} net__reader_t;

void net__reader_detach(net_request_t *req)
{
    net__reader_t *r = req->reader;
    if (!r) return;
    req->reader = NULL;
    if (r->in_flight) {
        r->req = NULL; /* the completion frees it and closes the descriptor */
        r->orphan_fd = req->body_fd;
        req->body_fd = -1;
        return;
    }
    free(r);
}

static void net__reader_done(uv_fs_t *fs)
{
    net__reader_t *r = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    r->in_flight = false;
    net_request_t *req = r->req;
    if (!req) {
        if (r->orphan_fd >= 0) close(r->orphan_fd);
        free(r);
        return;
    }
    if (n < 0)
        r->error = (int)n;
    else if (n == 0)
        r->error = -EIO; /* the file shrank below the announced length */
    else {
        r->have = (size_t)n;
        r->used = 0;
        r->next += (uint64_t)n;
    }
    net__resume_send(req);
}

static int net__reader_start(net_request_t *req)
{
    net__reader_t *r = req->reader;
    if (!r) {
        r = req->reader = malloc(sizeof *r);
        if (!r) return -ENOMEM;
        r->req = req;
        r->orphan_fd = -1;
        r->in_flight = false;
        r->error = 0;
        r->have = r->used = 0;
        r->next = req->file_pos;
    }
    uint64_t left = req->file_len - r->next;
    size_t want = left < sizeof r->buf ? (size_t)left : sizeof r->buf;
    uv_buf_t b = uv_buf_init(r->buf, (unsigned)want);
    r->fs.data = r;
    int rc = uv_fs_read(req->client->loop, &r->fs, req->body_fd, &b, 1,
                        (int64_t)(req->file_off + r->next), net__reader_done);
    if (rc == 0) r->in_flight = true;
    return rc;
}

static size_t net__read_cb(char *dst, size_t size, size_t n, void *ud)
{
    net_request_t *req = ud;
    size_t want = size * n;
    uint64_t left = req->file_len - req->file_pos;
    if (want > left) want = (size_t)left;
    if (want == 0) return 0;
    net__reader_t *r = req->reader;
    if (r && r->error) {
        req->fail = NET_E_IO;
        return CURL_READFUNC_ABORT;
    }
    if (r && r->used < r->have) {
        size_t k = r->have - r->used;
        if (k > want) k = want;
        memcpy(dst, r->buf + r->used, k);
        r->used += k;
        req->file_pos += k;
        return k;
    }
    if (r && r->in_flight) return CURL_READFUNC_PAUSE;
    if (net__reader_start(req) != 0) {
        req->fail = NET_E_IO;
        return CURL_READFUNC_ABORT;
    }
    return CURL_READFUNC_PAUSE;
}

int net__map_curl(net_request_t *req, CURLcode rc)
{
    if (rc == CURLE_OK) return 0;
    if (req->fail) return req->fail;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return NET_E_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return NET_E_TIMEOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return NET_E_TOO_LARGE;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return NET_E_TLS;
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2_STREAM:
        return NET_E_DROPPED;
    case CURLE_READ_ERROR:
        return NET_E_IO;
    case CURLE_ABORTED_BY_CALLBACK:
        return NET_E_ABORTED;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default:
        return NET_E_PROTOCOL;
    }
}

#define NET__SET(opt, val)                                                                         \
    do {                                                                                           \
        if (curl_easy_setopt(e, opt, val) != CURLE_OK) return -EINVAL;                             \
    } while (0)

int net__easy_setup(net_request_t *req)
{
    net_client_t *c = req->client;
    const net_config_t *cfg = &c->cfg;
    CURL *e = req->easy = curl_easy_init();
    if (!e) return -ENOMEM;
    if (!req->max_bytes) req->max_bytes = cfg->default_max_response;
    buf_init(&req->body_buf, req->max_bytes);

    /* "Expect:" stops curl from waiting for 100-continue on larger bodies; an empty Content-Type
     * stops its form-urlencoded default, which would break signed requests. */
    struct curl_slist *h = curl_slist_append(req->hdrs, "Expect:");
    if (!h) return -ENOMEM;
    req->hdrs = h;
    if (req->has_body && !req->has_content_type) {
        h = curl_slist_append(req->hdrs, "Content-Type:");
        if (!h) return -ENOMEM;
        req->hdrs = h;
    }

    NET__SET(CURLOPT_URL, req->url);
    NET__SET(CURLOPT_PRIVATE, req);
    NET__SET(CURLOPT_NOSIGNAL, 1L);
    NET__SET(CURLOPT_PROTOCOLS_STR, "http,https");
    NET__SET(CURLOPT_FOLLOWLOCATION, 0L);
    NET__SET(CURLOPT_SSL_VERIFYPEER, 1L);
    NET__SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file) NET__SET(CURLOPT_CAINFO, c->ca_file);
    NET__SET(CURLOPT_PROXY, c->proxy ? c->proxy : "");
    NET__SET(CURLOPT_USERAGENT, c->user_agent);
    NET__SET(CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    NET__SET(CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : cfg->default_timeout_ms);
    long ls_limit = req->low_speed_set ? req->low_speed_limit : cfg->low_speed_limit;
    long ls_time = req->low_speed_set ? req->low_speed_time : cfg->low_speed_time_s;
    if (ls_limit > 0 && ls_time > 0) {
        NET__SET(CURLOPT_LOW_SPEED_LIMIT, ls_limit);
        NET__SET(CURLOPT_LOW_SPEED_TIME, ls_time);
    }
    if (cfg->tcp_keepalive_s > 0) {
        NET__SET(CURLOPT_TCP_KEEPALIVE, 1L);
        NET__SET(CURLOPT_TCP_KEEPIDLE, cfg->tcp_keepalive_s);
        NET__SET(CURLOPT_TCP_KEEPINTVL, cfg->tcp_keepalive_s);
    }
    if (cfg->max_idle_s > 0) NET__SET(CURLOPT_MAXAGE_CONN, cfg->max_idle_s);
    /* No CURLOPT_PIPEWAIT: it would hold every new request to a host until the first pending
     * connection's response headers arrive (a slow first request stalls all others). */
    NET__SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_bytes);
    NET__SET(CURLOPT_ERRORBUFFER, req->errbuf);
    NET__SET(CURLOPT_HEADERFUNCTION, net__header_cb);
    NET__SET(CURLOPT_HEADERDATA, req);
    NET__SET(CURLOPT_WRITEFUNCTION, net__write_cb);
    NET__SET(CURLOPT_WRITEDATA, req);
    NET__SET(CURLOPT_HTTPHEADER, req->hdrs);

    bool is_post = strcmp(req->method, "POST") == 0;
    if (strcmp(req->method, "HEAD") == 0) {
        NET__SET(CURLOPT_NOBODY, 1L);
    } else if (req->has_body && req->body_fd >= 0) {
        /* POST mode with a read callback streams the file with a known length (no chunked
         * encoding); the method string is then replaced for PUT and friends. */
        NET__SET(CURLOPT_POST, 1L);
        NET__SET(CURLOPT_READFUNCTION, net__read_cb);
        NET__SET(CURLOPT_READDATA, req);
        NET__SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->file_len);
    } else if (req->has_body) {
        NET__SET(CURLOPT_POSTFIELDS, req->body);
        NET__SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (is_post) {
        NET__SET(CURLOPT_POSTFIELDS, "");
        NET__SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else {
        NET__SET(CURLOPT_HTTPGET, 1L);
    }
    bool plain_get = strcmp(req->method, "GET") == 0 && !req->has_body;
    if (!plain_get && !is_post && strcmp(req->method, "HEAD") != 0)
        NET__SET(CURLOPT_CUSTOMREQUEST, req->method);
    return 0;
}
