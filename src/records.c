/* Get-or-create of fleet-owner and driver records, one statement a step. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "records.h"

/* The SQL of one kind. Every statement returns the columns in one order. */
struct record_sql {
    const char *id_column;
    const char *select;
    const char *insert;
    const char *update;
    int change_parameters; /* of insert and update; select takes one */
};

#define FLEET_OWNER_COLUMNS                                                    \
    "fleet_owner_id, user_id, coalesce(business_name, ''), tenant_id, "        \
    "onboarding_status, "                                                      \
    "to_char(created_at AT TIME ZONE 'UTC', "                                  \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                                      \
    "to_char(updated_at AT TIME ZONE 'UTC', "                                  \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define DRIVER_COLUMNS                                                         \
    "driver_id, user_id, NULL, tenant_id, onboarding_status, "                 \
    "to_char(created_at AT TIME ZONE 'UTC', "                                  \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                                      \
    "to_char(updated_at AT TIME ZONE 'UTC', "                                  \
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* records_check_options(): a concurrent change, so run the attempt again. */
#define RECORDS_RACED (-2)

enum record_column {
    COLUMN_ID,
    COLUMN_USER_ID,
    COLUMN_BUSINESS_NAME,
    COLUMN_TENANT_ID,
    COLUMN_STATUS,
    COLUMN_CREATED_AT,
    COLUMN_UPDATED_AT
};

/*
 * Parameters: $1 user_id, $2 tenant_id or NULL, $3 business_name or NULL.
 * The update touches the row only when it changes something, so a
 * repeated register writes no new row version.
 */
static const struct record_sql record_sql[] = {
    [RECORD_FLEET_OWNER] =
        {
            "fleet_owner_id",
            "SELECT " FLEET_OWNER_COLUMNS " FROM fleet_owners "
            "WHERE user_id = $1",
            "INSERT INTO fleet_owners (user_id, tenant_id, business_name, "
            "onboarding_status) VALUES ($1, $2::integer, coalesce($3, ''), "
            "'draft') ON CONFLICT (user_id) DO NOTHING "
            "RETURNING " FLEET_OWNER_COLUMNS,
            "UPDATE fleet_owners SET "
            "tenant_id = coalesce(tenant_id, $2::integer), "
            "business_name = CASE WHEN $3::text IS NOT NULL "
            "AND onboarding_status = 'draft' THEN $3 ELSE business_name END, "
            "updated_at = now() "
            "WHERE user_id = $1 AND (($2::integer IS NOT NULL "
            "AND tenant_id IS NULL) OR ($3::text IS NOT NULL "
            "AND onboarding_status = 'draft' "
            "AND business_name IS DISTINCT FROM $3)) "
            "RETURNING " FLEET_OWNER_COLUMNS,
            3,
        },
    [RECORD_DRIVER] =
        {
            "driver_id",
            "SELECT " DRIVER_COLUMNS " FROM drivers WHERE user_id = $1",
            "INSERT INTO drivers (user_id, tenant_id, onboarding_status) "
            "VALUES ($1, $2::integer, 'draft') "
            "ON CONFLICT (user_id) DO NOTHING RETURNING " DRIVER_COLUMNS,
            "UPDATE drivers SET tenant_id = $2::integer, updated_at = now() "
            "WHERE user_id = $1 AND $2::integer IS NOT NULL "
            "AND tenant_id IS NULL RETURNING " DRIVER_COLUMNS,
            2,
        },
};

/* One attempt's state: the parameters and the row it settled on. */
struct record_attempt {
    struct db *db;
    enum record_kind kind;
    const struct registration_options *options;
    const char *values[3];
    char user_id_text[24];
    char tenant_id_text[24];
    PGresult *row; /* one-row result of the last step */
    int created;
};

/*
 * Ids are copied as raw digits from PostgreSQL: a bigint user id past
 * 2^53 would lose digits as a cJSON number, which is a double.
 */
static cJSON *records_to_json(enum record_kind kind, const PGresult *row)
{
    cJSON *record = cJSON_CreateObject();

    cJSON_AddRawToObject(record, record_sql[kind].id_column,
                         PQgetvalue(row, 0, COLUMN_ID));
    cJSON_AddRawToObject(record, "user_id", PQgetvalue(row, 0, COLUMN_USER_ID));
    if (kind == RECORD_FLEET_OWNER) {
        cJSON_AddStringToObject(record, "business_name",
                                PQgetvalue(row, 0, COLUMN_BUSINESS_NAME));
    }
    if (PQgetisnull(row, 0, COLUMN_TENANT_ID)) {
        cJSON_AddNullToObject(record, "tenant_id");
    } else {
        cJSON_AddRawToObject(record, "tenant_id",
                             PQgetvalue(row, 0, COLUMN_TENANT_ID));
    }
    cJSON_AddStringToObject(record, "onboarding_status",
                            PQgetvalue(row, 0, COLUMN_STATUS));
    cJSON_AddStringToObject(record, "created_at",
                            PQgetvalue(row, 0, COLUMN_CREATED_AT));
    cJSON_AddStringToObject(record, "updated_at",
                            PQgetvalue(row, 0, COLUMN_UPDATED_AT));
    return record;
}

/*
 * Runs one step. Returns 1 when the statement returned a row (kept in
 * attempt->row), 0 when it returned none, or -1 when it failed. On
 * failure *failed is the result for the caller to classify, and
 * *status is DB_STATUS_RETRYABLE when a retry may succeed.
 */
static int records_run_step(struct record_attempt *attempt, const char *sql,
                            int parameter_count, enum db_status *status,
                            PGresult **failed)
{
    PGresult *result =
        db_query(attempt->db, sql, parameter_count, attempt->values, status);

    if (*status != DB_STATUS_OK) {
        *failed = result;
        return -1;
    }
    if (PQntuples(result) == 0) {
        PQclear(result);
        return 0;
    }
    PQclear(attempt->row);
    attempt->row = result;
    return 1;
}

/* Maps a failed statement to the client's error. */
static int records_fail(const PGresult *result, enum db_status status,
                        const struct record_attempt *attempt,
                        struct api_error *error)
{
    const char *sqlstate = db_sqlstate(result);
    char message[512];

    if (strcmp(sqlstate, "42P10") == 0) {
        /* ON CONFLICT (user_id) found no unique index: the constraint was
         * dropped while we ran. A new connection checks the schema again,
         * and requests get 503 until the constraint is back. */
        log_event(LOG_LEVEL_ERROR, "schema_invalid",
                  "error=\"UNIQUE "
                  "(user_id) is missing on the %s table\"",
                  attempt->kind == RECORD_DRIVER ? "drivers" : "fleet_owners");
        db_close(attempt->db);
        api_error_set(error, 503, "service_unavailable",
                      "the service cannot store registrations now; retry "
                      "after the delay in Retry-After");
        return -1;
    }
    if (strcmp(sqlstate, "23503") == 0) {
        return api_error_set(error, 422, "unknown_tenant",
                             "tenant_id %s does not exist; pick a tenant "
                             "from the list the platform offers",
                             attempt->tenant_id_text);
    }
    /* A missing result is a lost connection or a schema without the
     * unique constraints: both are cured by waiting, not by the client. */
    if (status == DB_STATUS_RETRYABLE || result == NULL ||
        strcmp(sqlstate, "57014") == 0 || strncmp(sqlstate, "53", 2) == 0) {
        api_error_set(error, 503, "service_unavailable",
                      "the database did not answer in time or cannot be "
                      "reached; retry after the delay in Retry-After");
        return -1;
    }
    snprintf(message, sizeof(message), "%s",
             result != NULL ? PQresultErrorMessage(result) : "no result");
    log_make_quotable(message);
    log_event(LOG_LEVEL_ERROR, "db_statement_failed",
              "sqlstate=%s error=\"%s\"", sqlstate, message);
    return api_error_set(error, 500, "internal",
                         "the request failed on our side; it changed "
                         "nothing and can be retried later");
}

/* Judges the row against the options: conflicts the update did not fix. */
/*
 * Returns 0 when the row agrees with the options, or -1 with *error for
 * a conflict. Returns RECORDS_RACED when a concurrent request changed the
 * business name of a draft after our update found nothing to change.
 * The draft's name may still change, so the whole attempt runs again.
 */
static int records_check_options(const struct record_attempt *attempt,
                                 struct api_error *error)
{
    const struct registration_options *options = attempt->options;
    const PGresult *row = attempt->row;

    if (options->has_tenant_id && strcmp(PQgetvalue(row, 0, COLUMN_TENANT_ID),
                                         attempt->tenant_id_text) != 0) {
        return api_error_set(error, 409, "tenant_conflict",
                             "this record already belongs to tenant %s, "
                             "not %s; a record's tenant cannot change",
                             PQgetvalue(row, 0, COLUMN_TENANT_ID),
                             attempt->tenant_id_text);
    }
    if (options->has_business_name &&
        strcmp(PQgetvalue(row, 0, COLUMN_BUSINESS_NAME),
               options->business_name) != 0 &&
        strcmp(PQgetvalue(row, 0, COLUMN_STATUS), "draft") == 0) {
        api_error_set(error, 503, "service_unavailable",
                      "concurrent requests kept changing business_name; "
                      "retry after the delay in Retry-After");
        return RECORDS_RACED;
    }
    if (options->has_business_name &&
        strcmp(PQgetvalue(row, 0, COLUMN_BUSINESS_NAME),
               options->business_name) != 0) {
        return api_error_set(error, 409, "not_draft",
                             "business_name can change only while the "
                             "record is a draft; this one is %s",
                             PQgetvalue(row, 0, COLUMN_STATUS));
    }
    return 0;
}

static int records_has_changes(const struct registration_options *options)
{
    return options->has_tenant_id || options->has_business_name;
}

/*
 * The four steps inside one read-committed transaction, each its own
 * statement so that each reads every commit made before it began.
 * Returns 0, or -1 with *status and *failed describing the failure.
 */
static int records_run_steps(struct record_attempt *attempt,
                             enum db_status *status, PGresult **failed)
{
    const struct record_sql *sql = &record_sql[attempt->kind];
    int changes = sql->change_parameters;
    int found = records_run_step(attempt, sql->select, 1, status, failed);

    if (found == 0) {
        found = records_run_step(attempt, sql->insert, changes, status, failed);
        attempt->created = found == 1;
        if (found == 1) {
            return 0;
        }
    }
    if (found == 0) {
        /* A concurrent insert won between our select and insert. */
        found = records_run_step(attempt, sql->select, 1, status, failed);
    }
    if (found == 1 && records_has_changes(attempt->options)) {
        found = records_run_step(attempt, sql->update, changes, status, failed);
    }
    if (found == 0 && attempt->row != NULL) {
        /* The update changed nothing, often because a concurrent request
         * applied the same change first. The row read before it may be
         * older than that change, so judge the options on a fresh read. */
        found = records_run_step(attempt, sql->select, 1, status, failed);
    }
    if (found == 0) {
        *status = DB_STATUS_RETRYABLE;
        *failed = NULL;
        return -1;
    }
    return found < 0 ? -1 : 0;
}

/* One whole attempt: connect, begin, the steps, the checks, commit. */
static int records_attempt(struct record_attempt *attempt,
                           enum db_status *status, struct api_error *error)
{
    PGresult *failed = NULL;
    int outcome;

    *status = db_connect(attempt->db);
    if (*status == DB_STATUS_OK) {
        *status = db_begin(attempt->db);
    }
    if (*status != DB_STATUS_OK) {
        return records_fail(NULL, *status, attempt, error);
    }

    if (records_run_steps(attempt, status, &failed) != 0) {
        outcome = records_fail(failed, *status, attempt, error);
        PQclear(failed);
        db_rollback(attempt->db);
        return outcome;
    }
    outcome = records_check_options(attempt, error);
    if (outcome != 0) {
        db_rollback(attempt->db);
        *status = outcome == RECORDS_RACED ? DB_STATUS_RETRYABLE : DB_STATUS_OK;
        return -1;
    }

    *status = db_commit(attempt->db);
    return *status == DB_STATUS_OK
               ? 0
               : records_fail(NULL, *status, attempt, error);
}

static void records_prepare(struct record_attempt *attempt, struct db *db,
                            enum record_kind kind, int64_t user_id,
                            const struct registration_options *options)
{
    memset(attempt, 0, sizeof(*attempt));
    attempt->db = db;
    attempt->kind = kind;
    attempt->options = options;

    snprintf(attempt->user_id_text, sizeof(attempt->user_id_text), "%" PRId64,
             user_id);
    attempt->values[0] = attempt->user_id_text;
    if (options->has_tenant_id) {
        snprintf(attempt->tenant_id_text, sizeof(attempt->tenant_id_text),
                 "%" PRId64, options->tenant_id);
        attempt->values[1] = attempt->tenant_id_text;
    }
    if (options->has_business_name) {
        attempt->values[2] = options->business_name;
    }
}

int records_get_or_create(struct db *db, enum record_kind kind, int64_t user_id,
                          const struct registration_options *options,
                          cJSON **record, int *created, struct api_error *error)
{
    struct record_attempt attempt;
    enum db_status status = DB_STATUS_OK;
    int tries = 0;

    records_prepare(&attempt, db, kind, user_id, options);
    db_start_deadline(db);
    while (records_attempt(&attempt, &status, error) != 0) {
        if (status != DB_STATUS_RETRYABLE || tries >= db->config->db_retries ||
            db_deadline_passed(db)) {
            PQclear(attempt.row);
            error->retry_after_seconds =
                error->status == 503 ? db->config->retry_after_seconds : 0;
            return -1;
        }
        tries++;
        metrics_count(METRICS_DB_RETRIES);
        log_event(LOG_LEVEL_WARNING, "db_retry",
                  "attempt=%d of=%d user_id=%s error=\"%s\"", tries + 1,
                  db->config->db_retries + 1, attempt.user_id_text,
                  db->last_error);
        db_wait_backoff(db);
        PQclear(attempt.row);
        attempt.row = NULL;
        attempt.created = 0;
    }

    *record = records_to_json(kind, attempt.row);
    *created = attempt.created;
    if (attempt.created) {
        metrics_count(kind == RECORD_DRIVER ? METRICS_DRIVERS_CREATED
                                            : METRICS_FLEET_OWNERS_CREATED);
    }
    PQclear(attempt.row);
    return 0;
}
