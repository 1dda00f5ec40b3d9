/* Unit tests of the configuration: defaults, file, environment, ranges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/config.h"
#include "unit.h"

static char key_path[] = "/tmp/fleetreg-test-key-XXXXXX";
static char config_path[] = "/tmp/fleetreg-test-conf-XXXXXX";

static void write_config(const char *text)
{
    FILE *file = fopen(config_path, "w");

    fputs(text, file);
    fprintf(file, "\njwt_key_file = %s\n", key_path);
    fclose(file);
}

static int load(struct config *config, char *error, size_t size)
{
    return config_load(config, config_path, error, size);
}

static void defaults_are_valid(void)
{
    struct config config;

    config_set_defaults(&config);
    CHECK(config.socket_mode == 0660);
    CHECK(config.workers == 0);
    CHECK(config.max_body_bytes == 16384);
    CHECK(config.jwt_algorithm == AUTH_ALGORITHM_HS256);
    CHECK(config.log_level == LOG_LEVEL_INFO);
    CHECK_STR_EQ(config.listen, "/run/fleetreg/fleetreg.sock");
}

static void file_values_are_read(void)
{
    struct config config;
    char error[512] = "";

    write_config("# comment\n\nworkers = 3\nsocket_mode = 0600\n"
                 "  log_level =  debug  \nlisten=/tmp/x.sock\n");
    CHECK(load(&config, error, sizeof(error)) == 0);
    CHECK(config.workers == 3);
    CHECK(config.socket_mode == 0600);
    CHECK(config.log_level == LOG_LEVEL_DEBUG);
    CHECK_STR_EQ(config.listen, "/tmp/x.sock");
}

static void environment_overrides_file(void)
{
    struct config config;
    char error[512] = "";

    write_config("workers = 3\n");
    setenv("FLEETREG_WORKERS", "5", 1);
    CHECK(load(&config, error, sizeof(error)) == 0);
    CHECK(config.workers == 5);
    unsetenv("FLEETREG_WORKERS");
}

static void unknown_key_is_rejected_by_name(void)
{
    struct config config;
    char error[512] = "";

    write_config("wokers = 3\n");
    CHECK(load(&config, error, sizeof(error)) != 0);
    CHECK(strstr(error, "unknown key \"wokers\"") != NULL);
}

static void out_of_range_names_key_value_range(void)
{
    struct config config;
    char error[512] = "";

    write_config("workers = 100000\n");
    CHECK(load(&config, error, sizeof(error)) != 0);
    CHECK(strstr(error, "workers") != NULL);
    CHECK(strstr(error, "100000") != NULL);
    CHECK(strstr(error, "from 0 to 512") != NULL);
}

static void non_numeric_values_are_rejected(void)
{
    static const char *const lines[] = {
        "workers = 3x\n",         "workers = \n",
        "workers = -1\n",         "socket_mode = 0999\n",
        "jwt_algorithm = none\n", "log_level = loud\n",
        "max_body_bytes = 1e6\n",
    };
    struct config config;
    char error[512];

    for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++) {
        write_config(lines[i]);
        CHECK(load(&config, error, sizeof(error)) != 0);
    }
}

static void line_without_equals_is_rejected(void)
{
    struct config config;
    char error[512] = "";

    write_config("workers 3\n");
    CHECK(load(&config, error, sizeof(error)) != 0);
    CHECK(strstr(error, ":1:") != NULL);
}

static void relative_listen_path_is_rejected(void)
{
    struct config config;
    char error[512] = "";

    write_config("listen = fleetreg.sock\n");
    CHECK(load(&config, error, sizeof(error)) != 0);
    CHECK(strstr(error, "absolute") != NULL);
}

static void unknown_socket_group_is_rejected(void)
{
    struct config config;
    char error[512] = "";

    write_config("socket_group = no-such-group-here\n");
    CHECK(load(&config, error, sizeof(error)) != 0);
    CHECK(strstr(error, "no-such-group-here") != NULL);

    write_config("socket_group = root\n");
    CHECK(load(&config, error, sizeof(error)) == 0);
}

static void missing_key_file_is_rejected(void)
{
    struct config config;
    char error[512] = "";
    FILE *file = fopen(config_path, "w");

    fputs("jwt_key_file = /nonexistent/fleetreg.key\n", file);
    fclose(file);
    CHECK(load(&config, error, sizeof(error)) != 0);
    CHECK(strstr(error, "/nonexistent/fleetreg.key") != NULL);
}

static void key_set_twice_is_rejected(void)
{
    struct config config;
    char error[512] = "";

    write_config("workers = 2\nworkers = 3\n");
    CHECK(load(&config, error, sizeof(error)) != 0);
    CHECK(strstr(error, ":2: workers is already set on line 1") != NULL);
}

static void directory_as_file_is_rejected(void)
{
    struct config config;
    char error[512] = "";

    CHECK(config_load(&config, "/tmp", error, sizeof(error)) != 0);
    CHECK(strstr(error, "not a regular file") != NULL);
}

static void fleetreg_conf_names_the_file(void)
{
    struct config config;
    char error[512] = "";

    write_config("workers = 7\n");
    setenv("FLEETREG_CONF", config_path, 1);
    CHECK(config_load(&config, NULL, error, sizeof(error)) == 0);
    CHECK(config.workers == 7);
    unsetenv("FLEETREG_CONF");
}

static void misspelt_variable_is_listed(void)
{
    char names[256];

    setenv("FLEETREG_WORKRS", "3", 1);
    setenv("FLEETREG_WORKERS", "3", 1);
    setenv("FLEETREG_URL", "https://127.0.0.1:8443", 1);
    setenv("FLEETREG_DEV_PORT", "8443", 1);
    CHECK(config_unknown_environment(names, sizeof(names)) == 1);
    CHECK_STR_EQ(names, "FLEETREG_WORKRS");
    unsetenv("FLEETREG_WORKRS");
    CHECK(config_unknown_environment(names, sizeof(names)) == 0);
    unsetenv("FLEETREG_WORKERS");
    unsetenv("FLEETREG_URL");
    unsetenv("FLEETREG_DEV_PORT");
}

static void database_is_masked_when_printed(void)
{
    struct config config;
    char output[8192] = "";
    FILE *stream = fmemopen(output, sizeof(output) - 1, "w");

    config_set_defaults(&config);
    snprintf(config.database, sizeof(config.database), "password=hunter2");
    config_print(&config, stream);
    fclose(stream);
    CHECK(strstr(output, "hunter2") == NULL);
    CHECK(strstr(output, "database = (set, not shown)") != NULL);
}

int main(void)
{
    close(mkstemp(key_path));
    close(mkstemp(config_path));

    RUN_TEST(defaults_are_valid);
    RUN_TEST(file_values_are_read);
    RUN_TEST(environment_overrides_file);
    RUN_TEST(unknown_key_is_rejected_by_name);
    RUN_TEST(out_of_range_names_key_value_range);
    RUN_TEST(non_numeric_values_are_rejected);
    RUN_TEST(line_without_equals_is_rejected);
    RUN_TEST(relative_listen_path_is_rejected);
    RUN_TEST(unknown_socket_group_is_rejected);
    RUN_TEST(missing_key_file_is_rejected);
    RUN_TEST(key_set_twice_is_rejected);
    RUN_TEST(directory_as_file_is_rejected);
    RUN_TEST(fleetreg_conf_names_the_file);
    RUN_TEST(misspelt_variable_is_listed);
    RUN_TEST(database_is_masked_when_printed);

    unlink(key_path);
    unlink(config_path);
    return unit_finish();
}
