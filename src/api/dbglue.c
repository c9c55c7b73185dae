/* dbglue: the application's view of the database pool (readiness and metrics). Until the pool is
 * wired in, a missing database counts as ready. */
#include "api/app.h"

bool api__db_ready(app_t *app);
void api__metrics_extra(app_t *app, buf_t *out);

bool api__db_ready(app_t *app)
{
    return app->db == NULL;
}

void api__metrics_extra(app_t *app, buf_t *out)
{
    (void)app;
    (void)out;
}
