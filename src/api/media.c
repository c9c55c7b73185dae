/* media: GET/HEAD /media/<path> for story files. Access needs either a valid signed URL (the
 * ones API responses carry; HMAC over path and expiry, see media/signed_url.h) or the token of
 * the story's owner (or a superuser): a tampered, foreign or expired signature is 403, someone
 * else's story with a token is 404. The path is sanitised (media_path_sanitize) and opened
 * without following symlinks below NOVA_MEDIA_DIR on the threadpool; the body is sent by
 * http_respond_file, with Range (206/416), If-Range, ETag/If-None-Match (304), Last-Modified
 * and Accept-Ranges.
 *
 * With the s3 media backend (NOVA_MEDIA_PROXY=1 makes API URLs point here) the same checks and
 * headers apply to the object: a HEAD request to S3 gives size, ETag and Last-Modified, the
 * conditionals and the Range are decided here as for files, and the body is streamed in chunks
 * of MEDIA__S3_CHUNK bytes, each a ranged S3 GET started only once the client has taken the
 * previous one, so a slow client holds at most two chunks of memory. Also owns the start-up and
 * shutdown of the media backend (api_media_start/stop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/app.h"
#include "api/story_json.h"
#include "api/stories.h"
#include "aws/s3.h"
#include "core/crypto.h"
#include "core/log.h"
#include "http/range.h"
#include "media/backend.h"
#include "media/paths.h"
#include "media/signed_url.h"
#include "media/store.h"

#define MEDIA__S3_CHUNK (1024 * 1024)

typedef struct {
    char rel[MEDIA_PATH_MAX + 1];
    bool signed_url;
    int64_t expires;
    /* s3 streaming */
    http_req_t *req;
    s3_op_t *op;        /* the HEAD or GET in flight */
    uint64_t pos, end;  /* next byte to fetch, last byte to send (inclusive) */
    bool got_done;      /* the current GET finished */
    bool drained;       /* the client's queue emptied since the last write */
    uint64_t want, got; /* bytes the current GET should bring, and has brought */
    bool stopped;       /* client gone or a failure: the body cannot be completed */
} media__t;

static const char *media__type(const char *rel)
{
    return media_content_type(rel);
}

/* The validators and caching headers of a media answer, local file or S3 object alike (an empty
 * etag or last_modified is left out). */
static void media__headers(http_req_t *req, const media__t *m, const char *etag,
                           const char *last_modified)
{
    if (*etag) http_res_header(req, "ETag", etag);
    if (*last_modified) http_res_header(req, "Last-Modified", last_modified);
    http_res_header(req, "Accept-Ranges", "bytes");
    http_res_header(req, "X-Content-Type-Options", "nosniff");
    if (m->signed_url) {
        /* Cacheable by the browser until shortly before the URL expires. */
        long long left = m->expires - (long long)time(NULL);
        char cc[64];
        snprintf(cc, sizeof cc, "private, max-age=%lld", left > 0 ? left : 0);
        http_res_header(req, "Cache-Control", cc);
    } else {
        http_res_header(req, "Cache-Control", "private, no-cache");
        http_res_header(req, "Vary", "Authorization");
    }
}

static void media__opened(int fd, const struct stat *st, void *arg)
{
    http_req_t *req = arg;
    media__t *m = req->body_ctx;
    req->on_abort = NULL;
    if (fd < 0) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    uint64_t size = (uint64_t)st->st_size;
    char etag[RANGE_ETAG_MAX], lm[RANGE_HTTP_DATE_LEN];
    range_etag_make(etag, sizeof etag, size,
                    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
                    (uint64_t)st->st_ino);
    range_http_date_format(st->st_mtim.tv_sec, lm);
    media__headers(req, m, etag, lm);
    const char *inm = http_req_header(req, "if-none-match");
    bool not_modified = inm ? range_if_none_match(inm, etag) : false;
    if (!inm) {
        const char *ims = http_req_header(req, "if-modified-since");
        time_t t;
        if (ims && range_http_date_parse(ims, &t) == 0 && st->st_mtim.tv_sec <= t)
            not_modified = true;
    }
    if (not_modified) {
        close(fd); /* a regular file: close does not wait for the disk */
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    const char *type = media__type(m->rel);
    const char *range = http_req_header(req, "range");
    range_t r;
    range_result_t rr = RANGE_FULL;
    if (range && range_if_range_ok(http_req_header(req, "if-range"), etag, st->st_mtim.tv_sec))
        rr = range_parse(range, size, &r);
    if (rr == RANGE_UNSATISFIABLE) {
        char cr[RANGE_CONTENT_RANGE_MAX];
        range_content_range(cr, sizeof cr, NULL, size);
        http_res_header(req, "Content-Range", cr);
        close(fd);
        http_respond(req, 416, NULL, NULL, 0);
        return;
    }
    if (rr == RANGE_PARTIAL) {
        char cr[RANGE_CONTENT_RANGE_MAX];
        range_content_range(cr, sizeof cr, &r, size);
        http_res_header(req, "Content-Range", cr);
        http_respond_file(req, 206, type, fd, r.start, r.end - r.start + 1);
        return;
    }
    http_respond_file(req, 200, type, fd, 0, size);
}

/* ---- s3 ------------------------------------------------------------------------------------ */

static void media__s3_next(media__t *m);

static void media__s3_abort(http_req_t *req, void *arg)
{
    (void)req;
    media__t *m = arg;
    m->stopped = true;
    if (m->op) s3_op_cancel(m->op); /* its callback ends the request */
}

static int media__s3_data(void *arg, const char *data, size_t len)
{
    media__t *m = arg;
    if (m->stopped) return 1;
    m->drained = false;
    m->got += len;
    if (http_stream_write(m->req, data, len) != 0) {
        m->stopped = true;
        return 1;
    }
    return 0;
}

static void media__s3_got(void *arg, const aws_error_t *err)
{
    media__t *m = arg;
    m->op = NULL;
    if (err && err->code != AWS_ERR_CANCELLED) {
        char msg[512];
        aws_error_format(err, "media proxy", msg, sizeof msg);
        log_warn("media", "streaming %s from S3 stopped: %s", m->rel, msg);
    }
    if (err) m->stopped = true;
    if (!err && m->got != m->want) {
        /* The object changed under us (shorter than its HEAD said): the body cannot be whole. */
        log_warn("media", "streaming %s from S3 stopped: %llu of %llu bytes of a range arrived",
                 m->rel, (unsigned long long)m->got, (unsigned long long)m->want);
        m->stopped = true;
    }
    m->got_done = true;
    if (m->stopped || m->pos > m->end || m->drained) media__s3_next(m);
}

static void media__s3_drain(http_req_t *req, void *arg)
{
    (void)req;
    media__t *m = arg;
    m->drained = true;
    if (m->got_done) media__s3_next(m);
}

/* Fetches the next chunk, or ends the response when everything was sent or it stopped. */
static void media__s3_next(media__t *m)
{
    http_req_t *req = m->req;
    if (m->stopped || m->pos > m->end) {
        req->on_abort = NULL;
        /* A failure midway must not look like a complete (short) body to the client. */
        if (m->stopped)
            http_stream_abort(req);
        else
            http_stream_end(req);
        return;
    }
    uint64_t last = m->pos + MEDIA__S3_CHUNK - 1;
    if (last > m->end) last = m->end;
    m->want = last - m->pos + 1;
    m->got = 0;
    char range[64];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)m->pos,
             (unsigned long long)last);
    m->pos = last + 1;
    m->got_done = false;
    m->drained = false;
    if (s3_get(media_backend_s3(media_backend_current()), m->rel, range, NULL, media__s3_data,
               media__s3_got, m, &m->op) != 0) {
        m->op = NULL;
        m->stopped = true;
        req->on_abort = NULL;
        http_stream_abort(req);
    }
}

static void media__s3_head(void *arg, const s3_object_info_t *info, const aws_error_t *err)
{
    media__t *m = arg;
    http_req_t *req = m->req;
    m->op = NULL;
    req->on_abort = NULL;
    if (err) {
        if (err->code == AWS_ERR_NOT_FOUND) {
            http_respond_detail(req, 404, "Not found.");
        } else {
            char msg[512];
            aws_error_format(err, "media proxy head", msg, sizeof msg);
            log_warn("media", "%s: %s", m->rel, msg);
            http_respond_error(req, 502, "storage_unavailable",
                               "The media storage could not be reached.");
        }
        return;
    }
    uint64_t size = info->object_size ? info->object_size : info->content_length;
    time_t mtime = 0;
    if (info->last_modified[0]) range_http_date_parse(info->last_modified, &mtime);
    media__headers(req, m, info->etag, info->last_modified);
    const char *inm = http_req_header(req, "if-none-match");
    bool not_modified = inm && info->etag[0] ? range_if_none_match(inm, info->etag) : false;
    if (!inm && mtime) {
        const char *ims = http_req_header(req, "if-modified-since");
        time_t t;
        if (ims && range_http_date_parse(ims, &t) == 0 && mtime <= t) not_modified = true;
    }
    if (not_modified) {
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    const char *type = media__type(m->rel);
    const char *range = http_req_header(req, "range");
    range_t r;
    range_result_t rr = RANGE_FULL;
    if (range && range_if_range_ok(http_req_header(req, "if-range"), info->etag, mtime))
        rr = range_parse(range, size, &r);
    int status = 200;
    char cr[RANGE_CONTENT_RANGE_MAX];
    if (rr == RANGE_UNSATISFIABLE) {
        range_content_range(cr, sizeof cr, NULL, size);
        http_res_header(req, "Content-Range", cr);
        http_respond(req, 416, NULL, NULL, 0);
        return;
    }
    if (rr == RANGE_PARTIAL) {
        range_content_range(cr, sizeof cr, &r, size);
        http_res_header(req, "Content-Range", cr);
        status = 206;
        m->pos = r.start;
        m->end = r.end;
    } else {
        m->pos = 0;
        m->end = size ? size - 1 : 0;
        if (!size) m->pos = 1; /* nothing to fetch */
    }
    if (req->method == HTTP_M_HEAD) {
        /* The head with the body's length and no body. */
        http_respond(req, status, type, NULL, m->pos > m->end ? 0 : m->end - m->pos + 1);
        return;
    }
    if (http_stream_start(req, status, type, 2 * MEDIA__S3_CHUNK, media__s3_drain, m) != 0) {
        http_stream_end(req);
        return;
    }
    req->on_abort = media__s3_abort;
    req->on_abort_arg = m;
    m->got_done = true;
    m->drained = true;
    media__s3_next(m);
}

static void media__serve_s3(http_req_t *req, media_backend_t *b)
{
    media__t *m = req->body_ctx;
    m->req = req;
    req->on_abort = media__s3_abort;
    req->on_abort_arg = m;
    if (s3_head(media_backend_s3(b), m->rel, media__s3_head, m, &m->op) != 0) {
        req->on_abort = NULL;
        http_respond_error(req, 503, "unavailable", "cannot read the file now");
    }
}

static void media__serve(http_req_t *req)
{
    app_t *app = req->app;
    media__t *m = req->body_ctx;
    media_backend_t *b = media_backend_current();
    if (b) {
        media__serve_s3(req, b);
        return;
    }
    if (media_store_open(app->loop, app->cfg->media_dir, m->rel, media__opened, req) != 0)
        http_respond_error(req, 503, "unavailable", "cannot open the file now");
}

static void media__owner_checked(http_req_t *req, db_result_t *res, void *ctx)
{
    (void)ctx;
    if (api_db_failed(req, res)) return;
    if (db_result_nrows(res) < 1) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    media__serve(req);
}

static void media__authed(http_req_t *req, const api_user_t *user)
{
    const char *params[3] = {req->params[2], stories_int(req, user->id),
                             user->is_superuser ? "t" : "f"};
    stories_q(req, "SELECT 1 FROM stories s WHERE s.id = $1 AND " STORIES_VISIBLE, 3, params,
              media__owner_checked, NULL);
}

void api_media_get(http_req_t *req)
{
    app_t *app = req->app;
    media__t *m = arena_calloc(&req->arena, sizeof *m);
    req->body_ctx = m;
    if (media_path_sanitize(req->path + strlen("/media/"), m->rel, sizeof m->rel) != 0) {
        http_respond_detail(req, 404, "Not found.");
        return;
    }
    const char *q = req->query;
    bool has_sig = q && (strstr(q, "sig=") || strstr(q, "expires="));
    if (has_sig) {
        signed_url_status_t st = signed_url_verify_query(
            story_media_key(app->cfg), CRYPTO_SHA256_LEN, req->path, q, (int64_t)time(NULL));
        if (st != SIGNED_URL_OK) {
            http_respond_detail(req, 403,
                                st == SIGNED_URL_EXPIRED ? "This media link has expired."
                                                         : "Invalid media link signature.");
            return;
        }
        const char *e = http_req_query(req, "expires");
        m->signed_url = true;
        m->expires = e ? strtoll(e, NULL, 10) : 0;
        media__serve(req);
        return;
    }
    if (http_req_header(req, "authorization")) {
        api_auth(req, true, media__authed);
        return;
    }
    http_respond_detail(req, 403, "A signed media link or the owner's token is required.");
}

/* ---- start and stop ---------------------------------------------------------------------- */

int api_media_start(app_t *app, char *err, size_t errlen)
{
    const config_t *cfg = app->cfg;
    media_backend_config_t mc = {
        .kind = cfg->media_backend,
        .media_dir = cfg->media_dir,
        .bucket = cfg->s3_bucket,
        .prefix = cfg->s3_prefix,
        .endpoint = s3_endpoint_from_env(),
        .path_style = cfg->s3_path_style != 0,
        .proxy = cfg->media_proxy != 0,
    };
    int rc = media_backend_open(app->loop, app->aws, &mc, &app->media, err, errlen);
    if (rc != 0) return rc;
    media_backend_install(app->media);
    if (app->media) {
        aws_creds_info_t ci;
        aws_client_creds_info(app->aws, &ci);
        log_info("media", "media on S3: bucket %s, prefix \"%s\", endpoint %s, %s URLs%s",
                 cfg->s3_bucket, cfg->s3_prefix ? cfg->s3_prefix : "",
                 mc.endpoint ? mc.endpoint : "(AWS)", mc.proxy ? "proxied" : "presigned",
                 ci.access_key_id[0] ? "" : "; no AWS credentials resolved yet");
    }
    return 0;
}

void api_media_stop(app_t *app, void (*done)(void *), void *arg)
{
    media_backend_t *b = app->media;
    app->media = NULL;
    media_backend_close(b, done, arg);
}
