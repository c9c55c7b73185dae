/* routes: the table of every endpoint, in one place, so the API surface can be read at a glance. */
#include "api/accounts.h"
#include "api/app.h"
#include "api/static.h"
#include "api/stories.h"
#include "http/router.h"

/* Generation jobs and event streams (api/jobs_api.c, api/events_api.c). */
void api_jobs_get(http_req_t *req);
void api_jobs_cancel(http_req_t *req);
void api_story_jobs(http_req_t *req);
void api_events_stream(http_req_t *req);
void api_story_events_stream(http_req_t *req);
void api_events_ticket(http_req_t *req);

static const http_route_t api__routes[] = {
    {HTTP_M_GET, "/healthz", api_healthz, 0, 0},
    {HTTP_M_GET, "/readyz", api_readyz, 0, 0},
    {HTTP_M_GET, "/metrics", api_metrics, 0, 0},
    {HTTP_M_GET, "/api/health-check/", api_health_check, 0, 0},
    {HTTP_M_GET, "/api/providers/", api_providers, 0, 0, NULL},
    /* the browser app (src/web), loaded into memory at start */
    {HTTP_M_GET, "/", api_static_index, 0, 0, NULL},
    {HTTP_M_GET, "/assets/{str}", api_static_asset, 0, 0, NULL},
    {HTTP_M_GET, "/assets/{str}/{str}", api_static_asset, 0, 0, NULL},
    {HTTP_M_GET, "/assets/{str}/{str}/{str}", api_static_asset, 0, 0, NULL},
    {HTTP_M_POST, "/api/register/", api_register, API_ACCOUNTS_MAX_BODY, 0, NULL},
    {HTTP_M_POST, "/api/login/", api_login, API_ACCOUNTS_MAX_BODY, 0, NULL},
    {HTTP_M_POST, "/api/logout/", api_logout, API_ACCOUNTS_MAX_BODY, 0, NULL},
    {HTTP_M_GET, "/api/current-user/", api_current_user, 0, 0, NULL},
    {HTTP_M_GET, "/api/profile/", api_profile_get, 0, 0, NULL},
    {HTTP_M_PATCH, "/api/profile/", api_profile_patch, API_PROFILE_MAX_BODY, 0, NULL},
    {HTTP_M_PUT, "/api/profile/", api_profile_patch, API_PROFILE_MAX_BODY, 0, NULL},
    {HTTP_M_GET, "/api/avatars/{str}", api_avatar_get, 0, 0, NULL},
    {HTTP_M_POST, "/api/change-password/", api_change_password, API_ACCOUNTS_MAX_BODY, 0, NULL},
    {HTTP_M_POST, "/api/password-reset/", api_password_reset, API_ACCOUNTS_MAX_BODY, 0, NULL},
    {HTTP_M_POST, "/api/password-reset/confirm/", api_password_reset_confirm, API_ACCOUNTS_MAX_BODY,
     0, NULL},
    {HTTP_M_POST, "/api/unlock-screen/", api_unlock_screen, API_ACCOUNTS_MAX_BODY, 0, NULL},
    {HTTP_M_GET, "/api/users/", api_users_list, 0, 0, NULL},
    {HTTP_M_GET, "/api/users/{int}/", api_users_get, 0, 0, NULL},
    {HTTP_M_PATCH, "/api/users/{int}/", api_users_patch, API_ACCOUNTS_MAX_BODY, 0, NULL},
    {HTTP_M_PUT, "/api/users/{int}/", api_users_patch, API_ACCOUNTS_MAX_BODY, 0, NULL},
    {HTTP_M_PATCH, "/api/users/{int}/toggle_active/", api_users_toggle_active,
     API_ACCOUNTS_MAX_BODY, 0, NULL},
    /* stories (api/stories*.c); uploads stream through stories_upload_sink, which applies
     * NOVA_MAX_UPLOAD_BYTES itself (hence the 1 GiB route cap) */
    {HTTP_M_GET, "/api/stories/", api_stories_list, 0, 0, NULL},
    {HTTP_M_POST, "/api/stories/", api_stories_create, 1u << 30, 0, &stories_upload_sink},
    {HTTP_M_GET, "/api/stories/available_voices/", api_stories_available_voices, 0, 0, NULL},
    {HTTP_M_GET, "/api/stories/{uuid}/", api_stories_get, 0, 0, NULL},
    {HTTP_M_PUT, "/api/stories/{uuid}/", api_stories_update, 1u << 30, 0, &stories_upload_sink},
    {HTTP_M_PATCH, "/api/stories/{uuid}/", api_stories_update, 1u << 30, 0, &stories_upload_sink},
    {HTTP_M_DELETE, "/api/stories/{uuid}/", api_stories_delete, 0, 0, NULL},
    {HTTP_M_GET, "/api/stories/{uuid}/revisions/", api_stories_revisions, 0, 0, NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/revisions/{uuid}/restore/", api_stories_restore, 0, 0, NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/regenerate/", api_stories_regenerate, 0, 0, NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/generate_audio/", api_stories_generate_audio, 0, 0, NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/generate_scenes/", api_stories_generate_scenes, 0, 0, NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/initialize_scenes/", api_stories_initialize_scenes, 0, 0,
     NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/add_scene/", api_stories_add_scene, 0, 0, NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/delete_scene/", api_stories_delete_scene, 0, 0, NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/upload_scene_image/", api_stories_upload_scene_image,
     1u << 30, 0, &stories_upload_sink},
    {HTTP_M_POST, "/api/stories/{uuid}/start_voice_session/", api_stories_start_voice_session, 0, 0,
     NULL},
    {HTTP_M_POST, "/api/stories/{uuid}/end_voice_session/", api_stories_end_voice_session, 0, 0,
     NULL},
    {HTTP_M_GET, "/api/story-sessions/", api_sessions_list, 0, 0, NULL},
    {HTTP_M_POST, "/api/story-sessions/", api_sessions_create, 0, 0, NULL},
    {HTTP_M_GET, "/api/story-sessions/{uuid}/", api_sessions_get, 0, 0, NULL},
    {HTTP_M_PUT, "/api/story-sessions/{uuid}/", api_sessions_update, 0, 0, NULL},
    {HTTP_M_PATCH, "/api/story-sessions/{uuid}/", api_sessions_update, 0, 0, NULL},
    {HTTP_M_DELETE, "/api/story-sessions/{uuid}/", api_sessions_delete, 0, 0, NULL},
    {HTTP_M_POST, "/api/story-sessions/{uuid}/end_session/", api_sessions_end, 0, 0, NULL},
    {HTTP_M_GET, "/api/playlists/", api_playlists_list, 0, 0, NULL},
    {HTTP_M_POST, "/api/playlists/", api_playlists_create, 0, 0, NULL},
    {HTTP_M_GET, "/api/playlists/{uuid}/", api_playlists_get, 0, 0, NULL},
    {HTTP_M_PUT, "/api/playlists/{uuid}/", api_playlists_update, 0, 0, NULL},
    {HTTP_M_PATCH, "/api/playlists/{uuid}/", api_playlists_update, 0, 0, NULL},
    {HTTP_M_DELETE, "/api/playlists/{uuid}/", api_playlists_delete, 0, 0, NULL},
    {HTTP_M_POST, "/api/playlists/{uuid}/add_story/", api_playlists_add_story, 0, 0, NULL},
    {HTTP_M_POST, "/api/playlists/{uuid}/remove_story/", api_playlists_remove_story, 0, 0, NULL},
    {HTTP_M_POST, "/api/playlists/{uuid}/reorder/", api_playlists_reorder, 0, 0, NULL},
    {HTTP_M_GET, "/api/story-settings/", api_story_settings_get, 0, 0, NULL},
    {HTTP_M_PUT, "/api/story-settings/", api_story_settings_update, 0, 0, NULL},
    {HTTP_M_PATCH, "/api/story-settings/", api_story_settings_update, 0, 0, NULL},
    {HTTP_M_GET, "/api/dashboard-stats/", api_dashboard_stats, 0, 0, NULL},
    {HTTP_M_GET, "/media/{str}/{str}/{uuid}/{str}", api_media_get, 0, 0, NULL},
    {HTTP_M_GET, "/media/{str}/{str}/{uuid}/scenes/{str}", api_media_get, 0, 0, NULL},
    /* generation jobs and their event streams (api/jobs_api.c, api/events_api.c) */
    {HTTP_M_GET, "/api/jobs/{uuid}/", api_jobs_get, 0, 0, NULL},
    {HTTP_M_POST, "/api/jobs/{uuid}/cancel/", api_jobs_cancel, 0, 0, NULL},
    {HTTP_M_GET, "/api/stories/{uuid}/jobs/", api_story_jobs, 0, 0, NULL},
    {HTTP_M_GET, "/api/stories/{uuid}/events/", api_story_events_stream, 0, 0, NULL},
    {HTTP_M_GET, "/api/events/", api_events_stream, 0, 0, NULL},
    {HTTP_M_POST, "/api/events/ticket/", api_events_ticket, 0, 0, NULL},
};

void api_bench_echo(http_req_t *req);
void api_bench_sleep(http_req_t *req);
void api_bench_blob(http_req_t *req);
void api_bench_pid(http_req_t *req);
void api_bench_db(http_req_t *req);
void api_bench_pgbench(http_req_t *req);
void api_bench_upload(http_req_t *req);
extern const http_body_sink_t api_bench_upload_sink;

/* Test and benchmark routes, only with NOVA_BENCH_ROUTES=1. */
static const http_route_t api__bench_routes[] = {
    {HTTP_M_POST, "/bench/echo", api_bench_echo, 0, 0},
    {HTTP_M_GET, "/bench/sleep", api_bench_sleep, 0, 0},
    {HTTP_M_GET, "/bench/blob", api_bench_blob, 0, 0},
    {HTTP_M_GET, "/bench/pid", api_bench_pid, 0, 0},
    {HTTP_M_GET, "/bench/db", api_bench_db, 0, 0},
    {HTTP_M_GET, "/bench/pgbench/{int}", api_bench_pgbench, 0, 0},
    {HTTP_M_POST, "/bench/upload", api_bench_upload, 8 << 20, 0, &api_bench_upload_sink},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int api_routes_register(http_server_t *srv, const config_t *cfg)
{
    int rc = http_server_add_routes(srv, api__routes, COUNT(api__routes));
    if (rc == 0 && cfg->bench_routes)
        rc = http_server_add_routes(srv, api__bench_routes, COUNT(api__bench_routes));
    return rc;
}
