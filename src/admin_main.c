/* Command line of fleetreg-admin: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "log.h"

static void admin_print_help(FILE *out)
{
    fprintf(out,
            "Usage: fleetreg-admin COMMAND [OPTIONS]\n"
            "\n"
            "Commands:\n"
            "  token --sub N       mint a development bearer token for user N\n"
            "  duplicates          list users with more than one record;\n"
            "                      exit status 1 when any exist\n"
            "  dedupe --dry-run    print what a merge of duplicates would do\n"
            "  dedupe --apply      merge duplicates in batches\n"
            "\n"
            "Options:\n"
            "  -h, --help          show this help and exit\n"
            "  -V, --version       show the version and exit\n"
            "\n"
            "Run 'fleetreg-admin COMMAND --help' for a command's options.\n"
            "Settings come from -c FILE where a command takes it, else the\n"
            "file named by FLEETREG_CONF, else /etc/fleetreg/fleetreg.conf.\n");
}

int main(int argc, char **argv)
{
    log_init("fleetreg-admin", LOG_LEVEL_WARNING);

    if (argc < 2) {
        admin_print_help(stderr);
        return 64;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("fleetreg-admin %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        admin_print_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "token") == 0) {
        return admin_token_main(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "duplicates") == 0) {
        return admin_duplicates_main(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "dedupe") == 0) {
        return admin_dedupe_main(argc - 1, argv + 1);
    }

    fprintf(stderr,
            "fleetreg-admin: unknown command \"%s\"; try "
            "'fleetreg-admin --help'\n",
            argv[1]);
    return 64;
}
