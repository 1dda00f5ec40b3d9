-- Included by deploy/user_id_unique.sql once per table. Expects the psql
-- variables unique_table, unique_kind, unique_key and plain_index.

SELECT EXISTS (
    SELECT 1 FROM pg_constraint
    WHERE conrelid = :'unique_table'::regclass AND conname = :'unique_key'
) AS unique_attached \gset

\if :unique_attached
\else
    BEGIN;
    SET LOCAL lock_timeout = '5s';
    DROP TRIGGER IF EXISTS fleetreg_reject_duplicate_user ON :"unique_table";
    CREATE TRIGGER fleetreg_reject_duplicate_user
        BEFORE INSERT OR UPDATE OF user_id ON :"unique_table"
        FOR EACH ROW EXECUTE FUNCTION fleetreg_reject_duplicate_user();
    COMMIT;
\endif

\set unique_attempt 0
\ir user_id_unique_attempt.sql
\ir user_id_unique_attempt.sql
\ir user_id_unique_attempt.sql
\ir user_id_unique_attempt.sql
\ir user_id_unique_attempt.sql

SET fleetreg.unique_table = :'unique_table';
SET fleetreg.unique_key = :'unique_key';

DO $$
DECLARE
    record_table text := current_setting('fleetreg.unique_table');
    key text := current_setting('fleetreg.unique_key');
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = record_table::regclass AND conname = key
    ) THEN
        RAISE EXCEPTION 'constraint % on % is still missing after 5 '
                        'attempts', key, record_table
            USING HINT = 'Writers keep adding duplicates or holding locks '
                         'on the table. Stop the old service, or retry '
                         'at a quieter time: sqitch deploy continues where '
                         'it stopped.';
    END IF;
END
$$;

RESET fleetreg.unique_table;
RESET fleetreg.unique_key;

BEGIN;
SET LOCAL lock_timeout = '5s';
DROP TRIGGER IF EXISTS fleetreg_reject_duplicate_user ON :"unique_table";
COMMIT;

-- The unique index serves every lookup by user_id now.
DROP INDEX CONCURRENTLY IF EXISTS :"plain_index";
