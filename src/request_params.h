/* A FastCGI request's parameters and body, checked before any use. */
#ifndef FLEETREG_REQUEST_PARAMS_H
#define FLEETREG_REQUEST_PARAMS_H

#include <stddef.h>

#include "api_error.h"
#include "request.h"

/* Bounds on one request, taken from the configuration. */
struct request_limits {
    size_t max_params;      /* name=value pairs per request */
    size_t max_param_bytes; /* bytes of one "name=value" pair */
    size_t max_body_bytes;
};

/*
 * Checks params, a NULL-terminated array of "name=value" strings such as
 * libfcgi's envp: at most max_params of them, each at most
 * max_param_bytes long with a non-empty name before its '=', and none of
 * the parameters fleetreg reads (REQUEST_METHOD, DOCUMENT_URI,
 * CONTENT_LENGTH, CONTENT_TYPE, FLEETREG_SUB, HTTP_AUTHORIZATION,
 * REQUEST_ID) given twice, since a second copy would leave the value to
 * whichever lookup runs. Returns 0, or -1 with *error set to 400
 * invalid_request.
 */
int request_params_check(char *const *params,
                         const struct request_limits *limits,
                         struct api_error *error)
    __attribute__((warn_unused_result));

/*
 * Returns the value of the first parameter called name (case-sensitive),
 * or NULL. The value lives as long as params.
 */
const char *request_params_get(char *const *params, const char *name);

/*
 * Decodes the register body of a request whose params passed
 * request_params_check. body contains the body_length bytes that arrived on
 * the request's input stream, read up to max_body_bytes + 1 bytes so
 * that an oversized body shows; it need not be NUL-terminated and may be
 * NULL when body_length is 0. CONTENT_LENGTH is parsed as
 * request_parse_content_length does (400 or 413); more than
 * max_body_bytes received is 413; any other difference from
 * CONTENT_LENGTH is 400 invalid_request. Then request_decode_body
 * decodes the body with CONTENT_TYPE. Returns 0 with *options filled, or
 * -1 with *error.
 */
int request_params_decode_body(enum record_kind kind, char *const *params,
                               const char *body, size_t body_length,
                               const struct request_limits *limits,
                               struct registration_options *options,
                               struct api_error *error)
    __attribute__((warn_unused_result));

/*
 * Runs request_params_check, then request_params_decode_body: the whole
 * decoding of a register request. Returns 0 with *options, or -1 with
 * *error.
 */
int request_params_decode(enum record_kind kind, char *const *params,
                          const char *body, size_t body_length,
                          const struct request_limits *limits,
                          struct registration_options *options,
                          struct api_error *error)
    __attribute__((warn_unused_result));

#endif
