/* Unit tests of Content-Length parsing and register body decoding. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/request.h"
#include "api_error_checks.h"
#include "unit.h"

#define JSON "application/json"

static struct registration_options options;
static struct api_error error;

static int decode_length(enum record_kind kind, const char *content_type,
                         const char *body, size_t length)
{
    memset(&error, 0, sizeof(error));
    return request_decode_body(kind, content_type, body, length, &options,
                               &error);
}

static int decode(enum record_kind kind, const char *content_type,
                  const char *body)
{
    return decode_length(kind, content_type, body, strlen(body));
}

static int decode_owner(const char *body)
{
    return decode(RECORD_FLEET_OWNER, JSON, body);
}

/* Checks that the last decoding failed with status and code. */
static void check_error(int status, const char *code)
{
    check_api_error(&error, status, code);
}

static bool message_has(const char *text)
{
    return api_error_message_has(&error, text);
}

/* --- Content-Length --- */

static void content_length_absent_means_zero(void)
{
    size_t length = 99;

    CHECK(request_parse_content_length(NULL, 100, &length, &error) == 0);
    CHECK(length == 0);
    length = 99;
    CHECK(request_parse_content_length("", 100, &length, &error) == 0);
    CHECK(length == 0);
    CHECK(request_parse_content_length("0", 100, &length, &error) == 0);
    CHECK(length == 0);
}

static void content_length_accepts_digits_up_to_max(void)
{
    size_t length = 0;

    CHECK(request_parse_content_length("42", 100, &length, &error) == 0);
    CHECK(length == 42);
    CHECK(request_parse_content_length("100", 100, &length, &error) == 0);
    CHECK(length == 100);
    CHECK(request_parse_content_length("0100", 100, &length, &error) == 0);
    CHECK(length == 100);
}

static void content_length_rejects_non_digits(void)
{
    const char *values[] = {"-1",   "+5",  " 5",  "5 ", "1.0",
                            "0x10", "abc", "1e3", "5\n"};
    size_t length = 0;

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        memset(&error, 0, sizeof(error));
        CHECK(request_parse_content_length(values[i], 100, &length, &error) ==
              -1);
        check_error(400, "invalid_request");
        CHECK(strchr(error.message, '\n') == NULL);
    }
}

static void content_length_above_max_is_413(void)
{
    char huge[1001];
    size_t length = 0;

    CHECK(request_parse_content_length("101", 100, &length, &error) == -1);
    check_error(413, "payload_too_large");
    CHECK(message_has("101"));
    CHECK(message_has("100"));

    /* Far past SIZE_MAX: no wrap-around, and the value is cut short. */
    memset(huge, '9', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    CHECK(request_parse_content_length(huge, 100, &length, &error) == -1);
    check_error(413, "payload_too_large");
    CHECK(message_has("..."));
    CHECK(strstr(error.message, huge + 900) == NULL);

    /* 2^64 + 5 would wrap to 5 in a size_t. */
    CHECK(request_parse_content_length("18446744073709551621", 100, &length,
                                       &error) == -1);
    check_error(413, "payload_too_large");
}

/* --- media type --- */

static void empty_body_means_no_options(void)
{
    CHECK(decode_length(RECORD_FLEET_OWNER, NULL, NULL, 0) == 0);
    CHECK(!options.has_business_name);
    CHECK(!options.has_tenant_id);
    CHECK(decode_length(RECORD_DRIVER, "text/plain", "", 0) == 0);
    CHECK(!options.has_tenant_id);
}

static void empty_object_means_no_options(void)
{
    CHECK(decode_owner("{}") == 0);
    CHECK(!options.has_business_name);
    CHECK(!options.has_tenant_id);
    CHECK(decode_owner(" \r\n\t{ \n }\n") == 0);
}

static void accepts_json_with_charset_parameter(void)
{
    const char *types[] = {
        "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
        "application/json ; charset=\"utf-8\"",
        "application/json; foo=bar; charset=utf-8", "  application/json"};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (decode(RECORD_DRIVER, types[i], "{\"tenant_id\": 3}") != 0) {
            fprintf(stderr, "Content-Type \"%s\": %s\n", types[i],
                    error.message);
            CHECK(false);
        }
        CHECK(options.tenant_id == 3);
    }
}

static void rejects_other_media_types_with_415(void)
{
    const char *types[] = {"text/plain",
                           "application/jsonx",
                           "application/json-patch+json",
                           "application/x-www-form-urlencoded",
                           "application/json; charset=latin1",
                           "application/json; charset=utf-16",
                           "application/json garbage",
                           "json",
                           ""};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        CHECK(decode(RECORD_DRIVER, types[i], "{\"tenant_id\": 3}") == -1);
        check_error(415, "unsupported_media_type");
        CHECK(!options.has_tenant_id);
    }

    CHECK(decode(RECORD_DRIVER, NULL, "{}") == -1);
    check_error(415, "unsupported_media_type");
    CHECK(message_has("application/json"));
}

/* --- accepted bodies --- */

static void decodes_both_fleet_owner_fields(void)
{
    CHECK(decode_owner("{\"business_name\": \"Acme Haulage\", "
                       "\"tenant_id\": 7}") == 0);
    CHECK(options.has_business_name);
    CHECK_STR_EQ(options.business_name, "Acme Haulage");
    CHECK(options.has_tenant_id);
    CHECK(options.tenant_id == 7);
}

static void decodes_driver_tenant_id(void)
{
    CHECK(decode(RECORD_DRIVER, JSON, "{\"tenant_id\":2147483647}") == 0);
    CHECK(options.has_tenant_id);
    CHECK(options.tenant_id == 2147483647);
    CHECK(!options.has_business_name);
}

static void accepts_sql_text_in_business_name_literally(void)
{
    CHECK(decode_owner("{\"business_name\": "
                       "\"Robert'); DROP TABLE fleet_owners;--\"}") == 0);
    CHECK_STR_EQ(options.business_name, "Robert'); DROP TABLE fleet_owners;--");
}

static void accepts_empty_business_name(void)
{
    CHECK(decode_owner("{\"business_name\": \"\"}") == 0);
    CHECK(options.has_business_name);
    CHECK_STR_EQ(options.business_name, "");
}

static void decodes_escapes_in_business_name(void)
{
    CHECK(decode_owner("{\"business_name\": "
                       "\"A\\u00e9\\\"\\\\/\\ud83d\\ude9a\"}") == 0);
    CHECK_STR_EQ(options.business_name, "A\xc3\xa9\"\\/\xf0\x9f\x9a\x9a");
}

static void reads_only_length_bytes_of_body(void)
{
    /* The body is not NUL-terminated where the length ends. */
    const char buffer[] = "{\"tenant_id\": 5}{\"tenant_id\": 6}";

    CHECK(decode_length(RECORD_DRIVER, JSON, buffer, 16) == 0);
    CHECK(options.tenant_id == 5);
    CHECK(decode_length(RECORD_DRIVER, JSON, buffer, 15) == -1);
    check_error(400, "invalid_json");
}

/* Builds a business_name body of count copies of character. */
static char *name_body(const char *character, size_t count)
{
    size_t size = strlen(character) * count + 32;
    char *body = malloc(size);

    strcpy(body, "{\"business_name\":\"");
    for (size_t i = 0; i < count; i++) {
        strcat(body, character);
    }
    strcat(body, "\"}");
    return body;
}

static void accepts_200_multibyte_characters(void)
{
    const char *characters[] = {"a", "\xc3\xa9", "\xe6\x9d\xb1",
                                "\xf0\x9f\x9a\x9a"};

    for (size_t i = 0; i < 4; i++) {
        char *body = name_body(characters[i], 200);

        CHECK(decode_owner(body) == 0);
        CHECK(strlen(options.business_name) == 200 * strlen(characters[i]));
        free(body);
    }
}

static void rejects_201_multibyte_characters(void)
{
    const char *characters[] = {"a", "\xc3\xa9", "\xe6\x9d\xb1",
                                "\xf0\x9f\x9a\x9a"};

    for (size_t i = 0; i < 4; i++) {
        char *body = name_body(characters[i], 201);

        CHECK(decode_owner(body) == -1);
        check_error(422, "invalid_field");
        CHECK(message_has("business_name"));
        CHECK(message_has("201"));
        CHECK(!options.has_business_name);
        free(body);
    }
}

/* --- rejected JSON --- */

static void rejects_malformed_json(void)
{
    const char *bodies[] = {"{",
                            "}",
                            "{\"tenant_id\": }",
                            "{\"tenant_id\": 1,}",
                            "{'a': 1}",
                            "{\"tenant_id\": 012}",
                            "{\"tenant_id\": NaN}",
                            "{} {}",
                            "{\"tenant_id\": 1} x",
                            "{\"a\" 1}",
                            "{\"a\": tru}",
                            "{\"a\": -}",
                            "{\"a\": 1.}",
                            "{\"a\": .5}",
                            "{\"a\": 1e}",
                            "{\"a\": \"\\x\"}",
                            "{\"a\": \"\\u12G4\"}",
                            "{\"a\": \"open}",
                            " ",
                            "\xef\xbb\xbf{}",
                            "{\"a\": [1 2]}",
                            "{a: 1}",
                            "{\"a\": +1}"};

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        if (decode_owner(bodies[i]) != -1) {
            fprintf(stderr, "body %s was accepted\n", bodies[i]);
            CHECK(false);
        }
        check_error(400, "invalid_json");
        CHECK(message_has("byte"));
    }
}

static void rejects_body_that_is_not_an_object(void)
{
    const char *bodies[] = {"[]", "\"x\"", "null", "3", "true"};

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        CHECK(decode_owner(bodies[i]) == -1);
        check_error(400, "invalid_json");
        CHECK(message_has("not a JSON object"));
    }
}

/* Builds an object whose one member nests arrays to reach depth levels. */
static void nested_body(char *body, int depth)
{
    strcpy(body, "{\"x\":");
    for (int i = 1; i < depth; i++) {
        strcat(body, "[");
    }
    for (int i = 1; i < depth; i++) {
        strcat(body, "]");
    }
    strcat(body, "}");
}

static void rejects_nesting_deeper_than_8(void)
{
    char body[64];

    /* Eight levels pass the scan and fail only as an unknown field. */
    nested_body(body, 8);
    CHECK(decode_owner(body) == -1);
    check_error(422, "invalid_field");

    nested_body(body, 9);
    CHECK(decode_owner(body) == -1);
    check_error(400, "invalid_json");
    CHECK(message_has("deeper than 8"));

    CHECK(decode_owner("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":"
                       "{\"h\":{}}}}}}}}}") == -1);
    check_error(400, "invalid_json");
    CHECK(message_has("deeper than 8"));
}

static void rejects_invalid_utf8(void)
{
    const char *names[] = {"\xc0\xaf",         /* overlong '/' */
                           "\xe0\x80\xaf",     /* overlong, three bytes */
                           "\xf0\x80\x80\xaf", /* overlong, four bytes */
                           "\xed\xa0\x80",     /* surrogate U+D800 */
                           "\xed\xbf\xbf",     /* surrogate U+DFFF */
                           "\xf4\x90\x80\x80", /* U+110000 */
                           "\xf5\x80\x80\x80", /* lead byte above F4 */
                           "\x80",             /* stray continuation byte */
                           "\xe2\x82",         /* truncated sequence */
                           "\xff"};
    char body[64];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(body, sizeof(body), "{\"business_name\": \"a%sb\"}", names[i]);
        CHECK(decode_owner(body) == -1);
        check_error(400, "invalid_json");
        CHECK(message_has("UTF-8"));
        CHECK(message_has("offset 20"));
    }
}

static void rejects_utf8_cut_at_end_of_body(void)
{
    /* An exact-size copy, so reading past the end is a memory error. */
    const char text[] = "{\"business_name\": \"\xf0\x9f\x9a";
    char *body = malloc(sizeof(text) - 1);

    memcpy(body, text, sizeof(text) - 1);
    for (size_t cut = 1; cut <= 3; cut++) {
        CHECK(decode_length(RECORD_FLEET_OWNER, JSON, body,
                            sizeof(text) - 1 - 3 + cut) == -1);
        check_error(400, "invalid_json");
        CHECK(message_has("UTF-8"));
    }
    free(body);
}

static void accepts_utf8_edge_characters(void)
{
    /* U+0800, U+D7FF, U+E000, U+FFFF, U+10000 and U+10FFFF are valid. */
    CHECK(decode_owner("{\"business_name\": \"\xe0\xa0\x80\xed\x9f\xbf"
                       "\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
                       "\xf4\x8f\xbf\xbf\"}") == 0);
    CHECK(strlen(options.business_name) == 20);
}

static void rejects_duplicate_keys(void)
{
    CHECK(decode_owner("{\"tenant_id\": 1, \"tenant_id\": 2}") == -1);
    check_error(400, "invalid_json");
    CHECK(message_has("\"tenant_id\" more than once"));
    CHECK(!options.has_tenant_id);

    /* An escape spells the same key. */
    CHECK(decode_owner("{\"tenant_id\": 1, \"tenant\\u005fid\": 2}") == -1);
    check_error(400, "invalid_json");

    /* Duplicates of an unknown key are still a JSON error. */
    CHECK(decode_owner("{\"x\": 1, \"x\": 2}") == -1);
    check_error(400, "invalid_json");
}

static void rejects_nul_escape(void)
{
    CHECK(decode_owner("{\"business_name\": \"a\\u0000b\"}") == -1);
    check_error(400, "invalid_json");
    CHECK(message_has("\\u0000"));

    /* Without the check, cJSON would read this key as "tenant_id". */
    CHECK(decode_owner("{\"tenant_id\\u0000x\": 1}") == -1);
    check_error(400, "invalid_json");
    CHECK(!options.has_tenant_id);
}

static void rejects_lone_surrogate_escapes(void)
{
    const char *names[] = {"\\ud800",    "\\ud800x",       "\\udc00",
                           "\\udfff",    "\\ud800\\u0041", "\\ud800\\ud800",
                           "\\udbff\\n", "x\\ud83d"};
    char body[64];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(body, sizeof(body), "{\"business_name\": \"%s\"}", names[i]);
        if (decode_owner(body) != -1) {
            fprintf(stderr, "escape %s was accepted\n", names[i]);
            CHECK(false);
        }
        check_error(400, "invalid_json");
        CHECK(message_has("surrogate"));
    }
}

static void rejects_raw_control_characters(void)
{
    CHECK(decode_owner("{\"business_name\": \"a\tb\"}") == -1);
    check_error(400, "invalid_json");
    CHECK(message_has("control character"));

    CHECK(decode_owner("{\"business_name\": \"a\nb\"}") == -1);
    check_error(400, "invalid_json");

    CHECK(decode_length(RECORD_FLEET_OWNER, JSON,
                        "{\"business_name\": \"a\0b\"}", 24) == -1);
    check_error(400, "invalid_json");
}

/* --- rejected fields --- */

static void rejects_escaped_control_characters(void)
{
    const char *names[] = {"\\n",     "\\t",     "\\u0001", "\\u001f",
                           "\\u007f", "\\u0085", "\\u009f", "\xc2\x85"};
    char body[64];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(body, sizeof(body), "{\"business_name\": \"ab%s\"}", names[i]);
        CHECK(decode_owner(body) == -1);
        check_error(422, "invalid_field");
        CHECK(message_has("business_name"));
        CHECK(message_has("character 3"));
    }
}

static void rejects_unknown_field_by_name(void)
{
    CHECK(decode_owner("{\"tenant\": 3}") == -1);
    check_error(422, "invalid_field");
    CHECK(message_has("\"tenant\""));
    CHECK(message_has("business_name and tenant_id"));

    /* Names are case-sensitive. */
    CHECK(decode_owner("{\"Tenant_ID\": 3}") == -1);
    check_error(422, "invalid_field");
}

static void rejects_business_name_for_driver(void)
{
    CHECK(decode(RECORD_DRIVER, JSON, "{\"business_name\": \"x\"}") == -1);
    check_error(422, "invalid_field");
    CHECK(message_has("\"business_name\""));
    CHECK(message_has("only tenant_id"));
}

static void truncates_long_field_name_in_message(void)
{
    char body[2100];

    strcpy(body, "{\"");
    memset(body + 2, 'k', 2000);
    strcpy(body + 2002, "\": 1}");
    CHECK(decode_owner(body) == -1);
    check_error(422, "invalid_field");
    CHECK(message_has("kkkk..."));
    CHECK(strlen(error.message) < 200);

    /* At most 32 bytes of the name are quoted. */
    body[2 + 33] = '\0';
    CHECK(strstr(error.message, body + 2) == NULL);
}

static void rejects_bad_tenant_ids(void)
{
    const char *values[] = {"1.5",
                            "1.0",
                            "1e3",
                            "1E0",
                            "-1",
                            "-0",
                            "0",
                            "2147483648",
                            "9007199254740991",
                            "9007199254740993",
                            "99999999999999999999999"};
    char body[64];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(body, sizeof(body), "{\"tenant_id\": %s}", values[i]);
        if (decode(RECORD_DRIVER, JSON, body) != -1) {
            fprintf(stderr, "tenant_id %s was accepted\n", values[i]);
            CHECK(false);
        }
        check_error(422, "invalid_field");
        CHECK(message_has("tenant_id"));
        CHECK(message_has("2147483647"));
        CHECK(!options.has_tenant_id);
    }
}

static void names_tenant_id_value_in_message(void)
{
    CHECK(decode(RECORD_DRIVER, JSON, "{\"tenant_id\": -4}") == -1);
    CHECK(message_has("-4"));
    CHECK(decode(RECORD_DRIVER, JSON, "{\"tenant_id\": 3000000000}") == -1);
    CHECK(message_has("3000000000"));
    CHECK(message_has("out of range"));
}

static void rejects_tenant_id_of_other_types(void)
{
    const char *values[] = {"\"5\"", "true", "[1]", "{}", "null"};
    char body[64];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(body, sizeof(body), "{\"tenant_id\": %s}", values[i]);
        CHECK(decode(RECORD_DRIVER, JSON, body) == -1);
        check_error(422, "invalid_field");
        CHECK(message_has("tenant_id"));
    }

    CHECK(decode(RECORD_DRIVER, JSON, "{\"tenant_id\": null}") == -1);
    CHECK(message_has("null"));

    /* The message names the type that was sent. */
    CHECK(decode(RECORD_DRIVER, JSON, "{\"tenant_id\": \"5\"}") == -1);
    CHECK(message_has("not a string"));
    CHECK(decode(RECORD_DRIVER, JSON, "{\"tenant_id\": true}") == -1);
    CHECK(message_has("not a boolean"));
    CHECK(decode(RECORD_DRIVER, JSON, "{\"tenant_id\": [1]}") == -1);
    CHECK(message_has("not an array"));
    CHECK(decode(RECORD_DRIVER, JSON, "{\"tenant_id\": {}}") == -1);
    CHECK(message_has("not an object"));
}

static void rejects_business_name_of_other_types(void)
{
    const char *values[] = {"5", "true", "[\"a\"]", "{}", "null"};
    char body[64];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(body, sizeof(body), "{\"business_name\": %s}", values[i]);
        CHECK(decode_owner(body) == -1);
        check_error(422, "invalid_field");
        CHECK(message_has("business_name"));
        CHECK(!options.has_business_name);
    }
}

static void reads_tenant_id_after_business_name(void)
{
    CHECK(decode_owner("{\"business_name\": \"x\", \"tenant_id\": 12}") == 0);
    CHECK(options.tenant_id == 12);
    CHECK(decode_owner("{\"tenant_id\": 13, \"business_name\": \"y\"}") == 0);
    CHECK(options.tenant_id == 13);
    CHECK_STR_EQ(options.business_name, "y");
}

static void rejects_many_members_quickly(void)
{
    size_t count = 5000;
    char *body = malloc(count * 12 + 16);
    size_t used = 0;

    body[used++] = '{';
    for (size_t i = 0; i < count; i++) {
        used +=
            (size_t)sprintf(body + used, "%s\"k%zu\":0", i == 0 ? "" : ",", i);
    }
    used += (size_t)sprintf(body + used, ",\"k7\":1}");

    CHECK(decode_length(RECORD_FLEET_OWNER, JSON, body, used) == -1);
    check_error(400, "invalid_json");
    CHECK(message_has("\"k7\""));
    free(body);
}

int main(void)
{
    RUN_TEST(content_length_absent_means_zero);
    RUN_TEST(content_length_accepts_digits_up_to_max);
    RUN_TEST(content_length_rejects_non_digits);
    RUN_TEST(content_length_above_max_is_413);
    RUN_TEST(empty_body_means_no_options);
    RUN_TEST(empty_object_means_no_options);
    RUN_TEST(accepts_json_with_charset_parameter);
    RUN_TEST(rejects_other_media_types_with_415);
    RUN_TEST(decodes_both_fleet_owner_fields);
    RUN_TEST(decodes_driver_tenant_id);
    RUN_TEST(accepts_sql_text_in_business_name_literally);
    RUN_TEST(accepts_empty_business_name);
    RUN_TEST(decodes_escapes_in_business_name);
    RUN_TEST(reads_only_length_bytes_of_body);
    RUN_TEST(accepts_200_multibyte_characters);
    RUN_TEST(rejects_201_multibyte_characters);
    RUN_TEST(rejects_malformed_json);
    RUN_TEST(rejects_body_that_is_not_an_object);
    RUN_TEST(rejects_nesting_deeper_than_8);
    RUN_TEST(rejects_invalid_utf8);
    RUN_TEST(rejects_utf8_cut_at_end_of_body);
    RUN_TEST(accepts_utf8_edge_characters);
    RUN_TEST(rejects_duplicate_keys);
    RUN_TEST(rejects_nul_escape);
    RUN_TEST(rejects_lone_surrogate_escapes);
    RUN_TEST(rejects_raw_control_characters);
    RUN_TEST(rejects_escaped_control_characters);
    RUN_TEST(rejects_unknown_field_by_name);
    RUN_TEST(rejects_business_name_for_driver);
    RUN_TEST(truncates_long_field_name_in_message);
    RUN_TEST(rejects_bad_tenant_ids);
    RUN_TEST(names_tenant_id_value_in_message);
    RUN_TEST(rejects_tenant_id_of_other_types);
    RUN_TEST(rejects_business_name_of_other_types);
    RUN_TEST(reads_tenant_id_after_business_name);
    RUN_TEST(rejects_many_members_quickly);
    return unit_finish();
}
