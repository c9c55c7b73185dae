/* provider_offline_vision: the "offline" vision provider: vision_offline decodes and describes
 * the picture on a libuv worker thread; the description is reported on the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider_int.h"
#include "providers/vision_offline.h"

#define OV_MODEL     "describer-v1"
#define OV_MAX_IMAGE (32u << 20)

typedef struct {
    prov_call_t call; /* first */
    prov_vision_t *prov;
    prov_vision_cb on_done;
    void *arg;
    uv_work_t work;
    bool working;
    uint8_t *image;
    size_t len;
    int rc;
    char text[512];
} ov_call_t;

static void ov_end(ov_call_t *c)
{
    free(c->image);
    prov__call_end(&c->call);
}

static void ov_report(ov_call_t *c, int status, const char *msg)
{
    prov_vision_result_t r = {
        .text = status == PROV_OK ? c->text : "",
        .provider = c->prov->name,
        .model = c->prov->model,
        .message = msg ? msg : "",
    };
    c->on_done(status, &r, c->arg);
}

static void ov_work(uv_work_t *w)
{
    ov_call_t *c = w->data;
    c->rc = vision_offline_describe(c->image, c->len, NULL, NULL, c->text, sizeof c->text);
}

static void ov_after(uv_work_t *w, int status)
{
    ov_call_t *c = w->data;
    c->working = false;
    if (!c->call.cancelled) {
        int rc = status ? status : c->rc;
        if (c->call.shutdown)
            ov_report(c, PROV_E_SHUTDOWN, "the server is shutting down");
        else if (rc == 0 || rc == -ENOSPC) /* -ENOSPC: a (rare) cut description is still fine */
            ov_report(c, PROV_OK, "");
        else if (rc == -ENOMEM)
            ov_report(c, PROV_E_INTERNAL, "out of memory while reading the picture");
        else
            ov_report(c, PROV_E_INVALID, vision_offline_strerror(rc));
    }
    ov_end(c);
}

static void ov_abort(prov_call_t *call)
{
    ov_call_t *c = (ov_call_t *)call;
    if (c->working) uv_cancel((uv_req_t *)&c->work);
}

static void ov_deliver(prov_call_t *call)
{
    ov_call_t *c = (ov_call_t *)call;
    if (!call->cancelled) ov_report(c, prov__call_status(call, call->status), call->message);
    ov_end(c);
}

static const prov__call_ops_t ov_ops = {ov_abort, ov_deliver};

static int ov_describe(prov_vision_t *v, const uint8_t *image, size_t len, prov_vision_cb on_done,
                       void *arg, prov_call_t **call)
{
    ov_call_t *c = prov__call_new(v->ctx, sizeof *c, &ov_ops);
    if (!c) return -ENOMEM;
    c->prov = v;
    c->on_done = on_done;
    c->arg = arg;
    if (call) *call = &c->call;
    if (len == 0 || len > OV_MAX_IMAGE) {
        prov__call_defer(&c->call, PROV_E_INVALID, "the picture is empty or larger than %u MiB",
                         OV_MAX_IMAGE >> 20);
        return 0;
    }
    c->image = malloc(len);
    if (!c->image) {
        ov_end(c);
        if (call) *call = NULL;
        return -ENOMEM;
    }
    memcpy(c->image, image, len);
    c->len = len;
    c->work.data = c;
    int rc = uv_queue_work(v->ctx->loop, &c->work, ov_work, ov_after);
    if (rc) {
        prov__call_defer(&c->call, PROV_E_INTERNAL, "could not start the describer (%s)",
                         uv_strerror(rc));
        return 0;
    }
    c->working = true;
    return 0;
}

static void ov_destroy(prov_vision_t *v)
{
    free(v);
}

static const prov__vision_ops_t ov_vision_ops = {ov_describe, ov_destroy};

int prov__offline_vision_new(prov__ctx_t *ctx, prov_vision_t **out)
{
    prov_vision_t *v = calloc(1, sizeof *v);
    if (!v) return -ENOMEM;
    v->ops = &ov_vision_ops;
    v->ctx = ctx;
    snprintf(v->name, sizeof v->name, "offline");
    snprintf(v->model, sizeof v->model, OV_MODEL);
    *out = v;
    return 0;
}
