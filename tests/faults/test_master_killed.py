"""A master killed with SIGKILL takes its workers with it.

Orphaned workers would go on serving the old socket and keep a new
master from taking it, so each worker sets PR_SET_PDEATHSIG to get SIGTERM
when its parent dies.
"""

import os
import signal
import time

from faultload import dev, master_pid, worker_pids
from fleetreg_api import fresh_user_id, register

EXIT_SECONDS = 5.0


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_exit_when_master_is_killed():
    master = master_pid()
    workers = worker_pids()
    assert workers

    os.kill(master, signal.SIGKILL)
    deadline = time.monotonic() + EXIT_SECONDS
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if alive(pid)]

    dev("start", "fleetreg")
    assert left == []
    assert master_pid() != master
    assert register("driver", fresh_user_id()).status == 201
