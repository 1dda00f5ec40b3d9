/* Request body decoding: a strict JSON scan, then cJSON, then each field. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "json_check.h"
#include "request.h"

/* Bytes of client input quoted in an error message, before "...". */
#define REQUEST_PREVIEW_BYTES 32

/* tenant_id is an integer column, so its range is PostgreSQL's int4. */
#define REQUEST_TENANT_ID_MAX 2147483647LL

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
        size_t size = json_check_utf8_length(bytes + offset, length - offset);

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
                                 "bytes",
                                 preview);
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
                             "accepted; send a smaller body",
                             preview, max_body_bytes);
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
        request_preview(preview, sizeof(preview), start, (size_t)(end - start));
        return api_error_set(error, 415, "unsupported_media_type",
                             "Content-Type parameter \"%s\" is malformed; "
                             "send Content-Type: application/json",
                             preview);
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
                             "the body as application/json",
                             preview);
    }

    cursor = request_skip_space(type + type_length);
    while (*cursor == ';') {
        const char *start = request_skip_space(cursor + 1);
        const char *end = start + strcspn(start, ";");
        const char *trimmed = end;

        while (trimmed > start && (trimmed[-1] == ' ' || trimmed[-1] == '\t')) {
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
                             "Content-Type: application/json",
                             preview);
    }
    return 0;
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

    cJSON_ArrayForEach(member, object)
    {
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
    cJSON_ArrayForEach(member, object)
    {
        members[count++] = member;
    }
    qsort(members, count, sizeof(*members), request_compare_names);

    for (size_t i = 1; i < count && status == 0; i++) {
        if (strcmp(members[i - 1]->string, members[i]->string) == 0) {
            request_preview(preview, sizeof(preview), members[i]->string,
                            strlen(members[i]->string));
            status = api_error_set(error, 400, "invalid_json",
                                   "body has the key \"%s\" more than "
                                   "once; send each field once",
                                   preview);
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
static unsigned long request_utf8_decode(const unsigned char *text, size_t size)
{
    static const unsigned char lead_mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
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
                             "characters",
                             REQUEST_BUSINESS_NAME_MAX_CHARS);
    }

    /* The body passed the UTF-8 and escape checks, so this is UTF-8. */
    text = (const unsigned char *)value->valuestring;
    length = strlen(value->valuestring);
    for (size_t offset = 0; offset < length; characters++) {
        size_t size = json_check_utf8_length(text + offset, length - offset);
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
                                 "remove it",
                                 code_point, characters + 1);
        }
        offset += size;
    }

    if (characters > REQUEST_BUSINESS_NAME_MAX_CHARS) {
        return api_error_set(error, 422, "invalid_field",
                             "business_name has %zu characters; send at "
                             "most %d",
                             characters, REQUEST_BUSINESS_NAME_MAX_CHARS);
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
static int request_decode_tenant_id(const cJSON *value, const char *text,
                                    size_t length,
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
                             "from 1 to %lld",
                             preview, REQUEST_TENANT_ID_MAX);
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
                             "only tenant_id",
                             preview);
    }
    return api_error_set(error, 422, "invalid_field",
                         "unknown field \"%s\"; a fleet owner body accepts "
                         "business_name and tenant_id",
                         preview);
}

/* Decodes each member of the scanned object, in document order. */
static int request_decode_fields(enum record_kind kind, const cJSON *object,
                                 const struct json_check_scan *scan,
                                 struct registration_options *options,
                                 struct api_error *error)
{
    const cJSON *member;
    size_t index = 0;

    cJSON_ArrayForEach(member, object)
    {
        int status;

        if (strcmp(member->string, "tenant_id") == 0) {
            const struct json_check_span *span;

            if (index >= JSON_CHECK_RECORDED_MEMBERS) {
                return api_error_set(error, 500, "internal",
                                     "the request could not be decoded");
            }
            span = &scan->members[index];
            status = request_decode_tenant_id(
                member, (const char *)scan->text + span->start, span->length,
                options, error);
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
    struct json_check_scan scan = {
        .text = (const unsigned char *)body,
        .length = length,
    };
    const char *end = NULL;
    cJSON *object;
    int status;

    json_check_body(&scan);
    if (scan.error != JSON_CHECK_OK) {
        return json_check_error_set(&scan, error);
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

    invalid_at = json_check_utf8((const unsigned char *)body, length);
    if (invalid_at < length) {
        return api_error_set(error, 400, "invalid_json",
                             "body is not valid UTF-8: byte 0x%02X at "
                             "offset %zu; send JSON encoded as UTF-8",
                             (unsigned char)body[invalid_at], invalid_at);
    }

    return request_decode_json(kind, body, length, options, error);
}
