/* Unit tests of the JSON error body. */
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "../../src/api_error.h"
#include "unit.h"

static void error_renders_code_and_message(void)
{
    struct api_error error;
    char *text;

    CHECK(api_error_set(&error, 422, "invalid_field",
                        "tenant_id %d is "
                        "too large",
                        7) == -1);
    text = api_error_to_json(&error);
    CHECK_STR_EQ(text, "{\"error\":{\"code\":\"invalid_field\","
                       "\"message\":\"tenant_id 7 is too large\"}}");
    CHECK(error.status == 422);
    CHECK(error.allow == NULL);
    CHECK(error.retry_after_seconds == 0);
    free(text);
}

static void error_escapes_quotes_and_controls(void)
{
    struct api_error error;
    cJSON *parsed;
    char *text;

    api_error_set(&error, 400, "invalid_json", "bad \"x\"\n\x01 here");
    text = api_error_to_json(&error);
    parsed = cJSON_Parse(text);
    CHECK(parsed != NULL);
    CHECK_STR_EQ(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(parsed, "error"), "message")
            ->valuestring,
        "bad \"x\"\n\x01 here");
    cJSON_Delete(parsed);
    free(text);
}

static void long_message_is_truncated_not_overrun(void)
{
    struct api_error error;
    char big[1000];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    api_error_set(&error, 413, "payload_too_large", "%s", big);
    CHECK(strlen(error.message) == API_ERROR_MESSAGE_MAX - 1);
}

int main(void)
{
    RUN_TEST(error_renders_code_and_message);
    RUN_TEST(error_escapes_quotes_and_controls);
    RUN_TEST(long_message_is_truncated_not_overrun);
    return unit_finish();
}
