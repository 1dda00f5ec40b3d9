"""The fleetreg binary's schema check at start, against a scratch database.

Needs FLEETREG_BIN, the path of a built fleetreg binary, which
`scripts/dev test` exports. The service reads no configuration file here:
every setting comes from FLEETREG_* variables, and the socket lives in a
temporary folder.
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest

# Seconds the service gets to reject the schema, to start listening, and
# to stop after SIGTERM (shutdown_timeout is set to 2 below).
EXIT_SECONDS = 10
LISTEN_SECONDS = 10
STOP_SECONDS = 15

EXIT_CONFIG = 78


class Service:
    """One fleetreg master started in its own process group."""

    def __init__(self, binary, dsn):
        self.folder = tempfile.TemporaryDirectory(prefix="fleetreg-start-")
        self.socket = os.path.join(self.folder.name, "fleetreg.sock")
        self.log_path = os.path.join(self.folder.name, "fleetreg.log")
        key_file = os.path.join(self.folder.name, "jwt.key")
        config_file = os.path.join(self.folder.name, "fleetreg.conf")
        with open(key_file, "w") as key:
            key.write(os.urandom(32).hex())
        open(config_file, "w").close()

        env = {name: value for name, value in os.environ.items()
               if not name.startswith("FLEETREG_")
               and name != "JOURNAL_STREAM"}
        env.update({
            "FLEETREG_DATABASE": dsn,
            "FLEETREG_JWT_KEY_FILE": key_file,
            "FLEETREG_LISTEN": self.socket,
            "FLEETREG_WORKERS": "1",
            "FLEETREG_CONNECT_TIMEOUT": "2",
            "FLEETREG_SHUTDOWN_TIMEOUT": "2",
        })
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [binary, "-c", config_file], env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)

    def log(self):
        with open(self.log_path) as log:
            return log.read()

    def wait_listening(self):
        """Returns True once the socket exists, False if the master exits
        or LISTEN_SECONDS pass first."""
        deadline = time.monotonic() + LISTEN_SECONDS
        while time.monotonic() < deadline:
            if os.path.exists(self.socket):
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def close(self):
        # Only reached with a live master when an assertion failed: its
        # workers share its process group, which this test created.
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_SECONDS)
        self.folder.cleanup()


@pytest.fixture
def start_service(scratch_db):
    binary = os.environ.get("FLEETREG_BIN")
    if not binary:
        pytest.skip("FLEETREG_BIN is not set: set it to the path of a built "
                    "fleetreg binary")
    started = []

    def start():
        service = Service(binary, scratch_db.dsn)
        started.append(service)
        return service

    yield start
    for service in started:
        service.close()


def test_start_without_unique_exits_78(scratch_db, start_service):
    scratch_db.deploy(to="merge_duplicates")

    service = start_service()
    status = service.process.wait(timeout=EXIT_SECONDS)
    log = service.log()

    assert status == EXIT_CONFIG, log
    assert "event=schema_invalid" in log
    assert "fleet_owners_user_id_key" in log
    assert "drivers_user_id_key" in log
    assert "sqitch deploy --target" in log
    assert "sqitch folder" in log
    assert not os.path.exists(service.socket)


def test_start_after_deploy_then_sigterm(scratch_db, start_service):
    scratch_db.deploy(to="merge_duplicates")
    rejected = start_service()
    assert rejected.process.wait(timeout=EXIT_SECONDS) == EXIT_CONFIG

    scratch_db.deploy()
    service = start_service()
    listening = service.wait_listening()

    assert listening, service.log()
    assert service.process.poll() is None, service.log()
    os.kill(service.process.pid, signal.SIGTERM)
    status = service.process.wait(timeout=STOP_SECONDS)
    log = service.log()
    assert status == 0, log
    assert "event=schema_invalid" not in log
    assert "event=stopped" in log
    assert not os.path.exists(service.socket)
