/* Mapping of a request's method and path to the operation that serves it. */
#ifndef FLEETREG_ROUTE_H
#define FLEETREG_ROUTE_H

#include "api_error.h"

enum route_id {
    ROUTE_FLEET_OWNER_REGISTER,
    ROUTE_FLEET_OWNER_STATUS,
    ROUTE_DRIVER_REGISTER,
    ROUTE_DRIVER_STATUS,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_AUTH
};

/*
 * Finds the route for method and path (the path without its query
 * string). Returns 0 with *route set; or -1 with *error set to 404
 * not_found for an unknown path, or to 405 method_not_allowed with the
 * Allow value for a known path and another method. HEAD is served as GET
 * on /healthz, /readyz and /metrics; on the record routes, where GET
 * may create the record, it is 405.
 */
int route_match(const char *method, const char *path, enum route_id *route,
                struct api_error *error) __attribute__((warn_unused_result));

/* Returns 1 when the route needs an authenticated user, else 0. */
int route_needs_user(enum route_id route);

/* A short stable name of the route for logs and metrics. */
const char *route_name(enum route_id route);

#endif
