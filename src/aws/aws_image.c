/* Image generation through Bedrock InvokeModel: one body builder and one response parser per
 * model family (Titan Image v2 / Nova Canvas, Stability SDXL v1, Stability Stable Image / SD3.5),
 * per shared/notes/aws-wire.md §4, and the ordered fallback chain over several models. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws_bedrock.h"
#include "aws/aws_internal.h"
#include "core/arena.h"
#include "core/json.h"

aws_image_family_t aws_image_family(const char *id)
{
    if (!id) return AWS_IMAGE_FAMILY_UNKNOWN;
    if (strstr(id, "titan-image-generator") || strstr(id, "nova-canvas"))
        return AWS_IMAGE_FAMILY_TITAN;
    if (strstr(id, "stable-diffusion-xl")) return AWS_IMAGE_FAMILY_SDXL;
    if (strstr(id, "stable-image") || strstr(id, "stability.sd3"))
        return AWS_IMAGE_FAMILY_STABLE_IMAGE;
    return AWS_IMAGE_FAMILY_UNKNOWN;
}

void aws_image_req_init(aws_image_req_t *r)
{
    memset(r, 0, sizeof *r);
    r->width = r->height = 1024;
    r->seed = -1;
}

/* ---- sizes ---- */

typedef struct {
    int w, h;
} size2_t;

/* Titan Image v2's allowed list; every entry also satisfies Nova Canvas's rules (sides 320..4096
 * divisible by 16, ratio within 1:4..4:1) except 1173x640, which is Titan-only. */
static const size2_t titan_sizes[] = {
    {1024, 1024}, {768, 768},  {512, 512},  {768, 1152}, {384, 576},  {1152, 768}, {576, 384},
    {768, 1280},  {384, 640},  {1280, 768}, {640, 384},  {896, 1152}, {448, 576},  {1152, 896},
    {576, 448},   {768, 1408}, {384, 704},  {1408, 768}, {704, 384},  {640, 1408}, {320, 704},
    {1408, 640},  {704, 320},  {1152, 640}, {1173, 640}};
static const size2_t sdxl_sizes[] = {{1024, 1024}, {1152, 896}, {1216, 832},
                                     {1344, 768},  {1536, 640}, {640, 1536},
                                     {768, 1344},  {832, 1216}, {896, 1152}};
static const struct {
    const char *name;
    int w, h;
} aspects[] = {{"1:1", 1, 1}, {"16:9", 16, 9}, {"21:9", 21, 9}, {"2:3", 2, 3},  {"3:2", 3, 2},
               {"4:5", 4, 5}, {"5:4", 5, 4},   {"9:16", 9, 16}, {"9:21", 9, 21}};

/* Nearest allowed size: closest aspect ratio first (log scale), then closest area. */
static size2_t snap(const size2_t *list, size_t n, int w, int h, bool canvas)
{
    if (w <= 0) w = 1024;
    if (h <= 0) h = 1024;
    double want_r = log((double)w / h), want_a = log((double)w * h);
    size2_t best = list[0];
    double best_score = 1e18;
    for (size_t i = 0; i < n; i++) {
        if (canvas && list[i].w % 16) continue;
        double r = fabs(log((double)list[i].w / list[i].h) - want_r);
        double a = fabs(log((double)list[i].w * list[i].h) - want_a);
        double score = r * 100 + a;
        if (score < best_score) {
            best_score = score;
            best = list[i];
        }
    }
    return best;
}

static const char *snap_aspect(int w, int h, int *ow, int *oh)
{
    if (w <= 0) w = 1024;
    if (h <= 0) h = 1024;
    double want = log((double)w / h);
    size_t best = 0;
    double bd = 1e18;
    for (size_t i = 0; i < sizeof aspects / sizeof aspects[0]; i++) {
        double d = fabs(log((double)aspects[i].w / aspects[i].h) - want);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    *ow = w;
    *oh = h;
    return aspects[best].name;
}

/* ---- prompt limits ---- */

/* Byte length of at most max_chars code points of s, cut back to the last space when the text is
 * longer than that (so no word is cut), else at the character limit. */
static size_t cut_chars(const char *s, size_t max_chars)
{
    size_t i = 0, chars = 0, len = strlen(s);
    while (i < len && chars < max_chars) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        chars++;
    }
    if (i >= len) return len;
    size_t k = i;
    while (k > 0 && s[k] != ' ')
        k--;
    if (k == 0) return i;
    while (k > 0 && s[k - 1] == ' ')
        k--;
    return k;
}

/* ---- body builders ---- */

int aws_image_build_body(const aws_image_req_t *req, buf_t *out, int *ow, int *oh)
{
    aws_image_family_t fam = aws_image_family(req->model_id);
    if (fam == AWS_IMAGE_FAMILY_UNKNOWN || !req->prompt || !*req->prompt) return -EINVAL;
    bool canvas = req->model_id && strstr(req->model_id, "nova-canvas");
    yajl_gen g = json_gen_new();
    if (!g) return -ENOMEM;
    size2_t sz = {req->width, req->height};
    const char *neg = req->negative && *req->negative ? req->negative : NULL;
    yajl_gen_map_open(g);
    if (fam == AWS_IMAGE_FAMILY_TITAN) {
        size_t limit = canvas ? 1024 : 512;
        sz = snap(titan_sizes, sizeof titan_sizes / sizeof titan_sizes[0], req->width, req->height,
                  canvas);
        json_kv_str(g, "taskType", "TEXT_IMAGE");
        json_key(g, "textToImageParams");
        yajl_gen_map_open(g);
        json_key(g, "text");
        json_strn(g, req->prompt, cut_chars(req->prompt, limit));
        if (neg) {
            json_key(g, "negativeText");
            json_strn(g, neg, cut_chars(neg, limit));
        }
        yajl_gen_map_close(g);
        json_key(g, "imageGenerationConfig");
        yajl_gen_map_open(g);
        json_kv_int(g, "numberOfImages", 1);
        json_kv_int(g, "width", sz.w);
        json_kv_int(g, "height", sz.h);
        json_kv_str(g, "quality", "standard");
        if (req->cfg_scale > 0)
            json_kv_double(g, "cfgScale",
                           req->cfg_scale < 1.1  ? 1.1
                           : req->cfg_scale > 10 ? 10
                                                 : req->cfg_scale);
        if (req->seed >= 0)
            json_kv_int(g, "seed", req->seed % (canvas ? 858993460LL : 2147483647LL));
        yajl_gen_map_close(g);
    } else if (fam == AWS_IMAGE_FAMILY_SDXL) {
        sz = snap(sdxl_sizes, sizeof sdxl_sizes / sizeof sdxl_sizes[0], req->width, req->height,
                  false);
        json_key(g, "text_prompts");
        yajl_gen_array_open(g);
        yajl_gen_map_open(g);
        json_key(g, "text");
        json_strn(g, req->prompt, cut_chars(req->prompt, 2000));
        json_kv_double(g, "weight", 1.0);
        yajl_gen_map_close(g);
        if (neg) {
            yajl_gen_map_open(g);
            json_key(g, "text");
            json_strn(g, neg, cut_chars(neg, 2000));
            json_kv_double(g, "weight", -1.0);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        json_kv_int(g, "width", sz.w);
        json_kv_int(g, "height", sz.h);
        json_kv_int(g, "samples", 1);
        if (req->cfg_scale > 0)
            json_kv_double(g, "cfg_scale", req->cfg_scale > 35 ? 35 : req->cfg_scale);
        if (req->seed >= 0) json_kv_int(g, "seed", req->seed % 4294967296LL);
        if (req->style_preset && *req->style_preset)
            json_kv_str(g, "style_preset", req->style_preset);
    } else {
        const char *ar = snap_aspect(req->width, req->height, &sz.w, &sz.h);
        json_key(g, "prompt");
        json_strn(g, req->prompt, cut_chars(req->prompt, 10000));
        if (neg) {
            json_key(g, "negative_prompt");
            json_strn(g, neg, cut_chars(neg, 10000));
        }
        json_kv_str(g, "mode", "text-to-image");
        json_kv_str(g, "aspect_ratio", ar);
        json_kv_str(g, "output_format", "png");
        if (req->seed >= 0) json_kv_int(g, "seed", req->seed % 4294967295LL);
    }
    yajl_gen_map_close(g);
    const unsigned char *text;
    size_t n;
    int rc =
        yajl_gen_get_buf(g, &text, &n) == yajl_gen_status_ok ? buf_append(out, text, n) : -EINVAL;
    yajl_gen_free(g);
    if (ow) *ow = sz.w;
    if (oh) *oh = sz.h;
    return rc;
}

/* ---- one InvokeModel call ---- */

typedef struct img img_t;
/* For the fallback chain: the answer's body as it came (the callee owns raw), parsed later on
 * the threadpool instead of on the loop. */
typedef void (*img_raw_cb)(void *arg, const aws_error_t *err, char *raw, size_t raw_len,
                           const img_t *im);

struct img {
    aws_client_t *c;
    aws_image_family_t fam;
    aws_image_cb cb;
    img_raw_cb raw_cb; /* set instead of cb: validate keeps the body, parsing is the caller's */
    void *arg;
    char model[128];
    int w, h, attempts;
    uint8_t *png;
    size_t png_len;
    char *raw;
    size_t raw_len;
};

static void img_attempt_begin(void *ud, int attempt)
{
    ((img_t *)ud)->attempts = attempt;
}

static int img_filtered(aws_error_t *err, const char *why)
{
    aws__error_set(err, AWS_ERR_CONTENT_FILTERED, NULL, "the image was refused by moderation: %s",
                   why && *why ? why : "content filtered");
    return AWS_VALIDATE_FATAL;
}

/* Parses an InvokeModel answer of family fam into the decoded PNG (*png, malloc'd). A 2 MB
 * JSON document and its base64: CPU work, so the fallback chain runs it on the threadpool.
 * Returns AWS_VALIDATE_OK or AWS_VALIDATE_FATAL with *err set. Thread-safe. */
static int img_parse(aws_image_family_t fam, const char *body, size_t len, uint8_t **png,
                     size_t *png_len, aws_error_t *err)
{
    arena_t a;
    arena_init(&a);
    char perr[128];
    yajl_val doc = json_parse(&a, body ? body : "", len, 16, perr, sizeof perr);
    const char *b64 = NULL;
    int rc = AWS_VALIDATE_OK;
    if (!doc) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "InvokeModel answer not understood: %s",
                       perr);
        rc = AWS_VALIDATE_FATAL;
    } else if (fam == AWS_IMAGE_FAMILY_TITAN) {
        const char *e = json_get_str(doc, "error");
        yajl_val imgs = json_get(doc, "images");
        if (e)
            rc = img_filtered(err, e);
        else if (YAJL_IS_ARRAY(imgs) && imgs->u.array.len > 0 &&
                 YAJL_IS_STRING(imgs->u.array.values[0]))
            b64 = YAJL_GET_STRING(imgs->u.array.values[0]);
    } else if (fam == AWS_IMAGE_FAMILY_SDXL) {
        yajl_val arts = json_get(doc, "artifacts");
        yajl_val a0 = YAJL_IS_ARRAY(arts) && arts->u.array.len ? arts->u.array.values[0] : NULL;
        const char *fr = a0 ? json_get_str(a0, "finishReason") : NULL;
        if (fr && strcmp(fr, "CONTENT_FILTERED") == 0)
            rc = img_filtered(err, fr);
        else if (fr && strcmp(fr, "ERROR") == 0) {
            aws__error_set(err, AWS_ERR_MODEL_ERROR, NULL, "the model reported an error");
            rc = AWS_VALIDATE_FATAL;
        } else if (a0)
            b64 = json_get_str(a0, "base64");
    } else {
        yajl_val frs = json_get(doc, "finish_reasons");
        yajl_val f0 = YAJL_IS_ARRAY(frs) && frs->u.array.len ? frs->u.array.values[0] : NULL;
        yajl_val imgs = json_get(doc, "images");
        const char *fr = f0 && YAJL_IS_STRING(f0) ? YAJL_GET_STRING(f0) : NULL;
        /* Only "Filter reason: ..." is a refusal (the chain stops there). "Inference error" and
         * any reason Stability adds later are the model failing: the chain tries the next one. */
        if (fr && strncasecmp(fr, "Filter reason", 13) == 0)
            rc = img_filtered(err, fr);
        else if (fr) {
            aws__error_set(err, AWS_ERR_MODEL_ERROR, NULL, "the model reported: %s", fr);
            rc = AWS_VALIDATE_FATAL;
        } else if (YAJL_IS_ARRAY(imgs) && imgs->u.array.len > 0 &&
                   YAJL_IS_STRING(imgs->u.array.values[0]))
            b64 = YAJL_GET_STRING(imgs->u.array.values[0]);
    }
    if (rc == AWS_VALIDATE_OK) {
        if (!b64 || aws__b64_decode(b64, strlen(b64), png, png_len) || !*png_len) {
            aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "InvokeModel answer has no image");
            rc = AWS_VALIDATE_FATAL;
        }
    }
    arena_free(&a);
    return rc;
}

static int img_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    img_t *im = ud;
    const char *body = res->body->data ? res->body->data : "";
    if (im->raw_cb) {
        /* Kept as it came (one copy, no parsing here on the loop). */
        im->raw = malloc(res->body->len + 1);
        if (!im->raw) {
            aws__error_set(err, AWS_ERR_INTERNAL, NULL, "out of memory");
            return AWS_VALIDATE_FATAL;
        }
        memcpy(im->raw, body, res->body->len);
        im->raw_len = res->body->len;
        return AWS_VALIDATE_OK;
    }
    return img_parse(im->fam, body, res->body->len, &im->png, &im->png_len, err);
}

static void img_finish(void *ud, const aws_error_t *err)
{
    img_t *im = ud;
    if (err && (err->code == AWS_ERR_NOT_FOUND || err->code == AWS_ERR_END_OF_LIFE))
        aws__mark_model_dead(im->c, im->model, err);
    if (im->raw_cb) {
        char *raw = err ? NULL : im->raw;
        im->raw = NULL;
        im->raw_cb(im->arg, err, raw, raw ? im->raw_len : 0, im);
    } else if (err) {
        im->cb(im->arg, err, NULL);
    } else {
        aws_image_res_t r;
        memset(&r, 0, sizeof r);
        r.png = im->png;
        r.png_len = im->png_len;
        snprintf(r.model_id, sizeof r.model_id, "%s", im->model);
        r.width = im->w;
        r.height = im->h;
        r.attempts = im->attempts;
        im->png = NULL;
        im->cb(im->arg, NULL, &r);
        free(r.png);
    }
    free(im->png);
    free(im->raw);
    free(im);
}

static const aws_call_ops_t img_ops = {
    .attempt_begin = img_attempt_begin,
    .validate = img_validate,
    .finish = img_finish,
};

static int img_submit(aws_client_t *c, const aws_image_req_t *req, aws_image_cb cb,
                      img_raw_cb raw_cb, void *arg, aws_call_t **out)
{
    if (!c || !req || !(cb || raw_cb) || !req->model_id || strlen(req->model_id) >= 128)
        return -EINVAL;
    buf_t body;
    buf_init(&body, 1024 * 1024);
    int w = 0, h = 0;
    int rc = aws_image_build_body(req, &body, &w, &h);
    if (rc) {
        buf_free(&body);
        return rc;
    }
    img_t *im = calloc(1, sizeof *im);
    char *path = aws__model_path(req->model_id, "invoke");
    if (!im || !path) {
        free(im);
        free(path);
        buf_free(&body);
        return -ENOMEM;
    }
    im->c = c;
    im->fam = aws_image_family(req->model_id);
    im->cb = cb;
    im->raw_cb = raw_cb;
    im->arg = arg;
    im->w = w;
    im->h = h;
    snprintf(im->model, sizeof im->model, "%s", req->model_id);
    size_t blen;
    char *b = buf_steal(&body, &blen);
    aws_call_spec_t spec = {
        .service = AWS_SVC_BEDROCK,
        .op = AWS_OP_INVOKE,
        .method = "POST",
        .path = path,
        .content_type = "application/json",
        .accept = "application/json",
        .body = b,
        .body_len = blen,
        .timeout_ms = req->timeout_ms ? req->timeout_ms : c->cfg.image_timeout_ms,
        .max_response = 64u * 1024u * 1024u,
    };
    rc = aws__call_submit(c, &spec, &img_ops, im, out);
    free(path);
    if (rc) free(im);
    return rc;
}

int aws_image_generate(aws_client_t *c, const aws_image_req_t *req, aws_image_cb cb, void *arg,
                       aws_call_t **out)
{
    return cb ? img_submit(c, req, cb, NULL, arg, out) : -EINVAL;
}

/* ---- fallback chain ---- */

struct aws_image_chain {
    aws_client_t *c;
    char **models;
    size_t count, next;
    aws_image_req_t req; /* strings owned by the chain */
    char *prompt, *negative, *style;
    aws_image_cb cb;
    void *arg;
    aws_call_t *call;
    aws_error_t last;
    bool have_last, cancelled, done;
    aws_defer_t d;
};

static void chain_free(aws_image_chain_t *ch)
{
    aws_client_t *c = ch->c;
    for (size_t i = 0; i < ch->count; i++)
        free(ch->models[i]);
    free(ch->models);
    free(ch->prompt);
    free(ch->negative);
    free(ch->style);
    free(ch);
    c->jobs--;
    aws__client_maybe_closed(c);
}

static void chain_step(void *arg);

static void chain_result(void *arg, const aws_error_t *err, aws_image_res_t *res)
{
    aws_image_chain_t *ch = arg;
    ch->call = NULL;
    if (!err) {
        ch->done = true;
        ch->cb(ch->arg, NULL, res);
        chain_free(ch);
        return;
    }
    ch->last = *err;
    ch->have_last = true;
    if (err->code == AWS_ERR_CONTENT_FILTERED || err->code == AWS_ERR_CANCELLED || ch->cancelled ||
        ch->c->closing) {
        if (ch->cancelled && err->code != AWS_ERR_CANCELLED)
            aws__error_set(&ch->last, AWS_ERR_CANCELLED, NULL, "cancelled");
        ch->cb(ch->arg, &ch->last, NULL);
        chain_free(ch);
        return;
    }
    chain_step(ch);
}

/* The answer of one model, parsed and decoded on the threadpool. */
typedef struct {
    uv_work_t w;
    aws_image_chain_t *ch;
    aws_image_family_t fam;
    char *raw;
    size_t raw_len;
    int vrc;
    aws_error_t err;
    aws_image_res_t res;
} chain_parse_t;

static void chain_parse_work(uv_work_t *w)
{
    chain_parse_t *p = w->data;
    p->vrc = img_parse(p->fam, p->raw, p->raw_len, &p->res.png, &p->res.png_len, &p->err);
}

static void chain_parse_done(uv_work_t *w, int status)
{
    chain_parse_t *p = w->data;
    aws_image_chain_t *ch = p->ch;
    free(p->raw);
    if (status != 0 && p->vrc == AWS_VALIDATE_OK && !p->res.png)
        aws__error_set(&p->err, AWS_ERR_INTERNAL, NULL, "the answer could not be parsed");
    if (ch->cancelled || ch->c->closing) {
        p->vrc = AWS_VALIDATE_FATAL;
        aws__error_set(&p->err, AWS_ERR_CANCELLED, NULL, "cancelled");
    }
    bool ok = p->vrc == AWS_VALIDATE_OK && p->res.png;
    chain_result(ch, ok ? NULL : &p->err, ok ? &p->res : NULL);
    free(p->res.png); /* unless the callback took it */
    free(p);
}

static void chain_raw(void *arg, const aws_error_t *err, char *raw, size_t raw_len, const img_t *im)
{
    aws_image_chain_t *ch = arg;
    ch->call = NULL;
    chain_parse_t *p = err ? NULL : calloc(1, sizeof *p);
    if (!p) {
        aws_error_t oom;
        if (!err) aws__error_set(&oom, AWS_ERR_INTERNAL, NULL, "out of memory");
        free(raw);
        chain_result(ch, err ? err : &oom, NULL);
        return;
    }
    p->ch = ch;
    p->fam = im->fam;
    p->raw = raw;
    p->raw_len = raw_len;
    snprintf(p->res.model_id, sizeof p->res.model_id, "%s", im->model);
    p->res.width = im->w;
    p->res.height = im->h;
    p->res.attempts = im->attempts;
    p->w.data = p;
    if (uv_queue_work(ch->c->loop, &p->w, chain_parse_work, chain_parse_done) != 0) {
        chain_parse_work(&p->w); /* cannot happen with a live loop; parse here rather than fail */
        chain_parse_done(&p->w, 0);
    }
}

static void chain_step(void *arg)
{
    aws_image_chain_t *ch = arg;
    while (ch->next < ch->count && !ch->cancelled && !ch->c->closing) {
        const char *m = ch->models[ch->next++];
        if (aws_image_model_is_dead(ch->c, m)) continue;
        ch->req.model_id = m;
        int rc = img_submit(ch->c, &ch->req, NULL, chain_raw, ch, &ch->call);
        if (rc == 0) return;
        aws__error_set(&ch->last, AWS_ERR_VALIDATION, NULL, "cannot call %s: %s", m, strerror(-rc));
        ch->have_last = true;
    }
    if (ch->cancelled || ch->c->closing)
        aws__error_set(&ch->last, AWS_ERR_CANCELLED, NULL, "cancelled");
    else if (!ch->have_last)
        aws__error_set(&ch->last, AWS_ERR_NOT_FOUND, NULL,
                       "no usable image model (every configured model is unavailable)");
    ch->cb(ch->arg, &ch->last, NULL);
    chain_free(ch);
}

int aws_image_generate_chain(aws_client_t *c, const char *models, const aws_image_req_t *req,
                             aws_image_cb cb, void *arg, aws_image_chain_t **out)
{
    if (!c || !models || !req || !cb || !req->prompt || !*req->prompt) return -EINVAL;
    if (c->closing) return -ECANCELED;
    aws_image_chain_t *ch = calloc(1, sizeof *ch);
    if (!ch) return -ENOMEM;
    ch->c = c;
    c->jobs++;
    ch->cb = cb;
    ch->arg = arg;
    ch->req = *req;
    ch->prompt = strdup(req->prompt);
    ch->negative = req->negative ? strdup(req->negative) : NULL;
    ch->style = req->style_preset ? strdup(req->style_preset) : NULL;
    ch->req.prompt = ch->prompt;
    ch->req.negative = ch->negative;
    ch->req.style_preset = ch->style;
    bool ok = ch->prompt && (!req->negative || ch->negative) && (!req->style_preset || ch->style);
    const char *p = models;
    while (ok && *p) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t k = n;
        while (k && (*s == ' ' || *s == '\t')) {
            s++;
            k--;
        }
        while (k && (s[k - 1] == ' ' || s[k - 1] == '\t'))
            k--;
        if (k) {
            char **nm = realloc(ch->models, (ch->count + 1) * sizeof *nm);
            char *id = strndup(s, k);
            if (!nm || !id) {
                if (nm) ch->models = nm;
                free(id);
                ok = false;
                break;
            }
            ch->models = nm;
            ch->models[ch->count++] = id;
        }
        p += n;
        if (*p == ',') p++;
    }
    if (!ok || ch->count == 0) {
        chain_free(ch);
        return ok ? -EINVAL : -ENOMEM;
    }
    if (out) *out = ch;
    /* The first step runs from the loop so that even "every model is dead" arrives async. */
    aws__defer(c, &ch->d, chain_step, ch);
    return 0;
}

int aws_image_chain_cancel(aws_image_chain_t *ch)
{
    if (!ch || ch->cancelled || ch->done) return -EALREADY;
    ch->cancelled = true;
    if (ch->call) aws_call_cancel(ch->call);
    return 0;
}
