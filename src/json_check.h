/* Strict RFC 8259 JSON and UTF-8 checks that run before cJSON parses a body. */
#ifndef FLEETREG_JSON_CHECK_H
#define FLEETREG_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "api_error.h"

/* Deepest nesting accepted, counting the top-level object as level 1. */
#define JSON_CHECK_MAX_DEPTH 8

/*
 * Top-level members whose raw value text the scan records. Fields are
 * checked in order and an unknown one ends the decoding, so a known
 * field is never past the second member when its text is read.
 */
#define JSON_CHECK_RECORDED_MEMBERS 4

/* Defects the strict scan reports. */
enum json_check_error {
    JSON_CHECK_OK = 0,
    JSON_CHECK_SYNTAX,
    JSON_CHECK_NOT_OBJECT,
    JSON_CHECK_TOO_DEEP,
    JSON_CHECK_CONTROL_CHARACTER,
    JSON_CHECK_NUL_ESCAPE,
    JSON_CHECK_LONE_SURROGATE
};

/* A span of the body. */
struct json_check_span {
    size_t start;
    size_t length;
};

/* State of the strict scan over one body. */
struct json_check_scan {
    const unsigned char *text;
    size_t length;
    size_t offset;
    enum json_check_error error;
    size_t member_count;
    struct json_check_span members[JSON_CHECK_RECORDED_MEMBERS];
    /* Optional: the top-level member whose value span is wanted. Its name
     * is matched as written, so a name spelt with escapes never matches. */
    const char *wanted_name;
    bool wanted_found;
    struct json_check_span wanted;
};

/*
 * Returns the length of the valid UTF-8 sequence at text (1 to 4), or 0
 * when it is invalid. text holds length bytes, and length is at least 1.
 */
size_t json_check_utf8_length(const unsigned char *text, size_t length);

/* Returns the offset of the first invalid UTF-8 byte, or length. */
size_t json_check_utf8(const unsigned char *text, size_t length);

/*
 * Scans text[0..length) as one JSON object, bounded by
 * JSON_CHECK_MAX_DEPTH. The caller sets text and length and zeroes the
 * other fields. On return scan->error is JSON_CHECK_OK, or the first
 * defect with scan->offset at it. members holds the value spans of the
 * first JSON_CHECK_RECORDED_MEMBERS top-level members, as offsets into
 * text, which the scan borrows and never frees or changes. When
 * wanted_name is set, wanted is the value span of the last top-level
 * member of that name and wanted_found says whether there was one.
 */
void json_check_body(struct json_check_scan *scan);

/*
 * Sets *error to the 400 invalid_json error that describes a failed
 * scan's defect and offset. Returns -1, as api_error_set does.
 */
int json_check_error_set(const struct json_check_scan *scan,
                         struct api_error *error)
    __attribute__((warn_unused_result));

#endif
