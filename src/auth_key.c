/* Key-file loading for auth_init: HS256 secrets and PEM public keys. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_key.h"

/* Largest key file read. A 4096-bit RSA public key PEM is about 800 bytes. */
#define AUTH_KEY_FILE_MAX 65536

/* RFC 7518 section 3.2: an HS256 key must be at least 256 bits long. */
#define AUTH_HS256_MIN_SECRET_BYTES 32

/* DER object identifiers that mark a public key's type and curve. */
static const unsigned char AUTH_OID_RSA[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                             0xf7, 0x0d, 0x01, 0x01, 0x01};
static const unsigned char AUTH_OID_EC[] = {0x06, 0x07, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x02, 0x01};
static const unsigned char AUTH_OID_P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                              0xce, 0x3d, 0x03, 0x01, 0x07};

static const char AUTH_PEM_PUBLIC_BEGIN[] = "-----BEGIN PUBLIC KEY-----";
static const char AUTH_PEM_PUBLIC_END[] = "-----END PUBLIC KEY-----";

static bool auth_bytes_contain(const unsigned char *data, size_t length,
                               const unsigned char *needle,
                               size_t needle_length)
{
    if (needle_length > length) {
        return false;
    }

    for (size_t i = 0; i + needle_length <= length; i++) {
        if (memcmp(data + i, needle, needle_length) == 0) {
            return true;
        }
    }
    return false;
}

/* Reads the whole file into a NUL-terminated malloc'ed buffer. */
static int auth_read_file(const char *path, unsigned char **data,
                          size_t *length, char *error, size_t error_size)
{
    FILE *file = fopen(path, "rb");
    unsigned char *buffer;
    size_t used;

    if (file == NULL) {
        return auth_fail(error, error_size,
                         "cannot open key file \"%s\": %s; check "
                         "jwt_key_file and the file's permissions",
                         path, strerror(errno));
    }

    buffer = malloc(AUTH_KEY_FILE_MAX + 1);
    if (buffer == NULL) {
        fclose(file);
        return auth_fail(error, error_size, "out of memory reading \"%s\"",
                         path);
    }

    used = fread(buffer, 1, AUTH_KEY_FILE_MAX + 1, file);
    if (ferror(file) || used > AUTH_KEY_FILE_MAX) {
        bool too_big = !ferror(file);
        int read_errno = errno;

        fclose(file);
        free(buffer);
        if (too_big) {
            return auth_fail(error, error_size,
                             "key file \"%s\" is larger than %d bytes; "
                             "point jwt_key_file at the key itself",
                             path, AUTH_KEY_FILE_MAX);
        }
        return auth_fail(error, error_size,
                         "cannot read key file \"%s\": %s; point "
                         "jwt_key_file at a readable file, not a folder",
                         path, strerror(read_errno));
    }

    fclose(file);
    buffer[used] = '\0';
    *data = buffer;
    *length = used;
    return 0;
}

static int auth_check_secret(const char *path, unsigned char *key,
                             size_t *length, char *error, size_t error_size)
{
    /* The file's bytes are the secret, less one trailing newline. */
    if (*length > 0 && key[*length - 1] == '\n') {
        key[--*length] = '\0';
    }

    if (*length >= 10 && memcmp(key, "-----BEGIN", 10) == 0) {
        return auth_fail(error, error_size,
                         "key file \"%s\" holds a PEM key, but HS256 needs "
                         "a shared secret; set jwt_algorithm to RS256 or "
                         "ES256, or point jwt_key_file at the secret",
                         path);
    }

    if (*length < AUTH_HS256_MIN_SECRET_BYTES) {
        return auth_fail(error, error_size,
                         "HS256 secret in \"%s\" is %zu bytes, fewer than "
                         "the %d that HS256 needs; generate one with "
                         "'head -c 32 /dev/urandom | base64 > FILE'",
                         path, *length, AUTH_HS256_MIN_SECRET_BYTES);
    }
    return 0;
}

/*
 * Decodes the DER body of a "PUBLIC KEY" PEM (SubjectPublicKeyInfo, the
 * only form libjwt reads) into a malloc'ed buffer. Returns 0, or -1.
 */
static int auth_pem_public_der(const char *pem, unsigned char **der,
                               size_t *der_length)
{
    const char *begin = strstr(pem, AUTH_PEM_PUBLIC_BEGIN);
    const char *end;

    if (begin == NULL) {
        return -1;
    }

    begin += strlen(AUTH_PEM_PUBLIC_BEGIN);
    end = strstr(begin, AUTH_PEM_PUBLIC_END);
    if (end == NULL) {
        return -1;
    }

    *der = malloc((size_t)(end - begin) * 3 / 4 + 1);
    if (*der == NULL) {
        return -1;
    }

    if (auth_base64_decode(begin, (size_t)(end - begin), false, *der,
                           der_length) != 0 ||
        *der_length == 0) {
        free(*der);
        *der = NULL;
        return -1;
    }
    return 0;
}

/*
 * Checks that the PEM is a public key of the algorithm's type, so that a
 * wrong file stops the start instead of failing every request later.
 * The check looks for the key type's object identifier in the DER, while
 * OpenSSL inside libjwt parses the key itself on each verification.
 */
static int auth_check_public_key(enum auth_algorithm algorithm,
                                 const char *path, const unsigned char *key,
                                 char *error, size_t error_size)
{
    const char *name = auth_algorithm_name(algorithm);
    unsigned char *der = NULL;
    size_t der_length = 0;
    bool matches;

    if (strstr((const char *)key, "PRIVATE KEY") != NULL) {
        return auth_fail(error, error_size,
                         "key file \"%s\" holds a private key; give the "
                         "service only the public key, extracted with "
                         "'openssl pkey -in FILE -pubout'",
                         path);
    }

    if (auth_pem_public_der((const char *)key, &der, &der_length) != 0) {
        return auth_fail(error, error_size,
                         "key file \"%s\" holds no PEM \"PUBLIC KEY\" block; "
                         "%s needs a public key such as 'openssl pkey -in "
                         "FILE -pubout' writes",
                         path, name);
    }

    if (algorithm == AUTH_ALGORITHM_RS256) {
        matches = auth_bytes_contain(der, der_length, AUTH_OID_RSA,
                                     sizeof(AUTH_OID_RSA));
    } else {
        matches = auth_bytes_contain(der, der_length, AUTH_OID_EC,
                                     sizeof(AUTH_OID_EC)) &&
                  auth_bytes_contain(der, der_length, AUTH_OID_P256,
                                     sizeof(AUTH_OID_P256));
    }
    free(der);

    if (!matches) {
        return auth_fail(
            error, error_size,
            "key file \"%s\" is not a%s public key; %s needs %s", path,
            algorithm == AUTH_ALGORITHM_RS256 ? "n RSA" : " P-256", name,
            algorithm == AUTH_ALGORITHM_RS256
                ? "an RSA key"
                : "an EC key on curve P-256 (prime256v1)");
    }
    return 0;
}

int auth_key_load(enum auth_algorithm algorithm, const char *path,
                  unsigned char **key, size_t *key_length, char *error,
                  size_t error_size)
{
    int status;

    if (auth_read_file(path, key, key_length, error, error_size) != 0) {
        return -1;
    }

    if (algorithm == AUTH_ALGORITHM_HS256) {
        status = auth_check_secret(path, *key, key_length, error, error_size);
    } else {
        status =
            auth_check_public_key(algorithm, path, *key, error, error_size);
    }
    if (status != 0) {
        free(*key);
        *key = NULL;
        return -1;
    }
    return 0;
}
