/* Bearer token verification: alg pinned first, then the claims checked. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <jwt.h>

#include "auth.h"
#include "auth_key.h"
#include "json_check.h"

/* 2^53 - 1, the largest integer that a double (cJSON's number) holds. */
#define AUTH_MAX_SAFE_INTEGER 9007199254740991.0

/*
 * Members allowed in a token header, which is read before the signature
 * is checked. The bound keeps the quadratic duplicate check cheap.
 */
#define AUTH_HEADER_MAX_MEMBERS 16

/* Members allowed in the claims, which are read only once signed. */
#define AUTH_CLAIMS_MAX_MEMBERS 1024

/* The three dot-separated parts of a compact JWS. */
struct auth_token_parts {
    const char *header;
    size_t header_length;
    const char *payload;
    size_t payload_length;
    const char *signature;
    size_t signature_length;
};

/* Formats message (when there is room for one) and returns -1. */
int auth_fail(char *message, size_t message_size, const char *format, ...)
{
    va_list arguments;

    if (message == NULL || message_size == 0) {
        return -1;
    }

    va_start(arguments, format);
    vsnprintf(message, message_size, format, arguments);
    va_end(arguments);
    return -1;
}

const char *auth_algorithm_name(enum auth_algorithm algorithm)
{
    switch (algorithm) {
    case AUTH_ALGORITHM_HS256: return "HS256";
    case AUTH_ALGORITHM_RS256: return "RS256";
    case AUTH_ALGORITHM_ES256: return "ES256";
    }
    return "unknown";
}

static jwt_alg_t auth_algorithm_to_jwt(enum auth_algorithm algorithm)
{
    switch (algorithm) {
    case AUTH_ALGORITHM_HS256: return JWT_ALG_HS256;
    case AUTH_ALGORITHM_RS256: return JWT_ALG_RS256;
    case AUTH_ALGORITHM_ES256: return JWT_ALG_ES256;
    }
    return JWT_ALG_INVAL;
}

int auth_algorithm_parse(const char *text, enum auth_algorithm *out)
{
    static const enum auth_algorithm all[] = {
        AUTH_ALGORITHM_HS256, AUTH_ALGORITHM_RS256, AUTH_ALGORITHM_ES256};

    if (text == NULL) {
        return -1;
    }

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(text, auth_algorithm_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

/* Maps one base64 (url set: base64url) character to its value, or -1. */
static int auth_base64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == (url ? '-' : '+')) {
        return 62;
    }
    if (c == (url ? '_' : '/')) {
        return 63;
    }
    return -1;
}

/*
 * Decodes base64 into out, which has room for length * 3 / 4 + 1 bytes.
 * With url set the text is a JWT segment: base64url, no padding, no
 * whitespace, and unused trailing bits zero so each value has one
 * encoding. Without it the text is a PEM body: standard alphabet, line
 * breaks skipped, decoding stops at the first '='. Returns 0, or -1.
 */
int auth_base64_decode(const char *text, size_t length, bool url,
                       unsigned char *out, size_t *out_length)
{
    unsigned long bits = 0;
    int bit_count = 0;
    size_t written = 0;

    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        int value;

        if (!url && (c == '\n' || c == '\r' || c == ' ' || c == '\t')) {
            continue;
        }
        if (!url && c == '=') {
            break;
        }

        value = auth_base64_value(c, url);
        if (value < 0) {
            return -1;
        }

        bits = (bits << 6) | (unsigned long)value;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out[written++] = (unsigned char)(bits >> bit_count);
            bits &= (1UL << bit_count) - 1;
        }
    }

    /* Six leftover bits cannot be a byte, and fewer must all be zero. */
    if (bit_count >= 6 || (url && bits != 0)) {
        return -1;
    }

    *out_length = written;
    return 0;
}

int auth_init(struct auth_verifier *verifier, enum auth_algorithm algorithm,
              const char *key_file, const char *issuer, const char *audience,
              long leeway_seconds, size_t max_token_bytes, char *error,
              size_t error_size)
{
    unsigned char *key = NULL;
    size_t key_length = 0;

    memset(verifier, 0, sizeof(*verifier));

    if (key_file == NULL || key_file[0] == '\0') {
        return auth_fail(error, error_size,
                         "jwt_key_file is empty; set it to the %s key file",
                         auth_algorithm_name(algorithm));
    }
    if (leeway_seconds < 0) {
        return auth_fail(error, error_size,
                         "leeway %ld is negative; use 0 or more seconds",
                         leeway_seconds);
    }
    if (issuer != NULL && strlen(issuer) >= sizeof(verifier->issuer)) {
        return auth_fail(error, error_size,
                         "jwt_issuer is longer than %zu "
                         "bytes",
                         sizeof(verifier->issuer) - 1);
    }
    if (audience != NULL && strlen(audience) >= sizeof(verifier->audience)) {
        return auth_fail(error, error_size,
                         "jwt_audience is longer than %zu "
                         "bytes",
                         sizeof(verifier->audience) - 1);
    }

    if (auth_key_load(algorithm, key_file, &key, &key_length, error,
                      error_size) != 0) {
        return -1;
    }

    verifier->algorithm = algorithm;
    verifier->key = key;
    verifier->key_length = key_length;
    snprintf(verifier->issuer, sizeof(verifier->issuer), "%s",
             issuer != NULL ? issuer : "");
    snprintf(verifier->audience, sizeof(verifier->audience), "%s",
             audience != NULL ? audience : "");
    verifier->leeway_seconds = leeway_seconds;
    verifier->max_token_bytes = max_token_bytes;
    return 0;
}

void auth_free(struct auth_verifier *verifier)
{
    if (verifier->key != NULL) {
        /* The secret should not outlive the verifier in freed memory. */
        explicit_bzero(verifier->key, verifier->key_length);
        free(verifier->key);
    }
    verifier->key = NULL;
    verifier->key_length = 0;
}

int auth_parse_user_id(const char *text, int64_t *user_id)
{
    int64_t value = 0;

    if (text == NULL || text[0] < '1' || text[0] > '9') {
        return -1;
    }

    for (const char *p = text; *p != '\0'; p++) {
        int digit = *p - '0';

        if (*p < '0' || *p > '9') {
            return -1;
        }
        if (value > (INT64_MAX - digit) / 10) {
            return -1;
        }
        value = value * 10 + digit;
    }

    *user_id = value;
    return 0;
}

static bool auth_is_token_char(char c)
{
    return auth_base64_value((unsigned char)c, true) >= 0 || c == '.';
}

/*
 * Finds the token in "Bearer <token>": the scheme in any case, one space,
 * then only base64url characters and dots up to the end. The length is
 * checked before anything else reads the token.
 */
static int auth_find_token(const struct auth_verifier *verifier,
                           const char *authorization, const char **token,
                           char *reason, size_t reason_size)
{
    size_t length;

    if (authorization == NULL || authorization[0] == '\0') {
        return auth_fail(reason, reason_size, "no Authorization header");
    }
    if (strncasecmp(authorization, "Bearer ", 7) != 0) {
        return auth_fail(reason, reason_size,
                         "Authorization header is not \"Bearer <token>\"");
    }

    *token = authorization + 7;
    length = strnlen(*token, verifier->max_token_bytes + 1);
    if (length > verifier->max_token_bytes) {
        return auth_fail(reason, reason_size,
                         "token is longer than max_token_bytes (%zu)",
                         verifier->max_token_bytes);
    }
    if (length == 0) {
        return auth_fail(reason, reason_size, "Bearer token is empty");
    }

    for (size_t i = 0; i < length; i++) {
        if (!auth_is_token_char((*token)[i])) {
            return auth_fail(reason, reason_size,
                             "token has a character outside base64url and "
                             "'.' at offset %zu",
                             i);
        }
    }
    return 0;
}

/* Splits a compact JWS into its three parts. */
static int auth_split_token(const char *token, struct auth_token_parts *parts,
                            char *reason, size_t reason_size)
{
    const char *first = strchr(token, '.');
    const char *second = first != NULL ? strchr(first + 1, '.') : NULL;

    if (second == NULL || strchr(second + 1, '.') != NULL) {
        return auth_fail(reason, reason_size,
                         "token does not have exactly three parts");
    }

    parts->header = token;
    parts->header_length = (size_t)(first - token);
    parts->payload = first + 1;
    parts->payload_length = (size_t)(second - first - 1);
    parts->signature = second + 1;
    parts->signature_length = strlen(second + 1);

    /* An empty signature is checked after the alg, to report "none". */
    if (parts->header_length == 0 || parts->payload_length == 0) {
        return auth_fail(reason, reason_size,
                         "token has an empty header or payload");
    }
    return 0;
}

/* Returns true when object has two members of one name or too many. */
static bool auth_has_bad_members(const cJSON *object, int max_members)
{
    if (cJSON_GetArraySize(object) > max_members) {
        return true;
    }

    for (const cJSON *a = object->child; a != NULL; a = a->next) {
        for (const cJSON *b = a->next; b != NULL; b = b->next) {
            if (strcmp(a->string, b->string) == 0) {
                return true;
            }
        }
    }
    return false;
}

/*
 * Decodes one base64url part into a JSON object of at most max_members
 * members. Duplicate members are rejected because libjwt's JSON parser
 * and cJSON could pick different ones. Returns the object (free with
 * cJSON_Delete), or NULL.
 */
static cJSON *auth_decode_part(const char *part, size_t length, int max_members)
{
    unsigned char *json = malloc(length * 3 / 4 + 1);
    size_t json_length = 0;
    const char *end = NULL;
    cJSON *object = NULL;

    if (json == NULL) {
        return NULL;
    }

    if (auth_base64_decode(part, length, true, json, &json_length) == 0) {
        object = cJSON_ParseWithLengthOpts((const char *)json, json_length,
                                           &end, false);
    }
    free(json);

    if (object != NULL && (!cJSON_IsObject(object) ||
                           auth_has_bad_members(object, max_members))) {
        cJSON_Delete(object);
        object = NULL;
    }
    return object;
}

/*
 * Pins the algorithm: the header's alg must be the configured one before
 * libjwt reads the token, because libjwt 1.10 verifies with whatever alg
 * the header names. Without this, "none" skips verification and HS256
 * keyed with an RS256 public key (known to anyone) would verify.
 */
static int auth_check_header(const struct auth_verifier *verifier,
                             const struct auth_token_parts *parts, char *reason,
                             size_t reason_size)
{
    const char *expected = auth_algorithm_name(verifier->algorithm);
    cJSON *header = auth_decode_part(parts->header, parts->header_length,
                                     AUTH_HEADER_MAX_MEMBERS);
    const cJSON *alg;
    int status = 0;

    if (header == NULL) {
        return auth_fail(reason, reason_size,
                         "token header is not a base64url JSON object of "
                         "at most %d members, each named once",
                         AUTH_HEADER_MAX_MEMBERS);
    }

    alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
    if (!cJSON_IsString(alg)) {
        status =
            auth_fail(reason, reason_size, "token header has no alg string");
    } else if (strcmp(alg->valuestring, expected) != 0) {
        /* Log only alg names that libjwt lists, never other token text. */
        bool known = jwt_str_alg(alg->valuestring) != JWT_ALG_INVAL;

        status = auth_fail(reason, reason_size,
                           "token alg %s is not the configured %s",
                           known ? alg->valuestring : "(unknown)", expected);
    } else if (cJSON_GetObjectItemCaseSensitive(header, "crit") != NULL) {
        /* RFC 7515 section 4.1.11: unknown critical extensions fail. */
        status = auth_fail(reason, reason_size,
                           "token header has crit extensions, which are "
                           "not supported");
    }

    cJSON_Delete(header);
    return status;
}

static int auth_check_signature(const struct auth_verifier *verifier,
                                const char *token, char *reason,
                                size_t reason_size)
{
    jwt_t *jwt = NULL;
    int error;
    jwt_alg_t alg;

    error = jwt_decode(&jwt, token, verifier->key, (int)verifier->key_length);
    if (error != 0 || jwt == NULL) {
        return auth_fail(reason, reason_size,
                         "token signature or format is invalid (%s)",
                         strerror(error != 0 ? error : EINVAL));
    }

    /* The pin makes this unreachable unless libjwt read another alg. */
    alg = jwt_get_alg(jwt);
    jwt_free(jwt);

    if (alg != auth_algorithm_to_jwt(verifier->algorithm)) {
        return auth_fail(reason, reason_size,
                         "token was verified with an algorithm other than "
                         "%s",
                         auth_algorithm_name(verifier->algorithm));
    }
    return 0;
}

/*
 * Reads an optional NumericDate claim. Returns 1 when present, 0 when
 * absent, -1 when it is not a finite number.
 */
static int auth_read_date(const cJSON *claims, const char *name, double *value)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(claims, name);

    if (item == NULL) {
        return 0;
    }
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
        return -1;
    }

    *value = item->valuedouble;
    return 1;
}

/* Requires now < exp, and nbf <= now and iat <= now when present. */
static int auth_check_times(const struct auth_verifier *verifier,
                            const cJSON *claims, time_t now, char *reason,
                            size_t reason_size)
{
    double current = (double)now;
    double leeway = (double)verifier->leeway_seconds;
    double exp = 0;
    double nbf = 0;
    double iat = 0;
    int found;

    found = auth_read_date(claims, "exp", &exp);
    if (found <= 0) {
        return auth_fail(reason, reason_size,
                         found == 0 ? "token has no exp claim"
                                    : "token exp claim is not a number");
    }
    if (current >= exp + leeway) {
        return auth_fail(reason, reason_size,
                         "token expired at %.0f (now %lld, leeway %ld s)", exp,
                         (long long)now, verifier->leeway_seconds);
    }

    found = auth_read_date(claims, "nbf", &nbf);
    if (found < 0) {
        return auth_fail(reason, reason_size,
                         "token nbf claim is not a number");
    }
    if (found > 0 && current + leeway < nbf) {
        return auth_fail(reason, reason_size,
                         "token is not valid before %.0f (now %lld, "
                         "leeway %ld s)",
                         nbf, (long long)now, verifier->leeway_seconds);
    }

    found = auth_read_date(claims, "iat", &iat);
    if (found < 0) {
        return auth_fail(reason, reason_size,
                         "token iat claim is not a number");
    }
    if (found > 0 && iat > current + leeway) {
        return auth_fail(reason, reason_size,
                         "token was issued in the future at %.0f (now %lld, "
                         "leeway %ld s)",
                         iat, (long long)now, verifier->leeway_seconds);
    }
    return 0;
}

static int auth_check_issuer(const struct auth_verifier *verifier,
                             const cJSON *claims, char *reason,
                             size_t reason_size)
{
    const cJSON *iss;

    if (verifier->issuer[0] == '\0') {
        return 0;
    }

    iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
    if (!cJSON_IsString(iss) ||
        strcmp(iss->valuestring, verifier->issuer) != 0) {
        return auth_fail(reason, reason_size,
                         "token iss is not the configured issuer \"%s\"",
                         verifier->issuer);
    }
    return 0;
}

/* aud is one string or an array of strings (RFC 7519 section 4.1.3). */
static bool auth_audience_matches(const cJSON *aud, const char *expected)
{
    const cJSON *item;

    if (cJSON_IsString(aud)) {
        return strcmp(aud->valuestring, expected) == 0;
    }
    if (!cJSON_IsArray(aud)) {
        return false;
    }

    cJSON_ArrayForEach(item, aud)
    {
        if (cJSON_IsString(item) && strcmp(item->valuestring, expected) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * NOTE: when no audience is configured, an aud claim is not checked, so
 * tokens minted for other services of the same issuer are accepted.
 * Configure jwt_audience wherever one issuer serves several audiences.
 */
static int auth_check_audience(const struct auth_verifier *verifier,
                               const cJSON *claims, char *reason,
                               size_t reason_size)
{
    const cJSON *aud;

    if (verifier->audience[0] == '\0') {
        return 0;
    }

    aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
    if (!auth_audience_matches(aud, verifier->audience)) {
        return auth_fail(reason, reason_size,
                         "token aud does not include the configured "
                         "audience \"%s\"",
                         verifier->audience);
    }
    return 0;
}

/*
 * Reads sub as a user id: a JSON number that is a whole number from 1 to
 * 2^53 - 1 (beyond that a double loses digits, so larger ids must come
 * as strings), or a string that auth_parse_user_id accepts.
 */
/*
 * Decodes the payload again and copies the raw text of its top-level sub
 * member. cJSON keeps numbers only as doubles, which round
 * 1.0000000000000001 to 1, so a numeric sub is judged by its text.
 * Returns 0, or -1 when the payload fails the strict JSON scan, has no
 * sub written without escapes, or the value is longer than the buffer.
 */
static int auth_read_sub_text(const struct auth_token_parts *parts, char *out,
                              size_t out_size)
{
    unsigned char *json = malloc(parts->payload_length * 3 / 4 + 1);
    struct json_check_scan scan = {.wanted_name = "sub"};
    size_t json_length = 0;
    int status = -1;

    if (json != NULL &&
        auth_base64_decode(parts->payload, parts->payload_length, true, json,
                           &json_length) == 0) {
        scan.text = json;
        scan.length = json_length;
        json_check_body(&scan);
    }
    if (scan.error == JSON_CHECK_OK && scan.wanted_found &&
        scan.wanted.length < out_size) {
        memcpy(out, json + scan.wanted.start, scan.wanted.length);
        out[scan.wanted.length] = '\0';
        status = 0;
    }
    free(json);
    return status;
}

static int auth_read_subject(const cJSON *claims,
                             const struct auth_token_parts *parts,
                             int64_t *user_id, char *reason, size_t reason_size)
{
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");

    if (sub == NULL) {
        return auth_fail(reason, reason_size, "token has no sub claim");
    }

    if (cJSON_IsNumber(sub)) {
        double value = sub->valuedouble;
        char text[32];
        int64_t parsed;

        /* The range check comes first so that the cast is defined. The
         * text check catches what the double rounded away. */
        if (!(value >= 1 && value <= AUTH_MAX_SAFE_INTEGER) ||
            (double)(int64_t)value != value ||
            auth_read_sub_text(parts, text, sizeof(text)) != 0 ||
            auth_parse_user_id(text, &parsed) != 0 ||
            parsed != (int64_t)value) {
            return auth_fail(reason, reason_size,
                             "token sub number is not a whole number from "
                             "1 to 2^53 - 1");
        }
        *user_id = (int64_t)value;
        return 0;
    }

    if (cJSON_IsString(sub) &&
        auth_parse_user_id(sub->valuestring, user_id) == 0) {
        return 0;
    }
    return auth_fail(reason, reason_size,
                     "token sub is not a user id (digits, 1 to "
                     "9223372036854775807, no sign or leading zero)");
}

static int auth_check_claims(const struct auth_verifier *verifier,
                             const struct auth_token_parts *parts, time_t now,
                             int64_t *user_id, char *reason, size_t reason_size)
{
    cJSON *claims = auth_decode_part(parts->payload, parts->payload_length,
                                     AUTH_CLAIMS_MAX_MEMBERS);
    int status;

    if (claims == NULL) {
        return auth_fail(reason, reason_size,
                         "token payload is not a JSON object of at most "
                         "%d members, each named once",
                         AUTH_CLAIMS_MAX_MEMBERS);
    }

    status = auth_check_times(verifier, claims, now, reason, reason_size);
    if (status == 0) {
        status = auth_check_issuer(verifier, claims, reason, reason_size);
    }
    if (status == 0) {
        status = auth_check_audience(verifier, claims, reason, reason_size);
    }
    if (status == 0) {
        status = auth_read_subject(claims, parts, user_id, reason, reason_size);
    }

    cJSON_Delete(claims);
    return status;
}

int auth_verify_bearer(const struct auth_verifier *verifier,
                       const char *authorization, time_t now, int64_t *user_id,
                       char *reason, size_t reason_size)
{
    struct auth_token_parts parts = {0};
    const char *token = NULL;

    if (verifier->key == NULL) {
        return auth_fail(reason, reason_size, "verifier has no key loaded");
    }

    if (auth_find_token(verifier, authorization, &token, reason, reason_size) !=
        0) {
        return -1;
    }

    if (auth_split_token(token, &parts, reason, reason_size) != 0) {
        return -1;
    }

    if (auth_check_header(verifier, &parts, reason, reason_size) != 0) {
        return -1;
    }
    if (parts.signature_length == 0) {
        return auth_fail(reason, reason_size, "token has no signature");
    }

    /* Only a token whose signature verified has claims worth reading. */
    if (auth_check_signature(verifier, token, reason, reason_size) != 0) {
        return -1;
    }

    return auth_check_claims(verifier, &parts, now, user_id, reason,
                             reason_size);
}

char *auth_mint_token(enum auth_algorithm algorithm, const unsigned char *key,
                      size_t key_length, int64_t user_id, time_t expires_at,
                      char *error, size_t error_size)
{
    jwt_t *jwt = NULL;
    char subject[32];
    char *token = NULL;
    int status;

    if (key == NULL || key_length == 0 || key_length > INT_MAX) {
        auth_fail(error, error_size, "signing key is empty or too large");
        return NULL;
    }

    status = jwt_new(&jwt);
    if (status != 0) {
        auth_fail(error, error_size, "cannot create a token: %s",
                  strerror(status));
        return NULL;
    }

    /* RFC 7519 defines sub as a string, and the verifier takes both. */
    snprintf(subject, sizeof(subject), "%lld", (long long)user_id);
    status = jwt_add_grant(jwt, "sub", subject);
    if (status == 0) {
        status = jwt_add_grant_int(jwt, "exp", (long)expires_at);
    }
    if (status == 0) {
        status = jwt_set_alg(jwt, auth_algorithm_to_jwt(algorithm), key,
                             (int)key_length);
    }
    if (status == 0) {
        errno = 0;
        token = jwt_encode_str(jwt);
        if (token == NULL) {
            status = errno != 0 ? errno : EINVAL;
        }
    }
    jwt_free(jwt);

    if (token == NULL) {
        auth_fail(error, error_size,
                  "signing a %s token failed (%s); for RS256 and ES256 "
                  "the key must be a PEM private key of that type",
                  auth_algorithm_name(algorithm), strerror(status));
    }
    return token;
}
