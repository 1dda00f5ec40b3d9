/* Command line of the fleetreg service: options, --check and start. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "master.h"

static void main_print_help(FILE *out)
{
    fprintf(out,
            "Usage: fleetreg [-c FILE] [--check]\n"
            "\n"
            "Registers fleet owners and drivers: a FastCGI service behind\n"
            "nginx that keeps one record of each kind per user.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE  read settings from FILE (default: the\n"
            "                     file named by FLEETREG_CONF, else %s,\n"
            "                     skipped when it does not exist)\n"
            "      --check        validate the settings and the key file,\n"
            "                     print the effective settings, and exit\n"
            "  -h, --help         show this help and exit\n"
            "  -V, --version      show the version and exit\n"
            "\n"
            "Each setting is a \"key = value\" line in the file and can be\n"
            "overridden by the environment variable FLEETREG_<KEY>, e.g.\n"
            "FLEETREG_WORKERS=4. Settings:\n",
            CONFIG_DEFAULT_PATH);
    config_print_help(out);
    fprintf(out,
            "\n"
            "Signals: SIGTERM and SIGINT stop gracefully (workers finish\n"
            "the request in hand within shutdown_timeout); SIGHUP reloads\n"
            "the settings and replaces the workers.\n"
            "Exit status: 0 after a clean stop, 1 on a runtime failure,\n"
            "64 on a usage error, 78 when the settings or the schema are\n"
            "unusable.\n");
}

static int main_check(const char *config_path)
{
    struct config config;
    struct auth_verifier verifier;
    char error[1024];

    if (config_load(&config, config_path, error, sizeof(error)) != 0 ||
        auth_init(&verifier, config.jwt_algorithm, config.jwt_key_file,
                  config.jwt_issuer, config.jwt_audience,
                  config.jwt_leeway_seconds, (size_t)config.max_token_bytes,
                  error, sizeof(error)) != 0) {
        fprintf(stderr, "fleetreg: %s\n", error);
        return 78;
    }
    auth_free(&verifier);
    if (config_unknown_environment(error, sizeof(error)) > 0) {
        fprintf(stderr,
                "fleetreg: warning: ignoring %s: not a setting; "
                "check the spelling against fleetreg --help\n",
                error);
    }
    config_print(&config, stdout);
    fprintf(stderr, "fleetreg: configuration is valid\n");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    int check = 0;
    int option;

    while ((option = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
        switch (option) {
        case 'c': config_path = optarg; break;
        case 'k': check = 1; break;
        case 'h': main_print_help(stdout); return 0;
        case 'V': printf("fleetreg %s\n", PACKAGE_VERSION); return 0;
        default: fprintf(stderr, "Try 'fleetreg --help'.\n"); return 64;
        }
    }
    if (optind < argc) {
        fprintf(stderr,
                "fleetreg: unexpected argument \"%s\"; try "
                "'fleetreg --help'\n",
                argv[optind]);
        return 64;
    }

    log_init("fleetreg", LOG_LEVEL_INFO);
    return check ? main_check(config_path) : master_run(config_path);
}
