/* fleetreg-admin token: mints a development bearer token from a key file. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "admin.h"
#include "auth.h"
#include "config.h"

#define TOKEN_EXIT_FAILED 1
#define TOKEN_EXIT_USAGE 64

#define TOKEN_DEFAULT_TTL_SECONDS 3600L
#define TOKEN_MAX_TTL_SECONDS 31536000L

/* Largest key file read, the same bound as the verifier uses. */
#define TOKEN_KEY_FILE_MAX 65536

/* Shortest HS256 secret that the verifier accepts (RFC 7518 section 3.2). */
#define TOKEN_MIN_SECRET_BYTES 32

/* The command line, and the settings taken from the configuration. */
struct token_request {
    int64_t user_id;
    bool has_user_id;
    char key_file[CONFIG_STRING_MAX];
    enum auth_algorithm algorithm;
    bool has_algorithm;
    long ttl_seconds;
    char issuer[256];
    char audience[256];
};

static const char TOKEN_USAGE[] =
    "Usage: fleetreg-admin token --sub N [--key-file FILE]\n"
    "                            [--algorithm HS256|RS256|ES256]\n"
    "                            [--ttl SECONDS]\n"
    "\n"
    "Prints a bearer token for user N on standard output, signed like the\n"
    "tokens the service accepts. Meant for development and tests.\n"
    "\n"
    "  --sub N            user id, 1 to 9223372036854775807 (required)\n"
    "  --key-file FILE    HS256 secret file, or for RS256 and ES256 the\n"
    "                     PEM private key (default: jwt_key_file)\n"
    "  --algorithm ALG    HS256, RS256 or ES256 (default: jwt_algorithm)\n"
    "  --ttl SECONDS      lifetime of the token, 1 to 31536000\n"
    "                     (default: 3600)\n"
    "  --help             print this help\n"
    "\n"
    "The token carries the iss and aud that the configuration requires.\n";

static int token_usage_error(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints a usage error and returns its exit status. */
static int token_usage_error(const char *format, ...)
{
    va_list arguments;

    fputs("fleetreg-admin token: ", stderr);
    va_start(arguments, format);
    vfprintf(stderr, format, arguments);
    va_end(arguments);
    fputs("; see 'fleetreg-admin token --help'\n", stderr);
    return TOKEN_EXIT_USAGE;
}

static int token_parse_ttl(const char *text, long *ttl_seconds)
{
    char *end = NULL;
    long value;

    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }

    value = strtol(text, &end, 10);
    if (*end != '\0' || value < 1 || value > TOKEN_MAX_TTL_SECONDS) {
        return -1;
    }

    *ttl_seconds = value;
    return 0;
}

/* Applies one option. Returns 0, or the exit status of a usage error. */
static int token_apply_option(struct token_request *request, int option,
                              const char *value)
{
    switch (option) {
    case 's':
        if (auth_parse_user_id(value, &request->user_id) != 0) {
            return token_usage_error("invalid --sub \"%s\": use a user id "
                                     "from 1 to 9223372036854775807 in "
                                     "plain digits",
                                     value);
        }
        request->has_user_id = true;
        return 0;
    case 'k':
        if (strlen(value) >= sizeof(request->key_file) || value[0] == '\0') {
            return token_usage_error("invalid --key-file \"%s\": give the "
                                     "path of the key file",
                                     value);
        }
        snprintf(request->key_file, sizeof(request->key_file), "%s", value);
        return 0;
    case 'a':
        if (auth_algorithm_parse(value, &request->algorithm) != 0) {
            return token_usage_error("invalid --algorithm \"%s\": use "
                                     "HS256, RS256 or ES256",
                                     value);
        }
        request->has_algorithm = true;
        return 0;
    case 't':
        if (token_parse_ttl(value, &request->ttl_seconds) != 0) {
            return token_usage_error("invalid --ttl \"%s\": use whole "
                                     "seconds from 1 to 31536000",
                                     value);
        }
        return 0;
    }
    return TOKEN_EXIT_USAGE;
}

/*
 * Parses argv (argv[0] is "token"). Returns -1 to go on, or the exit
 * status: 0 after --help, TOKEN_EXIT_USAGE after a usage error.
 */
static int token_parse_arguments(int argc, char **argv,
                                 struct token_request *request)
{
    static const struct option options[] = {
        {"sub", required_argument, NULL, 's'},
        {"key-file", required_argument, NULL, 'k'},
        {"algorithm", required_argument, NULL, 'a'},
        {"ttl", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int option;

    /* optind 0 makes GNU getopt start over, since argv is a sub-array. */
    optind = 0;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        int status;

        if (option == 'h') {
            fputs(TOKEN_USAGE, stdout);
            return 0;
        }
        if (option == ':') {
            return token_usage_error("option \"%s\" needs a value",
                                     argv[optind - 1]);
        }
        if (option == '?') {
            return token_usage_error("unknown option \"%s\"", argv[optind - 1]);
        }

        status = token_apply_option(request, option, optarg);
        if (status != 0) {
            return status;
        }
    }

    if (optind < argc) {
        return token_usage_error("unexpected argument \"%s\"", argv[optind]);
    }
    if (!request->has_user_id) {
        return token_usage_error("missing --sub: give the user id the "
                                 "token is for");
    }
    return -1;
}

static const char *token_algorithm_name(enum auth_algorithm algorithm)
{
    switch (algorithm) {
    case AUTH_ALGORITHM_RS256: return "RS256";
    case AUTH_ALGORITHM_ES256: return "ES256";
    case AUTH_ALGORITHM_HS256: break;
    }
    return "HS256";
}

/*
 * Fills the key file and algorithm that the command line left out, and
 * the issuer and audience, from the configuration. Returns 0, or -1
 * after printing why.
 */
static int token_apply_config(struct token_request *request)
{
    struct config config;
    char error[512];
    bool needed = request->key_file[0] == '\0' || !request->has_algorithm;

    /*
     * Options override the configuration the way environment variables
     * do, so that a missing default key file does not fail the load.
     */
    if (request->key_file[0] != '\0') {
        setenv("FLEETREG_JWT_KEY_FILE", request->key_file, 1);
    }
    if (request->has_algorithm) {
        setenv("FLEETREG_JWT_ALGORITHM",
               token_algorithm_name(request->algorithm), 1);
    }

    if (config_load(&config, NULL, error, sizeof(error)) != 0) {
        if (needed) {
            fprintf(stderr,
                    "fleetreg-admin token: cannot load the "
                    "configuration (%s); fix it, or pass --key-file and "
                    "--algorithm\n",
                    error);
            return -1;
        }
        fprintf(stderr,
                "fleetreg-admin token: warning: configuration not "
                "loaded (%s), so the token has no iss or aud\n",
                error);
        return 0;
    }

    if (request->key_file[0] == '\0') {
        snprintf(request->key_file, sizeof(request->key_file), "%s",
                 config.jwt_key_file);
    }
    if (!request->has_algorithm) {
        request->algorithm = config.jwt_algorithm;
        request->has_algorithm = true;
    }
    snprintf(request->issuer, sizeof(request->issuer), "%s", config.jwt_issuer);
    snprintf(request->audience, sizeof(request->audience), "%s",
             config.jwt_audience);
    return 0;
}

/* Reads the key file into a malloc'ed, NUL-terminated buffer. */
static unsigned char *token_read_key(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    unsigned char *key;

    if (file == NULL) {
        fprintf(stderr,
                "fleetreg-admin token: cannot open key file \"%s\": "
                "%s; pass --key-file with a readable key\n",
                path, strerror(errno));
        return NULL;
    }

    key = malloc(TOKEN_KEY_FILE_MAX + 1);
    *length = key != NULL ? fread(key, 1, TOKEN_KEY_FILE_MAX + 1, file) : 0;
    if (key == NULL || ferror(file) || *length > TOKEN_KEY_FILE_MAX) {
        fprintf(stderr,
                "fleetreg-admin token: cannot read key file \"%s\" "
                "(read failed, or larger than %d bytes)\n",
                path, TOKEN_KEY_FILE_MAX);
        fclose(file);
        free(key);
        return NULL;
    }

    fclose(file);
    key[*length] = '\0';
    return key;
}

/*
 * Checks that the key suits the algorithm, with the same secret rule as
 * the verifier: a secret file's bytes, less one trailing newline.
 */
static int token_check_key(const struct token_request *request,
                           unsigned char *key, size_t *length)
{
    const char *text = (const char *)key;

    if (request->algorithm == AUTH_ALGORITHM_HS256) {
        if (*length > 0 && key[*length - 1] == '\n') {
            key[--*length] = '\0';
        }
        if (strstr(text, "-----BEGIN") != NULL || *length == 0) {
            fprintf(stderr,
                    "fleetreg-admin token: key file \"%s\" is empty "
                    "or a PEM key, but HS256 needs the shared secret; pass "
                    "--key-file with the secret or --algorithm RS256 or "
                    "ES256\n",
                    request->key_file);
            return -1;
        }
        if (*length < TOKEN_MIN_SECRET_BYTES) {
            fprintf(stderr,
                    "fleetreg-admin token: HS256 secret in \"%s\" "
                    "is %zu bytes, fewer than the %d the service accepts\n",
                    request->key_file, *length, TOKEN_MIN_SECRET_BYTES);
            return -1;
        }
        return 0;
    }

    if (strstr(text, "PRIVATE KEY-----") == NULL) {
        fprintf(stderr,
                "fleetreg-admin token: key file \"%s\" has no PEM "
                "private key, but signing with %s needs one; pass "
                "--key-file with the private key that matches the "
                "service's public key\n",
                request->key_file, token_algorithm_name(request->algorithm));
        return -1;
    }
    return 0;
}

static jwt_alg_t token_jwt_algorithm(enum auth_algorithm algorithm)
{
    switch (algorithm) {
    case AUTH_ALGORITHM_RS256: return JWT_ALG_RS256;
    case AUTH_ALGORITHM_ES256: return JWT_ALG_ES256;
    case AUTH_ALGORITHM_HS256: break;
    }
    return JWT_ALG_HS256;
}

/*
 * Signs the token with libjwt directly rather than auth_mint_token(),
 * because it also carries iat and the configured iss and aud.
 */
static char *token_sign(const struct token_request *request,
                        const unsigned char *key, size_t length)
{
    time_t now = time(NULL);
    char subject[32];
    jwt_t *jwt = NULL;
    char *token = NULL;
    int status;

    if (jwt_new(&jwt) != 0) {
        return NULL;
    }

    snprintf(subject, sizeof(subject), "%lld", (long long)request->user_id);
    status = jwt_add_grant(jwt, "sub", subject);
    status |= jwt_add_grant_int(jwt, "iat", (long)now);
    status |= jwt_add_grant_int(jwt, "exp", (long)now + request->ttl_seconds);
    if (request->issuer[0] != '\0') {
        status |= jwt_add_grant(jwt, "iss", request->issuer);
    }
    if (request->audience[0] != '\0') {
        status |= jwt_add_grant(jwt, "aud", request->audience);
    }
    if (status == 0 && jwt_set_alg(jwt, token_jwt_algorithm(request->algorithm),
                                   key, (int)length) == 0) {
        token = jwt_encode_str(jwt);
    }

    jwt_free(jwt);
    return token;
}

int admin_token_main(int argc, char **argv)
{
    struct token_request request = {
        .ttl_seconds = TOKEN_DEFAULT_TTL_SECONDS,
    };
    unsigned char *key;
    size_t length = 0;
    char *token;
    int status;

    status = token_parse_arguments(argc, argv, &request);
    if (status >= 0) {
        return status;
    }
    if (token_apply_config(&request) != 0) {
        return TOKEN_EXIT_FAILED;
    }

    key = token_read_key(request.key_file, &length);
    if (key == NULL) {
        return TOKEN_EXIT_FAILED;
    }

    token = NULL;
    if (token_check_key(&request, key, &length) == 0) {
        token = token_sign(&request, key, length);
        if (token == NULL) {
            fprintf(stderr,
                    "fleetreg-admin token: signing failed; check "
                    "that \"%s\" is a valid key for the algorithm\n",
                    request.key_file);
        }
    }
    explicit_bzero(key, length);
    free(key);

    if (token == NULL) {
        return TOKEN_EXIT_FAILED;
    }

    printf("%s\n", token);
    free(token);
    return fflush(stdout) == 0 ? 0 : TOKEN_EXIT_FAILED;
}
