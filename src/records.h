/* The fleet-owner and driver records: get-or-create and their JSON form. */
#ifndef FLEETREG_RECORDS_H
#define FLEETREG_RECORDS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "api_error.h"
#include "db.h"
#include "request.h"

/*
 * Gets the user's record of this kind, creating it when there is none,
 * then applies the options: tenant_id is set when the record has none, is
 * a no-op when equal and a 409 tenant_conflict when different;
 * business_name changes only while the record is a draft. Exactly one of
 * any number of concurrent callers for one user creates the record.
 *
 * A lost connection or serialization failure reruns the whole operation,
 * at most db_retries times. Returns 0 with *record (freed by the caller
 * with cJSON_Delete) and *created (1 when this call inserted the row), or
 * -1 with *error: 409, 422 unknown_tenant, 503 with Retry-After, or 500.
 * On error nothing is changed.
 */
int records_get_or_create(struct db *db, enum record_kind kind, int64_t user_id,
                          const struct registration_options *options,
                          cJSON **record, int *created, struct api_error *error)
    __attribute__((warn_unused_result));

#endif
