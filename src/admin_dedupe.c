/* fleetreg-admin duplicates and dedupe: find and merge duplicate records. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "admin.h"
#include "config.h"

#define DEDUPE_EXIT_FOUND 1
#define DEDUPE_EXIT_FAILED 2
#define DEDUPE_EXIT_USAGE 64
#define DEDUPE_EXIT_INTERRUPTED 130

#define DEDUPE_BATCH_DEFAULT 500
#define DEDUPE_BATCH_MAX 100000
#define DEDUPE_PROGRESS_SECONDS 2.0

/* The record kinds, as the merge functions in the schema name them. */
static const char *const dedupe_kinds[] = {"fleet_owner", "driver"};

struct dedupe_options {
    const char *database;    /* --database, or NULL */
    const char *config_path; /* --config, or NULL for the default file */
    const char *kind;        /* --kind, or NULL for both kinds */
    int dry_run;
    int apply;
    long batch_size;
};

static volatile sig_atomic_t dedupe_interrupted;

static void dedupe_on_interrupt(int signal_number)
{
    (void)signal_number;
    dedupe_interrupted = 1;
}

/* Prints a libpq message, without its trailing newline, after context. */
static void dedupe_print_error(const char *context, const char *message)
{
    size_t length = strlen(message);

    while (length > 0 && message[length - 1] == '\n') {
        length--;
    }
    fprintf(stderr, "fleetreg-admin: %s: %.*s\n", context, (int)length,
            message);
}

static void dedupe_print_connection_help(FILE *out)
{
    fprintf(out,
            "  --database CONNINFO  libpq connection string of the schema\n"
            "                       owner (default: $FLEETREG_DB, then the\n"
            "                       database key of the configuration)\n"
            "  -c, --config FILE    configuration file read when neither\n"
            "                       of the above is set\n"
            "                       (default %s)\n"
            "  --kind KIND          only fleet_owner or only driver records\n",
            CONFIG_DEFAULT_PATH);
}

static void duplicates_print_help(FILE *out)
{
    fprintf(out,
            "Usage: fleetreg-admin duplicates [OPTIONS]\n"
            "\n"
            "Lists every user with more than one record of a kind, one line\n"
            "each: kind, user_id and the record ids, tab-separated.\n"
            "\n"
            "Options:\n");
    dedupe_print_connection_help(out);
    fprintf(out,
            "  -h, --help           show this help\n"
            "\n"
            "Exit status: 0 when there are no duplicates, 1 when there are,\n"
            "2 when the database could not be queried, 64 on a usage "
            "error.\n");
}

static void dedupe_print_help(FILE *out)
{
    fprintf(out,
            "Usage: fleetreg-admin dedupe --dry-run | --apply [OPTIONS]\n"
            "\n"
            "Merges the duplicate records of each user as the sqitch change\n"
            "merge_duplicates defines: keeps the most advanced record, fills\n"
            "its empty fields, moves references, archives the others.\n"
            "\n"
            "Options:\n"
            "  --dry-run            print the plan (kind, user_id, action,\n"
            "                       record_id, details; tab-separated) and\n"
            "                       change nothing\n"
            "  --apply              merge, one transaction per batch; safe "
            "to\n"
            "                       interrupt and run again\n"
            "  --batch-size N       users per batch with --apply, 1 to %d\n"
            "                       (default %d)\n",
            DEDUPE_BATCH_MAX, DEDUPE_BATCH_DEFAULT);
    dedupe_print_connection_help(out);
    fprintf(out, "  -h, --help           show this help\n"
                 "\n"
                 "Exit status: 0 on success, 2 on a database error, 64 on a "
                 "usage\n"
                 "error, 130 when interrupted (merged batches stay merged).\n");
}

static int dedupe_parse_batch_size(const char *text, long *out)
{
    char *end = NULL;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1 ||
        value > DEDUPE_BATCH_MAX) {
        fprintf(stderr,
                "fleetreg-admin: invalid --batch-size \"%s\"; use "
                "a whole number from 1 to %d\n",
                text, DEDUPE_BATCH_MAX);
        return -1;
    }
    *out = value;
    return 0;
}

static int dedupe_check_kind(const char *kind)
{
    if (strcmp(kind, "fleet_owner") == 0 || strcmp(kind, "driver") == 0) {
        return 0;
    }
    fprintf(stderr,
            "fleetreg-admin: invalid --kind \"%s\"; use "
            "fleet_owner or driver\n",
            kind);
    return -1;
}

/*
 * Parses the options shared by both commands and, with allow_dedupe, the
 * dedupe ones. Returns 0, 1 after --help was printed, or -1 on a usage
 * error (already reported).
 */
static int dedupe_parse_options(int argc, char **argv, int allow_dedupe,
                                struct dedupe_options *options)
{
    memset(options, 0, sizeof(*options));
    options->batch_size = DEDUPE_BATCH_DEFAULT;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has_value = i + 1 < argc;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            return 1;
        } else if (strcmp(arg, "--database") == 0 && has_value) {
            options->database = argv[++i];
        } else if ((strcmp(arg, "--config") == 0 || strcmp(arg, "-c") == 0) &&
                   has_value) {
            options->config_path = argv[++i];
        } else if (strcmp(arg, "--kind") == 0 && has_value) {
            options->kind = argv[++i];
            if (dedupe_check_kind(options->kind) != 0) {
                return -1;
            }
        } else if (allow_dedupe && strcmp(arg, "--dry-run") == 0) {
            options->dry_run = 1;
        } else if (allow_dedupe && strcmp(arg, "--apply") == 0) {
            options->apply = 1;
        } else if (allow_dedupe && strcmp(arg, "--batch-size") == 0 &&
                   has_value) {
            if (dedupe_parse_batch_size(argv[++i], &options->batch_size) != 0) {
                return -1;
            }
        } else {
            fprintf(stderr,
                    "fleetreg-admin %s: invalid option \"%s\" or "
                    "missing value; try --help\n",
                    argv[0], arg);
            return -1;
        }
    }
    return 0;
}

/*
 * Finds the connection string: --database, then FLEETREG_DB, then the
 * database key of the configuration. Returns 0, or -1 after reporting.
 */
static int dedupe_resolve_conninfo(const struct dedupe_options *options,
                                   struct config *config, const char **out)
{
    char error[512];
    const char *from_environment = getenv("FLEETREG_DB");

    if (options->database != NULL && options->database[0] != '\0') {
        *out = options->database;
        return 0;
    }
    if (from_environment != NULL && from_environment[0] != '\0') {
        *out = from_environment;
        return 0;
    }
    if (config_load(config, options->config_path, error, sizeof(error)) != 0) {
        fprintf(stderr,
                "fleetreg-admin: no --database or FLEETREG_DB, and "
                "the configuration could not be loaded: %s\n",
                error);
        return -1;
    }
    *out = config->database;
    return 0;
}

/*
 * Connects to the database. Returns the connection, or NULL after
 * reporting. The connection string is never printed because it may
 * contain a password.
 */
static PGconn *dedupe_connect(const struct dedupe_options *options)
{
    static struct config config;
    const char *conninfo = NULL;
    PGconn *connection;

    if (dedupe_resolve_conninfo(options, &config, &conninfo) != 0) {
        return NULL;
    }

    connection = PQconnectdb(conninfo);
    if (PQstatus(connection) != CONNECTION_OK) {
        dedupe_print_error("connecting to the database failed",
                           PQerrorMessage(connection));
        PQfinish(connection);
        return NULL;
    }
    return connection;
}

/*
 * Runs one statement with text parameters. Returns the result, which the
 * caller frees with PQclear, or NULL after reporting the error after
 * context.
 */
static PGresult *dedupe_query(PGconn *connection, const char *context,
                              const char *sql, int count,
                              const char *const *values)
{
    PGresult *result =
        PQexecParams(connection, sql, count, NULL, values, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(result);

    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        dedupe_print_error(context, PQresultErrorMessage(result));
        PQclear(result);
        return NULL;
    }
    return result;
}

static int dedupe_kind_selected(const struct dedupe_options *options,
                                const char *kind)
{
    return options->kind == NULL || strcmp(options->kind, kind) == 0;
}

/*
 * Lists duplicates of one kind with plain queries, which work on every
 * schema version from the old service's on. Returns the number of users
 * listed, or -1.
 */
static long duplicates_list_kind(PGconn *connection, const char *kind)
{
    static const char *const sql =
        "SELECT $1::text, user_id::text,"
        "       string_agg(id::text, ',' ORDER BY id)"
        " FROM (SELECT user_id, fleet_owner_id AS id FROM fleet_owners"
        "       WHERE $1 = 'fleet_owner'"
        "       UNION ALL"
        "       SELECT user_id, driver_id FROM drivers"
        "       WHERE $1 = 'driver') AS records"
        " GROUP BY user_id HAVING count(*) > 1 ORDER BY user_id";
    const char *values[1] = {kind};
    PGresult *result;
    long rows;

    result =
        dedupe_query(connection, "listing duplicates failed", sql, 1, values);
    if (result == NULL) {
        return -1;
    }

    rows = PQntuples(result);
    for (long i = 0; i < rows; i++) {
        printf("%s\t%s\t%s\n", PQgetvalue(result, (int)i, 0),
               PQgetvalue(result, (int)i, 1), PQgetvalue(result, (int)i, 2));
    }
    PQclear(result);
    return rows;
}

int admin_duplicates_main(int argc, char **argv)
{
    struct dedupe_options options;
    PGconn *connection;
    long total = 0;
    int parsed = dedupe_parse_options(argc, argv, 0, &options);

    if (parsed != 0) {
        if (parsed > 0) {
            duplicates_print_help(stdout);
            return 0;
        }
        return DEDUPE_EXIT_USAGE;
    }

    connection = dedupe_connect(&options);
    if (connection == NULL) {
        return DEDUPE_EXIT_FAILED;
    }

    printf("kind\tuser_id\trecord_ids\n");
    for (size_t i = 0; i < sizeof(dedupe_kinds) / sizeof(*dedupe_kinds); i++) {
        long found;

        if (!dedupe_kind_selected(&options, dedupe_kinds[i])) {
            continue;
        }
        found = duplicates_list_kind(connection, dedupe_kinds[i]);
        if (found < 0) {
            PQfinish(connection);
            return DEDUPE_EXIT_FAILED;
        }
        fprintf(stderr, "%s: %ld users with more than one record\n",
                dedupe_kinds[i], found);
        total += found;
    }
    PQfinish(connection);
    return total > 0 ? DEDUPE_EXIT_FOUND : 0;
}

/*
 * Checks that the merge functions exist. Returns 0, or -1 after printing
 * the sqitch command that deploys them.
 */
static int dedupe_check_schema(PGconn *connection)
{
    static const char *const sql = "SELECT to_regprocedure($1) IS NOT NULL";
    const char *values[1] = {"fleetreg_merge_plan(text, integer)"};
    PGresult *result;
    int present;

    result =
        dedupe_query(connection, "checking the schema failed", sql, 1, values);
    if (result == NULL) {
        return -1;
    }
    present = strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    PQclear(result);

    if (!present) {
        fprintf(stderr,
                "fleetreg-admin: the merge functions are missing "
                "from this database; deploy them first with: sqitch deploy "
                "--to merge_duplicates\n");
        return -1;
    }
    return 0;
}

static int dedupe_print_plan(PGconn *connection,
                             const struct dedupe_options *options)
{
    static const char *const sql =
        "SELECT kind, user_id, action, record_id, details"
        " FROM fleetreg_merge_plan($1, NULL)";
    const char *values[1] = {options->kind};
    PGresult *result;
    int rows;

    result =
        dedupe_query(connection, "planning the merge failed", sql, 1, values);
    if (result == NULL) {
        return DEDUPE_EXIT_FAILED;
    }

    rows = PQntuples(result);
    printf("kind\tuser_id\taction\trecord_id\tdetails\n");
    for (int i = 0; i < rows; i++) {
        printf("%s\t%s\t%s\t%s\t%s\n", PQgetvalue(result, i, 0),
               PQgetvalue(result, i, 1), PQgetvalue(result, i, 2),
               PQgetvalue(result, i, 3), PQgetvalue(result, i, 4));
    }
    fprintf(stderr, "dry run: %d steps planned, nothing changed\n", rows);
    PQclear(result);
    return 0;
}

static double dedupe_seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Counts the users of kind with duplicates now. Returns -1 on error. */
static long dedupe_count_users(PGconn *connection, const char *kind)
{
    static const char *const sql =
        "SELECT count(*) FROM fleetreg_duplicate_users($1, NULL)";
    const char *values[1] = {kind};
    PGresult *result;
    long count;

    result =
        dedupe_query(connection, "counting duplicates failed", sql, 1, values);
    if (result == NULL) {
        return -1;
    }
    count = strtol(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return count;
}

/* Runs one batch as its own transaction. Returns users merged, or -1. */
static long dedupe_run_batch(PGconn *connection, const char *kind,
                             const char *batch_size)
{
    static const char *const sql =
        "SELECT fleetreg_merge_duplicates($1, $2::integer)";
    const char *values[2] = {kind, batch_size};
    PGresult *result;
    long merged;

    result = dedupe_query(connection, "merging a batch failed", sql, 2, values);
    if (result == NULL) {
        return -1;
    }
    merged = strtol(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return merged;
}

/*
 * Merges every duplicate of one kind, batch by batch, until a batch finds
 * none. Users that the old service duplicates meanwhile are merged too,
 * so the count can pass the total counted at the start. Returns 0, -1 on
 * a database error, or 1 when interrupted.
 */
static int dedupe_apply_kind(PGconn *connection, const char *kind,
                             long batch_size)
{
    char batch_text[24];
    struct timespec start;
    double last_report = 0.0;
    long merged = 0;
    int finished = 0;
    long total = dedupe_count_users(connection, kind);

    if (total < 0) {
        return -1;
    }
    snprintf(batch_text, sizeof(batch_text), "%ld", batch_size);
    clock_gettime(CLOCK_MONOTONIC, &start);

    while (!dedupe_interrupted) {
        long batch = dedupe_run_batch(connection, kind, batch_text);
        double elapsed = dedupe_seconds_since(&start);

        if (batch < 0) {
            fprintf(stderr,
                    "%s: %ld users merged before the error; run "
                    "again to continue\n",
                    kind, merged);
            return -1;
        }
        merged += batch;
        if (batch == 0) {
            finished = 1;
            break;
        }
        if (elapsed - last_report >= DEDUPE_PROGRESS_SECONDS) {
            fprintf(stderr, "%s: %ld/%ld users merged, %.0f users/s\n", kind,
                    merged, total, merged / elapsed);
            last_report = elapsed;
        }
    }

    fprintf(stderr, "%s: %ld users merged in %.1f s%s\n", kind, merged,
            dedupe_seconds_since(&start),
            finished ? "" : ", interrupted; run again to continue");
    return finished ? 0 : 1;
}

/*
 * Makes the first SIGINT or SIGTERM stop the run after the current batch.
 * A second signal ends the process at once, and the server then rolls
 * back the batch in progress.
 */
static void dedupe_install_interrupt(void)
{
    struct sigaction action;

    memset(&action, 0, sizeof(action));
    action.sa_handler = dedupe_on_interrupt;
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

static int dedupe_apply(PGconn *connection,
                        const struct dedupe_options *options)
{
    dedupe_install_interrupt();

    for (size_t i = 0; i < sizeof(dedupe_kinds) / sizeof(*dedupe_kinds); i++) {
        int status;

        if (!dedupe_kind_selected(options, dedupe_kinds[i])) {
            continue;
        }
        status =
            dedupe_apply_kind(connection, dedupe_kinds[i], options->batch_size);
        if (status < 0) {
            return DEDUPE_EXIT_FAILED;
        }
        if (status > 0) {
            return DEDUPE_EXIT_INTERRUPTED;
        }
    }
    return 0;
}

int admin_dedupe_main(int argc, char **argv)
{
    struct dedupe_options options;
    PGconn *connection;
    int status;
    int parsed = dedupe_parse_options(argc, argv, 1, &options);

    if (parsed != 0) {
        if (parsed > 0) {
            dedupe_print_help(stdout);
            return 0;
        }
        return DEDUPE_EXIT_USAGE;
    }
    if (options.dry_run == options.apply) {
        fprintf(stderr, "fleetreg-admin dedupe: give exactly one of "
                        "--dry-run and --apply; try --help\n");
        return DEDUPE_EXIT_USAGE;
    }

    connection = dedupe_connect(&options);
    if (connection == NULL) {
        return DEDUPE_EXIT_FAILED;
    }
    if (dedupe_check_schema(connection) != 0) {
        PQfinish(connection);
        return DEDUPE_EXIT_FAILED;
    }

    if (options.dry_run) {
        status = dedupe_print_plan(connection, &options);
    } else {
        status = dedupe_apply(connection, &options);
    }
    PQfinish(connection);
    return status;
}
