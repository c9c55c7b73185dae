/* provider_offline_image: the "offline" image provider: illustrate paints the scene on a libuv
 * worker thread and the PNG is reported on the loop. Character colours arrive as names (the
 * composer's "sky-blue") or "#rrggbb" and are turned into RGB here. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "providers/illustrate.h"
#include "providers/provider_int.h"

#define OI_MODEL "illustrator-v1"

typedef struct {
    prov_call_t call; /* first */
    prov_image_t *prov;
    prov_image_cb on_done;
    void *arg;
    uv_work_t work;
    bool working;
    illustrate_request_t req;
    illustrate_character_t chars[PROV_IMAGE_MAX_CHARACTERS];
    char *strings[2 + 2 * PROV_IMAGE_MAX_CHARACTERS]; /* owned copies */
    size_t nstrings;
    int rc;
    uint8_t *png;
    size_t png_len;
} oi_call_t;

static const struct {
    const char *name;
    uint32_t rgb;
} oi_colours[] = {
    {"red", 0xE53935},    {"blue", 0x1E88E5},   {"green", 0x43A047},    {"yellow", 0xFDD835},
    {"purple", 0x8E24AA}, {"orange", 0xFB8C00}, {"pink", 0xEC407A},     {"silver", 0xB0BEC5},
    {"golden", 0xFFC107}, {"gold", 0xFFC107},   {"white", 0xFAFAFA},    {"brown", 0x8D6E63},
    {"teal", 0x00897B},   {"lilac", 0xC8A2C8},  {"sky-blue", 0x87CEEB}, {"black", 0x212121},
    {"grey", 0x9E9E9E},   {"gray", 0x9E9E9E},   {"navy", 0x283593},     {"cream", 0xFFF8E1},
};

/* "#rrggbb", "rrggbb" or a colour name; returns 0 and sets *rgb, or -1. */
static int oi_colour(const char *s, uint32_t *rgb)
{
    if (!s || !*s) return -1;
    const char *h = s[0] == '#' ? s + 1 : s;
    if (strlen(h) == 6) {
        uint32_t v = 0;
        size_t i = 0;
        for (; i < 6 && isxdigit((unsigned char)h[i]); i++)
            v = v * 16 +
                (uint32_t)(isdigit((unsigned char)h[i]) ? h[i] - '0' : (tolower(h[i]) - 'a' + 10));
        if (i == 6) {
            *rgb = v;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof oi_colours / sizeof oi_colours[0]; i++)
        if (!strcasecmp(s, oi_colours[i].name)) {
            *rgb = oi_colours[i].rgb;
            return 0;
        }
    return -1;
}

static void oi_end(oi_call_t *c)
{
    for (size_t i = 0; i < c->nstrings; i++)
        free(c->strings[i]);
    free(c->png);
    prov__call_end(&c->call);
}

static void oi_report(oi_call_t *c, int status, const char *msg)
{
    prov_image_result_t r = {
        .provider = c->prov->name,
        .model = c->prov->model,
        .message = msg ? msg : "",
    };
    if (status == PROV_OK) {
        r.png = c->png;
        r.len = c->png_len;
        r.width = c->req.width;
        r.height = c->req.height;
    }
    c->on_done(status, &r, c->arg);
    if (status == PROV_OK && r.png == NULL) c->png = NULL; /* taken by the callback */
}

static void oi_work(uv_work_t *w)
{
    oi_call_t *c = w->data;
    c->rc = illustrate_render_png(&c->req, &c->png, &c->png_len);
}

static void oi_after(uv_work_t *w, int status)
{
    oi_call_t *c = w->data;
    c->working = false;
    if (!c->call.cancelled) {
        int rc = status ? status : c->rc;
        if (c->call.shutdown)
            oi_report(c, PROV_E_SHUTDOWN, "the server is shutting down");
        else if (rc == 0)
            oi_report(c, PROV_OK, "");
        else if (rc == -EINVAL)
            oi_report(c, PROV_E_INVALID, "the picture request is not valid");
        else
            oi_report(c, PROV_E_INTERNAL, "the illustrator failed");
    }
    oi_end(c);
}

static void oi_abort(prov_call_t *call)
{
    oi_call_t *c = (oi_call_t *)call;
    if (c->working) uv_cancel((uv_req_t *)&c->work);
}

static void oi_deliver(prov_call_t *call)
{
    oi_call_t *c = (oi_call_t *)call;
    if (!call->cancelled) oi_report(c, prov__call_status(call, call->status), call->message);
    oi_end(c);
}

static const prov__call_ops_t oi_ops = {oi_abort, oi_deliver};

static const char *oi_keep(oi_call_t *c, const char *s)
{
    if (!s || !*s) return NULL;
    char *d = strdup(s);
    if (!d) return NULL;
    c->strings[c->nstrings++] = d;
    return d;
}

static uint64_t oi_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int oi_render(prov_image_t *im, const prov_image_spec_t *s, prov_image_cb on_done, void *arg,
                     prov_call_t **call)
{
    oi_call_t *c = prov__call_new(im->ctx, sizeof *c, &oi_ops);
    if (!c) return -ENOMEM;
    c->prov = im;
    c->on_done = on_done;
    c->arg = arg;
    if (call) *call = &c->call;
    char msg[160];
    int w = 0, h = 0;
    int st = prov__image_spec_check(s, &w, &h, msg, sizeof msg);
    illustrate_request_t *r = &c->req;
    r->tmpl = ILLUSTRATE_TEMPLATE_ADVENTURE;
    if (!st && s->template_name && *s->template_name &&
        illustrate_template_parse(s->template_name, &r->tmpl)) {
        snprintf(msg, sizeof msg, "unknown story template \"%s\"", s->template_name);
        st = PROV_E_INVALID;
    }
    if (st) {
        prov__call_defer(&c->call, st, "%s", msg);
        return 0;
    }
    r->width = w;
    r->height = h;
    r->scene_number = s->scene_number;
    r->seed = s->seed >= 0 ? (uint64_t)s->seed : oi_hash(s->prompt);
    bool oom = !(r->prompt = oi_keep(c, s->prompt));
    if (s->caption && *s->caption) oom |= !(r->caption = oi_keep(c, s->caption));
    size_t n = s->characters ? s->ncharacters : 0;
    if (n > PROV_IMAGE_MAX_CHARACTERS) n = PROV_IMAGE_MAX_CHARACTERS;
    size_t k = 0;
    for (size_t i = 0; i < n && !oom; i++) {
        const prov_character_t *pc = &s->characters[i];
        if (!pc->name || !*pc->name) continue;
        illustrate_character_t *ic = &c->chars[k++];
        oom |= !(ic->name = oi_keep(c, pc->name));
        if (pc->kind && *pc->kind) oom |= !(ic->kind = oi_keep(c, pc->kind));
        for (size_t j = 0; j < 3; j++)
            if (oi_colour(pc->colours[j], &ic->colors[ic->ncolors]) == 0) ic->ncolors++;
    }
    if (oom) {
        oi_end(c);
        if (call) *call = NULL;
        return -ENOMEM;
    }
    r->characters = c->chars;
    r->ncharacters = k;
    c->work.data = c;
    int rc = uv_queue_work(im->ctx->loop, &c->work, oi_work, oi_after);
    if (rc) {
        prov__call_defer(&c->call, PROV_E_INTERNAL, "could not start the illustrator (%s)",
                         uv_strerror(rc));
        return 0;
    }
    c->working = true;
    return 0;
}

static void oi_destroy(prov_image_t *im)
{
    free(im);
}

static const prov__image_ops_t oi_image_ops = {oi_render, oi_destroy};

int prov__offline_image_new(prov__ctx_t *ctx, prov_image_t **out)
{
    prov_image_t *im = calloc(1, sizeof *im);
    if (!im) return -ENOMEM;
    im->ops = &oi_image_ops;
    im->ctx = ctx;
    snprintf(im->name, sizeof im->name, "offline");
    snprintf(im->model, sizeof im->model, OI_MODEL);
    *out = im;
    return 0;
}
