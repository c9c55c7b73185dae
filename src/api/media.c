/* media: GET/HEAD /media/<path> for story files. Access needs either a valid signed URL (the
 * ones API responses carry; HMAC over path and expiry, see media/signed_url.h) or the token of
 * the story's owner (or a superuser): a tampered, foreign or expired signature is 403, someone
 * else's story with a token is 404. The path is sanitised (media_path_sanitize) and opened
 * without following symlinks below NOVA_MEDIA_DIR on the threadpool; the body is sent by
 * http_respond_file, with Range (206/416), If-Range, ETag/If-None-Match (304), Last-Modified
 * and Accept-Ranges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/story_json.h"
#include "api/stories.h"
#include "core/crypto.h"
#include "http/range.h"
#include "media/paths.h"
#include "media/signed_url.h"
#include "media/store.h"

typedef struct {
    char rel[MEDIA_PATH_MAX + 1];
    bool signed_url;
    int64_t expires;
} media__t;

static const char *media__type(const char *rel)
{
    const char *dot = strrchr(rel, '.');
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".png", "image/png"},         {".jpg", "image/jpeg"},  {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},         {".webp", "image/webp"}, {".mp3", "audio/mpeg"},
        {".json", "application/json"}, {".wav", "audio/wav"},
    };
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
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
    http_res_header(req, "ETag", etag);
    http_res_header(req, "Last-Modified", lm);
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

static void media__serve(http_req_t *req)
{
    app_t *app = req->app;
    media__t *m = req->body_ctx;
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
