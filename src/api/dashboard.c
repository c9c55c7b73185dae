/* dashboard: GET /api/dashboard-stats/ in the reference shape (stats, charts, recent_stories,
 * is_admin, timestamp). Staff and superusers see global numbers, others their own. One query:
 * PostgreSQL computes the numbers and builds the chart arrays. Days and months are UTC calendar
 * days and months (the reference's "30 days ago" month buckets could skip or repeat a month). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/stories.h"
#include "core/json.h"

// clang-format off
static const char dashboard__sql[] =
    "WITH sc AS (SELECT * FROM stories WHERE $2::boolean OR user_id = $1), "
    "ss AS (SELECT * FROM story_sessions WHERE $2::boolean OR user_id = $1), "
    "today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS d) "
    "SELECT (SELECT count(*) FROM sc) AS total_stories, "
    "(SELECT count(*) FROM ss) AS total_sessions, "
    "(SELECT count(*) FROM playlists WHERE $2::boolean OR user_id = $1) AS total_playlists, "
    "CASE WHEN $2::boolean THEN (SELECT count(*) FROM users WHERE is_active) ELSE 1 END AS total_users, "
    "(SELECT count(*) FROM sc WHERE created_at >= now() - interval '30 days') AS recent_stories, "
    "(SELECT coalesce(sum(duration_seconds), 0) FROM ss) AS listen_total, "
    "(SELECT coalesce(avg(duration_seconds), 0)::float8 FROM ss WHERE duration_seconds IS NOT NULL) AS listen_avg, "
    "(SELECT count(*) FROM sc WHERE is_published) AS published, "
    "(SELECT json_agg(json_build_object('date', to_char(day, 'YYYY-MM-DD'), 'label', to_char(day, 'Mon DD'), "
    "  'count', (SELECT count(*) FROM sc WHERE (sc.created_at AT TIME ZONE 'UTC')::date = day)) ORDER BY day) "
    "  FROM (SELECT today.d - g AS day FROM today, generate_series(0, 6) g) days) AS story_creation, "
    "(SELECT json_agg(json_build_object('date', to_char(day, 'YYYY-MM-DD'), 'label', to_char(day, 'Mon DD'), "
    "  'count', (SELECT count(*) FROM ss WHERE (ss.started_at AT TIME ZONE 'UTC')::date = day)) ORDER BY day) "
    "  FROM (SELECT today.d - g AS day FROM today, generate_series(0, 6) g) days) AS session_activity, "
    "(SELECT coalesce(json_agg(json_build_object('label', CASE template WHEN 'sci-fi' THEN 'Science Fiction' "
    "  ELSE initcap(template) END, 'value', n) ORDER BY n DESC, template), '[]') "
    "  FROM (SELECT template, count(*) AS n FROM sc GROUP BY template) t) AS by_template, "
    "(SELECT json_agg(json_build_object('label', to_char(m, 'Mon YYYY'), 'count', "
    "  (SELECT count(*) FROM sc WHERE date_trunc('month', sc.created_at AT TIME ZONE 'UTC') = m)) ORDER BY m) "
    "  FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '5 months', "
    "  date_trunc('month', now() AT TIME ZONE 'UTC'), interval '1 month') m) AS by_month, "
    "(SELECT coalesce(json_agg(CASE WHEN $2::boolean THEN json_build_object('id', r.id, 'title', r.title, "
    "  'created_at', r.created_at, 'is_published', r.is_published, 'user__username', r.username) "
    "  ELSE json_build_object('id', r.id, 'title', r.title, 'created_at', r.created_at, "
    "  'is_published', r.is_published) END ORDER BY r.ts DESC), '[]') "
    "  FROM (SELECT sc.id, sc.title, " API_ISO_UTC("sc.created_at") " AS created_at, sc.created_at AS ts, "
    "  sc.is_published, u.username FROM sc JOIN users u ON u.id = sc.user_id "
    "  ORDER BY sc.created_at DESC LIMIT 10) r) AS recent, "
    API_ISO_UTC("now()") " AS now";
// clang-format on

static void raw(yajl_gen g, const char *key, const char *json)
{
    json_key(g, key);
    const char *v = json && *json ? json : "[]";
    yajl_gen_number(g, v, strlen(v));
}

static void dashboard__done(http_req_t *req, db_result_t *res, void *ctx)
{
    bool admin = ctx != NULL;
    if (api_db_failed(req, res)) return;
#define C(name) db_result_get_by_name(res, 0, name)
#define N(name) strtoll(C(name) ? C(name) : "0", NULL, 10)
    long long total = N("listen_total");
    double avg = C("listen_avg") ? strtod(C("listen_avg"), NULL) : 0;
    long long avg_s = (long long)(avg + 0.5);
    char total_fmt[48], avg_fmt[48];
    snprintf(total_fmt, sizeof total_fmt, "%lldh %lldm", total / 3600, (total % 3600) / 60);
    snprintf(avg_fmt, sizeof avg_fmt, "%lldm %llds", avg_s / 60, avg_s % 60);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_key(g, "stats");
    yajl_gen_map_open(g);
    json_kv_int(g, "total_stories", N("total_stories"));
    json_kv_int(g, "total_sessions", N("total_sessions"));
    json_kv_int(g, "total_playlists", N("total_playlists"));
    json_kv_int(g, "total_users", N("total_users"));
    json_kv_int(g, "recent_stories", N("recent_stories"));
    json_kv_int(g, "total_listening_time_seconds", total);
    json_kv_str(g, "total_listening_time_formatted", total_fmt);
    json_kv_double(g, "avg_session_duration_seconds", avg);
    json_kv_str(g, "avg_session_duration_formatted", avg_fmt);
    json_kv_int(g, "published_stories", N("published"));
    json_kv_int(g, "draft_stories", N("total_stories") - N("published"));
    yajl_gen_map_close(g);
    json_key(g, "charts");
    yajl_gen_map_open(g);
    raw(g, "story_creation", C("story_creation"));
    raw(g, "session_activity", C("session_activity"));
    raw(g, "stories_by_template", C("by_template"));
    raw(g, "stories_by_month", C("by_month"));
    yajl_gen_map_close(g);
    raw(g, "recent_stories", C("recent"));
    json_kv_bool(g, "is_admin", admin);
    json_kv_str(g, "timestamp", C("now"));
    yajl_gen_map_close(g);
#undef N
#undef C
    http_respond_json(req, 200, g);
    yajl_gen_free(g);
}

static void dashboard__authed(http_req_t *req, const api_user_t *user)
{
    bool admin = user->is_superuser || user->is_staff;
    const char *params[2] = {stories_int(req, user->id), admin ? "t" : "f"};
    stories_q(req, dashboard__sql, 2, params, dashboard__done, admin ? (void *)1 : NULL);
}

void api_dashboard_stats(http_req_t *req)
{
    api_auth(req, true, dashboard__authed);
}
