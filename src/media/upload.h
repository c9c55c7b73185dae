/* upload: the request body of routes that accept files (story and scene images), received as a
 * stream with bounded memory. The route declares an http_body_sink_t whose hooks call
 * media_upload_begin/media_upload_data; its handler then calls media_upload_finish and reads
 * the fields and files.
 *
 * - multipart/form-data is parsed as it arrives (http/multipart.h). Text fields are kept in
 *   memory (bounded by max_fields_bytes). File parts named in file_fields are written to spool
 *   files below <media_dir>/.uploads/ by threadpool jobs (never on the loop), in order, with at
 *   most UPLOAD_MAX_QUEUED bytes waiting: beyond that the body is paused (TCP pushes back).
 *   Files in other fields are read and dropped.
 * - Each accepted file is checked by content with imgsniff as its first bytes arrive: something
 *   that is not a PNG, JPEG, GIF or WebP stops the upload at once with 415. The dimensions are
 *   checked (max_image_side) when the part ends.
 * - A JSON body (Content-Type application/json, or none) is buffered up to max_json_bytes and
 *   handed to the handler as req->body, so http_req_json works as on buffered routes.
 * - Anything else is refused with 415; bodies over max_bytes with 413.
 * The upload belongs to the request: when the request ends, spool files that were not adopted
 * (media_upload_take) are closed and deleted by a threadpool job. */
#ifndef NOVA_MEDIA_UPLOAD_H
#define NOVA_MEDIA_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "media/imgsniff.h"

#define UPLOAD_CHUNK      (64 * 1024)  /* bytes per spool write */
#define UPLOAD_MAX_QUEUED (512 * 1024) /* spool bytes waiting before the body is paused */
#define UPLOAD_SNIFF_MAX  (256 * 1024) /* head of each file kept for the dimension check */

typedef struct {
    uv_loop_t *loop;                /* the request's loop (spool jobs) */
    const char *media_dir;          /* must outlive the request (the process config) */
    uint64_t max_bytes;             /* whole body; more gives 413 */
    size_t max_json_bytes;          /* JSON bodies */
    size_t max_fields_bytes;        /* sum of the text fields of a multipart body; 0 = 1 MiB */
    uint32_t max_image_side;        /* 0 = IMGSNIFF_DEFAULT_MAX_SIDE */
    const char *const *file_fields; /* NULL-terminated names of accepted image fields (static) */
} media_upload_config_t;

/* An accepted file. Strings are owned by the upload and valid until the request ends. */
typedef struct {
    const char *field;
    const char *filename;      /* as sent (display hint only), may be "" */
    const char *declared_type; /* the part's Content-Type, may be NULL; never trusted */
    char spool[64];            /* path relative to the media root (media_store_adopt) */
    uint64_t size;
    imgsniff_info_t image; /* type, mime, extension and dimensions found by content */
} media_upload_file_t;

/* Body sink hooks: call them from the route's begin/data hooks. cfg is copied. Return 0 or an
 * HTTP status after http_req_body_error (as http_body_sink_t requires). */
int media_upload_begin(http_req_t *req, const media_upload_config_t *cfg);
int media_upload_data(http_req_t *req, const char *at, size_t len);

/* Completion, from the route handler: waits for the spool writes, checks that a multipart body
 * ended with its close delimiter and that every file is a valid image, then calls
 * done(req, 0, NULL), or done(req, status, detail) with 400 (truncated or malformed body, empty
 * file), 413, 415 (not an image, too large dimensions) or 500/507 (spool write failed). A
 * request without a body (no sink begin) completes with 0 too. detail lives in the arena. */
typedef void (*media_upload_done_fn)(http_req_t *req, int status, const char *detail);
void media_upload_finish(http_req_t *req, media_upload_done_fn done);

/* After a successful finish. */
bool media_upload_is_multipart(const http_req_t *req);
/* The value of a text field (the last one when repeated), NULL when absent. */
const char *media_upload_field(const http_req_t *req, const char *name);
/* The file of a field, NULL when absent (a file input left empty counts as absent). */
const media_upload_file_t *media_upload_file(const http_req_t *req, const char *name);
/* Marks a file as moved away (media_store_adopt succeeded), so it is not deleted at the end. */
void media_upload_take(http_req_t *req, const char *name);

#endif
