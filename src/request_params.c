/* FastCGI parameter checks and the body read against CONTENT_LENGTH. */
#include <stdbool.h>
#include <string.h>

#include "request_params.h"

/*
 * The parameters that fleetreg reads. nginx sends each once with the
 * shipped configuration, but a site that also includes Debian's
 * fastcgi_params, or sets one twice, would send a second copy.
 */
static const char *const REQUEST_PARAMS_READ[] = {
    "REQUEST_METHOD", "DOCUMENT_URI",       "CONTENT_LENGTH", "CONTENT_TYPE",
    "FLEETREG_SUB",   "HTTP_AUTHORIZATION", "REQUEST_ID"};

#define REQUEST_PARAMS_READ_COUNT                                              \
    (sizeof(REQUEST_PARAMS_READ) / sizeof(REQUEST_PARAMS_READ[0]))

/* Returns true when pair is "name=..." for exactly this name. */
static bool request_params_has_name(const char *pair, const char *name)
{
    size_t length = strlen(name);

    return strncmp(pair, name, length) == 0 && pair[length] == '=';
}

/* Counts pair against the parameters fleetreg reads. */
static int request_params_count_read(const char *pair, size_t *seen,
                                     struct api_error *error)
{
    for (size_t i = 0; i < REQUEST_PARAMS_READ_COUNT; i++) {
        if (!request_params_has_name(pair, REQUEST_PARAMS_READ[i])) {
            continue;
        }
        if (++seen[i] > 1) {
            return api_error_set(error, 400, "invalid_request",
                                 "the FastCGI parameter %s was sent more "
                                 "than once; configure the web server to "
                                 "send it once",
                                 REQUEST_PARAMS_READ[i]);
        }
        return 0;
    }
    return 0;
}

static int request_params_check_pair(const char *pair, size_t index,
                                     const struct request_limits *limits,
                                     struct api_error *error)
{
    const char *equals;

    /* strnlen: a pair far past the limit is not read to its end. */
    if (strnlen(pair, limits->max_param_bytes + 1) > limits->max_param_bytes) {
        return api_error_set(error, 400, "invalid_request",
                             "request parameter %zu is longer than %zu "
                             "bytes; send shorter headers",
                             index + 1, limits->max_param_bytes);
    }

    equals = strchr(pair, '=');
    if (equals == NULL || equals == pair) {
        return api_error_set(error, 400, "invalid_request",
                             "request parameter %zu is not a name=value "
                             "pair; send a well-formed request",
                             index + 1);
    }
    return 0;
}

int request_params_check(char *const *params,
                         const struct request_limits *limits,
                         struct api_error *error)
{
    size_t seen[REQUEST_PARAMS_READ_COUNT] = {0};
    size_t count = 0;

    if (params == NULL) {
        return 0;
    }

    for (char *const *pair = params; *pair != NULL; pair++, count++) {
        if (count >= limits->max_params) {
            return api_error_set(error, 400, "invalid_request",
                                 "the request has more than %zu "
                                 "parameters; send fewer headers",
                                 limits->max_params);
        }
        if (request_params_check_pair(*pair, count, limits, error) != 0 ||
            request_params_count_read(*pair, seen, error) != 0) {
            return -1;
        }
    }
    return 0;
}

const char *request_params_get(char *const *params, const char *name)
{
    if (params == NULL) {
        return NULL;
    }

    for (char *const *pair = params; *pair != NULL; pair++) {
        if (request_params_has_name(*pair, name)) {
            return *pair + strlen(name) + 1;
        }
    }
    return NULL;
}

/* Compares the bytes that arrived with the declared CONTENT_LENGTH. */
static int request_params_check_length(size_t declared, size_t received,
                                       const struct request_limits *limits,
                                       struct api_error *error)
{
    if (received > limits->max_body_bytes) {
        return api_error_set(error, 413, "payload_too_large",
                             "the body exceeds %zu bytes; send a smaller "
                             "body",
                             limits->max_body_bytes);
    }
    if (received != declared) {
        return api_error_set(error, 400, "invalid_request",
                             "Content-Length says %zu bytes but %zu "
                             "arrived; send a body of the declared length",
                             declared, received);
    }
    return 0;
}

int request_params_decode_body(enum record_kind kind, char *const *params,
                               const char *body, size_t body_length,
                               const struct request_limits *limits,
                               struct registration_options *options,
                               struct api_error *error)
{
    size_t declared = 0;

    memset(options, 0, sizeof(*options));
    if (request_parse_content_length(
            request_params_get(params, "CONTENT_LENGTH"),
            limits->max_body_bytes, &declared, error) != 0 ||
        request_params_check_length(declared, body_length, limits, error) !=
            0) {
        return -1;
    }

    return request_decode_body(kind, request_params_get(params, "CONTENT_TYPE"),
                               body, body_length, options, error);
}

int request_params_decode(enum record_kind kind, char *const *params,
                          const char *body, size_t body_length,
                          const struct request_limits *limits,
                          struct registration_options *options,
                          struct api_error *error)
{
    memset(options, 0, sizeof(*options));
    if (request_params_check(params, limits, error) != 0) {
        return -1;
    }
    return request_params_decode_body(kind, params, body, body_length, limits,
                                      options, error);
}
