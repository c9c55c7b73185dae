/* store: the local media storage below NOVA_MEDIA_DIR, for the loop thread. Every filesystem
 * call runs on the libuv threadpool (uv_queue_work), never on the loop; callbacks run on the
 * loop thread. Owns:
 *  - the root directory (created when missing, opened once per process and kept open);
 *  - the upload spool `<root>/.uploads/`, a dot folder that media_path_sanitize never serves,
 *    on the same filesystem as the final files so that adopting an upload is a rename;
 *  - durable placement: files reach their final path through fsync + rename + directory fsync,
 *    so readers see the old file or the whole new one;
 *  - removal (single files, or a story's whole folder) for use after the database no longer
 *    points at the files ("delete after commit").
 * Paths are relative to the root and checked (no "..", no absolute paths, never through a
 * symlink: media_open_beneath rules).
 *
 * With the s3 backend installed (media/backend.h, NOVA_MEDIA_BACKEND=s3) the same calls keep
 * their contracts but the durable copy is the S3 object <prefix><relpath>: adopt uploads the
 * spool file and removes it, write uploads the bytes, publish uploads a file that was written
 * below the root by other means (the narration encoder) and removes it, remove and
 * remove_story delete objects. Their callbacks report success only once the object is stored,
 * so callers keep committing the database after the callback and deleting after the commit.
 * media_store_open stays local (api/media.c reads objects itself). */
#ifndef NOVA_MEDIA_STORE_H
#define NOVA_MEDIA_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uv.h>

/* Folder of upload spool files, relative to the root. */
#define MEDIA_STORE_SPOOL ".uploads"

/* status: 0 or a negative errno. */
typedef void (*media_store_cb)(int status, void *arg);
/* fd >= 0 (the caller owns it and closes it) with its fstat, or a negative errno and st NULL. */
typedef void (*media_store_open_cb)(int fd, const struct stat *st, void *arg);

/* BLOCKING (threadpool only): the root directory fd for media_dir, created (with parents) and
 * opened on first use, then cached for the life of the process. Returns the fd (never close
 * it) or a negative errno. One media_dir per process. */
int media_store__root(const char *media_dir);

/* BLOCKING (threadpool only): creates a new empty spool file with a random name; writes the
 * path relative to the root into rel (cap >= 64) and returns an fd opened for writing, or a
 * negative errno. */
int media_store__spool_create(const char *media_dir, char *rel, size_t cap);

/* BLOCKING (threadpool only): removes relpath below the root fd (a missing file or folder is not
 * an error). Returns 0 or a negative errno. */
int media_store__unlink(int root, const char *relpath);

/* Moves the spool file spool_rel (as written by media_store__spool_create) to relpath: fsync of
 * the file, parent folders created, rename, fsync of the folder. */
int media_store_adopt(uv_loop_t *loop, const char *media_dir, const char *spool_rel,
                      const char *relpath, media_store_cb cb, void *arg);

/* Writes len bytes to relpath atomically and durably (media_file_write_atomic). data must stay
 * valid until cb runs (the store does not copy it). */
int media_store_write(uv_loop_t *loop, const char *media_dir, const char *relpath, const void *data,
                      size_t len, media_store_cb cb, void *arg);

/* Removes the n files (paths copied; NULL or empty entries skipped; missing files are not an
 * error). cb may be NULL. */
int media_store_remove(uv_loop_t *loop, const char *media_dir, const char *const *relpaths,
                       size_t n, media_store_cb cb, void *arg);

/* Removes the folder of a story (YYYY/MM/<uuid>/, computed from its creation time) with
 * everything in it, two levels deep (files and scenes/). cb may be NULL. */
int media_store_remove_story(uv_loop_t *loop, const char *media_dir, int64_t created_at_unix,
                             const char *story_uuid, media_store_cb cb, void *arg);

/* Makes relpath, already written below the root, durable in the backend: local: nothing to do
 * (cb(0) from the loop); s3: uploads it and removes the local file. */
int media_store_publish(uv_loop_t *loop, const char *media_dir, const char *relpath,
                        media_store_cb cb, void *arg);

/* Opens relpath read-only (regular files only; -ENOENT otherwise) and fstats it. */
int media_store_open(uv_loop_t *loop, const char *media_dir, const char *relpath,
                     media_store_open_cb cb, void *arg);

/* The folder of a story relative to the root ("YYYY/MM/<uuid>"); returns the length or a
 * negative errno. */
int media_store_story_dir(char *buf, size_t cap, int64_t created_at_unix, const char *story_uuid);

#endif
