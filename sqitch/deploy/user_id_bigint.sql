-- Deploy fleetreg:user_id_bigint
--
-- Widens user_id to bigint, since the platform's user ids are bigints.
-- ALTER COLUMN TYPE rewrites the table and its indexes under ACCESS
-- EXCLUSIVE, which blocks every read and write of that table until the
-- commit; sqitch/README.md gives the measured time per million rows. Each
-- table is its own transaction so that only one is blocked at a time.
-- Changing a column that is already bigint does not rewrite, so a rerun
-- after a failure is cheap.

BEGIN;
SET LOCAL lock_timeout = '5s';
ALTER TABLE fleet_owners ALTER COLUMN user_id TYPE bigint;
COMMIT;

BEGIN;
SET LOCAL lock_timeout = '5s';
ALTER TABLE drivers ALTER COLUMN user_id TYPE bigint;
COMMIT;
