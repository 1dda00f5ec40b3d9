-- Revert fleetreg:baseline
--
-- Drops the tables and every row in them. Never run this on a database
-- whose baseline was recorded with --log-only.

BEGIN;

DROP TABLE drivers;
DROP TABLE fleet_owners;

COMMIT;
