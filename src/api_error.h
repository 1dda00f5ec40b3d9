/* The error a request ends with, rendered as the contract's JSON body. */
#ifndef FLEETREG_API_ERROR_H
#define FLEETREG_API_ERROR_H

#define API_ERROR_MESSAGE_MAX 256

/*
 * status is the HTTP status; code is a static string such as
 * "invalid_field"; message is for the client and names the value and
 * what to do. allow is the static Allow header value for 405, else NULL.
 * retry_after_seconds is sent as Retry-After when above zero.
 */
struct api_error {
    int status;
    const char *code;
    char message[API_ERROR_MESSAGE_MAX];
    const char *allow;
    int retry_after_seconds;
};

/* Fills *error; the message is truncated to fit. Always returns -1. */
int api_error_set(struct api_error *error, int status, const char *code,
                  const char *message_format, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Renders {"error":{"code":...,"message":...}}. Returns a malloc'ed
 * NUL-terminated string that the caller frees with free(), or NULL when
 * memory runs out.
 */
char *api_error_to_json(const struct api_error *error);

#endif
