-- Deploy fleetreg:baseline
--
-- The schema of the service that fleetreg replaces, exactly as its
-- deployments hold it. On such a database this change is recorded without
-- running (sqitch deploy --log-only --to baseline); on an empty database it
-- creates the old tables so that every later change runs on one path.

BEGIN;

CREATE TABLE fleet_owners (
    fleet_owner_id serial PRIMARY KEY,
    user_id integer NOT NULL,
    business_name text NULL,
    tenant_id integer NULL,
    onboarding_status text DEFAULT 'draft',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A plain index, not a unique one: the old service relied on
-- SELECT ... FOR UPDATE, which is why its databases hold duplicates.
CREATE INDEX ix_fleet_owners_user_id ON fleet_owners (user_id);

CREATE TABLE drivers (
    driver_id serial PRIMARY KEY,
    user_id integer NOT NULL,
    tenant_id integer NULL,
    onboarding_status text DEFAULT 'draft',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ix_drivers_user_id ON drivers (user_id);

COMMIT;
