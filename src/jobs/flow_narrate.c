/* flow_narrate: the narration step. The story text is cut into chunks a speech engine accepts
 * (at paragraph, then sentence, then word boundaries), synthesized one chunk after the other,
 * and joined into one MP3 with its word marks by the audio module on the threadpool. The files
 * are named from the job id, so a retried job writes the same names (atomically replaced). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/encode.h"
#include "core/log.h"
#include "jobs/flows_int.h"
#include "media/backend.h"
#include "media/paths.h"
#include "media/store.h"

#define NARRATE__CHUNK 3000 /* bytes per synthesis: below every engine's limit */

struct flows_narration {
    flows_t *f;
    jobs_run_t *run;
    const flows_story_t *st;
    const char *text;
    size_t len;
    size_t nchunks, cur;
    size_t *starts, *lens;
    audio_part_t *parts;
    int16_t **pcm;
    audio_marks_t *marks;
    int rate;
    prov_call_t *call;
    audio_encode_job_t *enc;
    char audio_rel[MEDIA_STORY_PATH_MAX], marks_rel[MEDIA_STORY_PATH_MAX];
    char *audio_abs, *marks_abs;
    flows_narrate_cb cb;
    void *arg;
    bool done;
    int publishing; /* files still to publish to the media backend (s3: upload) */
    bool cancelled;
    int64_t duration_ms;
};

/* The end of a chunk starting at `from`: the last paragraph break, else sentence end, else
 * space within the limit (a UTF-8 boundary as the last resort). */
static size_t narrate__cut(const char *t, size_t from, size_t len)
{
    if (len - from <= NARRATE__CHUNK) return len;
    size_t lim = from + NARRATE__CHUNK, best = 0;
    for (size_t i = lim; i > from + NARRATE__CHUNK / 3; i--)
        if (t[i - 1] == '\n' && t[i - 2] == '\n') return i;
    for (size_t i = lim; i > from + NARRATE__CHUNK / 3 && !best; i--)
        if ((t[i - 1] == '.' || t[i - 1] == '!' || t[i - 1] == '?') && t[i] == ' ') best = i + 1;
    if (best) return best;
    for (size_t i = lim; i > from + NARRATE__CHUNK / 3; i--)
        if (t[i - 1] == ' ') return i;
    size_t i = lim;
    while (i > from + 1 && ((unsigned char)t[i] & 0xC0) == 0x80)
        i--;
    return i;
}

static void narrate__free(flows_narration_t *n)
{
    for (size_t i = 0; i < n->nchunks; i++) {
        free(n->pcm ? n->pcm[i] : NULL);
        if (n->marks) audio_marks_free(&n->marks[i]);
    }
    free(n->pcm);
    free(n->marks);
    free(n->parts);
    free(n->starts);
    free(n->lens);
    free(n->audio_abs);
    free(n->marks_abs);
    free(n);
}

static void narrate__report(flows_narration_t *n, int status, const char *msg, int64_t dur)
{
    if (n->done) return;
    n->done = true;
    flows_narrate_cb cb = n->cb;
    void *arg = n->arg;
    const char *a = status == 0 ? arena_strdup(&n->run->arena, n->audio_rel) : NULL;
    const char *m = status == 0 ? arena_strdup(&n->run->arena, n->marks_rel) : NULL;
    const char *msg_copy = msg ? arena_strdup(&n->run->arena, msg) : NULL;
    narrate__free(n);
    cb(status, msg_copy, a, m, dur, arg);
}

/* The encoder wrote both files below the media root; the backend makes them durable (with S3:
 * uploads them) before the story may point at them. */
static void narrate__published(int status, void *arg)
{
    flows_narration_t *n = arg;
    if (status != 0 || n->cancelled) {
        n->publishing = 0;
        char msg[200];
        snprintf(msg, sizeof msg, "The narration could not be stored: %s.",
                 media_backend_strerror(n->cancelled ? -ECANCELED : status));
        narrate__report(n, n->cancelled ? -ECANCELED : status, msg, 0);
        return;
    }
    if (--n->publishing > 0) {
        int rc = media_store_publish(n->f->cfg.loop, n->f->media_dir, n->marks_rel,
                                     narrate__published, n);
        if (rc != 0) narrate__published(rc, n);
        return;
    }
    narrate__report(n, 0, NULL, n->duration_ms);
}

static void narrate__encoded(int status, const audio_encode_result_t *res, void *arg)
{
    flows_narration_t *n = arg;
    n->enc = NULL;
    if (status != 0) {
        narrate__report(n, status, status == -ECANCELED ? "cancelled" : "MP3 encoding failed", 0);
        return;
    }
    n->duration_ms = (int64_t)res->duration_ms;
    n->publishing = 2;
    int rc =
        media_store_publish(n->f->cfg.loop, n->f->media_dir, n->audio_rel, narrate__published, n);
    if (rc != 0) narrate__published(rc, n);
}

static void narrate__dirs(int status, void *arg)
{
    flows_narration_t *n = arg;
    if (status != 0) {
        narrate__report(n, status, "cannot create the story's media folder", 0);
        return;
    }
    audio_encode_req_t req;
    audio_encode_req_init(&req);
    req.sample_rate = n->rate;
    req.parts = n->parts;
    req.nparts = n->nchunks;
    req.path = n->audio_abs;
    req.marks_path = n->marks_abs;
    req.title = n->st->title;
    req.artist = "Nova Storyteller";
    int rc = audio_encode_submit(n->f->cfg.loop, &req, narrate__encoded, n, &n->enc);
    if (rc != 0) narrate__report(n, rc, "MP3 encoding could not start", 0);
}

static void narrate__next(flows_narration_t *n);

static void narrate__spoken(int status, prov_speech_result_t *res, void *arg)
{
    flows_narration_t *n = arg;
    n->call = NULL;
    if (status != PROV_OK || !res->pcm) {
        char msg[300];
        snprintf(msg, sizeof msg, "narration failed: %s",
                 res->message && *res->message ? res->message : prov_status_name(status));
        narrate__report(n, status != PROV_OK ? status : PROV_E_INTERNAL, msg, 0);
        return;
    }
    size_t i = n->cur;
    if (i > 0 && res->sample_rate != n->rate) {
        narrate__report(n, PROV_E_INTERNAL, "narration parts came at different sample rates", 0);
        return;
    }
    n->rate = res->sample_rate;
    n->pcm[i] = res->pcm;
    res->pcm = NULL;
    n->marks[i] = res->marks;
    audio_marks_init(&res->marks);
    n->parts[i].pcm = n->pcm[i];
    n->parts[i].nsamples = res->nsamples;
    n->parts[i].marks = n->marks[i].items;
    n->parts[i].nmarks = n->marks[i].len;
    n->parts[i].text_offset = (uint32_t)n->starts[i];
    n->cur++;
    jobs_run_progress(n->run, 60 + (int)(30 * n->cur / n->nchunks), "narrating");
    narrate__next(n);
}

static void narrate__next(flows_narration_t *n)
{
    if (n->run->cancel_requested || n->run->lost || n->run->stopping) {
        narrate__report(n, -ECANCELED, "stopped", 0);
        return;
    }
    if (n->cur == n->nchunks) {
        int rc = flows_mkdirs(n->f, n->audio_rel, narrate__dirs, n);
        if (rc != 0) narrate__report(n, rc, "cannot create the story's media folder", 0);
        return;
    }
    providers_t *p = n->f->cfg.providers;
    char *chunk = arena_strndup(&n->run->arena, n->text + n->starts[n->cur], n->lens[n->cur]);
    const char *voice = n->st->voice_id[0] ? n->st->voice_id : NULL;
    int rc =
        prov_speech_synthesize(providers_speech(p), chunk, voice, narrate__spoken, n, &n->call);
    if (rc != 0) narrate__report(n, PROV_E_UNAVAILABLE, "the speech provider is not available", 0);
}

int flows_narrate(flows_t *f, jobs_run_t *run, const flows_story_t *st, flows_narrate_cb cb,
                  void *arg, flows_narration_t **out)
{
    *out = NULL;
    if (!f->cfg.providers) return -ENOTSUP;
    flows_narration_t *n = calloc(1, sizeof *n);
    if (!n) return -ENOMEM;
    n->f = f;
    n->run = run;
    n->st = st;
    n->text = st->text;
    n->len = strlen(st->text);
    n->cb = cb;
    n->arg = arg;
    size_t cap = n->len / (NARRATE__CHUNK / 3) + 2;
    n->starts = calloc(cap, sizeof *n->starts);
    n->lens = calloc(cap, sizeof *n->lens);
    for (size_t at = 0; at < n->len && n->nchunks < cap;) {
        size_t end = narrate__cut(n->text, at, n->len);
        n->starts[n->nchunks] = at;
        n->lens[n->nchunks] = end - at;
        n->nchunks++;
        at = end;
    }
    n->parts = calloc(n->nchunks + 1, sizeof *n->parts);
    n->pcm = calloc(n->nchunks + 1, sizeof *n->pcm);
    n->marks = calloc(n->nchunks + 1, sizeof *n->marks);
    int64_t ts = flows_job_ts(run);
    int rc = 0;
    if (!n->starts || !n->lens || !n->parts || !n->pcm || !n->marks)
        rc = -ENOMEM;
    else if (n->nchunks == 0 ||
             media_path_story_file(n->audio_rel, sizeof n->audio_rel, st->created_unix,
                                   run->story_id, MEDIA_KIND_AUDIO, 0, ts, NULL) < 0 ||
             media_path_story_file(n->marks_rel, sizeof n->marks_rel, st->created_unix,
                                   run->story_id, MEDIA_KIND_MARKS, 0, ts, NULL) < 0)
        rc = -EINVAL;
    if (rc == 0) {
        for (size_t i = 0; i < n->nchunks; i++)
            audio_marks_init(&n->marks[i]);
        if (asprintf(&n->audio_abs, "%s/%s", f->media_dir, n->audio_rel) < 0 ||
            asprintf(&n->marks_abs, "%s/%s", f->media_dir, n->marks_rel) < 0)
            rc = -ENOMEM;
    }
    if (rc != 0) {
        size_t k = n->nchunks;
        n->nchunks = n->marks ? k : 0;
        narrate__free(n);
        return rc;
    }
    *out = n;
    narrate__next(n);
    return 0;
}

void flows_narrate_cancel(flows_narration_t *n)
{
    if (!n || n->done) return;
    if (n->publishing) {
        n->cancelled = true; /* reported by narrate__published */
        return;
    }
    if (n->enc) {
        audio_encode_cancel(n->enc); /* reports -ECANCELED through narrate__encoded */
        return;
    }
    if (n->call) {
        prov_cancel(n->call);
        n->call = NULL;
    }
    narrate__report(n, -ECANCELED, "cancelled", 0);
}
