/* flows: the generation jobs of the story pipeline, on top of the job engine, the providers and
 * the media store.
 *   create      describe the uploaded picture -> write the story (streamed) -> character sheet
 *               and questions -> narrate -> ready
 *   regenerate  (describe if missing) -> rewrite (the old text becomes a revision once the new
 *               text exists; scenes become stale) -> narrate -> ready
 *   audio       narrate with the story's voice -> ready
 *   scenes      parse the parts -> one "scene" child job per part -> settles when they end
 *   scene       one picture: prompt -> image provider -> file -> the scene row points at it
 * Each step saves its result and a checkpoint in one transaction that holds the job, so a
 * retried or resumed job skips finished steps; media files are named from the job id, so a
 * retry overwrites its own file instead of adding one, and a replaced file is removed only
 * after the database points at its successor. A step that fails for good leaves the story in
 * `failed` with the reason in status_detail; its text is never replaced by an error.
 *
 * Child safety (issue 12): the prompt, modifications, title and picture description pass the
 * content screen before a model sees them (rewritten, or replaced by a gentle fallback theme);
 * streamed text is screened sentence by sentence before a delta is sent; the finished text is
 * screened on the threadpool and a blocked one (or one a model's filter or Bedrock Guardrails
 * stopped) is written again once, then replaced by a story the offline composer writes from a
 * fallback theme. The story keeps a `safety` record of what happened. Scene prompts carry the
 * story's character sheet, its seed, child-safe style words and a negative prompt; a picture
 * refused by the image model's moderation is recorded on the scene and tried once more with a
 * softened prompt. */
#ifndef NOVA_JOBS_FLOWS_H
#define NOVA_JOBS_FLOWS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "jobs/jobs.h"

typedef struct providers providers_t;
typedef struct safety safety_t;

typedef struct {
    uv_loop_t *loop;
    db_pool_t *db;
    providers_t *providers; /* NULL: every generation job fails with a clear message */
    const char *media_dir;
    int image_max_inflight;
    /* Signed URL of a media path for events ("" base = relative URL); writes into out. */
    void (*media_url)(void *arg, const char *relpath, char *out, size_t cap);
    void *media_url_arg;
    /* Testing aids, off in production (set only with NOVA_BENCH_ROUTES): a delay added to
     * every picture, and a word that makes a scene's picture fail for good. */
    int test_image_delay_ms;
    const char *test_image_fail_word;
    /* The content screen (issue 12), borrowed: it must outlive the flows. NULL = every prompt
     * is replaced by a gentle fallback theme (the screen fails closed). */
    const safety_t *safety;
} flows_config_t;

typedef struct flows flows_t;

/* Registers the five handlers on e. The config is copied (strings too). */
int flows_register(jobs_engine_t *e, const flows_config_t *cfg, flows_t **out);
void flows_free(flows_t *f);

/* The kinds, for enqueueing. */
#define FLOW_CREATE     "create"
#define FLOW_REGENERATE "regenerate"
#define FLOW_AUDIO      "audio"
#define FLOW_SCENES     "scenes"
#define FLOW_SCENE      "scene"

#endif
