-- Revert fleetreg:user_id_unique
--
-- Re-creates the plain user_id indexes and drops the unique constraints.
-- The merged duplicates stay merged. fleetreg itself cannot run without
-- the constraints (its INSERT ... ON CONFLICT (user_id) needs them), so
-- stop it before reverting. No transaction block: CREATE INDEX
-- CONCURRENTLY cannot run in one.

SET client_min_messages = warning;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_fleet_owners_user_id
    ON fleet_owners (user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_drivers_user_id
    ON drivers (user_id);

BEGIN;
SET LOCAL lock_timeout = '5s';
ALTER TABLE fleet_owners DROP CONSTRAINT IF EXISTS fleet_owners_user_id_key;
ALTER TABLE drivers DROP CONSTRAINT IF EXISTS drivers_user_id_key;
DROP TRIGGER IF EXISTS fleetreg_reject_duplicate_user ON fleet_owners;
DROP TRIGGER IF EXISTS fleetreg_reject_duplicate_user ON drivers;
DROP FUNCTION IF EXISTS fleetreg_reject_duplicate_user();
COMMIT;

-- A build of the unique index that failed in an interrupted deploy.
DROP INDEX CONCURRENTLY IF EXISTS fleet_owners_user_id_key;
DROP INDEX CONCURRENTLY IF EXISTS drivers_user_id_key;
