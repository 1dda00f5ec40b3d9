/* Internal to the auth unit: key-file loading and the helpers it shares. */
#ifndef FLEETREG_AUTH_KEY_H
#define FLEETREG_AUTH_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"

/*
 * Reads path and checks it for algorithm: for HS256 the file's bytes,
 * less one trailing newline, are the secret and must be at least 32
 * bytes and not PEM; for RS256 and ES256 the file must be a PEM public
 * key of that type. Returns 0 with *key a NUL-terminated malloc'ed copy
 * (the caller frees it) of *key_length bytes, or -1 with *key NULL and a
 * message naming the file and the fix in error (error_size bytes).
 */
int auth_key_load(enum auth_algorithm algorithm, const char *path,
                  unsigned char **key, size_t *key_length, char *error,
                  size_t error_size) __attribute__((warn_unused_result));

/* Defined in auth.c. */

/*
 * Formats message, when message is not NULL and message_size is not 0,
 * and returns -1, so a failing check can end with return auth_fail(...).
 */
int auth_fail(char *message, size_t message_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns "HS256", "RS256" or "ES256", or "unknown". */
const char *auth_algorithm_name(enum auth_algorithm algorithm);

/*
 * Decodes base64 (url set: a JWT segment in base64url) into out, which
 * has room for length * 3 / 4 + 1 bytes. Returns 0 with *out_length set,
 * or -1 for text that is not valid in that form.
 */
int auth_base64_decode(const char *text, size_t length, bool url,
                       unsigned char *out, size_t *out_length)
    __attribute__((warn_unused_result));

#endif
