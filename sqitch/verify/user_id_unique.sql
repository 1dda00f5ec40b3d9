-- Verify fleetreg:user_id_unique

BEGIN;

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['fleet_owners_user_id_key',
                                'drivers_user_id_key'] LOOP
        IF NOT EXISTS (
            SELECT 1
            FROM pg_constraint c
            JOIN pg_index i ON i.indexrelid = c.conindid
            JOIN pg_attribute a
              ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.conname = name AND c.contype = 'u'
              AND cardinality(c.conkey) = 1 AND a.attname = 'user_id'
              AND i.indisvalid AND i.indisready
        ) THEN
            RAISE EXCEPTION 'unique constraint % on (user_id) is missing '
                            'or its index is invalid', name;
        END IF;
    END LOOP;
END
$$;

ROLLBACK;
