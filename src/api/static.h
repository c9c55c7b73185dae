/* static: the browser app's files (src/web) served from memory. At start-up, before the loop
 * serves, api_static_init reads every regular file under one folder into a process-wide table
 * with its Content-Type and a strong ETag (the first 128 bits of its SHA-256, hex); afterwards the
 * table is read-only, so the handlers run on the loop without touching the disk.
 *
 * URLs: GET / answers index.html; GET /assets/<relative path> answers that file. Both carry ETag
 * and "Cache-Control: no-cache" (the browser revalidates and gets 304 while nothing changed), and
 * If-None-Match is honoured (http/range's weak comparison). Paths with "..", ".", empty segments,
 * backslashes, percent signs or hidden names are rejected (404) before the lookup; the lookup
 * itself is an exact match in the table, so nothing outside the loaded folder can ever be answered.
 * Symbolic links are not followed while loading. The module owns the table; api_static_free
 * releases it. */
#ifndef NOVA_API_STATIC_H
#define NOVA_API_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* Limits of what is loaded: the web app is a few hundred KiB. */
#define API_STATIC_MAX_FILES      512
#define API_STATIC_MAX_FILE_BYTES (8u << 20)
#define API_STATIC_MAX_TOTAL      (64u << 20)
#define API_STATIC_MAX_DEPTH      6
#define API_STATIC_ETAG_LEN       34 /* '"' + 32 hex digits + '"' */

typedef struct {
    const char *path;         /* relative to the folder, '/'-separated: "js/app.js" */
    const char *content_type; /* static string */
    const unsigned char *data;
    size_t len;
    char etag[API_STATIC_ETAG_LEN + 1];
} api_static_file_t;

/* Loads every file under dir (blocking reads: call before serving). dir NULL or "" means
 * getenv("NOVA_WEB_DIR"), else "src/web" relative to the working directory. Replaces a previous
 * table. Returns the number of files loaded (>= 0), -ENOENT when the folder is missing or holds
 * no index.html (the table is then empty and every static URL answers 404), -EFBIG / -EMFILE
 * when a limit above is exceeded, or another negative errno. */
int api_static_init(const char *dir);
void api_static_free(void);

/* The loaded file at a relative path, or NULL. The pointer stays valid until api_static_free. */
const api_static_file_t *api_static_lookup(const char *relpath, size_t len);
size_t api_static_count(void);

/* True when rel (relative, no leading '/') is an acceptable file path: non-empty segments of
 * [A-Za-z0-9._-] that do not start with '.', at most API_STATIC_MAX_DEPTH segments. */
bool api_static_path_ok(const char *rel, size_t len);

/* Content-Type for a file name by its extension (application/octet-stream when unknown). */
const char *api_static_content_type(const char *name);

/* Handlers: GET/HEAD / (index.html) and GET/HEAD /assets/... (any depth the routes allow). */
void api_static_index(http_req_t *req);
void api_static_asset(http_req_t *req);

#endif
