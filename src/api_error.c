/* Filling and rendering the contract's JSON error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "api_error.h"

int api_error_set(struct api_error *error, int status, const char *code,
                  const char *message_format, ...)
{
    va_list arguments;

    error->status = status;
    error->code = code;
    error->allow = NULL;
    error->retry_after_seconds = 0;

    va_start(arguments, message_format);
    vsnprintf(error->message, sizeof(error->message), message_format,
              arguments);
    va_end(arguments);
    return -1;
}

char *api_error_to_json(const struct api_error *error)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *body = cJSON_AddObjectToObject(root, "error");
    char *text = NULL;

    if (body != NULL &&
        cJSON_AddStringToObject(body, "code", error->code) != NULL &&
        cJSON_AddStringToObject(body, "message", error->message) != NULL) {
        text = cJSON_PrintUnformatted(root);
    }

    cJSON_Delete(root);
    return text;
}
