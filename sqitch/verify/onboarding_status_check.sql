-- Verify fleetreg:onboarding_status_check

BEGIN;

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['fleet_owners_onboarding_status_check',
                                'fleet_owners_business_name_length_check',
                                'drivers_onboarding_status_check'] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_constraint
            WHERE conname = name AND contype = 'c' AND convalidated
        ) THEN
            RAISE EXCEPTION 'check constraint % is missing or not validated',
                name;
        END IF;
    END LOOP;

    IF (SELECT count(*) FROM pg_attribute
        WHERE attrelid IN ('fleet_owners'::regclass, 'drivers'::regclass)
          AND attname = 'onboarding_status' AND attnotnull) <> 2 THEN
        RAISE EXCEPTION 'onboarding_status is not NOT NULL in fleet_owners '
                        'and drivers';
    END IF;
END
$$;

ROLLBACK;
