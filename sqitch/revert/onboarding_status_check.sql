-- Revert fleetreg:onboarding_status_check
--
-- Drops the checks and the NOT NULL. Statuses that were NULL before the
-- deploy stay 'draft'.

BEGIN;

ALTER TABLE drivers
    ALTER COLUMN onboarding_status DROP NOT NULL,
    DROP CONSTRAINT IF EXISTS drivers_onboarding_status_not_null,
    DROP CONSTRAINT IF EXISTS drivers_onboarding_status_check;

ALTER TABLE fleet_owners
    ALTER COLUMN onboarding_status DROP NOT NULL,
    DROP CONSTRAINT IF EXISTS fleet_owners_onboarding_status_not_null,
    DROP CONSTRAINT IF EXISTS fleet_owners_onboarding_status_check,
    DROP CONSTRAINT IF EXISTS fleet_owners_business_name_length_check;

COMMIT;
