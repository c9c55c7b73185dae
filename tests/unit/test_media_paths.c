/* Unit tests for the media layout, request path sanitizing, symlink-proof opening and atomic
 * writes (the last two against a real temp directory with planted symlinks). */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/paths.h"

static const char UUID[] = "0B6F7A52-6c1e-4c39-9a55-2f4f1f3f8d10";

TEST(story_paths)
{
    char b[MEDIA_STORY_PATH_MAX];
    int64_t created = 1715000000; /* 2024-05-06 */
    ASSERT(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_IMAGE, 0, 1715000123456,
                                 "PNG") > 0);
    ASSERT_STREQ(b, "2024/05/0b6f7a52-6c1e-4c39-9a55-2f4f1f3f8d10/image_1715000123456.png");
    ASSERT(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_AUDIO, 0, 7, NULL) > 0);
    ASSERT_STREQ(b, "2024/05/0b6f7a52-6c1e-4c39-9a55-2f4f1f3f8d10/audio_7.mp3");
    ASSERT(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_SCENE, 3, 9, "png") > 0);
    ASSERT_STREQ(b, "2024/05/0b6f7a52-6c1e-4c39-9a55-2f4f1f3f8d10/scenes/scene_3_9.png");
    ASSERT(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_MARKS, 0, 9, NULL) > 0);
    ASSERT_STREQ(b, "2024/05/0b6f7a52-6c1e-4c39-9a55-2f4f1f3f8d10/marks_9.json");
    /* Month boundaries are UTC: 2023-12-31T23:59:59Z and one second later. */
    ASSERT(media_path_story_file(b, sizeof b, 1704067199, UUID, MEDIA_KIND_AUDIO, 0, 1, NULL) > 0);
    ASSERT(strncmp(b, "2023/12/", 8) == 0);
    ASSERT(media_path_story_file(b, sizeof b, 1704067200, UUID, MEDIA_KIND_AUDIO, 0, 1, NULL) > 0);
    ASSERT(strncmp(b, "2024/01/", 8) == 0);
    /* The longest possible path fits MEDIA_STORY_PATH_MAX and is accepted by sanitize. */
    int n = media_path_story_file(b, sizeof b, 253402300799LL, UUID, MEDIA_KIND_SCENE, UINT32_MAX,
                                  INT64_MAX, NULL);
    ASSERT(n > 0 && n < MEDIA_STORY_PATH_MAX);
    char clean[MEDIA_PATH_MAX + 1];
    ASSERT_EQ(media_path_sanitize(b, clean, sizeof clean), 0);
    ASSERT_STREQ(clean, b);

    ASSERT_EQ(
        media_path_story_file(b, sizeof b, created, "not-a-uuid", MEDIA_KIND_AUDIO, 0, 1, NULL),
        -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, created, "0b6f7a52-6c1e-4c39-9a55-2f4f1f3f8d1g",
                                    MEDIA_KIND_AUDIO, 0, 1, NULL),
              -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, created, "../../../../etc/passwd-xxxxxxxxxxxxx",
                                    MEDIA_KIND_AUDIO, 0, 1, NULL),
              -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_IMAGE, 0, 1, NULL),
              -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_IMAGE, 0, 1, "p/g"),
              -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_IMAGE, 0, 1, "."),
              -EINVAL);
    ASSERT_EQ(
        media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_IMAGE, 0, 1, "verylongx"),
        -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_AUDIO, 0, 1, "wav"),
              -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, created, UUID, MEDIA_KIND_AUDIO, 0, -1, NULL),
              -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, created, UUID, (media_kind_t)9, 0, 1, NULL),
              -EINVAL);
    ASSERT_EQ(media_path_story_file(b, sizeof b, -1, UUID, MEDIA_KIND_AUDIO, 0, 1, NULL), -ERANGE);
    ASSERT_EQ(media_path_story_file(b, 20, created, UUID, MEDIA_KIND_AUDIO, 0, 1, NULL), -ENOSPC);
}

TEST(sanitize_accepts)
{
    static const char *const ok[][2] = {
        {"2024/05/abc/image_1.png", "2024/05/abc/image_1.png"},
        {"a", "a"},
        {"a%2Db_c.d", "a-b_c.d"},
        {"%61%62c", "abc"},
        {"x/y..z/w", "x/y..z/w"}, /* ".." inside a name is just a name */
        {"a./b-", "a./b-"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char out[MEDIA_PATH_MAX + 1];
        int rc = media_path_sanitize(ok[i][0], out, sizeof out);
        if (rc != 0 || strcmp(out, ok[i][1]) != 0)
            TEST__FAIL("[%s]: rc %d out [%s]", ok[i][0], rc, rc == 0 ? out : "");
    }
}

TEST(sanitize_refuses_nasty_inputs)
{
    static const char *const bad[] = {
        "",
        "/",
        "/etc/passwd",
        "../etc/passwd",
        "a/../../etc/passwd",
        "a/..",
        "..",
        ".",
        "./a",
        "a/./b",
        "%2e%2e/etc/passwd",
        "%2E%2E/etc/passwd",
        ".%2e/x",
        "a/%2e%2e",
        "%252e%252e/x", /* double encoding stays refused ('%' is not a name character) */
        "a//b",
        "a/b/",
        "//etc/passwd",
        "a%2fb",
        "a%2Fb",
        "%2fetc%2fpasswd",
        "a\\b",
        "..\\..\\windows",
        "a%5cb",
        "a%00b",
        "a%00",
        "a%",
        "a%2",
        "a%zz",
        "a%%41",
        ".env",
        "a/.git/config",
        "2024/05/x/.image_1.png.tmp.1.2",
        "a b",
        "a%20b",
        "a\tb",
        "a%0d%0aSet-Cookie",
        "a?x=1",
        "a#frag",
        "a;b",
        "a:b",
        "caf\xc3\xa9.png",
        "caf%C3%A9.png",
        "%c0%ae%c0%ae/x", /* overlong UTF-8 for ".." */
        "%e2%80%a5/x",    /* U+2025 TWO DOT LEADER */
        "a\xef\xbc\x8f"
        "b", /* U+FF0F FULLWIDTH SOLIDUS */
        "~root/x",
        "a/b/c/d/e/f/g/h/i", /* nine segments */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[MEDIA_PATH_MAX + 1];
        int rc = media_path_sanitize(bad[i], out, sizeof out);
        if (rc != -EINVAL) TEST__FAIL("[%s] gave %d", bad[i], rc);
    }
    ASSERT(sizeof bad / sizeof bad[0] >= 30);

    char longp[400], out[MEDIA_PATH_MAX + 1];
    memset(longp, 'a', 255);
    longp[255] = '\0';
    ASSERT_EQ(media_path_sanitize(longp, out, sizeof out), 0);
    longp[255] = 'a';
    longp[256] = '\0';
    ASSERT_EQ(media_path_sanitize(longp, out, sizeof out), -ENAMETOOLONG);
    ASSERT_EQ(media_path_sanitize("a", out, 10), -EINVAL); /* buffer contract */
}

/* A temp tree: root/{a/b/file, link -> ../outside/secret, dirlink -> ../outside,
 * inlink -> a/b/file} and outside/secret. */
typedef struct {
    char base[64];
    int rootfd;
} tree_t;

static void tree_make(tree_t *t)
{
    strcpy(t->base, "/tmp/nova_media_paths_XXXXXX");
    ASSERT(mkdtemp(t->base) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/root", t->base);
    ASSERT_EQ(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/outside", t->base);
    ASSERT_EQ(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/outside/secret", t->base);
    FILE *f = fopen(p, "w");
    ASSERT(f);
    fputs("secret", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/root", t->base);
    t->rootfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT(t->rootfd >= 0);
    ASSERT_EQ(mkdirat(t->rootfd, "a", 0700), 0);
    ASSERT_EQ(mkdirat(t->rootfd, "a/b", 0700), 0);
    int fd = openat(t->rootfd, "a/b/file", O_WRONLY | O_CREAT, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "inside", 6), 6);
    close(fd);
    ASSERT_EQ(symlinkat("../outside/secret", t->rootfd, "link"), 0);
    ASSERT_EQ(symlinkat("../outside", t->rootfd, "dirlink"), 0);
    ASSERT_EQ(symlinkat("a/b/file", t->rootfd, "inlink"), 0);
}

static void tree_free(tree_t *t)
{
    close(t->rootfd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->base);
    ASSERT_EQ(system(cmd), 0);
}

static void read_fd(int fd, char *buf, size_t cap)
{
    ssize_t n = read(fd, buf, cap - 1);
    ASSERT(n >= 0);
    buf[n] = '\0';
    close(fd);
}

static void check_open(int (*openfn)(int, const char *, int))
{
    tree_t t;
    tree_make(&t);
    char buf[64];
    int fd = openfn(t.rootfd, "a/b/file", O_RDONLY);
    ASSERT(fd >= 0);
    read_fd(fd, buf, sizeof buf);
    ASSERT_STREQ(buf, "inside");
    ASSERT_EQ(openfn(t.rootfd, "link", O_RDONLY), -ELOOP);
    ASSERT_EQ(openfn(t.rootfd, "dirlink/secret", O_RDONLY), -ELOOP);
    ASSERT_EQ(openfn(t.rootfd, "inlink", O_RDONLY), -ELOOP); /* no symlinks at all */
    ASSERT_EQ(openfn(t.rootfd, "../outside/secret", O_RDONLY), -EINVAL);
    ASSERT_EQ(openfn(t.rootfd, "a/../../outside/secret", O_RDONLY), -EINVAL);
    ASSERT_EQ(openfn(t.rootfd, "/etc/passwd", O_RDONLY), -EINVAL);
    ASSERT_EQ(openfn(t.rootfd, "a//b/file", O_RDONLY), -EINVAL);
    ASSERT_EQ(openfn(t.rootfd, "", O_RDONLY), -EINVAL);
    ASSERT_EQ(openfn(t.rootfd, "a/b/missing", O_RDONLY), -ENOENT);
    ASSERT_EQ(openfn(t.rootfd, "a/b/file/x", O_RDONLY), -ENOTDIR);
    fd = openfn(t.rootfd, "a/new", O_WRONLY | O_CREAT | O_EXCL);
    ASSERT(fd >= 0);
    close(fd);
    struct stat st;
    ASSERT_EQ(fstatat(t.rootfd, "a/new", &st, 0), 0);
    ASSERT_EQ(st.st_mode & 07777, 0640);
    fd = openfn(t.rootfd, "a/b/file", O_RDONLY);
    ASSERT(fd >= 0);
    ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    tree_free(&t);
}

TEST(open_beneath_refuses_symlinks)
{
    umask(022);
    check_open(media_open_beneath);
}

TEST(open_beneath_walk_fallback)
{
    umask(022);
    check_open(media__open_beneath_walk);
}

static int count_dotfiles(int dirfd, const char *rel)
{
    int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

TEST(write_atomic)
{
    umask(022);
    tree_t t;
    tree_make(&t);
    char buf[64];
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "2024/05/s/audio_1.mp3", "ID3abc", 6), 0);
    int fd = media_open_beneath(t.rootfd, "2024/05/s/audio_1.mp3", O_RDONLY);
    ASSERT(fd >= 0);
    read_fd(fd, buf, sizeof buf);
    ASSERT_STREQ(buf, "ID3abc");
    struct stat st;
    ASSERT_EQ(fstatat(t.rootfd, "2024", &st, AT_SYMLINK_NOFOLLOW), 0);
    ASSERT_EQ(st.st_mode & 07777, 0750);
    ASSERT_EQ(fstatat(t.rootfd, "2024/05/s", &st, AT_SYMLINK_NOFOLLOW), 0);
    ASSERT_EQ(st.st_mode & 07777, 0750);
    ASSERT_EQ(fstatat(t.rootfd, "2024/05/s/audio_1.mp3", &st, AT_SYMLINK_NOFOLLOW), 0);
    ASSERT_EQ(st.st_mode & 07777, 0640);
    ino_t first_ino = st.st_ino;

    /* Overwrite: new content, new inode (so ETags change), no temp file left behind. */
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "2024/05/s/audio_1.mp3", "second", 6), 0);
    fd = media_open_beneath(t.rootfd, "2024/05/s/audio_1.mp3", O_RDONLY);
    read_fd(fd, buf, sizeof buf);
    ASSERT_STREQ(buf, "second");
    ASSERT_EQ(fstatat(t.rootfd, "2024/05/s/audio_1.mp3", &st, AT_SYMLINK_NOFOLLOW), 0);
    ASSERT(st.st_ino != first_ino);
    ASSERT_EQ(count_dotfiles(t.rootfd, "2024/05/s"), 0);

    ASSERT_EQ(media_file_write_atomic(t.rootfd, "top.json", "{}", 2), 0);
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "empty.bin", NULL, 0), 0);
    ASSERT_EQ(fstatat(t.rootfd, "empty.bin", &st, 0), 0);
    ASSERT_EQ(st.st_size, 0);

    /* A symlinked directory on the way is refused; nothing lands outside the root. */
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "dirlink/planted", "x", 1), -ELOOP);
    char p[256];
    snprintf(p, sizeof p, "%s/outside/planted", t.base);
    ASSERT(access(p, F_OK) != 0);
    /* A symlink as the final name is replaced by the file; its target stays untouched. */
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "link", "new", 3), 0);
    ASSERT_EQ(fstatat(t.rootfd, "link", &st, AT_SYMLINK_NOFOLLOW), 0);
    ASSERT(S_ISREG(st.st_mode));
    snprintf(p, sizeof p, "%s/outside/secret", t.base);
    fd = open(p, O_RDONLY);
    read_fd(fd, buf, sizeof buf);
    ASSERT_STREQ(buf, "secret");

    ASSERT_EQ(media_file_write_atomic(t.rootfd, "../escape", "x", 1), -EINVAL);
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "/abs", "x", 1), -EINVAL);
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "a/", "x", 1), -EINVAL);
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "x", NULL, 1), -EINVAL);
    /* Writing over a directory fails cleanly and leaves no temp file. */
    ASSERT(media_file_write_atomic(t.rootfd, "a/b", "x", 1) < 0);
    ASSERT_EQ(count_dotfiles(t.rootfd, "a"), 0);
    /* A file where a directory is needed. */
    ASSERT_EQ(media_file_write_atomic(t.rootfd, "top.json/x", "x", 1), -ENOTDIR);
    tree_free(&t);
}

TEST_MAIN({"story_paths", story_paths}, {"sanitize_accepts", sanitize_accepts},
          {"sanitize_refuses_nasty_inputs", sanitize_refuses_nasty_inputs},
          {"open_beneath_refuses_symlinks", open_beneath_refuses_symlinks},
          {"open_beneath_walk_fallback", open_beneath_walk_fallback},
          {"write_atomic", write_atomic})
