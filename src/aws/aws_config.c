/* aws_config_t: defaults, loading the AWS_* environment conventions, string ownership. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws_internal.h"

void aws_config_defaults(aws_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->creds_timeout_ms = 1000;
    cfg->creds_refresh_margin_s = 300;
    cfg->max_attempts = 3;
    cfg->backoff_base_ms = 1000;
    cfg->backoff_max_ms = 20000;
    cfg->retry_quota = 500;
    cfg->bedrock_max_inflight = 64;
    cfg->polly_max_inflight = 8;
    cfg->queue_max = 10000;
    cfg->text_timeout_ms = 300000;
    cfg->image_timeout_ms = 120000;
    cfg->speech_timeout_ms = 60000;
    cfg->polly_chunk_chars = 3000;
    cfg->polly_job_concurrency = 3;
    cfg->voices_ttl_s = 3600;
}

int aws_config_set(char **field, const char *value)
{
    char *copy = NULL;
    if (value) {
        copy = strdup(value);
        if (!copy) return -ENOMEM;
    }
    free(*field);
    *field = copy;
    return 0;
}

/* Every string member, for copying and freeing in one place. */
#define AWS_CONFIG_STRINGS(X)                                                                      \
    X(region)                                                                                      \
    X(bedrock_endpoint)                                                                            \
    X(polly_endpoint)                                                                              \
    X(access_key_id)                                                                               \
    X(secret_access_key)                                                                           \
    X(session_token)                                                                               \
    X(bearer_token)                                                                                \
    X(profile)                                                                                     \
    X(credentials_file)                                                                            \
    X(config_file)                                                                                 \
    X(home)                                                                                        \
    X(container_relative_uri)                                                                      \
    X(container_full_uri)                                                                          \
    X(container_auth_token)                                                                        \
    X(container_auth_token_file)                                                                   \
    X(container_host)                                                                              \
    X(imds_endpoint)                                                                               \
    X(polly_engine)

void aws_config_free(aws_config_t *cfg)
{
#define FREE_ONE(f)                                                                                \
    free(cfg->f);                                                                                  \
    cfg->f = NULL;
    AWS_CONFIG_STRINGS(FREE_ONE)
#undef FREE_ONE
}

/* Deep copy used by aws_client_new. */
int aws__config_copy(aws_config_t *dst, const aws_config_t *src);
int aws__config_copy(aws_config_t *dst, const aws_config_t *src)
{
    *dst = *src;
#define NULL_ONE(f) dst->f = NULL;
    AWS_CONFIG_STRINGS(NULL_ONE)
#undef NULL_ONE
#define COPY_ONE(f)                                                                                \
    if (aws_config_set(&dst->f, src->f)) goto fail;
    AWS_CONFIG_STRINGS(COPY_ONE)
#undef COPY_ONE
    return 0;
fail:
    aws_config_free(dst);
    return -ENOMEM;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int set_env(char **field, const char *name)
{
    const char *v = env(name);
    return v ? aws_config_set(field, v) : 0;
}

int aws_config_from_env(aws_config_t *cfg)
{
    int rc = 0;
    const char *region = env("AWS_REGION");
    if (!region) region = env("AWS_DEFAULT_REGION");
    if (region) rc |= aws_config_set(&cfg->region, region);
    const char *any = env("AWS_ENDPOINT_URL");
    const char *br = env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
    const char *po = env("AWS_ENDPOINT_URL_POLLY");
    if (br || any) rc |= aws_config_set(&cfg->bedrock_endpoint, br ? br : any);
    if (po || any) rc |= aws_config_set(&cfg->polly_endpoint, po ? po : any);
    /* Environment credentials count only as a pair, as in the SDKs. */
    if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
        rc |= set_env(&cfg->access_key_id, "AWS_ACCESS_KEY_ID");
        rc |= set_env(&cfg->secret_access_key, "AWS_SECRET_ACCESS_KEY");
        rc |= set_env(&cfg->session_token, "AWS_SESSION_TOKEN");
    }
    rc |= set_env(&cfg->bearer_token, "AWS_BEARER_TOKEN_BEDROCK");
    rc |= set_env(&cfg->profile, "AWS_PROFILE");
    rc |= set_env(&cfg->credentials_file, "AWS_SHARED_CREDENTIALS_FILE");
    rc |= set_env(&cfg->config_file, "AWS_CONFIG_FILE");
    rc |= set_env(&cfg->home, "HOME");
    rc |= set_env(&cfg->container_relative_uri, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    rc |= set_env(&cfg->container_full_uri, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    rc |= set_env(&cfg->container_auth_token, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    rc |= set_env(&cfg->container_auth_token_file, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    rc |= set_env(&cfg->imds_endpoint, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *dis = env("AWS_EC2_METADATA_DISABLED");
    if (dis && strcasecmp(dis, "true") == 0) cfg->imds_disabled = true;
    const char *ma = env("AWS_MAX_ATTEMPTS");
    if (ma) {
        long n = strtol(ma, NULL, 10);
        if (n >= 1 && n <= 10) cfg->max_attempts = (int)n;
    }
    return rc ? -ENOMEM : 0;
}
