"""Faults under load: no registration may be lost or doubled.

Each test runs 16 client threads (8 pairs racing for the same fresh
users) through nginx over HTTPS, injects one fault, waits until the
service responds again and checks the outcome:

- no user has more than one record of a kind, and every user who got a
  2xx has exactly one record, the one returned (same id);
- every failed request is a 503 with Retry-After, never a 500;
- a 503 that nginx made from an upstream error is allowed only where the
  test says so: a request that a killed worker held ("dropped") or that
  arrived while no master listened on the socket ("no_listener");
- the service answers again within RECOVERY_SECONDS of the fault's end,
  and no request takes longer than LATENCY_BOUND_SECONDS.

A row per fault goes into the table printed at the end of the run.
The load is bounded by faultload.MAX_LOAD_SECONDS and MAX_REQUESTS.
"""

import os
import re
import signal
import threading
import time

import psycopg2
import pytest

import faultload
from faultload import (Load, Verdict, dev, dev_background, log_size,
                       stack_path, wait_recovered, worker_pids)
import fleetreg_api
from fleetreg_api import make_token, request, setting

THREADS = faultload.env_int("FLEETREG_FAULT_THREADS", 16)
WARMUP_SECONDS = 1.0
AFTER_SECONDS = 1.0
RECOVERY_SECONDS = 5.0

# nginx's fastcgi_read_timeout. The dev stack's fleetreg responds within
# request_timeout (5 s) + db_backoff_max (0.5 s) + connect_timeout (2 s)
# of taking a request, so only a hung part could make a request wait
# this long.
LATENCY_BOUND_SECONDS = 15.0

# The dev stack's shutdown_timeout (scripts/lib/fleetreg.sh).
SHUTDOWN_TIMEOUT_SECONDS = 10

# Workers that a test kills on purpose; the master logs every exit.
KILLED_WORKERS = []

# Only the log lines of this run count.
FLEETREG_LOG_OFFSET = stack_path("log", "fleetreg.log").stat().st_size


def run_fault(name, inject, allowed=()):
    """Run the load around inject() and return the Verdict.

    inject() applies the fault and returns the monotonic time at which
    the faulty part was back; recovery is measured from then.
    """
    offset = log_size("nginx-error.log")
    load = Load(THREADS).start()
    try:
        time.sleep(WARMUP_SECONDS)
        restored = inject()
        recovery = wait_recovered(load, restored, RECOVERY_SECONDS * 2)
        time.sleep(AFTER_SECONDS)
    finally:
        outcomes = load.stop()
    verdict = Verdict(name, outcomes, offset, recovery, allowed)
    faultload.FAULT_ROWS.append(verdict.row())
    return verdict


def assert_kept(verdict):
    """Assert the rules that every fault must keep."""
    assert verdict.outcomes, "the load sent no request"
    assert verdict.problems == []
    assert verdict.recovery_seconds is not None, "the service did not recover"
    assert verdict.recovery_seconds <= RECOVERY_SECONDS
    assert verdict.max_latency <= LATENCY_BOUND_SECONDS


class TableLock:
    """Holds EXCLUSIVE locks on both record tables, as the schema owner.

    Reads go on, but every insert waits, so each worker that takes a
    request for a fresh user stays inside that request until release().
    That makes "all workers are busy" something a test can wait for.
    """

    def __init__(self):
        self.connection = psycopg2.connect(setting("FLEETREG_DB"))
        cursor = self.connection.cursor()
        cursor.execute("LOCK TABLE fleet_owners, drivers IN EXCLUSIVE MODE")

    def release(self):
        if self.connection is not None:
            self.connection.rollback()
            self.connection.close()
            self.connection = None


def blocked_app_backends():
    """Return how many fleetreg_app backends wait for a lock."""
    # Other roles' wait events are visible to a superuser only.
    connection = psycopg2.connect(setting("FLEETREG_SUPERUSER_DB"))
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT count(*) FROM pg_stat_activity "
                       "WHERE usename = 'fleetreg_app' "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]
    finally:
        connection.close()


def wait_all_workers_busy(workers, timeout=3.0):
    """Wait until every worker holds a request blocked on the lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if blocked_app_backends() >= workers:
            return
        time.sleep(0.02)
    pytest.fail(f"only {blocked_app_backends()} of {workers} workers "
                f"were blocked after {timeout} s")


def test_restart_pgbouncer():
    def inject():
        dev("restart", "pgbouncer")
        return time.monotonic()

    assert_kept(run_fault("restart pgbouncer", inject))


def test_restart_postgres_fast():
    def inject():
        dev("restart", "postgres")
        return time.monotonic()

    assert_kept(run_fault("restart postgres (fast)", inject))


def test_postgres_down_five_seconds():
    def inject():
        dev("stop", "postgres")
        time.sleep(5)
        dev("start", "postgres")
        return time.monotonic()

    verdict = run_fault("postgres down 5 s", inject)
    assert_kept(verdict)
    assert verdict.statuses[503] > 0, "the outage produced no 503"


def test_kill_worker_mid_request():
    workers = len(worker_pids())

    def inject():
        lock = TableLock()
        try:
            wait_all_workers_busy(workers)
            victim = worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            KILLED_WORKERS.append(victim)
            time.sleep(0.3)
        finally:
            lock.release()
        return time.monotonic()

    verdict = run_fault("kill -9 busy worker", inject,
                        allowed=("dropped",))
    assert_kept(verdict)
    # The victim held one request; at most that one may be lost.
    assert verdict.nginx_failures["dropped"] <= 1
    assert worker_exit_logged(KILLED_WORKERS[-1], signal.SIGKILL)
    assert wait_worker_count(workers)


def worker_exit_logged(pid, signal_number, timeout=2.0):
    pattern = re.compile(rf"event=worker_exited worker_pid={pid} "
                         rf"generation=\d+ signal={signal_number}\b")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pattern.search(stack_path("log", "fleetreg.log").read_text()):
            return True
        time.sleep(0.1)
    return False


def wait_worker_count(count, instance=1, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(worker_pids(instance)) == count:
            return True
        time.sleep(0.1)
    return False


def test_master_sigterm_then_start():
    workers = len(worker_pids())
    stop_seconds = []

    def inject():
        lock = TableLock()
        try:
            wait_all_workers_busy(workers)
            started = time.monotonic()
            stopping = dev_background("stop", "fleetreg")
            # The workers hold their requests while the master stops.
            time.sleep(0.5)
        finally:
            lock.release()
        output, _ = stopping.communicate(timeout=60)
        assert stopping.returncode == 0, output
        stop_seconds.append(time.monotonic() - started)
        dev("start", "fleetreg")
        return time.monotonic()

    verdict = run_fault("SIGTERM master, start", inject,
                        allowed=("no_listener",))
    assert_kept(verdict)
    assert stop_seconds[0] < SHUTDOWN_TIMEOUT_SECONDS


def test_master_sighup():
    old_workers = set(worker_pids())
    workers = len(old_workers)

    def inject():
        lock = TableLock()
        try:
            wait_all_workers_busy(workers)
            dev("reload")
            # The old workers hold their requests while new ones start.
            time.sleep(0.5)
        finally:
            lock.release()
        return time.monotonic()

    verdict = run_fault("SIGHUP master", inject)
    assert_kept(verdict)
    assert verdict.statuses[503] == 0
    assert wait_worker_count(workers)
    assert old_workers.isdisjoint(worker_pids())


def abandon_request(user_id):
    """Send a register and close the connection before the response."""
    connection = fleetreg_api.connect()
    connection.timeout = 0.5
    try:
        connection.request("POST", "/driver/register", body=b"{}",
                           headers={"Authorization": "Bearer " +
                                    make_token(user_id),
                                    "Content-Type": "application/json"})
        connection.getresponse()
    except OSError:
        pass
    finally:
        connection.close()


def test_client_abort_costs_no_worker():
    # Workers that hold requests of clients that left write their
    # responses into closed connections: EPIPE, never a SIGPIPE death.
    workers = worker_pids()
    lock = TableLock()
    try:
        abandoned = [threading.Thread(target=abandon_request,
                                      args=(next(faultload.USER_IDS),))
                     for _ in range(2 * len(workers))]
        for thread in abandoned:
            thread.start()
        wait_all_workers_busy(len(workers))
        for thread in abandoned:
            thread.join(timeout=5)
    finally:
        lock.release()
    time.sleep(0.3)

    assert seconds_until(readyz_ok) is not None
    assert sorted(worker_pids()) == sorted(workers)


def readyz_ok():
    return readyz_status() == 200


def readyz_status():
    return request("GET", "/readyz").status


def seconds_until(predicate, timeout=10.0):
    """Poll predicate every 20 ms; return the seconds it took, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    return None


@pytest.mark.parametrize("part", ["pgbouncer", "postgres"])
def test_readyz_follows_database(part):
    assert readyz_status() == 200
    dev("stop", part)
    try:
        down = seconds_until(lambda: readyz_status() == 503)
        healthz = request("GET", "/healthz")
    finally:
        dev("start", part)
    up = seconds_until(lambda: readyz_status() == 200)
    faultload.READYZ_ROWS.append((f"stop {part}", down, up))

    assert healthz.status == 200
    assert down is not None and down <= 1.0
    assert up is not None and up <= 1.0


def test_readyz_after_pgbouncer_restart():
    # Every worker's idle connection broke with the restart; none of
    # them may report that as "not ready" once pgbouncer is back.
    workers = len(worker_pids())
    dev("restart", "pgbouncer")
    statuses = [readyz_status() for _ in range(3 * workers)]
    assert statuses == [200] * (3 * workers)


@pytest.fixture()
def second_instance():
    dev("second", "up")
    # nginx's reload is done when its new workers send requests to both.
    time.sleep(1.0)
    try:
        yield
    finally:
        dev("second", "down")


def test_two_instances_race(second_instance):
    verdict = run_fault("two instances: race", lambda: time.monotonic())
    assert_kept(verdict)
    assert set(verdict.statuses) <= {200, 201}
    second_log = stack_path("log", "fleetreg-2.log").read_text()
    assert "event=record_created" in second_log


def test_two_instances_one_master_restarts(second_instance):
    def inject():
        dev("stop", "fleetreg", "2")
        time.sleep(1.0)
        dev("start", "fleetreg", "2")
        return time.monotonic()

    verdict = run_fault("two instances: restart one", inject)
    assert_kept(verdict)
    # nginx passes what the stopping instance dropped to the other one.
    assert set(verdict.statuses) <= {200, 201}


def test_no_worker_died_of_an_unexpected_signal():
    with open(stack_path("log", "fleetreg.log"), encoding="utf-8") as file:
        file.seek(FLEETREG_LOG_OFFSET)
        log = file.read()
    deaths = re.findall(r"event=worker_exited worker_pid=(\d+) "
                        r"generation=\d+ signal=(\d+)", log)
    unexpected = [(int(pid), int(number)) for pid, number in deaths
                  if int(pid) not in KILLED_WORKERS]
    assert unexpected == []
