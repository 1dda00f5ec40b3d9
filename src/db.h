/* One worker's database connection: lazy connect, checks, retries, backoff. */
#ifndef FLEETREG_DB_H
#define FLEETREG_DB_H

#include <time.h>

#include <libpq-fe.h>

#include "config.h"

enum db_status {
    DB_STATUS_OK,
    /* Lost connection or serialization failure: retrying may succeed. */
    DB_STATUS_RETRYABLE,
    /* An error that the same statement would raise again. */
    DB_STATUS_FAILED
};

/* A persistent connection and its failure history. */
struct db {
    PGconn *connection;
    const struct config *config; /* borrowed; outlives the db */
    unsigned consecutive_failures;
    struct timespec next_connect; /* CLOCK_MONOTONIC; no attempt before */
    char last_error[512];
    int schema_missing; /* the unique constraints are absent */
    long deadline_ms;   /* CLOCK_MONOTONIC; 0 means none */
};

void db_init(struct db *db, const struct config *config);

/*
 * Sets the time by which the current request's database work must end:
 * request_timeout from now. A statement still running then is abandoned
 * and its connection closed, and no retry starts after it.
 */
void db_start_deadline(struct db *db);

/* Returns 1 when the deadline set by db_start_deadline() has passed. */
int db_deadline_passed(const struct db *db);

/* Closes the connection; the db can be connected again. */
void db_close(struct db *db);

/*
 * Makes the connection usable: reconnects when it is broken, rolls back a
 * transaction a previous request left open, and on a new connection
 * checks that the schema has UNIQUE (user_id) on both tables. While the
 * backoff after a failure runs, fails at once without trying, so callers
 * respond quickly while the database is down. Returns DB_STATUS_OK, or
 * DB_STATUS_RETRYABLE with last_error set; DB_STATUS_FAILED when the
 * schema lacks the constraints.
 */
enum db_status db_connect(struct db *db) __attribute__((warn_unused_result));

/*
 * Runs sql with text parameters (values may contain NULL for SQL NULL).
 * Returns the result, which the caller frees with PQclear(), or NULL when
 * no result could be had. *status is DB_STATUS_OK on success, else
 * whether a retry may help. On failure a broken connection is closed so
 * that the next db_connect() opens a new one.
 */
PGresult *db_query(struct db *db, const char *sql, int parameter_count,
                   const char *const *values, enum db_status *status)
    __attribute__((warn_unused_result));

/* BEGIN and SET LOCAL statement_timeout from the configuration. */
enum db_status db_begin(struct db *db) __attribute__((warn_unused_result));

enum db_status db_commit(struct db *db) __attribute__((warn_unused_result));

/* Rolls back the open transaction, if any; failures close the connection. */
void db_rollback(struct db *db);

/*
 * Sleeps for the current backoff: 50 ms doubled per consecutive failure,
 * capped by db_backoff_max. Used between retries of one operation.
 */
void db_wait_backoff(const struct db *db);

/*
 * Runs SELECT 1 within 500 ms, or sooner when the request's deadline is
 * nearer, on a new connection if the open one turns out to be broken.
 * Returns DB_STATUS_OK when the round trip succeeded.
 */
enum db_status db_ping(struct db *db) __attribute__((warn_unused_result));

/*
 * Returns the SQLSTATE of a failed result, or "" when there is none (for
 * example when the connection was lost before the server answered).
 */
const char *db_sqlstate(const PGresult *result);

/* Returns the name of the constraint a failed result violated, or "". */
const char *db_constraint(const PGresult *result);

#endif
