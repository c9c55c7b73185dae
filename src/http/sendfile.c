/* sendfile: answering with a range of an open file (http_respond_file). The body is read in
 * chunks of HTTP_FILE_CHUNK bytes and written behind the head, with at most two chunks held per
 * connection (one queued on the socket, one read ahead), so memory stays bounded whatever the
 * file size and however slow the client. Reads never block the loop: pages already in the page
 * cache are copied with preadv2(RWF_NOWAIT), which fails instead of waiting for the disk; any
 * other read goes to the threadpool (uv_fs_read).
 *
 * Zero copy: when the socket's queue is empty and cachestat(2) (Linux 6.5) says every page of
 * the next stretch is in the page cache, sendfile(2) moves it to the socket without passing
 * through our memory; a stretch the socket cannot take at once is followed by one small copied
 * piece, whose completion says the socket has room again. Without cachestat (older kernels,
 * filters) every byte takes the copying path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "http/internal.h"

#define HTTP_FILE_CHUNK (128 * 1024)
#define HTTP_FILE_NUDGE (16 * 1024)        /* copied after the socket filled up */
#define HTTP_FILE_ZC    (1024 * 1024)      /* bytes checked and sent per sendfile */
#define HTTP_FILE_TURN  (2 * HTTP_FILE_ZC) /* zero-copy bytes per loop turn and connection */

typedef struct {
    uv_fs_t fs;
    http_req_t *req;
    uv_loop_t *loop;
    uv_file fd;
    uint64_t off;       /* next byte to read */
    uint64_t remaining; /* bytes not read yet */
    char *buf;          /* the chunk being read, or read and waiting for the socket */
    size_t buf_len;
    bool reading;
    bool aborted;
    bool zc; /* zero copy in use: no read-ahead, the next stretch waits for the drain */
} file__t;

/* ---- zero copy ---- */

#ifndef __NR_cachestat
#if defined(__x86_64__) || defined(__aarch64__)
#define __NR_cachestat 451
#endif
#endif

#ifdef __NR_cachestat
struct file__cachestat_range {
    uint64_t off, len;
};
struct file__cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
static bool file__cachestat_missing;

/* True when every page of [off, off + len) is in the page cache, so sendfile will not wait for
 * the disk. A page could still be evicted in between; that costs one read on the loop, the same
 * bet nginx makes on every sendfile. */
static bool file__cached(int fd, uint64_t off, uint64_t len)
{
    if (file__cachestat_missing) return false;
    struct file__cachestat_range r = {off, len};
    struct file__cachestat cs;
    if (syscall(__NR_cachestat, fd, &r, &cs, 0) != 0) {
        if (errno == ENOSYS || errno == EPERM) file__cachestat_missing = true;
        return false;
    }
    static uint64_t page;
    if (!page) page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t first = off / page, last = (off + len - 1) / page;
    return cs.nr_cache >= last - first + 1;
}
#else
static bool file__cached(int fd, uint64_t off, uint64_t len)
{
    (void)fd, (void)off, (void)len;
    return false;
}
#endif

static void file__closed(uv_fs_t *fs)
{
    uv_fs_req_cleanup(fs);
    free(fs);
}

static void file__free(file__t *f)
{
    uv_fs_t *cl = malloc(sizeof *cl);
    if (!cl || uv_fs_close(f->loop, cl, f->fd, file__closed) != 0) {
        free(cl);
        /* No memory for an async close: closing a regular file does not wait for the disk. */
        close(f->fd);
    }
    free(f->buf);
    free(f);
}

/* The request ends: either every byte is queued on the socket, or the client went away. */
static void file__end(file__t *f)
{
    http_req_t *req = f->req;
    http_conn_t *c = req->conn;
    req->streaming = false;
    req->responded = true;
    http__finish_log(req);
    if (c) {
        c->req = NULL;
        c->on_drain = NULL;
        if (c->state != CONN_CLOSING) http__conn_response_done(c);
    }
    http__request_free(req);
    file__free(f);
}

static void file__read_next(file__t *f);

/* Hands the chunk in f->buf to the socket when the socket has room, then reads ahead. */
static void file__push(file__t *f)
{
    http_conn_t *c = f->req->conn;
    if (!f->buf_len || c->queued_bytes >= HTTP_FILE_CHUNK) return; /* on_drain comes back */
    char *data = f->buf;
    size_t n = f->buf_len;
    f->buf = NULL;
    f->buf_len = 0;
    f->req->bytes_sent += n;
    if (http__conn_write(c, data, n) != 0) {
        http__conn_close(c, "write failed"); /* runs file__abort */
        return;
    }
    if (f->remaining == 0) {
        file__end(f);
        return;
    }
    /* With zero copy the next stretch waits for the drain (an empty socket queue). */
    if (!f->zc) file__read_next(f);
}

static void file__on_drain(http_req_t *req, void *arg)
{
    (void)req;
    file__t *f = arg;
    if (f->reading) return;
    if (f->buf_len)
        file__push(f);
    else if (f->remaining)
        file__read_next(f); /* zero copy waited for the socket to have room */
}

static void file__abort(http_req_t *req, void *arg)
{
    (void)req;
    file__t *f = arg;
    f->aborted = true;
    if (!f->reading) file__end(f);
}

static void file__got(file__t *f, ssize_t n)
{
    if (f->aborted) {
        file__end(f);
        return;
    }
    if (n <= 0) {
        /* The file shrank or failed under us: the promised Content-Length cannot be kept, so the
         * only honest signal left is closing the connection. */
        log_warn("http", "file read failed at offset %llu: %s", (unsigned long long)f->off,
                 n == 0 ? "unexpected end of file" : uv_strerror((int)n));
        http__conn_close(f->req->conn, "file read failed");
        return;
    }
    f->off += (uint64_t)n;
    f->remaining -= (uint64_t)n;
    f->buf_len = (size_t)n;
    file__push(f);
}

static void file__on_read(uv_fs_t *fs)
{
    file__t *f = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    f->reading = false;
    file__got(f, n);
}

/* Sends cached stretches straight from the file while the socket takes them. Returns true when
 * the response is settled (all sent, or the connection closed); false to copy the next piece,
 * with *cap set to its size. */
static bool file__zero_copy(file__t *f, size_t *cap)
{
    http_conn_t *c = f->req->conn;
    uv_os_fd_t sock;
    if (f->aborted || c->queued_bytes || f->buf_len ||
        uv_fileno((uv_handle_t *)&c->tcp, &sock) != 0)
        return false;
    /* A fast client of a big cached file must not hold the loop: after HTTP_FILE_TURN bytes the
     * copied piece below hands the turn back, and its drain resumes zero copy. */
    uint64_t turn = 0;
    while (f->remaining && turn < HTTP_FILE_TURN) {
        size_t want = f->remaining < HTTP_FILE_ZC ? (size_t)f->remaining : HTTP_FILE_ZC;
        if (!file__cached(f->fd, f->off, want)) return false;
        f->zc = true;
        off_t off = (off_t)f->off;
        ssize_t n = sendfile(sock, f->fd, &off, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) {
            http__conn_close(c, "sendfile failed");
            return true;
        }
        if (n <= 0) break; /* full, or the file shrank: the copying path sorts it out */
        f->off += (uint64_t)n;
        f->remaining -= (uint64_t)n;
        f->req->bytes_sent += (size_t)n;
        turn += (uint64_t)n;
        if ((size_t)n < want) break;
    }
    if (!f->remaining) {
        file__end(f);
        return true;
    }
    *cap = HTTP_FILE_NUDGE;
    return false;
}

static void file__read_next(file__t *f)
{
    size_t cap = HTTP_FILE_CHUNK;
    if (file__zero_copy(f, &cap)) return;
    size_t want = f->remaining < cap ? (size_t)f->remaining : cap;
    if (!f->buf && !(f->buf = malloc(HTTP_FILE_CHUNK))) {
        http__conn_close(f->req->conn, "out of memory");
        return;
    }
#ifdef RWF_NOWAIT
    /* Fast path: cached pages are copied at once; RWF_NOWAIT makes the call fail with EAGAIN
     * rather than wait for the disk, and a short read falls back to the threadpool too. */
    struct iovec iov = {f->buf, want};
    ssize_t got = preadv2(f->fd, &iov, 1, (off_t)f->off, RWF_NOWAIT);
    if (got == (ssize_t)want) {
        file__got(f, got);
        return;
    }
#endif
    f->reading = true;
    f->fs.data = f;
    uv_buf_t b = uv_buf_init(f->buf, (unsigned)want);
    int rc = uv_fs_read(f->loop, &f->fs, f->fd, &b, 1, (int64_t)f->off, file__on_read);
    if (rc != 0) {
        f->reading = false;
        http__conn_close(f->req->conn, "file read failed");
    }
}

void http_respond_file(http_req_t *req, int status, const char *content_type, uv_file fd,
                       uint64_t offset, uint64_t len)
{
    file__t *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        http_respond_error(req, 503, "unavailable", "out of memory");
        return;
    }
    f->req = req;
    f->loop = req->server->loop;
    f->fd = fd;
    f->off = offset;
    f->remaining = req->method == HTTP_M_HEAD ? 0 : len;
    req->status = status;
    req->streaming = true;
    http_conn_t *c = req->conn;
    if (!c) {
        file__end(f);
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 20);
    http__response_head(req, &b, status, content_type, (long long)len);
    size_t n;
    char *head = buf_steal(&b, &n);
    req->bytes_sent += n;
    c->state = CONN_WRITING;
    c->stream_max_queued = (size_t)-1;
    c->on_drain = file__on_drain;
    c->on_drain_arg = f;
    req->on_abort = file__abort;
    req->on_abort_arg = f;
    if (!head || http__conn_write(c, head, n) != 0) {
        http__conn_close(c, "write failed");
        return;
    }
    if (f->remaining == 0) {
        file__end(f);
        return;
    }
    /* A cached body goes out by zero copy once the head has left (the drain comes back). */
    uint64_t first = f->remaining < HTTP_FILE_ZC ? f->remaining : HTTP_FILE_ZC;
    if (file__cached(f->fd, f->off, first)) {
        f->zc = true;
        return;
    }
    file__read_next(f);
}
