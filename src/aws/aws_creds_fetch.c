/* Credential fetchers that talk HTTP through net: the ECS container endpoint (a GET with an
 * optional Authorization token) and EC2 IMDSv2 (PUT for a session token, GET the role name, GET
 * the role's credentials). Each request has the short cfg.creds_timeout_ms so an absent endpoint
 * costs about a second once, never a blocked loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws_creds_int.h"
#include "core/arena.h"
#include "core/json.h"
#include "core/log.h"

enum { STEP_CONTAINER = 1, STEP_IMDS_TOKEN, STEP_IMDS_ROLE, STEP_IMDS_CREDS };

static void fetch_done(net_request_t *req, const net_response_t *res, void *arg);

/* The SDKs accept plain-http full URIs only for loopback and the ECS/EKS link-local hosts, so
 * that a mis-set variable cannot send the token to an arbitrary host in clear text. The host is
 * compared whole, after the authority is parsed the way curl parses it: comparing prefixes of
 * the URL let "http://localhost.evil.com" and "http://127.0.0.1@evil.com" through. */
bool aws__creds_full_uri_allowed(const char *uri)
{
    if (!uri) return false;
    if (strncasecmp(uri, "https://", 8) == 0) return uri[8] != '\0';
    if (strncasecmp(uri, "http://", 7) != 0) return false;
    const char *auth = uri + 7;
    size_t alen = strcspn(auth, "/?#");
    /* Userinfo would make curl connect to what follows the '@': refuse it outright. */
    if (memchr(auth, '@', alen) || memchr(auth, '\\', alen)) return false;
    char host[256];
    const char *port;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close || (size_t)(close - auth - 1) >= sizeof host) return false;
        memcpy(host, auth + 1, (size_t)(close - auth - 1));
        host[close - auth - 1] = '\0';
        port = close + 1;
        struct in6_addr a6, ec2;
        if (inet_pton(AF_INET6, host, &a6) != 1) return false;
        inet_pton(AF_INET6, "fd00:ec2::23", &ec2);
        if (!IN6_IS_ADDR_LOOPBACK(&a6) && memcmp(&a6, &ec2, sizeof a6) != 0) return false;
    } else {
        size_t hl = strcspn(auth, ":/?#");
        if (hl == 0 || hl >= sizeof host) return false;
        memcpy(host, auth, hl);
        host[hl] = '\0';
        port = auth + hl;
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) == 1) {
            uint32_t ip = ntohl(a4.s_addr);
            if ((ip >> 24) != 127 && strcmp(host, "169.254.170.2") != 0 &&
                strcmp(host, "169.254.170.23") != 0)
                return false;
        } else if (strcasecmp(host, "localhost") != 0) {
            return false;
        }
    }
    /* Nothing but an optional ":digits" may follow the host inside the authority. */
    const char *aend = auth + alen;
    if (port < aend) {
        if (*port != ':' || port + 1 == aend) return false;
        for (const char *p = port + 1; p < aend; p++)
            if (*p < '0' || *p > '9') return false;
    }
    return true;
}

static int fetch_start(aws_client_t *c, const char *method, const char *url, const char *hname,
                       const char *hvalue, int step)
{
    aws_creds_t *cr = &c->creds;
    net_request_t *r = net_request_new(method, url);
    if (!r) return -EINVAL;
    int rc = 0;
    if (hname && hvalue) rc = net_request_add_header(r, hname, hvalue);
    if (step == STEP_IMDS_TOKEN) rc |= net_request_set_body(r, "", 0);
    net_request_set_timeout_ms(r, c->cfg.creds_timeout_ms);
    net_request_set_max_response_bytes(r, 64 * 1024);
    if (rc || (rc = net_request_start(c->net, r, fetch_done, c)) != 0) {
        net_request_free(r);
        return rc ? rc : -EINVAL;
    }
    cr->req = r;
    cr->step = step;
    cr->pending++;
    return 0;
}

static void imds_url(const aws_client_t *c, const char *path, char *out, size_t cap)
{
    const char *base = c->cfg.imds_endpoint ? c->cfg.imds_endpoint : "http://169.254.169.254";
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    snprintf(out, cap, "%.*s%s", (int)n, base, path);
}

void aws__creds_fetch(aws_client_t *c, int kind)
{
    aws_creds_t *cr = &c->creds;
    cr->fetch_kind = kind;
    char url[2048];
    int rc;
    if (kind == AWS_FETCH_CONTAINER) {
        const aws_config_t *cfg = &c->cfg;
        if (cfg->container_full_uri && !cfg->container_relative_uri) {
            if (!aws__creds_full_uri_allowed(cfg->container_full_uri)) {
                aws__creds_fail(c, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a "
                                   "loopback/link-local http address");
                return;
            }
            snprintf(url, sizeof url, "%s", cfg->container_full_uri);
        } else {
            snprintf(url, sizeof url, "%s%s",
                     cfg->container_host ? cfg->container_host : "http://169.254.170.2",
                     cfg->container_relative_uri ? cfg->container_relative_uri : "");
        }
        /* As in the SDKs, a token file wins over the token variable: orchestrators rotate the
         * file, and a stale variable left beside it must not be sent instead. */
        const char *tok;
        if (cfg->container_auth_token_file) {
            if (!cr->file_token) {
                aws__creds_fail(c, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s",
                                cfg->container_auth_token_file);
                return;
            }
            tok = cr->file_token;
        } else {
            tok = cfg->container_auth_token;
        }
        if (tok && (strchr(tok, '\r') || strchr(tok, '\n'))) {
            aws__creds_fail(c, "the container authorization token is not a legal header value");
            return;
        }
        rc = fetch_start(c, "GET", url, tok ? "Authorization" : NULL, tok, STEP_CONTAINER);
    } else {
        imds_url(c, "/latest/api/token", url, sizeof url);
        rc = fetch_start(c, "PUT", url, "X-aws-ec2-metadata-token-ttl-seconds", "21600",
                         STEP_IMDS_TOKEN);
    }
    if (rc) aws__creds_fail(c, "cannot start the credential request: %s", net_strerror(rc));
}

void aws__creds_fetch_cancel(aws_client_t *c)
{
    if (c->creds.req) net_request_cancel(c->creds.req);
}

/* Parses {"AccessKeyId","SecretAccessKey","Token","Expiration"} (both endpoints use it). */
static int take_creds(aws_client_t *c, const char *body, size_t len, const char *source)
{
    arena_t a;
    arena_init(&a);
    char err[128];
    yajl_val doc = json_parse(&a, body, len, 8, err, sizeof err);
    int rc = -EINVAL;
    if (doc) {
        const char *code = json_get_str(doc, "Code");
        const char *ak = json_get_str(doc, "AccessKeyId");
        const char *sk = json_get_str(doc, "SecretAccessKey");
        const char *tok = json_get_str(doc, "Token");
        const char *exp = json_get_str(doc, "Expiration");
        int64_t e = exp ? aws__parse_iso8601(exp) : 0;
        if ((!code || strcmp(code, "Success") == 0) && ak && sk && *ak && *sk && e >= 0)
            rc = aws__creds_set(c, ak, sk, tok, e, source);
    }
    arena_free(&a);
    return rc;
}

static void fetch_done(net_request_t *req, const net_response_t *res, void *arg)
{
    (void)req;
    aws_client_t *c = arg;
    aws_creds_t *cr = &c->creds;
    cr->req = NULL;
    cr->pending--;
    int step = cr->step;
    cr->step = 0;
    const char *what = step == STEP_CONTAINER ? "container credentials endpoint" : "EC2 IMDS";
    if (c->closing) {
        aws__creds_fail(c, "client closing");
        aws__client_maybe_closed(c);
        return;
    }
    if (res->status != 0) {
        aws__creds_fail(c, "%s: %s", what, net_strerror(res->status));
        return;
    }
    if (res->http_status != 200) {
        aws__creds_fail(c, "%s answered HTTP %ld", what, res->http_status);
        return;
    }
    const char *body = res->body->data ? res->body->data : "";
    size_t len = res->body->len;
    char url[2048];
    int rc;
    switch (step) {
    case STEP_CONTAINER:
    case STEP_IMDS_CREDS:
        if (take_creds(c, body, len, step == STEP_CONTAINER ? "container" : "imds")) {
            aws__creds_fail(c, "%s returned no usable credentials", what);
            return;
        }
        cr->fetches++;
        cr->refreshing = false;
        log_info(AWS_COMPONENT, "AWS credentials from the %s (expire at %lld)", what,
                 (long long)cr->expiration);
        aws__creds_schedule(c);
        aws__creds_notify(c, NULL);
        return;
    case STEP_IMDS_TOKEN:
        free(cr->imds_token);
        cr->imds_token = strndup(body, strcspn(body, "\r\n"));
        imds_url(c, "/latest/meta-data/iam/security-credentials/", url, sizeof url);
        rc = cr->imds_token ? fetch_start(c, "GET", url, "X-aws-ec2-metadata-token", cr->imds_token,
                                          STEP_IMDS_ROLE)
                            : -ENOMEM;
        break;
    case STEP_IMDS_ROLE: {
        free(cr->imds_role);
        cr->imds_role = strndup(body, strcspn(body, "\r\n"));
        if (!cr->imds_role || !*cr->imds_role || strchr(cr->imds_role, '/')) {
            aws__creds_fail(c, "EC2 IMDS: no IAM role attached to this instance");
            return;
        }
        char path[512];
        snprintf(path, sizeof path, "/latest/meta-data/iam/security-credentials/%s", cr->imds_role);
        imds_url(c, path, url, sizeof url);
        rc =
            fetch_start(c, "GET", url, "X-aws-ec2-metadata-token", cr->imds_token, STEP_IMDS_CREDS);
        break;
    }
    default:
        rc = -EINVAL;
        break;
    }
    if (rc) aws__creds_fail(c, "%s: cannot start the next request: %s", what, net_strerror(rc));
}
