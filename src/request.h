/* Decoding of a request's body into validated registration options. */
#ifndef FLEETREG_REQUEST_H
#define FLEETREG_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_error.h"

enum record_kind { RECORD_FLEET_OWNER, RECORD_DRIVER };

/* The maximum characters (code points) of business_name. */
#define REQUEST_BUSINESS_NAME_MAX_CHARS 200
/* ...which take at most four bytes each in UTF-8, plus the NUL. */
#define REQUEST_BUSINESS_NAME_MAX_BYTES (REQUEST_BUSINESS_NAME_MAX_CHARS * 4)

/* The optional fields of a register body, after validation. */
struct registration_options {
    bool has_business_name;
    char business_name[REQUEST_BUSINESS_NAME_MAX_BYTES + 1];
    bool has_tenant_id;
    int64_t tenant_id;
};

/*
 * Parses the CONTENT_LENGTH parameter. NULL or "" means no body (0).
 * Anything but plain decimal digits is 400 invalid_request; a value above
 * max_body_bytes is 413 payload_too_large. Returns 0 or -1 with *error.
 */
int request_parse_content_length(const char *content_length,
                                 size_t max_body_bytes, size_t *length,
                                 struct api_error *error)
    __attribute__((warn_unused_result));

/*
 * Validates a register body for kind. An empty body (length 0) means no
 * options, whatever the Content-Type. A non-empty body needs a
 * Content-Type of application/json (parameters such as charset=utf-8 are
 * allowed), else 415. The body must be valid UTF-8 JSON: an object with
 * only the kind's known fields, no duplicate keys, nesting no deeper than
 * a small bound; tenant_id a positive integer at most 2^53 - 1 (and
 * at most INT32_MAX, as the column is integer); business_name (fleet owners
 * only) a string of at most 200 characters with no control characters
 * and no NUL. Returns 0 with *options filled, or -1 with *error (400
 * invalid_json, 415 unsupported_media_type, or 422 invalid_field naming
 * the field).
 */
int request_decode_body(enum record_kind kind, const char *content_type,
                        const char *body, size_t length,
                        struct registration_options *options,
                        struct api_error *error)
    __attribute__((warn_unused_result));

#endif
