/* Bearer token verification for the auth_request subrequest, and user ids. */
#ifndef FLEETREG_AUTH_H
#define FLEETREG_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum auth_algorithm {
    AUTH_ALGORITHM_HS256,
    AUTH_ALGORITHM_RS256,
    AUTH_ALGORITHM_ES256
};

/* Settings and key of a verifier; built once per process by auth_init(). */
struct auth_verifier {
    enum auth_algorithm algorithm;
    unsigned char *key; /* owned; HS256 secret or PEM public key */
    size_t key_length;
    char issuer[256];       /* "" when not checked */
    char audience[256];     /* "" when not checked */
    long leeway_seconds;    /* allowed clock skew for exp and nbf */
    size_t max_token_bytes; /* longer tokens are rejected unread */
};

/* Parses "HS256", "RS256" or "ES256". Returns 0, or -1. */
int auth_algorithm_parse(const char *text, enum auth_algorithm *out);

/*
 * Reads the key file: for HS256 its bytes, less one trailing newline, are
 * the secret; for RS256 and ES256 it is a PEM public key. Returns 0, or
 * -1 with a message naming the file and the fix in error (error_size
 * bytes). issuer and audience may be NULL or "".
 */
int auth_init(struct auth_verifier *verifier, enum auth_algorithm algorithm,
              const char *key_file, const char *issuer, const char *audience,
              long leeway_seconds, size_t max_token_bytes, char *error,
              size_t error_size) __attribute__((warn_unused_result));

void auth_free(struct auth_verifier *verifier);

/*
 * Verifies an Authorization header value ("Bearer <jwt>") at time now.
 * The token's alg must equal the configured algorithm, the signature
 * must verify, exp is required, nbf and iat are honoured with the
 * leeway, iss and aud are checked when configured, and sub must be a
 * positive integer that fits a bigint, as a JSON number or a string.
 * Returns 0 and stores the user id in *user_id, or -1 with a reason for
 * the log in reason (never containing the token).
 */
int auth_verify_bearer(const struct auth_verifier *verifier,
                       const char *authorization, time_t now, int64_t *user_id,
                       char *reason, size_t reason_size)
    __attribute__((warn_unused_result));

/*
 * Parses a user id: decimal digits only, no sign, no leading zero, value
 * from 1 to INT64_MAX. Returns 0, or -1.
 */
int auth_parse_user_id(const char *text, int64_t *user_id)
    __attribute__((warn_unused_result));

/*
 * Mints an HS256/RS256/ES256 token for tooling and tests, signed with
 * the PEM private key or secret in key (key_length bytes). Returns a
 * malloc'ed token the caller frees, or NULL with error set.
 */
char *auth_mint_token(enum auth_algorithm algorithm, const unsigned char *key,
                      size_t key_length, int64_t user_id, time_t expires_at,
                      char *error, size_t error_size);

#endif
