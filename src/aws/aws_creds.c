/* The credential chain, in the SDKs' order: static/environment keys, the shared profile files
 * (~/.aws/credentials then ~/.aws/config, read on the threadpool), the ECS container endpoint,
 * then EC2 IMDSv2 (both fetched through net with short timeouts, aws_creds_fetch.c). Expiring
 * credentials are refreshed in the background cfg.creds_refresh_margin_s before they expire;
 * callers keep signing with the current set meanwhile and only wait when it has expired. After a
 * failed resolution, calls fail fast for AWS_CREDS_RETRY_S before the chain is tried again, so an
 * offline machine does not pay the IMDS timeout on every call. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aws/aws_creds_int.h"
#include "core/log.h"

#define AWS_CREDS_RETRY_S     10
#define AWS_CREDS_MAX_FILE    (1024 * 1024) /* profile files and token files are small */
#define AWS_CREDS_REFRESH_ERR 30            /* seconds between failed background refreshes */

/* ---- INI parsing (pure) ---- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static size_t trim_len(const char *p, size_t n)
{
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
        n--;
    return n;
}

char *aws__ini_get(const char *text, size_t len, const char *section, const char *key)
{
    const char *p = text, *end = text + len;
    bool in = false;
    size_t sl = strlen(section), kl = strlen(key);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = skip_ws(p, le);
        size_t n = trim_len(s, (size_t)(le - s));
        if (n && s[0] == '[') {
            /* "[ profile  name ]": compare with inner whitespace runs collapsed. */
            const char *a = skip_ws(s + 1, s + n);
            const char *b = s + n;
            if (b > a && b[-1] == ']') b--;
            b = a + trim_len(a, (size_t)(b - a));
            char name[256];
            size_t o = 0;
            for (const char *q = a; q < b && o + 1 < sizeof name; q++) {
                if ((*q == ' ' || *q == '\t') && o && name[o - 1] == ' ') continue;
                name[o++] = (char)(*q == '\t' ? ' ' : *q);
            }
            name[o] = '\0';
            in = o == sl && memcmp(name, section, sl) == 0;
        } else if (in && n && s[0] != '#' && s[0] != ';') {
            const char *eq = memchr(s, '=', n);
            if (eq) {
                size_t klen = trim_len(s, (size_t)(eq - s));
                if (klen == kl && strncasecmp(s, key, kl) == 0) {
                    const char *v = skip_ws(eq + 1, s + n);
                    size_t vl = trim_len(v, (size_t)(s + n - v));
                    char *out = malloc(vl + 1);
                    if (!out) return NULL;
                    memcpy(out, v, vl);
                    out[vl] = '\0';
                    return out;
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
    return NULL;
}

/* ---- state helpers ---- */

static void creds_clear(aws_creds_t *cr)
{
    free(cr->ak);
    free(cr->sk);
    free(cr->token);
    cr->ak = cr->sk = cr->token = NULL;
}

int aws__creds_set(aws_client_t *c, const char *ak, const char *sk, const char *token,
                   int64_t expiration, const char *source)
{
    aws_creds_t *cr = &c->creds;
    char *a = strdup(ak), *s = strdup(sk), *t = token && *token ? strdup(token) : NULL;
    if (!a || !s || (token && *token && !t)) {
        free(a);
        free(s);
        free(t);
        return -ENOMEM;
    }
    creds_clear(cr);
    cr->ak = a;
    cr->sk = s;
    cr->token = t;
    cr->expiration = expiration;
    cr->source = source;
    cr->state = AWS_CREDS_READY;
    return 0;
}

void aws__creds_current(aws_client_t *c, sigv4_credentials_t *out)
{
    out->access_key_id = c->creds.ak ? c->creds.ak : "";
    out->secret_access_key = c->creds.sk ? c->creds.sk : "";
    out->session_token = c->creds.token;
}

static bool creds_usable(const aws_client_t *c, int64_t now)
{
    /* Stop signing with a set shortly before it expires (10 s, or the refresh margin when that is
     * smaller): the request may take that long to land. */
    const aws_creds_t *cr = &c->creds;
    int64_t slack = c->cfg.creds_refresh_margin_s < 10 ? c->cfg.creds_refresh_margin_s : 10;
    return cr->state == AWS_CREDS_READY && (cr->expiration == 0 || now < cr->expiration - slack);
}

/* Calls every waiter (the list is detached first: a callback may add new waiters). */
void aws__creds_notify(aws_client_t *c, const aws_error_t *err)
{
    aws_creds_t *cr = &c->creds;
    aws_creds_waiter_t *w = cr->waiters;
    cr->waiters = NULL;
    while (w) {
        aws_creds_waiter_t *next = w->next;
        w->next = NULL;
        w->ready(w->arg, err);
        w = next;
    }
}

static void refresh_timer_cb(uv_timer_t *t);

/* After a successful fetch of expiring credentials: plan the next refresh. */
void aws__creds_schedule(aws_client_t *c)
{
    aws_creds_t *cr = &c->creds;
    if (!cr->expiration || c->closing) return;
    int64_t at = cr->expiration - c->cfg.creds_refresh_margin_s;
    int64_t now = aws__now_s();
    uint64_t ms = at > now ? (uint64_t)(at - now) * 1000u : 0;
    uv_timer_start(&cr->refresh_timer, refresh_timer_cb, ms, 0);
}

/* ---- resolution: profile files on the threadpool, then the fetchers ---- */

typedef struct {
    uv_work_t w;
    aws_client_t *c;
    bool refresh;
    /* inputs (copied) */
    char *cred_path, *conf_path, *profile, *token_path;
    /* outputs */
    char *ak, *sk, *token, *region, *file_token;
    char err[160];
} files_job_t;

static char *read_small_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    buf_t b;
    buf_init(&b, AWS_CREDS_MAX_FILE);
    char tmp[4096];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof tmp)) > 0) {
        if (buf_append(&b, tmp, (size_t)n)) {
            snprintf(err, errlen, "%s is larger than %d bytes", path, AWS_CREDS_MAX_FILE);
            buf_free(&b);
            close(fd);
            return NULL;
        }
    }
    close(fd);
    if (!b.data) buf_append(&b, "", 0);
    return buf_steal(&b, NULL);
}

static void files_work(uv_work_t *w)
{
    files_job_t *j = w->data;
    if (j->token_path) {
        char *t = read_small_file(j->token_path, j->err, sizeof j->err);
        if (t) {
            t[strcspn(t, "\r\n")] = '\0';
            j->file_token = t;
        }
    }
    if (j->refresh) return;
    const char *prof = j->profile ? j->profile : "default";
    if (j->cred_path) {
        char *text = read_small_file(j->cred_path, j->err, sizeof j->err);
        if (text) {
            size_t n = strlen(text);
            j->ak = aws__ini_get(text, n, prof, "aws_access_key_id");
            j->sk = aws__ini_get(text, n, prof, "aws_secret_access_key");
            j->token = aws__ini_get(text, n, prof, "aws_session_token");
            free(text);
        }
    }
    if (j->conf_path) {
        char *text = read_small_file(j->conf_path, j->err, sizeof j->err);
        if (text) {
            size_t n = strlen(text);
            char section[300];
            if (strcmp(prof, "default") == 0)
                snprintf(section, sizeof section, "default");
            else
                snprintf(section, sizeof section, "profile %s", prof);
            j->region = aws__ini_get(text, n, section, "region");
            if (!j->ak || !j->sk) {
                free(j->ak);
                free(j->sk);
                free(j->token);
                j->ak = aws__ini_get(text, n, section, "aws_access_key_id");
                j->sk = aws__ini_get(text, n, section, "aws_secret_access_key");
                j->token = aws__ini_get(text, n, section, "aws_session_token");
            }
            free(text);
        }
    }
}

static void files_job_free(files_job_t *j)
{
    free(j->cred_path);
    free(j->conf_path);
    free(j->profile);
    free(j->token_path);
    free(j->ak);
    free(j->sk);
    free(j->token);
    free(j->region);
    free(j->file_token);
    free(j);
}

void aws__creds_fail(aws_client_t *c, const char *fmt, ...)
{
    aws_creds_t *cr = &c->creds;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cr->fail_msg, sizeof cr->fail_msg, fmt, ap);
    va_end(ap);
    cr->refreshing = false;
    if (creds_usable(c, aws__now_s())) {
        /* A failed background refresh: keep the current set and try again later. */
        log_warn(AWS_COMPONENT, "credential refresh failed (keeping the current set): %s",
                 cr->fail_msg);
        if (!c->closing)
            uv_timer_start(&cr->refresh_timer, refresh_timer_cb, AWS_CREDS_REFRESH_ERR * 1000, 0);
        aws__creds_notify(c, NULL);
        return;
    }
    cr->state = AWS_CREDS_FAILED;
    cr->failed_at = aws__now_s();
    log_warn(AWS_COMPONENT, "no AWS credentials: %s", cr->fail_msg);
    aws_error_t e;
    aws__error_set(&e, c->closing ? AWS_ERR_CANCELLED : AWS_ERR_CREDENTIALS, NULL,
                   "no AWS credentials: %s", cr->fail_msg);
    aws__creds_notify(c, &e);
}

static void files_done(uv_work_t *w, int status)
{
    files_job_t *j = w->data;
    aws_client_t *c = j->c;
    aws_creds_t *cr = &c->creds;
    cr->pending--;
    free(cr->file_token);
    cr->file_token = j->file_token;
    j->file_token = NULL;
    if (c->closing || status != 0) {
        files_job_free(j);
        aws__creds_fail(c, "client closing");
        aws__client_maybe_closed(c);
        return;
    }
    if (j->region && *j->region && c->creds.region_defaulted) {
        /* Before any waiter is told: the calls about to be sent sign for the new region and go
         * to its hosts. */
        if (aws__client_set_region(c, j->region) == 0)
            c->creds.region_defaulted = false;
        else
            log_warn(AWS_COMPONENT, "ignoring the profile's region: not a region name");
    }
    if (!j->refresh && c->cfg.access_key_id && c->cfg.secret_access_key) {
        /* Static keys whose region had to come from the config file (aws__creds_init). */
        files_job_free(j);
        if (aws__creds_set(c, c->cfg.access_key_id, c->cfg.secret_access_key, c->cfg.session_token,
                           0, "environment")) {
            aws__creds_fail(c, "out of memory");
            return;
        }
        aws__creds_notify(c, NULL);
        return;
    }
    if (!j->refresh && j->ak && j->sk && *j->ak && *j->sk) {
        int rc = aws__creds_set(c, j->ak, j->sk, j->token, 0, "profile");
        files_job_free(j);
        if (rc) {
            aws__creds_fail(c, "out of memory");
            return;
        }
        log_info(AWS_COMPONENT, "AWS credentials from the shared profile files");
        aws__creds_notify(c, NULL);
        return;
    }
    bool refresh = j->refresh;
    files_job_free(j);
    if (refresh) {
        aws__creds_fetch(c, cr->source && strcmp(cr->source, "imds") == 0 ? AWS_FETCH_IMDS
                                                                          : AWS_FETCH_CONTAINER);
        return;
    }
    if (c->cfg.container_full_uri || c->cfg.container_relative_uri) {
        aws__creds_fetch(c, AWS_FETCH_CONTAINER);
        return;
    }
    if (!c->cfg.imds_disabled) {
        aws__creds_fetch(c, AWS_FETCH_IMDS);
        return;
    }
    aws__creds_fail(c, "none found in the environment, the profile files or a container endpoint "
                       "(IMDS disabled)");
}

static char *join_home(const char *home, const char *rest)
{
    if (!home) return NULL;
    size_t n = strlen(home) + strlen(rest) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s", home, rest);
    return p;
}

static void creds_begin(aws_client_t *c, bool refresh)
{
    aws_creds_t *cr = &c->creds;
    files_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        aws__creds_fail(c, "out of memory");
        return;
    }
    j->c = c;
    j->refresh = refresh;
    const aws_config_t *cfg = &c->cfg;
    j->cred_path = cfg->credentials_file ? strdup(cfg->credentials_file)
                                         : join_home(cfg->home, "/.aws/credentials");
    j->conf_path =
        cfg->config_file ? strdup(cfg->config_file) : join_home(cfg->home, "/.aws/config");
    j->profile = cfg->profile ? strdup(cfg->profile) : NULL;
    j->token_path = cfg->container_auth_token_file ? strdup(cfg->container_auth_token_file) : NULL;
    j->w.data = j;
    if (refresh)
        cr->refreshing = true;
    else
        cr->state = AWS_CREDS_RESOLVING;
    cr->pending++;
    if (uv_queue_work(c->loop, &j->w, files_work, files_done) != 0) {
        cr->pending--;
        files_job_free(j);
        aws__creds_fail(c, "cannot queue the profile file read");
    }
}

static void refresh_timer_cb(uv_timer_t *t)
{
    aws_client_t *c = t->data;
    aws_creds_t *cr = &c->creds;
    if (c->closing || cr->refreshing || cr->state == AWS_CREDS_RESOLVING) return;
    if (!cr->expiration) return;
    creds_begin(c, true);
}

/* ---- API used by the call engine ---- */

int aws__creds_init(aws_client_t *c)
{
    aws_creds_t *cr = &c->creds;
    uv_timer_init(c->loop, &cr->refresh_timer);
    cr->refresh_timer.data = c;
    cr->timer_open = true;
    c->open_handles++;
    const aws_config_t *k = &c->cfg;
    /* Static keys are ready at once, unless the region is still to be read from the config file:
     * then the first call waits for that read (on the threadpool) like any profile lookup, so
     * it is signed for, and sent to, the profile's region. */
    bool region_from_file = cr->region_defaulted && (k->config_file || k->home);
    if (k->access_key_id && k->secret_access_key && !region_from_file)
        return aws__creds_set(c, k->access_key_id, k->secret_access_key, k->session_token, 0,
                              "environment");
    return 0;
}

void aws__creds_get(aws_client_t *c, aws_creds_waiter_t *w)
{
    aws_creds_t *cr = &c->creds;
    int64_t now = aws__now_s();
    if (creds_usable(c, now)) {
        if (cr->expiration && now >= cr->expiration - c->cfg.creds_refresh_margin_s &&
            !cr->refreshing && !c->closing)
            creds_begin(c, true);
        w->ready(w->arg, NULL);
        return;
    }
    if (cr->state == AWS_CREDS_FAILED && now - cr->failed_at < AWS_CREDS_RETRY_S) {
        aws_error_t e;
        aws__error_set(&e, AWS_ERR_CREDENTIALS, NULL, "no AWS credentials: %s", cr->fail_msg);
        w->ready(w->arg, &e);
        return;
    }
    w->next = cr->waiters;
    cr->waiters = w;
    if (cr->state == AWS_CREDS_RESOLVING || cr->refreshing) return;
    /* Expired refreshable credentials are fetched again from their source; anything else runs
     * the whole chain. */
    if (cr->state == AWS_CREDS_READY && cr->expiration)
        creds_begin(c, true);
    else
        creds_begin(c, false);
}

void aws__creds_forget(aws_client_t *c, aws_creds_waiter_t *w)
{
    for (aws_creds_waiter_t **pp = &c->creds.waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            w->next = NULL;
            return;
        }
    }
}

static void refresh_timer_closed(uv_handle_t *h)
{
    aws_client_t *c = h->data;
    c->open_handles--;
    aws__client_maybe_closed(c);
}

void aws__creds_close(aws_client_t *c)
{
    aws_creds_t *cr = &c->creds;
    aws__creds_fetch_cancel(c);
    if (cr->timer_open) {
        cr->timer_open = false;
        uv_close((uv_handle_t *)&cr->refresh_timer, refresh_timer_closed);
    }
}

void aws__creds_free(aws_client_t *c)
{
    aws_creds_t *cr = &c->creds;
    creds_clear(cr);
    free(cr->imds_token);
    free(cr->imds_role);
    free(cr->file_token);
    cr->imds_token = cr->imds_role = cr->file_token = NULL;
}

void aws_client_creds_info(const aws_client_t *c, aws_creds_info_t *out)
{
    memset(out, 0, sizeof *out);
    const aws_creds_t *cr = &c->creds;
    if (cr->state == AWS_CREDS_READY || cr->refreshing) {
        snprintf(out->access_key_id, sizeof out->access_key_id, "%s", cr->ak ? cr->ak : "");
        snprintf(out->source, sizeof out->source, "%s", cr->source ? cr->source : "none");
        out->expiration = cr->expiration;
        out->has_session_token = cr->token != NULL;
    } else {
        snprintf(out->source, sizeof out->source, "none");
    }
    out->fetches = cr->fetches;
}

/* ---- start-up probe ---- */

typedef struct {
    aws_client_t *c;
    aws_creds_waiter_t w;
    aws_defer_t d;
    aws_probe_cb cb;
    void *arg;
    bool ok;
    char msg[sizeof(((aws_error_t *)0)->message)];
} probe_t;

static void probe_deliver(void *arg)
{
    probe_t *p = arg;
    aws_client_t *c = p->c;
    aws_probe_t r = {
        .sigv4 = p->ok,
        .bearer = c->cfg.bearer_token != NULL,
        .source = p->ok && c->creds.source ? c->creds.source : "none",
        .message = p->msg,
    };
    r.bedrock = r.sigv4 || r.bearer;
    r.polly = r.sigv4;
    p->cb(p->arg, &r);
    free(p);
    c->jobs--;
    aws__client_maybe_closed(c);
}

static void probe_ready(void *arg, const aws_error_t *err)
{
    probe_t *p = arg;
    p->ok = err == NULL;
    if (err) snprintf(p->msg, sizeof p->msg, "%s", err->message);
    aws__defer(p->c, &p->d, probe_deliver, p);
}

int aws_client_probe(aws_client_t *c, aws_probe_cb cb, void *arg)
{
    if (c->closing) return -ECANCELED;
    probe_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->c = c;
    p->cb = cb;
    p->arg = arg;
    p->w.ready = probe_ready;
    p->w.arg = p;
    c->jobs++;
    aws__creds_get(c, &p->w);
    return 0;
}
