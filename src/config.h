/* The service's settings: one table of keys, a file, and environment overrides.
 */
#ifndef FLEETREG_CONFIG_H
#define FLEETREG_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "auth.h"
#include "log.h"

#define CONFIG_DEFAULT_PATH "/etc/fleetreg/fleetreg.conf"
#define CONFIG_STRING_MAX 1024

/*
 * Every setting. Each has one row in the key table in config.c, which
 * gives its name, default, range and whether SIGHUP can change it.
 */
struct config {
    char listen[CONFIG_STRING_MAX];       /* unix socket path */
    int socket_mode;                      /* octal, e.g. 0660 */
    char socket_group[CONFIG_STRING_MAX]; /* "" keeps the process group */
    int workers;                          /* 0 means one per CPU */
    char database[CONFIG_STRING_MAX];     /* libpq conninfo (secret) */
    int connect_timeout_seconds;
    int statement_timeout_ms;
    int db_retries;                /* retries of one operation */
    int db_backoff_max_ms;         /* cap of reconnect backoff */
    int retry_after_seconds;       /* Retry-After on 503 */
    int request_timeout_ms;        /* database work per request */
    int require_unique_constraint; /* 0 or 1 */
    enum auth_algorithm jwt_algorithm;
    char jwt_key_file[CONFIG_STRING_MAX];
    char jwt_issuer[256];
    char jwt_audience[256];
    int jwt_leeway_seconds;
    int max_token_bytes;
    int max_body_bytes;
    int max_params;      /* FastCGI parameters */
    int max_param_bytes; /* one name=value pair */
    int shutdown_timeout_seconds;
    enum log_level log_level;
};

/* Fills *config with the defaults of every key. */
void config_set_defaults(struct config *config);

/*
 * Loads the defaults, then the file at path (when path is NULL: the file
 * named by FLEETREG_CONF, else the default file if it exists), then the
 * FLEETREG_<KEY> environment variables, then validates every value. Returns 0,
 * or -1 with a message naming the key, the value and the accepted range in
 * error.
 */
int config_load(struct config *config, const char *path, char *error,
                size_t error_size) __attribute__((warn_unused_result));

/*
 * Lists in out, comma-separated, the FLEETREG_ environment variables that
 * are neither settings nor names the tools use, such as a misspelt
 * FLEETREG_WORKRS. Returns how many there are.
 */
size_t config_unknown_environment(char *out, size_t out_size);

/* Writes "key = value" lines of the effective settings; secrets masked. */
void config_print(const struct config *config, FILE *out);

/* Writes the key table as help text: key, default, range, meaning. */
void config_print_help(FILE *out);

#endif
