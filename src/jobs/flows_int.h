/* Internals shared by the flow_*.c files. */
#ifndef NOVA_JOBS_FLOWS_INT_H
#define NOVA_JOBS_FLOWS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "jobs/flows.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "safety/safety.h"

typedef struct flows__waiter flows__waiter_t;

struct flows {
    flows_config_t cfg;
    char *media_dir;
    char *fail_word;
    const safety_t *safety; /* cfg.safety (NULL: every prompt becomes a fallback theme) */
    /* Pictures in flight in this process, and the runs waiting for a slot (FIFO). */
    int images_inflight;
    flows__waiter_t *wait_head, *wait_tail;
};

/* The story row and the owner's settings, loaded at the start of a story or scene job. Strings
 * live in the run's arena. */
typedef struct {
    int64_t user_id, created_unix;
    const char *title, *prompt, *template_name, *text, *image, *image_description, *voice_id,
        *language_code, *modifications, *audio_file, *marks_file, *status;
    const char *characters; /* the character sheet, a JSON array ("[]" when none) */
    const char *age_range, *language_level, *moral_theme;
    int max_word_count, story_parts;
    bool sound_effects, questions, explain_words;
} flows_story_t;

/* Loads the story of run (run->story_id). cb gets 0, -ENOENT (deleted) or a DB status. */
typedef void (*flows_story_cb)(jobs_run_t *run, int status, flows_story_t *st, void *arg);
void flows_story_load(flows_t *f, jobs_run_t *run, flows_story_cb cb, void *arg);

/* Fills a provider spec from the story and its settings (strings borrowed from st). */
void flows_story_spec(const flows_story_t *st, prov_story_spec_t *spec);

/* Reads a media file (relative path) into memory off the loop; cb gets 0 with data (malloc'd,
 * the callback owns it) or a negative errno. At most max bytes. */
typedef void (*flows_read_cb)(int status, uint8_t *data, size_t len, void *arg);
int flows_file_read(flows_t *f, const char *relpath, size_t max, flows_read_cb cb, void *arg);

/* Creates the folders of a relative file path (mkdir -p of its parent) off the loop. */
typedef void (*flows_status_cb)(int status, void *arg);
int flows_mkdirs(flows_t *f, const char *relpath, flows_status_cb cb, void *arg);

/* Deterministic per-job number used in file names ("audio_<n>.mp3"): a retry of the same job
 * writes the same name, another job another one. */
int64_t flows_job_ts(const jobs_run_t *run);

/* Removes replaced media files (after the database points at their successors). */
void flows_remove_files(flows_t *f, const char *a, const char *b);

/* The seed of every picture of a story: one per story keeps its pages in one style and lets
 * a seeded model draw its characters alike. */
int64_t flows_story_seed(const char *story_id);

/* Signed URL of a media path into the run's arena ("" when relpath is empty). */
const char *flows_media_url(flows_t *f, jobs_run_t *run, const char *relpath);

/* Picture slots: flows_image_acquire calls cb(arg) now or when a slot frees (FIFO). */
void flows_image_acquire(flows_t *f, flows__waiter_t *w, void (*cb)(void *arg), void *arg);
void flows_image_release(flows_t *f);
/* Removes a waiter that has not been called yet (cancellation). */
void flows_image_forget(flows_t *f, flows__waiter_t *w);

struct flows__waiter {
    flows__waiter_t *next;
    void (*cb)(void *arg);
    void *arg;
    bool queued;
};

/* The text of a finished generator in the arena; frees g. */
#include <yajl/yajl_gen.h>
const char *flows_gen_string(yajl_gen g, arena_t *a);

/* Handlers. */
extern const jobs_handler_t flows__create_handler, flows__regenerate_handler, flows__audio_handler,
    flows__scenes_handler, flows__scene_handler;
void flows__story_start(jobs_run_t *run);
void flows__story_cancel(jobs_run_t *run);
void flows__story_dead(jobs_engine_t *e, const jobs_dead_t *d, void *ctx);
void flows__scenes_start(jobs_run_t *run);
void flows__scenes_cancel(jobs_run_t *run);
void flows__scene_start(jobs_run_t *run);
void flows__scene_cancel(jobs_run_t *run);
void flows__scene_dead(jobs_engine_t *e, const jobs_dead_t *d, void *ctx);

/* Narration (flow_narrate.c): synthesizes text in chunks and encodes one MP3 with its marks.
 * cb gets 0 and the paths/duration, or an error with a message. */
typedef struct flows_narration flows_narration_t;
typedef void (*flows_narrate_cb)(int status, const char *message, const char *audio_path,
                                 const char *marks_path, int64_t duration_ms, void *arg);
int flows_narrate(flows_t *f, jobs_run_t *run, const flows_story_t *st, flows_narrate_cb cb,
                  void *arg, flows_narration_t **out);
void flows_narrate_cancel(flows_narration_t *n);

#endif
