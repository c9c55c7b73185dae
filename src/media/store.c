/* store: media files below NOVA_MEDIA_DIR through threadpool jobs (see store.h). */
#include "media/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "media/backend.h"
#include "media/paths.h"

#define STORE_DIR_MODE 0750

static pthread_mutex_t store__lock = PTHREAD_MUTEX_INITIALIZER;
static int store__root_fd = -1;

/* mkdir -p for the configured root (a trusted setting, so a plain walk is enough). */
static int store__mkdirs(const char *path)
{
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n <= 0 || (size_t)n >= sizeof buf) return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, STORE_DIR_MODE) != 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(buf, STORE_DIR_MODE) != 0 && errno != EEXIST) return -errno;
    return 0;
}

int media_store__root(const char *media_dir)
{
    pthread_mutex_lock(&store__lock);
    int fd = store__root_fd;
    if (fd < 0) {
        int rc = store__mkdirs(media_dir && *media_dir ? media_dir : ".");
        if (rc == 0) {
            fd =
                open(media_dir && *media_dir ? media_dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) fd = -errno;
        } else {
            fd = rc;
        }
        if (fd >= 0) store__root_fd = fd;
    }
    pthread_mutex_unlock(&store__lock);
    return fd;
}

int media_store__spool_create(const char *media_dir, char *rel, size_t cap)
{
    int root = media_store__root(media_dir);
    if (root < 0) return root;
    int dfd = media_open_dirs_beneath(root, MEDIA_STORE_SPOOL);
    if (dfd < 0) return dfd;
    int fd = -EEXIST;
    for (int attempt = 0; attempt < 8 && fd == -EEXIST; attempt++) {
        uint8_t rnd[12];
        char hex[25];
        if (crypto_random(rnd, sizeof rnd) != 0) {
            fd = -EIO;
            break;
        }
        crypto_hex_encode(rnd, sizeof rnd, hex, sizeof hex);
        int n = snprintf(rel, cap, "%s/up_%s", MEDIA_STORE_SPOOL, hex);
        if (n < 0 || (size_t)n >= cap) {
            fd = -ENOSPC;
            break;
        }
        fd = openat(dfd, rel + sizeof MEDIA_STORE_SPOOL,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0) fd = -errno;
    }
    close(dfd);
    return fd;
}

int media_store_story_dir(char *buf, size_t cap, int64_t created_at_unix, const char *story_uuid)
{
    /* The image path carries the folder: cut the file name off it. */
    char tmp[MEDIA_STORY_PATH_MAX];
    int n = media_path_story_file(tmp, sizeof tmp, created_at_unix, story_uuid, MEDIA_KIND_AUDIO, 0,
                                  0, NULL);
    if (n < 0) return n;
    char *slash = strrchr(tmp, '/');
    if (!slash) return -EINVAL;
    *slash = '\0';
    int m = snprintf(buf, cap, "%s", tmp);
    return m < 0 || (size_t)m >= cap ? -ENOSPC : m;
}

/* ---- jobs ------------------------------------------------------------------------------------ */

typedef enum { OP_ADOPT, OP_WRITE, OP_REMOVE, OP_REMOVE_STORY, OP_OPEN } store__op_t;

typedef struct {
    uv_work_t work;
    store__op_t op;
    char *media_dir;
    char *a, *b; /* op-specific paths */
    const void *data;
    size_t len;
    char **paths;
    size_t npaths;
    int status;
    int fd;
    struct stat st;
    media_store_cb cb;
    media_store_open_cb ocb;
    void *arg;
} store__job_t;

static int store__adopt(int root, const char *spool_rel, const char *relpath)
{
    int fd = openat(root, spool_rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) != 0 ? -errno : 0;
    close(fd);
    if (rc) return rc;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", relpath);
    char *name = strrchr(dir, '/');
    if (!name || !name[1]) return -EINVAL;
    *name++ = '\0';
    int dfd = media_open_dirs_beneath(root, dir);
    if (dfd < 0) return dfd;
    if (renameat(root, spool_rel, dfd, name) != 0) rc = -errno;
    if (rc == 0 && fsync(dfd) != 0) rc = -errno;
    close(dfd);
    return rc;
}

int media_store__unlink(int root, const char *relpath)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", relpath);
    char *name = strrchr(dir, '/');
    int dfd;
    if (name) {
        *name++ = '\0';
        dfd = media_open_beneath(root, dir, O_RDONLY | O_DIRECTORY);
        if (dfd < 0) return dfd == -ENOENT ? 0 : dfd;
    } else {
        name = dir;
        dfd = dup(root);
        if (dfd < 0) return -errno;
    }
    int rc = 0;
    if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT) rc = -errno;
    close(dfd);
    return rc;
}

/* Empties the folder dfd (files, and sub-folders one level down when depth > 0). */
static int store__empty_dir(int dfd, int depth)
{
    int dup_fd = dup(dfd);
    if (dup_fd < 0) return -errno;
    DIR *d = fdopendir(dup_fd);
    if (!d) {
        close(dup_fd);
        return -errno;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (e->d_type == DT_DIR && depth > 0) {
            int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                store__empty_dir(sub, depth - 1);
                close(sub);
            }
            if (unlinkat(dfd, e->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT) rc = -errno;
        } else if (unlinkat(dfd, e->d_name, 0) != 0 && errno != ENOENT) {
            rc = -errno;
        }
    }
    closedir(d);
    return rc;
}

static int store__remove_story(int root, const char *story_dir)
{
    int dfd = media_open_beneath(root, story_dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0) return dfd == -ENOENT ? 0 : dfd;
    int rc = store__empty_dir(dfd, 1);
    close(dfd);
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", story_dir);
    char *name = strrchr(parent, '/');
    if (!name) return -EINVAL;
    *name++ = '\0';
    int pfd = media_open_beneath(root, parent, O_RDONLY | O_DIRECTORY);
    if (pfd < 0) return pfd;
    if (unlinkat(pfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT && rc == 0) rc = -errno;
    close(pfd);
    return rc;
}

static void store__work(uv_work_t *w)
{
    store__job_t *j = w->data;
    int root = media_store__root(j->media_dir);
    if (root < 0) {
        j->status = root;
        return;
    }
    switch (j->op) {
    case OP_ADOPT:
        j->status = store__adopt(root, j->a, j->b);
        break;
    case OP_WRITE:
        j->status = media_file_write_atomic(root, j->a, j->data, j->len);
        break;
    case OP_REMOVE:
        j->status = 0;
        for (size_t i = 0; i < j->npaths; i++) {
            int rc = media_store__unlink(root, j->paths[i]);
            if (rc && !j->status) j->status = rc;
        }
        break;
    case OP_REMOVE_STORY:
        j->status = store__remove_story(root, j->a);
        break;
    case OP_OPEN: {
        int fd = media_open_beneath(root, j->a, O_RDONLY);
        if (fd < 0) {
            j->status = fd == -ELOOP || fd == -EXDEV || fd == -ENOTDIR ? -ENOENT : fd;
            break;
        }
        if (fstat(fd, &j->st) != 0 || !S_ISREG(j->st.st_mode)) {
            close(fd);
            j->status = -ENOENT;
            break;
        }
        j->fd = fd;
        j->status = 0;
        break;
    }
    }
}

static void store__job_free(store__job_t *j)
{
    for (size_t i = 0; i < j->npaths; i++)
        free(j->paths[i]);
    free(j->paths);
    free(j);
}

static void store__done(uv_work_t *w, int status)
{
    store__job_t *j = w->data;
    if (status == UV_ECANCELED) j->status = -ECANCELED;
    if (j->op == OP_OPEN) {
        if (j->status == 0 && j->fd >= 0)
            j->ocb(j->fd, &j->st, j->arg);
        else
            j->ocb(j->status ? j->status : -EIO, NULL, j->arg);
    } else if (j->cb) {
        j->cb(j->status, j->arg);
    }
    store__job_free(j);
}

static store__job_t *store__job(store__op_t op, const char *media_dir, const char *a, const char *b,
                                size_t extra)
{
    size_t ld = strlen(media_dir ? media_dir : "") + 1, la = a ? strlen(a) + 1 : 0,
           lb = b ? strlen(b) + 1 : 0;
    store__job_t *j = calloc(1, sizeof *j + ld + la + lb + extra);
    if (!j) return NULL;
    char *p = (char *)(j + 1);
    j->op = op;
    j->fd = -1;
    j->media_dir = memcpy(p, media_dir ? media_dir : "", ld);
    p += ld;
    if (a) j->a = memcpy(p, a, la), p += la;
    if (b) j->b = memcpy(p, b, lb); /* the last field: nothing follows it */
    j->work.data = j;
    return j;
}

static int store__submit(uv_loop_t *loop, store__job_t *j)
{
    int rc = uv_queue_work(loop, &j->work, store__work, store__done);
    if (rc != 0) store__job_free(j);
    return rc;
}

int media_store_adopt(uv_loop_t *loop, const char *media_dir, const char *spool_rel,
                      const char *relpath, media_store_cb cb, void *arg)
{
    if (!spool_rel || !relpath) return -EINVAL;
    media_backend_t *b = media_backend_current();
    if (b) return media_backend_publish(b, spool_rel, relpath, true, cb, arg);
    store__job_t *j = store__job(OP_ADOPT, media_dir, spool_rel, relpath, 0);
    if (!j) return -ENOMEM;
    j->cb = cb;
    j->arg = arg;
    return store__submit(loop, j);
}

int media_store_write(uv_loop_t *loop, const char *media_dir, const char *relpath, const void *data,
                      size_t len, media_store_cb cb, void *arg)
{
    if (!relpath) return -EINVAL;
    media_backend_t *b = media_backend_current();
    if (b) return media_backend_put(b, relpath, data, len, cb, arg);
    store__job_t *j = store__job(OP_WRITE, media_dir, relpath, NULL, 0);
    if (!j) return -ENOMEM;
    j->data = data;
    j->len = len;
    j->cb = cb;
    j->arg = arg;
    return store__submit(loop, j);
}

int media_store_remove(uv_loop_t *loop, const char *media_dir, const char *const *relpaths,
                       size_t n, media_store_cb cb, void *arg)
{
    media_backend_t *b = media_backend_current();
    if (b) return media_backend_remove(b, relpaths, n, cb, arg);
    store__job_t *j = store__job(OP_REMOVE, media_dir, NULL, NULL, 0);
    if (!j) return -ENOMEM;
    j->paths = calloc(n ? n : 1, sizeof *j->paths);
    if (!j->paths) {
        free(j);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!relpaths[i] || !relpaths[i][0]) continue;
        if (!(j->paths[j->npaths] = strdup(relpaths[i]))) {
            store__job_free(j);
            return -ENOMEM;
        }
        j->npaths++;
    }
    j->cb = cb;
    j->arg = arg;
    return store__submit(loop, j);
}

int media_store_remove_story(uv_loop_t *loop, const char *media_dir, int64_t created_at_unix,
                             const char *story_uuid, media_store_cb cb, void *arg)
{
    char dir[MEDIA_STORY_PATH_MAX];
    int n = media_store_story_dir(dir, sizeof dir, created_at_unix, story_uuid);
    if (n < 0) return n;
    media_backend_t *b = media_backend_current();
    if (b) return media_backend_remove_dir(b, dir, cb, arg);
    store__job_t *j = store__job(OP_REMOVE_STORY, media_dir, dir, NULL, 0);
    if (!j) return -ENOMEM;
    j->cb = cb;
    j->arg = arg;
    return store__submit(loop, j);
}

static void store__noop_work(uv_work_t *w)
{
    (void)w;
}

int media_store_publish(uv_loop_t *loop, const char *media_dir, const char *relpath,
                        media_store_cb cb, void *arg)
{
    if (!relpath) return -EINVAL;
    media_backend_t *b = media_backend_current();
    if (b) return media_backend_publish(b, relpath, relpath, true, cb, arg);
    /* Local: the file is already where it belongs; report from the loop like every job. */
    store__job_t *j = store__job(OP_WRITE, media_dir, relpath, NULL, 0);
    if (!j) return -ENOMEM;
    j->cb = cb;
    j->arg = arg;
    int rc = uv_queue_work(loop, &j->work, store__noop_work, store__done);
    if (rc != 0) store__job_free(j);
    return rc;
}

int media_store_open(uv_loop_t *loop, const char *media_dir, const char *relpath,
                     media_store_open_cb cb, void *arg)
{
    if (!relpath || !cb) return -EINVAL;
    store__job_t *j = store__job(OP_OPEN, media_dir, relpath, NULL, 0);
    if (!j) return -ENOMEM;
    j->ocb = cb;
    j->arg = arg;
    return store__submit(loop, j);
}
