-- Deploy fleetreg:merge_duplicates
--
-- Archive tables and the functions that merge duplicate records. Per user
-- and kind, the most advanced record is kept:
--
--   1. the highest onboarding_status: approved, then submitted, then
--      rejected, then draft (approved is the record the platform acts on,
--      and a submitted one is waiting in a review queue);
--   2. then a record with a tenant_id;
--   3. then a record with a non-empty business_name;
--   4. then the oldest created_at, then the lowest id.
--
-- Its empty fields (NULL or '') are filled from the other records in the
-- same order. Every row of any table whose foreign key references a
-- removed record is moved onto the kept one (and logged), and each removed
-- row is copied whole into the archive before it is deleted.

BEGIN;

-- The archive tables may remain from an earlier deploy that was reverted
-- (the revert keeps them when they hold rows), hence IF NOT EXISTS.
--
-- Each removed record: its columns as they were, the record it was merged
-- into, and the whole row as jsonb so that columns added to the record
-- tables later are kept even before the archive gains them.
CREATE TABLE IF NOT EXISTS fleet_owners_archive (
    fleet_owner_id integer PRIMARY KEY,
    user_id bigint NOT NULL,
    business_name text,
    tenant_id integer,
    onboarding_status text,
    created_at timestamptz,
    updated_at timestamptz,
    merged_into integer NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    row_data jsonb NOT NULL
);

CREATE INDEX IF NOT EXISTS fleet_owners_archive_user_id_idx
    ON fleet_owners_archive (user_id);

CREATE TABLE IF NOT EXISTS drivers_archive (
    driver_id integer PRIMARY KEY,
    user_id bigint NOT NULL,
    tenant_id integer,
    onboarding_status text,
    created_at timestamptz,
    updated_at timestamptz,
    merged_into integer NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    row_data jsonb NOT NULL
);

CREATE INDEX IF NOT EXISTS drivers_archive_user_id_idx
    ON drivers_archive (user_id);

-- Every referencing row that a merge moved, as it is after the move; the
-- value it had before is old_value.
CREATE TABLE IF NOT EXISTS merged_references (
    merged_reference_id bigserial PRIMARY KEY,
    referencing_table text NOT NULL,
    constraint_name text NOT NULL,
    referencing_column text NOT NULL,
    old_value text NOT NULL,
    new_value text NOT NULL,
    row_data jsonb NOT NULL,
    moved_at timestamptz NOT NULL DEFAULT now()
);

-- Maps a kind ('fleet_owner' or 'driver') to its table, id column and
-- archive table.
CREATE FUNCTION fleetreg_kind(p_kind text, OUT record_table regclass,
                              OUT id_column name, OUT archive_table regclass)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    CASE p_kind
    WHEN 'fleet_owner' THEN
        record_table := 'fleet_owners'::regclass;
        id_column := 'fleet_owner_id';
        archive_table := 'fleet_owners_archive'::regclass;
    WHEN 'driver' THEN
        record_table := 'drivers'::regclass;
        id_column := 'driver_id';
        archive_table := 'drivers_archive'::regclass;
    ELSE
        RAISE EXCEPTION 'invalid record kind %', quote_nullable(p_kind)
            USING HINT = 'Use fleet_owner or driver.';
    END CASE;
END
$$;

CREATE FUNCTION fleetreg_status_rank(p_status text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_status
           WHEN 'approved' THEN 3
           WHEN 'submitted' THEN 2
           WHEN 'rejected' THEN 1
           ELSE 0
           END
$$;

-- True for a missing key, JSON null and the empty string.
CREATE FUNCTION fleetreg_json_empty(p_value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_value IS NULL OR p_value = 'null'::jsonb
           OR p_value = '""'::jsonb
$$;

-- Columns that both tables have, in the order of p_source.
CREATE FUNCTION fleetreg_common_columns(p_source regclass, p_target regclass)
RETURNS name[]
LANGUAGE sql STABLE AS $$
    SELECT array_agg(s.attname ORDER BY s.attnum)
    FROM pg_attribute s
    JOIN pg_attribute t
      ON t.attrelid = p_target AND t.attname = s.attname
     AND t.attnum > 0 AND NOT t.attisdropped
    WHERE s.attrelid = p_source AND s.attnum > 0 AND NOT s.attisdropped
$$;

-- Every foreign key in the database that references p_table, found in the
-- catalog so that tables added by other applications are covered too. A
-- partitioned table is listed once, by its parent constraint.
CREATE FUNCTION fleetreg_referencing_keys(p_table regclass)
RETURNS TABLE (constraint_name name, referencing_table regclass,
               referencing_column name, referenced_column name,
               referenced_type text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    wide text;
BEGIN
    SELECT string_agg(format('%I on %s', c.conname, c.conrelid::regclass),
                      ', ')
    INTO wide
    FROM pg_constraint c
    WHERE c.confrelid = p_table AND c.contype = 'f'
      AND cardinality(c.conkey) > 1;

    IF wide IS NOT NULL THEN
        RAISE EXCEPTION 'multi-column foreign keys reference %: %',
            p_table, wide
            USING HINT = 'Merging moves single-column references only; '
                         'move these rows by hand or drop the keys first.';
    END IF;

    RETURN QUERY
    SELECT c.conname, c.conrelid::regclass, ra.attname, ka.attname,
           format_type(ka.atttypid, ka.atttypmod)
    FROM pg_constraint c
    JOIN pg_attribute ra
      ON ra.attrelid = c.conrelid AND ra.attnum = c.conkey[1]
    JOIN pg_attribute ka
      ON ka.attrelid = c.confrelid AND ka.attnum = c.confkey[1]
    WHERE c.confrelid = p_table AND c.contype = 'f' AND c.conparentid = 0
    ORDER BY c.conrelid::regclass::text, c.conname;
END
$$;

-- Reads the records of one user, best first. With p_lock the rows are
-- locked FOR UPDATE, so that the service cannot change them while they
-- are merged; rows deleted meanwhile by a concurrent merge drop out.
CREATE FUNCTION fleetreg_ranked_records(p_kind text, p_user_id bigint,
                                        p_lock boolean)
RETURNS jsonb[]
LANGUAGE plpgsql AS $$
DECLARE
    kind record := fleetreg_kind(p_kind);
    ranked jsonb[];
BEGIN
    EXECUTE format(
        'SELECT array_agg(s.j ORDER BY'
        ' fleetreg_status_rank(s.j->>''onboarding_status'') DESC,'
        ' NOT fleetreg_json_empty(s.j->''tenant_id'') DESC,'
        ' NOT fleetreg_json_empty(s.j->''business_name'') DESC,'
        ' (s.j->>''created_at'')::timestamptz,'
        ' (s.j->>%L)::bigint)'
        ' FROM (SELECT to_jsonb(t) AS j FROM %s t'
        '       WHERE t.user_id = $1 ORDER BY t.%I %s) s',
        kind.id_column, kind.record_table, kind.id_column,
        CASE WHEN p_lock THEN 'FOR UPDATE' ELSE '' END)
    INTO ranked
    USING p_user_id;

    RETURN ranked;
END
$$;

-- Moves the rows that reference p_loser onto p_winner (with p_apply) or
-- counts them (without), one result row per foreign key with rows.
CREATE FUNCTION fleetreg_move_references(p_kind text, p_loser jsonb,
                                         p_winner jsonb, p_apply boolean)
RETURNS TABLE (details text)
LANGUAGE plpgsql AS $$
DECLARE
    kind record := fleetreg_kind(p_kind);
    fk record;
    old_value text;
    new_value text;
    moved bigint;
BEGIN
    FOR fk IN SELECT * FROM fleetreg_referencing_keys(kind.record_table)
    LOOP
        old_value := p_loser->>fk.referenced_column;
        new_value := p_winner->>fk.referenced_column;
        IF old_value IS NULL OR old_value = new_value THEN
            CONTINUE;
        END IF;

        IF p_apply THEN
            EXECUTE format(
                'WITH moved AS ('
                '  UPDATE %1$s r SET %2$I = $2::%3$s'
                '  WHERE r.%2$I = $1::%3$s RETURNING r.*)'
                ' INSERT INTO merged_references (referencing_table,'
                '  constraint_name, referencing_column, old_value,'
                '  new_value, row_data)'
                ' SELECT %4$L, %5$L, %2$L, $1, $2, to_jsonb(moved)'
                ' FROM moved',
                fk.referencing_table, fk.referencing_column,
                fk.referenced_type, fk.referencing_table::text,
                fk.constraint_name)
            USING old_value, new_value;
            GET DIAGNOSTICS moved = ROW_COUNT;
        ELSE
            EXECUTE format('SELECT count(*) FROM %s r WHERE r.%I = $1::%s',
                           fk.referencing_table, fk.referencing_column,
                           fk.referenced_type)
            INTO moved
            USING old_value;
        END IF;

        IF moved > 0 THEN
            details := format('%s.%s (%s): rows=%s from %s to %s',
                              fk.referencing_table, fk.referencing_column,
                              fk.constraint_name, moved, old_value,
                              new_value);
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

-- Merges the records of one user, or with p_apply = false only plans the
-- merge. Returns the plan: keep, fill, move, archive and delete steps in
-- the order they run. Returns no rows when the user has fewer than two
-- records. Dry runs take no locks and change nothing.
CREATE FUNCTION fleetreg_merge_user(p_kind text, p_user_id bigint,
                                    p_apply boolean)
RETURNS TABLE (action text, record_id bigint, details text)
LANGUAGE plpgsql AS $$
DECLARE
    kind record := fleetreg_kind(p_kind);
    ranked jsonb[];
    winner jsonb;
    merged jsonb;
    winner_id bigint;
    loser jsonb;
    loser_id bigint;
    column_name text;
    filled text[] := '{}';
    differing text[];
    columns name[];
    moved text;
BEGIN
    ranked := fleetreg_ranked_records(p_kind, p_user_id, p_apply);
    IF coalesce(cardinality(ranked), 0) < 2 THEN
        RETURN;
    END IF;

    winner := ranked[1];
    winner_id := (winner->>kind.id_column)::bigint;
    action := 'keep';
    record_id := winner_id;
    details := format('best of %s: onboarding_status=%s tenant_id=%s',
                      cardinality(ranked), winner->>'onboarding_status',
                      coalesce(winner->>'tenant_id', 'null'));
    IF winner ? 'business_name' THEN
        details := details || format(' business_name=%s',
                                     coalesce(winner->'business_name',
                                              'null'));
    END IF;
    details := details || format(' created_at=%s', winner->>'created_at');
    RETURN NEXT;

    -- Fill each empty field of the winner from the first other record, in
    -- rank order, that has a value for it.
    merged := winner;
    FOR column_name IN SELECT jsonb_object_keys(winner) LOOP
        CONTINUE WHEN column_name IN (kind.id_column, 'user_id',
                                      'created_at', 'updated_at');
        CONTINUE WHEN NOT fleetreg_json_empty(winner->column_name);

        FOR i IN 2 .. cardinality(ranked) LOOP
            CONTINUE WHEN fleetreg_json_empty(ranked[i]->column_name);

            merged := jsonb_set(merged, ARRAY[column_name],
                                ranked[i]->column_name);
            filled := filled || column_name;
            action := 'fill';
            details := format('%s=%s from record %s', column_name,
                              ranked[i]->column_name,
                              ranked[i]->>kind.id_column);
            RETURN NEXT;
            EXIT;
        END LOOP;
    END LOOP;

    IF p_apply AND cardinality(filled) > 0 THEN
        EXECUTE format(
            'UPDATE %s t SET %s, updated_at = now()'
            ' FROM jsonb_populate_record(NULL::%s, $1) r WHERE t.%I = $2',
            kind.record_table,
            (SELECT string_agg(format('%I = r.%I', c, c), ', ')
             FROM unnest(filled) AS c),
            kind.record_table, kind.id_column)
        USING merged, winner_id;
    END IF;

    columns := fleetreg_common_columns(kind.record_table,
                                       kind.archive_table);

    FOR i IN 2 .. cardinality(ranked) LOOP
        loser := ranked[i];
        loser_id := (loser->>kind.id_column)::bigint;

        FOR moved IN
            SELECT m.details
            FROM fleetreg_move_references(p_kind, loser, merged, p_apply) m
        LOOP
            action := 'move';
            record_id := loser_id;
            details := moved;
            RETURN NEXT;
        END LOOP;

        -- Values the kept record does not end up with survive only in the
        -- archive; the plan names their columns.
        SELECT array_agg(e.key ORDER BY e.key)
        INTO differing
        FROM jsonb_each(loser) e
        WHERE e.key NOT IN (kind.id_column, 'created_at', 'updated_at')
          AND NOT fleetreg_json_empty(e.value)
          AND e.value IS DISTINCT FROM merged->e.key;

        IF p_apply THEN
            EXECUTE format(
                'INSERT INTO %s (%s, merged_into, row_data)'
                ' SELECT %s, $2, $1'
                ' FROM jsonb_populate_record(NULL::%s, $1) r',
                kind.archive_table,
                (SELECT string_agg(format('%I', c), ', ')
                 FROM unnest(columns) AS c),
                (SELECT string_agg(format('r.%I', c), ', ')
                 FROM unnest(columns) AS c),
                kind.record_table)
            USING loser, winner_id;
        END IF;

        action := 'archive';
        record_id := loser_id;
        details := format('into %s, merged_into=%s', kind.archive_table,
                          winner_id);
        IF differing IS NOT NULL THEN
            details := details || ', values kept only in the archive: '
                       || array_to_string(differing, ', ');
        END IF;
        RETURN NEXT;

        IF p_apply THEN
            EXECUTE format('DELETE FROM %s WHERE %I = $1',
                           kind.record_table, kind.id_column)
            USING loser_id;
        END IF;

        action := 'delete';
        details := format('from %s', kind.record_table);
        RETURN NEXT;
    END LOOP;
END
$$;

-- Users with more than one record of p_kind, lowest user_id first, at
-- most p_max_users of them (NULL for all).
CREATE FUNCTION fleetreg_duplicate_users(p_kind text, p_max_users integer)
RETURNS TABLE (user_id bigint, record_ids bigint[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    kind record := fleetreg_kind(p_kind);
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT t.user_id::bigint, array_agg(t.%I::bigint ORDER BY t.%I)'
        ' FROM %s t GROUP BY t.user_id HAVING count(*) > 1'
        ' ORDER BY t.user_id LIMIT $1',
        kind.id_column, kind.id_column, kind.record_table)
    USING p_max_users;
END
$$;

-- Merges the duplicates of at most p_max_users users of p_kind in the
-- caller's transaction. Returns how many users were merged; 0 means no
-- duplicates were left when the batch started.
CREATE FUNCTION fleetreg_merge_duplicates(p_kind text, p_max_users integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    duplicate record;
    steps bigint;
    merged integer := 0;
BEGIN
    FOR duplicate IN
        SELECT d.user_id FROM fleetreg_duplicate_users(p_kind, p_max_users) d
    LOOP
        SELECT count(*) INTO steps
        FROM fleetreg_merge_user(p_kind, duplicate.user_id, true);

        IF steps > 0 THEN
            merged := merged + 1;
        END IF;
    END LOOP;

    RETURN merged;
END
$$;

-- The plan that fleetreg_merge_duplicates would carry out now, for one
-- kind or (p_kind NULL) both. Changes nothing and takes no row locks.
CREATE FUNCTION fleetreg_merge_plan(p_kind text DEFAULT NULL,
                                    p_max_users integer DEFAULT NULL)
RETURNS TABLE (kind text, user_id bigint, action text, record_id bigint,
               details text)
LANGUAGE plpgsql AS $$
DECLARE
    duplicate record;
BEGIN
    FOR kind IN
        SELECT k FROM unnest(ARRAY['fleet_owner', 'driver']) AS k
        WHERE p_kind IS NULL OR k = p_kind
    LOOP
        PERFORM fleetreg_kind(kind);

        FOR duplicate IN
            SELECT d.user_id FROM fleetreg_duplicate_users(kind, p_max_users) d
        LOOP
            user_id := duplicate.user_id;
            RETURN QUERY
            SELECT kind, user_id, m.action, m.record_id, m.details
            FROM fleetreg_merge_user(kind, duplicate.user_id, false) m;
        END LOOP;
    END LOOP;
END
$$;

-- Merges every duplicate of p_kind, committing after each batch so that
-- row locks are held briefly. Stops after a batch that found fewer users
-- than p_batch_size, so a client that keeps adding duplicates cannot keep
-- it running. Call it outside a transaction block.
CREATE PROCEDURE fleetreg_merge_all(p_kind text,
                                    p_batch_size integer DEFAULT 1000)
LANGUAGE plpgsql AS $$
DECLARE
    merged integer;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION 'invalid batch size %', quote_nullable(p_batch_size)
            USING HINT = 'Use a positive number of users per batch.';
    END IF;

    LOOP
        merged := fleetreg_merge_duplicates(p_kind, p_batch_size);
        COMMIT;
        EXIT WHEN merged < p_batch_size;
    END LOOP;
END
$$;

-- Only the schema owner merges; the service role must not.
REVOKE EXECUTE ON FUNCTION
    fleetreg_merge_user(text, bigint, boolean),
    fleetreg_move_references(text, jsonb, jsonb, boolean),
    fleetreg_ranked_records(text, bigint, boolean),
    fleetreg_merge_duplicates(text, integer),
    fleetreg_merge_plan(text, integer),
    fleetreg_duplicate_users(text, integer)
FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE fleetreg_merge_all(text, integer) FROM PUBLIC;

COMMIT;
