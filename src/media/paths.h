/* paths: the media folder layout and safe access to it. Owns three things:
 * 1. The layout of story files relative to the media root:
 *      YYYY/MM/<story-uuid>/image_<ts>.<ext>
 *      YYYY/MM/<story-uuid>/audio_<ts>.mp3
 *      YYYY/MM/<story-uuid>/scenes/scene_<n>_<ts>.png
 *      YYYY/MM/<story-uuid>/marks_<ts>.json
 *    (YYYY/MM from the story's creation time in UTC, so a story's files never move.)
 * 2. Turning a request path into a relative path that cannot leave the media folder
 *    (media_path_sanitize), and opening it without following symlinks (media_open_beneath).
 * 3. A blocking atomic file writer for threadpool jobs (media_file_write_atomic).
 *
 * Defence in depth for serving: sanitize rejects anything outside a strict character set, so
 * "..", absolute paths, encoded separators and Unicode look-alikes never reach the filesystem;
 * media_open_beneath then resolves the path with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
 * (Linux >= 5.6), or, where openat2 is missing or filtered, walks the components with
 * O_NOFOLLOW so that a symlink planted inside the media folder cannot point outside it.
 * Temp files of the atomic writer start with '.', so sanitize refuses to serve them. */
#ifndef NOVA_MEDIA_PATHS_H
#define NOVA_MEDIA_PATHS_H

#include <stddef.h>
#include <stdint.h>

/* Longest relative path media_path_sanitize accepts (bytes, without NUL); buffers passed to it
 * need MEDIA_PATH_MAX + 1 bytes. */
#define MEDIA_PATH_MAX       255
#define MEDIA_PATH_SEGMENTS  8   /* deepest accepted path */
#define MEDIA_STORY_PATH_MAX 128 /* buffer size always enough for media_path_story_file */

typedef enum {
    MEDIA_KIND_IMAGE = 0, /* image_<ts>.<ext>, ext required (e.g. "png", "jpg", "webp") */
    MEDIA_KIND_AUDIO,     /* audio_<ts>.mp3 */
    MEDIA_KIND_SCENE,     /* scenes/scene_<n>_<ts>.png */
    MEDIA_KIND_MARKS,     /* marks_<ts>.json (speech marks / timings) */
} media_kind_t;

/* Builds the relative path of a story file. story_uuid must be a canonical 36-character UUID
 * (hex digits lowercased in the output); ts >= 0 (the caller's timestamp, e.g. Unix ms);
 * scene_n is used only for MEDIA_KIND_SCENE. ext: required for images (1..8 of [a-z0-9],
 * lowercased); for the other kinds NULL or exactly their fixed extension. Returns the length,
 * -EINVAL on bad input, -ERANGE when created_at is outside years 1970..9999, -ENOSPC. */
int media_path_story_file(char *buf, size_t cap, int64_t created_at_unix, const char *story_uuid,
                          media_kind_t kind, unsigned scene_n, int64_t ts, const char *ext);

/* Decodes a URL path (the part after the media route prefix, e.g. "2024/05/<uuid>/a.png") and
 * writes the relative path to out (cap >= MEDIA_PATH_MAX + 1). Accepted: segments of
 * [A-Za-z0-9._-] separated by single literal '/', not starting with '.', at most
 * MEDIA_PATH_SEGMENTS segments and MEDIA_PATH_MAX bytes. Everything else is refused: invalid or
 * encoded-NUL escapes, encoded '/', backslashes, empty segments (leading, trailing or double
 * slash), "." / ".." / dotfiles, non-ASCII bytes, control characters, query or fragment
 * characters. Returns 0, -EINVAL (refused) or -ENAMETOOLONG. */
int media_path_sanitize(const char *url_path, char *out, size_t cap);

/* Opens relpath below root_dirfd without following any symlink and without leaving the root,
 * with O_CLOEXEC and O_NOFOLLOW added to flags (O_CREAT creates with mode 0640). relpath must be
 * relative, without empty, "." or ".." segments. BLOCKING (filesystem metadata): call it from a
 * threadpool job. Returns an fd (caller closes) or a negative errno: -ELOOP (a symlink on the
 * path), -EXDEV (escape attempt), -ENOENT, -EINVAL (bad relpath), ... */
int media_open_beneath(int root_dirfd, const char *relpath, int flags);

/* The component-walking fallback of media_open_beneath, exported for tests (which must cover it
 * on kernels that do have openat2). */
int media__open_beneath_walk(int root_dirfd, const char *relpath, int flags);

/* Opens the folder dir below root_dirfd, creating what is missing (mode 0750, never through a
 * symlink, new folders fsynced into their parent). dir follows the relpath rules above.
 * BLOCKING: threadpool only. Returns a directory fd (caller closes) or a negative errno. */
int media_open_dirs_beneath(int root_dirfd, const char *dir);

/* Writes data to relpath below root_dirfd atomically and durably: missing parent directories are
 * created (mode 0750, never through symlinks), the bytes go to a temp file ".<name>.tmp.*" in
 * the target directory (mode 0640), which is fsynced, renamed over relpath, and the directory is
 * fsynced. Readers see the old file or the complete new one, never a partial one. BLOCKING:
 * call it from a threadpool job (uv_queue_work). Returns 0 or a negative errno. */
int media_file_write_atomic(int root_dirfd, const char *relpath, const void *data, size_t len);

/* The Content-Type of a media file from its extension ("image/png", "audio/mpeg", ...;
 * application/octet-stream when unknown). */
const char *media_content_type(const char *relpath);

#endif
