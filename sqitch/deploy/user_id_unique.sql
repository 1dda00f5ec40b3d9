-- Deploy fleetreg:user_id_unique
--
-- Merges every duplicate, then adds UNIQUE (user_id) to fleet_owners and
-- drivers without blocking the service that may still be running:
--
--   1. a guard trigger rejects new duplicates from here on, so that the
--      old service, which inserts without ON CONFLICT, cannot keep adding
--      them while the index is built (see lib/user_id_unique_guard.sql);
--   2. the duplicates are merged in committed batches;
--   3. the unique index is built CONCURRENTLY;
--   4. it becomes the constraint with ADD CONSTRAINT ... USING INDEX,
--      which needs ACCESS EXCLUSIVE only briefly and gives up after
--      lock_timeout instead of queueing every query behind it;
--   5. the guard and the old plain index are dropped.
--
-- A build that fails on a duplicate leaves an INVALID index. Steps 2 to 4
-- are then repeated after dropping it, up to five attempts per table, and
-- the deploy fails with a message naming the table if the constraint is
-- still missing. Every step checks the state first, so a rerun continues
-- where a failed or interrupted run stopped.
--
-- CREATE INDEX CONCURRENTLY cannot run in a transaction block or a
-- function, so this script has no BEGIN/COMMIT around it and uses psql's
-- \if to branch; psql has no loops, hence the repeated \ir.

SET client_min_messages = warning;

\ir ../lib/user_id_unique_guard.sql

\set unique_table fleet_owners
\set unique_kind fleet_owner
\set unique_key fleet_owners_user_id_key
\set plain_index ix_fleet_owners_user_id
\ir ../lib/user_id_unique_table.sql

\set unique_table drivers
\set unique_kind driver
\set unique_key drivers_user_id_key
\set plain_index ix_drivers_user_id
\ir ../lib/user_id_unique_table.sql

DROP FUNCTION fleetreg_reject_duplicate_user();
