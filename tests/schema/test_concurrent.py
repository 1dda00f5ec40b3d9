"""The migration while the old service keeps inserting duplicates."""

import random
import threading
import time

import psycopg2
import psycopg2.errorcodes

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

    Bounded by max_statements and max_seconds so that a hung migration
    cannot keep it running.
    """

    def __init__(self, dsn, max_statements=20000, max_seconds=120):
        super().__init__(daemon=True)
        self.dsn = dsn
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
            user_id = generator.randint(1, USERS + 500)
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
