"""The sqitch path from an old deployment with duplicates to UNIQUE (user_id).
"""

import json

import pytest

import fixtures

RECORD_COLUMNS = {
    "fleet_owners": ["fleet_owner_id", "user_id", "business_name",
                     "tenant_id", "onboarding_status", "created_at",
                     "updated_at"],
    "drivers": ["driver_id", "user_id", "tenant_id", "onboarding_status",
                "created_at", "updated_at"],
}


def rows_by_id(db, table):
    columns = RECORD_COLUMNS[table]
    rows = db.query("SELECT %s FROM %s" % (", ".join(columns), table))
    return {row[0]: dict(zip(columns, row)) for row in rows}


def archive_by_id(db, table):
    columns = RECORD_COLUMNS[table] + ["merged_into", "row_data"]
    rows = db.query("SELECT %s FROM %s_archive" % (", ".join(columns), table))
    return {row[0]: dict(zip(columns, row)) for row in rows}


def duplicate_count(db, table):
    return db.scalar("SELECT count(*) FROM (SELECT user_id FROM %s "
                     "GROUP BY user_id HAVING count(*) > 1) d" % table)


def snapshot(db):
    """Every row of every table the merge can touch, for comparisons."""
    tables = ["fleet_owners", "drivers", "fleet_owners_archive",
              "drivers_archive", "merged_references", "vehicles",
              "driver_documents", "tenants"]
    return {table: sorted(map(repr, db.query("SELECT * FROM " + table)))
            for table in tables}


@pytest.fixture
def migrated(scratch_db):
    """An old deployment with duplicates, taken through every change."""
    fixtures.load_baseline(scratch_db)
    scratch_db.before = {table: rows_by_id(scratch_db, table)
                         for table in RECORD_COLUMNS}
    scratch_db.deploy()
    return scratch_db


def test_empty_database_deploy_and_revert(scratch_db):
    scratch_db.deploy()
    scratch_db.sqitch("verify")

    scratch_db.sqitch("revert", "-y")
    assert scratch_db.scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0

    scratch_db.deploy()
    scratch_db.sqitch("verify")


def test_constraint_names_are_the_contract(migrated):
    names = {row[0] for row in migrated.query(
        "SELECT conname FROM pg_constraint WHERE convalidated "
        "AND conrelid IN ('fleet_owners'::regclass, 'drivers'::regclass)")}

    for name in ["fleet_owners_user_id_key", "drivers_user_id_key",
                 "fleet_owners_tenant_id_fkey", "drivers_tenant_id_fkey",
                 "fleet_owners_onboarding_status_check",
                 "drivers_onboarding_status_check",
                 "fleet_owners_business_name_length_check"]:
        assert name in names


def test_old_plain_indexes_are_dropped(migrated):
    assert migrated.scalar(
        "SELECT to_regclass('ix_fleet_owners_user_id')") is None
    assert migrated.scalar("SELECT to_regclass('ix_drivers_user_id')") is None
    assert migrated.scalar(
        "SELECT count(*) FROM pg_trigger "
        "WHERE tgname = 'fleetreg_reject_duplicate_user'") == 0


def test_tenants_get_placeholders_for_used_ids(migrated):
    tenants = migrated.query("SELECT tenant_id, name FROM tenants "
                             "ORDER BY tenant_id")

    assert tenants == [(10, "tenant 10"), (11, "tenant 11"),
                       (12, "tenant 12")]


def test_user_id_is_bigint(migrated):
    migrated.execute("INSERT INTO fleet_owners (user_id) "
                     "VALUES (9007199254740993)")

    assert migrated.scalar("SELECT count(*) FROM fleet_owners "
                           "WHERE user_id = 9007199254740993") == 1


@pytest.mark.parametrize("table,expected", [
    ("fleet_owners", fixtures.EXPECTED_FLEET_OWNERS),
    ("drivers", fixtures.EXPECTED_DRIVERS),
])
def test_merge_keeps_the_ranked_winner(migrated, table, expected):
    after = rows_by_id(migrated, table)
    kept = {row["user_id"]: row for row in after.values()}

    assert duplicate_count(migrated, table) == 0
    assert set(kept) == set(expected)
    for user_id, (record_id, fields) in expected.items():
        row = kept[user_id]
        assert row[RECORD_COLUMNS[table][0]] == record_id, user_id
        for column, value in fields.items():
            assert row[column] == value, (user_id, column)


@pytest.mark.parametrize("table", ["fleet_owners", "drivers"])
def test_merge_loses_no_row(migrated, table):
    before = migrated.before[table]
    kept = rows_by_id(migrated, table)
    archived = archive_by_id(migrated, table)

    assert len(kept) + len(archived) == len(before)
    assert set(kept) | set(archived) == set(before)
    assert not set(kept) & set(archived)


@pytest.mark.parametrize("table", ["fleet_owners", "drivers"])
def test_archive_holds_every_field(migrated, table):
    before = migrated.before[table]
    kept = rows_by_id(migrated, table)
    archived = archive_by_id(migrated, table)

    for record_id, row in archived.items():
        original = before[record_id]
        for column in RECORD_COLUMNS[table]:
            if column == "onboarding_status" and original[column] is None:
                # The status change reads NULL as draft before merging.
                assert row[column] == "draft"
                continue
            assert row[column] == original[column], (record_id, column)

        assert row["merged_into"] in kept
        assert kept[row["merged_into"]]["user_id"] == original["user_id"]
        assert set(row["row_data"]) == set(RECORD_COLUMNS[table])
        assert row["row_data"][RECORD_COLUMNS[table][0]] == record_id


def test_references_follow_the_winner(migrated):
    vehicles = dict(migrated.query(
        "SELECT vehicle_id, fleet_owner_id FROM vehicles"))
    documents = dict(migrated.query(
        "SELECT document_id, driver_id FROM driver_documents"))

    assert vehicles == fixtures.EXPECTED_VEHICLES
    assert documents == fixtures.EXPECTED_DOCUMENTS


def test_moved_references_are_logged(migrated):
    moves = migrated.query(
        "SELECT referencing_table, old_value, new_value, row_data "
        "FROM merged_references ORDER BY merged_reference_id")
    vehicle_moves = {row[3]["vehicle_id"]: (row[1], row[2])
                     for row in moves if row[0] == "vehicles"}

    assert vehicle_moves == {1: ("1", "2"), 2: ("1", "2"), 3: ("3", "4"),
                             4: ("5", "4"), 7: ("6", "7"), 8: ("12", "11")}
    assert sum(1 for row in moves if row[0] == "driver_documents") == 3


def test_second_merge_changes_nothing(migrated):
    before = snapshot(migrated)

    merged = migrated.query(
        "SELECT fleetreg_merge_duplicates('fleet_owner', 100), "
        "fleetreg_merge_duplicates('driver', 100)")
    plan = migrated.query("SELECT * FROM fleetreg_merge_plan()")

    assert merged == [(0, 0)]
    assert plan == []
    assert snapshot(migrated) == before


def test_dry_run_plans_without_changes(scratch_db):
    fixtures.load_baseline(scratch_db)
    scratch_db.deploy(to="merge_duplicates")
    before = snapshot(scratch_db)

    plan = scratch_db.query(
        "SELECT kind, user_id, action, record_id, details "
        "FROM fleetreg_merge_plan()")

    assert snapshot(scratch_db) == before
    steps = {(kind, user_id, action, record_id)
             for kind, user_id, action, record_id, _ in plan}
    assert ("fleet_owner", 102, "keep", 4) in steps
    assert ("fleet_owner", 102, "fill", 4) in steps
    assert ("fleet_owner", 102, "archive", 3) in steps
    assert ("fleet_owner", 102, "delete", 5) in steps
    assert ("fleet_owner", 101, "move", 1) in steps
    assert ("driver", 201, "fill", 5) in steps
    assert not any(user_id == 104 for _, user_id, _, _ in steps)
    deletes = sum(1 for step in steps if step[2] == "delete")
    assert deletes == 7 + 3


def test_dry_run_matches_applied_merge(scratch_db):
    fixtures.load_baseline(scratch_db)
    scratch_db.deploy(to="merge_duplicates")
    plan = scratch_db.query("SELECT kind, user_id, action, record_id "
                            "FROM fleetreg_merge_plan()")

    applied = []
    for kind in ["fleet_owner", "driver"]:
        for (user_id,) in scratch_db.query(
                "SELECT user_id FROM fleetreg_duplicate_users(%s, NULL)",
                (kind,)):
            applied += [(kind, user_id, action, record_id)
                        for action, record_id, _ in scratch_db.query(
                            "SELECT * FROM fleetreg_merge_user(%s, %s, true)",
                            (kind, user_id))]

    assert plan == applied


def test_revert_and_redeploy_keep_merged_data(migrated):
    migrated.execute("DROP TABLE vehicles, driver_documents")

    migrated.sqitch("revert", "-y", "--to", "onboarding_status_check")
    assert migrated.scalar(
        "SELECT to_regclass('ix_fleet_owners_user_id')") is not None
    assert migrated.scalar(
        "SELECT count(*) FROM fleet_owners_archive") == 7

    migrated.deploy()
    migrated.sqitch("verify")
    assert migrated.scalar(
        "SELECT count(*) FROM fleet_owners_archive") == 7


def test_invalid_statuses_stop_the_deploy(scratch_db):
    scratch_db.deploy(to="user_id_bigint")
    scratch_db.execute("INSERT INTO fleet_owners (user_id, onboarding_status)"
                       " VALUES (1, 'pending')")

    result = scratch_db.deploy(check=False)

    assert result.returncode != 0
    assert "invalid onboarding_status values" in result.stderr
    assert "'pending'" in result.stderr


def test_long_business_name_stops_the_deploy(scratch_db):
    scratch_db.deploy(to="user_id_bigint")
    scratch_db.execute("INSERT INTO fleet_owners (user_id, business_name) "
                       "VALUES (1, repeat('x', 201))")

    result = scratch_db.deploy(check=False)

    assert result.returncode != 0
    assert "longer than 200 characters" in result.stderr


def test_invalid_index_is_replaced(scratch_db):
    fixtures.load_baseline(scratch_db)
    scratch_db.deploy(to="merge_duplicates")
    with pytest.raises(Exception, match="could not create unique index"):
        scratch_db.execute("CREATE UNIQUE INDEX CONCURRENTLY "
                           "fleet_owners_user_id_key ON fleet_owners "
                           "(user_id)")
    assert scratch_db.scalar(
        "SELECT indisvalid FROM pg_index "
        "WHERE indexrelid = 'fleet_owners_user_id_key'::regclass") is False

    scratch_db.deploy()

    scratch_db.sqitch("verify")
    assert duplicate_count(scratch_db, "fleet_owners") == 0


def test_locked_table_fails_after_5_attempts(scratch_db):
    fixtures.load_baseline(scratch_db)
    scratch_db.deploy(to="merge_duplicates")
    # An open transaction that has read the table keeps ACCESS SHARE,
    # so attaching the constraint times out on every attempt.
    reader = scratch_db.connect(autocommit=False)
    reader.cursor().execute("SELECT count(*) FROM fleet_owners")

    try:
        result = scratch_db.deploy(check=False)
    finally:
        reader.rollback()
        reader.close()

    assert result.returncode != 0
    assert "fleet_owners_user_id_key on fleet_owners is still missing " \
           "after 5 attempts" in result.stderr
    assert result.stdout.count("attempt 5 on fleet_owners") == 1

    scratch_db.deploy()
    scratch_db.sqitch("verify")


def test_app_grants_apply_when_role_exists(scratch_db):
    exists = scratch_db.scalar(
        "SELECT count(*) FROM pg_roles WHERE rolname = 'fleetreg_app'")
    if not exists:
        pytest.skip("role fleetreg_app does not exist on this server; the "
                    "change only warns then")

    scratch_db.deploy()

    assert scratch_db.scalar(
        "SELECT has_table_privilege('fleetreg_app', 'fleet_owners', "
        "'INSERT')") is True
    assert scratch_db.scalar(
        "SELECT has_table_privilege('fleetreg_app', 'fleet_owners', "
        "'DELETE')") is False
    assert scratch_db.scalar(
        "SELECT has_table_privilege('fleetreg_app', "
        "'fleet_owners_archive', 'SELECT')") is False
