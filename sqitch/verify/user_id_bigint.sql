-- Verify fleetreg:user_id_bigint

BEGIN;

DO $$
BEGIN
    IF (SELECT count(*) FROM pg_attribute
        WHERE attrelid IN ('fleet_owners'::regclass, 'drivers'::regclass)
          AND attname = 'user_id'
          AND atttypid = 'bigint'::regtype) <> 2 THEN
        RAISE EXCEPTION 'user_id is not bigint in fleet_owners and drivers';
    END IF;
END
$$;

ROLLBACK;
