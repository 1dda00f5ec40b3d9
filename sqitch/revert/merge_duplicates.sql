-- Revert fleetreg:merge_duplicates
--
-- Drops the merge functions. The archive tables and the log of moved
-- references are kept when they hold rows, because they are the only
-- copy of the merged records; drop them by hand once they are not needed.

BEGIN;

DROP PROCEDURE fleetreg_merge_all(text, integer);
DROP FUNCTION fleetreg_merge_plan(text, integer);
DROP FUNCTION fleetreg_merge_duplicates(text, integer);
DROP FUNCTION fleetreg_duplicate_users(text, integer);
DROP FUNCTION fleetreg_merge_user(text, bigint, boolean);
DROP FUNCTION fleetreg_move_references(text, jsonb, jsonb, boolean);
DROP FUNCTION fleetreg_ranked_records(text, bigint, boolean);
DROP FUNCTION fleetreg_referencing_keys(regclass);
DROP FUNCTION fleetreg_common_columns(regclass, regclass);
DROP FUNCTION fleetreg_json_empty(jsonb);
DROP FUNCTION fleetreg_status_rank(text);
DROP FUNCTION fleetreg_kind(text);

DO $$
DECLARE
    name text;
    has_rows boolean;
BEGIN
    FOREACH name IN ARRAY ARRAY['fleet_owners_archive', 'drivers_archive',
                                'merged_references'] LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', name)
        INTO has_rows;

        IF has_rows THEN
            RAISE NOTICE 'kept table % because it holds merged rows', name;
        ELSE
            EXECUTE format('DROP TABLE %I', name);
        END IF;
    END LOOP;
END
$$;

COMMIT;
