#include "http/router.h"
#include "test.h"

static void h_a(http_req_t *r)
{
    (void)r;
}
static void h_b(http_req_t *r)
{
    (void)r;
}

static const http_route_t routes[] = {
    {HTTP_M_GET, "/api/stories/", h_a, 0, 0},
    {HTTP_M_POST, "/api/stories/", h_b, 0, 0},
    {HTTP_M_GET, "/api/stories/{uuid}/", h_a, 0, 0},
    {HTTP_M_POST, "/api/stories/{uuid}/revisions/{uuid}/restore/", h_b, 0, 0},
    {HTTP_M_GET, "/api/users/{int}/", h_a, 0, 0},
    {HTTP_M_GET, "/media/{str}", h_b, 0, 0},
    {HTTP_M_GET, "/api/stories/available_voices/", h_b, 0, 0},
};

static router_t *mk(void)
{
    router_t *r = router_new();
    ASSERT_EQ(router_add(r, routes, sizeof routes / sizeof routes[0]), 0);
    return r;
}

static void match(router_t *r, http_method_t m, const char *path, router_match_t *out)
{
    router_match(r, m, path, strlen(path), out);
}

TEST(trailing_slash_is_optional)
{
    router_t *r = mk();
    router_match_t m;
    match(r, HTTP_M_GET, "/api/stories", &m);
    ASSERT_EQ(m.status, 200);
    ASSERT(m.route == &routes[0]);
    match(r, HTTP_M_GET, "/api/stories/", &m);
    ASSERT(m.route == &routes[0]);
    match(r, HTTP_M_GET, "/api/stories//", &m);
    ASSERT_EQ(m.status, 404);
    router_free(r);
}

TEST(method_selects_route_and_405_lists_allowed)
{
    router_t *r = mk();
    router_match_t m;
    match(r, HTTP_M_POST, "/api/stories/", &m);
    ASSERT(m.route == &routes[1]);
    match(r, HTTP_M_DELETE, "/api/stories/", &m);
    ASSERT_EQ(m.status, 405);
    ASSERT(m.route == NULL);
    ASSERT_STREQ(m.allow, "GET, HEAD, POST, OPTIONS");
    match(r, HTTP_M_HEAD, "/api/stories/", &m);
    ASSERT(m.route == &routes[0]);
    match(r, HTTP_M_OPTIONS, "/api/stories/", &m);
    ASSERT_EQ(m.status, 200);
    router_free(r);
}

TEST(uuid_parameters_are_typed)
{
    router_t *r = mk();
    router_match_t m;
    match(r, HTTP_M_POST,
          "/api/stories/0b7e7f2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b/revisions/"
          "11111111-2222-3333-4444-555555555555/restore/",
          &m);
    ASSERT(m.route == &routes[3]);
    ASSERT_EQ(m.nparams, 2);
    ASSERT_EQ(m.param_lens[0], 36);
    ASSERT(memcmp(m.params[1], "11111111-", 9) == 0);
    match(r, HTTP_M_GET, "/api/stories/not-a-uuid/", &m);
    ASSERT_EQ(m.status, 404);
    match(r, HTTP_M_GET, "/api/stories/0b7e7f2a-1c2d-4e5f-8a9b-0c1d2e3f4a5g/", &m);
    ASSERT_EQ(m.status, 404);
    router_free(r);
}

TEST(literal_beats_nothing_and_ints_are_digits)
{
    router_t *r = mk();
    router_match_t m;
    match(r, HTTP_M_GET, "/api/stories/available_voices/", &m);
    ASSERT(m.route == &routes[6]);
    match(r, HTTP_M_GET, "/api/users/42/", &m);
    ASSERT(m.route == &routes[4]);
    ASSERT_EQ(m.param_lens[0], 2);
    match(r, HTTP_M_GET, "/api/users/4x2/", &m);
    ASSERT_EQ(m.status, 404);
    match(r, HTTP_M_GET, "/api/users/-1/", &m);
    ASSERT_EQ(m.status, 404);
    router_free(r);
}

TEST(odd_paths_do_not_match)
{
    router_t *r = mk();
    router_match_t m;
    const char *bad[] = {"", "api/stories/", "/api//stories/",
                         "/api/stories/x/y/z/a/b/c/d/e/f/g/h/i/j"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        match(r, HTTP_M_GET, bad[i], &m);
        ASSERT_EQ(m.status, 404);
    }
    router_free(r);
}

TEST(bad_patterns_are_rejected)
{
    router_t *r = router_new();
    http_route_t bad = {HTTP_M_GET, "/a/{float}/", h_a, 0, 0};
    ASSERT(router_add(r, &bad, 1) < 0);
    http_route_t bad2 = {HTTP_M_GET, "no-slash", h_a, 0, 0};
    ASSERT(router_add(r, &bad2, 1) < 0);
    router_free(r);
}

TEST_MAIN({"trailing_slash_is_optional", trailing_slash_is_optional},
          {"method_selects_route_and_405_lists_allowed",
           method_selects_route_and_405_lists_allowed},
          {"uuid_parameters_are_typed", uuid_parameters_are_typed},
          {"literal_beats_nothing_and_ints_are_digits", literal_beats_nothing_and_ints_are_digits},
          {"odd_paths_do_not_match", odd_paths_do_not_match},
          {"bad_patterns_are_rejected", bad_patterns_are_rejected})
