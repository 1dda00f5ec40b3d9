"""Baseline data shaped like real old deployments, and the expected merge.

Ids are explicit so that the expected winners can be named. The comments
give the rule that picks each winner.
"""

FLEET_OWNERS_SQL = """
INSERT INTO fleet_owners (fleet_owner_id, user_id, business_name, tenant_id,
                          onboarding_status, created_at)
VALUES
    -- 101: the register/status race: a bare draft, then one with a tenant.
    (1, 101, NULL, NULL, 'draft', '2024-01-01 10:00:00+00'),
    (2, 101, 'Acme', 10, 'draft', '2024-01-01 10:00:01+00'),
    -- 102: a submitted record beats older drafts; its empty name is filled
    -- from record 5, which ranks above 3 because it has a tenant.
    (3, 102, 'Old Name', NULL, 'draft', '2023-01-01 00:00:00+00'),
    (4, 102, '', 11, 'submitted', '2024-03-01 00:00:00+00'),
    (5, 102, 'Other', 12, 'draft', '2022-01-01 00:00:00+00'),
    -- 103: conflicting names, otherwise equal: the oldest wins.
    (6, 103, 'Alpha', NULL, 'draft', '2024-01-01 00:00:00+00'),
    (7, 103, 'Beta', NULL, 'draft', '2023-06-01 00:00:00+00'),
    -- 104: no duplicate.
    (8, 104, 'Single', 10, 'approved', '2020-01-01 00:00:00+00'),
    -- 105: approved beats submitted; the tenant is filled from 9.
    (9, 105, NULL, 10, 'submitted', '2023-01-01 00:00:00+00'),
    (10, 105, 'Newer', NULL, 'approved', '2024-01-01 00:00:00+00'),
    -- 106: all equal: the lowest id wins.
    (11, 106, NULL, NULL, 'draft', '2024-01-01 00:00:00+00'),
    (12, 106, NULL, NULL, 'draft', '2024-01-01 00:00:00+00'),
    -- 107: a NULL status counts as a draft; the non-empty name wins.
    (13, 107, '', NULL, NULL, '2022-01-01 00:00:00+00'),
    (14, 107, 'Named', NULL, 'draft', '2024-01-01 00:00:00+00');
SELECT setval('fleet_owners_fleet_owner_id_seq', 100);
"""

DRIVERS_SQL = """
INSERT INTO drivers (driver_id, user_id, tenant_id, onboarding_status,
                     created_at)
VALUES
    (1, 101, NULL, 'draft', '2024-01-01 10:00:00+00'),
    (2, 101, 10, 'draft', '2024-02-01 10:00:00+00'),
    -- 201: submitted beats rejected beats draft; the tenant is filled
    -- from 4, the first in rank order that has one.
    (3, 201, NULL, 'rejected', '2021-01-01 00:00:00+00'),
    (4, 201, 11, 'draft', '2020-01-01 00:00:00+00'),
    (5, 201, NULL, 'submitted', '2024-01-01 00:00:00+00'),
    (6, 202, NULL, 'draft', '2024-01-01 00:00:00+00');
SELECT setval('drivers_driver_id_seq', 100);
"""

# Tables of another application that reference the records.
REFERENCING_SQL = """
CREATE TABLE vehicles (
    vehicle_id integer PRIMARY KEY,
    fleet_owner_id integer NOT NULL REFERENCES fleet_owners
);
INSERT INTO vehicles VALUES (1, 1), (2, 1), (3, 3), (4, 5), (5, 4), (6, 8),
                            (7, 6), (8, 12);
CREATE TABLE driver_documents (
    document_id integer PRIMARY KEY,
    driver_id integer REFERENCES drivers ON DELETE CASCADE
);
INSERT INTO driver_documents VALUES (1, 1), (2, 3), (3, 4), (4, 5), (5, 6);
"""

# user_id: (kept id, expected fields of the kept record after the merge)
EXPECTED_FLEET_OWNERS = {
    101: (2, {"business_name": "Acme", "tenant_id": 10,
              "onboarding_status": "draft"}),
    102: (4, {"business_name": "Other", "tenant_id": 11,
              "onboarding_status": "submitted"}),
    103: (7, {"business_name": "Beta", "tenant_id": None,
              "onboarding_status": "draft"}),
    104: (8, {"business_name": "Single", "tenant_id": 10,
              "onboarding_status": "approved"}),
    105: (10, {"business_name": "Newer", "tenant_id": 10,
               "onboarding_status": "approved"}),
    106: (11, {"business_name": None, "tenant_id": None,
               "onboarding_status": "draft"}),
    107: (14, {"business_name": "Named", "tenant_id": None,
               "onboarding_status": "draft"}),
}

EXPECTED_DRIVERS = {
    101: (2, {"tenant_id": 10, "onboarding_status": "draft"}),
    201: (5, {"tenant_id": 11, "onboarding_status": "submitted"}),
    202: (6, {"tenant_id": None, "onboarding_status": "draft"}),
}

# vehicle_id or document_id: the record it must reference after the merge.
EXPECTED_VEHICLES = {1: 2, 2: 2, 3: 4, 4: 4, 5: 4, 6: 8, 7: 7, 8: 11}
EXPECTED_DOCUMENTS = {1: 2, 2: 5, 3: 5, 4: 5, 5: 6}


def load_baseline(db):
    """Deploys the baseline and loads the old-deployment rows into it."""
    db.deploy(to="baseline")
    db.execute(FLEET_OWNERS_SQL + DRIVERS_SQL + REFERENCING_SQL)
