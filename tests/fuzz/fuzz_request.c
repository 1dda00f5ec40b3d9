/*
 * libFuzzer target: a FastCGI request's parameters and body, decoded.
 *
 * The input layout lets seed files read as text. An optional first line
 * "driver" or "owner" picks the record kind, owner when absent. Then
 * come "name=value" parameters, one per line, up to an empty line. The
 * rest of the input is the body, as bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_error.h"
#include "auth.h"
#include "request_params.h"
#include "route.h"

/* Lines read as parameters; more stay in the input as body bytes. */
#define FUZZ_MAX_LINES 512

/*
 * Limits smaller than the shipped defaults (128 parameters of 16 KiB,
 * 16 KiB bodies) so that inputs of a few KiB cross every bound.
 */
static const struct request_limits fuzz_limits = {
    .max_params = 24,
    .max_param_bytes = 256,
    .max_body_bytes = 2048,
};

struct fuzz_request {
    enum record_kind kind;
    char *params[FUZZ_MAX_LINES + 1];
    size_t param_count;
    char *body; /* exact-size copy, so an over-read is reported */
    size_t body_length;
};

/* Copies one line as a NUL-terminated parameter of its own allocation. */
static char *fuzz_copy_line(const uint8_t *data, size_t length)
{
    char *copy = malloc(length + 1);

    if (copy == NULL) {
        abort();
    }
    memcpy(copy, data, length);
    copy[length] = '\0';
    return copy;
}

/* Splits the input into kind, parameters and body. */
static void fuzz_split(const uint8_t *data, size_t size,
                       struct fuzz_request *request)
{
    size_t offset = 0;
    bool first = true;

    request->kind = RECORD_FLEET_OWNER;
    while (offset < size && request->param_count < FUZZ_MAX_LINES) {
        const uint8_t *newline = memchr(data + offset, '\n', size - offset);
        size_t length;

        if (newline == NULL) {
            break;
        }
        length = (size_t)(newline - (data + offset));
        if (length == 0) {
            offset++;
            break;
        }

        if (first && length == 6 && memcmp(data + offset, "driver", 6) == 0) {
            request->kind = RECORD_DRIVER;
        } else if (!(first && length == 5 &&
                     memcmp(data + offset, "owner", 5) == 0)) {
            request->params[request->param_count++] =
                fuzz_copy_line(data + offset, length);
        }
        first = false;
        offset += length + 1;
    }
    request->params[request->param_count] = NULL;

    request->body_length = size - offset;
    request->body =
        request->body_length > 0 ? malloc(request->body_length) : NULL;
    if (request->body_length > 0) {
        if (request->body == NULL) {
            abort();
        }
        memcpy(request->body, data + offset, request->body_length);
    }
}

static void fuzz_free(struct fuzz_request *request)
{
    for (size_t i = 0; i < request->param_count; i++) {
        free(request->params[i]);
    }
    free(request->body);
}

/*
 * Aborts, so that libFuzzer keeps the input, when an error breaks the
 * contract: a 4xx status, a code, a message, and valid JSON.
 */
static void fuzz_check_error(const struct api_error *error)
{
    char *json;
    cJSON *parsed;

    if (error->status < 400 || error->status > 499) {
        abort();
    }
    if (error->code == NULL || error->message[0] == '\0' ||
        strlen(error->message) >= sizeof(error->message)) {
        abort();
    }

    json = api_error_to_json(error);
    parsed = json != NULL ? cJSON_Parse(json) : NULL;
    if (parsed == NULL) {
        abort();
    }
    cJSON_Delete(parsed);
    free(json);
}

/* Aborts when decoded options break the limits the decoder promises. */
static void fuzz_check_options(enum record_kind kind,
                               const struct registration_options *options)
{
    if (options->has_tenant_id &&
        (options->tenant_id < 1 || options->tenant_id > INT32_MAX)) {
        abort();
    }
    if (options->has_business_name &&
        (kind != RECORD_FLEET_OWNER ||
         strlen(options->business_name) > REQUEST_BUSINESS_NAME_MAX_BYTES)) {
        abort();
    }
}

/* Reads the parameters the handlers read after the checks pass. */
static void fuzz_read_identity(char *const *params)
{
    const char *method = request_params_get(params, "REQUEST_METHOD");
    const char *path = request_params_get(params, "DOCUMENT_URI");
    const char *sub = request_params_get(params, "FLEETREG_SUB");
    struct api_error error;
    enum route_id route;
    int64_t user_id = 0;

    if (route_match(method != NULL ? method : "", path != NULL ? path : "",
                    &route, &error) != 0) {
        fuzz_check_error(&error);
    }
    if (sub != NULL && auth_parse_user_id(sub, &user_id) == 0 && user_id < 1) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_request request;
    struct registration_options options;
    struct api_error error;

    memset(&request, 0, sizeof(request));
    fuzz_split(data, size, &request);

    memset(&error, 0, sizeof(error));
    if (request_params_decode(request.kind, request.params, request.body,
                              request.body_length, &fuzz_limits, &options,
                              &error) == 0) {
        fuzz_check_options(request.kind, &options);
        fuzz_read_identity(request.params);
    } else {
        fuzz_check_error(&error);
    }

    fuzz_free(&request);
    return 0;
}
