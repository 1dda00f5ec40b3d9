"""The migration while the old service keeps inserting duplicates."""

import os
import random
import subprocess
import threading
import time

import psycopg2
import psycopg2.errorcodes
import pytest

import fixtures

USERS = 3000
DUPLICATED_USERS = 600

BASELINE_ROWS_SQL = """
INSERT INTO fleet_owners (user_id, tenant_id, created_at)
SELECT u, NULL, now() - interval '1 day' FROM generate_series(1, %(users)s) u;
INSERT INTO fleet_owners (user_id, business_name, created_at)
SELECT u, 'Name ' || u, now() FROM generate_series(1, %(duplicated)s) u;
INSERT INTO drivers (user_id, created_at)
SELECT u, now() FROM generate_series(1, %(users)s) u;
INSERT INTO drivers (user_id, created_at)
SELECT u, now() FROM generate_series(1, %(duplicated)s) u;
"""


class OldServiceClient(threading.Thread):
    """Plain INSERTs as the old service made them, no ON CONFLICT.

    Each statement adds a record for a random user from first_user to
    last_user. Bounded by max_statements and max_seconds so that a hung
    migration cannot keep it running.
    """

    def __init__(self, dsn, first_user=1, last_user=USERS + 500,
                 max_statements=20000, max_seconds=120):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.first_user = first_user
        self.last_user = last_user
        self.max_statements = max_statements
        self.max_seconds = max_seconds
        self.stop = threading.Event()
        self.inserted = {"fleet_owners": 0, "drivers": 0}
        self.rejected = 0
        self.other_errors = []

    def run(self):
        connection = psycopg2.connect(self.dsn)
        connection.autocommit = True
        cursor = connection.cursor()
        deadline = time.monotonic() + self.max_seconds
        generator = random.Random(7)
        for _ in range(self.max_statements):
            if self.stop.is_set() or time.monotonic() > deadline:
                break
            table = generator.choice(["fleet_owners", "drivers"])
            user_id = generator.randint(self.first_user, self.last_user)
            try:
                cursor.execute("INSERT INTO " + table + " (user_id) "
                               "VALUES (%s)", (user_id,))
                self.inserted[table] += 1
            except psycopg2.Error as error:
                if error.pgcode == psycopg2.errorcodes.UNIQUE_VIOLATION:
                    self.rejected += 1
                else:
                    self.other_errors.append(error.pgerror)
            time.sleep(0.001)
        connection.close()


def test_migration_under_concurrent_duplicates(scratch_db):
    scratch_db.deploy(to="baseline")
    scratch_db.execute(BASELINE_ROWS_SQL,
                       {"users": USERS, "duplicated": DUPLICATED_USERS})
    before = {table: scratch_db.scalar("SELECT count(*) FROM " + table)
              for table in ["fleet_owners", "drivers"]}
    client = OldServiceClient(scratch_db.dsn)
    client.start()
    time.sleep(0.5)
    inserted_before_deploy = sum(client.inserted.values())

    result = scratch_db.deploy(check=False)
    inserted_during_deploy = sum(client.inserted.values()) \
        - inserted_before_deploy
    time.sleep(0.5)
    client.stop.set()
    client.join(timeout=30)

    assert result.returncode == 0, result.stdout + result.stderr
    assert not client.is_alive()
    assert client.other_errors == []
    assert inserted_during_deploy > 0
    assert client.rejected > 0
    scratch_db.sqitch("verify")
    for table in ["fleet_owners", "drivers"]:
        duplicates = scratch_db.scalar(
            "SELECT count(*) FROM (SELECT user_id FROM " + table
            + " GROUP BY user_id HAVING count(*) > 1) d")
        kept = scratch_db.scalar("SELECT count(*) FROM " + table)
        archived = scratch_db.scalar("SELECT count(*) FROM " + table
                                     + "_archive")
        assert duplicates == 0, table
        assert kept + archived == before[table] + client.inserted[table]


# The old service's tables, written the way SQLAlchemy's create_all emits
# DDL. They have the columns and indexes of sqitch/deploy/baseline.sql, so
# sqitch only records the baseline (deploy --log-only) and verifies it.
OLD_SERVICE_TABLES_SQL = """
CREATE TABLE fleet_owners (
    fleet_owner_id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    business_name TEXT,
    tenant_id INTEGER,
    onboarding_status TEXT DEFAULT 'draft',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (fleet_owner_id)
);
CREATE INDEX ix_fleet_owners_user_id ON fleet_owners (user_id);
CREATE TABLE drivers (
    driver_id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    tenant_id INTEGER,
    onboarding_status TEXT DEFAULT 'draft',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (driver_id)
);
CREATE INDEX ix_drivers_user_id ON drivers (user_id);
"""

# Users of the bulk rows and of the concurrent client, apart from the
# users of the fixtures so that their expected winners still hold.
BULK_FIRST_USER = 10001
BULK_USERS = 3000
BULK_DUPLICATED_USERS = 600

BULK_ROWS_SQL = """
INSERT INTO fleet_owners (user_id, created_at)
SELECT %(first)s + u, now() - interval '1 day'
FROM generate_series(0, %(users)s - 1) u;
INSERT INTO fleet_owners (user_id, business_name, created_at)
SELECT %(first)s + u, 'Name ' || u, now()
FROM generate_series(0, %(duplicated)s - 1) u;
INSERT INTO drivers (user_id, created_at)
SELECT %(first)s + u, now() FROM generate_series(0, %(users)s - 1) u;
INSERT INTO drivers (user_id, onboarding_status, created_at)
SELECT %(first)s + u, 'submitted', now()
FROM generate_series(0, %(duplicated)s - 1) u;
"""

# table: (id column, the fixtures' expected winners)
RECORD_TABLES = {
    "fleet_owners": ("fleet_owner_id", fixtures.EXPECTED_FLEET_OWNERS),
    "drivers": ("driver_id", fixtures.EXPECTED_DRIVERS),
}


def run_admin_duplicates(path, db):
    env = {name: value for name, value in os.environ.items()
           if name != "FLEETREG_DB"}
    return subprocess.run([path, "duplicates", "--database", db.dsn],
                          env=env, capture_output=True, text=True,
                          timeout=120)


def test_old_database_to_unique_end_to_end(scratch_db):
    admin = os.environ.get("FLEETREG_ADMIN")
    if not admin:
        pytest.skip("FLEETREG_ADMIN is not set: set it to the path of a "
                    "built fleetreg-admin binary")
    scratch_db.execute(OLD_SERVICE_TABLES_SQL)
    scratch_db.execute(fixtures.FLEET_OWNERS_SQL + fixtures.DRIVERS_SQL
                       + fixtures.REFERENCING_SQL)
    scratch_db.execute(BULK_ROWS_SQL, {"first": BULK_FIRST_USER,
                                       "users": BULK_USERS,
                                       "duplicated": BULK_DUPLICATED_USERS})
    scratch_db.sqitch("deploy", "--log-only", "--to", "baseline")
    scratch_db.sqitch("verify", "--to", "baseline")
    assert run_admin_duplicates(admin, scratch_db).returncode == 1
    before = {table: scratch_db.scalar("SELECT count(*) FROM " + table)
              for table in RECORD_TABLES}
    client = OldServiceClient(
        scratch_db.dsn, first_user=BULK_FIRST_USER,
        last_user=BULK_FIRST_USER + BULK_USERS + 499)

    client.start()
    try:
        time.sleep(0.5)
        inserted_before_deploy = sum(client.inserted.values())
        result = scratch_db.deploy(check=False)
        inserted_during_deploy = sum(client.inserted.values()) \
            - inserted_before_deploy
        time.sleep(0.5)
    finally:
        client.stop.set()
        client.join(timeout=30)

    assert result.returncode == 0, result.stdout + result.stderr
    assert not client.is_alive()
    assert client.other_errors == []
    assert inserted_during_deploy > 0
    assert client.rejected > 0
    scratch_db.sqitch("verify")
    for table, (id_column, expected) in RECORD_TABLES.items():
        kept = scratch_db.scalar("SELECT count(*) FROM " + table)
        users = scratch_db.scalar("SELECT count(DISTINCT user_id) FROM "
                                  + table)
        archived = scratch_db.scalar("SELECT count(*) FROM " + table
                                     + "_archive")
        winners = dict(scratch_db.query(
            "SELECT user_id, " + id_column + " FROM " + table
            + " WHERE user_id < %s", (BULK_FIRST_USER,)))
        assert kept == users, table
        assert kept + archived == before[table] + client.inserted[table]
        assert winners == {user_id: record_id
                           for user_id, (record_id, _) in expected.items()}
    assert scratch_db.scalar(
        "SELECT count(*) FROM pg_constraint WHERE conname IN "
        "('fleet_owners_user_id_key', 'drivers_user_id_key')") == 2
    assert dict(scratch_db.query(
        "SELECT vehicle_id, fleet_owner_id FROM vehicles")) == \
        fixtures.EXPECTED_VEHICLES
    duplicates = run_admin_duplicates(admin, scratch_db)
    assert duplicates.returncode == 0, duplicates.stdout + duplicates.stderr
    assert duplicates.stdout.splitlines() == ["kind\tuser_id\trecord_ids"]
