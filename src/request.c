/* Request body decoding: a strict JSON scan, then cJSON, then each field. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "request.h"

/* Deepest nesting accepted, counting the top-level object as level 1. */
#define REQUEST_MAX_DEPTH 8

/* Bytes of client input quoted in an error message, before "...". */
#define REQUEST_PREVIEW_BYTES 32

/* tenant_id is an integer column, so its range is PostgreSQL's int4. */
#define REQUEST_TENANT_ID_MAX 2147483647LL

/*
 * Top-level members whose raw value text the scan records. Fields are
 * checked in order and an unknown one ends the decoding, so a known
 * field is never past the second member when its text is read.
 */
#define REQUEST_RECORDED_MEMBERS 4

/* Defects the strict scan reports. */
enum request_scan_error {
    REQUEST_SCAN_OK = 0,
    REQUEST_SCAN_SYNTAX,
    REQUEST_SCAN_NOT_OBJECT,
    REQUEST_SCAN_TOO_DEEP,
    REQUEST_SCAN_CONTROL_CHARACTER,
    REQUEST_SCAN_NUL_ESCAPE,
    REQUEST_SCAN_LONE_SURROGATE
};

/* A span of the body. */
struct request_span {
    size_t start;
    size_t length;
};

/* State of the strict scan over one body. */
struct request_scan {
    const unsigned char *text;
    size_t length;
    size_t offset;
    enum request_scan_error error;
    size_t member_count;
    struct request_span members[REQUEST_RECORDED_MEMBERS];
};

static bool request_scan_value(struct request_scan *scan, int depth);

/*
 * Returns the length of the valid UTF-8 sequence at text (1 to 4), or 0
 * for an invalid one: a stray continuation byte, an overlong form, a
 * surrogate (U+D800 to U+DFFF) or a code point above U+10FFFF.
 */
static size_t request_utf8_length(const unsigned char *text, size_t length)
{
    unsigned char lead = text[0];
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    size_t size;

    if (lead < 0x80) {
        return 1;
    }

    if (lead >= 0xc2 && lead <= 0xdf) {
        size = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        size = 3;
        low = lead == 0xe0 ? 0xa0 : 0x80;
        high = lead == 0xed ? 0x9f : 0xbf;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        size = 4;
        low = lead == 0xf0 ? 0x90 : 0x80;
        high = lead == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }

    if (length < size || text[1] < low || text[1] > high) {
        return 0;
    }
    for (size_t i = 2; i < size; i++) {
        if (text[i] < 0x80 || text[i] > 0xbf) {
            return 0;
        }
    }
    return size;
}

/* Returns the offset of the first invalid UTF-8 byte, or length. */
static size_t request_utf8_check(const unsigned char *text, size_t length)
{
    size_t offset = 0;

    while (offset < length) {
        size_t size = request_utf8_length(text + offset, length - offset);

        if (size == 0) {
            return offset;
        }
        offset += size;
    }
    return length;
}

/*
 * Copies client text for an error message: at most REQUEST_PREVIEW_BYTES
 * bytes, whole UTF-8 characters only, control characters and invalid
 * bytes shown as '?', and "..." when cut.
 */
static void request_preview(char *out, size_t out_size, const char *text,
                            size_t length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t used = 0;
    size_t offset = 0;

    while (offset < length && used + 4 < out_size &&
           offset < REQUEST_PREVIEW_BYTES) {
        size_t size = request_utf8_length(bytes + offset, length - offset);

        if (size <= 1) {
            bool printable = bytes[offset] >= 0x20 && bytes[offset] < 0x7f;

            out[used++] = printable ? (char)bytes[offset] : '?';
            offset++;
            continue;
        }
        if (offset + size > REQUEST_PREVIEW_BYTES) {
            break;
        }
        memcpy(out + used, bytes + offset, size);
        used += size;
        offset += size;
    }

    if (offset < length && used + 3 < out_size) {
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used] = '\0';
}

int request_parse_content_length(const char *content_length,
                                 size_t max_body_bytes, size_t *length,
                                 struct api_error *error)
{
    char preview[64];
    size_t value = 0;
    bool too_large = false;

    *length = 0;
    if (content_length == NULL || content_length[0] == '\0') {
        return 0;
    }

    request_preview(preview, sizeof(preview), content_length,
                    strlen(content_length));

    for (const char *p = content_length; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return api_error_set(error, 400, "invalid_request",
                                 "Content-Length \"%s\" is not a decimal "
                                 "byte count; send the body's length in "
                                 "bytes", preview);
        }

        /* Stop accumulating past the limit so the value cannot wrap. */
        if (!too_large) {
            value = value * 10 + (size_t)(*p - '0');
            too_large = value > max_body_bytes;
        }
    }

    if (too_large) {
        return api_error_set(error, 413, "payload_too_large",
                             "body of %s bytes is larger than the %zu bytes "
                             "accepted; send a smaller body", preview,
                             max_body_bytes);
    }

    *length = value;
    return 0;
}

static const char *request_skip_space(const char *text)
{
    while (*text == ' ' || *text == '\t') {
        text++;
    }
    return text;
}

/* Compares text[0..length) with word, ignoring ASCII case. */
static bool request_word_equals(const char *text, size_t length,
                                const char *word)
{
    return length == strlen(word) && strncasecmp(text, word, length) == 0;
}

/*
 * Checks one "name=value" media type parameter. Only charset matters, and
 * it must name UTF-8, the only encoding JSON allows (RFC 8259).
 */
static int request_check_parameter(const char *start, const char *end,
                                   struct api_error *error)
{
    const char *equals = memchr(start, '=', (size_t)(end - start));
    const char *value;
    size_t value_length;
    char preview[64];

    if (equals == NULL || equals == start) {
        request_preview(preview, sizeof(preview), start,
                        (size_t)(end - start));
        return api_error_set(error, 415, "unsupported_media_type",
                             "Content-Type parameter \"%s\" is malformed; "
                             "send Content-Type: application/json", preview);
    }
    if (!request_word_equals(start, (size_t)(equals - start), "charset")) {
        return 0;
    }

    value = equals + 1;
    value_length = (size_t)(end - value);
    if (value_length >= 2 && value[0] == '"' &&
        value[value_length - 1] == '"') {
        value++;
        value_length -= 2;
    }

    if (!request_word_equals(value, value_length, "utf-8")) {
        request_preview(preview, sizeof(preview), value, value_length);
        return api_error_set(error, 415, "unsupported_media_type",
                             "charset \"%s\" is not supported; send UTF-8 "
                             "JSON with charset=utf-8 or no charset",
                             preview);
    }
    return 0;
}

/* Accepts "application/json" in any case, with optional parameters. */
static int request_check_content_type(const char *content_type,
                                      struct api_error *error)
{
    const char *type;
    const char *cursor;
    size_t type_length;
    char preview[64];

    if (content_type == NULL || content_type[0] == '\0') {
        return api_error_set(error, 415, "unsupported_media_type",
                             "Content-Type is missing; send the body with "
                             "Content-Type: application/json");
    }

    type = request_skip_space(content_type);
    type_length = strcspn(type, "; \t");
    if (!request_word_equals(type, type_length, "application/json")) {
        request_preview(preview, sizeof(preview), type, strlen(type));
        return api_error_set(error, 415, "unsupported_media_type",
                             "Content-Type \"%s\" is not supported; send "
                             "the body as application/json", preview);
    }

    cursor = request_skip_space(type + type_length);
    while (*cursor == ';') {
        const char *start = request_skip_space(cursor + 1);
        const char *end = start + strcspn(start, ";");
        const char *trimmed = end;

        while (trimmed > start &&
               (trimmed[-1] == ' ' || trimmed[-1] == '\t')) {
            trimmed--;
        }
        if (request_check_parameter(start, trimmed, error) != 0) {
            return -1;
        }
        cursor = end;
    }

    if (*cursor != '\0') {
        request_preview(preview, sizeof(preview), content_type,
                        strlen(content_type));
        return api_error_set(error, 415, "unsupported_media_type",
                             "Content-Type \"%s\" is malformed; send "
                             "Content-Type: application/json", preview);
    }
    return 0;
}

static bool request_scan_fail(struct request_scan *scan,
                              enum request_scan_error error)
{
    if (scan->error == REQUEST_SCAN_OK) {
        scan->error = error;
    }
    return false;
}

static bool request_scan_at_end(const struct request_scan *scan)
{
    return scan->offset >= scan->length;
}

static unsigned char request_scan_peek(const struct request_scan *scan)
{
    return request_scan_at_end(scan) ? 0 : scan->text[scan->offset];
}

static void request_scan_space(struct request_scan *scan)
{
    while (!request_scan_at_end(scan)) {
        unsigned char c = scan->text[scan->offset];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return;
        }
        scan->offset++;
    }
}

static bool request_scan_literal(struct request_scan *scan, const char *word)
{
    size_t length = strlen(word);

    if (scan->length - scan->offset < length ||
        memcmp(scan->text + scan->offset, word, length) != 0) {
        return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
    }
    scan->offset += length;
    return true;
}

/* Consumes one or more digits. */
static bool request_scan_digits(struct request_scan *scan)
{
    size_t start = scan->offset;

    while (request_scan_peek(scan) >= '0' && request_scan_peek(scan) <= '9') {
        scan->offset++;
    }
    if (scan->offset == start) {
        return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
    }
    return true;
}

/* Scans a number in RFC 8259 form: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
static bool request_scan_number(struct request_scan *scan)
{
    if (request_scan_peek(scan) == '-') {
        scan->offset++;
    }

    if (request_scan_peek(scan) == '0') {
        scan->offset++;
    } else if (!request_scan_digits(scan)) {
        return false;
    }

    if (request_scan_peek(scan) == '.') {
        scan->offset++;
        if (!request_scan_digits(scan)) {
            return false;
        }
    }

    if (request_scan_peek(scan) == 'e' || request_scan_peek(scan) == 'E') {
        scan->offset++;
        if (request_scan_peek(scan) == '+' || request_scan_peek(scan) == '-') {
            scan->offset++;
        }
        if (!request_scan_digits(scan)) {
            return false;
        }
    }
    return true;
}

/* Reads the four hex digits of a \u escape, with offset past the 'u'. */
static bool request_scan_hex4(struct request_scan *scan, unsigned *unit)
{
    *unit = 0;
    if (scan->length - scan->offset < 4) {
        return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
    }

    for (int i = 0; i < 4; i++) {
        unsigned char c = scan->text[scan->offset++];
        unsigned digit;

        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;
        } else {
            scan->offset--;
            return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
        }
        *unit = *unit << 4 | digit;
    }
    return true;
}

/*
 * Checks a \u escape (offset past the 'u'). cJSON 1.7.15 accepts \u0000,
 * which cuts its C strings short ("tenant_id\u0000x" reads as tenant_id),
 * so it is rejected here, as are lone surrogates, which encode no
 * character.
 */
static bool request_scan_unicode_escape(struct request_scan *scan)
{
    size_t start = scan->offset - 2;
    unsigned unit;
    unsigned low;

    if (!request_scan_hex4(scan, &unit)) {
        return false;
    }
    if (unit == 0) {
        scan->offset = start;
        return request_scan_fail(scan, REQUEST_SCAN_NUL_ESCAPE);
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) {
        scan->offset = start;
        return request_scan_fail(scan, REQUEST_SCAN_LONE_SURROGATE);
    }
    if (unit < 0xd800 || unit > 0xdbff) {
        return true;
    }

    /* A high surrogate must be followed at once by a low one. */
    if (scan->length - scan->offset < 2 ||
        scan->text[scan->offset] != '\\' ||
        scan->text[scan->offset + 1] != 'u') {
        scan->offset = start;
        return request_scan_fail(scan, REQUEST_SCAN_LONE_SURROGATE);
    }
    scan->offset += 2;
    if (!request_scan_hex4(scan, &low)) {
        return false;
    }
    if (low < 0xdc00 || low > 0xdfff) {
        scan->offset = start;
        return request_scan_fail(scan, REQUEST_SCAN_LONE_SURROGATE);
    }
    return true;
}

/* Scans a string whose opening quote is at offset. */
static bool request_scan_string(struct request_scan *scan)
{
    scan->offset++;

    while (!request_scan_at_end(scan)) {
        unsigned char c = scan->text[scan->offset];

        if (c == '"') {
            scan->offset++;
            return true;
        }
        if (c < 0x20) {
            return request_scan_fail(scan, REQUEST_SCAN_CONTROL_CHARACTER);
        }
        if (c != '\\') {
            scan->offset++;
            continue;
        }

        scan->offset++;
        c = request_scan_peek(scan);
        scan->offset++;
        if (c == 'u') {
            if (!request_scan_unicode_escape(scan)) {
                return false;
            }
        } else if (c == 0 || strchr("\"\\/bfnrt", c) == NULL) {
            scan->offset -= 2;
            return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
        }
    }
    return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
}

/* Remembers where a top-level member's value lies, for tenant_id. */
static void request_scan_record(struct request_scan *scan, size_t start)
{
    if (scan->member_count < REQUEST_RECORDED_MEMBERS) {
        scan->members[scan->member_count].start = start;
        scan->members[scan->member_count].length = scan->offset - start;
    }
    scan->member_count++;
}

static bool request_scan_object(struct request_scan *scan, int depth)
{
    scan->offset++;
    request_scan_space(scan);
    if (request_scan_peek(scan) == '}') {
        scan->offset++;
        return true;
    }

    for (;;) {
        size_t value_start;

        if (request_scan_peek(scan) != '"') {
            return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
        }
        if (!request_scan_string(scan)) {
            return false;
        }

        request_scan_space(scan);
        if (request_scan_peek(scan) != ':') {
            return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
        }
        scan->offset++;
        request_scan_space(scan);

        value_start = scan->offset;
        if (!request_scan_value(scan, depth + 1)) {
            return false;
        }
        if (depth == 1) {
            request_scan_record(scan, value_start);
        }

        request_scan_space(scan);
        if (request_scan_peek(scan) == '}') {
            scan->offset++;
            return true;
        }
        if (request_scan_peek(scan) != ',') {
            return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
        }
        scan->offset++;
        request_scan_space(scan);
    }
}

static bool request_scan_array(struct request_scan *scan, int depth)
{
    scan->offset++;
    request_scan_space(scan);
    if (request_scan_peek(scan) == ']') {
        scan->offset++;
        return true;
    }

    for (;;) {
        if (!request_scan_value(scan, depth + 1)) {
            return false;
        }

        request_scan_space(scan);
        if (request_scan_peek(scan) == ']') {
            scan->offset++;
            return true;
        }
        if (request_scan_peek(scan) != ',') {
            return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
        }
        scan->offset++;
        request_scan_space(scan);
    }
}

/* depth is the nesting level a container starting here would have. */
static bool request_scan_value(struct request_scan *scan, int depth)
{
    unsigned char c = request_scan_peek(scan);

    if (c == '{' || c == '[') {
        if (depth > REQUEST_MAX_DEPTH) {
            return request_scan_fail(scan, REQUEST_SCAN_TOO_DEEP);
        }
        return c == '{' ? request_scan_object(scan, depth)
                        : request_scan_array(scan, depth);
    }

    switch (c) {
    case '"':
        return request_scan_string(scan);
    case 't':
        return request_scan_literal(scan, "true");
    case 'f':
        return request_scan_literal(scan, "false");
    case 'n':
        return request_scan_literal(scan, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            return request_scan_number(scan);
        }
        return request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
    }
}

/*
 * Scans the whole body as RFC 8259 JSON whose top-level value is an
 * object. cJSON 1.7.15 is lenient (it takes leading zeros, raw control
 * characters in strings and \u0000), so this scan decides what is valid
 * and cJSON only builds the tree afterwards.
 */
static void request_scan_body(struct request_scan *scan)
{
    unsigned char first;

    request_scan_space(scan);
    first = request_scan_peek(scan);
    if (first != '{') {
        /* Name the type only when another JSON value starts here. */
        bool value = first != 0 && strchr("[\"-0123456789tfn", first);

        request_scan_fail(scan, value ? REQUEST_SCAN_NOT_OBJECT
                                      : REQUEST_SCAN_SYNTAX);
        return;
    }

    if (!request_scan_value(scan, 1)) {
        return;
    }

    request_scan_space(scan);
    if (!request_scan_at_end(scan)) {
        request_scan_fail(scan, REQUEST_SCAN_SYNTAX);
    }
}

static int request_scan_error_set(const struct request_scan *scan,
                                  struct api_error *error)
{
    const char *problem;

    switch (scan->error) {
    case REQUEST_SCAN_NOT_OBJECT:
        return api_error_set(error, 400, "invalid_json",
                             "body is not a JSON object; send an object "
                             "such as {\"tenant_id\": 3}");
    case REQUEST_SCAN_TOO_DEEP:
        return api_error_set(error, 400, "invalid_json",
                             "body nests deeper than %d levels at byte %zu; "
                             "send a flat object such as {\"tenant_id\": 3}",
                             REQUEST_MAX_DEPTH, scan->offset);
    case REQUEST_SCAN_CONTROL_CHARACTER:
        problem = "an unescaped control character in a string";
        break;
    case REQUEST_SCAN_NUL_ESCAPE:
        problem = "\\u0000, which strings here may not contain";
        break;
    case REQUEST_SCAN_LONE_SURROGATE:
        problem = "a \\u escape of a lone UTF-16 surrogate";
        break;
    default:
        problem = request_scan_at_end(scan) ? "the end of the body"
                                            : "an unexpected character";
        break;
    }

    return api_error_set(error, 400, "invalid_json",
                         "body is not valid JSON: %s at byte %zu; send a "
                         "JSON object such as {\"tenant_id\": 3}", problem,
                         scan->offset);
}

static int request_compare_names(const void *a, const void *b)
{
    const cJSON *const *left = a;
    const cJSON *const *right = b;

    return strcmp((*left)->string, (*right)->string);
}

/*
 * Rejects an object with two members of one name, which cJSON keeps
 * both of. Sorting keeps this O(n log n) for a body of many members.
 */
static int request_check_duplicates(const cJSON *object,
                                    struct api_error *error)
{
    const cJSON **members;
    const cJSON *member;
    size_t count = 0;
    int status = 0;
    char preview[64];

    cJSON_ArrayForEach(member, object) {
        count++;
    }
    if (count < 2) {
        return 0;
    }

    members = malloc(count * sizeof(*members));
    if (members == NULL) {
        return api_error_set(error, 500, "internal",
                             "the server ran out of memory; retry later");
    }

    count = 0;
    cJSON_ArrayForEach(member, object) {
        members[count++] = member;
    }
    qsort(members, count, sizeof(*members), request_compare_names);

    for (size_t i = 1; i < count && status == 0; i++) {
        if (strcmp(members[i - 1]->string, members[i]->string) == 0) {
            request_preview(preview, sizeof(preview), members[i]->string,
                            strlen(members[i]->string));
            status = api_error_set(error, 400, "invalid_json",
                                   "body has the key \"%s\" more than "
                                   "once; send each field once", preview);
        }
    }

    free(members);
    return status;
}

/* Unicode general category Cc: C0 controls, DEL and C1 controls. */
static bool request_is_control(unsigned long code_point)
{
    return code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f);
}

/* Decodes the code point of a valid UTF-8 sequence of size bytes. */
static unsigned long request_utf8_decode(const unsigned char *text,
                                         size_t size)
{
    static const unsigned char lead_mask[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
    unsigned long code_point = text[0] & lead_mask[size];

    for (size_t i = 1; i < size; i++) {
        code_point = code_point << 6 | (text[i] & 0x3f);
    }
    return code_point;
}

static int request_decode_business_name(const cJSON *value,
                                        struct registration_options *options,
                                        struct api_error *error)
{
    const unsigned char *text;
    size_t length;
    size_t characters = 0;

    if (cJSON_IsNull(value)) {
        return api_error_set(error, 422, "invalid_field",
                             "business_name is null; send a string of at "
                             "most %d characters or leave the field out",
                             REQUEST_BUSINESS_NAME_MAX_CHARS);
    }
    if (!cJSON_IsString(value)) {
        return api_error_set(error, 422, "invalid_field",
                             "business_name must be a string of at most %d "
                             "characters", REQUEST_BUSINESS_NAME_MAX_CHARS);
    }

    /* The body passed the UTF-8 and escape checks, so this is UTF-8. */
    text = (const unsigned char *)value->valuestring;
    length = strlen(value->valuestring);
    for (size_t offset = 0; offset < length; characters++) {
        size_t size = request_utf8_length(text + offset, length - offset);
        unsigned long code_point;

        if (size == 0) {
            return api_error_set(error, 422, "invalid_field",
                                 "business_name is not valid UTF-8");
        }

        code_point = request_utf8_decode(text + offset, size);
        if (request_is_control(code_point)) {
            return api_error_set(error, 422, "invalid_field",
                                 "business_name contains the control "
                                 "character U+%04lX at character %zu; "
                                 "remove it", code_point, characters + 1);
        }
        offset += size;
    }

    if (characters > REQUEST_BUSINESS_NAME_MAX_CHARS) {
        return api_error_set(error, 422, "invalid_field",
                             "business_name has %zu characters; send at "
                             "most %d", characters,
                             REQUEST_BUSINESS_NAME_MAX_CHARS);
    }

    memcpy(options->business_name, text, length + 1);
    options->has_business_name = true;
    return 0;
}

/* Names a JSON value's type, with its article, for error messages. */
static const char *request_json_type_name(const cJSON *value)
{
    if (cJSON_IsString(value)) {
        return "a string";
    }
    if (cJSON_IsBool(value)) {
        return "a boolean";
    }
    if (cJSON_IsArray(value)) {
        return "an array";
    }
    if (cJSON_IsObject(value)) {
        return "an object";
    }
    return "this value";
}

/*
 * Reads tenant_id from its raw text, not from cJSON's double, so that
 * 1.0, 1e3 and digits beyond a double's precision are seen as written.
 */
static int request_decode_tenant_id(const cJSON *value,
                                    const char *text, size_t length,
                                    struct registration_options *options,
                                    struct api_error *error)
{
    long long tenant_id = 0;
    char preview[64];

    if (cJSON_IsNull(value)) {
        return api_error_set(error, 422, "invalid_field",
                             "tenant_id is null; send an integer from 1 to "
                             "%lld or leave the field out",
                             REQUEST_TENANT_ID_MAX);
    }
    if (!cJSON_IsNumber(value)) {
        return api_error_set(error, 422, "invalid_field",
                             "tenant_id must be a JSON number from 1 to "
                             "%lld, such as 3, not %s",
                             REQUEST_TENANT_ID_MAX,
                             request_json_type_name(value));
    }

    request_preview(preview, sizeof(preview), text, length);
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return api_error_set(error, 422, "invalid_field",
                                 "tenant_id %s is not a positive whole "
                                 "number; send an integer from 1 to %lld",
                                 preview, REQUEST_TENANT_ID_MAX);
        }
        if (tenant_id <= REQUEST_TENANT_ID_MAX) {
            tenant_id = tenant_id * 10 + (text[i] - '0');
        }
    }

    if (tenant_id < 1 || tenant_id > REQUEST_TENANT_ID_MAX) {
        return api_error_set(error, 422, "invalid_field",
                             "tenant_id %s is out of range; send an integer "
                             "from 1 to %lld", preview,
                             REQUEST_TENANT_ID_MAX);
    }

    options->tenant_id = tenant_id;
    options->has_tenant_id = true;
    return 0;
}

static int request_unknown_field(enum record_kind kind, const char *name,
                                 struct api_error *error)
{
    char preview[64];

    request_preview(preview, sizeof(preview), name, strlen(name));
    if (kind == RECORD_DRIVER) {
        return api_error_set(error, 422, "invalid_field",
                             "unknown field \"%s\"; a driver body accepts "
                             "only tenant_id", preview);
    }
    return api_error_set(error, 422, "invalid_field",
                         "unknown field \"%s\"; a fleet owner body accepts "
                         "business_name and tenant_id", preview);
}

/* Decodes each member of the scanned object, in document order. */
static int request_decode_fields(enum record_kind kind, const cJSON *object,
                                 const struct request_scan *scan,
                                 struct registration_options *options,
                                 struct api_error *error)
{
    const cJSON *member;
    size_t index = 0;

    cJSON_ArrayForEach(member, object) {
        int status;

        if (strcmp(member->string, "tenant_id") == 0) {
            const struct request_span *span;

            if (index >= REQUEST_RECORDED_MEMBERS) {
                return api_error_set(error, 500, "internal",
                                     "the request could not be decoded");
            }
            span = &scan->members[index];
            status = request_decode_tenant_id(
                member, (const char *)scan->text + span->start,
                span->length, options, error);
        } else if (kind == RECORD_FLEET_OWNER &&
                   strcmp(member->string, "business_name") == 0) {
            status = request_decode_business_name(member, options, error);
        } else {
            status = request_unknown_field(kind, member->string, error);
        }

        if (status != 0) {
            return -1;
        }
        index++;
    }
    return 0;
}

static int request_decode_json(enum record_kind kind, const char *body,
                               size_t length,
                               struct registration_options *options,
                               struct api_error *error)
{
    struct request_scan scan = {
        .text = (const unsigned char *)body,
        .length = length,
    };
    const char *end = NULL;
    cJSON *object;
    int status;

    request_scan_body(&scan);
    if (scan.error != REQUEST_SCAN_OK) {
        return request_scan_error_set(&scan, error);
    }

    /*
     * The body is length-delimited and not NUL-terminated, so cJSON must
     * not require a terminator. The scan has checked the whole body.
     */
    object = cJSON_ParseWithLengthOpts(body, length, &end, false);
    if (object == NULL || !cJSON_IsObject(object)) {
        cJSON_Delete(object);
        return api_error_set(error, 400, "invalid_json",
                             "body could not be parsed as JSON; send a JSON "
                             "object such as {\"tenant_id\": 3}");
    }

    status = request_check_duplicates(object, error);
    if (status == 0) {
        status = request_decode_fields(kind, object, &scan, options, error);
    }

    cJSON_Delete(object);
    return status;
}

int request_decode_body(enum record_kind kind, const char *content_type,
                        const char *body, size_t length,
                        struct registration_options *options,
                        struct api_error *error)
{
    size_t invalid_at;

    memset(options, 0, sizeof(*options));
    if (length == 0) {
        return 0;
    }
    if (body == NULL) {
        return api_error_set(error, 400, "invalid_request",
                             "the request body is missing; send "
                             "Content-Length with the body");
    }

    if (request_check_content_type(content_type, error) != 0) {
        return -1;
    }

    invalid_at = request_utf8_check((const unsigned char *)body, length);
    if (invalid_at < length) {
        return api_error_set(error, 400, "invalid_json",
                             "body is not valid UTF-8: byte 0x%02X at "
                             "offset %zu; send JSON encoded as UTF-8",
                             (unsigned char)body[invalid_at], invalid_at);
    }

    return request_decode_json(kind, body, length, options, error);
}
