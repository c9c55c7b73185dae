/* backend: the s3 media backend (see backend.h). Every operation is a small heap state that
 * holds a reference on the backend, so closing waits for threadpool steps that cannot be
 * cancelled; S3 requests in flight are cancelled by s3_client_close. */
#include "media/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "media/paths.h"
#include "media/store.h"

#define S3_PRESIGN_MAX_S 604800 /* S3 refuses presigned URLs valid longer than 7 days */

struct media_backend {
    uv_loop_t *loop;
    s3_client_t *s3;
    char *media_dir;
    bool proxy;
    bool closing;
    int refs; /* operations alive */
    bool s3_closed;
    void (*close_cb)(void *);
    void *close_arg;
    media_backend_stats_t stats;
};

static media_backend_t *backend__current;

void media_backend_install(media_backend_t *b)
{
    backend__current = b;
}

media_backend_t *media_backend_current(void)
{
    return backend__current;
}

bool media_backend_proxy(const media_backend_t *b)
{
    return b && b->proxy;
}

s3_client_t *media_backend_s3(media_backend_t *b)
{
    return b ? b->s3 : NULL;
}

void media_backend_stats(const media_backend_t *b, media_backend_stats_t *out)
{
    if (b)
        *out = b->stats;
    else
        memset(out, 0, sizeof *out);
}

int media_backend_errno(const aws_error_t *e)
{
    if (!e) return 0;
    switch (e->code) {
    case AWS_ERR_ACCESS_DENIED:
    case AWS_ERR_CREDENTIALS:
        return -EACCES;
    case AWS_ERR_NOT_FOUND:
        return -ENOENT;
    case AWS_ERR_THROTTLED:
    case AWS_ERR_UNAVAILABLE:
    case AWS_ERR_OVERLOADED:
    case AWS_ERR_QUOTA:
        return -EAGAIN;
    case AWS_ERR_TIMEOUT:
        return -ETIMEDOUT;
    case AWS_ERR_NETWORK:
        return -ECONNREFUSED;
    case AWS_ERR_CANCELLED:
        return -ECANCELED;
    default:
        return -EIO;
    }
}

const char *media_backend_strerror(int status)
{
    switch (status) {
    case 0:
        return "stored";
    case -EACCES:
        return "the media storage refused our credentials";
    case -ENOENT:
        return "the media file or bucket does not exist";
    case -EAGAIN:
        return "the media storage is busy";
    case -ETIMEDOUT:
        return "the media storage did not answer in time";
    case -ECONNREFUSED:
        return "the media storage cannot be reached";
    case -ECANCELED:
        return "the server is shutting down";
    case -ENOSPC:
        return "the disk is full";
    default:
        return "the media storage failed";
    }
}

static void backend__maybe_free(media_backend_t *b)
{
    if (!b->closing || b->refs > 0 || !b->s3_closed) return;
    void (*cb)(void *) = b->close_cb;
    void *arg = b->close_arg;
    free(b->media_dir);
    free(b);
    if (cb) cb(arg);
}

static void backend__unref(media_backend_t *b)
{
    b->refs--;
    backend__maybe_free(b);
}

static void backend__s3_closed(void *arg)
{
    media_backend_t *b = arg;
    b->s3_closed = true;
    backend__maybe_free(b);
}

static void backend__closed_now(uv_handle_t *h)
{
    media_backend_t *b = h->data;
    free(h);
    backend__s3_closed(b);
}

int media_backend_open(uv_loop_t *loop, aws_client_t *aws, const media_backend_config_t *cfg,
                       media_backend_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *kind = cfg->kind && *cfg->kind ? cfg->kind : "local";
    if (strcmp(kind, "local") == 0) return 0;
    if (strcmp(kind, "s3") != 0) {
        snprintf(err, errlen, "NOVA_MEDIA_BACKEND=\"%s\" is not one of local, s3", kind);
        return -EINVAL;
    }
    if (!cfg->bucket || !*cfg->bucket) {
        snprintf(err, errlen, "NOVA_MEDIA_BACKEND=s3 needs NOVA_S3_BUCKET");
        return -EINVAL;
    }
    if (!aws) {
        snprintf(err, errlen, "NOVA_MEDIA_BACKEND=s3 needs the AWS client");
        return -EINVAL;
    }
    media_backend_t *b = calloc(1, sizeof *b);
    if (!b || !(b->media_dir = strdup(cfg->media_dir && *cfg->media_dir ? cfg->media_dir : "."))) {
        free(b);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s3_config_t sc;
    s3_config_defaults(&sc);
    sc.bucket = cfg->bucket;
    sc.prefix = cfg->prefix;
    sc.endpoint = cfg->endpoint && *cfg->endpoint ? cfg->endpoint : NULL;
    sc.path_style = cfg->path_style;
    b->s3 = s3_client_new(aws, &sc);
    if (!b->s3) {
        free(b->media_dir);
        free(b);
        snprintf(err, errlen,
                 "invalid S3 settings (NOVA_S3_BUCKET \"%s\", endpoint \"%s\"): the bucket needs "
                 "3 to 63 characters, the endpoint http(s)://host[:port]",
                 cfg->bucket, sc.endpoint ? sc.endpoint : "(AWS)");
        return -EINVAL;
    }
    b->loop = loop;
    b->proxy = cfg->proxy;
    *out = b;
    return 0;
}

void media_backend_close(media_backend_t *b, void (*done)(void *arg), void *arg)
{
    if (!b) {
        if (done) done(arg);
        return;
    }
    if (backend__current == b) backend__current = NULL;
    b->closing = true;
    b->close_cb = done;
    b->close_arg = arg;
    if (b->s3) {
        s3_client_close(b->s3, backend__s3_closed, b);
        b->s3 = NULL;
        return;
    }
    /* Never reached with a valid backend; kept so done always runs from the loop. */
    uv_idle_t *h = malloc(sizeof *h);
    if (!h) return;
    uv_idle_init(b->loop, h);
    h->data = b;
    uv_close((uv_handle_t *)h, backend__closed_now);
}

/* ---- publish: a local file becomes an object --------------------------------------------- */

typedef struct {
    uv_work_t w;
    media_backend_t *b;
    char *local_rel, *relpath;
    const void *data; /* put: bytes to stage */
    size_t len;
    bool unlink_after;
    int fd;
    uint64_t size;
    int status;
    media_backend_cb cb;
    void *arg;
} publish_t;

static void publish__free(publish_t *p)
{
    if (p->fd >= 0) close(p->fd);
    media_backend_t *b = p->b;
    free(p->local_rel);
    free(p->relpath);
    free(p);
    backend__unref(b);
}

static void publish__report(publish_t *p, int status)
{
    media_backend_cb cb = p->cb;
    void *arg = p->arg;
    publish__free(p);
    if (cb) cb(status, arg);
}

/* Threadpool: opens the staged file (or writes the bytes to an anonymous staging file). */
static void publish__open_work(uv_work_t *w)
{
    publish_t *p = w->data;
    int root = media_store__root(p->b->media_dir);
    if (root < 0) {
        p->status = root;
        return;
    }
    if (p->data) {
        char rel[64];
        int fd = media_store__spool_create(p->b->media_dir, rel, sizeof rel);
        if (fd < 0) {
            p->status = fd;
            return;
        }
        size_t done = 0;
        while (done < p->len) {
            ssize_t n = write(fd, (const char *)p->data + done, p->len - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            done += (size_t)n;
        }
        close(fd);
        /* The spool file is write-only: the upload reads it through a second descriptor. Then it
         * is unlinked at once: the descriptor keeps the bytes for the upload, and nothing is
         * left behind whatever happens next. */
        int rfd = done == p->len ? media_open_beneath(root, rel, O_RDONLY) : -EIO;
        media_store__unlink(root, rel);
        if (rfd < 0) {
            p->status = rfd;
            return;
        }
        p->fd = rfd;
        p->size = p->len;
        p->status = 0;
        return;
    }
    int fd = media_open_beneath(root, p->local_rel, O_RDONLY);
    if (fd < 0) {
        p->status = fd;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        p->status = -ENOENT;
        return;
    }
    p->fd = fd;
    p->size = (uint64_t)st.st_size;
    p->status = 0;
}

static void publish__unlink_work(uv_work_t *w)
{
    publish_t *p = w->data;
    int root = media_store__root(p->b->media_dir);
    p->status = root < 0 ? root : media_store__unlink(root, p->local_rel);
}

static void publish__unlinked(uv_work_t *w, int status)
{
    publish_t *p = w->data;
    (void)status;
    /* The object is stored: a local copy that could not be removed only costs disk space. */
    if (p->status != 0)
        log_warn("media", "published %s but could not remove the local copy (%d)", p->relpath,
                 p->status);
    publish__report(p, 0);
}

static void publish__uploaded(void *arg, const aws_error_t *err)
{
    publish_t *p = arg;
    media_backend_t *b = p->b;
    if (err) {
        b->stats.publish_failed++;
        char msg[512];
        aws_error_format(err, "upload", msg, sizeof msg);
        log_error("media", "storing %s in S3 failed: %s", p->relpath, msg);
        publish__report(p, media_backend_errno(err));
        return;
    }
    b->stats.published++;
    if (!p->unlink_after || b->closing) {
        publish__report(p, 0);
        return;
    }
    if (uv_queue_work(b->loop, &p->w, publish__unlink_work, publish__unlinked) != 0)
        publish__report(p, 0);
}

static void publish__opened(uv_work_t *w, int status)
{
    publish_t *p = w->data;
    media_backend_t *b = p->b;
    if (status == UV_ECANCELED || b->closing) p->status = -ECANCELED;
    if (p->status != 0) {
        b->stats.publish_failed++;
        log_error("media", "cannot read %s for the upload to S3 (%d)", p->relpath, p->status);
        publish__report(p, p->status);
        return;
    }
    int rc = s3_put_file(b->s3, p->relpath, p->fd, p->size, media_content_type(p->relpath),
                         publish__uploaded, p, NULL);
    /* s3_put_file keeps its own duplicate of the descriptor. */
    close(p->fd);
    p->fd = -1;
    if (rc != 0) {
        b->stats.publish_failed++;
        publish__report(p, rc);
    }
}

static int publish__start(media_backend_t *b, const char *local_rel, const char *relpath,
                          const void *data, size_t len, bool unlink_after, media_backend_cb cb,
                          void *arg)
{
    if (!b || !relpath || s3_key_check(relpath) != 0) return -EINVAL;
    if (b->closing) return -ECANCELED;
    publish_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->fd = -1;
    p->b = b;
    p->relpath = strdup(relpath);
    p->local_rel = local_rel ? strdup(local_rel) : NULL;
    if (!p->relpath || (local_rel && !p->local_rel)) {
        free(p->relpath);
        free(p->local_rel);
        free(p);
        return -ENOMEM;
    }
    p->data = data;
    p->len = len;
    p->unlink_after = unlink_after;
    p->cb = cb;
    p->arg = arg;
    p->w.data = p;
    b->refs++;
    int rc = uv_queue_work(b->loop, &p->w, publish__open_work, publish__opened);
    if (rc != 0) {
        p->cb = NULL;
        publish__free(p);
        return rc;
    }
    return 0;
}

int media_backend_publish(media_backend_t *b, const char *local_rel, const char *relpath,
                          bool unlink_after, media_backend_cb cb, void *arg)
{
    if (!local_rel) return -EINVAL;
    return publish__start(b, local_rel, relpath, NULL, 0, unlink_after, cb, arg);
}

int media_backend_put(media_backend_t *b, const char *relpath, const void *data, size_t len,
                      media_backend_cb cb, void *arg)
{
    if (!data && len) return -EINVAL;
    /* A non-NULL pointer marks "stage from memory" even for an empty body. */
    return publish__start(b, NULL, relpath, data ? data : "", len, false, cb, arg);
}

/* ---- removal ----------------------------------------------------------------------------- */

typedef struct {
    uv_work_t w;
    media_backend_t *b;
    int pending;
    int status;
    bool listing; /* remove_dir: a list page is still to come */
    char *dir;    /* remove_dir: "<dir>/" */
    media_backend_cb cb;
    void *arg;
} remove_t;

static void remove__maybe_done(remove_t *r)
{
    if (r->pending > 0 || r->listing) return;
    media_backend_t *b = r->b;
    media_backend_cb cb = r->cb;
    void *arg = r->arg;
    int status = r->status;
    free(r->dir);
    free(r);
    backend__unref(b);
    if (cb) cb(status, arg);
}

static void remove__deleted(void *arg, const aws_error_t *err)
{
    remove_t *r = arg;
    r->pending--;
    if (err) {
        r->b->stats.delete_failed++;
        char msg[512];
        aws_error_format(err, "delete", msg, sizeof msg);
        log_warn("media", "deleting an S3 object failed: %s", msg);
        if (!r->status) r->status = media_backend_errno(err);
    } else {
        r->b->stats.deleted++;
    }
    remove__maybe_done(r);
}

static void remove__one(remove_t *r, const char *key)
{
    if (!key || !*key) return;
    int rc = r->b->closing ? -ECANCELED : s3_delete(r->b->s3, key, remove__deleted, r, NULL);
    if (rc == 0)
        r->pending++;
    else if (!r->status)
        r->status = rc;
}

static remove_t *remove__new(media_backend_t *b, media_backend_cb cb, void *arg)
{
    remove_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->b = b;
    r->cb = cb;
    r->arg = arg;
    b->refs++;
    return r;
}

static void remove__noop_work(uv_work_t *w)
{
    (void)w;
}

static void remove__noop_done(uv_work_t *w, int status)
{
    (void)status;
    remove_t *r = w->data;
    r->pending--;
    remove__maybe_done(r);
}

int media_backend_remove(media_backend_t *b, const char *const *relpaths, size_t n,
                         media_backend_cb cb, void *arg)
{
    if (!b) return -EINVAL;
    if (b->closing) return -ECANCELED;
    remove_t *r = remove__new(b, cb, arg);
    if (!r) return -ENOMEM;
    /* Held until every delete is started, so a fast answer cannot finish it early. */
    r->listing = true;
    for (size_t i = 0; i < n; i++)
        remove__one(r, relpaths[i]);
    r->listing = false;
    if (r->pending == 0) {
        /* Nothing went out: the callback still runs later from the loop, never from here. */
        r->w.data = r;
        r->pending++;
        if (uv_queue_work(b->loop, &r->w, remove__noop_work, remove__noop_done) != 0) {
            r->pending--;
            r->cb = NULL;
            int status = r->status ? r->status : -ENOMEM;
            remove__maybe_done(r);
            return status;
        }
    }
    return 0;
}

static void remove__page(void *arg, const s3_list_page_t *page, const aws_error_t *err);

static int remove__list(remove_t *r, const char *token)
{
    if (r->b->closing) return -ECANCELED;
    return s3_list(r->b->s3, r->dir, token, remove__page, r, NULL);
}

static void remove__page(void *arg, const s3_list_page_t *page, const aws_error_t *err)
{
    remove_t *r = arg;
    if (err) {
        char msg[512];
        aws_error_format(err, "list", msg, sizeof msg);
        log_warn("media", "listing S3 objects under %s failed: %s", r->dir, msg);
        if (!r->status) r->status = media_backend_errno(err);
        r->listing = false;
        remove__maybe_done(r);
        return;
    }
    for (size_t i = 0; i < page->nkeys; i++)
        remove__one(r, page->keys[i]);
    if (!page->next_token || remove__list(r, page->next_token) != 0) r->listing = false;
    remove__maybe_done(r);
}

int media_backend_remove_dir(media_backend_t *b, const char *dir, media_backend_cb cb, void *arg)
{
    if (!b || !dir || !*dir) return -EINVAL;
    if (b->closing) return -ECANCELED;
    remove_t *r = remove__new(b, cb, arg);
    if (!r) return -ENOMEM;
    size_t n = strlen(dir);
    r->dir = malloc(n + 2);
    if (!r->dir) {
        r->cb = NULL;
        remove__maybe_done(r);
        return -ENOMEM;
    }
    memcpy(r->dir, dir, n);
    memcpy(r->dir + n, "/", 2);
    r->listing = true;
    int rc = remove__list(r, NULL);
    if (rc != 0) {
        r->cb = NULL;
        r->listing = false;
        remove__maybe_done(r);
        return rc;
    }
    return 0;
}

/* ---- reading into memory ----------------------------------------------------------------- */

typedef struct {
    media_backend_t *b;
    uint8_t *data;
    size_t len, cap, max;
    int status;
    media_backend_read_cb cb;
    void *arg;
} read_t;

static int read__headers(void *arg, const s3_object_info_t *info)
{
    read_t *r = arg;
    if (info->content_length > r->max) {
        r->status = -EFBIG;
        return 1;
    }
    r->cap = (size_t)info->content_length + 1;
    r->data = malloc(r->cap);
    if (!r->data) {
        r->status = -ENOMEM;
        return 1;
    }
    return 0;
}

static int read__data(void *arg, const char *data, size_t len)
{
    read_t *r = arg;
    if (r->len + len >= r->cap) {
        r->status = -EFBIG;
        return 1;
    }
    memcpy(r->data + r->len, data, len);
    r->len += len;
    return 0;
}

static void read__done(void *arg, const aws_error_t *err)
{
    read_t *r = arg;
    int status = r->status;
    if (!status && err) {
        status = media_backend_errno(err);
        char msg[512];
        aws_error_format(err, "get", msg, sizeof msg);
        log_warn("media", "reading an S3 object failed: %s", msg);
    }
    uint8_t *data = status ? NULL : r->data;
    if (status) free(r->data);
    media_backend_read_cb cb = r->cb;
    void *cb_arg = r->arg;
    size_t len = r->len;
    media_backend_t *b = r->b;
    free(r);
    backend__unref(b);
    cb(status, data, status ? 0 : len, cb_arg);
}

int media_backend_read(media_backend_t *b, const char *relpath, size_t max,
                       media_backend_read_cb cb, void *arg)
{
    if (!b || !cb) return -EINVAL;
    if (b->closing) return -ECANCELED;
    read_t *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->b = b;
    r->max = max;
    r->cb = cb;
    r->arg = arg;
    int rc = s3_get(b->s3, relpath, NULL, read__headers, read__data, read__done, r, NULL);
    if (rc != 0) {
        free(r);
        return rc;
    }
    b->refs++;
    return 0;
}

int media_backend_presign(media_backend_t *b, const char *relpath, int64_t ttl_s, char **out)
{
    if (!b || !b->s3) return -EINVAL;
    if (ttl_s > S3_PRESIGN_MAX_S) ttl_s = S3_PRESIGN_MAX_S;
    if (ttl_s < 1) ttl_s = 1;
    return s3_presign_get(b->s3, relpath, (uint32_t)ttl_s, out);
}
