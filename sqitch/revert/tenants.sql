-- Revert fleetreg:tenants
--
-- Drops the foreign keys and the tenants table; the tenant_id values in
-- the record tables stay as they are.

BEGIN;

ALTER TABLE drivers DROP CONSTRAINT IF EXISTS drivers_tenant_id_fkey;
ALTER TABLE fleet_owners DROP CONSTRAINT IF EXISTS fleet_owners_tenant_id_fkey;
DROP TABLE tenants;

COMMIT;
