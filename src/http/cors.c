/* cors: cross-origin rules. Only origins listed in NOVA_CORS_ORIGINS are echoed back, exactly,
 * with credentials allowed; preflight requests are answered for every existing route. */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

static const char cors__methods[] = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
static const char cors__headers[] = "authorization, content-type, x-csrftoken, idempotency-key, "
                                    "last-event-id, prefer, x-request-id";
static const char cors__expose[] =
    "Location, Retry-After, X-Request-Id, Content-Range, Accept-Ranges";

int http__cors_init(http_server_t *srv, const char *origins)
{
    if (!origins || !*origins) return 0;
    char *copy = strdup(origins), *save = NULL;
    if (!copy) return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '/'))
            t[--n] = '\0';
        if (!n) continue;
        char **no = realloc(srv->cors_origins, (srv->ncors + 1) * sizeof *no);
        if (!no) break;
        srv->cors_origins = no;
        srv->cors_origins[srv->ncors++] = strdup(t);
    }
    free(copy);
    return 0;
}

static const char *cors__allowed_origin(http_req_t *req)
{
    const char *origin = http_req_header(req, "origin");
    if (!origin) return NULL;
    for (size_t i = 0; i < req->server->ncors; i++)
        if (req->server->cors_origins[i] && strcmp(req->server->cors_origins[i], origin) == 0)
            return origin;
    return NULL;
}

void http__cors_headers(http_req_t *req, buf_t *out)
{
    const char *origin = cors__allowed_origin(req);
    if (!origin) return;
    buf_printf(out,
               "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Credentials: true\r\n"
               "Access-Control-Expose-Headers: %s\r\nVary: Origin\r\n",
               origin, cors__expose);
}

bool http__cors_preflight(http_req_t *req, const router_match_t *m)
{
    if (!http_req_header(req, "access-control-request-method")) return false;
    if (cors__allowed_origin(req)) {
        http_res_header(req, "Access-Control-Allow-Methods", cors__methods);
        http_res_header(req, "Access-Control-Allow-Headers", cors__headers);
        http_res_header(req, "Access-Control-Max-Age", "86400");
    }
    http_res_header(req, "Allow", m->allow);
    http_respond(req, 204, NULL, NULL, 0);
    return true;
}
