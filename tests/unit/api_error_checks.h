/* Checks of a struct api_error shared by the request unit tests. */
#ifndef FLEETREG_API_ERROR_CHECKS_H
#define FLEETREG_API_ERROR_CHECKS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../../src/api_error.h"
#include "unit.h"

/* Checks that a failed decoding set status, code and some message. */
static inline void check_api_error(const struct api_error *error, int status,
                                   const char *code)
{
    CHECK(error->status == status);
    CHECK_STR_EQ(error->code, code);
    CHECK(error->message[0] != '\0');
}

/* Returns whether the message contains text; prints both when not. */
static inline bool api_error_message_has(const struct api_error *error,
                                         const char *text)
{
    if (strstr(error->message, text) != NULL) {
        return true;
    }
    fprintf(stderr, "message \"%s\" lacks \"%s\"\n", error->message, text);
    return false;
}

#endif
