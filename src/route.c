/* The route table: each path, its method and the operation behind it. */
#include <stddef.h>
#include <string.h>

#include "route.h"

struct route_entry {
    const char *path;
    const char *method;
    enum route_id route;
    const char *name;
    int needs_user;
};

static const struct route_entry route_table[] = {
    {"/fleet-owner/register", "POST", ROUTE_FLEET_OWNER_REGISTER,
     "fleet_owner_register", 1},
    {"/fleet-owner/status", "GET", ROUTE_FLEET_OWNER_STATUS,
     "fleet_owner_status", 1},
    {"/driver/register", "POST", ROUTE_DRIVER_REGISTER, "driver_register", 1},
    {"/driver/status", "GET", ROUTE_DRIVER_STATUS, "driver_status", 1},
    {"/healthz", "GET", ROUTE_HEALTHZ, "healthz", 0},
    {"/readyz", "GET", ROUTE_READYZ, "readyz", 0},
    {"/metrics", "GET", ROUTE_METRICS, "metrics", 0},
    /* The auth_request subrequest keeps the client's method, so any. */
    {"/_auth", NULL, ROUTE_AUTH, "auth", 0},
};

#define ROUTE_COUNT (sizeof(route_table) / sizeof(*route_table))

static const struct route_entry *route_find_entry(enum route_id route)
{
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (route_table[i].route == route) {
            return &route_table[i];
        }
    }
    return NULL;
}

/*
 * HEAD is served as GET only on routes without a user: on a record route
 * GET creates the record, and a HEAD request must not change anything.
 */
static int route_head_allowed(const struct route_entry *entry)
{
    return entry->method != NULL && strcmp(entry->method, "GET") == 0 &&
           !entry->needs_user;
}

static int route_method_allowed(const struct route_entry *entry,
                                const char *method)
{
    if (entry->method == NULL || strcmp(entry->method, method) == 0) {
        return 1;
    }
    return strcmp(method, "HEAD") == 0 && route_head_allowed(entry);
}

int route_match(const char *method, const char *path, enum route_id *route,
                struct api_error *error)
{
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        const struct route_entry *entry = &route_table[i];

        if (strcmp(entry->path, path) != 0) {
            continue;
        }
        if (!route_method_allowed(entry, method)) {
            api_error_set(error, 405, "method_not_allowed",
                          "%s is not allowed on %s; use %s", method, path,
                          entry->method);
            error->allow =
                route_head_allowed(entry) ? "GET, HEAD" : entry->method;
            return -1;
        }
        *route = entry->route;
        return 0;
    }

    return api_error_set(error, 404, "not_found",
                         "no resource at this path; see the API paths "
                         "under /fleet-owner/ and /driver/");
}

int route_needs_user(enum route_id route)
{
    const struct route_entry *entry = route_find_entry(route);

    return entry != NULL && entry->needs_user;
}

const char *route_name(enum route_id route)
{
    const struct route_entry *entry = route_find_entry(route);

    return entry != NULL ? entry->name : "unknown";
}
