/* Unit tests for api/static: the folder loader (what is loaded and what is refused), ETags,
 * content types, and the URL path rules that keep requests inside the web folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/static.h"
#include "test.h"

static char tmpdir[256];

static void put(const char *rel, const char *content)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    FILE *f = fopen(p, "wb");
    ASSERT(f != NULL);
    fwrite(content, 1, strlen(content), f);
    fclose(f);
}

static void sub(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    ASSERT_EQ(mkdir(p, 0700), 0);
}

static void make_tree(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nova-static-XXXXXX");
    ASSERT(mkdtemp(tmpdir) != NULL);
    put("index.html", "<!doctype html><title>x</title>");
    put("styles.css", "body{}");
    put("abc.txt", "abc");
    put(".secret", "hidden");
    sub("js");
    put("js/app.js", "export {}");
    sub("js/deep");
    put("js/deep/x.mjs", "1");
    char target[512], link[512];
    snprintf(target, sizeof target, "/etc/hostname");
    snprintf(link, sizeof link, "%s/js/link.js", tmpdir);
    ASSERT_EQ(symlink(target, link), 0);
}

static void rm_tree(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ASSERT_EQ(system(cmd), 0);
}

TEST(loads_regular_files_only)
{
    make_tree();
    int n = api_static_init(tmpdir);
    /* index.html, styles.css, abc.txt, js/app.js, js/deep/x.mjs; not .secret, not the link */
    ASSERT_EQ(n, 5);
    ASSERT_EQ(api_static_count(), 5);
    ASSERT(api_static_lookup("index.html", 10) != NULL);
    ASSERT(api_static_lookup("js/app.js", 9) != NULL);
    ASSERT(api_static_lookup("js/deep/x.mjs", 13) != NULL);
    ASSERT(api_static_lookup(".secret", 7) == NULL);
    ASSERT(api_static_lookup("js/link.js", 10) == NULL);
    ASSERT(api_static_lookup("js", 2) == NULL);
    ASSERT(api_static_lookup("missing.js", 10) == NULL);
    const api_static_file_t *f = api_static_lookup("js/app.js", 9);
    ASSERT_EQ(f->len, 9);
    ASSERT_MEMEQ(f->data, "export {}", 9);
    ASSERT_STREQ(f->content_type, "text/javascript; charset=utf-8");
    /* A lookup takes a length: a longer buffer is cut at len. */
    ASSERT(api_static_lookup("styles.cssXYZ", 10) != NULL);
    api_static_free();
    ASSERT_EQ(api_static_count(), 0);
    ASSERT(api_static_lookup("index.html", 10) == NULL);
    rm_tree();
}

TEST(etag_is_sha256_prefix_and_tracks_content)
{
    make_tree();
    ASSERT(api_static_init(tmpdir) > 0);
    /* SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad */
    const api_static_file_t *f = api_static_lookup("abc.txt", 7);
    ASSERT(f != NULL);
    ASSERT_STREQ(f->etag, "\"ba7816bf8f01cfea414140de5dae2223\"");
    ASSERT_EQ(strlen(f->etag), API_STATIC_ETAG_LEN);
    char before[API_STATIC_ETAG_LEN + 1];
    memcpy(before, api_static_lookup("styles.css", 10)->etag, sizeof before);
    /* Reloading unchanged content gives the same tag; changed content a different one. */
    ASSERT(api_static_init(tmpdir) > 0);
    ASSERT_STREQ(api_static_lookup("styles.css", 10)->etag, before);
    put("styles.css", "body{color:red}");
    ASSERT(api_static_init(tmpdir) > 0);
    ASSERT(strcmp(api_static_lookup("styles.css", 10)->etag, before) != 0);
    api_static_free();
    rm_tree();
}

TEST(missing_folder_or_index_is_enoent)
{
    ASSERT_EQ(api_static_init("/nonexistent/nova-web"), -ENOENT);
    ASSERT_EQ(api_static_count(), 0);
    make_tree();
    char p[512];
    snprintf(p, sizeof p, "%s/index.html", tmpdir);
    ASSERT_EQ(unlink(p), 0);
    ASSERT_EQ(api_static_init(tmpdir), -ENOENT);
    ASSERT(api_static_lookup("styles.css", 10) == NULL);
    rm_tree();
}

/* A web folder with nothing loadable in it (empty, or only hidden files) is refused like one
 * without index.html; the empty file list must not reach qsort as a NULL array (undefined
 * behaviour that UBSan reports). */
TEST(empty_folder_is_enoent)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nova-static-XXXXXX");
    ASSERT(mkdtemp(tmpdir) != NULL);
    ASSERT_EQ(api_static_init(tmpdir), -ENOENT);
    ASSERT_EQ(api_static_count(), 0);
    put(".hidden", "x");
    ASSERT_EQ(api_static_init(tmpdir), -ENOENT);
    ASSERT_EQ(api_static_count(), 0);
    rm_tree();
}

TEST(env_and_default_folder)
{
    make_tree();
    setenv("NOVA_WEB_DIR", tmpdir, 1);
    ASSERT_EQ(api_static_init(NULL), 5);
    ASSERT_EQ(api_static_init(""), 5);
    unsetenv("NOVA_WEB_DIR");
    api_static_free();
    rm_tree();
    /* The fallback "src/web" is relative to the working directory: the source tree's copy. */
    const char *src = getenv("NOVA_SOURCE_DIR");
    if (!src) TEST_SKIP("NOVA_SOURCE_DIR not set");
    ASSERT_EQ(chdir(src), 0);
    int n = api_static_init(NULL);
    ASSERT(n >= 3);
    ASSERT(api_static_lookup("js/app.js", 9) != NULL);
    ASSERT(api_static_lookup("styles.css", 10) != NULL);
    ASSERT_STREQ(api_static_lookup("index.html", 10)->content_type, "text/html; charset=utf-8");
    api_static_free();
}

TEST(limits)
{
    make_tree();
    /* One file over the per-file limit refuses the whole folder (a misconfigured web dir). */
    char p[512];
    snprintf(p, sizeof p, "%s/big.bin", tmpdir);
    FILE *f = fopen(p, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fseek(f, (long)API_STATIC_MAX_FILE_BYTES, SEEK_SET), 0);
    fputc('x', f);
    fclose(f);
    ASSERT_EQ(api_static_init(tmpdir), -EFBIG);
    ASSERT_EQ(api_static_count(), 0);
    rm_tree();
}

TEST(path_rules)
{
#define OK(s)  ASSERT(api_static_path_ok(s, strlen(s)))
#define BAD(s) ASSERT(!api_static_path_ok(s, strlen(s)))
    OK("index.html");
    OK("js/app.js");
    OK("a/b/c/d/e/f.js");
    OK("logo-1.2_x.svg");
    BAD("");
    BAD("/etc/passwd");
    BAD("../etc/passwd");
    BAD("js/../../x");
    BAD("js/./app.js");
    BAD("..");
    BAD(".");
    BAD(".git/config");
    BAD("js/.hidden");
    BAD("js//app.js");
    BAD("js/");
    BAD("js\\app.js");
    BAD("%2e%2e/x");
    BAD("a b.js");
    BAD("a/b/c/d/e/f/g.js"); /* deeper than API_STATIC_MAX_DEPTH */
    ASSERT(!api_static_path_ok(NULL, 0));
    /* An embedded NUL is not a name character. */
    ASSERT(!api_static_path_ok("a\0b", 3));
#undef OK
#undef BAD
}

TEST(content_types)
{
    ASSERT_STREQ(api_static_content_type("index.html"), "text/html; charset=utf-8");
    ASSERT_STREQ(api_static_content_type("js/app.js"), "text/javascript; charset=utf-8");
    ASSERT_STREQ(api_static_content_type("styles.css"), "text/css; charset=utf-8");
    ASSERT_STREQ(api_static_content_type("logo.svg"), "image/svg+xml");
    ASSERT_STREQ(api_static_content_type("a/B.PNG"), "image/png");
    ASSERT_STREQ(api_static_content_type("noext"), "application/octet-stream");
    ASSERT_STREQ(api_static_content_type("dir.js/file"), "application/octet-stream");
    ASSERT_STREQ(api_static_content_type("x.unknown"), "application/octet-stream");
}

TEST_MAIN({"loads_regular_files_only", loads_regular_files_only},
          {"empty_folder_is_enoent", empty_folder_is_enoent},
          {"etag_is_sha256_prefix_and_tracks_content", etag_is_sha256_prefix_and_tracks_content},
          {"missing_folder_or_index_is_enoent", missing_folder_or_index_is_enoent},
          {"env_and_default_folder", env_and_default_folder}, {"limits", limits},
          {"path_rules", path_rules}, {"content_types", content_types})
