-- Verify fleetreg:baseline
--
-- Checks the columns and the user_id indexes that later changes rely on,
-- so that `sqitch verify` after `deploy --log-only --to baseline` shows
-- whether an old database matches this baseline.

BEGIN;

SELECT fleet_owner_id, user_id, business_name, tenant_id, onboarding_status,
       created_at, updated_at
FROM fleet_owners
WHERE false;

SELECT driver_id, user_id, tenant_id, onboarding_status, created_at,
       updated_at
FROM drivers
WHERE false;

DO $$
BEGIN
    IF to_regclass('ix_fleet_owners_user_id') IS NULL
       AND to_regclass('fleet_owners_user_id_key') IS NULL THEN
        RAISE EXCEPTION 'index ix_fleet_owners_user_id is missing'
            USING HINT = 'Rename the plain index on fleet_owners (user_id) '
                         'to ix_fleet_owners_user_id, then verify again.';
    END IF;

    IF to_regclass('ix_drivers_user_id') IS NULL
       AND to_regclass('drivers_user_id_key') IS NULL THEN
        RAISE EXCEPTION 'index ix_drivers_user_id is missing'
            USING HINT = 'Rename the plain index on drivers (user_id) '
                         'to ix_drivers_user_id, then verify again.';
    END IF;
END
$$;

ROLLBACK;
