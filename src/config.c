/* The settings table, the configuration file parser and the env overrides. */
#include <ctype.h>
#include <grp.h>
#include <stddef.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

enum config_type {
    CONFIG_STRING,
    CONFIG_INTEGER,
    CONFIG_OCTAL,
    CONFIG_ALGORITHM,
    CONFIG_LOG_LEVEL
};

/* One setting: how to parse it, where it goes, its range and its meaning. */
struct config_key {
    const char *name;
    enum config_type type;
    size_t offset;
    size_t size; /* buffer size for strings */
    const char *default_value;
    long minimum; /* integers only */
    long maximum;
    int reloadable; /* SIGHUP applies it without a restart */
    int secret;     /* never printed or logged */
    const char *help;
};

#define CONFIG_FIELD(field)                                                    \
    offsetof(struct config, field), sizeof(((struct config *)0)->field)

static const struct config_key config_keys[] = {
    {"listen", CONFIG_STRING, CONFIG_FIELD(listen),
     "/run/fleetreg/fleetreg.sock", 0, 0, 0, 0,
     "FastCGI unix socket path; ignored when systemd passes a socket"},
    {"socket_mode", CONFIG_OCTAL, CONFIG_FIELD(socket_mode), "0660", 0600, 0666,
     0, 0, "permission bits of the socket (octal)"},
    {"socket_group", CONFIG_STRING, CONFIG_FIELD(socket_group), "", 0, 0, 0, 0,
     "group given the socket, normally nginx's; empty keeps ours"},
    {"workers", CONFIG_INTEGER, CONFIG_FIELD(workers), "0", 0, 512, 1, 0,
     "worker processes; 0 means one per CPU"},
    {"database", CONFIG_STRING, CONFIG_FIELD(database),
     "host=/run/postgresql port=6432 dbname=fleetreg user=fleetreg_app", 0, 0,
     1, 1, "libpq connection string, normally to pgbouncer"},
    {"connect_timeout", CONFIG_INTEGER, CONFIG_FIELD(connect_timeout_seconds),
     "2", 1, 60, 1, 0, "seconds to wait for a database connection"},
    {"statement_timeout", CONFIG_INTEGER, CONFIG_FIELD(statement_timeout_ms),
     "3000", 100, 600000, 1, 0,
     "milliseconds one statement may run (SET LOCAL per transaction)"},
    {"db_retries", CONFIG_INTEGER, CONFIG_FIELD(db_retries), "3", 0, 20, 1, 0,
     "retries of an operation after a lost connection or conflict"},
    {"db_backoff_max", CONFIG_INTEGER, CONFIG_FIELD(db_backoff_max_ms), "1000",
     10, 60000, 1, 0, "cap of the reconnect backoff (ms)"},
    {"request_timeout", CONFIG_INTEGER, CONFIG_FIELD(request_timeout_ms),
     "8000", 500, 600000, 1, 0,
     "milliseconds of database work one "
     "request may take, retries included, before it gets a 503"},
    {"retry_after", CONFIG_INTEGER, CONFIG_FIELD(retry_after_seconds), "2", 1,
     3600, 1, 0, "Retry-After seconds sent with 503"},
    {"require_unique_constraint", CONFIG_INTEGER,
     CONFIG_FIELD(require_unique_constraint), "1", 0, 1, 0, 0,
     "1 refuses to start without UNIQUE (user_id) on both tables"},
    {"jwt_algorithm", CONFIG_ALGORITHM, CONFIG_FIELD(jwt_algorithm), "HS256", 0,
     0, 1, 0,
     "the only token algorithm accepted: HS256, "
     "RS256 or ES256"},
    {"jwt_key_file", CONFIG_STRING, CONFIG_FIELD(jwt_key_file),
     "/etc/fleetreg/jwt.key", 0, 0, 1, 0,
     "HS256 secret file, or PEM public key for RS256 and ES256"},
    {"jwt_issuer", CONFIG_STRING, CONFIG_FIELD(jwt_issuer), "", 0, 0, 1, 0,
     "required iss claim; empty skips the check"},
    {"jwt_audience", CONFIG_STRING, CONFIG_FIELD(jwt_audience), "", 0, 0, 1, 0,
     "required aud claim; empty skips the check"},
    {"jwt_leeway", CONFIG_INTEGER, CONFIG_FIELD(jwt_leeway_seconds), "30", 0,
     600, 1, 0, "seconds of clock skew allowed for exp and nbf"},
    {"max_token_bytes", CONFIG_INTEGER, CONFIG_FIELD(max_token_bytes), "4096",
     256, 65536, 1, 0, "longer bearer tokens are rejected"},
    {"max_body_bytes", CONFIG_INTEGER, CONFIG_FIELD(max_body_bytes), "16384",
     64, 1048576, 1, 0, "largest request body accepted"},
    {"max_params", CONFIG_INTEGER, CONFIG_FIELD(max_params), "128", 16, 4096, 1,
     0, "most FastCGI parameters one request may carry"},
    {"max_param_bytes", CONFIG_INTEGER, CONFIG_FIELD(max_param_bytes), "16384",
     1024, 1048576, 1, 0, "longest FastCGI name=value pair"},
    {"shutdown_timeout", CONFIG_INTEGER, CONFIG_FIELD(shutdown_timeout_seconds),
     "10", 1, 3600, 1, 0,
     "seconds workers get to finish on SIGTERM before SIGKILL"},
    {"log_level", CONFIG_LOG_LEVEL, CONFIG_FIELD(log_level), "info", 0, 0, 1, 0,
     "error, warning, info or debug"},
};

#define CONFIG_KEY_COUNT (sizeof(config_keys) / sizeof(*config_keys))

static int config_error(char *error, size_t error_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int config_error(char *error, size_t error_size, const char *format, ...)
{
    va_list arguments;

    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
    return -1;
}

static const struct config_key *config_find_key(const char *name)
{
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        if (strcmp(config_keys[i].name, name) == 0) {
            return &config_keys[i];
        }
    }
    return NULL;
}

static int config_parse_long(const char *text, int base, long *out)
{
    char *end;

    if (text[0] == '\0' || isspace((unsigned char)text[0])) {
        return -1;
    }
    errno = 0;
    *out = strtol(text, &end, base);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

static int config_set_number(const struct config_key *key, void *field,
                             const char *value, const char *origin, char *error,
                             size_t error_size)
{
    int base = key->type == CONFIG_OCTAL ? 8 : 10;
    long number;

    if (config_parse_long(value, base, &number) != 0 || number < key->minimum ||
        number > key->maximum) {
        return config_error(
            error, error_size,
            key->type == CONFIG_OCTAL
                ? "%s: invalid %s \"%s\": expected an octal mode "
                  "from %lo to %lo"
                : "%s: invalid %s \"%s\": expected an integer "
                  "from %ld to %ld",
            origin, key->name, value, key->minimum, key->maximum);
    }
    *(int *)field = (int)number;
    return 0;
}

/* Parses value into the field of key. origin names the source in errors. */
static int config_set_value(struct config *config, const struct config_key *key,
                            const char *value, const char *origin, char *error,
                            size_t error_size)
{
    void *field = (char *)config + key->offset;

    switch (key->type) {
    case CONFIG_STRING:
        if (strlen(value) >= key->size) {
            return config_error(error, error_size,
                                "%s: %s is too long: "
                                "at most %zu bytes",
                                origin, key->name, key->size - 1);
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case CONFIG_INTEGER:
    case CONFIG_OCTAL:
        return config_set_number(key, field, value, origin, error, error_size);
    case CONFIG_ALGORITHM:
        if (auth_algorithm_parse(value, field) != 0) {
            return config_error(error, error_size,
                                "%s: invalid %s \"%s\": "
                                "expected HS256, RS256 or ES256",
                                origin, key->name, value);
        }
        return 0;
    case CONFIG_LOG_LEVEL:
        if (log_level_parse(value, field) != 0) {
            return config_error(error, error_size,
                                "%s: invalid %s \"%s\": "
                                "expected error, warning, info or debug",
                                origin, key->name, value);
        }
        return 0;
    }
    return config_error(error, error_size, "%s: %s has an unknown type", origin,
                        key->name);
}

void config_set_defaults(struct config *config)
{
    char unused[256];

    memset(config, 0, sizeof(*config));
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        /* Defaults are constants checked by the unit tests. */
        (void)config_set_value(config, &config_keys[i],
                               config_keys[i].default_value, "default", unused,
                               sizeof(unused));
    }
}

static char *config_trim(char *text)
{
    char *end;

    while (isspace((unsigned char)*text)) {
        text++;
    }
    end = text + strlen(text);
    while (end > text && isspace((unsigned char)end[-1])) {
        *--end = '\0';
    }
    return text;
}

/*
 * Handles one "key = value" line; comments and blank lines are skipped.
 * seen_at holds, per key, the line that set it, so that a key set twice
 * is an error instead of a silent override.
 */
static int config_parse_line(struct config *config, char *line,
                             unsigned line_number, unsigned *seen_at,
                             const char *origin, char *error, size_t error_size)
{
    char *equals;
    char *name;
    char *value;
    const struct config_key *key;

    line = config_trim(line);
    if (line[0] == '\0' || line[0] == '#') {
        return 0;
    }

    equals = strchr(line, '=');
    if (equals == NULL) {
        return config_error(error, error_size,
                            "%s: expected \"key = "
                            "value\", got \"%s\"",
                            origin, line);
    }
    *equals = '\0';
    name = config_trim(line);
    value = config_trim(equals + 1);

    key = config_find_key(name);
    if (key == NULL) {
        return config_error(error, error_size,
                            "%s: unknown key \"%s\"; "
                            "see fleetreg --help for the keys",
                            origin, name);
    }
    if (seen_at[key - config_keys] != 0) {
        return config_error(error, error_size,
                            "%s: %s is already set on "
                            "line %u; keep one of the two lines",
                            origin, name, seen_at[key - config_keys]);
    }
    seen_at[key - config_keys] = line_number;
    return config_set_value(config, key, value, origin, error, error_size);
}

static int config_read_file(struct config *config, const char *path,
                            char *error, size_t error_size)
{
    char line[CONFIG_STRING_MAX * 2];
    char origin[CONFIG_STRING_MAX + 32];
    unsigned seen_at[CONFIG_KEY_COUNT] = {0};
    unsigned line_number = 0;
    FILE *file = fopen(path, "r");
    struct stat status_of_file;
    int status = 0;

    if (file == NULL) {
        return config_error(error, error_size,
                            "cannot open configuration "
                            "file %s: %s",
                            path, strerror(errno));
    }
    if (fstat(fileno(file), &status_of_file) == 0 &&
        !S_ISREG(status_of_file.st_mode)) {
        fclose(file);
        return config_error(error, error_size,
                            "configuration file %s is "
                            "not a regular file; pass the file itself",
                            path);
    }

    while (status == 0 && fgets(line, sizeof(line), file) != NULL) {
        line_number++;
        snprintf(origin, sizeof(origin), "%s:%u", path, line_number);
        status = config_parse_line(config, line, line_number, seen_at, origin,
                                   error, error_size);
    }

    fclose(file);
    return status;
}

/* Applies FLEETREG_<KEY> variables; other FLEETREG_ names are ignored. */
static int config_read_environment(struct config *config, char *error,
                                   size_t error_size)
{
    char variable[64];

    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const char *value;
        size_t n = 0;

        n += (size_t)snprintf(variable, sizeof(variable), "FLEETREG_");
        for (const char *p = config_keys[i].name; *p != '\0'; p++) {
            variable[n++] = (char)toupper((unsigned char)*p);
        }
        variable[n] = '\0';

        value = getenv(variable);
        if (value != NULL &&
            config_set_value(config, &config_keys[i], value, variable, error,
                             error_size) != 0) {
            return -1;
        }
    }
    return 0;
}

static int config_validate(const struct config *config, char *error,
                           size_t error_size)
{
    if (config->listen[0] != '/') {
        return config_error(error, error_size,
                            "invalid listen \"%s\": "
                            "expected an absolute unix socket path",
                            config->listen);
    }
    /* 108 bytes of sun_path, less the ".new" of the temporary name. */
    if (strlen(config->listen) > 103) {
        return config_error(error, error_size,
                            "invalid listen \"%s\": use at most 103 "
                            "bytes, since fleetreg first binds the path "
                            "with \".new\" added and sun_path holds 108",
                            config->listen);
    }
    if (config->socket_group[0] != '\0' &&
        getgrnam(config->socket_group) == NULL) {
        return config_error(error, error_size,
                            "invalid socket_group \"%s\": no such group; "
                            "set it to the group nginx runs as (www-data "
                            "on Debian)",
                            config->socket_group);
    }
    if (config->database[0] == '\0') {
        return config_error(error, error_size,
                            "database is empty: set a "
                            "libpq connection string");
    }
    if (access(config->jwt_key_file, R_OK) != 0) {
        return config_error(error, error_size,
                            "invalid jwt_key_file \"%s\""
                            ": %s; create it or point the key at a readable "
                            "file",
                            config->jwt_key_file, strerror(errno));
    }
    return 0;
}

int config_load(struct config *config, const char *path, char *error,
                size_t error_size)
{
    const char *from_environment = getenv("FLEETREG_CONF");

    config_set_defaults(config);

    if (path == NULL && from_environment != NULL &&
        from_environment[0] != '\0') {
        path = from_environment;
    }
    if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0) {
        path = CONFIG_DEFAULT_PATH;
    }
    if (path != NULL &&
        config_read_file(config, path, error, error_size) != 0) {
        return -1;
    }
    if (config_read_environment(config, error, error_size) != 0) {
        return -1;
    }
    return config_validate(config, error, error_size);
}

static void config_format_value(const struct config *config,
                                const struct config_key *key, char *out,
                                size_t out_size)
{
    const void *field = (const char *)config + key->offset;

    switch (key->type) {
    case CONFIG_STRING:
        snprintf(out, out_size, "%s", (const char *)field);
        break;
    case CONFIG_INTEGER:
        snprintf(out, out_size, "%d", *(const int *)field);
        break;
    case CONFIG_OCTAL:
        snprintf(out, out_size, "0%o", (unsigned)*(const int *)field);
        break;
    case CONFIG_ALGORITHM: {
        static const char *const names[] = {"HS256", "RS256", "ES256"};
        snprintf(out, out_size, "%s", names[*(const int *)field]);
        break;
    }
    case CONFIG_LOG_LEVEL: {
        static const char *const names[] = {"error", "warning", "info",
                                            "debug"};
        snprintf(out, out_size, "%s", names[*(const int *)field]);
        break;
    }
    }
}

void config_print(const struct config *config, FILE *out)
{
    char value[CONFIG_STRING_MAX];

    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        if (config_keys[i].secret) {
            fprintf(out, "%s = (set, not shown)\n", config_keys[i].name);
            continue;
        }
        config_format_value(config, &config_keys[i], value, sizeof(value));
        fprintf(out, "%s = %s\n", config_keys[i].name, value);
    }
}

void config_print_help(FILE *out)
{
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const struct config_key *key = &config_keys[i];

        fprintf(out, "  %-26s %s\n  %-26s default: %s%s\n", key->name,
                key->help, "",
                key->default_value[0] != '\0' ? key->default_value : "(empty)",
                key->reloadable ? "" : "; restart to change");
    }
}

/* FLEETREG_ names that tools and scripts use and that are not settings. */
static const char *const config_other_variables[] = {
    "FLEETREG_CONF",      "FLEETREG_URL",          "FLEETREG_DB",
    "FLEETREG_POOLER_DB", "FLEETREG_SUPERUSER_DB", "FLEETREG_JWT_SECRET_FILE",
    "FLEETREG_ADMIN",     "FLEETREG_BIN",          "FLEETREG_CA_FILE",
    "FLEETREG_LOG",       "FLEETREG_TENANT_IDS",
};

/* name is a FLEETREG_ variable of length bytes (up to its '='). */
static int config_is_known_variable(const char *name, size_t length)
{
    size_t prefix = strlen("FLEETREG_");
    char key[64];

    for (size_t i = 0;
         i < sizeof(config_other_variables) / sizeof(*config_other_variables);
         i++) {
        if (strlen(config_other_variables[i]) == length &&
            strncmp(config_other_variables[i], name, length) == 0) {
            return 1;
        }
    }
    if (strncmp(name, "FLEETREG_DEV_", 13) == 0 ||
        strncmp(name, "FLEETREG_TEST_", 14) == 0) {
        return 1;
    }
    if (length - prefix >= sizeof(key)) {
        return 0;
    }

    for (size_t i = prefix; i < length; i++) {
        key[i - prefix] = (char)tolower((unsigned char)name[i]);
    }
    key[length - prefix] = '\0';
    return config_find_key(key) != NULL;
}

size_t config_unknown_environment(char *out, size_t out_size)
{
    extern char **environ;
    size_t count = 0;
    size_t used = 0;

    out[0] = '\0';
    for (char **entry = environ; *entry != NULL; entry++) {
        const char *equals = strchr(*entry, '=');
        size_t length = equals != NULL ? (size_t)(equals - *entry) : 0;

        if (length == 0 || strncmp(*entry, "FLEETREG_", 9) != 0 ||
            config_is_known_variable(*entry, length)) {
            continue;
        }
        count++;
        if (used + length + 2 < out_size) {
            used += (size_t)snprintf(out + used, out_size - used, "%s%.*s",
                                     used > 0 ? "," : "", (int)length, *entry);
        }
    }
    return count;
}
