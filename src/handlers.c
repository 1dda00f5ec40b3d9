/* Serving one FastCGI request: parameters, route, identity, body, response. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "records.h"
#include "request.h"
#include "request_params.h"
#include "route.h"

static const char *handlers_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* The status of the response being written, for the metrics. */
static int handlers_status;

static void handlers_write_head(FCGX_Request *request, int status)
{
    handlers_status = status;
    FCGX_FPrintF(request->out,
                 "Status: %d %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Cache-Control: no-store\r\n",
                 status, handlers_status_text(status));
}

static void handlers_write_json(FCGX_Request *request, int status,
                                const char *body)
{
    handlers_write_head(request, status);
    FCGX_FPrintF(request->out, "\r\n%s\n", body);
}

static void handlers_write_error(FCGX_Request *request,
                                 const struct api_error *error)
{
    char *body = api_error_to_json(error);

    handlers_write_head(request, error->status);
    if (error->allow != NULL) {
        FCGX_FPrintF(request->out, "Allow: %s\r\n", error->allow);
    }
    if (error->retry_after_seconds > 0) {
        FCGX_FPrintF(request->out, "Retry-After: %d\r\n",
                     error->retry_after_seconds);
    }
    if (error->status == 401) {
        FCGX_FPrintF(request->out, "WWW-Authenticate: Bearer\r\n");
    }
    FCGX_FPrintF(request->out, "\r\n%s\n",
                 body != NULL
                     ? body
                     : "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
                       "memory\"}}");
    free(body);

    if (error->status >= 500) {
        log_event(LOG_LEVEL_ERROR, "request_failed", "status=%d code=%s",
                  error->status, error->code);
    } else {
        log_event(LOG_LEVEL_DEBUG, "request_rejected", "status=%d code=%s",
                  error->status, error->code);
    }
}

static struct request_limits handlers_limits(const struct config *config)
{
    struct request_limits limits = {
        .max_params = (size_t)config->max_params,
        .max_param_bytes = (size_t)config->max_param_bytes,
        .max_body_bytes = (size_t)config->max_body_bytes,
    };

    return limits;
}

static const char *handlers_param(FCGX_Request *request, const char *name)
{
    return request_params_get(request->envp, name);
}

/*
 * Reads the body until the end of the FastCGI stdin stream, up to one
 * byte past the limit so that an oversized body is seen. Returns a
 * malloc'ed buffer (freed by the caller) or NULL with *error.
 */
static char *handlers_read_body(const struct config *config,
                                FCGX_Request *request, size_t *length,
                                struct api_error *error)
{
    size_t capacity = (size_t)config->max_body_bytes + 1;
    char *body = malloc(capacity + 1);
    size_t received = 0;
    int chunk;

    if (body == NULL) {
        api_error_set(error, 500, "internal", "out of memory");
        return NULL;
    }
    while (received < capacity &&
           (chunk = FCGX_GetStr(body + received, (int)(capacity - received),
                                request->in)) > 0) {
        received += (size_t)chunk;
    }

    body[received] = '\0';
    *length = received;
    return body;
}

/*
 * Decodes the register body into options, checking it against
 * CONTENT_LENGTH. Returns 0 or -1 with *error.
 */
static int handlers_read_options(struct worker_context *context,
                                 FCGX_Request *request, enum record_kind kind,
                                 struct registration_options *options,
                                 struct api_error *error)
{
    struct request_limits limits = handlers_limits(context->config);
    size_t length = 0;
    char *body;
    int status;

    body = handlers_read_body(context->config, request, &length, error);
    if (body == NULL) {
        return -1;
    }

    status = request_params_decode_body(kind, request->envp, body, length,
                                        &limits, options, error);
    free(body);
    return status;
}

static void handlers_serve_auth(struct worker_context *context,
                                FCGX_Request *request)
{
    struct api_error error;
    char reason[256];
    int64_t user_id;

    if (auth_verify_bearer(context->verifier,
                           handlers_param(request, "HTTP_AUTHORIZATION"),
                           time(NULL), &user_id, reason, sizeof(reason)) != 0) {
        log_make_quotable(reason);
        log_event(LOG_LEVEL_INFO, "auth_rejected", "reason=\"%s\"", reason);
        metrics_count(METRICS_AUTH_REJECTED);
        api_error_set(&error, 401, "unauthorized",
                      "a valid bearer token is required; sign in again "
                      "to get a new one");
        handlers_write_error(request, &error);
        return;
    }

    handlers_status = 204;
    FCGX_FPrintF(request->out,
                 "Status: 204 No Content\r\n"
                 "X-Fleetreg-Sub: %" PRId64 "\r\n"
                 "Cache-Control: no-store\r\n\r\n",
                 user_id);
}

static void handlers_serve_readyz(struct worker_context *context,
                                  FCGX_Request *request)
{
    struct api_error error;

    db_start_deadline(&context->db);
    if (db_ping(&context->db) == DB_STATUS_OK) {
        handlers_write_json(request, 200, "{\"status\":\"ready\"}");
        return;
    }
    log_event(LOG_LEVEL_WARNING, "not_ready", "error=\"%s\"",
              context->db.last_error);
    api_error_set(&error, 503, "service_unavailable",
                  "the database cannot be reached; retry later");
    error.retry_after_seconds = context->config->retry_after_seconds;
    handlers_write_error(request, &error);
}

static void handlers_serve_metrics(FCGX_Request *request)
{
    char *text = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&text, &length);

    if (stream == NULL) {
        handlers_write_json(request, 503,
                            "{\"error\":{\"code\":"
                            "\"service_unavailable\",\"message\":\"out "
                            "of memory; retry later\"}}");
        return;
    }
    metrics_write(stream);
    fclose(stream);

    handlers_status = 200;
    FCGX_FPrintF(request->out,
                 "Status: 200 OK\r\nContent-Type: text/plain; "
                 "version=0.0.4\r\nCache-Control: no-store\r\n\r\n");
    FCGX_PutStr(text, (int)length, request->out);
    free(text);
}

/* Reads the user id that nginx took from the auth_request result. */
static int handlers_read_user(FCGX_Request *request, int64_t *user_id,
                              struct api_error *error)
{
    const char *sub = handlers_param(request, "FLEETREG_SUB");

    if (sub == NULL || auth_parse_user_id(sub, user_id) != 0) {
        return api_error_set(error, 401, "unauthorized",
                             "a valid bearer token is required; sign in "
                             "again to get a new one");
    }
    return 0;
}

static void handlers_serve_record(struct worker_context *context,
                                  FCGX_Request *request, enum route_id route)
{
    enum record_kind kind =
        route == ROUTE_DRIVER_REGISTER || route == ROUTE_DRIVER_STATUS
            ? RECORD_DRIVER
            : RECORD_FLEET_OWNER;
    int is_register =
        route == ROUTE_FLEET_OWNER_REGISTER || route == ROUTE_DRIVER_REGISTER;
    struct registration_options options;
    struct api_error error;
    cJSON *record = NULL;
    int64_t user_id;
    int created = 0;
    char *body;

    memset(&options, 0, sizeof(options));
    if (handlers_read_user(request, &user_id, &error) != 0 ||
        (is_register && handlers_read_options(context, request, kind, &options,
                                              &error) != 0) ||
        records_get_or_create(&context->db, kind, user_id, &options, &record,
                              &created, &error) != 0) {
        handlers_write_error(request, &error);
        return;
    }

    body = cJSON_PrintUnformatted(record);
    cJSON_Delete(record);
    if (body == NULL) {
        api_error_set(&error, 500, "internal", "out of memory");
        handlers_write_error(request, &error);
        return;
    }
    handlers_write_json(request, created ? 201 : 200, body);
    free(body);
    if (created) {
        log_event(LOG_LEVEL_INFO, "record_created", "kind=%s user_id=%" PRId64,
                  kind == RECORD_DRIVER ? "driver" : "fleet_owner", user_id);
    }
}

static double handlers_seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void handlers_dispatch(struct worker_context *context,
                              FCGX_Request *request, enum route_id route)
{
    struct api_error error;

    switch (route) {
    case ROUTE_AUTH: handlers_serve_auth(context, request); break;
    case ROUTE_HEALTHZ:
        handlers_write_json(request, 200, "{\"status\":\"ok\"}");
        break;
    case ROUTE_READYZ: handlers_serve_readyz(context, request); break;
    case ROUTE_METRICS: handlers_serve_metrics(request); break;
    case ROUTE_FLEET_OWNER_REGISTER:
    case ROUTE_FLEET_OWNER_STATUS:
    case ROUTE_DRIVER_REGISTER:
    case ROUTE_DRIVER_STATUS:
        handlers_serve_record(context, request, route);
        break;
    default:
        api_error_set(&error, 404, "not_found", "no resource at this path");
        handlers_write_error(request, &error);
        break;
    }
}

void handlers_serve(struct worker_context *context, FCGX_Request *request)
{
    struct request_limits limits = handlers_limits(context->config);
    const char *method = handlers_param(request, "REQUEST_METHOD");
    const char *path = handlers_param(request, "DOCUMENT_URI");
    struct api_error error;
    struct timespec start;
    enum route_id route;

    clock_gettime(CLOCK_MONOTONIC, &start);
    log_set_request_id(handlers_param(request, "REQUEST_ID"));

    if (request_params_check(request->envp, &limits, &error) != 0 ||
        route_match(method != NULL ? method : "", path != NULL ? path : "",
                    &route, &error) != 0) {
        handlers_write_error(request, &error);
        log_set_request_id(NULL);
        return;
    }

    handlers_dispatch(context, request, route);
    metrics_observe_request(route, handlers_status,
                            handlers_seconds_since(&start));
    log_set_request_id(NULL);
}
