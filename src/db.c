/* One worker's database connection: lazy connect, checks, retries, backoff. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "metrics.h"

#define DB_BACKOFF_BASE_MS 50
/* A database that takes longer to return SELECT 1 is not ready. */
#define DB_PING_TIMEOUT_MS 500

/* Both tables must carry UNIQUE (user_id): ON CONFLICT (user_id) needs it. */
/* Returns the tables that lack it, or NULL when both have it. */
static const char db_schema_check_sql[] =
    "SELECT string_agg(v.name || ' (constraint ' || v.name || "
    "'_user_id_key)', ' and ' ORDER BY v.name) "
    "FROM (VALUES ('drivers'), ('fleet_owners')) AS v (name) "
    "WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c "
    "JOIN pg_class t ON t.oid = c.conrelid "
    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'user_id' "
    "WHERE c.contype = 'u' AND c.conkey = ARRAY[a.attnum] "
    "AND t.relname = v.name AND pg_table_is_visible(t.oid))";

void db_init(struct db *db, const struct config *config)
{
    memset(db, 0, sizeof(*db));
    db->config = config;
}

void db_close(struct db *db)
{
    if (db->connection != NULL) {
        PQfinish(db->connection);
        db->connection = NULL;
    }
}

static long db_now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void db_start_deadline(struct db *db)
{
    db->deadline_ms = db_now_ms() + db->config->request_timeout_ms;
}

int db_deadline_passed(const struct db *db)
{
    return db->deadline_ms != 0 && db_now_ms() >= db->deadline_ms;
}

static long db_backoff_ms(const struct db *db)
{
    long delay = DB_BACKOFF_BASE_MS;

    for (unsigned i = 1; i < db->consecutive_failures && i < 16; i++) {
        delay *= 2;
    }
    if (delay > db->config->db_backoff_max_ms) {
        delay = db->config->db_backoff_max_ms;
    }
    return delay;
}

static void db_timespec_add_ms(struct timespec *time, long milliseconds)
{
    time->tv_sec += milliseconds / 1000;
    time->tv_nsec += (milliseconds % 1000) * 1000000L;
    if (time->tv_nsec >= 1000000000L) {
        time->tv_sec++;
        time->tv_nsec -= 1000000000L;
    }
}

static int db_backoff_running(const struct db *db)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec != db->next_connect.tv_sec) {
        return now.tv_sec < db->next_connect.tv_sec;
    }
    return now.tv_nsec < db->next_connect.tv_nsec;
}

/* Records a failure: closes the connection and schedules the next try. */
static void db_record_failure(struct db *db, const char *message)
{
    size_t length;

    snprintf(db->last_error, sizeof(db->last_error), "%s", message);
    length = strlen(db->last_error);
    while (length > 0 && db->last_error[length - 1] == '\n') {
        db->last_error[--length] = '\0';
    }
    log_make_quotable(db->last_error);

    db_close(db);
    db->consecutive_failures++;
    clock_gettime(CLOCK_MONOTONIC, &db->next_connect);
    db_timespec_add_ms(&db->next_connect, db_backoff_ms(db));
}

void db_wait_backoff(const struct db *db)
{
    long delay = db_backoff_ms(db);
    struct timespec pause = {.tv_sec = delay / 1000,
                             .tv_nsec = (delay % 1000) * 1000000L};

    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
}

static enum db_status db_check_schema(struct db *db)
{
    enum db_status status;
    PGresult *result = db_query(db, db_schema_check_sql, 0, NULL, &status);

    if (status != DB_STATUS_OK) {
        PQclear(result);
        return status == DB_STATUS_FAILED ? DB_STATUS_RETRYABLE : status;
    }

    db->schema_missing = !PQgetisnull(result, 0, 0);
    if (db->schema_missing) {
        snprintf(db->last_error, sizeof(db->last_error),
                 "UNIQUE (user_id) is missing on %s. Deploy the schema as "
                 "its owner, straight to PostgreSQL: run sqitch deploy "
                 "--target db:pg:DBNAME from the sqitch folder of the "
                 "fleetreg source. If sqitch finds nothing to deploy, the "
                 "constraint was dropped by hand: run sqitch revert --to "
                 "merge_duplicates, then sqitch deploy",
                 PQgetvalue(result, 0, 0));
        log_event(LOG_LEVEL_ERROR, "schema_invalid", "error=\"%s\"",
                  db->last_error);
    }
    PQclear(result);
    return db->schema_missing ? DB_STATUS_FAILED : DB_STATUS_OK;
}

static enum db_status db_open(struct db *db)
{
    char timeout[16];
    const char *const keys[] = {"dbname", "connect_timeout", "application_name",
                                NULL};
    const char *const values[] = {db->config->database, timeout, "fleetreg",
                                  NULL};

    snprintf(timeout, sizeof(timeout), "%d",
             db->config->connect_timeout_seconds);
    db->connection = PQconnectdbParams(keys, values, 1);

    if (PQstatus(db->connection) != CONNECTION_OK) {
        db_record_failure(db, PQerrorMessage(db->connection));
        log_event(LOG_LEVEL_WARNING, "db_connect_failed",
                  "failures=%u retry_in_ms=%ld error=\"%s\"",
                  db->consecutive_failures, db_backoff_ms(db), db->last_error);
        return DB_STATUS_RETRYABLE;
    }

    metrics_count(METRICS_DB_CONNECTS);
    log_event(LOG_LEVEL_INFO, "db_connected", "after_failures=%u",
              db->consecutive_failures);
    return db_check_schema(db);
}

/* Drops an open or failed transaction a previous request left behind. */
static void db_reset_transaction(struct db *db)
{
    PGTransactionStatusType state = PQtransactionStatus(db->connection);

    if (state == PQTRANS_INTRANS || state == PQTRANS_INERROR) {
        db_rollback(db);
    } else if (state != PQTRANS_IDLE) {
        db_record_failure(db, "connection in an unexpected state");
    }
}

enum db_status db_connect(struct db *db)
{
    if (db->connection != NULL && PQstatus(db->connection) != CONNECTION_OK) {
        db_record_failure(db, PQerrorMessage(db->connection));
    }
    if (db->connection != NULL) {
        db_reset_transaction(db);
    }
    if (db->connection != NULL) {
        return db->schema_missing ? DB_STATUS_FAILED : DB_STATUS_OK;
    }
    if (db_backoff_running(db)) {
        return DB_STATUS_RETRYABLE;
    }
    return db_open(db);
}

/*
 * Lost connections (class 08), shutdowns and restarts (57P01 to 57P03),
 * serialization failures (40001) and deadlocks (40P01) can succeed when
 * the whole operation runs again.
 */
static int db_sqlstate_is_retryable(const char *sqlstate)
{
    return strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
           strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0 ||
           strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0;
}

static enum db_status db_classify_failure(struct db *db, PGresult *result)
{
    const char *sqlstate = db_sqlstate(result);
    int broken = PQstatus(db->connection) != CONNECTION_OK;

    if (broken || sqlstate[0] == '\0' || strncmp(sqlstate, "08", 2) == 0 ||
        strncmp(sqlstate, "57P", 3) == 0) {
        db_record_failure(db, PQerrorMessage(db->connection));
        return DB_STATUS_RETRYABLE;
    }
    return db_sqlstate_is_retryable(sqlstate) ? DB_STATUS_RETRYABLE
                                              : DB_STATUS_FAILED;
}

/*
 * Waits until the connection's socket is ready for events or the
 * deadline passes. Returns 0 when ready, -1 on timeout or error.
 */
static int db_wait_socket(struct db *db, short events)
{
    struct pollfd descriptor = {.fd = PQsocket(db->connection),
                                .events = events};

    for (;;) {
        long remaining =
            db->deadline_ms == 0 ? -1 : db->deadline_ms - db_now_ms();
        int ready;

        if (db->deadline_ms != 0 && remaining <= 0) {
            return -1;
        }
        ready = poll(&descriptor, 1, (int)remaining);
        if (ready > 0) {
            return 0;
        }
        if (ready < 0 && errno != EINTR) {
            return -1;
        }
    }
}

/*
 * Sends the statement and collects its results without blocking past the
 * deadline. Returns the last result, which carries the outcome, or
 * NULL when the deadline passed or the connection failed.
 */
static PGresult *db_exec_until_deadline(struct db *db, const char *sql,
                                        int parameter_count,
                                        const char *const *values)
{
    PGconn *connection = db->connection;
    PGresult *last = NULL;
    PGresult *next;
    int flushed;

    if (!PQsendQueryParams(connection, sql, parameter_count, NULL, values, NULL,
                           NULL, 0)) {
        return NULL;
    }
    while ((flushed = PQflush(connection)) == 1) {
        if (db_wait_socket(db, POLLOUT) != 0) {
            return NULL;
        }
    }
    if (flushed < 0) {
        return NULL;
    }

    for (;;) {
        while (PQisBusy(connection)) {
            if (db_wait_socket(db, POLLIN) != 0 ||
                !PQconsumeInput(connection)) {
                PQclear(last);
                return NULL;
            }
        }
        next = PQgetResult(connection);
        if (next == NULL) {
            return last;
        }
        PQclear(last);
        last = next;
    }
}

PGresult *db_query(struct db *db, const char *sql, int parameter_count,
                   const char *const *values, enum db_status *status)
{
    PGresult *result;
    ExecStatusType outcome;

    if (db->connection == NULL) {
        *status = DB_STATUS_RETRYABLE;
        return NULL;
    }

    result = db_exec_until_deadline(db, sql, parameter_count, values);
    if (result == NULL && db_deadline_passed(db)) {
        /* The statement may still run; closing the connection is the
         * only way to be sure no later statement waits behind it. */
        log_event(LOG_LEVEL_WARNING, "db_deadline_passed",
                  "request_timeout_ms=%d", db->config->request_timeout_ms);
        db_record_failure(db, "request_timeout passed before the database "
                              "answered");
        *status = DB_STATUS_RETRYABLE;
        return NULL;
    }
    outcome = PQresultStatus(result);
    if (result != NULL &&
        (outcome == PGRES_TUPLES_OK || outcome == PGRES_COMMAND_OK)) {
        db->consecutive_failures = 0;
        *status = DB_STATUS_OK;
        return result;
    }

    *status = db_classify_failure(db, result);
    return result;
}

/* Runs a statement whose result is not needed. */
static enum db_status db_command(struct db *db, const char *sql)
{
    enum db_status status;

    PQclear(db_query(db, sql, 0, NULL, &status));
    return status;
}

enum db_status db_begin(struct db *db)
{
    char timeout[64];
    enum db_status status = db_command(db, "BEGIN");

    if (status != DB_STATUS_OK) {
        return status;
    }

    /* SET LOCAL ends with the transaction, so pgbouncer's transaction
     * pooling never hands the setting to another client. */
    snprintf(timeout, sizeof(timeout), "SET LOCAL statement_timeout = %d",
             db->config->statement_timeout_ms);
    return db_command(db, timeout);
}

enum db_status db_commit(struct db *db)
{
    return db_command(db, "COMMIT");
}

void db_rollback(struct db *db)
{
    enum db_status status;

    if (db->connection == NULL) {
        return;
    }
    status = db_command(db, "ROLLBACK");
    if (status != DB_STATUS_OK && db->connection != NULL) {
        db_record_failure(db, PQerrorMessage(db->connection));
    }
}

enum db_status db_ping(struct db *db)
{
    long deadline = db_now_ms() + DB_PING_TIMEOUT_MS;
    int was_open = db->connection != NULL;
    enum db_status status;

    /* pgbouncer queues the query while PostgreSQL is down; a short
     * deadline makes /readyz report that within a second. */
    if (db->deadline_ms == 0 || db->deadline_ms > deadline) {
        db->deadline_ms = deadline;
    }
    status = db_connect(db);

    if (status == DB_STATUS_OK) {
        status = db_command(db, "SELECT 1");
    }

    /* A connection that broke while idle (pgbouncer or PostgreSQL has
     * restarted since) shows nothing about the path now, so one new
     * connection, past the backoff, decides. */
    if (status == DB_STATUS_RETRYABLE && was_open && db->connection == NULL) {
        status = db_open(db);
        if (status == DB_STATUS_OK) {
            status = db_command(db, "SELECT 1");
        }
    }
    return status;
}

const char *db_sqlstate(const PGresult *result)
{
    const char *sqlstate =
        result != NULL ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;

    return sqlstate != NULL ? sqlstate : "";
}

const char *db_constraint(const PGresult *result)
{
    const char *name = result != NULL
                           ? PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME)
                           : NULL;

    return name != NULL ? name : "";
}
