#include "http/router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SEG_LIT, SEG_UUID, SEG_INT, SEG_STR } seg_kind_t;

typedef struct {
    seg_kind_t kind;
    const char *lit;
    size_t len;
} seg_t;

#define ROUTER_MAX_SEGS 12

typedef struct {
    const http_route_t *route;
    seg_t segs[ROUTER_MAX_SEGS];
    size_t nsegs;
} compiled_t;

struct router {
    compiled_t *routes;
    size_t n, cap;
};

router_t *router_new(void)
{
    return calloc(1, sizeof(router_t));
}

void router_free(router_t *r)
{
    if (!r) return;
    free(r->routes);
    free(r);
}

static int router__compile(const http_route_t *route, compiled_t *c)
{
    const char *p = route->pattern;
    if (p[0] != '/') return -EINVAL;
    c->route = route;
    c->nsegs = 0;
    p++;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) return -EINVAL;
        if (c->nsegs == ROUTER_MAX_SEGS) return -EINVAL;
        seg_t *s = &c->segs[c->nsegs++];
        s->lit = p;
        s->len = len;
        s->kind = SEG_LIT;
        if (p[0] == '{') {
            if (len == 6 && memcmp(p, "{uuid}", 6) == 0)
                s->kind = SEG_UUID;
            else if (len == 5 && memcmp(p, "{int}", 5) == 0)
                s->kind = SEG_INT;
            else if (len == 5 && memcmp(p, "{str}", 5) == 0)
                s->kind = SEG_STR;
            else
                return -EINVAL;
        }
        p += len;
        if (*p == '/') p++;
    }
    return 0;
}

int router_add(router_t *r, const http_route_t *routes, size_t n)
{
    if (r->n + n > r->cap) {
        size_t cap = (r->n + n) * 2;
        compiled_t *nr = realloc(r->routes, cap * sizeof *nr);
        if (!nr) return -ENOMEM;
        r->routes = nr;
        r->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = router__compile(&routes[i], &r->routes[r->n]);
        if (rc) return rc;
        r->n++;
    }
    return 0;
}

static int router__hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool router_is_uuid(const char *s, size_t n)
{
    if (n != 36) return false;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!router__hex(s[i])) {
            return false;
        }
    }
    return true;
}

static bool router__seg_ok(const seg_t *s, const char *v, size_t n)
{
    switch (s->kind) {
    case SEG_LIT:
        return n == s->len && memcmp(v, s->lit, n) == 0;
    case SEG_UUID:
        return router_is_uuid(v, n);
    case SEG_INT:
        if (n == 0 || n > 18) return false;
        for (size_t i = 0; i < n; i++)
            if (v[i] < '0' || v[i] > '9') return false;
        return true;
    case SEG_STR:
        return n > 0 && n <= 256;
    }
    return false;
}

/* Splits path into segments; returns the count or -1 when there are too many. An empty segment
 * ("//") never matches anything. */
static int router__split(const char *path, size_t len, const char **segs, size_t *lens)
{
    if (len == 0 || path[0] != '/') return -1;
    size_t i = 1, n = 0;
    if (len > 1 && path[len - 1] == '/') len--;     /* the optional final slash */
    if (len > 1 && path[len - 1] == '/') return -1; /* "//" at the end: an empty segment */
    while (i < len) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (n == ROUTER_MAX_SEGS) return -1;
        segs[n] = path + start;
        lens[n] = i - start;
        n++;
        i++;
    }
    return (int)n;
}

void router_match(const router_t *r, http_method_t method, const char *path, size_t len,
                  router_match_t *m)
{
    const char *segs[ROUTER_MAX_SEGS];
    size_t lens[ROUTER_MAX_SEGS];
    memset(m, 0, sizeof *m);
    m->status = 404;
    int n = router__split(path, len, segs, lens);
    if (n < 0) return;
    unsigned allowed = 0;
    for (size_t i = 0; i < r->n; i++) {
        const compiled_t *c = &r->routes[i];
        if (c->nsegs != (size_t)n) continue;
        bool ok = true;
        for (size_t k = 0; k < c->nsegs && ok; k++)
            ok = router__seg_ok(&c->segs[k], segs[k], lens[k]);
        if (!ok) continue;
        allowed |= 1u << c->route->method;
        if (c->route->method == HTTP_M_GET) allowed |= 1u << HTTP_M_HEAD;
        bool method_ok =
            c->route->method == method || (method == HTTP_M_HEAD && c->route->method == HTTP_M_GET);
        if (method_ok && !m->route) {
            m->route = c->route;
            m->nparams = 0;
            for (size_t k = 0; k < c->nsegs; k++) {
                if (c->segs[k].kind == SEG_LIT || m->nparams == HTTP_MAX_PARAMS) continue;
                m->params[m->nparams] = segs[k];
                m->param_lens[m->nparams] = lens[k];
                m->nparams++;
            }
        }
    }
    if (!allowed) return;
    allowed |= 1u << HTTP_M_OPTIONS;
    size_t pos = 0;
    for (int k = 0; k < HTTP_M_OTHER; k++) {
        if (!(allowed & (1u << k))) continue;
        const char *name = http_method_str((http_method_t)k);
        size_t nl = strlen(name);
        if (pos + nl + 3 >= sizeof m->allow) break;
        if (pos) m->allow[pos++] = ',', m->allow[pos++] = ' ';
        memcpy(m->allow + pos, name, nl);
        pos += nl;
    }
    m->allow[pos] = '\0';
    /* OPTIONS on a known path is answered with its Allow list even without a matching route. */
    m->status = (m->route || method == HTTP_M_OPTIONS) ? 200 : 405;
}
