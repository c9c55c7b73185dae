/* ListObjectsV2: one page of keys under a prefix, for deleting a story's folder of objects. The
 * answer is buffered (a page of 1000 keys is a few hundred KB) and scanned for <Contents><Key>. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3_internal.h"

#define S3_LIST_MAX_RESPONSE (4u * 1024 * 1024)
#define S3_LIST_KEY_MAX      1100 /* prefix + key (1024) + room for escapes being expanded */

typedef struct {
    s3_client_t *c;
    s3_list_cb cb;
    void *arg;
    char **keys;
    size_t nkeys;
    char *next;
} list_t;

static void list_clear(list_t *l)
{
    for (size_t i = 0; i < l->nkeys; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->next);
    l->keys = NULL;
    l->nkeys = 0;
    l->next = NULL;
}

static int list_validate(void *ud, const net_response_t *res, aws_error_t *err)
{
    list_t *l = ud;
    list_clear(l); /* a retried attempt starts over */
    const char *p = res->body ? res->body->data : NULL;
    size_t n = res->body ? res->body->len : 0;
    if (!p || !memmem(p, n, "ListBucketResult", 16)) {
        aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "not a ListObjectsV2 answer");
        return AWS_VALIDATE_FATAL;
    }
    size_t cap = 0;
    size_t plen = strlen(l->c->prefix);
    char key[S3_LIST_KEY_MAX];
    for (const char *q = p; (q = memmem(q, (size_t)(p + n - q), "<Contents>", 10)) != NULL;) {
        const char *end = memmem(q, (size_t)(p + n - q), "</Contents>", 11);
        if (!end) break;
        long kl = s3__xml_text(q, (size_t)(end - q), "Key", key, sizeof key);
        q = end + 11;
        if (kl <= 0 || (size_t)kl < plen || memcmp(key, l->c->prefix, plen) != 0) continue;
        if (l->nkeys == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nk = realloc(l->keys, nc * sizeof *nk);
            if (!nk) goto oom;
            l->keys = nk;
            cap = nc;
        }
        if (!(l->keys[l->nkeys] = strdup(key + plen))) goto oom;
        l->nkeys++;
    }
    char trunc[8] = "";
    s3__xml_text(p, n, "IsTruncated", trunc, sizeof trunc);
    if (strcmp(trunc, "true") == 0) {
        char tok[1024];
        if (s3__xml_text(p, n, "NextContinuationToken", tok, sizeof tok) <= 0) {
            aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "truncated list without a token");
            return AWS_VALIDATE_FATAL;
        }
        if (!(l->next = strdup(tok))) goto oom;
    }
    return AWS_VALIDATE_OK;
oom:
    aws__error_set(err, AWS_ERR_BAD_RESPONSE, NULL, "out of memory reading a list");
    return AWS_VALIDATE_FATAL;
}

static void list_finish(void *ud, const aws_error_t *err)
{
    list_t *l = ud;
    s3_list_page_t page = {.keys = l->keys, .nkeys = l->nkeys, .next_token = l->next};
    l->cb(l->arg, err ? NULL : &page, err);
    list_clear(l);
    free(l);
}

static const s3_req_ops_t list_ops = {.validate = list_validate, .finish = list_finish};

int s3_list(s3_client_t *c, const char *key_prefix, const char *token, s3_list_cb cb, void *arg,
            s3_op_t **out)
{
    if (!cb) return -EINVAL;
    if (c->closing) return -ECANCELED;
    const char *kp = key_prefix ? key_prefix : "";
    size_t pl = strlen(c->prefix), kl = strlen(kp), n = pl + kl;
    if (n > 1024 || (token && strlen(token) > 1024)) return -EINVAL;
    char *full = malloc(n + 1);
    list_t *l = calloc(1, sizeof *l);
    if (!full || !l) {
        free(full);
        free(l);
        return -ENOMEM;
    }
    memcpy(full, c->prefix, pl);
    memcpy(full + pl, kp, kl + 1);
    l->c = c;
    l->cb = cb;
    l->arg = arg;
    sigv4_pair_t q[3] = {{"list-type", "2"}, {"prefix", full}, {"continuation-token", token}};
    s3_req_spec_t spec = {
        .op = S3_OP_LIST,
        .method = "GET",
        .key = NULL,
        .query = q,
        .query_count = token && *token ? 3 : 2,
        .fd = -1,
        .max_response = S3_LIST_MAX_RESPONSE,
    };
    s3_req_t *r = NULL;
    int rc = s3__req_submit(c, &spec, &list_ops, l, &r);
    free(full);
    if (rc) {
        free(l);
        return rc;
    }
    if (out) *out = (s3_op_t *)r;
    return 0;
}
