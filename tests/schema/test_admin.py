"""fleetreg-admin duplicates and dedupe against a migrated database."""

import os
import subprocess

import pytest

import fixtures


def run_admin(db, *args):
    path = os.environ.get("FLEETREG_ADMIN")
    if not path:
        pytest.skip("FLEETREG_ADMIN is not set: set it to the path of a "
                    "built fleetreg-admin binary")
    env = dict(os.environ)
    env.pop("FLEETREG_DB", None)
    return subprocess.run([path, *args, "--database", db.dsn], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def duplicated(scratch_db):
    fixtures.load_baseline(scratch_db)
    scratch_db.deploy(to="merge_duplicates")
    return scratch_db


def test_duplicates_lists_users_and_exits_1(duplicated):
    result = run_admin(duplicated, "duplicates")

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "kind\tuser_id\trecord_ids"
    assert "fleet_owner\t102\t3,4,5" in lines
    assert "driver\t201\t3,4,5" in lines
    assert len(lines) == 1 + 6 + 2


def test_duplicates_works_on_the_baseline(scratch_db):
    fixtures.load_baseline(scratch_db)

    result = run_admin(scratch_db, "duplicates", "--kind", "driver")

    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[1:] == ["driver\t101\t1,2",
                                              "driver\t201\t3,4,5"]


def test_dry_run_prints_plan_only(duplicated):
    plan = duplicated.query("SELECT kind, user_id::text, action, "
                            "record_id::text, details "
                            "FROM fleetreg_merge_plan()")

    result = run_admin(duplicated, "dedupe", "--dry-run")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:] == ["\t".join(row) for row in plan]
    assert run_admin(duplicated, "duplicates").returncode == 1


def test_apply_then_duplicates_exits_0(duplicated):
    result = run_admin(duplicated, "dedupe", "--apply", "--batch-size", "2")

    assert result.returncode == 0, result.stderr
    assert "fleet_owner: 6 users merged" in result.stderr
    assert "driver: 2 users merged" in result.stderr
    clean = run_admin(duplicated, "duplicates")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.splitlines() == ["kind\tuser_id\trecord_ids"]

    again = run_admin(duplicated, "dedupe", "--apply")
    assert again.returncode == 0, again.stderr
    assert "fleet_owner: 0 users merged" in again.stderr


def test_dedupe_needs_the_merge_functions(scratch_db):
    fixtures.load_baseline(scratch_db)

    result = run_admin(scratch_db, "dedupe", "--dry-run")

    assert result.returncode == 2
    assert "sqitch deploy --to merge_duplicates" in result.stderr


def test_usage_errors_exit_64(scratch_db):
    assert run_admin(scratch_db, "dedupe").returncode == 64
    assert run_admin(scratch_db, "dedupe", "--apply",
                     "--batch-size", "0").returncode == 64
    assert run_admin(scratch_db, "duplicates", "--kind", "x").returncode == 64


def test_unreachable_database_exits_2(scratch_db):
    path = os.environ.get("FLEETREG_ADMIN")
    if not path:
        pytest.skip("FLEETREG_ADMIN is not set: set it to the path of a "
                    "built fleetreg-admin binary")

    result = subprocess.run(
        [path, "duplicates", "--database",
         "host=/nonexistent-socket-dir dbname=x connect_timeout=2"],
        capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "connecting to the database failed" in result.stderr
