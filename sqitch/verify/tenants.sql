-- Verify fleetreg:tenants

BEGIN;

SELECT tenant_id, name, created_at FROM tenants WHERE false;

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['fleet_owners_tenant_id_fkey',
                                'drivers_tenant_id_fkey'] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_constraint
            WHERE conname = name AND contype = 'f' AND convalidated
              AND confrelid = 'tenants'::regclass
        ) THEN
            RAISE EXCEPTION 'foreign key % is missing or not validated', name;
        END IF;
    END LOOP;
END
$$;

ROLLBACK;
