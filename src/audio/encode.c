#include "audio/encode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* marks.json for a very long story (100k words) is ~8 MB; this only guards against bugs. */
#define ENCODE__MAX_MARKS_JSON (64u * 1024 * 1024)

struct audio_encode_job {
    uv_work_t work;
    audio_encode_req_t req; /* points at the copies below */
    audio_part_t *parts;
    char *path, *marks_path, *title, *artist;
    atomic_int cancel;
    audio_encode_cb cb;
    void *arg;
    int status;
    audio_encode_result_t res;
};

void audio_encode_req_init(audio_encode_req_t *req)
{
    memset(req, 0, sizeof *req);
    audio_join_config_default(&req->join);
    mp3_config_default(&req->mp3);
}

/* ---- files ---------------------------------------------------------------------------------- */

typedef struct {
    int fd;
} encode__file_t;

static int encode__write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int encode__file_append(void *ctx, const void *data, size_t len)
{
    return encode__write_all(((encode__file_t *)ctx)->fd, data, len);
}

static int encode__file_patch(void *ctx, uint64_t offset, const void *data, size_t len)
{
    int fd = ((encode__file_t *)ctx)->fd;
    const char *p = data;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)offset);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

/* Creates "<dir>/.<name>.XXXXXX" next to path, so that the final rename stays within one file
 * system (and is atomic). The leading dot keeps half-written files out of casual listings. */
static int encode__temp_open(const char *path, char **tmp_out, int *fd_out)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    if (!*base) return -EINVAL;
    size_t len = dirlen + 1 + strlen(base) + 8;
    char *tmp = malloc(len);
    if (!tmp) return -ENOMEM;
    memcpy(tmp, path, dirlen);
    snprintf(tmp + dirlen, len - dirlen, ".%s.XXXXXX", base);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        free(tmp);
        return err;
    }
    /* mkostemp creates 0600; media files are meant to be readable by the serving user/group. */
    (void)fchmod(fd, 0644);
    *tmp_out = tmp;
    *fd_out = fd;
    return 0;
}

/* fsyncs and closes fd; on any error also unlinks tmp. Always closes. */
static int encode__temp_close(int fd, const char *tmp, int rc)
{
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc && tmp) unlink(tmp);
    return rc;
}

static int encode__fsync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1; /* "/file" lives in "/" */
        if (n >= sizeof dir) return -ENAMETOOLONG;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* ---- synchronous core ------------------------------------------------------------------------ */

static int encode__validate(const audio_encode_req_t *req)
{
    if (!req || mp3_check_sample_rate(req->sample_rate) || mp3_config_validate(&req->mp3) ||
        audio_join_config_validate(&req->join) || (!req->parts && req->nparts))
        return -EINVAL;
    for (size_t i = 0; i < req->nparts; i++) {
        const audio_part_t *p = &req->parts[i];
        if ((!p->pcm && p->nsamples) || (!p->marks && p->nmarks)) return -EINVAL;
    }
    return 0;
}

int audio_encode_to_sink(const audio_encode_req_t *req, const mp3_sink_t *sink,
                         const atomic_int *cancel, mp3_info_t *info)
{
    int rc = encode__validate(req);
    if (rc) return rc;
    mp3_encoder_t *enc;
    rc = mp3_encoder_new(&req->mp3, req->sample_rate, req->title, req->artist, sink, &enc);
    if (rc) return rc;
    rc = audio_narration_encode(req->parts, req->nparts, req->sample_rate, &req->join, enc, cancel);
    if (rc == 0) rc = mp3_encoder_finish(enc, info);
    mp3_encoder_free(enc);
    return rc;
}

static int encode__marks_file(audio_encode_job_t *job, char **tmp_out)
{
    const audio_encode_req_t *req = &job->req;
    audio_marks_t marks;
    audio_marks_init(&marks);
    buf_t json;
    buf_init(&json, ENCODE__MAX_MARKS_JSON);
    int rc = audio_narration_marks(req->parts, req->nparts, req->sample_rate, &req->join, &marks);
    if (rc == 0) rc = audio_marks_to_json(marks.items, marks.len, &json);
    job->res.nmarks = marks.len;
    audio_marks_free(&marks);
    int fd = -1;
    if (rc == 0) rc = encode__temp_open(req->marks_path, tmp_out, &fd);
    if (fd >= 0) {
        rc = encode__write_all(fd, json.data, json.len);
        rc = encode__temp_close(fd, *tmp_out, rc);
        if (rc) {
            free(*tmp_out);
            *tmp_out = NULL;
        }
    }
    buf_free(&json);
    return rc;
}

static int encode__run(audio_encode_job_t *job)
{
    const audio_encode_req_t *req = &job->req;
    char *mp3_tmp = NULL, *marks_tmp = NULL;
    int fd = -1;
    int rc = encode__temp_open(req->path, &mp3_tmp, &fd);
    if (rc) return rc;
    encode__file_t file = {.fd = fd};
    mp3_sink_t sink = {.append = encode__file_append, .patch = encode__file_patch, .ctx = &file};
    mp3_info_t info;
    rc = audio_encode_to_sink(req, &sink, &job->cancel, &info);
    rc = encode__temp_close(fd, mp3_tmp, rc);
    if (rc == 0 && req->marks_path) rc = encode__marks_file(job, &marks_tmp);
    if (rc == 0 && atomic_load(&job->cancel)) rc = -ECANCELED;
    /* marks.json goes first so that a visible MP3 always has its marks next to it. */
    if (rc == 0 && marks_tmp && rename(marks_tmp, req->marks_path) != 0) rc = -errno;
    if (rc == 0 && rename(mp3_tmp, req->path) != 0) rc = -errno;
    if (rc == 0) rc = encode__fsync_dir(req->path);
    if (rc) {
        /* Either temp file may already be gone (renamed or never created); ENOENT is fine. */
        if (mp3_tmp) unlink(mp3_tmp);
        if (marks_tmp) unlink(marks_tmp);
    } else {
        job->res.samples = info.samples;
        job->res.duration_ms = info.duration_ms;
        job->res.bytes = info.bytes;
    }
    free(mp3_tmp);
    free(marks_tmp);
    return rc;
}

/* ---- threadpool glue ------------------------------------------------------------------------ */

static void encode__job_free(audio_encode_job_t *job)
{
    free(job->parts);
    free(job->path);
    free(job->marks_path);
    free(job->title);
    free(job->artist);
    free(job);
}

static void encode__work(uv_work_t *w)
{
    audio_encode_job_t *job = w->data;
    job->status = atomic_load(&job->cancel) ? -ECANCELED : encode__run(job);
}

static void encode__after(uv_work_t *w, int status)
{
    audio_encode_job_t *job = w->data;
    /* UV_ECANCELED means uv_cancel removed the job before a worker picked it up. */
    int rc = status == UV_ECANCELED ? -ECANCELED : status ? status : job->status;
    if (rc && rc != -ECANCELED)
        log_warn("audio", "encoding %s failed: %s", job->path, uv_strerror(rc));
    job->cb(rc, rc == 0 ? &job->res : NULL, job->arg);
    encode__job_free(job);
}

static char *encode__dup(const char *s, int *failed)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *failed = 1;
    return d;
}

int audio_encode_submit(uv_loop_t *loop, const audio_encode_req_t *req, audio_encode_cb cb,
                        void *arg, audio_encode_job_t **job_out)
{
    if (job_out) *job_out = NULL;
    if (!loop || !cb || encode__validate(req) || !req->path || !*req->path) return -EINVAL;
    audio_encode_job_t *job = calloc(1, sizeof *job);
    if (!job) return -ENOMEM;
    int failed = 0;
    job->req = *req;
    if (req->nparts) {
        job->parts = malloc(req->nparts * sizeof *job->parts);
        if (job->parts)
            memcpy(job->parts, req->parts, req->nparts * sizeof *job->parts);
        else
            failed = 1;
    }
    job->path = encode__dup(req->path, &failed);
    job->marks_path = encode__dup(req->marks_path, &failed);
    job->title = encode__dup(req->title, &failed);
    job->artist = encode__dup(req->artist, &failed);
    if (failed) {
        encode__job_free(job);
        return -ENOMEM;
    }
    job->req.parts = job->parts;
    job->req.path = job->path;
    job->req.marks_path = job->marks_path;
    job->req.title = job->title;
    job->req.artist = job->artist;
    atomic_init(&job->cancel, 0);
    job->cb = cb;
    job->arg = arg;
    job->work.data = job;
    int rc = uv_queue_work(loop, &job->work, encode__work, encode__after);
    if (rc) {
        encode__job_free(job);
        return rc;
    }
    if (job_out) *job_out = job;
    return 0;
}

int audio_encode_cancel(audio_encode_job_t *job)
{
    if (!job) return -EINVAL;
    atomic_store(&job->cancel, 1);
    /* Fails with EBUSY once a worker has the job; the flag above then stops it. */
    (void)uv_cancel((uv_req_t *)&job->work);
    return 0;
}
