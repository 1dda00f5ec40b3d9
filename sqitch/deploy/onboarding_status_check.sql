-- Deploy fleetreg:onboarding_status_check
--
-- Makes onboarding_status NOT NULL and one of draft, submitted, approved,
-- rejected, and limits business_name to 200 characters. Each constraint is
-- added NOT VALID (a brief ACCESS EXCLUSIVE lock, no scan) and validated
-- in a later transaction, which scans under SHARE UPDATE EXCLUSIVE and so
-- lets reads and writes go on. A rerun after a failure starts over.

-- Stored values that no constraint could accept stop the change here,
-- before anything is altered, with the values and the fix.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(format('%s.onboarding_status = %L (%s rows)',
                             kind, onboarding_status, n), ', ')
    INTO bad
    FROM (
        SELECT 'fleet_owners' AS kind, onboarding_status, count(*) AS n
        FROM fleet_owners
        WHERE onboarding_status NOT IN ('draft', 'submitted', 'approved',
                                        'rejected')
        GROUP BY onboarding_status
        UNION ALL
        SELECT 'drivers', onboarding_status, count(*)
        FROM drivers
        WHERE onboarding_status NOT IN ('draft', 'submitted', 'approved',
                                        'rejected')
        GROUP BY onboarding_status
    ) AS invalid;

    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invalid onboarding_status values: %', bad
            USING HINT = 'UPDATE these rows to draft, submitted, approved '
                         'or rejected, then run sqitch deploy again.';
    END IF;

    SELECT string_agg(fleet_owner_id::text, ', ' ORDER BY fleet_owner_id)
    INTO bad
    FROM fleet_owners
    WHERE char_length(business_name) > 200;

    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'business_name longer than 200 characters in '
                        'fleet_owners with fleet_owner_id %', bad
            USING HINT = 'Shorten these names, then run sqitch deploy '
                         'again.';
    END IF;
END
$$;

BEGIN;

SET LOCAL lock_timeout = '5s';
SET LOCAL client_min_messages = warning;

ALTER TABLE fleet_owners
    DROP CONSTRAINT IF EXISTS fleet_owners_onboarding_status_check,
    DROP CONSTRAINT IF EXISTS fleet_owners_onboarding_status_not_null,
    DROP CONSTRAINT IF EXISTS fleet_owners_business_name_length_check,
    ADD CONSTRAINT fleet_owners_onboarding_status_check
        CHECK (onboarding_status IN ('draft', 'submitted', 'approved',
                                     'rejected')) NOT VALID,
    ADD CONSTRAINT fleet_owners_onboarding_status_not_null
        CHECK (onboarding_status IS NOT NULL) NOT VALID,
    ADD CONSTRAINT fleet_owners_business_name_length_check
        CHECK (char_length(business_name) <= 200) NOT VALID;

ALTER TABLE drivers
    DROP CONSTRAINT IF EXISTS drivers_onboarding_status_check,
    DROP CONSTRAINT IF EXISTS drivers_onboarding_status_not_null,
    ADD CONSTRAINT drivers_onboarding_status_check
        CHECK (onboarding_status IN ('draft', 'submitted', 'approved',
                                     'rejected')) NOT VALID,
    ADD CONSTRAINT drivers_onboarding_status_not_null
        CHECK (onboarding_status IS NOT NULL) NOT VALID;

COMMIT;

-- The column default was always 'draft', so a NULL status can only come
-- from an explicit NULL write; it is read as a draft. New NULLs are
-- rejected by the NOT VALID check from the previous commit on.
UPDATE fleet_owners SET onboarding_status = 'draft'
WHERE onboarding_status IS NULL;

UPDATE drivers SET onboarding_status = 'draft'
WHERE onboarding_status IS NULL;

BEGIN;

ALTER TABLE fleet_owners
    VALIDATE CONSTRAINT fleet_owners_onboarding_status_check;
ALTER TABLE fleet_owners
    VALIDATE CONSTRAINT fleet_owners_onboarding_status_not_null;
ALTER TABLE fleet_owners
    VALIDATE CONSTRAINT fleet_owners_business_name_length_check;
ALTER TABLE drivers VALIDATE CONSTRAINT drivers_onboarding_status_check;
ALTER TABLE drivers VALIDATE CONSTRAINT drivers_onboarding_status_not_null;

COMMIT;

-- SET NOT NULL skips its table scan because the validated IS NOT NULL
-- check already proves the column has no NULL (PostgreSQL 12 and later),
-- so the ACCESS EXCLUSIVE lock is brief. The helper check is then dropped.
BEGIN;

SET LOCAL lock_timeout = '5s';

ALTER TABLE fleet_owners
    ALTER COLUMN onboarding_status SET NOT NULL,
    DROP CONSTRAINT fleet_owners_onboarding_status_not_null;

ALTER TABLE drivers
    ALTER COLUMN onboarding_status SET NOT NULL,
    DROP CONSTRAINT drivers_onboarding_status_not_null;

COMMIT;
