/* Counters shared by all workers and served in Prometheus text format. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"

#define METRICS_ROUTES (ROUTE_AUTH + 1)
/* Statuses that the service sends; anything else is counted as "other". */
static const int metrics_statuses[] = {200, 201, 204, 400, 401, 404, 405,
                                       409, 413, 415, 422, 500, 503};
#define METRICS_STATUS_COUNT                                                   \
    (sizeof(metrics_statuses) / sizeof(*metrics_statuses) + 1)

/* Upper bounds of the duration histogram, in seconds. */
static const double metrics_buckets[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define METRICS_BUCKET_COUNT                                                   \
    (sizeof(metrics_buckets) / sizeof(*metrics_buckets))

/* The shared page. Updated with relaxed atomics: counts, not ordering. */
struct metrics_shared {
    uint64_t counters[METRICS_COUNTER_COUNT];
    uint64_t requests[METRICS_ROUTES][METRICS_STATUS_COUNT];
    uint64_t buckets[METRICS_ROUTES][METRICS_BUCKET_COUNT];
    uint64_t duration_count[METRICS_ROUTES];
    uint64_t duration_microseconds[METRICS_ROUTES];
};

static struct metrics_shared *metrics_area;

static const char *const metrics_counter_names[] = {
    [METRICS_DB_CONNECTS] = "fleetreg_db_connects_total",
    [METRICS_DB_RETRIES] = "fleetreg_db_retries_total",
    [METRICS_AUTH_REJECTED] = "fleetreg_auth_rejected_total",
    [METRICS_FLEET_OWNERS_CREATED] = "fleetreg_fleet_owners_created_total",
    [METRICS_DRIVERS_CREATED] = "fleetreg_drivers_created_total",
    [METRICS_WORKER_EXITS] = "fleetreg_worker_exits_total",
};

int metrics_init(void)
{
    void *area = mmap(NULL, sizeof(*metrics_area), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (area == MAP_FAILED) {
        return -1;
    }
    metrics_area = area;
    return 0;
}

static void metrics_add(uint64_t *counter, uint64_t amount)
{
    __atomic_fetch_add(counter, amount, __ATOMIC_RELAXED);
}

static uint64_t metrics_read(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void metrics_count(enum metrics_counter counter)
{
    if (metrics_area != NULL) {
        metrics_add(&metrics_area->counters[counter], 1);
    }
}

static size_t metrics_status_index(int status)
{
    size_t i = 0;

    while (i < METRICS_STATUS_COUNT - 1 && metrics_statuses[i] != status) {
        i++;
    }
    return i;
}

void metrics_observe_request(enum route_id route, int status, double seconds)
{
    if (metrics_area == NULL || (unsigned)route >= METRICS_ROUTES) {
        return;
    }

    metrics_add(&metrics_area->requests[route][metrics_status_index(status)],
                1);
    for (size_t i = 0; i < METRICS_BUCKET_COUNT; i++) {
        if (seconds <= metrics_buckets[i]) {
            metrics_add(&metrics_area->buckets[route][i], 1);
        }
    }
    metrics_add(&metrics_area->duration_count[route], 1);
    metrics_add(&metrics_area->duration_microseconds[route],
                (uint64_t)(seconds * 1e6));
}

static void metrics_write_counters(FILE *out)
{
    for (int i = 0; i < METRICS_COUNTER_COUNT; i++) {
        fprintf(out, "# TYPE %s counter\n%s %llu\n", metrics_counter_names[i],
                metrics_counter_names[i],
                (unsigned long long)metrics_read(&metrics_area->counters[i]));
    }
}

static void metrics_write_requests(FILE *out)
{
    fprintf(out, "# HELP fleetreg_requests_total Requests answered, by "
                 "route and status.\n# TYPE fleetreg_requests_total counter\n");
    for (int route = 0; route < METRICS_ROUTES; route++) {
        for (size_t i = 0; i < METRICS_STATUS_COUNT; i++) {
            uint64_t count = metrics_read(&metrics_area->requests[route][i]);
            char status[8];

            if (count == 0) {
                continue;
            }
            if (i < METRICS_STATUS_COUNT - 1) {
                snprintf(status, sizeof(status), "%d", metrics_statuses[i]);
            } else {
                memcpy(status, "other", sizeof("other"));
            }
            fprintf(out,
                    "fleetreg_requests_total{route=\"%s\","
                    "status=\"%s\"} %llu\n",
                    route_name(route), status, (unsigned long long)count);
        }
    }
}

static void metrics_write_durations(FILE *out)
{
    fprintf(out, "# HELP fleetreg_request_duration_seconds Time from "
                 "accept to the end of the response.\n"
                 "# TYPE fleetreg_request_duration_seconds histogram\n");
    for (int route = 0; route < METRICS_ROUTES; route++) {
        const char *name = route_name(route);
        uint64_t count = metrics_read(&metrics_area->duration_count[route]);

        if (count == 0) {
            continue;
        }
        for (size_t i = 0; i < METRICS_BUCKET_COUNT; i++) {
            fprintf(out,
                    "fleetreg_request_duration_seconds_bucket{route="
                    "\"%s\",le=\"%g\"} %llu\n",
                    name, metrics_buckets[i],
                    (unsigned long long)metrics_read(
                        &metrics_area->buckets[route][i]));
        }
        fprintf(out,
                "fleetreg_request_duration_seconds_bucket{route=\"%s\","
                "le=\"+Inf\"} %llu\n",
                name, (unsigned long long)count);
        fprintf(
            out,
            "fleetreg_request_duration_seconds_sum{route=\"%s\"} "
            "%.6f\n",
            name,
            (double)metrics_read(&metrics_area->duration_microseconds[route]) /
                1e6);
        fprintf(out,
                "fleetreg_request_duration_seconds_count{route=\"%s\"} "
                "%llu\n",
                name, (unsigned long long)count);
    }
}

void metrics_write(FILE *out)
{
    if (metrics_area == NULL) {
        fprintf(out, "# metrics are unavailable: the shared area could not "
                     "be mapped\n");
        return;
    }
    metrics_write_counters(out);
    metrics_write_requests(out);
    metrics_write_durations(out);
}
