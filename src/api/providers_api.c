/* providers_api: GET /api/providers/ — which text, vision, speech and image providers are
 * active (backend and model), the speech voices, and whether AWS credentials resolved. */
#include "api/app.h"
#include "core/json.h"
#include "http/http.h"
#include "providers/registry.h"

void api_providers(http_req_t *req);

void api_providers(http_req_t *req)
{
    app_t *app = req->app;
    if (!app || !app->providers) {
        http_respond_error(req, 503, "providers_unavailable", "the providers are not started");
        return;
    }
    yajl_gen g = json_gen_new();
    providers_describe_json(app->providers, g);
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}
