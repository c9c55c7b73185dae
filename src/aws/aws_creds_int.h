/* Internal interface between the credential chain (aws_creds.c) and the container/IMDS fetchers
 * (aws_creds_fetch.c). */
#ifndef NOVA_AWS_AWS_CREDS_INT_H
#define NOVA_AWS_AWS_CREDS_INT_H

#include <stdarg.h>

#include "aws/aws_internal.h"

enum { AWS_FETCH_CONTAINER = 1, AWS_FETCH_IMDS = 2 };

/* Replaces the current credentials (copies) and marks them ready. */
int aws__creds_set(aws_client_t *c, const char *ak, const char *sk, const char *token,
                   int64_t expiration, const char *source);
void aws__creds_notify(aws_client_t *c, const aws_error_t *err);
void aws__creds_schedule(aws_client_t *c);
/* Resolution or refresh failed: keeps a still-valid set, else fails the waiters. */
void aws__creds_fail(aws_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Starts fetching from the container endpoint or IMDS; ends in set+notify or aws__creds_fail. */
void aws__creds_fetch(aws_client_t *c, int kind);
void aws__creds_fetch_cancel(aws_client_t *c);
/* Whether AWS_CONTAINER_CREDENTIALS_FULL_URI may be used: https to any host; plain http only to
 * localhost, a 127.0.0.0/8 literal, [::1], 169.254.170.2, 169.254.170.23 or [fd00:ec2::23]. */
bool aws__creds_full_uri_allowed(const char *uri);
void aws__creds_free(aws_client_t *c);

#endif
