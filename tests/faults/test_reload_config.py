"""SIGHUP re-reads the configuration, and keeps the old one when invalid.

Changes the stack's fleetreg.conf, so the file is restored after each
test whatever happens.
"""

import pathlib
import re
import time

import pytest

from faultload import dev, master_pid, worker_pids
from fleetreg_api import fresh_user_id, register, setting

WAIT_SECONDS = 8.0


def settled_workers():
    """Wait until workers of an earlier reload have exited; list the rest.

    Old workers leave once they notice SIGTERM, within about a second
    even when idle, so two equal readings a second apart mean settled.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    previous = sorted(worker_pids())
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current = sorted(worker_pids())
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"workers still changing: {previous}")


@pytest.fixture
def config_file():
    path = pathlib.Path(setting("FLEETREG_CONF"))
    original = path.read_text()
    count = len(settled_workers())
    try:
        yield path
    finally:
        path.write_text(original)
        dev("reload")
        assert wait_for_workers(count), worker_pids()


def set_workers(path, count):
    text = path.read_text()
    if re.search(r"^workers\s*=", text, flags=re.MULTILINE):
        text = re.sub(r"^workers\s*=.*$", f"workers = {count}", text,
                      flags=re.MULTILINE)
    else:
        text += f"\nworkers = {count}\n"
    path.write_text(text)


def wait_for_workers(count):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if len(worker_pids()) == count:
            return True
        time.sleep(0.1)
    return False


def log_size():
    return pathlib.Path(setting("FLEETREG_LOG")).stat().st_size


def log_since(offset):
    with open(setting("FLEETREG_LOG"), "rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def test_reload_applies_new_worker_count(config_file):
    before = len(worker_pids())
    expected_count = before + 1

    set_workers(config_file, expected_count)
    dev("reload")

    assert wait_for_workers(expected_count), worker_pids()
    assert register("driver", fresh_user_id()).status == 201


def test_invalid_reload_keeps_running_config(config_file):
    master = master_pid()
    before = settled_workers()
    set_workers(config_file, "lots")
    offset = log_size()

    dev("reload")

    deadline = time.monotonic() + WAIT_SECONDS
    while "event=reload_failed" not in log_since(offset):
        assert time.monotonic() < deadline, "no reload_failed in the log"
        time.sleep(0.1)
    assert master_pid() == master
    assert sorted(worker_pids()) == before
    assert register("driver", fresh_user_id()).status == 201
