-- Verify fleetreg:app_grants
--
-- Passes without checks when the role does not exist, as the deploy
-- does.

BEGIN;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetreg_app')
    THEN
        RETURN;
    END IF;

    IF NOT (has_table_privilege('fleetreg_app', 'fleet_owners',
                                'SELECT, INSERT, UPDATE')
            AND has_table_privilege('fleetreg_app', 'drivers',
                                    'SELECT, INSERT, UPDATE')
            AND has_table_privilege('fleetreg_app', 'tenants', 'SELECT')
            AND has_sequence_privilege('fleetreg_app',
                                       'fleet_owners_fleet_owner_id_seq',
                                       'USAGE')
            AND has_sequence_privilege('fleetreg_app',
                                       'drivers_driver_id_seq', 'USAGE'))
    THEN
        RAISE EXCEPTION 'role fleetreg_app lacks a privilege on the record '
                        'tables, tenants or their sequences';
    END IF;
END
$$;

ROLLBACK;
