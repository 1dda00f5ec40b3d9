/* The strict JSON scan of a request body: RFC 8259, UTF-8, depth bound. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "json_check.h"

static bool json_check_value(struct json_check_scan *scan, int depth);

/*
 * Returns the length of the valid UTF-8 sequence at text (1 to 4), or 0
 * for an invalid one: a stray continuation byte, an overlong form, a
 * surrogate (U+D800 to U+DFFF) or a code point above U+10FFFF.
 */
size_t json_check_utf8_length(const unsigned char *text, size_t length)
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
size_t json_check_utf8(const unsigned char *text, size_t length)
{
    size_t offset = 0;

    while (offset < length) {
        size_t size = json_check_utf8_length(text + offset, length - offset);

        if (size == 0) {
            return offset;
        }
        offset += size;
    }
    return length;
}

static bool json_check_fail(struct json_check_scan *scan,
                            enum json_check_error error)
{
    if (scan->error == JSON_CHECK_OK) {
        scan->error = error;
    }
    return false;
}

static bool json_check_at_end(const struct json_check_scan *scan)
{
    return scan->offset >= scan->length;
}

static unsigned char json_check_peek(const struct json_check_scan *scan)
{
    return json_check_at_end(scan) ? 0 : scan->text[scan->offset];
}

static void json_check_space(struct json_check_scan *scan)
{
    while (!json_check_at_end(scan)) {
        unsigned char c = scan->text[scan->offset];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return;
        }
        scan->offset++;
    }
}

static bool json_check_literal(struct json_check_scan *scan, const char *word)
{
    size_t length = strlen(word);

    if (scan->length - scan->offset < length ||
        memcmp(scan->text + scan->offset, word, length) != 0) {
        return json_check_fail(scan, JSON_CHECK_SYNTAX);
    }
    scan->offset += length;
    return true;
}

/* Consumes one or more digits. */
static bool json_check_digits(struct json_check_scan *scan)
{
    size_t start = scan->offset;

    while (json_check_peek(scan) >= '0' && json_check_peek(scan) <= '9') {
        scan->offset++;
    }
    if (scan->offset == start) {
        return json_check_fail(scan, JSON_CHECK_SYNTAX);
    }
    return true;
}

/* Scans a number in RFC 8259 form: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
static bool json_check_number(struct json_check_scan *scan)
{
    if (json_check_peek(scan) == '-') {
        scan->offset++;
    }

    if (json_check_peek(scan) == '0') {
        scan->offset++;
    } else if (!json_check_digits(scan)) {
        return false;
    }

    if (json_check_peek(scan) == '.') {
        scan->offset++;
        if (!json_check_digits(scan)) {
            return false;
        }
    }

    if (json_check_peek(scan) == 'e' || json_check_peek(scan) == 'E') {
        scan->offset++;
        if (json_check_peek(scan) == '+' || json_check_peek(scan) == '-') {
            scan->offset++;
        }
        if (!json_check_digits(scan)) {
            return false;
        }
    }
    return true;
}

/* Reads the four hex digits of a \u escape, with offset past the 'u'. */
static bool json_check_hex4(struct json_check_scan *scan, unsigned *unit)
{
    *unit = 0;
    if (scan->length - scan->offset < 4) {
        return json_check_fail(scan, JSON_CHECK_SYNTAX);
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
            return json_check_fail(scan, JSON_CHECK_SYNTAX);
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
static bool json_check_unicode_escape(struct json_check_scan *scan)
{
    size_t start = scan->offset - 2;
    unsigned unit;
    unsigned low;

    if (!json_check_hex4(scan, &unit)) {
        return false;
    }
    if (unit == 0) {
        scan->offset = start;
        return json_check_fail(scan, JSON_CHECK_NUL_ESCAPE);
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) {
        scan->offset = start;
        return json_check_fail(scan, JSON_CHECK_LONE_SURROGATE);
    }
    if (unit < 0xd800 || unit > 0xdbff) {
        return true;
    }

    /* A high surrogate must be followed at once by a low one. */
    if (scan->length - scan->offset < 2 || scan->text[scan->offset] != '\\' ||
        scan->text[scan->offset + 1] != 'u') {
        scan->offset = start;
        return json_check_fail(scan, JSON_CHECK_LONE_SURROGATE);
    }
    scan->offset += 2;
    if (!json_check_hex4(scan, &low)) {
        return false;
    }
    if (low < 0xdc00 || low > 0xdfff) {
        scan->offset = start;
        return json_check_fail(scan, JSON_CHECK_LONE_SURROGATE);
    }
    return true;
}

/* Scans a string whose opening quote is at offset. */
static bool json_check_string(struct json_check_scan *scan)
{
    scan->offset++;

    while (!json_check_at_end(scan)) {
        unsigned char c = scan->text[scan->offset];

        if (c == '"') {
            scan->offset++;
            return true;
        }
        if (c < 0x20) {
            return json_check_fail(scan, JSON_CHECK_CONTROL_CHARACTER);
        }
        if (c != '\\') {
            scan->offset++;
            continue;
        }

        scan->offset++;
        c = json_check_peek(scan);
        scan->offset++;
        if (c == 'u') {
            if (!json_check_unicode_escape(scan)) {
                return false;
            }
        } else if (c == 0 || strchr("\"\\/bfnrt", c) == NULL) {
            scan->offset -= 2;
            return json_check_fail(scan, JSON_CHECK_SYNTAX);
        }
    }
    return json_check_fail(scan, JSON_CHECK_SYNTAX);
}

/* Remembers where a top-level member's value lies, for tenant_id. */
static void json_check_record(struct json_check_scan *scan, size_t start)
{
    if (scan->member_count < JSON_CHECK_RECORDED_MEMBERS) {
        scan->members[scan->member_count].start = start;
        scan->members[scan->member_count].length = scan->offset - start;
    }
    scan->member_count++;
}

/* Returns whether the quoted name that ends at offset is wanted_name. */
static bool json_check_is_wanted(const struct json_check_scan *scan,
                                 size_t name_start)
{
    size_t length = scan->offset - name_start - 2;

    return scan->wanted_name != NULL && strlen(scan->wanted_name) == length &&
           memcmp(scan->text + name_start + 1, scan->wanted_name, length) == 0;
}

static bool json_check_object(struct json_check_scan *scan, int depth)
{
    scan->offset++;
    json_check_space(scan);
    if (json_check_peek(scan) == '}') {
        scan->offset++;
        return true;
    }

    for (;;) {
        size_t name_start = scan->offset;
        size_t value_start;
        bool wanted;

        if (json_check_peek(scan) != '"') {
            return json_check_fail(scan, JSON_CHECK_SYNTAX);
        }
        if (!json_check_string(scan)) {
            return false;
        }
        wanted = depth == 1 && json_check_is_wanted(scan, name_start);

        json_check_space(scan);
        if (json_check_peek(scan) != ':') {
            return json_check_fail(scan, JSON_CHECK_SYNTAX);
        }
        scan->offset++;
        json_check_space(scan);

        value_start = scan->offset;
        if (!json_check_value(scan, depth + 1)) {
            return false;
        }
        if (depth == 1) {
            json_check_record(scan, value_start);
        }
        if (wanted) {
            scan->wanted_found = true;
            scan->wanted.start = value_start;
            scan->wanted.length = scan->offset - value_start;
        }

        json_check_space(scan);
        if (json_check_peek(scan) == '}') {
            scan->offset++;
            return true;
        }
        if (json_check_peek(scan) != ',') {
            return json_check_fail(scan, JSON_CHECK_SYNTAX);
        }
        scan->offset++;
        json_check_space(scan);
    }
}

static bool json_check_array(struct json_check_scan *scan, int depth)
{
    scan->offset++;
    json_check_space(scan);
    if (json_check_peek(scan) == ']') {
        scan->offset++;
        return true;
    }

    for (;;) {
        if (!json_check_value(scan, depth + 1)) {
            return false;
        }

        json_check_space(scan);
        if (json_check_peek(scan) == ']') {
            scan->offset++;
            return true;
        }
        if (json_check_peek(scan) != ',') {
            return json_check_fail(scan, JSON_CHECK_SYNTAX);
        }
        scan->offset++;
        json_check_space(scan);
    }
}

/* depth is the nesting level a container starting here would have. */
static bool json_check_value(struct json_check_scan *scan, int depth)
{
    unsigned char c = json_check_peek(scan);

    if (c == '{' || c == '[') {
        if (depth > JSON_CHECK_MAX_DEPTH) {
            return json_check_fail(scan, JSON_CHECK_TOO_DEEP);
        }
        return c == '{' ? json_check_object(scan, depth)
                        : json_check_array(scan, depth);
    }

    switch (c) {
    case '"': return json_check_string(scan);
    case 't': return json_check_literal(scan, "true");
    case 'f': return json_check_literal(scan, "false");
    case 'n': return json_check_literal(scan, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            return json_check_number(scan);
        }
        return json_check_fail(scan, JSON_CHECK_SYNTAX);
    }
}

/*
 * Scans the whole body as RFC 8259 JSON whose top-level value is an
 * object. cJSON 1.7.15 is lenient (it takes leading zeros, raw control
 * characters in strings and \u0000), so this scan decides what is valid
 * and cJSON only builds the tree afterwards.
 */
void json_check_body(struct json_check_scan *scan)
{
    unsigned char first;

    json_check_space(scan);
    first = json_check_peek(scan);
    if (first != '{') {
        /* Name the type only when another JSON value starts here. */
        bool value = first != 0 && strchr("[\"-0123456789tfn", first);

        json_check_fail(scan,
                        value ? JSON_CHECK_NOT_OBJECT : JSON_CHECK_SYNTAX);
        return;
    }

    if (!json_check_value(scan, 1)) {
        return;
    }

    json_check_space(scan);
    if (!json_check_at_end(scan)) {
        json_check_fail(scan, JSON_CHECK_SYNTAX);
    }
}

int json_check_error_set(const struct json_check_scan *scan,
                         struct api_error *error)
{
    const char *problem;

    switch (scan->error) {
    case JSON_CHECK_NOT_OBJECT:
        return api_error_set(error, 400, "invalid_json",
                             "body is not a JSON object; send an object "
                             "such as {\"tenant_id\": 3}");
    case JSON_CHECK_TOO_DEEP:
        return api_error_set(error, 400, "invalid_json",
                             "body nests deeper than %d levels at byte %zu; "
                             "send a flat object such as {\"tenant_id\": 3}",
                             JSON_CHECK_MAX_DEPTH, scan->offset);
    case JSON_CHECK_CONTROL_CHARACTER:
        problem = "an unescaped control character in a string";
        break;
    case JSON_CHECK_NUL_ESCAPE:
        problem = "\\u0000, which strings here may not contain";
        break;
    case JSON_CHECK_LONE_SURROGATE:
        problem = "a \\u escape of a lone UTF-16 surrogate";
        break;
    default:
        problem = json_check_at_end(scan) ? "the end of the body"
                                          : "an unexpected character";
        break;
    }

    return api_error_set(error, 400, "invalid_json",
                         "body is not valid JSON: %s at byte %zu; send a "
                         "JSON object such as {\"tenant_id\": 3}",
                         problem, scan->offset);
}
