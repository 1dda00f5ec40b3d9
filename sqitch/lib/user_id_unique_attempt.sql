-- Included by lib/user_id_unique_table.sql up to five times: one attempt
-- to merge, build the unique index and attach it as a constraint. Does
-- nothing once the constraint exists.

SELECT EXISTS (
    SELECT 1 FROM pg_constraint
    WHERE conrelid = :'unique_table'::regclass AND conname = :'unique_key'
) AS unique_attached \gset

\if :unique_attached
\else
    SELECT :unique_attempt + 1 AS unique_attempt \gset
    \echo 'user_id_unique: attempt' :unique_attempt 'on' :unique_table

    -- A failed concurrent build leaves an INVALID index that still slows
    -- writes and would make IF NOT EXISTS skip the next build.
    SELECT EXISTS (
        SELECT 1 FROM pg_index
        WHERE indexrelid = to_regclass(:'unique_key') AND NOT indisvalid
    ) AS unique_invalid \gset
    \if :unique_invalid
        DROP INDEX CONCURRENTLY :"unique_key";
    \endif

    SELECT clock_timestamp() AS step_start \gset
    CALL fleetreg_merge_all(:'unique_kind', 1000);
    \ir user_id_unique_elapsed.sql
    \echo 'user_id_unique:' :unique_table 'merge' :step_ms 'ms'

    \set ON_ERROR_STOP 0
    SELECT clock_timestamp() AS step_start \gset
    CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS :"unique_key"
        ON :"unique_table" (user_id);
    \if :ERROR
        \echo 'user_id_unique: index build on' :unique_table 'failed, retrying'
    \else
        \ir user_id_unique_elapsed.sql
        \echo 'user_id_unique:' :unique_table 'index build' :step_ms 'ms'

        SET lock_timeout = '2s';
        SELECT clock_timestamp() AS step_start \gset
        ALTER TABLE :"unique_table"
            ADD CONSTRAINT :"unique_key" UNIQUE USING INDEX :"unique_key";
        \if :ERROR
            \echo 'user_id_unique: attaching' :unique_key 'failed, retrying'
        \else
            \ir user_id_unique_elapsed.sql
            \echo 'user_id_unique:' :unique_table 'constraint attach' :step_ms 'ms'
        \endif
        RESET lock_timeout;
    \endif
    \set ON_ERROR_STOP 1
\endif
