/* Unit tests of bearer token verification, with real keys and tokens. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>

#include "../../src/auth.h"
#include "unit.h"

#define SECRET "fleetreg-unit-test-secret-0123456789abcdef"
#define TOKEN_MAX 16384

static char key_dir[64];
static time_t now;

/* The reason of the last verify_at() call, so tests can check the cause. */
static char last_reason[256];

struct key_bytes {
    unsigned char *data;
    size_t length;
};

static struct key_bytes rsa_private;
static struct key_bytes rsa_public;
static struct key_bytes ec_private;
static struct key_bytes ec_public;

static void key_path(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", key_dir, name);
}

static void write_file(const char *name, const char *text, size_t length)
{
    char path[128];
    FILE *file;

    key_path(path, sizeof(path), name);
    file = fopen(path, "wb");
    if (file == NULL || fwrite(text, 1, length, file) != length) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(file);
}

static struct key_bytes read_key(const char *name)
{
    struct key_bytes key = {NULL, 0};
    char path[128];
    FILE *file;

    key_path(path, sizeof(path), name);
    file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }

    key.data = calloc(1, 65536);
    key.length = fread(key.data, 1, 65535, file);
    fclose(file);
    return key;
}

/* Runs an openssl command in the key folder and exits when it fails. */
static void run_openssl(const char *arguments)
{
    char command[512];

    snprintf(command, sizeof(command), "cd '%s' && openssl %s 2>/dev/null",
             key_dir, arguments);
    if (system(command) != 0) {
        fprintf(stderr, "failed: openssl %s (is openssl installed?)\n",
                arguments);
        exit(2);
    }
}

static void keys_create(void)
{
    snprintf(key_dir, sizeof(key_dir), "/tmp/fleetreg-test-auth-XXXXXX");
    if (mkdtemp(key_dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }

    run_openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
                "-out rsa.pem");
    run_openssl("pkey -in rsa.pem -pubout -out rsa.pub");
    run_openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
                "-out ec.pem");
    run_openssl("pkey -in ec.pem -pubout -out ec.pub");
    run_openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 "
                "-out p384.pem");
    run_openssl("pkey -in p384.pem -pubout -out p384.pub");

    write_file("secret", SECRET "\n", strlen(SECRET) + 1);
    write_file("short", "short-secret\n", 13);

    rsa_private = read_key("rsa.pem");
    rsa_public = read_key("rsa.pub");
    ec_private = read_key("ec.pem");
    ec_public = read_key("ec.pub");
}

static void keys_remove(void)
{
    const char *names[] = {"rsa.pem",  "rsa.pub",  "ec.pem", "ec.pub",
                           "p384.pem", "p384.pub", "secret", "short",
                           "input",    "mac"};
    char path[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        key_path(path, sizeof(path), names[i]);
        unlink(path);
    }
    rmdir(key_dir);
}

static struct auth_verifier make_verifier(enum auth_algorithm algorithm,
                                          const char *key_name,
                                          const char *issuer,
                                          const char *audience, long leeway)
{
    struct auth_verifier verifier;
    char path[128];
    char error[256];

    key_path(path, sizeof(path), key_name);
    if (auth_init(&verifier, algorithm, path, issuer, audience, leeway, 4096,
                  error, sizeof(error)) != 0) {
        fprintf(stderr, "auth_init failed: %s\n", error);
        exit(2);
    }
    return verifier;
}

static struct auth_verifier hs256_verifier(void)
{
    return make_verifier(AUTH_ALGORITHM_HS256, "secret", NULL, NULL, 0);
}

/*
 * Verifies "Bearer <token>" and checks on every call that the reason, if
 * any, does not contain the token or its signature.
 */
static int verify_at(const struct auth_verifier *verifier, const char *token,
                     time_t at, int64_t *user_id)
{
    static char header[TOKEN_MAX + 16];
    char *reason = last_reason;
    const char *signature = strrchr(token, '.');
    int status;

    reason[0] = '\0';
    snprintf(header, sizeof(header), "Bearer %s", token);
    status = auth_verify_bearer(verifier, header, at, user_id, reason,
                                sizeof(last_reason));

    CHECK(strstr(reason, token) == NULL);
    if (signature != NULL && strlen(signature) > 8) {
        CHECK(strstr(reason, signature + 1) == NULL);
    }
    CHECK(status == 0 || reason[0] != '\0');
    return status;
}

static int verify(const struct auth_verifier *verifier, const char *token,
                  int64_t *user_id)
{
    return verify_at(verifier, token, now, user_id);
}

/* Signs claims (JSON text) with libjwt, as an issuer would. */
static char *sign_claims(jwt_alg_t alg, const struct key_bytes *key,
                         const char *claims)
{
    jwt_t *jwt = NULL;
    char *token = NULL;

    if (jwt_new(&jwt) == 0 && jwt_add_grants_json(jwt, claims) == 0 &&
        jwt_set_alg(jwt, alg, key->data, (int)key->length) == 0) {
        token = jwt_encode_str(jwt);
    }
    jwt_free(jwt);

    if (token == NULL) {
        fprintf(stderr, "cannot sign claims %s\n", claims);
        exit(2);
    }
    return token;
}

static const struct key_bytes secret_key = {(unsigned char *)SECRET,
                                            sizeof(SECRET) - 1};

static char *sign_hs256(const char *claims)
{
    return sign_claims(JWT_ALG_HS256, &secret_key, claims);
}

/* Appends the base64url encoding of data to out. */
static void base64url_append(char *out, const unsigned char *data,
                             size_t length)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *end = out + strlen(out);
    unsigned long bits = 0;
    int bit_count = 0;

    for (size_t i = 0; i < length; i++) {
        bits = (bits << 8) | data[i];
        bit_count += 8;
        while (bit_count >= 6) {
            bit_count -= 6;
            *end++ = alphabet[(bits >> bit_count) & 63];
        }
    }
    if (bit_count > 0) {
        *end++ = alphabet[(bits << (6 - bit_count)) & 63];
    }
    *end = '\0';
}

/* Builds "header.payload." from JSON texts, without a signature. */
static void unsigned_token(char *out, const char *header, const char *payload)
{
    out[0] = '\0';
    base64url_append(out, (const unsigned char *)header, strlen(header));
    strcat(out, ".");
    base64url_append(out, (const unsigned char *)payload, strlen(payload));
    strcat(out, ".");
}

/*
 * Signs raw header and payload JSON with HS256 through the openssl
 * command, for tokens that libjwt would not produce (duplicate members,
 * lower-case alg, crit).
 */
static void sign_raw_hs256(char *out, const char *header, const char *payload)
{
    unsigned char mac[64];
    char command[512];
    char hex[2 * sizeof(SECRET)];
    char path[128];
    size_t mac_length;
    FILE *file;

    unsigned_token(out, header, payload);
    write_file("input", out, strlen(out) - 1);

    for (size_t i = 0; i < sizeof(SECRET) - 1; i++) {
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)SECRET[i]);
    }
    snprintf(command, sizeof(command),
             "dgst -sha256 -mac HMAC -macopt hexkey:%s -binary -out mac "
             "input",
             hex);
    run_openssl(command);

    key_path(path, sizeof(path), "mac");
    file = fopen(path, "rb");
    mac_length = file != NULL ? fread(mac, 1, sizeof(mac), file) : 0;
    if (file != NULL) {
        fclose(file);
    }
    CHECK(mac_length == 32);
    base64url_append(out, mac, mac_length);
}

static char *format_claims(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/* Formats claims JSON into a static buffer reused by the next call. */
static char *format_claims(const char *format, ...)
{
    static char claims[1024];
    va_list arguments;

    va_start(arguments, format);
    vsnprintf(claims, sizeof(claims), format, arguments);
    va_end(arguments);
    return claims;
}

/* --- accepted tokens --- */

static void accepts_hs256_token_minted_here(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char error[256];
    int64_t user_id = 0;
    char *token =
        auth_mint_token(AUTH_ALGORITHM_HS256, secret_key.data,
                        secret_key.length, 14, now + 600, error, sizeof(error));

    CHECK(token != NULL);
    CHECK(verify(&verifier, token, &user_id) == 0);
    CHECK(user_id == 14);
    free(token);
    auth_free(&verifier);
}

static void accepts_rs256_token_minted_here(void)
{
    struct auth_verifier verifier =
        make_verifier(AUTH_ALGORITHM_RS256, "rsa.pub", NULL, NULL, 0);
    char error[256];
    int64_t user_id = 0;
    char *token = auth_mint_token(AUTH_ALGORITHM_RS256, rsa_private.data,
                                  rsa_private.length, 77, now + 600, error,
                                  sizeof(error));

    CHECK(token != NULL);
    CHECK(verify(&verifier, token, &user_id) == 0);
    CHECK(user_id == 77);
    free(token);
    auth_free(&verifier);
}

static void accepts_es256_token_minted_here(void)
{
    struct auth_verifier verifier =
        make_verifier(AUTH_ALGORITHM_ES256, "ec.pub", NULL, NULL, 0);
    char error[256];
    int64_t user_id = 0;
    char *token =
        auth_mint_token(AUTH_ALGORITHM_ES256, ec_private.data,
                        ec_private.length, 9, now + 600, error, sizeof(error));

    CHECK(token != NULL);
    CHECK(verify(&verifier, token, &user_id) == 0);
    CHECK(user_id == 9);
    free(token);
    auth_free(&verifier);
}

static void treats_number_and_string_sub_alike(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *as_number = sign_hs256(
        format_claims("{\"sub\": 14, \"exp\": %lld}", (long long)now + 600));
    char *as_string = sign_hs256(format_claims(
        "{\"sub\": \"14\", \"exp\": %lld}", (long long)now + 600));
    int64_t from_number = 0;
    int64_t from_string = 0;

    CHECK(verify(&verifier, as_number, &from_number) == 0);
    CHECK(verify(&verifier, as_string, &from_string) == 0);
    CHECK(from_number == 14);
    CHECK(from_string == 14);
    free(as_number);
    free(as_string);
    auth_free(&verifier);
}

static void accepts_largest_sub_values(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *number = sign_hs256(format_claims(
        "{\"sub\": 9007199254740991, \"exp\": %lld}", (long long)now + 60));
    char *string = sign_hs256(
        format_claims("{\"sub\": \"9223372036854775807\", \"exp\": %lld}",
                      (long long)now + 60));
    int64_t user_id = 0;

    CHECK(verify(&verifier, number, &user_id) == 0);
    CHECK(user_id == 9007199254740991LL);
    CHECK(verify(&verifier, string, &user_id) == 0);
    CHECK(user_id == INT64_MAX);
    free(number);
    free(string);
    auth_free(&verifier);
}

static void accepts_lower_case_bearer_scheme(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *token = sign_hs256(
        format_claims("{\"sub\": \"5\", \"exp\": %lld}", (long long)now + 60));
    char header[1024];
    char reason[256];
    int64_t user_id = 0;

    snprintf(header, sizeof(header), "bEARER %s", token);
    CHECK(auth_verify_bearer(&verifier, header, now, &user_id, reason,
                             sizeof(reason)) == 0);
    CHECK(user_id == 5);
    free(token);
    auth_free(&verifier);
}

/* --- algorithm pinning --- */

static const char NONE_PAYLOAD_FORMAT[] = "{\"sub\":\"14\",\"exp\":%lld}";

static void rejects_alg_none_with_trailing_dot(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char token[512];
    int64_t user_id = 0;

    unsigned_token(token, "{\"alg\":\"none\",\"typ\":\"JWT\"}",
                   format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "alg none is not the configured HS256") != NULL);
    CHECK(user_id == 0);
    auth_free(&verifier);
}

static void rejects_alg_none_without_trailing_dot(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char token[512];
    int64_t user_id = 0;

    unsigned_token(token, "{\"alg\":\"none\"}",
                   format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
    token[strlen(token) - 1] = '\0';
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "three parts") != NULL);
    CHECK(user_id == 0);
    auth_free(&verifier);
}

static void rejects_alg_none_with_a_signature(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *good =
        sign_hs256(format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
    const char *case_variants[] = {"none", "None", "NONE", "nOnE"};
    char token[1024];
    char header[64];
    int64_t user_id = 0;

    /* A real HS256 signature is attached so only the alg is wrong. */
    for (size_t i = 0; i < 4; i++) {
        snprintf(header, sizeof(header), "{\"alg\":\"%s\"}", case_variants[i]);
        unsigned_token(token, header,
                       format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
        strcat(token, strrchr(good, '.') + 1);
        CHECK(verify(&verifier, token, &user_id) == -1);
        CHECK(strstr(last_reason, "is not the configured HS256") != NULL);
    }
    CHECK(user_id == 0);
    free(good);
    auth_free(&verifier);
}

static void rejects_alg_in_lower_case(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char token[1024];
    int64_t user_id = 0;

    sign_raw_hs256(token, "{\"alg\":\"hs256\"}",
                   format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "alg") != NULL);

    /* The same helper with the exact alg yields a token that passes. */
    sign_raw_hs256(token, "{\"alg\":\"HS256\"}",
                   format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == 0);
    CHECK(user_id == 14);
    auth_free(&verifier);
}

/*
 * The classic confusion attack: HS256 keyed with the RS256 or ES256
 * public key, which anyone can fetch. libjwt 1.10 alone accepts it.
 */
static void rejects_hs256_signed_with_public_key(void)
{
    struct auth_verifier rsa =
        make_verifier(AUTH_ALGORITHM_RS256, "rsa.pub", NULL, NULL, 0);
    struct auth_verifier ec =
        make_verifier(AUTH_ALGORITHM_ES256, "ec.pub", NULL, NULL, 0);
    char error[256];
    int64_t user_id = 0;
    char *forged_rsa =
        auth_mint_token(AUTH_ALGORITHM_HS256, rsa.key, rsa.key_length, 1,
                        now + 600, error, sizeof(error));
    char *forged_ec =
        auth_mint_token(AUTH_ALGORITHM_HS256, ec.key, ec.key_length, 1,
                        now + 600, error, sizeof(error));
    jwt_t *jwt = NULL;

    CHECK(forged_rsa != NULL);
    CHECK(forged_ec != NULL);

    /* Precondition: without the pin, libjwt verifies the forgery. */
    CHECK(jwt_decode(&jwt, forged_rsa, rsa.key, (int)rsa.key_length) == 0);
    jwt_free(jwt);

    CHECK(verify(&rsa, forged_rsa, &user_id) == -1);
    CHECK(strstr(last_reason, "alg HS256 is not the configured RS256") != NULL);
    CHECK(verify(&ec, forged_ec, &user_id) == -1);
    CHECK(strstr(last_reason, "alg HS256 is not the configured ES256") != NULL);
    CHECK(user_id == 0);
    free(forged_rsa);
    free(forged_ec);
    auth_free(&rsa);
    auth_free(&ec);
}

static void rejects_rs256_when_hs256_configured(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char error[256];
    int64_t user_id = 0;
    char *token =
        auth_mint_token(AUTH_ALGORITHM_RS256, rsa_private.data,
                        rsa_private.length, 3, now + 600, error, sizeof(error));

    CHECK(token != NULL);
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "alg RS256") != NULL);
    free(token);
    auth_free(&verifier);
}

static void rejects_es256_when_rs256_configured(void)
{
    struct auth_verifier verifier =
        make_verifier(AUTH_ALGORITHM_RS256, "rsa.pub", NULL, NULL, 0);
    char error[256];
    int64_t user_id = 0;
    char *token =
        auth_mint_token(AUTH_ALGORITHM_ES256, ec_private.data,
                        ec_private.length, 3, now + 600, error, sizeof(error));

    CHECK(token != NULL);
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "alg ES256") != NULL);
    free(token);
    auth_free(&verifier);
}

static void rejects_crit_header(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char token[1024];
    int64_t user_id = 0;

    sign_raw_hs256(token, "{\"alg\":\"HS256\",\"crit\":[\"x\"],\"x\":1}",
                   format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "crit") != NULL);
    auth_free(&verifier);
}

static void rejects_header_with_many_members(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char header[512] = "{\"alg\":\"HS256\"";
    char token[2048];
    int64_t user_id = 0;

    for (int i = 0; i < 16; i++) {
        snprintf(header + strlen(header), 16, ",\"h%d\":0", i);
    }
    strcat(header, "}");
    sign_raw_hs256(token, header,
                   format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "at most 16 members") != NULL);
    auth_free(&verifier);
}

/* --- signatures --- */

static void rejects_hs256_token_without_signature(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char token[512];
    int64_t user_id = 0;

    unsigned_token(token, "{\"alg\":\"HS256\"}",
                   format_claims(NONE_PAYLOAD_FORMAT, (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "has no signature") != NULL);
    auth_free(&verifier);
}

static void rejects_wrong_signature(void)
{
    struct auth_verifier verifier = hs256_verifier();
    const struct key_bytes other = {
        (unsigned char *)"another-secret-of-enough-length-0123456789", 42};
    char *token = sign_claims(
        JWT_ALG_HS256, &other,
        format_claims("{\"sub\":\"14\",\"exp\":%lld}", (long long)now + 60));
    int64_t user_id = 0;

    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "signature") != NULL);
    CHECK(user_id == 0);
    free(token);
    auth_free(&verifier);
}

static void rejects_payload_swapped_under_signature(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *token = sign_hs256(
        format_claims("{\"sub\":\"14\",\"exp\":%lld}", (long long)now + 60));
    char forged[1024];
    int64_t user_id = 0;

    /* Keep the real header and signature, claim to be user 15. */
    unsigned_token(
        forged, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        format_claims("{\"sub\":\"15\",\"exp\":%lld}", (long long)now + 60));
    strcat(forged, strrchr(token, '.') + 1);
    CHECK(verify(&verifier, forged, &user_id) == -1);
    CHECK(strstr(last_reason, "signature") != NULL);
    CHECK(user_id == 0);
    free(token);
    auth_free(&verifier);
}

static void rejects_duplicate_claims(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char token[1024];
    int64_t user_id = 0;

    sign_raw_hs256(token, "{\"alg\":\"HS256\"}",
                   format_claims("{\"sub\":\"1\",\"sub\":\"2\","
                                 "\"exp\":%lld}",
                                 (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "each named once") != NULL);
    CHECK(user_id == 0);
    auth_free(&verifier);
}

/* --- time claims --- */

static void rejects_token_without_exp(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *token = sign_hs256("{\"sub\":\"14\"}");
    int64_t user_id = 0;

    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "no exp") != NULL);
    free(token);
    auth_free(&verifier);
}

static void rejects_exp_that_is_a_string(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *token = sign_hs256(format_claims("{\"sub\":\"14\",\"exp\":\"%lld\"}",
                                           (long long)now + 60));
    int64_t user_id = 0;

    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "exp claim is not a number") != NULL);
    free(token);
    auth_free(&verifier);
}

static void rejects_expired_token(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *token = sign_hs256(
        format_claims("{\"sub\":\"14\",\"exp\":%lld}", (long long)now));
    int64_t user_id = 0;

    CHECK(verify_at(&verifier, token, now - 1, &user_id) == 0);
    CHECK(verify_at(&verifier, token, now, &user_id) == -1);
    CHECK(strstr(last_reason, "expired") != NULL);
    CHECK(verify_at(&verifier, token, now + 3600, &user_id) == -1);
    free(token);
    auth_free(&verifier);
}

static void accepts_expired_token_within_leeway(void)
{
    struct auth_verifier verifier =
        make_verifier(AUTH_ALGORITHM_HS256, "secret", NULL, NULL, 30);
    char *token = sign_hs256(
        format_claims("{\"sub\":\"14\",\"exp\":%lld}", (long long)now));
    int64_t user_id = 0;

    CHECK(verify_at(&verifier, token, now + 29, &user_id) == 0);
    CHECK(verify_at(&verifier, token, now + 30, &user_id) == -1);
    CHECK(strstr(last_reason, "expired") != NULL);
    free(token);
    auth_free(&verifier);
}

static void rejects_future_nbf_without_leeway(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *token =
        sign_hs256(format_claims("{\"sub\":\"14\",\"nbf\":%lld,\"exp\":%lld}",
                                 (long long)now + 10, (long long)now + 600));
    int64_t user_id = 0;

    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "not valid before") != NULL);
    CHECK(verify_at(&verifier, token, now + 10, &user_id) == 0);
    free(token);
    auth_free(&verifier);
}

static void accepts_future_nbf_within_leeway(void)
{
    struct auth_verifier verifier =
        make_verifier(AUTH_ALGORITHM_HS256, "secret", NULL, NULL, 30);
    char *near =
        sign_hs256(format_claims("{\"sub\":\"14\",\"nbf\":%lld,\"exp\":%lld}",
                                 (long long)now + 30, (long long)now + 600));
    char *far =
        sign_hs256(format_claims("{\"sub\":\"14\",\"nbf\":%lld,\"exp\":%lld}",
                                 (long long)now + 31, (long long)now + 600));
    int64_t user_id = 0;

    CHECK(verify(&verifier, near, &user_id) == 0);
    CHECK(verify(&verifier, far, &user_id) == -1);
    CHECK(strstr(last_reason, "not valid before") != NULL);
    free(near);
    free(far);
    auth_free(&verifier);
}

static void rejects_iat_in_the_future(void)
{
    struct auth_verifier verifier =
        make_verifier(AUTH_ALGORITHM_HS256, "secret", NULL, NULL, 30);
    char *future =
        sign_hs256(format_claims("{\"sub\":\"14\",\"iat\":%lld,\"exp\":%lld}",
                                 (long long)now + 31, (long long)now + 600));
    char *skewed =
        sign_hs256(format_claims("{\"sub\":\"14\",\"iat\":%lld,\"exp\":%lld}",
                                 (long long)now + 30, (long long)now + 600));
    int64_t user_id = 0;

    CHECK(verify(&verifier, future, &user_id) == -1);
    CHECK(strstr(last_reason, "issued in the future") != NULL);
    CHECK(verify(&verifier, skewed, &user_id) == 0);
    free(future);
    free(skewed);
    auth_free(&verifier);
}

/* --- iss and aud --- */

static void checks_issuer_when_configured(void)
{
    struct auth_verifier verifier = make_verifier(
        AUTH_ALGORITHM_HS256, "secret", "https://id.example", NULL, 0);
    char *right = sign_hs256(format_claims(
        "{\"sub\":\"1\",\"iss\":\"https://id.example\",\"exp\":%lld}",
        (long long)now + 60));
    char *wrong = sign_hs256(format_claims(
        "{\"sub\":\"1\",\"iss\":\"https://evil.example\",\"exp\":%lld}",
        (long long)now + 60));
    char *missing = sign_hs256(
        format_claims("{\"sub\":\"1\",\"exp\":%lld}", (long long)now + 60));
    int64_t user_id = 0;

    CHECK(verify(&verifier, right, &user_id) == 0);
    CHECK(verify(&verifier, wrong, &user_id) == -1);
    CHECK(strstr(last_reason, "iss") != NULL);
    CHECK(verify(&verifier, missing, &user_id) == -1);
    CHECK(strstr(last_reason, "iss") != NULL);
    free(right);
    free(wrong);
    free(missing);
    auth_free(&verifier);
}

static void checks_audience_string_or_array(void)
{
    struct auth_verifier verifier =
        make_verifier(AUTH_ALGORITHM_HS256, "secret", NULL, "fleetreg", 0);
    const char *accepted[] = {"\"fleetreg\"", "[\"billing\", \"fleetreg\"]"};
    const char *rejected[] = {"\"billing\"", "[\"billing\"]", "[]", "[1]",
                              "7",           "\"FLEETREG\""};
    int64_t user_id = 0;
    char *token;

    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        token =
            sign_hs256(format_claims("{\"sub\":\"1\",\"aud\":%s,\"exp\":%lld}",
                                     accepted[i], (long long)now + 60));
        CHECK(verify(&verifier, token, &user_id) == 0);
        free(token);
    }
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        token =
            sign_hs256(format_claims("{\"sub\":\"1\",\"aud\":%s,\"exp\":%lld}",
                                     rejected[i], (long long)now + 60));
        CHECK(verify(&verifier, token, &user_id) == -1);
        CHECK(strstr(last_reason, "aud") != NULL);
        free(token);
    }

    token = sign_hs256(
        format_claims("{\"sub\":\"1\",\"exp\":%lld}", (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    free(token);
    auth_free(&verifier);
}

/* --- sub --- */

static void rejects_each_bad_sub(void)
{
    struct auth_verifier verifier = hs256_verifier();
    const char *subs[] = {"\"\"",
                          "0",
                          "\"0\"",
                          "-1",
                          "\"-1\"",
                          "1.5",
                          "\"abc\"",
                          "\"9223372036854775808\"",
                          "\" 14\"",
                          "\"14 \"",
                          "\"014\"",
                          "\"+14\"",
                          "9007199254740993",
                          "true",
                          "null",
                          "[14]",
                          "{}",
                          "\"1e3\""};
    int64_t user_id = 0;
    char *token;

    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        token = sign_hs256(format_claims("{\"sub\":%s,\"exp\":%lld}", subs[i],
                                         (long long)now + 60));
        if (verify(&verifier, token, &user_id) != -1) {
            fprintf(stderr, "sub %s was accepted\n", subs[i]);
            CHECK(false);
        }
        CHECK(strstr(last_reason, "sub") != NULL);
        free(token);
    }

    token = sign_hs256(format_claims("{\"exp\":%lld}", (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "no sub") != NULL);
    free(token);
    CHECK(user_id == 0);
    auth_free(&verifier);
}

static void rejects_sub_number_rounded_by_double(void)
{
    struct auth_verifier verifier = hs256_verifier();
    const char *subs[] = {"1.0000000000000001",
                          "9007199254740990.9999",
                          "14.0",
                          "1e1",
                          "1E1",
                          "140e-1"};
    char token[1024];
    int64_t user_id = 0;

    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        sign_raw_hs256(token, "{\"alg\":\"HS256\"}",
                       format_claims("{\"sub\":%s,\"exp\":%lld}", subs[i],
                                     (long long)now + 60));
        if (verify(&verifier, token, &user_id) != -1) {
            fprintf(stderr, "sub %s was accepted\n", subs[i]);
            CHECK(false);
        }
        CHECK(strstr(last_reason, "sub") != NULL);
    }
    CHECK(user_id == 0);
    auth_free(&verifier);
}

static void reads_top_level_sub_text(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char token[1024];
    int64_t user_id = 0;

    sign_raw_hs256(token, "{\"alg\":\"HS256\"}",
                   format_claims("{\"ctx\":{\"sub\":99,\"l\":[1,\"}\"]},"
                                 "\"note\":\"a \\\"sub\\\": 7\","
                                 " \"sub\" : 14 ,\"exp\":%lld}",
                                 (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == 0);
    CHECK(user_id == 14);

    user_id = 0;
    sign_raw_hs256(
        token, "{\"alg\":\"HS256\"}",
        format_claims("{\"s\\u0075b\":14,\"exp\":%lld}", (long long)now + 60));
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(user_id == 0);
    auth_free(&verifier);
}

static void parses_user_id_strictly(void)
{
    const char *rejected[] = {"",
                              "0",
                              "-1",
                              "+1",
                              "014",
                              " 14",
                              "14 ",
                              "1.5",
                              "abc",
                              "1e3",
                              "9223372036854775808",
                              "99999999999999999999"};
    int64_t user_id = 0;

    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        if (auth_parse_user_id(rejected[i], &user_id) != -1) {
            fprintf(stderr, "user id \"%s\" was accepted\n", rejected[i]);
            CHECK(false);
        }
    }
    CHECK(auth_parse_user_id(NULL, &user_id) == -1);
    CHECK(user_id == 0);

    CHECK(auth_parse_user_id("1", &user_id) == 0);
    CHECK(user_id == 1);
    CHECK(auth_parse_user_id("9223372036854775807", &user_id) == 0);
    CHECK(user_id == INT64_MAX);
}

/* --- the Authorization header --- */

static void rejects_malformed_authorization(void)
{
    struct auth_verifier verifier = hs256_verifier();
    char *token = sign_hs256(
        format_claims("{\"sub\":\"14\",\"exp\":%lld}", (long long)now + 60));
    /* Text before and after the token, and the expected reason. */
    const char *shapes[][3] = {
        {"Bearer  ", "", "character"},   {"Bearer ", " ", "character"},
        {"Bearer ", "\"", "character"},  {"Bearer\t", "", "Bearer"},
        {"Basic ", "", "Bearer"},        {"", "", "Bearer"},
        {"Bearer", "", "Bearer"},        {"Token ", "", "Bearer"},
        {"Bearer ", ".", "three parts"}, {"Bearer .", "", "three parts"}};
    char header[1024];
    char reason[256];
    int64_t user_id = 0;

    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        snprintf(header, sizeof(header), "%s%s%s", shapes[i][0], token,
                 shapes[i][1]);
        if (auth_verify_bearer(&verifier, header, now, &user_id, reason,
                               sizeof(reason)) != -1) {
            fprintf(stderr, "header \"%s<token>%s\" was accepted\n",
                    shapes[i][0], shapes[i][1]);
            CHECK(false);
        }
        CHECK(strstr(reason, shapes[i][2]) != NULL);
        CHECK(strstr(reason, token) == NULL);
    }

    CHECK(auth_verify_bearer(&verifier, NULL, now, &user_id, reason,
                             sizeof(reason)) == -1);
    CHECK(auth_verify_bearer(&verifier, "", now, &user_id, reason,
                             sizeof(reason)) == -1);
    CHECK(auth_verify_bearer(&verifier, "Bearer ", now, &user_id, reason,
                             sizeof(reason)) == -1);
    CHECK(user_id == 0);
    free(token);
    auth_free(&verifier);
}

static void rejects_oversize_token_before_parsing(void)
{
    struct auth_verifier verifier;
    char path[128];
    char error[256];
    char reason[256];
    char header[1024];
    int64_t user_id = 0;
    char *token = sign_hs256(
        format_claims("{\"sub\":\"14\",\"exp\":%lld,\"pad\":\"%0200d\"}",
                      (long long)now + 60, 0));

    key_path(path, sizeof(path), "secret");
    CHECK(auth_init(&verifier, AUTH_ALGORITHM_HS256, path, NULL, NULL, 0,
                    strlen(token) - 1, error, sizeof(error)) == 0);
    CHECK(verify(&verifier, token, &user_id) == -1);
    CHECK(strstr(last_reason, "max_token_bytes") != NULL);
    verifier.max_token_bytes = strlen(token);
    CHECK(verify(&verifier, token, &user_id) == 0);

    /* Garbage past the limit is reported as too long, not as malformed. */
    verifier.max_token_bytes = 256;
    memset(header, '!', sizeof(header) - 1);
    header[sizeof(header) - 1] = '\0';
    memcpy(header, "Bearer ", 7);
    CHECK(auth_verify_bearer(&verifier, header, now, &user_id, reason,
                             sizeof(reason)) == -1);
    CHECK(strstr(reason, "max_token_bytes") != NULL);
    free(token);
    auth_free(&verifier);
}

/* --- key files --- */

static int init_with(enum auth_algorithm algorithm, const char *key_name,
                     char *error, size_t error_size)
{
    struct auth_verifier verifier;
    char path[128];
    int status;

    key_path(path, sizeof(path), key_name);
    status = auth_init(&verifier, algorithm, path, NULL, NULL, 0, 4096, error,
                       error_size);
    if (status == 0) {
        auth_free(&verifier);
    }
    return status;
}

static void strips_one_newline_from_secret(void)
{
    struct auth_verifier verifier = hs256_verifier();

    CHECK(verifier.key_length == strlen(SECRET));
    CHECK(memcmp(verifier.key, SECRET, strlen(SECRET)) == 0);
    auth_free(&verifier);
}

static void rejects_unusable_key_files(void)
{
    char error[256];

    CHECK(init_with(AUTH_ALGORITHM_HS256, "short", error, sizeof(error)) == -1);
    CHECK(strstr(error, "bytes") != NULL);
    CHECK(init_with(AUTH_ALGORITHM_HS256, "rsa.pub", error, sizeof(error)) ==
          -1);
    CHECK(strstr(error, "PEM") != NULL);
    CHECK(init_with(AUTH_ALGORITHM_RS256, "rsa.pem", error, sizeof(error)) ==
          -1);
    CHECK(strstr(error, "private key") != NULL);
    CHECK(init_with(AUTH_ALGORITHM_RS256, "ec.pub", error, sizeof(error)) ==
          -1);
    CHECK(init_with(AUTH_ALGORITHM_ES256, "rsa.pub", error, sizeof(error)) ==
          -1);
    CHECK(init_with(AUTH_ALGORITHM_ES256, "p384.pub", error, sizeof(error)) ==
          -1);
    CHECK(strstr(error, "P-256") != NULL);
    CHECK(init_with(AUTH_ALGORITHM_RS256, "secret", error, sizeof(error)) ==
          -1);
    CHECK(init_with(AUTH_ALGORITHM_HS256, "missing", error, sizeof(error)) ==
          -1);
    CHECK(strstr(error, "missing") != NULL);

    CHECK(init_with(AUTH_ALGORITHM_RS256, "rsa.pub", error, sizeof(error)) ==
          0);
    CHECK(init_with(AUTH_ALGORITHM_ES256, "ec.pub", error, sizeof(error)) == 0);
}

static void parses_algorithm_names(void)
{
    enum auth_algorithm algorithm = AUTH_ALGORITHM_HS256;

    CHECK(auth_algorithm_parse("RS256", &algorithm) == 0);
    CHECK(algorithm == AUTH_ALGORITHM_RS256);
    CHECK(auth_algorithm_parse("ES256", &algorithm) == 0);
    CHECK(algorithm == AUTH_ALGORITHM_ES256);
    CHECK(auth_algorithm_parse("HS256", &algorithm) == 0);
    CHECK(algorithm == AUTH_ALGORITHM_HS256);
    CHECK(auth_algorithm_parse("none", &algorithm) == -1);
    CHECK(auth_algorithm_parse("hs256", &algorithm) == -1);
    CHECK(auth_algorithm_parse("HS384", &algorithm) == -1);
    CHECK(auth_algorithm_parse(NULL, &algorithm) == -1);
}

static void mint_rejects_public_key_for_rs256(void)
{
    char error[256] = "";
    char *token =
        auth_mint_token(AUTH_ALGORITHM_RS256, rsa_public.data,
                        rsa_public.length, 1, now + 60, error, sizeof(error));

    CHECK(token == NULL);
    CHECK(strstr(error, "private key") != NULL);
    free(token);
}

int main(void)
{
    now = time(NULL);
    keys_create();

    RUN_TEST(accepts_hs256_token_minted_here);
    RUN_TEST(accepts_rs256_token_minted_here);
    RUN_TEST(accepts_es256_token_minted_here);
    RUN_TEST(treats_number_and_string_sub_alike);
    RUN_TEST(rejects_sub_number_rounded_by_double);
    RUN_TEST(reads_top_level_sub_text);
    RUN_TEST(accepts_largest_sub_values);
    RUN_TEST(accepts_lower_case_bearer_scheme);
    RUN_TEST(rejects_alg_none_with_trailing_dot);
    RUN_TEST(rejects_alg_none_without_trailing_dot);
    RUN_TEST(rejects_alg_none_with_a_signature);
    RUN_TEST(rejects_alg_in_lower_case);
    RUN_TEST(rejects_hs256_signed_with_public_key);
    RUN_TEST(rejects_rs256_when_hs256_configured);
    RUN_TEST(rejects_es256_when_rs256_configured);
    RUN_TEST(rejects_crit_header);
    RUN_TEST(rejects_header_with_many_members);
    RUN_TEST(rejects_hs256_token_without_signature);
    RUN_TEST(rejects_wrong_signature);
    RUN_TEST(rejects_payload_swapped_under_signature);
    RUN_TEST(rejects_duplicate_claims);
    RUN_TEST(rejects_token_without_exp);
    RUN_TEST(rejects_exp_that_is_a_string);
    RUN_TEST(rejects_expired_token);
    RUN_TEST(accepts_expired_token_within_leeway);
    RUN_TEST(rejects_future_nbf_without_leeway);
    RUN_TEST(accepts_future_nbf_within_leeway);
    RUN_TEST(rejects_iat_in_the_future);
    RUN_TEST(checks_issuer_when_configured);
    RUN_TEST(checks_audience_string_or_array);
    RUN_TEST(rejects_each_bad_sub);
    RUN_TEST(parses_user_id_strictly);
    RUN_TEST(rejects_malformed_authorization);
    RUN_TEST(rejects_oversize_token_before_parsing);
    RUN_TEST(strips_one_newline_from_secret);
    RUN_TEST(rejects_unusable_key_files);
    RUN_TEST(parses_algorithm_names);
    RUN_TEST(mint_rejects_public_key_for_rs256);

    free(rsa_private.data);
    free(rsa_public.data);
    free(ec_private.data);
    free(ec_public.data);
    keys_remove();
    return unit_finish();
}
