/* pagination: the query conventions of the reference API's list endpoints (DRF's
 * PageNumberPagination, SearchFilter and OrderingFilter), for any list handler:
 *  - `page` (1-based; anything else, or a page past the end, is 404 {"detail":"Invalid page."}),
 *    `page_size` (default per endpoint, capped at API_PAGE_MAX_SIZE; invalid values fall back to
 *    the default as DRF does);
 *  - `search`: terms separated by spaces or commas, every term must match one of the endpoint's
 *    fields (case-insensitive substring). Terms reach SQL only as a bound text[] parameter of
 *    ILIKE patterns (wildcards escaped), never spliced into the statement;
 *  - `ordering`: a comma list of whitelisted names, '-' for descending; unknown names are
 *    ignored (DRF), and the endpoint's default applies when none is left. The ORDER BY text is
 *    built only from the whitelist's SQL fragments, so the set of statements stays finite.
 * The envelope is {"count", "next", "previous", "results"} with absolute next/previous links. */
#ifndef NOVA_API_PAGINATION_H
#define NOVA_API_PAGINATION_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "http/http.h"

#define API_PAGE_MAX_SIZE 100

typedef struct {
    const char *name; /* query name, e.g. "created_at" */
    const char *sql;  /* SQL expression, e.g. "s.created_at" */
} api_order_field_t;

typedef struct {
    int64_t page;      /* 1-based */
    int64_t page_size; /* 1..API_PAGE_MAX_SIZE */
    int64_t offset;    /* (page - 1) * page_size */
    char limit_s[24], offset_s[24];
    /* A PostgreSQL text[] literal of ILIKE patterns ("{\"%a%\",\"%b%\"}"), or NULL when there is
     * no search; bind it as $n::text[]. In the request arena. */
    const char *patterns;
    /* "ORDER BY" list built from the whitelist plus the tie-breaker, e.g.
     * "s.created_at DESC, s.id DESC". In the request arena. */
    const char *order_by;
} api_page_t;

/* Reads page, page_size, search and ordering. default_order is an SQL list used when no valid
 * ordering was requested; tiebreak (may be NULL) is appended to keep pages stable. Returns true,
 * or false after answering 404 Invalid page. */
bool api_page_parse(http_req_t *req, const api_order_field_t *fields, size_t nfields,
                    const char *default_order, const char *tiebreak, int64_t default_size,
                    api_page_t *out);

/* False (after answering 404 Invalid page) when the page is empty but not the first. */
bool api_page_check_rows(http_req_t *req, const api_page_t *p, int nrows);

/* Writes {"count": count, "next": ..., "previous": ..., "results": [ — the caller writes the
 * items and calls api_page_close. */
void api_page_open(yajl_gen g, http_req_t *req, const api_page_t *p, int64_t count);
void api_page_close(yajl_gen g);

/* The absolute base URL of this server for links: NOVA_PUBLIC_URL when set, else
 * "http://" + the Host header when it is a plain hostname[:port] (else "http://localhost").
 * In the request arena, without a trailing slash. */
const char *api_public_base(http_req_t *req);

#endif
