/* bedrock_guardrail: Amazon Bedrock Guardrails' ApplyGuardrail operation on an aws_client_t
 * (POST /guardrail/{id}/version/{version}/apply), used to screen a story's inputs before a model
 * sees them. The Converse side of Guardrails (guardrailConfig) is in aws_bedrock.h.
 *
 * The request struct is borrowed for the start call only. The result passed to the callback
 * lives only during the callback. */
#ifndef NOVA_AWS_BEDROCK_GUARDRAIL_H
#define NOVA_AWS_BEDROCK_GUARDRAIL_H

#include <stdbool.h>

#include "aws/aws.h"

typedef struct {
    const char *guardrail_id;      /* identifier or ARN (required) */
    const char *guardrail_version; /* "DRAFT" or a number (required) */
    bool output;                   /* false: source INPUT, true: source OUTPUT */
    const char *const *texts;      /* the text blocks to assess, at least one non-empty */
    size_t ntexts;
    long timeout_ms; /* 0 = the client's text timeout */
} aws_guardrail_req_t;

typedef struct {
    bool intervened;    /* action GUARDRAIL_INTERVENED */
    const char *action; /* "NONE", "GUARDRAIL_INTERVENED" (as sent) */
    const char *output; /* the guardrail's replacement text ("" when none) */
    char request_id[72];
} aws_guardrail_res_t;

/* err is NULL on success (then res is set), res is NULL on failure. */
typedef void (*aws_guardrail_cb)(void *arg, const aws_error_t *err, const aws_guardrail_res_t *res);

/* Returns 0 (cb runs once, later), -EINVAL (missing id, version or text) or -ENOMEM. *out (may be
 * NULL) receives a handle for aws_call_cancel, valid until cb runs. */
int aws_apply_guardrail(aws_client_t *c, const aws_guardrail_req_t *req, aws_guardrail_cb cb,
                        void *arg, aws_call_t **out);

/* Builds the request body (for tests). Returns 0, -EINVAL or -ENOMEM; *out is malloc'd. */
int aws_guardrail_build_body(const aws_guardrail_req_t *req, char **out, size_t *len);

#endif
