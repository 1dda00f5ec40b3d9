-- Deploy fleetreg:app_grants
--
-- Grants the service role fleetreg_app what fleetreg needs and nothing
-- more: it reads, creates and updates records, reads tenants, and never
-- deletes or touches the archive. The role itself, with its password and
-- its statement_timeout, is created outside sqitch; when it does not
-- exist yet this change only reports that, and sqitch/README.md says how
-- to apply the grants later.

BEGIN;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetreg_app')
    THEN
        RAISE WARNING 'role fleetreg_app does not exist, so no privileges '
                      'were granted'
            USING HINT = 'Create the role, then run: sqitch rebase '
                         '--onto user_id_unique';
        RETURN;
    END IF;

    GRANT SELECT, INSERT, UPDATE ON fleet_owners, drivers TO fleetreg_app;
    GRANT SELECT ON tenants TO fleetreg_app;
    GRANT USAGE ON SEQUENCE fleet_owners_fleet_owner_id_seq,
                            drivers_driver_id_seq TO fleetreg_app;
END
$$;

COMMIT;
