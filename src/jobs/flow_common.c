/* flow_common: what the flows share: registration, loading a story with its owner's settings,
 * file reads and folder creation on the threadpool, per-job file names, the picture slots. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "jobs/flows_int.h"
#include "media/backend.h"
#include "media/paths.h"
#include "media/store.h"

int flows_register(jobs_engine_t *e, const flows_config_t *cfg, flows_t **out)
{
    flows_t *f = calloc(1, sizeof *f);
    if (!f) return -ENOMEM;
    f->cfg = *cfg;
    f->media_dir = strdup(cfg->media_dir ? cfg->media_dir : ".");
    f->fail_word = cfg->test_image_fail_word && *cfg->test_image_fail_word
                       ? strdup(cfg->test_image_fail_word)
                       : NULL;
    if (!f->media_dir) {
        free(f);
        return -ENOMEM;
    }
    f->cfg.media_dir = f->media_dir;
    f->cfg.test_image_fail_word = f->fail_word;
    f->safety = cfg->safety;
    if (!f->safety)
        log_warn("flows", "no content screen loaded: every prompt becomes a fallback theme");
    if (f->cfg.image_max_inflight < 1) f->cfg.image_max_inflight = 1;
    const jobs_handler_t *hs[] = {&flows__create_handler, &flows__regenerate_handler,
                                  &flows__audio_handler, &flows__scenes_handler,
                                  &flows__scene_handler};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        jobs_handler_t h = *hs[i];
        h.ctx = f;
        int rc = jobs_register(e, &h);
        if (rc != 0) {
            flows_free(f);
            return rc;
        }
    }
    *out = f;
    return 0;
}

void flows_free(flows_t *f)
{
    if (!f) return;
    free(f->media_dir);
    free(f->fail_word);
    free(f);
}

const char *flows_gen_string(yajl_gen g, arena_t *a)
{
    const unsigned char *out;
    size_t len;
    yajl_gen_get_buf(g, &out, &len);
    const char *s = arena_strndup(a, (const char *)out, len);
    yajl_gen_free(g);
    return s;
}

/* ---- story row ------------------------------------------------------------------------------ */

static const char flows__story_sql[] =
    "SELECT s.user_id, s.title, s.prompt, s.template, s.story_text, coalesce(s.image, '') AS "
    "image, s.image_description, s.voice_id, s.language_code, s.modifications, s.status, "
    "extract(epoch FROM s.created_at)::bigint AS created_unix, coalesce(s.audio_file, '') AS "
    "audio_file, coalesce(s.marks_file, '') AS marks_file, "
    "coalesce(st.age_range, '6-8') AS age_range, coalesce(st.language_level, 'moderate') AS "
    "language_level, coalesce(st.moral_theme, 'mixed') AS moral_theme, "
    "coalesce(st.max_word_count, 800) AS max_word_count, coalesce(st.story_parts, 5) AS "
    "story_parts, coalesce(st.include_sound_effects, true) AS sfx, "
    "coalesce(st.include_interactive_questions, true) AS questions, "
    "coalesce(st.explain_complex_words, true) AS explain, s.characters::text AS characters "
    "FROM stories s LEFT JOIN user_story_settings st ON st.user_id = s.user_id WHERE s.id = $1";

typedef struct {
    jobs_run_t *run;
    flows_story_cb cb;
    void *arg;
} flows__load_t;

static const char *flows__col(jobs_run_t *run, const db_result_t *res, const char *name)
{
    const char *v = db_result_get_by_name(res, 0, name);
    return arena_strdup(&run->arena, v ? v : "");
}

static void flows__story_loaded(db_result_t *res, void *arg)
{
    flows__load_t *l = arg;
    jobs_run_t *run = l->run;
    flows_story_cb cb = l->cb;
    void *cb_arg = l->arg;
    free(l);
    int st = db_result_status(res);
    if (st != DB_OK) {
        cb(run, st, NULL, cb_arg);
        return;
    }
    if (db_result_nrows(res) != 1) {
        cb(run, -ENOENT, NULL, cb_arg);
        return;
    }
    flows_story_t *s = arena_calloc(&run->arena, sizeof *s);
    s->user_id = strtoll(db_result_get_by_name(res, 0, "user_id"), NULL, 10);
    s->created_unix = strtoll(db_result_get_by_name(res, 0, "created_unix"), NULL, 10);
    s->title = flows__col(run, res, "title");
    s->prompt = flows__col(run, res, "prompt");
    s->template_name = flows__col(run, res, "template");
    s->text = flows__col(run, res, "story_text");
    s->image = flows__col(run, res, "image");
    s->image_description = flows__col(run, res, "image_description");
    s->voice_id = flows__col(run, res, "voice_id");
    s->language_code = flows__col(run, res, "language_code");
    s->modifications = flows__col(run, res, "modifications");
    s->status = flows__col(run, res, "status");
    s->characters = flows__col(run, res, "characters");
    s->audio_file = flows__col(run, res, "audio_file");
    s->marks_file = flows__col(run, res, "marks_file");
    s->age_range = flows__col(run, res, "age_range");
    s->language_level = flows__col(run, res, "language_level");
    s->moral_theme = flows__col(run, res, "moral_theme");
    s->max_word_count = db_result_int(res, 0, "max_word_count", 0);
    s->story_parts = db_result_int(res, 0, "story_parts", 0);
    s->sound_effects = db_result_get_by_name(res, 0, "sfx")[0] == 't';
    s->questions = db_result_get_by_name(res, 0, "questions")[0] == 't';
    s->explain_words = db_result_get_by_name(res, 0, "explain")[0] == 't';
    /* What the request asked for travels in the payload: the story row is updated when the job
     * is created, but the job must not depend on that statement having run first. */
    static const char *const asked[] = {"prompt", "template", "voice_id"};
    const char **into[] = {&s->prompt, &s->template_name, &s->voice_id};
    for (size_t i = 0; i < sizeof asked / sizeof *asked; i++) {
        const char *v = json_get_str(run->payload, asked[i]);
        if (v && *v) *into[i] = arena_strdup(&run->arena, v);
    }
    cb(run, 0, s, cb_arg);
}

void flows_story_load(flows_t *f, jobs_run_t *run, flows_story_cb cb, void *arg)
{
    flows__load_t *l = malloc(sizeof *l);
    const char *params[1] = {run->story_id};
    if (!l) {
        cb(run, -ENOMEM, NULL, arg);
        return;
    }
    l->run = run;
    l->cb = cb;
    l->arg = arg;
    if (db_query(f->cfg.db, flows__story_sql, 1, params, flows__story_loaded, l, NULL) != 0) {
        free(l);
        cb(run, DB_E_CLOSED, NULL, arg);
    }
}

void flows_story_spec(const flows_story_t *st, prov_story_spec_t *spec)
{
    prov_story_spec_defaults(spec);
    spec->prompt = st->prompt;
    spec->template_name = st->template_name;
    spec->image_description = st->image_description[0] ? st->image_description : NULL;
    int a = 0, b = 0;
    /* The column's CHECK allows only '3-5', '6-8' and '9-12': no number here can overflow. */
    if (sscanf(st->age_range, "%d-%d", &a, &b) == 2 && a > 0 && b >= a) { // NOLINT(cert-err34-c)
        spec->age_min = a;
        spec->age_max = b;
    }
    if (st->max_word_count > 0) {
        int w = st->max_word_count;
        if (w < PROV_STORY_MIN_WORDS) w = PROV_STORY_MIN_WORDS;
        if (w > PROV_STORY_MAX_WORDS) w = PROV_STORY_MAX_WORDS;
        spec->target_words = w;
    }
    if (st->story_parts > 0)
        spec->parts =
            st->story_parts > PROV_STORY_MAX_PARTS ? PROV_STORY_MAX_PARTS : st->story_parts;
    /* "mixed" leaves the lesson to the writer. */
    spec->moral = strcmp(st->moral_theme, "mixed") == 0 ? NULL : st->moral_theme;
    spec->language_level =
        strcmp(st->language_level, "moderate") == 0 ? "intermediate" : st->language_level;
    spec->sound_effects = st->sound_effects;
    spec->questions = st->questions;
    spec->explain_words = st->explain_words;
    static __thread char lang[8];
    size_t n = 0;
    while (st->language_code[n] && st->language_code[n] != '-' && n + 1 < sizeof lang) {
        lang[n] = st->language_code[n];
        n++;
    }
    lang[n] = '\0';
    spec->language = n ? lang : "en";
}

/* ---- files on the threadpool ------------------------------------------------------------- */

typedef struct {
    uv_work_t w;
    char *media_dir, *rel;
    size_t max;
    int status;
    uint8_t *data;
    size_t len;
    flows_read_cb cb;
    flows_status_cb scb;
    void *arg;
} flows__fs_t;

static void flows__read_work(uv_work_t *w)
{
    flows__fs_t *j = w->data;
    int root = media_store__root(j->media_dir);
    if (root < 0) {
        j->status = root;
        return;
    }
    int fd = media_open_beneath(root, j->rel, O_RDONLY);
    if (fd < 0) {
        j->status = fd;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > j->max) {
        j->status = -EFBIG;
        close(fd);
        return;
    }
    j->data = malloc((size_t)st.st_size + 1);
    if (!j->data) {
        j->status = -ENOMEM;
        close(fd);
        return;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, j->data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    j->len = got;
    j->status = 0;
}

static void flows__fs_free(flows__fs_t *j)
{
    free(j->media_dir);
    free(j->rel);
    free(j);
}

static void flows__read_done(uv_work_t *w, int status)
{
    flows__fs_t *j = w->data;
    if (status != 0 && j->status == 0) j->status = status;
    uint8_t *data = j->data;
    if (j->status != 0) {
        free(data);
        data = NULL;
    }
    j->cb(j->status, data, j->len, j->arg);
    flows__fs_free(j);
}

int flows_file_read(flows_t *f, const char *relpath, size_t max, flows_read_cb cb, void *arg)
{
    /* With S3 media the file is an object (possibly stored by another instance). */
    media_backend_t *mb = media_backend_current();
    if (mb) return media_backend_read(mb, relpath, max, cb, arg);
    flows__fs_t *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    j->media_dir = strdup(f->media_dir);
    j->rel = strdup(relpath);
    j->max = max;
    j->cb = cb;
    j->arg = arg;
    j->w.data = j;
    if (!j->media_dir || !j->rel) {
        flows__fs_free(j);
        return -ENOMEM;
    }
    int rc = uv_queue_work(f->cfg.loop, &j->w, flows__read_work, flows__read_done);
    if (rc != 0) flows__fs_free(j);
    return rc;
}

static void flows__mkdirs_work(uv_work_t *w)
{
    flows__fs_t *j = w->data;
    /* The folder of the file, made the way the store makes its folders (beneath the root,
     * never through a symlink, new entries fsynced). */
    char *slash = strrchr(j->rel, '/');
    if (!slash) {
        j->status = 0;
        return;
    }
    *slash = '\0';
    int root = media_store__root(j->media_dir);
    int fd = root < 0 ? root : media_open_dirs_beneath(root, j->rel);
    *slash = '/';
    if (fd >= 0) close(fd);
    j->status = fd < 0 ? fd : 0;
}

static void flows__mkdirs_done(uv_work_t *w, int status)
{
    flows__fs_t *j = w->data;
    if (status != 0 && j->status == 0) j->status = status;
    j->scb(j->status, j->arg);
    flows__fs_free(j);
}

int flows_mkdirs(flows_t *f, const char *relpath, flows_status_cb cb, void *arg)
{
    flows__fs_t *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    j->media_dir = strdup(f->media_dir);
    j->rel = strdup(relpath);
    j->scb = cb;
    j->arg = arg;
    j->w.data = j;
    if (!j->media_dir || !j->rel || strstr(relpath, "..")) {
        flows__fs_free(j);
        return -EINVAL;
    }
    int rc = uv_queue_work(f->cfg.loop, &j->w, flows__mkdirs_work, flows__mkdirs_done);
    if (rc != 0) flows__fs_free(j);
    return rc;
}

int64_t flows_job_ts(const jobs_run_t *run)
{
    /* 40 bits of the job's random id: the size of a millisecond timestamp, unique per job. */
    int64_t v = 0;
    for (const char *p = run->id; *p && v < (1LL << 40); p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d >= 0) v = v * 16 + d;
    }
    return v;
}

void flows_remove_files(flows_t *f, const char *a, const char *b)
{
    const char *paths[2] = {a && *a ? a : NULL, b && *b ? b : NULL};
    if (paths[0] || paths[1]) media_store_remove(f->cfg.loop, f->media_dir, paths, 2, NULL, NULL);
}

int64_t flows_story_seed(const char *story_id)
{
    /* FNV-1a of the id, folded into 31 bits: every image model takes a seed that small. */
    uint64_t seed = 1469598103934665603ull;
    for (const char *c = story_id; c && *c; c++)
        seed = (seed ^ (uint8_t)*c) * 1099511628211ull;
    return (int64_t)(seed >> 33);
}

const char *flows_media_url(flows_t *f, jobs_run_t *run, const char *relpath)
{
    if (!relpath || !*relpath || !f->cfg.media_url) return "";
    char out[4096]; /* presigned S3 URLs with a session token run past 1 KB */
    out[0] = '\0';
    f->cfg.media_url(f->cfg.media_url_arg, relpath, out, sizeof out);
    return arena_strdup(&run->arena, out);
}

/* ---- picture slots --------------------------------------------------------------------------- */

void flows_image_acquire(flows_t *f, flows__waiter_t *w, void (*cb)(void *arg), void *arg)
{
    w->cb = cb;
    w->arg = arg;
    w->next = NULL;
    if (f->images_inflight < f->cfg.image_max_inflight && !f->wait_head) {
        f->images_inflight++;
        w->queued = false;
        cb(arg);
        return;
    }
    w->queued = true;
    if (f->wait_tail)
        f->wait_tail->next = w;
    else
        f->wait_head = w;
    f->wait_tail = w;
}

void flows_image_release(flows_t *f)
{
    f->images_inflight--;
    while (f->wait_head && f->images_inflight < f->cfg.image_max_inflight) {
        flows__waiter_t *w = f->wait_head;
        f->wait_head = w->next;
        if (!f->wait_head) f->wait_tail = NULL;
        w->queued = false;
        f->images_inflight++;
        w->cb(w->arg);
    }
}

void flows_image_forget(flows_t *f, flows__waiter_t *w)
{
    if (!w->queued) return;
    flows__waiter_t **pp = &f->wait_head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = w->next;
        if (f->wait_tail == w) f->wait_tail = prev;
    }
    w->queued = false;
}
