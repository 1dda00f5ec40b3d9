/*
 * libFuzzer target: auth_verify_bearer on raw and on self-signed tokens.
 *
 * An input that starts with '{' is a token header JSON, a newline, and
 * claims JSON: the target encodes and signs them with the HS256 secret,
 * so the claim checks behind the signature are reached too. Any other
 * input is a whole Authorization header value, verified by an HS256 and
 * an ES256 verifier.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define FUZZ_SECRET "fleetreg-fuzz-secret-0123456789abcdefghij"
#define FUZZ_ISSUER "https://id.example.com/"
#define FUZZ_AUDIENCE "fleetreg"
#define FUZZ_MAX_TOKEN_BYTES 4096

/* 2027-01-15; the seed tokens expire in 2030. */
#define FUZZ_NOW ((time_t)1800000000)

/*
 * A P-256 public key. Its private key signed the ES256 seeds and is not
 * kept in the repository.
 */
static const char FUZZ_EC_PUBLIC_KEY[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzTJkPqtyapVaK5wSejD9iE6ST0e6\n"
    "QJyC6VKUGMUVEkq6iCmey5O2uygjNbsqBFtyJ+l+XML2jQvEkYMR3K9upw==\n"
    "-----END PUBLIC KEY-----\n";

static struct auth_verifier fuzz_hs256;
static struct auth_verifier fuzz_es256;

static void fuzz_write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");

    if (file == NULL || fputs(text, file) == EOF || fclose(file) != 0) {
        fprintf(stderr, "fuzz_auth: cannot write %s\n", path);
        exit(2);
    }
}

/* Loads one verifier from text through a temporary key file. */
static void fuzz_load(struct auth_verifier *verifier,
                      enum auth_algorithm algorithm, const char *key_text)
{
    char folder[] = "/tmp/fleetreg-fuzz-auth-XXXXXX";
    char path[64];
    char error[256];

    if (mkdtemp(folder) == NULL) {
        perror("fuzz_auth: mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof(path), "%s/key", folder);
    fuzz_write_file(path, key_text);

    if (auth_init(verifier, algorithm, path, FUZZ_ISSUER, FUZZ_AUDIENCE, 30,
                  FUZZ_MAX_TOKEN_BYTES, error, sizeof(error)) != 0) {
        fprintf(stderr, "fuzz_auth: auth_init failed: %s\n", error);
        exit(2);
    }
    unlink(path);
    rmdir(folder);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_load(&fuzz_hs256, AUTH_ALGORITHM_HS256, FUZZ_SECRET "\n");
    fuzz_load(&fuzz_es256, AUTH_ALGORITHM_ES256, FUZZ_EC_PUBLIC_KEY);
    return 0;
}

/* Appends the unpadded base64url form of data at out; returns its end. */
static char *fuzz_base64url(char *out, const unsigned char *data, size_t length)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned long bits = 0;
    int bit_count = 0;

    for (size_t i = 0; i < length; i++) {
        bits = (bits << 8) | data[i];
        bit_count += 8;
        while (bit_count >= 6) {
            bit_count -= 6;
            *out++ = alphabet[(bits >> bit_count) & 0x3f];
        }
        bits &= (1UL << bit_count) - 1;
    }
    if (bit_count > 0) {
        *out++ = alphabet[(bits << (6 - bit_count)) & 0x3f];
    }
    *out = '\0';
    return out;
}

/*
 * Builds "Bearer <header>.<claims>.<HMAC-SHA256>" from the two JSON texts
 * around the first newline. Returns a malloc'ed string.
 */
static char *fuzz_sign(const uint8_t *data, size_t size)
{
    const uint8_t *newline = memchr(data, '\n', size);
    size_t header_length = newline != NULL ? (size_t)(newline - data) : size;
    size_t claims_length = newline != NULL ? size - header_length - 1 : 0;
    char *text = malloc(7 + (size + 64) * 4 / 3 + 8);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length = 0;
    char *end;

    if (text == NULL) {
        abort();
    }
    strcpy(text, "Bearer ");
    end = fuzz_base64url(text + 7, data, header_length);
    *end++ = '.';
    end = fuzz_base64url(end, newline != NULL ? newline + 1 : data,
                         claims_length);

    HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET),
         (const unsigned char *)text + 7, (size_t)(end - (text + 7)), mac,
         &mac_length);
    *end++ = '.';
    fuzz_base64url(end, mac, mac_length);
    return text;
}

/* Aborts, so that libFuzzer keeps the input, on a broken contract. */
static void fuzz_verify(const struct auth_verifier *verifier,
                        const char *authorization)
{
    char reason[256];
    int64_t user_id = 0;

    reason[0] = '\0';
    if (auth_verify_bearer(verifier, authorization, FUZZ_NOW, &user_id, reason,
                           sizeof(reason)) == 0) {
        if (user_id < 1) {
            abort();
        }
    } else if (reason[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *authorization;

    if (size > 0 && data[0] == '{') {
        authorization = fuzz_sign(data, size);
        fuzz_verify(&fuzz_hs256, authorization);
        free(authorization);
        return 0;
    }

    authorization = malloc(size + 1);
    if (authorization == NULL) {
        abort();
    }
    memcpy(authorization, data, size);
    authorization[size] = '\0';

    fuzz_verify(&fuzz_hs256, authorization);
    fuzz_verify(&fuzz_es256, authorization);
    free(authorization);
    return 0;
}
