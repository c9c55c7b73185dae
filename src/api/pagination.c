/* pagination: DRF-compatible page/search/ordering parsing and the page envelope. */
#include "api/pagination.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "core/buf.h"
#include "core/json.h"

#define PAGE_MAX_TERMS    16
#define PAGE_MAX_ORDERING 4

static bool page__parse_pos(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 1 || !isdigit((unsigned char)s[0])) return false;
    *out = v;
    return true;
}

static void page__invalid(http_req_t *req)
{
    http_respond_detail(req, 404, "Invalid page.");
}

/* Appends one ILIKE pattern as an element of a PostgreSQL array literal: the LIKE wildcards and
 * the escape character are escaped for ILIKE, then '"' and '\' for the array syntax. */
static void page__append_pattern(buf_t *b, const char *term, size_t n)
{
    buf_append_str(b, "\"%");
    for (size_t i = 0; i < n; i++) {
        char c = term[i];
        if (c == '%' || c == '_' || c == '\\') buf_append_str(b, "\\\\"); /* LIKE escape */
        if (c == '"' || c == '\\') buf_append_str(b, "\\");
        buf_append(b, &c, 1);
    }
    buf_append_str(b, "%\"");
}

static const char *page__patterns(http_req_t *req, const char *search)
{
    if (!search) return NULL;
    buf_t b;
    buf_init(&b, 8192);
    buf_append_str(&b, "{");
    size_t terms = 0;
    const char *p = search;
    while (*p && terms < PAGE_MAX_TERMS) {
        while (*p && (isspace((unsigned char)*p) || *p == ',' || *p == '\0'))
            p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p) && *p != ',')
            p++;
        if (p == start) break;
        if (terms++) buf_append_str(&b, ",");
        page__append_pattern(&b, start, (size_t)(p - start));
    }
    buf_append_str(&b, "}");
    const char *out = terms && b.data ? arena_strndup(&req->arena, b.data, b.len) : NULL;
    buf_free(&b);
    return out;
}

static const char *page__ordering(http_req_t *req, const char *ordering,
                                  const api_order_field_t *fields, size_t nfields)
{
    if (!ordering) return NULL;
    buf_t b;
    buf_init(&b, 1024);
    size_t used = 0;
    const char *p = ordering;
    while (*p && used < PAGE_MAX_ORDERING) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        size_t n = (size_t)(p - start);
        while (n && start[n - 1] == ' ')
            n--;
        if (!n) continue;
        bool desc = start[0] == '-';
        if (desc) start++, n--;
        for (size_t i = 0; i < nfields; i++) {
            if (strlen(fields[i].name) == n && memcmp(fields[i].name, start, n) == 0) {
                buf_printf(&b, "%s%s %s", used ? ", " : "", fields[i].sql, desc ? "DESC" : "ASC");
                used++;
                break;
            }
        }
    }
    const char *out = used && b.data ? arena_strndup(&req->arena, b.data, b.len) : NULL;
    buf_free(&b);
    return out;
}

bool api_page_parse(http_req_t *req, const api_order_field_t *fields, size_t nfields,
                    const char *default_order, const char *tiebreak, int64_t default_size,
                    api_page_t *out)
{
    memset(out, 0, sizeof *out);
    const char *page = http_req_query(req, "page");
    out->page = 1;
    if (page && strcmp(page, "last") != 0 && !page__parse_pos(page, &out->page)) {
        page__invalid(req);
        return false;
    }
    if (page && strcmp(page, "last") == 0) out->page = 1; /* resolved only by count; rare */
    out->page_size = default_size;
    int64_t ps;
    if (page__parse_pos(http_req_query(req, "page_size"), &ps))
        out->page_size = ps > API_PAGE_MAX_SIZE ? API_PAGE_MAX_SIZE : ps;
    if (out->page > INT64_MAX / API_PAGE_MAX_SIZE) {
        page__invalid(req);
        return false;
    }
    out->offset = (out->page - 1) * out->page_size;
    snprintf(out->limit_s, sizeof out->limit_s, "%lld", (long long)out->page_size);
    snprintf(out->offset_s, sizeof out->offset_s, "%lld", (long long)out->offset);
    out->patterns = page__patterns(req, http_req_query(req, "search"));
    const char *order = page__ordering(req, http_req_query(req, "ordering"), fields, nfields);
    if (!order) order = default_order;
    out->order_by = tiebreak ? arena_printf(&req->arena, "%s, %s", order, tiebreak) : order;
    return true;
}

bool api_page_check_rows(http_req_t *req, const api_page_t *p, int nrows)
{
    if (nrows == 0 && p->page > 1) {
        page__invalid(req);
        return false;
    }
    return true;
}

const char *api_public_base(http_req_t *req)
{
    app_t *app = req->app;
    const char *pub = app && app->cfg ? app->cfg->public_url : NULL;
    if (pub && *pub) {
        size_t n = strlen(pub);
        while (n && pub[n - 1] == '/')
            n--;
        return arena_strndup(&req->arena, pub, n);
    }
    /* The Host header is client-controlled: accept only hostname[:port] (letters, digits, dots,
     * hyphens; an optional numeric port), so a link built from it cannot carry anything else. */
    const char *host = http_req_header(req, "host");
    bool ok = host && *host && strlen(host) <= 255;
    const char *colon = ok ? strchr(host, ':') : NULL;
    size_t hn = colon ? (size_t)(colon - host) : (ok ? strlen(host) : 0);
    for (size_t i = 0; ok && i < hn; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!isalnum(c) && c != '.' && c != '-') ok = false;
    }
    if (ok && hn == 0) ok = false;
    if (ok && colon) {
        size_t pn = strlen(colon + 1);
        ok = pn >= 1 && pn <= 5;
        for (size_t i = 0; ok && i < pn; i++)
            if (!isdigit((unsigned char)colon[1 + i])) ok = false;
    }
    return ok ? arena_printf(&req->arena, "http://%s", host) : "http://localhost";
}

/* The current request's URL with `page` set to n (n == 1 removes it, as DRF does for the link
 * back to the first page). */
static const char *page__link(http_req_t *req, int64_t n)
{
    buf_t b;
    buf_init(&b, 16384);
    buf_printf(&b, "%s%s", api_public_base(req), req->path);
    const char *q = req->query;
    bool first = true;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len && !(len >= 4 && memcmp(q, "page", 4) == 0 && (len == 4 || q[4] == '='))) {
            buf_append_str(&b, first ? "?" : "&");
            buf_append(&b, q, len);
            first = false;
        }
        q = amp ? amp + 1 : NULL;
    }
    if (n > 1) buf_printf(&b, "%spage=%lld", first ? "?" : "&", (long long)n);
    const char *out = b.data ? arena_strndup(&req->arena, b.data, b.len) : NULL;
    buf_free(&b);
    return out;
}

void api_page_open(yajl_gen g, http_req_t *req, const api_page_t *p, int64_t count)
{
    yajl_gen_map_open(g);
    json_kv_int(g, "count", count);
    json_kv_str(g, "next", p->offset + p->page_size < count ? page__link(req, p->page + 1) : NULL);
    json_kv_str(g, "previous", p->page > 1 ? page__link(req, p->page - 1) : NULL);
    json_key(g, "results");
    yajl_gen_array_open(g);
}

void api_page_close(yajl_gen g)
{
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}
