/* paths: media layout, request path sanitizing, symlink-proof opening and atomic writes. */
#include "media/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FILE_MODE 0640
#define DIR_MODE  0750

/* ---- layout ---- */

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool uuid_ok(const char *u)
{
    if (!u || strlen(u) != 36) return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : !is_hex(u[i])) return false;
    }
    return true;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int media_path_story_file(char *buf, size_t cap, int64_t created_at_unix, const char *story_uuid,
                          media_kind_t kind, unsigned scene_n, int64_t ts, const char *ext)
{
    if (!buf || !uuid_ok(story_uuid) || ts < 0) return -EINVAL;
    static const char *const fixed[] = {NULL, "mp3", "png", "json"};
    char e[9], id[37];
    if (kind == MEDIA_KIND_IMAGE) {
        size_t n = ext ? strlen(ext) : 0;
        if (n < 1 || n > 8) return -EINVAL;
        for (size_t i = 0; i <= n; i++) {
            e[i] = (char)lower((unsigned char)ext[i]);
            if (i < n && !((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= '0' && e[i] <= '9')))
                return -EINVAL;
        }
    } else if (kind == MEDIA_KIND_AUDIO || kind == MEDIA_KIND_SCENE || kind == MEDIA_KIND_MARKS) {
        if (ext && strcmp(ext, fixed[kind]) != 0) return -EINVAL;
        snprintf(e, sizeof e, "%s", fixed[kind]);
    } else {
        return -EINVAL;
    }
    for (int i = 0; i <= 36; i++)
        id[i] = (char)lower((unsigned char)story_uuid[i]);
    /* 1970..9999 keeps YYYY four digits and the path layout fixed-width. */
    if (created_at_unix < 0 || created_at_unix > 253402300799LL) return -ERANGE;
    time_t t = (time_t)created_at_unix;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) return -ERANGE;
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1, n;
    long long lts = (long long)ts;
    switch (kind) {
    case MEDIA_KIND_IMAGE:
        n = snprintf(buf, cap, "%04d/%02d/%s/image_%lld.%s", y, m, id, lts, e);
        break;
    case MEDIA_KIND_AUDIO:
        n = snprintf(buf, cap, "%04d/%02d/%s/audio_%lld.mp3", y, m, id, lts);
        break;
    case MEDIA_KIND_SCENE:
        n = snprintf(buf, cap, "%04d/%02d/%s/scenes/scene_%u_%lld.png", y, m, id, scene_n, lts);
        break;
    default:
        n = snprintf(buf, cap, "%04d/%02d/%s/marks_%lld.json", y, m, id, lts);
        break;
    }
    if (n < 0 || (size_t)n >= cap) return -ENOSPC;
    return n;
}

/* ---- sanitize ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)lower((unsigned char)c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool seg_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int media_path_sanitize(const char *url_path, char *out, size_t cap)
{
    if (!url_path || !out || cap < MEDIA_PATH_MAX + 1) return -EINVAL;
    size_t o = 0, seg_start = 0, segs = 0;
    const char *s = url_path;
    out[0] = '\0';
    for (;;) {
        unsigned char c = (unsigned char)*s;
        bool sep = c == '/' || c == '\0';
        if (sep) {
            /* Close the current segment: non-empty, not hidden ("." and ".." included). */
            if (o == seg_start || out[seg_start] == '.') return -EINVAL;
            if (++segs > MEDIA_PATH_SEGMENTS) return -EINVAL;
            if (c == '\0') break;
        } else if (c == '%') {
            if (!s[1] || !s[2]) return -EINVAL;
            int hi = hexval(s[1]), lo = hexval(s[2]);
            if (hi < 0 || lo < 0) return -EINVAL;
            c = (unsigned char)(hi * 16 + lo);
            s += 2;
            /* Decoded bytes never act as separators: an encoded '/' is refused below. */
            if (!seg_char(c)) return -EINVAL;
        } else if (!seg_char(c)) {
            return -EINVAL;
        }
        if (o >= MEDIA_PATH_MAX) return -ENAMETOOLONG;
        out[o++] = (char)c;
        if (sep) seg_start = o;
        s++;
    }
    out[o] = '\0';
    return 0;
}

/* ---- opening beneath a root ---- */

/* Structural check shared by open_beneath and write_atomic (sanitize is the strict gate for
 * request paths; these helpers also serve internally built paths). */
static bool relpath_ok(const char *p)
{
    if (!p || !p[0] || p[0] == '/' || strlen(p) >= PATH_MAX) return false;
    const char *seg = p;
    for (const char *c = p;; c++) {
        if (*c == '/' || *c == '\0') {
            size_t n = (size_t)(c - seg);
            if (n == 0 || n > NAME_MAX) return false;
            if (seg[0] == '.' && (n == 1 || (n == 2 && seg[1] == '.'))) return false;
            if (!*c) return true;
            seg = c + 1;
        }
    }
}

static int open_dir_nofollow(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) return fd;
    int err = -errno;
    /* O_DIRECTORY wins over O_NOFOLLOW for a symlink (ENOTDIR); report it as openat2 would. */
    struct stat st;
    if (err == -ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
        return -ELOOP;
    return err;
}

int media__open_beneath_walk(int root_dirfd, const char *relpath, int flags)
{
    if (!relpath_ok(relpath)) return -EINVAL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", relpath);
    int cur = root_dirfd;
    char *comp = path;
    for (char *slash; (slash = strchr(comp, '/')); comp = slash + 1) {
        *slash = '\0';
        int next = open_dir_nofollow(cur, comp);
        if (cur != root_dirfd) close(cur);
        if (next < 0) return next;
        cur = next;
    }
    int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, FILE_MODE);
    int err = fd < 0 ? -errno : 0;
    if (cur != root_dirfd) close(cur);
    return fd < 0 ? err : fd;
}

static atomic_bool openat2_missing;

int media_open_beneath(int root_dirfd, const char *relpath, int flags)
{
    if (!relpath_ok(relpath)) return -EINVAL;
#ifdef SYS_openat2
    if (!atomic_load(&openat2_missing)) {
        struct open_how how = {
            .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
            .mode = (flags & O_CREAT) ? FILE_MODE : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root_dirfd, relpath, &how, sizeof how);
        if (fd >= 0) return (int)fd;
        /* ENOSYS: kernel < 5.6; EPERM: some seccomp profiles filter unknown syscalls that way.
         * A genuine EPERM fails the same way in the fallback. */
        if (errno != ENOSYS && errno != EPERM) return -errno;
        if (errno == ENOSYS) atomic_store(&openat2_missing, true);
    }
#endif
    return media__open_beneath_walk(root_dirfd, relpath, flags);
}

/* ---- atomic write ---- */

/* Opens (creating when missing) each directory of `dir` below root without following symlinks.
 * Newly created directories are made durable by fsyncing their parent. */
static int open_or_make_dirs(int root_dirfd, char *dir)
{
    int cur = root_dirfd;
    char *comp = dir;
    for (;;) {
        char *slash = strchr(comp, '/');
        if (slash) *slash = '\0';
        int next = open_dir_nofollow(cur, comp);
        if (next == -ENOENT) {
            if (mkdirat(cur, comp, DIR_MODE) != 0 && errno != EEXIST) {
                next = -errno;
            } else {
                if (fsync(cur) != 0) {
                    next = -errno;
                } else {
                    next = open_dir_nofollow(cur, comp);
                }
            }
        }
        if (cur != root_dirfd) close(cur);
        if (next < 0) return next;
        cur = next;
        if (!slash) return cur;
        comp = slash + 1;
    }
}

int media_open_dirs_beneath(int root_dirfd, const char *dir)
{
    if (!relpath_ok(dir)) return -EINVAL;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof path) return -ENAMETOOLONG;
    return open_or_make_dirs(root_dirfd, path);
}

static int write_all(int fd, const char *p, size_t len)
{
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

static atomic_uint tmp_counter;

int media_file_write_atomic(int root_dirfd, const char *relpath, const void *data, size_t len)
{
    if (!relpath_ok(relpath) || (!data && len)) return -EINVAL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", relpath);
    char *name = strrchr(path, '/');
    int dirfd = root_dirfd;
    if (name) {
        *name++ = '\0';
        dirfd = open_or_make_dirs(root_dirfd, path);
        if (dirfd < 0) return dirfd;
    } else {
        name = path;
    }
    char tmp[NAME_MAX + 64];
    int fd = -1, rc = 0;
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        int n = snprintf(tmp, sizeof tmp, ".%s.tmp.%ld.%u", name, (long)getpid(),
                         atomic_fetch_add(&tmp_counter, 1));
        if (n < 0 || n > NAME_MAX) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, FILE_MODE);
        if (fd < 0 && errno != EEXIST) {
            rc = -errno;
            goto out;
        }
    }
    if (fd < 0) {
        rc = -EEXIST;
        goto out;
    }
    rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc == 0 && renameat(dirfd, tmp, dirfd, name) != 0) rc = -errno;
    if (rc != 0) {
        unlinkat(dirfd, tmp, 0);
        goto out;
    }
    /* The rename is only durable once the directory entry is on disk. */
    if (fsync(dirfd) != 0) rc = -errno;
out:
    if (dirfd != root_dirfd) close(dirfd);
    return rc;
}

const char *media_content_type(const char *relpath)
{
    const char *dot = relpath ? strrchr(relpath, '.') : NULL;
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
