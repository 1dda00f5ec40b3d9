/* Unit tests of FastCGI parameter checks and the body/CONTENT_LENGTH match. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/request_params.h"
#include "api_error_checks.h"
#include "unit.h"

#define PARAMS_MAX 300

static const struct request_limits limits = {
    .max_params = 8,
    .max_param_bytes = 64,
    .max_body_bytes = 100,
};

static struct registration_options options;
static struct api_error error;

static int check(char **params)
{
    memset(&error, 0, sizeof(error));
    return request_params_check(params, &limits, &error);
}

static int decode(enum record_kind kind, char **params, const char *body,
                  size_t length)
{
    memset(&error, 0, sizeof(error));
    return request_params_decode(kind, params, body, length, &limits, &options,
                                 &error);
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

/* --- parameter checks --- */

static void accepts_params_within_limits(void)
{
    char *params[] = {"REQUEST_METHOD=POST",
                      "DOCUMENT_URI=/driver/register",
                      "CONTENT_LENGTH=",
                      "FLEETREG_SUB=14",
                      "EMPTY=",
                      NULL};

    CHECK(check(params) == 0);
    CHECK(check(NULL) == 0);
}

static void rejects_more_params_than_max(void)
{
    char *params[PARAMS_MAX + 1];

    for (size_t i = 0; i < PARAMS_MAX; i++) {
        params[i] = "X=1";
    }

    params[8] = NULL;
    CHECK(check(params) == 0);

    params[8] = "X=1";
    params[9] = NULL;
    CHECK(check(params) == -1);
    check_error(400, "invalid_request");
    CHECK(message_has("more than 8 parameters"));

    params[PARAMS_MAX] = NULL;
    CHECK(check(params) == -1);
    check_error(400, "invalid_request");
}

static void rejects_param_longer_than_max(void)
{
    char long_pair[200];
    char *params[] = {"REQUEST_METHOD=GET", long_pair, NULL};

    /* 64 bytes is the limit itself, so it passes. */
    memset(long_pair, 'v', sizeof(long_pair));
    memcpy(long_pair, "HTTP_X=", 7);
    long_pair[64] = '\0';
    CHECK(check(params) == 0);

    long_pair[64] = 'v';
    long_pair[65] = '\0';
    CHECK(check(params) == -1);
    check_error(400, "invalid_request");
    CHECK(message_has("parameter 2"));
    CHECK(message_has("64 bytes"));

    long_pair[sizeof(long_pair) - 1] = '\0';
    CHECK(check(params) == -1);
    check_error(400, "invalid_request");
}

static void rejects_pair_without_name(void)
{
    char *no_equals[] = {"REQUEST_METHOD", NULL};
    char *empty_name[] = {"=value", NULL};
    char *empty_pair[] = {"", NULL};

    CHECK(check(no_equals) == -1);
    check_error(400, "invalid_request");
    CHECK(message_has("name=value"));
    CHECK(check(empty_name) == -1);
    check_error(400, "invalid_request");
    CHECK(check(empty_pair) == -1);
    check_error(400, "invalid_request");
}

static void rejects_read_param_sent_twice(void)
{
    const char *names[] = {"REQUEST_METHOD", "DOCUMENT_URI",
                           "CONTENT_LENGTH", "CONTENT_TYPE",
                           "FLEETREG_SUB",   "HTTP_AUTHORIZATION",
                           "REQUEST_ID"};
    char first[64];
    char second[64];
    char *params[] = {first, "OTHER=1", second, NULL};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(first, sizeof(first), "%s=1", names[i]);
        snprintf(second, sizeof(second), "%s=2", names[i]);
        CHECK(check(params) == -1);
        check_error(400, "invalid_request");
        CHECK(message_has(names[i]));
        CHECK(message_has("more than once"));

        /* An empty second copy is still a second copy. */
        snprintf(second, sizeof(second), "%s=", names[i]);
        CHECK(check(params) == -1);
    }
}

static void allows_other_params_twice(void)
{
    char *params[] = {"HTTP_X=1", "HTTP_X=2", "FLEETREG_SUBX=1",
                      "FLEETREG_SUB=3", NULL};

    CHECK(check(params) == 0);
}

static void gets_first_exact_name(void)
{
    char *params[] = {"FLEETREG_SUBX=9", "FLEETREG_SU=8", "FLEETREG_SUB=14",
                      "CONTENT_TYPE=", NULL};

    CHECK_STR_EQ(request_params_get(params, "FLEETREG_SUB"), "14");
    CHECK_STR_EQ(request_params_get(params, "CONTENT_TYPE"), "");
    CHECK(request_params_get(params, "CONTENT_LENGTH") == NULL);
    CHECK(request_params_get(params, "fleetreg_sub") == NULL);
    CHECK(request_params_get(NULL, "FLEETREG_SUB") == NULL);
}

/* --- body against CONTENT_LENGTH --- */

static void decodes_body_of_declared_length(void)
{
    char *params[] = {"CONTENT_LENGTH=16", "CONTENT_TYPE=application/json",
                      NULL};

    CHECK(decode(RECORD_DRIVER, params, "{\"tenant_id\": 3}", 16) == 0);
    CHECK(options.has_tenant_id);
    CHECK(options.tenant_id == 3);
}

static void empty_body_without_length_is_no_options(void)
{
    char *absent[] = {"CONTENT_TYPE=text/plain", NULL};
    char *empty[] = {"CONTENT_LENGTH=", NULL};
    char *zero[] = {"CONTENT_LENGTH=0", "CONTENT_TYPE=", NULL};

    CHECK(decode(RECORD_FLEET_OWNER, absent, NULL, 0) == 0);
    CHECK(!options.has_business_name);
    CHECK(!options.has_tenant_id);
    CHECK(decode(RECORD_FLEET_OWNER, empty, "", 0) == 0);
    CHECK(decode(RECORD_DRIVER, zero, NULL, 0) == 0);
    CHECK(decode(RECORD_DRIVER, NULL, NULL, 0) == 0);
}

static void rejects_body_shorter_than_declared(void)
{
    char *params[] = {"CONTENT_LENGTH=20", "CONTENT_TYPE=application/json",
                      NULL};

    CHECK(decode(RECORD_DRIVER, params, "{\"tenant_id\": 3}", 16) == -1);
    check_error(400, "invalid_request");
    CHECK(message_has("20 bytes but 16 arrived"));
    CHECK(!options.has_tenant_id);
}

static void rejects_body_longer_than_declared(void)
{
    char *params[] = {"CONTENT_LENGTH=2", "CONTENT_TYPE=application/json",
                      NULL};
    char *absent[] = {"CONTENT_TYPE=application/json", NULL};

    CHECK(decode(RECORD_DRIVER, params, "{\"tenant_id\": 3}", 16) == -1);
    check_error(400, "invalid_request");
    CHECK(message_has("2 bytes but 16 arrived"));

    /* A body without CONTENT_LENGTH is a body of undeclared length. */
    CHECK(decode(RECORD_DRIVER, absent, "{}", 2) == -1);
    check_error(400, "invalid_request");
}

static void rejects_received_body_over_max_with_413(void)
{
    char body[101];
    char *params[] = {"CONTENT_LENGTH=100", "CONTENT_TYPE=application/json",
                      NULL};

    memset(body, ' ', sizeof(body));
    CHECK(decode(RECORD_DRIVER, params, body, sizeof(body)) == -1);
    check_error(413, "payload_too_large");
    CHECK(message_has("100 bytes"));
}

static void rejects_bad_content_length_values(void)
{
    char length[64];
    char *params[] = {length, "CONTENT_TYPE=application/json", NULL};

    snprintf(length, sizeof(length), "CONTENT_LENGTH=-1");
    CHECK(decode(RECORD_DRIVER, params, "{}", 2) == -1);
    check_error(400, "invalid_request");

    snprintf(length, sizeof(length), "CONTENT_LENGTH=2 ");
    CHECK(decode(RECORD_DRIVER, params, "{}", 2) == -1);
    check_error(400, "invalid_request");

    snprintf(length, sizeof(length), "CONTENT_LENGTH=18446744073709551618");
    CHECK(decode(RECORD_DRIVER, params, "{}", 2) == -1);
    check_error(413, "payload_too_large");

    snprintf(length, sizeof(length), "CONTENT_LENGTH=101");
    CHECK(decode(RECORD_DRIVER, params, NULL, 0) == -1);
    check_error(413, "payload_too_large");
}

static void checks_content_type_after_length(void)
{
    char *text[] = {"CONTENT_LENGTH=2", "CONTENT_TYPE=text/plain", NULL};
    char *missing[] = {"CONTENT_LENGTH=2", NULL};

    CHECK(decode(RECORD_DRIVER, text, "{}", 2) == -1);
    check_error(415, "unsupported_media_type");
    CHECK(decode(RECORD_DRIVER, missing, "{}", 2) == -1);
    check_error(415, "unsupported_media_type");
}

static void rejects_duplicate_length_before_body(void)
{
    char *params[] = {"CONTENT_LENGTH=2", "CONTENT_LENGTH=16",
                      "CONTENT_TYPE=application/json", NULL};

    CHECK(decode(RECORD_DRIVER, params, "{\"tenant_id\": 3}", 16) == -1);
    check_error(400, "invalid_request");
    CHECK(message_has("CONTENT_LENGTH"));
    CHECK(!options.has_tenant_id);
}

static void passes_body_errors_through(void)
{
    char *params[] = {"CONTENT_LENGTH=17", "CONTENT_TYPE=application/json",
                      NULL};

    CHECK(decode(RECORD_DRIVER, params, "{\"tenant_id\": -3}", 17) == -1);
    check_error(422, "invalid_field");
    CHECK(message_has("tenant_id"));
}

int main(void)
{
    RUN_TEST(accepts_params_within_limits);
    RUN_TEST(rejects_more_params_than_max);
    RUN_TEST(rejects_param_longer_than_max);
    RUN_TEST(rejects_pair_without_name);
    RUN_TEST(rejects_read_param_sent_twice);
    RUN_TEST(allows_other_params_twice);
    RUN_TEST(gets_first_exact_name);
    RUN_TEST(decodes_body_of_declared_length);
    RUN_TEST(empty_body_without_length_is_no_options);
    RUN_TEST(rejects_body_shorter_than_declared);
    RUN_TEST(rejects_body_longer_than_declared);
    RUN_TEST(rejects_received_body_over_max_with_413);
    RUN_TEST(rejects_bad_content_length_values);
    RUN_TEST(checks_content_type_after_length);
    RUN_TEST(rejects_duplicate_length_before_body);
    RUN_TEST(passes_body_errors_through);
    return unit_finish();
}
