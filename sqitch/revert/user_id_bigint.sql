-- Revert fleetreg:user_id_bigint
--
-- Fails with "integer out of range" when a user id above 2147483647 is
-- stored, rather than losing it.

BEGIN;
SET LOCAL lock_timeout = '5s';
ALTER TABLE drivers ALTER COLUMN user_id TYPE integer;
ALTER TABLE fleet_owners ALTER COLUMN user_id TYPE integer;
COMMIT;
