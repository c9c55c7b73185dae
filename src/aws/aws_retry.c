/* The arithmetic of the AWS "standard" retry mode used by the call engine (aws_call.c): the
 * backoff delay (full jitter, capped, stretched by a server's Retry-After hint) and the
 * client-wide retry quota (a token bucket: a retry costs 5 tokens, 10 after a timeout; a success
 * refunds). Kept apart from the engine so that the numbers can be checked without a network. */
#include <math.h>
#include <stdlib.h>

#include "aws/aws_internal.h"

long aws__retry_after_ms(const net_headers_t *h)
{
    if (!h) return -1;
    /* x-amz-retry-after is in milliseconds (the 2026 SDK revision); Retry-After in seconds. Only
     * the delta-seconds form of Retry-After is read: AWS services do not send HTTP dates. */
    const char *v = net_headers_get(h, "x-amz-retry-after");
    if (v && *v >= '0' && *v <= '9') {
        long ms = strtol(v, NULL, 10);
        return ms < 0 ? -1 : ms;
    }
    v = net_headers_get(h, "Retry-After");
    if (v && *v >= '0' && *v <= '9') {
        long s = strtol(v, NULL, 10);
        if (s < 0) return -1;
        return s > 86400 ? 86400L * 1000L : s * 1000L;
    }
    return -1;
}

long aws__backoff_ms(aws_client_t *c, int attempt, long retry_after_ms)
{
    const aws_config_t *k = &c->cfg;
    if (attempt < 1) attempt = 1;
    /* Full jitter: uniform in [0, min(base * 2^(attempt-1), max)). */
    double cap = (double)k->backoff_base_ms * pow(2.0, attempt - 1);
    if (cap > (double)k->backoff_max_ms) cap = (double)k->backoff_max_ms;
    long delay = (long)(aws__rand01(c) * cap);
    if (retry_after_ms >= 0) {
        /* Honour the server's hint, but never sleep more than 5 s past our own choice nor past
         * the configured maximum: a hostile or confused hint cannot park a call for hours. */
        long hinted = retry_after_ms < delay + 5000 ? retry_after_ms : delay + 5000;
        if (hinted > delay) delay = hinted;
        if (delay > k->backoff_max_ms) delay = k->backoff_max_ms;
    }
    return delay;
}

int aws__retry_cost(const aws_error_t *err)
{
    int cls = aws__error_retry_class(err);
    return cls == 0 ? 0 : cls == 2 ? 10 : 5;
}

bool aws__quota_take(aws_client_t *c, int cost)
{
    if (c->quota < cost) return false;
    c->quota -= cost;
    return true;
}

void aws__quota_refund(aws_client_t *c, int last_cost)
{
    /* The cost of the last retry, or 1 for a call that needed none. */
    c->quota += last_cost ? last_cost : 1;
    if (c->quota > c->cfg.retry_quota) c->quota = c->cfg.retry_quota;
}
