/* Error typing for AWS answers: where the type comes from (x-amzn-ErrorType, else the JSON body),
 * how it is sanitized, which class (aws_err_t) it maps to, and which classes are retried in the
 * AWS "standard" retry mode (shared/notes/aws-wire.md §2 and §7). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aws/aws_internal.h"
#include "core/arena.h"
#include "core/json.h"

static const char *const err_names[AWS_ERR__COUNT] = {
    [AWS_OK] = "ok",
    [AWS_ERR_THROTTLED] = "throttled",
    [AWS_ERR_VALIDATION] = "validation",
    [AWS_ERR_ACCESS_DENIED] = "access_denied",
    [AWS_ERR_NOT_FOUND] = "not_found",
    [AWS_ERR_MODEL_NOT_READY] = "model_not_ready",
    [AWS_ERR_MODEL_TIMEOUT] = "model_timeout",
    [AWS_ERR_MODEL_ERROR] = "model_error",
    [AWS_ERR_UNAVAILABLE] = "service_unavailable",
    [AWS_ERR_INTERNAL] = "internal",
    [AWS_ERR_NETWORK] = "network",
    [AWS_ERR_TIMEOUT] = "timeout",
    [AWS_ERR_END_OF_LIFE] = "end_of_life",
    [AWS_ERR_CONTENT_FILTERED] = "content_filtered",
    [AWS_ERR_CANCELLED] = "cancelled",
    [AWS_ERR_CREDENTIALS] = "credentials",
    [AWS_ERR_QUOTA] = "service_quota",
    [AWS_ERR_BAD_RESPONSE] = "bad_response",
    [AWS_ERR_OVERLOADED] = "overloaded",
};

const char *aws_err_name(aws_err_t code)
{
    if ((int)code < 0 || code >= AWS_ERR__COUNT) return "unknown";
    return err_names[code];
}

void aws_error_format(const aws_error_t *e, const char *what, char *out, size_t cap)
{
    char status[24] = "";
    if (e->http_status) snprintf(status, sizeof status, "HTTP %ld", e->http_status);
    char detail[112] = "";
    if (e->type[0] || status[0])
        snprintf(detail, sizeof detail, " (%s%s%s)", e->type, e->type[0] && status[0] ? ", " : "",
                 status);
    char rid[96] = "";
    if (e->request_id[0]) snprintf(rid, sizeof rid, " [request %s]", e->request_id);
    snprintf(out, cap, "%s: %s%s: %s%s", what ? what : "aws", aws_err_name(e->code), detail,
             e->message[0] ? e->message : "no message", rid);
}

void aws__copy_printable(char *out, size_t cap, const char *in, size_t n)
{
    if (!cap) return;
    size_t o = 0;
    for (size_t i = 0; i < n && in[i] && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[o++] = (char)((ch < 0x20 || ch == 0x7F) ? ' ' : ch);
    }
    /* Do not leave half a UTF-8 sequence at the cut. */
    if (o + 1 >= cap && o > 0) {
        size_t k = o;
        while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)out[k - 1] & 0x80)) {
            unsigned char lead = (unsigned char)out[k - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (o - (k - 1) < need) o = k - 1;
        }
    }
    out[o] = '\0';
    if (!json_utf8_valid(out, o)) {
        /* Invalid bytes from a misbehaving peer: keep ASCII only. */
        size_t w = 0;
        for (size_t i = 0; i < o; i++)
            if (!((unsigned char)out[i] & 0x80)) out[w++] = out[i];
        out[w] = '\0';
    }
}

void aws__error_sanitize_type(const char *in, size_t n, char *out, size_t cap)
{
    /* "aws.protocoltests#FooError:http://internal..." -> "FooError". */
    const char *colon = memchr(in, ':', n);
    if (colon) n = (size_t)(colon - in);
    const char *hash = NULL;
    for (size_t i = 0; i < n; i++)
        if (in[i] == '#') hash = in + i;
    if (hash) {
        n -= (size_t)(hash + 1 - in);
        in = hash + 1;
    }
    while (n && (in[0] == ' ' || in[0] == '\t')) {
        in++;
        n--;
    }
    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        char ch = in[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '_' || ch == '.' || ch == '-')
            out[o++] = ch;
    }
    out[o] = '\0';
}

static bool type_in(const char *type, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcasecmp(type, list[i]) == 0) return true;
    return false;
}

static const char *const throttling_codes[] = {"Throttling",
                                               "ThrottlingException",
                                               "ThrottledException",
                                               "RequestThrottledException",
                                               "TooManyRequestsException",
                                               "ProvisionedThroughputExceededException",
                                               "TransactionInProgressException",
                                               "RequestLimitExceeded",
                                               "BandwidthLimitExceeded",
                                               "LimitExceededException",
                                               "RequestThrottled",
                                               "SlowDown",
                                               "EC2ThrottledException",
                                               NULL};
static const char *const transient_codes[] = {"RequestTimeout", "RequestTimeoutException",
                                              "PriorRequestNotComplete", NULL};
static const char *const auth_codes[] = {"AccessDeniedException",
                                         "AccessDenied",
                                         "UnrecognizedClientException",
                                         "InvalidSignatureException",
                                         "ExpiredTokenException",
                                         "ExpiredToken",
                                         "MissingAuthenticationTokenException",
                                         "IncompleteSignatureException",
                                         "InvalidClientTokenId",
                                         "RequestExpired",
                                         "SignatureDoesNotMatch",
                                         NULL};
static const char *const validation_codes[] = {"ValidationException",
                                               "SerializationException",
                                               "TextLengthExceededException",
                                               "InvalidSampleRateException",
                                               "InvalidSsmlException",
                                               "MarksNotSupportedForFormatException",
                                               "SsmlMarksNotSupportedForTextTypeException",
                                               "LanguageNotSupportedException",
                                               "EngineNotSupportedException",
                                               "InvalidNextTokenException",
                                               "InvalidLexiconException",
                                               "UnsupportedPlsAlphabetException",
                                               "UnsupportedPlsLanguageException",
                                               NULL};

static bool contains(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

aws_err_t aws__error_classify(long http_status, const char *type, const char *message)
{
    const char *t = type ? type : "";
    /* Lifecycle answers arrive as 404 ResourceNotFound (or 403 AccessDenied for Legacy models)
     * and are told apart only by their message. */
    if (contains(message, "end of its life") || contains(message, "marked by provider as Legacy") ||
        contains(message, "end-of-life"))
        return AWS_ERR_END_OF_LIFE;
    if (contains(message, "content filters") && (!*t || strcasecmp(t, "ValidationException") == 0))
        return AWS_ERR_CONTENT_FILTERED;
    if (*t) {
        if (type_in(t, throttling_codes)) return AWS_ERR_THROTTLED;
        if (type_in(t, transient_codes)) return AWS_ERR_TIMEOUT;
        if (strcasecmp(t, "ModelNotReadyException") == 0) return AWS_ERR_MODEL_NOT_READY;
        if (strcasecmp(t, "ModelTimeoutException") == 0) return AWS_ERR_MODEL_TIMEOUT;
        if (strcasecmp(t, "ModelErrorException") == 0 ||
            strcasecmp(t, "ModelStreamErrorException") == 0)
            return AWS_ERR_MODEL_ERROR;
        if (strcasecmp(t, "ServiceUnavailableException") == 0 ||
            strcasecmp(t, "ServiceUnavailable") == 0)
            return AWS_ERR_UNAVAILABLE;
        if (strcasecmp(t, "InternalServerException") == 0 ||
            strcasecmp(t, "ServiceFailureException") == 0 || strcasecmp(t, "InternalFailure") == 0)
            return AWS_ERR_INTERNAL;
        if (strcasecmp(t, "ServiceQuotaExceededException") == 0) return AWS_ERR_QUOTA;
        if (strcasecmp(t, "ResourceNotFoundException") == 0 ||
            strcasecmp(t, "LexiconNotFoundException") == 0)
            return AWS_ERR_NOT_FOUND;
        if (type_in(t, auth_codes)) return AWS_ERR_ACCESS_DENIED;
        if (type_in(t, validation_codes)) return AWS_ERR_VALIDATION;
    }
    switch (http_status) {
    case 400:
        return AWS_ERR_VALIDATION;
    case 401:
    case 403:
        return AWS_ERR_ACCESS_DENIED;
    case 404:
        return AWS_ERR_NOT_FOUND;
    case 408:
        return AWS_ERR_TIMEOUT;
    case 424:
        return AWS_ERR_MODEL_ERROR;
    case 429:
        return AWS_ERR_THROTTLED;
    case 502:
    case 503:
    case 504:
        return AWS_ERR_UNAVAILABLE;
    default:
        break;
    }
    if (http_status >= 500) return AWS_ERR_INTERNAL;
    return http_status >= 400 ? AWS_ERR_VALIDATION : AWS_ERR_BAD_RESPONSE;
}

int aws__error_retry_class(const aws_error_t *e)
{
    switch (e->code) {
    case AWS_ERR_THROTTLED:
    case AWS_ERR_MODEL_NOT_READY:
    case AWS_ERR_UNAVAILABLE:
    case AWS_ERR_NETWORK:
        return 1;
    case AWS_ERR_INTERNAL:
        /* Standard mode retries 500/502/503/504 and modeled internal errors (also mid-stream,
         * where the HTTP status is 200); other 5xx codes are not transient. */
        return (e->http_status == 0 || e->http_status == 200 || e->http_status == 500 ||
                e->http_status == 502 || e->http_status == 503 || e->http_status == 504)
                   ? 1
                   : 0;
    case AWS_ERR_TIMEOUT:
        /* Our own timeout (no HTTP status) costs more of the quota, as a read timeout does. */
        return e->http_status == 0 ? 2 : 1;
    default:
        return 0;
    }
}

void aws__error_set(aws_error_t *e, aws_err_t code, const char *type, const char *fmt, ...)
{
    memset(e, 0, sizeof *e);
    e->code = code;
    if (type) snprintf(e->type, sizeof e->type, "%s", type);
    char tmp[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    aws__copy_printable(e->message, sizeof e->message, tmp, strlen(tmp));
}

void aws__error_from_net(aws_error_t *e, int net_status, const char *detail)
{
    aws_err_t code = AWS_ERR_NETWORK;
    if (net_status == NET_E_TIMEOUT)
        code = AWS_ERR_TIMEOUT;
    else if (net_status == NET_E_CANCELLED || net_status == NET_E_CLOSING)
        code = AWS_ERR_CANCELLED;
    else if (net_status == NET_E_TOO_LARGE)
        code = AWS_ERR_BAD_RESPONSE;
    aws__error_set(e, code, NULL, "%s%s%s", net_strerror(net_status), detail && *detail ? ": " : "",
                   detail ? detail : "");
}

void aws__error_from_http(aws_error_t *e, long http_status, const net_headers_t *h,
                          const char *body, size_t body_len)
{
    memset(e, 0, sizeof *e);
    e->http_status = http_status;
    const char *rid = h ? net_headers_get(h, "x-amzn-RequestId") : NULL;
    if (rid) aws__copy_printable(e->request_id, sizeof e->request_id, rid, strlen(rid));
    const char *htype = h ? net_headers_get(h, "x-amzn-ErrorType") : NULL;
    if (htype) aws__error_sanitize_type(htype, strlen(htype), e->type, sizeof e->type);
    const char *msg = NULL;
    arena_t a;
    arena_init(&a);
    if (body && body_len > 0 && body_len < 65536) {
        char perr[128];
        yajl_val doc = json_parse(&a, body, body_len, 16, perr, sizeof perr);
        if (doc && YAJL_IS_OBJECT(doc)) {
            if (!e->type[0]) {
                const char *bt = json_get_str(doc, "code");
                if (!bt) bt = json_get_str(doc, "Code");
                if (!bt) bt = json_get_str(doc, "__type");
                if (bt) aws__error_sanitize_type(bt, strlen(bt), e->type, sizeof e->type);
            }
            msg = json_get_str(doc, "message");
            if (!msg) msg = json_get_str(doc, "Message");
        }
    }
    if (msg)
        aws__copy_printable(e->message, sizeof e->message, msg, strlen(msg));
    else
        snprintf(e->message, sizeof e->message, "HTTP %ld with no error message", http_status);
    e->code = aws__error_classify(http_status, e->type, e->message);
    arena_free(&a);
}
