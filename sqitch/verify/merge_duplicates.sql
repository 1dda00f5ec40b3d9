-- Verify fleetreg:merge_duplicates

BEGIN;

SELECT fleet_owner_id, user_id, merged_into, archived_at, row_data
FROM fleet_owners_archive
WHERE false;

SELECT driver_id, user_id, merged_into, archived_at, row_data
FROM drivers_archive
WHERE false;

SELECT referencing_table, old_value, new_value, row_data
FROM merged_references
WHERE false;

-- A dry run plans without writing, so it is safe to run here.
SELECT count(*) FROM fleetreg_merge_plan(NULL, 1);

SELECT 'fleetreg_merge_all(text, integer)'::regprocedure;

ROLLBACK;
