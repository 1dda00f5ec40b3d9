/* Counters shared by all workers and served in Prometheus text format. */
#ifndef FLEETREG_METRICS_H
#define FLEETREG_METRICS_H

#include <stdio.h>

#include "route.h"

enum metrics_counter {
    METRICS_DB_CONNECTS,
    METRICS_DB_RETRIES,
    METRICS_AUTH_REJECTED,
    METRICS_FLEET_OWNERS_CREATED,
    METRICS_DRIVERS_CREATED,
    METRICS_WORKER_EXITS,
    METRICS_COUNTER_COUNT
};

/*
 * Maps the shared counters. The master calls this once before forking,
 * so every worker inherits the same pages. Returns 0, or -1 when mmap
 * fails (the service then runs without metrics).
 */
int metrics_init(void) __attribute__((warn_unused_result));

void metrics_count(enum metrics_counter counter);

/* Counts a finished request with its status and duration. */
void metrics_observe_request(enum route_id route, int status, double seconds);

/* Writes every metric in the Prometheus text exposition format 0.0.4. */
void metrics_write(FILE *out);

#endif
