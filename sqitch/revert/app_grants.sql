-- Revert fleetreg:app_grants

BEGIN;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetreg_app')
    THEN
        RETURN;
    END IF;

    REVOKE SELECT, INSERT, UPDATE ON fleet_owners, drivers
        FROM fleetreg_app;
    REVOKE SELECT ON tenants FROM fleetreg_app;
    REVOKE USAGE ON SEQUENCE fleet_owners_fleet_owner_id_seq,
                             drivers_driver_id_seq FROM fleetreg_app;
END
$$;

COMMIT;
