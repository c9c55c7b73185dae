/* Bedrock Converse and ConverseStream: the request body (system prompt, messages with optional
 * image blocks, inferenceConfig, guardrailConfig), the JSON response, and the event stream
 * (text deltas, messageStop, metadata, exceptions inside HTTP 200). See aws_bedrock.h for the
 * mid-stream retry rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_bedrock.h"
#include "aws/aws_internal.h"
#include "aws/eventstream.h"
#include "core/arena.h"
#include "core/json.h"

typedef struct {
    aws_client_t *c;
    bool stream;
    aws_converse_cb cb;
    aws_delta_cb on_delta;
    aws_reset_cb on_reset;
    void *arg;
    eventstream_decoder_t dec;
    bool dec_init;
    buf_t text;
    char stop_reason[48];
    int64_t in_tok, out_tok, total_tok;
    bool got_stop, failed;
    size_t delivered; /* bytes of text handed to on_delta during this call's current attempt */
    int attempts;
    aws_call_t *call; /* set right after submission, before any data can arrive */
} conv_t;

void aws_converse_req_init(aws_converse_req_t *r)
{
    memset(r, 0, sizeof *r);
    r->temperature = -1;
    r->top_p = -1;
}

/* ---- request body ---- */

static int build_body(const aws_converse_req_t *r, char **out, size_t *len)
{
    yajl_gen g = json_gen_new();
    if (!g) return -ENOMEM;
    buf_t b64;
    buf_init(&b64, 64u * 1024u * 1024u);
    int rc = 0;
    yajl_gen_map_open(g);
    json_key(g, "messages");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < r->message_count && !rc; i++) {
        const aws_message_t *m = &r->messages[i];
        yajl_gen_map_open(g);
        json_kv_str(g, "role", m->role ? m->role : "user");
        json_key(g, "content");
        yajl_gen_array_open(g);
        if (m->image && m->image_len) {
            const char *fmt = aws__image_format(m->image, m->image_len);
            if (!fmt) {
                rc = -EINVAL;
                break;
            }
            buf_reset(&b64);
            if ((rc = aws__b64_encode(&b64, m->image, m->image_len)) != 0) break;
            yajl_gen_map_open(g);
            json_key(g, "image");
            yajl_gen_map_open(g);
            json_kv_str(g, "format", fmt);
            json_key(g, "source");
            yajl_gen_map_open(g);
            json_key(g, "bytes");
            json_strn(g, b64.data ? b64.data : "", b64.len);
            yajl_gen_map_close(g);
            yajl_gen_map_close(g);
            yajl_gen_map_close(g);
        }
        if (m->text && *m->text) {
            yajl_gen_map_open(g);
            json_kv_str(g, "text", m->text);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    if (r->system && *r->system) {
        json_key(g, "system");
        yajl_gen_array_open(g);
        yajl_gen_map_open(g);
        json_kv_str(g, "text", r->system);
        yajl_gen_map_close(g);
        yajl_gen_array_close(g);
    }
    if (r->max_tokens > 0 || r->temperature >= 0 || r->top_p >= 0) {
        json_key(g, "inferenceConfig");
        yajl_gen_map_open(g);
        if (r->max_tokens > 0) json_kv_int(g, "maxTokens", r->max_tokens);
        if (r->temperature >= 0) json_kv_double(g, "temperature", r->temperature);
        if (r->top_p >= 0) json_kv_double(g, "topP", r->top_p);
        yajl_gen_map_close(g);
    }
    if (r->guardrail_id && *r->guardrail_id && r->guardrail_version && *r->guardrail_version) {
        json_key(g, "guardrailConfig");
        yajl_gen_map_open(g);
        json_kv_str(g, "guardrailIdentifier", r->guardrail_id);
        json_kv_str(g, "guardrailVersion", r->guardrail_version);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    if (!rc) rc = aws__gen_take(g, out, len);
    buf_free(&b64);
    yajl_gen_free(g);
    return rc;
}

/* ---- response parsing ---- */

static void read_usage(conv_t *cv, yajl_val usage)
{
    int64_t v;
    if (json_get_int(usage, "inputTokens", &v)) cv->in_tok = v;
    if (json_get_int(usage, "outputTokens", &v)) cv->out_tok = v;
    if (json_get_int(usage, "totalTokens", &v)) cv->total_tok = v;
}

static int conv_validate_json(conv_t *cv, const net_response_t *res, aws_error_t *err)
{
    arena_t a;
    arena_init(&a);
    char perr[160];
    yajl_val doc = json_parse(&a, res->body->data ? res->body->data : "", res->body->len, 64, perr,
                              sizeof perr);
    const char *stop = doc ? json_get_str(doc, "stopReason") : NULL;
    if (!doc || !stop) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "Converse answer not understood: %s",
                       doc ? "no stopReason" : perr);
        arena_free(&a);
        return AWS_VALIDATE_FATAL;
    }
    snprintf(cv->stop_reason, sizeof cv->stop_reason, "%s", stop);
    const char *path[] = {"output", "message", "content", NULL};
    yajl_val content = yajl_tree_get(doc, path, yajl_t_array);
    buf_reset(&cv->text);
    for (size_t i = 0; content && i < content->u.array.len; i++) {
        const char *t = json_get_str(content->u.array.values[i], "text");
        if (t && buf_append_str(&cv->text, t)) {
            aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "Converse text too large");
            arena_free(&a);
            return AWS_VALIDATE_FATAL;
        }
    }
    read_usage(cv, json_get(doc, "usage"));
    arena_free(&a);
    return AWS_VALIDATE_OK;
}

/* ---- event stream ---- */

static int on_event(void *ud, const eventstream_message_t *msg)
{
    conv_t *cv = ud;
    const char *mtype = eventstream_message_string(msg, ":message-type");
    aws_error_t err;
    if (mtype && strcmp(mtype, "event") == 0) {
        const char *ev = eventstream_message_string(msg, ":event-type");
        if (!ev) return 0;
        bool delta = strcmp(ev, "contentBlockDelta") == 0;
        bool stop = strcmp(ev, "messageStop") == 0;
        bool meta = strcmp(ev, "metadata") == 0;
        if (!delta && !stop && !meta) return 0;
        arena_t a;
        arena_init(&a);
        char perr[128];
        yajl_val doc =
            json_parse(&a, (const char *)msg->payload, msg->payload_len, 32, perr, sizeof perr);
        int rc = 0;
        if (!doc) {
            aws__error_set(&err, AWS_ERR_BAD_RESPONSE, NULL, "bad %s event: %s", ev, perr);
            aws__call_fail_attempt(cv->call, &err, false);
            rc = -1;
        } else if (delta) {
            const char *t = json_get_str(json_get(doc, "delta"), "text");
            if (t && *t) {
                size_t n = strlen(t);
                if (buf_append(&cv->text, t, n))
                    rc = -1;
                else {
                    cv->delivered += n;
                    if (cv->on_delta) cv->on_delta(cv->arg, t, n);
                }
            }
        } else if (stop) {
            const char *s = json_get_str(doc, "stopReason");
            snprintf(cv->stop_reason, sizeof cv->stop_reason, "%s", s ? s : "");
            cv->got_stop = true;
        } else {
            read_usage(cv, json_get(doc, "usage"));
        }
        arena_free(&a);
        return rc;
    }
    /* An exception (modeled, lower camel case) or an unmodeled error, inside HTTP 200. */
    char type[64] = "";
    const char *msgtext = NULL;
    arena_t a;
    arena_init(&a);
    if (mtype && strcmp(mtype, "exception") == 0) {
        const char *et = eventstream_message_string(msg, ":exception-type");
        if (et) {
            aws__error_sanitize_type(et, strlen(et), type, sizeof type);
            if (type[0] >= 'a' && type[0] <= 'z') type[0] = (char)(type[0] - 'a' + 'A');
        }
        char perr[64];
        yajl_val doc =
            json_parse(&a, (const char *)msg->payload, msg->payload_len, 16, perr, sizeof perr);
        if (doc) msgtext = json_get_str(doc, "message");
    } else {
        const char *code = eventstream_message_string(msg, ":error-code");
        if (code) aws__error_sanitize_type(code, strlen(code), type, sizeof type);
        msgtext = eventstream_message_string(msg, ":error-message");
    }
    aws__error_set(&err, aws__error_classify(200, type, msgtext), type, "%s",
                   msgtext ? msgtext : "stream error");
    err.http_status = 200;
    arena_free(&a);
    cv->failed = true;
    aws__call_fail_attempt(cv->call, &err, true);
    return -1;
}

static int conv_on_data(void *ud, const char *data, size_t len);

static bool conv_may_retry(void *ud)
{
    conv_t *cv = ud;
    return cv->delivered == 0 || cv->on_reset != NULL;
}

static void conv_attempt_begin(void *ud, int attempt)
{
    conv_t *cv = ud;
    cv->attempts = attempt;
    buf_reset(&cv->text);
    cv->stop_reason[0] = '\0';
    cv->in_tok = cv->out_tok = cv->total_tok = 0;
    cv->got_stop = cv->failed = false;
    if (cv->stream) {
        if (cv->dec_init) eventstream_decoder_free(&cv->dec);
        eventstream_decoder_init(&cv->dec, 0, on_event, cv);
        cv->dec_init = true;
        if (cv->delivered && cv->on_reset) cv->on_reset(cv->arg);
        cv->delivered = 0;
    }
}

static int conv_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    conv_t *cv = ud;
    if (!cv->stream) return conv_validate_json(cv, res, err);
    int rc = eventstream_decoder_finish(&cv->dec);
    if (rc || !cv->got_stop) {
        aws__error_set(err, AWS_ERR_NETWORK, NULL, "ConverseStream ended early: %s",
                       rc ? eventstream_strerror(rc) : "no messageStop event");
        return AWS_VALIDATE_RETRY;
    }
    return AWS_VALIDATE_OK;
}

static void conv_finish(void *ud, const aws_error_t *err)
{
    conv_t *cv = ud;
    if (err) {
        cv->cb(cv->arg, err, NULL);
    } else {
        aws_converse_res_t r;
        memset(&r, 0, sizeof r);
        if (!cv->text.data) buf_append(&cv->text, "", 0);
        r.text_len = cv->text.len;
        r.text = buf_steal(&cv->text, NULL);
        snprintf(r.stop_reason, sizeof r.stop_reason, "%s", cv->stop_reason);
        r.input_tokens = cv->in_tok;
        r.output_tokens = cv->out_tok;
        r.total_tokens = cv->total_tok ? cv->total_tok : cv->in_tok + cv->out_tok;
        r.attempts = cv->attempts;
        cv->cb(cv->arg, NULL, &r);
        free(r.text);
    }
    if (cv->dec_init) eventstream_decoder_free(&cv->dec);
    buf_free(&cv->text);
    free(cv);
}

static const aws_call_ops_t conv_ops = {
    .attempt_begin = conv_attempt_begin,
    .validate = conv_validate,
    .finish = conv_finish,
};
static const aws_call_ops_t conv_stream_ops = {
    .attempt_begin = conv_attempt_begin,
    .on_data = conv_on_data,
    .validate = conv_validate,
    .may_retry = conv_may_retry,
    .finish = conv_finish,
};

static int start(aws_client_t *c, const aws_converse_req_t *req, bool stream, aws_delta_cb on_delta,
                 aws_reset_cb on_reset, aws_converse_cb cb, void *arg, aws_call_t **out)
{
    if (!c || !req || !req->model_id || !*req->model_id || !req->messages || !req->message_count ||
        !cb)
        return -EINVAL;
    char *body;
    size_t len;
    int rc = build_body(req, &body, &len);
    if (rc) return rc;
    char *path = aws__model_path(req->model_id, stream ? "converse-stream" : "converse");
    conv_t *cv = calloc(1, sizeof *cv);
    if (!path || !cv) {
        free(body);
        free(path);
        free(cv);
        return -ENOMEM;
    }
    cv->c = c;
    cv->stream = stream;
    cv->cb = cb;
    cv->on_delta = on_delta;
    cv->on_reset = on_reset;
    cv->arg = arg;
    buf_init(&cv->text, 64u * 1024u * 1024u);
    aws_call_spec_t spec = {
        .service = AWS_SVC_BEDROCK,
        .op = stream ? AWS_OP_CONVERSE_STREAM : AWS_OP_CONVERSE,
        .method = "POST",
        .path = path,
        .content_type = "application/json",
        .accept = stream ? "application/vnd.amazon.eventstream" : "application/json",
        .body = body,
        .body_len = len,
        .timeout_ms = req->timeout_ms ? req->timeout_ms : c->cfg.text_timeout_ms,
    };
    aws_call_t *call = NULL;
    rc = aws__call_submit(c, &spec, stream ? &conv_stream_ops : &conv_ops, cv, &call);
    free(path);
    if (rc) {
        buf_free(&cv->text);
        free(cv);
        return rc;
    }
    cv->call = call;
    if (out) *out = call;
    return 0;
}

static int conv_on_data(void *ud, const char *data, size_t len)
{
    conv_t *cv = ud;
    int rc = eventstream_decoder_feed(&cv->dec, data, len);
    if (rc == 0) return 0;
    if (!cv->failed) {
        aws_error_t err;
        aws__error_set(&err, AWS_ERR_NETWORK, NULL, "corrupt event stream: %s",
                       eventstream_strerror(rc));
        aws__call_fail_attempt(cv->call, &err, true);
    }
    return 1;
}

int aws_converse(aws_client_t *c, const aws_converse_req_t *req, aws_converse_cb cb, void *arg,
                 aws_call_t **out)
{
    return start(c, req, false, NULL, NULL, cb, arg, out);
}

int aws_converse_stream(aws_client_t *c, const aws_converse_req_t *req, aws_delta_cb on_delta,
                        aws_reset_cb on_reset, aws_converse_cb done, void *arg, aws_call_t **out)
{
    return start(c, req, true, on_delta, on_reset, done, arg, out);
}
