/* static: loads the web app's folder into memory once and serves it with ETags (see static.h). */
#include "api/static.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "http/range.h"

#define API_STATIC_PATH_MAX 512

/* The process-wide table, sorted by path for bsearch. Each entry's path and data are malloc'd
 * and owned by the table. Written only by api_static_init/api_static_free (before and after the
 * loop serves), read by the handlers. */
static api_static_file_t *api__files;
static size_t api__nfiles;

typedef struct {
    api_static_file_t *files;
    size_t n, cap;
    size_t total;
} api__load_t;

static const struct {
    const char *ext;
    const char *type;
} api__types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain; charset=utf-8"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"woff", "font/woff"},
    {"mp3", "audio/mpeg"},
    {"wasm", "application/wasm"},
};

const char *api_static_content_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        for (size_t i = 0; i < sizeof api__types / sizeof api__types[0]; i++)
            if (strcasecmp(dot + 1, api__types[i].ext) == 0) return api__types[i].type;
    }
    return "application/octet-stream";
}

static bool api__name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool api_static_path_ok(const char *rel, size_t len)
{
    if (!rel || len == 0 || len >= API_STATIC_PATH_MAX) return false;
    size_t segs = 0, i = 0;
    while (i < len) {
        size_t start = i;
        /* A segment may not start with '.': that excludes ".", ".." and hidden files at once. */
        if (rel[i] == '.' || rel[i] == '/') return false;
        while (i < len && rel[i] != '/') {
            if (!api__name_char_ok(rel[i])) return false;
            i++;
        }
        if (i == start) return false;
        if (++segs > API_STATIC_MAX_DEPTH) return false;
        if (i < len) {
            i++;                        /* the '/' */
            if (i == len) return false; /* a trailing slash names a folder, never a file */
        }
    }
    return true;
}

static int api__cmp(const void *a, const void *b)
{
    return strcmp(((const api_static_file_t *)a)->path, ((const api_static_file_t *)b)->path);
}

static void api__files_release(api_static_file_t *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)files[i].path);
        free((void *)files[i].data);
    }
    free(files);
}

/* The strong ETag: the first 16 bytes of the SHA-256 of the content, in lower-case hex, quoted.
 * Content-derived (not mtime) so that every process and every restart agrees. */
static int api__etag(const unsigned char *data, size_t len, char out[API_STATIC_ETAG_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const unsigned char empty = 0;
    if (EVP_Digest(len ? data : &empty, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -EIO;
    static const char hex[] = "0123456789abcdef";
    out[0] = '"';
    for (size_t i = 0; i < 16; i++) {
        out[1 + 2 * i] = hex[md[i] >> 4];
        out[2 + 2 * i] = hex[md[i] & 15];
    }
    out[33] = '"';
    out[34] = '\0';
    return 0;
}

/* Reads one regular file (not through a symbolic link) fully into a malloc'd buffer. */
static int api__read_file(const char *full, unsigned char **out, size_t *outlen)
{
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    if ((uint64_t)st.st_size > API_STATIC_MAX_FILE_BYTES) {
        close(fd);
        return -EFBIG;
    }
    size_t want = (size_t)st.st_size;
    unsigned char *data = malloc(want ? want : 1);
    if (!data) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = read(fd, data + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* a file that shrank while loading: keep what is there */
        got += (size_t)r;
    }
    close(fd);
    *out = data;
    *outlen = got;
    return 0;
}

static int api__add(api__load_t *ld, const char *rel, const char *full)
{
    if (ld->n == API_STATIC_MAX_FILES) return -EMFILE;
    if (ld->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 32;
        api_static_file_t *nf = realloc(ld->files, cap * sizeof *nf);
        if (!nf) return -ENOMEM;
        ld->files = nf;
        ld->cap = cap;
    }
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = api__read_file(full, &data, &len);
    if (rc == -EINVAL) return 0; /* not a regular file any more: skip it */
    if (rc) return rc;
    if (ld->total + len > API_STATIC_MAX_TOTAL) {
        free(data);
        return -EFBIG;
    }
    api_static_file_t *f = &ld->files[ld->n];
    memset(f, 0, sizeof *f);
    f->path = strdup(rel);
    if (!f->path) {
        free(data);
        return -ENOMEM;
    }
    f->data = data;
    f->len = len;
    f->content_type = api_static_content_type(rel);
    rc = api__etag(data, len, f->etag);
    ld->n++; /* counted even on error so that the release frees it */
    ld->total += len;
    return rc;
}

/* Walks dir/rel recursively. Names that the URL rules would refuse (hidden files, odd
 * characters) are skipped here too, so every loaded file is reachable. */
static int api__walk(api__load_t *ld, const char *root, const char *rel, int depth)
{
    if (depth >= API_STATIC_MAX_DEPTH) return 0;
    char dirpath[API_STATIC_PATH_MAX * 2];
    if ((size_t)snprintf(dirpath, sizeof dirpath, "%s%s%s", root, *rel ? "/" : "", rel) >=
        sizeof dirpath)
        return -ENAMETOOLONG;
    DIR *d = opendir(dirpath);
    if (!d) return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (!api_static_path_ok(name, strlen(name))) continue;
        char child_rel[API_STATIC_PATH_MAX];
        if ((size_t)snprintf(child_rel, sizeof child_rel, "%s%s%s", rel, *rel ? "/" : "", name) >=
            sizeof child_rel)
            continue;
        char full[API_STATIC_PATH_MAX * 2];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", root, child_rel) >= sizeof full) continue;
        struct stat st;
        if (lstat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode))
            rc = api__walk(ld, root, child_rel, depth + 1);
        else if (S_ISREG(st.st_mode))
            rc = api__add(ld, child_rel, full);
        /* symbolic links and special files are skipped: the web root is self-contained */
    }
    closedir(d);
    return rc;
}

void api_static_free(void)
{
    api__files_release(api__files, api__nfiles);
    api__files = NULL;
    api__nfiles = 0;
}

int api_static_init(const char *dir)
{
    if (!dir || !*dir) dir = getenv("NOVA_WEB_DIR");
    if (!dir || !*dir) dir = "src/web";
    api_static_free();
    api__load_t ld = {0};
    int rc = api__walk(&ld, dir, "", 0);
    if (rc != 0) {
        api__files_release(ld.files, ld.n);
        log_warn("static", "web folder %s not loaded: %s", dir, strerror(-rc));
        return rc;
    }
    /* An empty folder leaves files NULL, and qsort's array must not be NULL even for 0 items. */
    if (ld.n > 1) qsort(ld.files, ld.n, sizeof *ld.files, api__cmp);
    api__files = ld.files;
    api__nfiles = ld.n;
    if (!api_static_lookup("index.html", 10)) {
        log_warn("static", "web folder %s has no index.html: the web app is not served", dir);
        api_static_free();
        return -ENOENT;
    }
    log_info("static", "web app: %zu files, %zu bytes from %s", ld.n, ld.total, dir);
    return (int)ld.n;
}

size_t api_static_count(void)
{
    return api__nfiles;
}

const api_static_file_t *api_static_lookup(const char *relpath, size_t len)
{
    if (!api__nfiles || !relpath || len >= API_STATIC_PATH_MAX) return NULL;
    char key[API_STATIC_PATH_MAX];
    memcpy(key, relpath, len);
    key[len] = '\0';
    api_static_file_t probe = {.path = key};
    return bsearch(&probe, api__files, api__nfiles, sizeof *api__files, api__cmp);
}

/* The page may load its own scripts, styles and API; media (signed URLs) and pictures may come
 * from elsewhere (a CDN or bucket), and previews use blob: URLs. No inline script anywhere. */
static const char api__csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: "
    "https:; media-src 'self' blob: http: https:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static void api__send(http_req_t *req, const api_static_file_t *f)
{
    http_res_header(req, "ETag", f->etag);
    http_res_header(req, "Cache-Control", "no-cache");
    http_res_header(req, "X-Content-Type-Options", "nosniff");
    if (strcmp(f->path, "index.html") == 0) {
        http_res_header(req, "Content-Security-Policy", api__csp);
        http_res_header(req, "Referrer-Policy", "no-referrer");
        http_res_header(req, "X-Frame-Options", "DENY");
    }
    if (range_if_none_match(http_req_header(req, "if-none-match"), f->etag)) {
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    http_respond(req, 200, f->content_type, f->data, f->len);
}

static void api__not_found(http_req_t *req)
{
    http_respond_detail(req, 404, "Not found.");
}

void api_static_index(http_req_t *req)
{
    const api_static_file_t *f = api_static_lookup("index.html", 10);
    if (!f) {
        api__not_found(req);
        return;
    }
    api__send(req, f);
}

void api_static_asset(http_req_t *req)
{
    static const char prefix[] = "/assets/";
    const char *path = req->path;
    size_t plen = sizeof prefix - 1;
    if (!path || strncmp(path, prefix, plen) != 0) {
        api__not_found(req);
        return;
    }
    const char *rel = path + plen;
    size_t len = strlen(rel);
    if (!api_static_path_ok(rel, len)) {
        api__not_found(req);
        return;
    }
    const api_static_file_t *f = api_static_lookup(rel, len);
    if (!f) {
        api__not_found(req);
        return;
    }
    api__send(req, f);
}
