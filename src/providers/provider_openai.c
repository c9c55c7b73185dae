/* provider_openai: the "openai" text provider for any OpenAI-compatible server (llama.cpp's
 * server, Ollama, vLLM, LocalAI, OpenAI itself). It POSTs {base}/v1/chat/completions with
 * "stream": true through the net client, feeds the server-sent events to openai_stream as they
 * arrive and passes the text deltas on (the "Title:" line held back). A malformed event, an
 * error event or a dropped connection ends the call with a typed status; what was written so
 * far is in the result text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/log.h"
#include "net/net.h"
#include "providers/openai_stream.h"
#include "providers/provider_int.h"

#define OA_MAX_TEXT  (1u << 20)
#define OA_MAX_ERROR 8192

typedef struct {
    prov_text_t base;
    net_client_t *net;
    char *url;  /* .../v1/chat/completions */
    char *auth; /* "Bearer KEY" or NULL */
    long timeout_ms;
    int max_tokens;
} oa_prov_t;

typedef struct {
    prov_call_t call; /* first */
    oa_prov_t *prov;
    prov_delta_cb on_delta;
    prov_story_cb on_done;
    void *arg;
    net_request_t *req;
    openai_stream_t *parser;
    prov__title_split_t ts;
    char fallback_title[96];
    long http_status;
    buf_t error_body; /* non-2xx answers */
    int stream_err;
    char stream_detail[200];
    char finish[32];
} oa_call_t;

static void oa_end(oa_call_t *c)
{
    openai_stream_free(c->parser);
    prov__title_split_free(&c->ts);
    buf_free(&c->error_body);
    prov__call_end(&c->call);
}

static void oa_report(oa_call_t *c, int status, const char *msg)
{
    const char *title = c->ts.title[0] ? c->ts.title : c->fallback_title;
    prov_story_result_t r = {
        .title = title,
        .text = c->ts.text.data ? c->ts.text.data : "",
        .len = c->ts.text.len,
        .provider = c->prov->base.name,
        .model = c->prov->base.model,
        .message = msg ? msg : "",
        .finish_reason = c->finish,
        .input_tokens = -1,
        .output_tokens = -1,
    };
    c->on_done(status, &r, c->arg);
}

/* ---- stream parser callbacks ---- */

static int oa_on_delta(void *arg, const char *text, size_t len)
{
    oa_call_t *c = arg;
    const char *out;
    size_t n;
    int rc = prov__title_split_feed(&c->ts, text, len, &out, &n);
    if (rc) {
        c->stream_err = OPENAI_STREAM_E_TOO_LONG;
        snprintf(c->stream_detail, sizeof c->stream_detail, "the story is longer than %u bytes",
                 OA_MAX_TEXT);
        return 1;
    }
    if (n && c->on_delta && !c->call.cancelled && !c->call.shutdown) c->on_delta(out, n, c->arg);
    return 0;
}

static int oa_on_finish(void *arg, const char *reason)
{
    oa_call_t *c = arg;
    snprintf(c->finish, sizeof c->finish, "%s", reason);
    return 0;
}

static void oa_on_error(void *arg, int code, const char *detail)
{
    oa_call_t *c = arg;
    if (c->stream_err) return;
    c->stream_err = code;
    snprintf(c->stream_detail, sizeof c->stream_detail, "%s", detail ? detail : "");
}

/* ---- net callbacks ---- */

static int oa_headers(net_request_t *req, long http_status, const net_headers_t *h, void *arg)
{
    oa_call_t *c = arg;
    c->http_status = http_status;
    return 0;
}

static int oa_data(net_request_t *req, const char *data, size_t len, void *arg)
{
    oa_call_t *c = arg;
    if (c->call.cancelled || c->call.shutdown) return 1;
    if (c->http_status < 200 || c->http_status >= 300) {
        size_t room = c->error_body.max - c->error_body.len;
        buf_append(&c->error_body, data, len < room ? len : room);
        return 0;
    }
    return openai_stream_feed(c->parser, data, len) ? 1 : 0;
}

/* The message of an OpenAI-style {"error":{"message":...}} body, or a generic one. */
static void oa_error_message(oa_call_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "the text server answered HTTP %ld", c->http_status);
    if (!c->error_body.len) return;
    arena_t a;
    arena_init(&a);
    char err[64];
    yajl_val root = json_parse(&a, c->error_body.data, c->error_body.len, 16, err, sizeof err);
    const char *m = NULL;
    if (root) {
        yajl_val e = json_get(root, "error");
        m = e && YAJL_IS_STRING(e) ? YAJL_GET_STRING(e) : json_get_str(e, "message");
        if (!m) m = json_get_str(root, "message");
    }
    if (m && *m) snprintf(out, cap, "the text server answered HTTP %ld: %.200s", c->http_status, m);
    arena_free(&a);
}

static void oa_done(net_request_t *req, const net_response_t *res, void *arg)
{
    oa_call_t *c = arg;
    c->req = NULL;
    if (c->call.cancelled) {
        oa_end(c);
        return;
    }
    char msg[320] = "";
    int st = PROV_OK;
    if (c->call.shutdown) {
        st = PROV_E_SHUTDOWN;
        snprintf(msg, sizeof msg, "the server is shutting down");
    } else if (c->stream_err) {
        if (c->stream_err == OPENAI_STREAM_E_API) {
            st = PROV_E_UNAVAILABLE;
            snprintf(msg, sizeof msg, "the text server reported an error: %s", c->stream_detail);
        } else {
            st = PROV_E_BAD_RESPONSE;
            snprintf(msg, sizeof msg, "the text server sent a bad stream: %s (%s)",
                     openai_stream_strerror(c->stream_err), c->stream_detail);
        }
    } else if (res->status != 0) {
        st = prov__from_net(res->status, 0);
        snprintf(msg, sizeof msg, "the text server connection failed: %s%s%s",
                 net_strerror(res->status), res->error_detail[0] ? ": " : "", res->error_detail);
    } else if (res->http_status < 200 || res->http_status >= 300) {
        st = prov__from_net(0, res->http_status);
        oa_error_message(c, msg, sizeof msg);
    } else {
        int rc = openai_stream_finish(c->parser);
        if (rc) {
            st = c->stream_err == OPENAI_STREAM_E_TRUNCATED || rc == OPENAI_STREAM_E_TRUNCATED
                     ? PROV_E_INTERRUPTED
                     : PROV_E_BAD_RESPONSE;
            snprintf(msg, sizeof msg, "the text server's answer ended early: %s",
                     openai_stream_strerror(rc));
        } else {
            const char *out;
            size_t n;
            if (prov__title_split_finish(&c->ts, &out, &n) == 0 && n && c->on_delta)
                c->on_delta(out, n, c->arg);
            if (!c->ts.text.len) {
                st = PROV_E_BAD_RESPONSE;
                snprintf(msg, sizeof msg, "the text server returned no story");
            } else if (!strcmp(c->finish, "length")) {
                snprintf(msg, sizeof msg, "the model stopped at its length limit");
            }
        }
    }
    if (st && st != PROV_E_SHUTDOWN)
        log_warn("providers", "openai: %s (%s)", msg, prov_status_name(st));
    if (!c->call.cancelled) oa_report(c, st, msg);
    oa_end(c);
}

static void oa_abort(prov_call_t *call)
{
    oa_call_t *c = (oa_call_t *)call;
    if (c->req) net_request_cancel(c->req);
}

static void oa_deliver(prov_call_t *call)
{
    oa_call_t *c = (oa_call_t *)call;
    if (!call->cancelled) oa_report(c, prov__call_status(call, call->status), call->message);
    oa_end(c);
}

static const prov__call_ops_t oa_ops = {oa_abort, oa_deliver};

/* The chat-completions body for spec; NULL on failure. */
static char *oa_body(const oa_prov_t *p, const prov_story_spec_t *spec, size_t *len)
{
    buf_t sys, user;
    buf_init(&sys, 64 * 1024);
    buf_init(&user, 256 * 1024);
    char *out = NULL;
    if (prov_story_prompt_build(spec, &sys, &user) == 0) {
        int words = spec->target_words > 0 ? spec->target_words : 500;
        int max_tokens = p->max_tokens > 0 ? p->max_tokens : words * 2 + 300;
        yajl_gen g = json_gen_new();
        yajl_gen_map_open(g);
        json_kv_str(g, "model", p->base.model);
        json_kv_bool(g, "stream", true);
        json_kv_int(g, "max_tokens", max_tokens);
        json_kv_double(g, "temperature", 0.8);
        json_key(g, "messages");
        yajl_gen_array_open(g);
        yajl_gen_map_open(g);
        json_kv_str(g, "role", "system");
        json_kv_str(g, "content", sys.data);
        yajl_gen_map_close(g);
        yajl_gen_map_open(g);
        json_kv_str(g, "role", "user");
        json_kv_str(g, "content", user.data);
        yajl_gen_map_close(g);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        const unsigned char *b;
        size_t bl;
        if (yajl_gen_get_buf(g, &b, &bl) == yajl_gen_status_ok && (out = malloc(bl + 1))) {
            memcpy(out, b, bl);
            out[bl] = '\0';
            *len = bl;
        }
        yajl_gen_free(g);
    }
    buf_free(&sys);
    buf_free(&user);
    return out;
}

static int oa_write_story(prov_text_t *t, const prov_story_spec_t *spec, prov_delta_cb on_delta,
                          prov_story_cb on_done, void *arg, prov_call_t **call)
{
    oa_prov_t *p = (oa_prov_t *)t;
    oa_call_t *c = prov__call_new(t->ctx, sizeof *c, &oa_ops);
    if (!c) return -ENOMEM;
    c->prov = p;
    c->on_delta = on_delta;
    c->on_done = on_done;
    c->arg = arg;
    prov__title_split_init(&c->ts, OA_MAX_TEXT);
    buf_init(&c->error_body, OA_MAX_ERROR);
    if (call) *call = &c->call;
    char msg[200];
    int st = prov__story_spec_check(spec, msg, sizeof msg);
    if (st) {
        prov__call_defer(&c->call, st, "%s", msg);
        return 0;
    }
    prov__title_from_prompt(spec->prompt, c->fallback_title, sizeof c->fallback_title);
    openai_stream_callbacks_t cbs = {oa_on_delta, oa_on_finish, oa_on_error, NULL};
    size_t blen = 0;
    char *body = oa_body(p, spec, &blen);
    net_request_t *req = body ? net_request_new("POST", p->url) : NULL;
    c->parser = openai_stream_new(&cbs, c, 0);
    if (!body || !req || !c->parser) {
        free(body);
        if (req) net_request_free(req);
        oa_end(c);
        if (call) *call = NULL;
        return -ENOMEM;
    }
    int rc = net_request_set_body_take(req, body, blen);
    if (!rc) rc = net_request_add_header(req, "Content-Type", "application/json");
    if (!rc) rc = net_request_add_header(req, "Accept", "text/event-stream");
    if (!rc && p->auth) rc = net_request_add_header(req, "Authorization", p->auth);
    net_request_set_timeout_ms(req, p->timeout_ms);
    /* A CPU-only model server may think for minutes before its first token. */
    net_request_set_low_speed(req, 1, 300);
    net_request_set_max_response_bytes(req, 16u << 20);
    net_request_set_on_headers(req, oa_headers);
    net_request_set_on_data(req, oa_data);
    if (!rc) rc = net_request_start(p->net, req, oa_done, c);
    if (rc) {
        net_request_free(req);
        prov__call_defer(&c->call, PROV_E_UNAVAILABLE, "could not start the text request: %s",
                         net_strerror(rc));
        return 0;
    }
    c->req = req;
    return 0;
}

static void oa_destroy(prov_text_t *t)
{
    oa_prov_t *p = (oa_prov_t *)t;
    free(p->url);
    free(p->auth);
    free(p);
}

static const prov__text_ops_t oa_text_ops = {oa_write_story, oa_destroy};

int prov__openai_text_new(prov__ctx_t *ctx, const prov__openai_config_t *cfg, prov_text_t **out)
{
    const char *base = cfg->base_url;
    if (!cfg->net || !base ||
        (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0))
        return -EINVAL;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    /* Accept both "http://host:port" and "http://host:port/v1" (Ollama's documented form). */
    bool has_v1 = bl >= 3 && !strncmp(base + bl - 3, "/v1", 3);
    oa_prov_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    size_t ul = bl + 32;
    p->url = malloc(ul);
    if (!p->url) {
        free(p);
        return -ENOMEM;
    }
    snprintf(p->url, ul, "%.*s%s/chat/completions", (int)bl, base, has_v1 ? "" : "/v1");
    if (cfg->api_key && *cfg->api_key) {
        size_t al = strlen(cfg->api_key) + 8;
        p->auth = malloc(al);
        if (!p->auth) {
            oa_destroy(&p->base);
            return -ENOMEM;
        }
        snprintf(p->auth, al, "Bearer %s", cfg->api_key);
    }
    p->base.ops = &oa_text_ops;
    p->base.ctx = ctx;
    p->net = cfg->net;
    p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 300000;
    p->max_tokens = cfg->max_tokens;
    snprintf(p->base.name, sizeof p->base.name, "openai");
    snprintf(p->base.model, sizeof p->base.model, "%s",
             cfg->model && *cfg->model ? cfg->model : "default");
    *out = &p->base;
    return 0;
}
