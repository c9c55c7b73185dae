/* safety_async: safety_screen_output on the threadpool (see safety.h). The screen itself is
 * read-only and thread-safe; only the copy of the text and the result travel between threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "safety/safety.h"

typedef struct {
    uv_work_t w;
    const safety_t *s;
    char *text;
    size_t len;
    int attempt;
    char template_name[32];
    safety_step_t step;
    safety_screen_t out;
    safety_output_cb cb;
    void *arg;
} safety__job_t;

static void safety__work(uv_work_t *w)
{
    safety__job_t *j = w->data;
    j->step = safety_screen_output(j->s, j->text, j->len, j->attempt, j->template_name, &j->out);
}

static void safety__after(uv_work_t *w, int status)
{
    safety__job_t *j = w->data;
    (void)status; /* the work always runs: libuv cancels only with uv_cancel, never used here */
    j->cb(j->step, &j->out, j->arg);
    safety_screen_free(&j->out);
    free(j->text);
    free(j);
}

int safety_screen_output_async(uv_loop_t *loop, const safety_t *s, const char *text, size_t len,
                               int attempt, const char *template_name, safety_output_cb cb,
                               void *arg)
{
    if (!loop || !text || !cb) return -EINVAL;
    safety__job_t *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    j->text = malloc(len + 1);
    if (!j->text) {
        free(j);
        return -ENOMEM;
    }
    memcpy(j->text, text, len);
    j->text[len] = '\0';
    j->len = len;
    j->s = s;
    j->attempt = attempt;
    if (template_name) {
        strncpy(j->template_name, template_name, sizeof j->template_name - 1);
    }
    j->cb = cb;
    j->arg = arg;
    j->w.data = j;
    int rc = uv_queue_work(loop, &j->w, safety__work, safety__after);
    if (rc != 0) {
        free(j->text);
        free(j);
    }
    return rc;
}
