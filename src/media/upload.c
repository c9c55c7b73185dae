/* upload: streaming request bodies with spool files (see upload.h).
 *
 * Spool I/O is a FIFO of operations (create, write, close, unlink) run in order by one
 * threadpool job at a time; a job takes every operation queued so far, so a fast client costs
 * one job per batch, not per chunk. The upload itself is malloc'd and outlives its request while
 * a job runs: the request's arena only unhooks it, and the last job's completion frees it. */
#include "media/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "http/multipart.h"
#include "media/store.h"

typedef enum { OP_CREATE, OP_WRITE, OP_CLOSE, OP_UNLINK } upload__opkind_t;

typedef struct upload__file upload__file_t;

typedef struct upload__op {
    struct upload__op *next;
    upload__opkind_t kind;
    upload__file_t *file;
    char *data; /* OP_WRITE: malloc'd chunk */
    size_t len;
    uint64_t off;
} upload__op_t;

struct upload__file {
    media_upload_file_t pub;
    upload__file_t *next;
    int fd;       /* written by the worker (create/close), read only by jobs */
    bool created; /* spool file exists (set on the loop after the job) */
    bool taken;
    bool empty_absent; /* an empty file input: treated as absent */
    char *field, *filename, *ctype;
};

typedef struct upload__field {
    struct upload__field *next;
    char *name;
    buf_t value;
} upload__field_t;

typedef enum { PART_NONE, PART_FIELD, PART_FILE, PART_DISCARD } upload__part_t;

typedef struct {
    http_req_t *req; /* NULL once the request ended */
    uv_loop_t *loop;
    media_upload_config_t cfg;
    bool multipart;
    multipart_parser_t *mp;
    buf_t json;
    uint64_t body_bytes;
    size_t fields_bytes;

    upload__field_t *fields;
    upload__file_t *files, *files_tail;
    upload__part_t part;
    upload__field_t *cur_field;
    upload__file_t *cur_file;
    buf_t head;   /* first bytes of the current file, for imgsniff */
    bool sniffed; /* the signature of the current file was checked */
    char *chunk;  /* pending write of the current file */
    size_t chunk_len;
    uint64_t chunk_off; /* file offset of chunk[0] */

    upload__op_t *q_head, *q_tail; /* waiting operations */
    size_t queued_bytes;
    uv_work_t work;
    upload__op_t *batch; /* operations of the running job */
    bool busy;
    bool paused;
    int io_error; /* first spool error (negative errno) */

    bool orphan;         /* the request ended */
    bool cleanup_queued; /* the final close/unlink operations were queued */
    int cb_status;       /* why a multipart callback stopped the parser */
    int err_status;      /* deferred refusal found while parsing (answered by finish) */
    char err_detail[200];
    media_upload_done_fn done;
} upload__t;

static void upload__kick(upload__t *u);

/* ---- operation queue ------------------------------------------------------------------------ */

static int upload__enqueue(upload__t *u, upload__opkind_t kind, upload__file_t *f, char *data,
                           size_t len, uint64_t off)
{
    upload__op_t *op = calloc(1, sizeof *op);
    if (!op) {
        free(data);
        return -ENOMEM;
    }
    op->kind = kind;
    op->file = f;
    op->data = data;
    op->len = len;
    op->off = off;
    if (u->q_tail)
        u->q_tail->next = op;
    else
        u->q_head = op;
    u->q_tail = op;
    u->queued_bytes += len;
    return 0;
}

static int upload__write_all(int fd, const char *p, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Worker: runs the batch in order. The first failure of a file skips its later writes. */
static void upload__work(uv_work_t *w)
{
    upload__t *u = w->data;
    for (upload__op_t *op = u->batch; op; op = op->next) {
        upload__file_t *f = op->file;
        int rc = 0;
        switch (op->kind) {
        case OP_CREATE:
            rc = media_store__spool_create(u->cfg.media_dir, f->pub.spool, sizeof f->pub.spool);
            if (rc >= 0) f->fd = rc, rc = 0;
            break;
        case OP_WRITE:
            if (f->fd >= 0) rc = upload__write_all(f->fd, op->data, op->len, op->off);
            break;
        case OP_CLOSE:
            if (f->fd >= 0 && close(f->fd) != 0 && !u->io_error) rc = -errno;
            f->fd = -1;
            break;
        case OP_UNLINK:
            if (f->pub.spool[0]) {
                int root = media_store__root(u->cfg.media_dir);
                if (root >= 0) unlinkat(root, f->pub.spool, 0);
            }
            break;
        }
        if (rc && !u->io_error) u->io_error = rc;
    }
}

static void upload__free(upload__t *u)
{
    multipart_parser_free(u->mp);
    buf_free(&u->json);
    buf_free(&u->head);
    free(u->chunk);
    for (upload__field_t *f = u->fields, *n; f; f = n) {
        n = f->next;
        free(f->name);
        buf_free(&f->value);
        free(f);
    }
    for (upload__file_t *f = u->files, *n; f; f = n) {
        n = f->next;
        free(f->field);
        free(f->filename);
        free(f->ctype);
        free(f);
    }
    for (upload__op_t *op = u->q_head, *n; op; op = n) {
        n = op->next;
        free(op->data);
        free(op);
    }
    free(u);
}

/* The request is gone and no job runs: close and delete every spool file not adopted, then
 * free (after that last job). */
static void upload__cleanup(upload__t *u)
{
    u->cleanup_queued = true;
    /* Writes still queued are pointless now. */
    for (upload__op_t *op = u->q_head, *n; op; op = n) {
        n = op->next;
        free(op->data);
        free(op);
    }
    u->q_head = u->q_tail = NULL;
    u->queued_bytes = 0;
    for (upload__file_t *f = u->files; f; f = f->next) {
        if (f->fd >= 0) upload__enqueue(u, OP_CLOSE, f, NULL, 0, 0);
        if (!f->taken && f->created) upload__enqueue(u, OP_UNLINK, f, NULL, 0, 0);
    }
    if (u->q_head)
        upload__kick(u);
    else
        upload__free(u);
}

static void upload__evaluate(upload__t *u);

static void upload__after(uv_work_t *w, int status)
{
    upload__t *u = w->data;
    (void)status;
    for (upload__op_t *op = u->batch, *n; op; op = n) {
        n = op->next;
        if (op->kind == OP_CREATE) op->file->created = true;
        u->queued_bytes -= op->len;
        free(op->data);
        free(op);
    }
    u->batch = NULL;
    u->busy = false;
    if (u->orphan) {
        if (!u->cleanup_queued)
            upload__cleanup(u);
        else if (u->q_head)
            upload__kick(u);
        else
            upload__free(u);
        return;
    }
    if (u->paused && u->queued_bytes < UPLOAD_MAX_QUEUED / 2) {
        u->paused = false;
        http_req_resume_body(u->req);
    }
    if (u->q_head)
        upload__kick(u);
    else if (u->done)
        upload__evaluate(u);
}

static void upload__kick(upload__t *u)
{
    if (u->busy || !u->q_head) return;
    u->batch = u->q_head;
    u->q_head = u->q_tail = NULL;
    u->busy = true;
    u->work.data = u;
    if (uv_queue_work(u->loop, &u->work, upload__work, upload__after) != 0) {
        /* Cannot happen with a valid loop; run nothing and report an I/O error. */
        u->busy = false;
        if (!u->io_error) u->io_error = -EIO;
        for (upload__op_t *op = u->batch, *n; op; op = n) {
            n = op->next;
            u->queued_bytes -= op->len;
            free(op->data);
            free(op);
        }
        u->batch = NULL;
    }
}

/* ---- multipart callbacks -------------------------------------------------------------------- */

static bool upload__accepts(const upload__t *u, const char *name)
{
    for (const char *const *f = u->cfg.file_fields; f && *f; f++)
        if (strcmp(*f, name) == 0) return true;
    return false;
}

static char *upload__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int upload__refuse(upload__t *u, int status, const char *msg)
{
    http_req_body_error(u->req, msg);
    return status;
}

static int upload__part_begin(void *arg, const multipart_part_t *part)
{
    upload__t *u = arg;
    if (part->filename) {
        if (!upload__accepts(u, part->name)) {
            u->part = PART_DISCARD;
            return 0;
        }
        upload__file_t *f = calloc(1, sizeof *f);
        if (!f) return -1;
        f->fd = -1;
        f->field = upload__strdup(part->name);
        f->filename = upload__strdup(part->filename);
        f->ctype = upload__strdup(part->content_type);
        f->pub.field = f->field;
        f->pub.filename = f->filename;
        f->pub.declared_type = f->ctype;
        if (u->files_tail)
            u->files_tail->next = f;
        else
            u->files = f;
        u->files_tail = f;
        u->cur_file = f;
        u->part = PART_FILE;
        buf_reset(&u->head);
        u->sniffed = false;
        u->chunk_off = 0;
        return upload__enqueue(u, OP_CREATE, f, NULL, 0, 0) == 0 ? 0 : -1;
    }
    upload__field_t *fld = calloc(1, sizeof *fld);
    if (!fld) return -1;
    fld->name = strdup(part->name);
    buf_init(&fld->value, u->cfg.max_fields_bytes);
    fld->next = u->fields;
    u->fields = fld;
    u->cur_field = fld;
    u->part = PART_FIELD;
    return fld->name ? 0 : -1;
}

static int upload__flush_chunk(upload__t *u)
{
    if (!u->chunk_len) return 0;
    upload__file_t *f = u->cur_file;
    char *data = u->chunk;
    size_t len = u->chunk_len;
    uint64_t off = u->chunk_off;
    u->chunk = NULL;
    u->chunk_len = 0;
    u->chunk_off += len;
    return upload__enqueue(u, OP_WRITE, f, data, len, off);
}

static int upload__part_data(void *arg, const char *data, size_t len)
{
    upload__t *u = arg;
    if (u->part == PART_FIELD) {
        u->fields_bytes += len;
        if (u->fields_bytes > u->cfg.max_fields_bytes ||
            buf_append(&u->cur_field->value, data, len) != 0)
            return u->cb_status = 413;
        return 0;
    }
    if (u->part != PART_FILE) return 0;
    upload__file_t *f = u->cur_file;
    if (u->head.len < UPLOAD_SNIFF_MAX) {
        size_t take = UPLOAD_SNIFF_MAX - u->head.len;
        buf_append(&u->head, data, take < len ? take : len);
    }
    if (!u->sniffed && u->head.len >= 16) {
        imgsniff_info_t info;
        int rc = imgsniff_detect((const uint8_t *)u->head.data, u->head.len, &info);
        u->sniffed = true;
        if (rc == IMGSNIFF_ERR_NOT_IMAGE || rc == IMGSNIFF_ERR_UNSUPPORTED)
            return u->cb_status = 415;
    }
    f->pub.size += len;
    while (len) {
        if (!u->chunk && !(u->chunk = malloc(UPLOAD_CHUNK))) return -1;
        size_t room = UPLOAD_CHUNK - u->chunk_len, n = len < room ? len : room;
        memcpy(u->chunk + u->chunk_len, data, n);
        u->chunk_len += n;
        data += n;
        len -= n;
        if (u->chunk_len == UPLOAD_CHUNK && upload__flush_chunk(u) != 0) return -1;
    }
    return 0;
}

static int upload__part_end(void *arg, const multipart_part_t *part)
{
    upload__t *u = arg;
    upload__part_t kind = u->part;
    u->part = PART_NONE;
    if (kind != PART_FILE) return 0;
    upload__file_t *f = u->cur_file;
    if (upload__flush_chunk(u) != 0 || upload__enqueue(u, OP_CLOSE, f, NULL, 0, 0) != 0) return -1;
    if (f->pub.size == 0) {
        if (!part->filename || !part->filename[0])
            f->empty_absent = true; /* a file input left empty */
        else if (!u->err_status) {
            u->err_status = 400;
            snprintf(u->err_detail, sizeof u->err_detail, "%s: The submitted file is empty.",
                     f->field);
        }
        return 0;
    }
    int rc = imgsniff_detect_limited((const uint8_t *)u->head.data, u->head.len,
                                     u->cfg.max_image_side, u->cfg.max_image_side, &f->pub.image);
    if (rc == 0 || u->err_status) return 0;
    u->err_status = 415;
    unsigned side = u->cfg.max_image_side ? u->cfg.max_image_side : IMGSNIFF_DEFAULT_MAX_SIDE;
    if (rc == IMGSNIFF_ERR_TOO_LARGE)
        snprintf(u->err_detail, sizeof u->err_detail,
                 "%s: images may be at most %ux%u pixels (this one is %ux%u)", f->field, side, side,
                 (unsigned)f->pub.image.width, (unsigned)f->pub.image.height);
    else
        snprintf(u->err_detail, sizeof u->err_detail,
                 "%s: not a valid PNG, JPEG, GIF or WebP image (%s; the content is checked, not "
                 "the file name or declared type)",
                 f->field, imgsniff_strerror(rc));
    return 0;
}

/* ---- sink hooks ----------------------------------------------------------------------------- */

static void upload__release(void *p)
{
    upload__t *u = p;
    u->req = NULL;
    u->done = NULL;
    u->orphan = true;
    if (u->busy) return; /* upload__after continues */
    upload__cleanup(u);
}

static bool upload__ctype_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    return ct && strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int media_upload_begin(http_req_t *req, const media_upload_config_t *cfg)
{
    const char *cl = http_req_header(req, "content-length");
    if (cl && strtoull(cl, NULL, 10) > cfg->max_bytes) {
        http_req_body_error(req, "request body larger than the upload limit");
        return 413;
    }
    const char *ct = http_req_header(req, "content-type");
    bool multipart = upload__ctype_is(ct, "multipart/form-data");
    if (!multipart && ct && !upload__ctype_is(ct, "application/json")) {
        http_req_body_error(req, "send the body as application/json or multipart/form-data");
        return 415;
    }
    upload__t *u = calloc(1, sizeof *u);
    if (!u) return 503;
    u->req = req;
    u->loop = cfg->loop;
    u->cfg = *cfg;
    if (!u->cfg.max_fields_bytes) u->cfg.max_fields_bytes = 1 << 20;
    u->multipart = multipart;
    buf_init(&u->json, cfg->max_json_bytes);
    buf_init(&u->head, UPLOAD_SNIFF_MAX);
    req->body_ctx = u;
    arena_on_free(&req->arena, upload__release, u);
    if (multipart) {
        char boundary[MULTIPART_BOUNDARY_MAX + 1];
        if (multipart_boundary_from_content_type(ct, boundary, sizeof boundary) != 0) {
            http_req_body_error(req, "multipart/form-data without a valid boundary");
            return 400;
        }
        multipart_callbacks_t cbs = {upload__part_begin, upload__part_data, upload__part_end};
        u->mp = multipart_parser_new(boundary, NULL, &cbs, u);
        if (!u->mp) return 503;
    }
    return 0;
}

int media_upload_data(http_req_t *req, const char *at, size_t len)
{
    upload__t *u = req->body_ctx;
    u->body_bytes += len;
    if (u->body_bytes > u->cfg.max_bytes)
        return upload__refuse(u, 413, "request body larger than the upload limit");
    if (!u->multipart) {
        if (buf_append(&u->json, at, len) != 0)
            return upload__refuse(u, 413, "JSON body larger than this endpoint accepts");
        return 0;
    }
    int rc = multipart_parser_feed(u->mp, at, len);
    if (rc == -ECANCELED) {
        /* Which callback refused: fields too large, not an image, or out of memory. */
        if (u->cb_status == 413)
            return upload__refuse(u, 413, "form fields larger than this endpoint accepts");
        if (u->cb_status == 415) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "%s: not a PNG, JPEG, GIF or WebP image (the content is checked, not the "
                     "file name or declared type)",
                     u->cur_file->field);
            return upload__refuse(u, 415, msg);
        }
        return upload__refuse(u, 503, "out of memory");
    }
    if (rc != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "malformed multipart body: %s",
                 multipart_parser_error_detail(u->mp));
        return upload__refuse(u, 400, msg);
    }
    upload__kick(u);
    if (u->queued_bytes >= UPLOAD_MAX_QUEUED && !u->paused) {
        u->paused = true;
        http_req_pause_body(req);
    }
    return 0;
}

/* ---- completion ----------------------------------------------------------------------------- */

static void upload__evaluate(upload__t *u)
{
    media_upload_done_fn done = u->done;
    http_req_t *req = u->req;
    u->done = NULL;
    if (u->io_error) {
        log_error("upload", "spool write failed: %s", strerror(-u->io_error));
        done(req, u->io_error == -ENOSPC ? 507 : 500, "the upload could not be stored");
        return;
    }
    if (u->err_status) {
        done(req, u->err_status, arena_strdup(&req->arena, u->err_detail));
        return;
    }
    done(req, 0, NULL);
}

void media_upload_finish(http_req_t *req, media_upload_done_fn done)
{
    upload__t *u = req->body_ctx;
    if (!u) {
        done(req, 0, NULL);
        return;
    }
    if (!u->multipart) {
        size_t n;
        char *body = buf_steal(&u->json, &n);
        req->body = arena_strndup(&req->arena, body ? body : "", n);
        req->body_len = n;
        free(body);
        done(req, 0, NULL);
        return;
    }
    if (multipart_parser_finish(u->mp) != 0) {
        const char *d = multipart_parser_error_detail(u->mp);
        done(req, 400,
             arena_printf(&req->arena, "malformed multipart body: %s",
                          d && *d ? d : "it ends before the closing boundary"));
        return;
    }
    u->done = done;
    if (u->busy || u->q_head) {
        upload__kick(u);
        return;
    }
    upload__evaluate(u);
}

bool media_upload_is_multipart(const http_req_t *req)
{
    const upload__t *u = req->body_ctx;
    return u && u->multipart;
}

const char *media_upload_field(const http_req_t *req, const char *name)
{
    const upload__t *u = req->body_ctx;
    if (!u) return NULL;
    /* Newest first: the last value of a repeated field wins, as in Django's QueryDict.get. */
    for (upload__field_t *f = u->fields; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f->value.data ? f->value.data : "";
    return NULL;
}

static upload__file_t *upload__find(const http_req_t *req, const char *name)
{
    const upload__t *u = req->body_ctx;
    upload__file_t *found = NULL;
    for (upload__file_t *f = u ? u->files : NULL; f; f = f->next)
        if (strcmp(f->field, name) == 0 && !f->empty_absent) found = f;
    return found;
}

const media_upload_file_t *media_upload_file(const http_req_t *req, const char *name)
{
    upload__file_t *f = upload__find(req, name);
    return f ? &f->pub : NULL;
}

void media_upload_take(http_req_t *req, const char *name)
{
    upload__file_t *f = upload__find(req, name);
    if (f) f->taken = true;
}
