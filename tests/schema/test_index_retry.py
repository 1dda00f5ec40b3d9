"""The retry in user_id_unique after a concurrent index build fails.

The guard trigger stops READ COMMITTED writers from adding duplicates
during the deploy, but a REPEATABLE READ writer checks against its old
snapshot and gets past it. The test uses such a writer, and locks
that hold the deploy at known steps, to land one duplicate between the
merge and the index build every time.
"""

import os
import signal
import time

import psycopg2.extensions

import fixtures

# Seconds to wait for the deploy to reach a step, and for it to finish.
STEP_SECONDS = 30
DEPLOY_SECONDS = 120

# A user with no records in the fixtures.
LATE_USER = 999999


def wait_blocked_by(db, statement_prefix, blocker_pid):
    """Waits until a backend of db whose statement starts with
    statement_prefix waits for a lock that blocker_pid holds."""
    deadline = time.monotonic() + STEP_SECONDS
    while time.monotonic() < deadline:
        blocked = db.scalar(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE %s "
            "AND %s = ANY (pg_blocking_pids(pid))",
            (statement_prefix + "%", blocker_pid))
        if blocked:
            return
        time.sleep(0.05)
    raise AssertionError("no statement %r was blocked by backend %d within "
                         "%d s" % (statement_prefix, blocker_pid,
                                   STEP_SECONDS))


def stop_deploy(deploy):
    # Only reached when the test failed before the deploy finished. sqitch
    # and its psql share the process group that start_sqitch created.
    if deploy.poll() is None:
        os.killpg(deploy.pid, signal.SIGKILL)
        deploy.wait(timeout=DEPLOY_SECONDS)


def backend_pid(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def run_deploy_with_late_duplicate(db):
    """Deploys every change while a REPEATABLE READ writer adds a second
    record for LATE_USER after the fleet_owners merge has started, and
    commits it only once the index build waits for it. Returns the
    finished sqitch process and its output."""
    writer = db.connect(autocommit=False)
    writer.set_session(
        isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ)
    # The writer's snapshot is taken here, before LATE_USER has a record.
    with writer.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM fleet_owners")
    db.execute("INSERT INTO fleet_owners (user_id) VALUES (%s)",
               (LATE_USER,))

    # A row lock on a duplicate of user 101 stops the merge at its first
    # user, after the guard trigger exists.
    holder = db.connect(autocommit=False)
    with holder.cursor() as cursor:
        cursor.execute("SELECT 1 FROM fleet_owners WHERE user_id = 101 "
                       "FOR UPDATE")

    deploy = db.start_sqitch("deploy")
    try:
        wait_blocked_by(db, "CALL fleetreg_merge_all", backend_pid(holder))
        with writer.cursor() as cursor:
            cursor.execute("INSERT INTO fleet_owners (user_id) VALUES (%s)",
                           (LATE_USER,))
        holder.rollback()

        # The build waits for writers that hold the table, so the
        # duplicate is committed before it reads any row.
        wait_blocked_by(db, "CREATE UNIQUE INDEX CONCURRENTLY",
                        backend_pid(writer))
        writer.commit()
        stdout, stderr = deploy.communicate(timeout=DEPLOY_SECONDS)
    finally:
        stop_deploy(deploy)
        writer.close()
        holder.close()
    return deploy, stdout, stderr


def test_failed_build_is_retried(scratch_db):
    fixtures.load_baseline(scratch_db)
    scratch_db.deploy(to="merge_duplicates")
    before = scratch_db.scalar("SELECT count(*) FROM fleet_owners")

    deploy, stdout, stderr = run_deploy_with_late_duplicate(scratch_db)

    assert deploy.returncode == 0, stdout + stderr
    assert "Key (user_id)=(%d) is duplicated" % LATE_USER in stderr
    assert "index build on fleet_owners failed, retrying" in stdout
    assert "attempt 2 on fleet_owners" in stdout
    assert "attempt 3 on fleet_owners" not in stdout
    assert "attempt 2 on drivers" not in stdout
    scratch_db.sqitch("verify")

    assert scratch_db.scalar(
        "SELECT count(*) FROM pg_index "
        "WHERE indrelid IN ('fleet_owners'::regclass, 'drivers'::regclass) "
        "AND NOT indisvalid") == 0
    assert scratch_db.scalar(
        "SELECT count(*) FROM pg_constraint "
        "WHERE conname = 'fleet_owners_user_id_key'") == 1
    assert scratch_db.scalar(
        "SELECT count(*) FROM fleet_owners WHERE user_id = %s",
        (LATE_USER,)) == 1
    assert scratch_db.scalar(
        "SELECT count(*) FROM fleet_owners_archive WHERE user_id = %s",
        (LATE_USER,)) == 1
    assert scratch_db.scalar(
        "SELECT count(*) FROM (SELECT user_id FROM fleet_owners "
        "GROUP BY user_id HAVING count(*) > 1) d") == 0
    kept = scratch_db.scalar("SELECT count(*) FROM fleet_owners")
    archived = scratch_db.scalar("SELECT count(*) FROM fleet_owners_archive")
    assert kept + archived == before + 2
