-- Included by deploy/user_id_unique.sql: the trigger function that keeps
-- new duplicates out while the unique index is built.
--
-- Each insert (or change of user_id) takes a transaction-level advisory
-- lock on (table, user_id) and then looks for another row of that user.
-- The lock serialises concurrent writers for one user, and in READ
-- COMMITTED each query in the function sees rows committed before it
-- starts, so the second writer sees the first one's row. It raises the
-- same SQLSTATE 23505 and message that the unique constraint will raise
-- once it exists.
--
-- NOTE: a writer in REPEATABLE READ or SERIALIZABLE keeps its snapshot and
-- can still add a duplicate; the bounded retry in the deploy covers that.

CREATE OR REPLACE FUNCTION fleetreg_reject_duplicate_user()
RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    found boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.user_id = OLD.user_id THEN
        RETURN NEW;
    END IF;

    PERFORM pg_advisory_xact_lock(TG_RELID::integer,
                                  hashint8(NEW.user_id));

    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE user_id = $1)',
                   TG_RELID::regclass)
    INTO found
    USING NEW.user_id;

    IF found THEN
        RAISE EXCEPTION USING
            ERRCODE = 'unique_violation',
            MESSAGE = format('duplicate key value violates unique '
                             'constraint "%s_user_id_key"', TG_TABLE_NAME),
            DETAIL = format('Key (user_id)=(%s) already exists.',
                            NEW.user_id);
    END IF;

    RETURN NEW;
END
$$;

REVOKE EXECUTE ON FUNCTION fleetreg_reject_duplicate_user() FROM PUBLIC;
