/* bedrock_guardrail: ApplyGuardrail (see bedrock_guardrail.h). The answer is small JSON: the
 * action, the guardrail's replacement outputs and assessments (which we do not keep: the flows
 * record only that a guardrail intervened, never what it matched). */
#include "aws/bedrock_guardrail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_internal.h"
#include "core/arena.h"
#include "core/json.h"

typedef struct {
    aws_guardrail_cb cb;
    void *arg;
    bool intervened;
    char action[32];
    buf_t output;
    char request_id[72];
} guard_t;

int aws_guardrail_build_body(const aws_guardrail_req_t *req, char **out, size_t *len)
{
    if (!req || !out || !len || !req->texts || !req->ntexts) return -EINVAL;
    yajl_gen g = json_gen_new();
    if (!g) return -ENOMEM;
    yajl_gen_map_open(g);
    json_kv_str(g, "source", req->output ? "OUTPUT" : "INPUT");
    json_key(g, "content");
    yajl_gen_array_open(g);
    size_t used = 0;
    for (size_t i = 0; i < req->ntexts; i++) {
        if (!req->texts[i] || !*req->texts[i]) continue;
        yajl_gen_map_open(g);
        json_key(g, "text");
        yajl_gen_map_open(g);
        json_kv_str(g, "text", req->texts[i]);
        yajl_gen_map_close(g);
        yajl_gen_map_close(g);
        used++;
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    int rc = used ? aws__gen_take(g, out, len) : -EINVAL;
    yajl_gen_free(g);
    return rc;
}

static int guard_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    guard_t *gd = ud;
    arena_t a;
    arena_init(&a);
    char perr[160];
    yajl_val doc = json_parse(&a, res->body->data ? res->body->data : "", res->body->len, 32, perr,
                              sizeof perr);
    const char *action = doc ? json_get_str(doc, "action") : NULL;
    if (!action) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "ApplyGuardrail answer not understood: %s",
                       doc ? "no action" : perr);
        arena_free(&a);
        return AWS_VALIDATE_FATAL;
    }
    snprintf(gd->action, sizeof gd->action, "%s", action);
    /* Anything but an explicit NONE counts as an intervention: an action this client does not
     * know must not let text through. */
    gd->intervened = strcmp(action, "NONE") != 0;
    buf_reset(&gd->output);
    yajl_val outs = json_get(doc, "outputs");
    for (size_t i = 0; outs && YAJL_IS_ARRAY(outs) && i < outs->u.array.len; i++) {
        const char *t = json_get_str(outs->u.array.values[i], "text");
        if (t) buf_append_str(&gd->output, t);
    }
    const char *rid = net_headers_get(res->headers, "x-amzn-RequestId");
    if (rid) aws__copy_printable(gd->request_id, sizeof gd->request_id, rid, strlen(rid));
    arena_free(&a);
    return AWS_VALIDATE_OK;
}

static void guard_finish(void *ud, const aws_error_t *err)
{
    guard_t *gd = ud;
    if (err) {
        gd->cb(gd->arg, err, NULL);
    } else {
        aws_guardrail_res_t r = {
            .intervened = gd->intervened,
            .action = gd->action,
            .output = gd->output.data ? gd->output.data : "",
        };
        memcpy(r.request_id, gd->request_id, sizeof r.request_id);
        gd->cb(gd->arg, NULL, &r);
    }
    buf_free(&gd->output);
    free(gd);
}

static const aws_call_ops_t guard_ops = {
    .validate = guard_validate,
    .finish = guard_finish,
};

int aws_apply_guardrail(aws_client_t *c, const aws_guardrail_req_t *req, aws_guardrail_cb cb,
                        void *arg, aws_call_t **out)
{
    if (!c || !req || !cb || !req->guardrail_id || !*req->guardrail_id || !req->guardrail_version ||
        !*req->guardrail_version)
        return -EINVAL;
    char *body;
    size_t len;
    int rc = aws_guardrail_build_body(req, &body, &len);
    if (rc) return rc;
    buf_t path;
    buf_init(&path, 8192);
    if (buf_append_str(&path, "/guardrail/") ||
        sigv4_uri_encode(&path, req->guardrail_id, strlen(req->guardrail_id), false) ||
        buf_append_str(&path, "/version/") ||
        sigv4_uri_encode(&path, req->guardrail_version, strlen(req->guardrail_version), false) ||
        buf_append_str(&path, "/apply")) {
        buf_free(&path);
        free(body);
        return -ENOMEM;
    }
    guard_t *gd = calloc(1, sizeof *gd);
    if (!gd) {
        buf_free(&path);
        free(body);
        return -ENOMEM;
    }
    gd->cb = cb;
    gd->arg = arg;
    buf_init(&gd->output, 1u << 20);
    /* Metrics: ApplyGuardrail is counted with Converse, the operation it guards (the client's
     * operation table has no row of its own for it). */
    aws_call_spec_t spec = {
        .service = AWS_SVC_BEDROCK,
        .op = AWS_OP_CONVERSE,
        .method = "POST",
        .path = path.data,
        .content_type = "application/json",
        .accept = "application/json",
        .body = body,
        .body_len = len,
        .timeout_ms = req->timeout_ms ? req->timeout_ms : c->cfg.text_timeout_ms,
    };
    aws_call_t *call = NULL;
    rc = aws__call_submit(c, &spec, &guard_ops, gd, &call);
    buf_free(&path);
    if (rc) {
        buf_free(&gd->output);
        free(gd);
        return rc;
    }
    if (out) *out = call;
    return 0;
}
