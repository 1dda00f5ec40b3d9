-- Deploy fleetreg:tenants
--
-- Adds the tenants table and makes tenant_id in both record tables a
-- foreign key to it. The old service had no tenants table, so every
-- tenant id already in use gets a placeholder row; rename them with the
-- real tenant names afterwards.

-- Transaction 1: the constraints are added NOT VALID first, so that from
-- here on every insert or update is checked, and only then are the
-- placeholders filled in. Adding a NOT VALID foreign key takes SHARE ROW
-- EXCLUSIVE on both tables, so concurrent writes wait until this commits:
-- that is one scan of each table for the distinct tenant ids.
BEGIN;

SET LOCAL lock_timeout = '5s';

CREATE TABLE tenants (
    tenant_id integer PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE fleet_owners
    ADD CONSTRAINT fleet_owners_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants (tenant_id) NOT VALID;

ALTER TABLE drivers
    ADD CONSTRAINT drivers_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants (tenant_id) NOT VALID;

INSERT INTO tenants (tenant_id, name)
SELECT used.tenant_id, 'tenant ' || used.tenant_id
FROM (
    SELECT tenant_id FROM fleet_owners WHERE tenant_id IS NOT NULL
    UNION
    SELECT tenant_id FROM drivers WHERE tenant_id IS NOT NULL
) AS used;

COMMIT;

-- Transaction 2: validation scans the tables again but holds only SHARE
-- UPDATE EXCLUSIVE, which lets reads and writes go on.
BEGIN;

ALTER TABLE fleet_owners VALIDATE CONSTRAINT fleet_owners_tenant_id_fkey;
ALTER TABLE drivers VALIDATE CONSTRAINT drivers_tenant_id_fkey;

COMMIT;
