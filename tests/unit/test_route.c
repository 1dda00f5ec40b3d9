/* Unit tests of route_match: paths, methods, 404 and 405 with Allow. */
#include <string.h>

#include "../../src/route.h"
#include "unit.h"

static void register_routes_take_post(void)
{
    struct api_error error;
    enum route_id route;

    CHECK(route_match("POST", "/fleet-owner/register", &route, &error) == 0);
    CHECK(route == ROUTE_FLEET_OWNER_REGISTER);
    CHECK(route_match("POST", "/driver/register", &route, &error) == 0);
    CHECK(route == ROUTE_DRIVER_REGISTER);
}

static void status_routes_take_get_only(void)
{
    struct api_error error;
    enum route_id route;

    CHECK(route_match("GET", "/fleet-owner/status", &route, &error) == 0);
    CHECK(route == ROUTE_FLEET_OWNER_STATUS);
    CHECK(route_match("HEAD", "/driver/status", &route, &error) != 0);
    CHECK(error.status == 405);
    CHECK_STR_EQ(error.allow, "GET");
}

static void probe_routes_take_head(void)
{
    struct api_error error;
    enum route_id route;

    CHECK(route_match("HEAD", "/healthz", &route, &error) == 0);
    CHECK(route == ROUTE_HEALTHZ);
    CHECK(route_match("HEAD", "/readyz", &route, &error) == 0);
    CHECK(route == ROUTE_READYZ);
    CHECK(route_match("POST", "/metrics", &route, &error) != 0);
    CHECK_STR_EQ(error.allow, "GET, HEAD");
}

static void get_on_register_is_405_with_allow(void)
{
    struct api_error error;
    enum route_id route;

    CHECK(route_match("GET", "/fleet-owner/register", &route, &error) != 0);
    CHECK(error.status == 405);
    CHECK_STR_EQ(error.code, "method_not_allowed");
    CHECK_STR_EQ(error.allow, "POST");
}

static void post_on_status_allows_get(void)
{
    struct api_error error;
    enum route_id route;

    CHECK(route_match("POST", "/driver/status", &route, &error) != 0);
    CHECK(error.status == 405);
    CHECK_STR_EQ(error.allow, "GET");
}

static void unknown_paths_are_404(void)
{
    static const char *const paths[] = {
        "/",
        "",
        "/fleet-owner",
        "/fleet-owner/register/",
        "/FLEET-OWNER/REGISTER",
        "/fleet-owner/register/../status",
        "/metrics/",
        "/driver/status%00",
    };
    struct api_error error;
    enum route_id route;

    for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
        CHECK(route_match("GET", paths[i], &route, &error) != 0);
        CHECK(error.status == 404);
        CHECK_STR_EQ(error.code, "not_found");
    }
}

static void auth_route_takes_any_method(void)
{
    struct api_error error;
    enum route_id route;

    CHECK(route_match("POST", "/_auth", &route, &error) == 0);
    CHECK(route == ROUTE_AUTH);
    CHECK(route_match("GET", "/_auth", &route, &error) == 0);
    CHECK(!route_needs_user(ROUTE_AUTH));
}

static void record_routes_need_a_user(void)
{
    CHECK(route_needs_user(ROUTE_FLEET_OWNER_REGISTER));
    CHECK(route_needs_user(ROUTE_DRIVER_STATUS));
    CHECK(!route_needs_user(ROUTE_HEALTHZ));
    CHECK(!route_needs_user(ROUTE_READYZ));
    CHECK_STR_EQ(route_name(ROUTE_DRIVER_REGISTER), "driver_register");
}

int main(void)
{
    RUN_TEST(register_routes_take_post);
    RUN_TEST(status_routes_take_get_only);
    RUN_TEST(probe_routes_take_head);
    RUN_TEST(get_on_register_is_405_with_allow);
    RUN_TEST(post_on_status_allows_get);
    RUN_TEST(unknown_paths_are_404);
    RUN_TEST(auth_route_takes_any_method);
    RUN_TEST(record_routes_need_a_user);
    return unit_finish();
}
