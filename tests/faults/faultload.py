"""Load, fault injection and verdicts for the fault suite.

A Load runs client threads in pairs through nginx over HTTPS. Both
threads of a pair act for the same fresh user at the same moment, one
with register (POST) and one with status (GET), alternating fleet owner
and driver, so every user is raced for. Each response is kept with the
client's source address and port, which nginx's access and error logs
name too, so a 503 that nginx made can be traced to its cause.
"""

import collections
import itertools
import json
import os
import pathlib
import random
import re
import subprocess
import threading
import time

import fleetreg_api
from fleetreg_api import TABLES, ID_FIELDS, make_token, setting, sql

DEV_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "dev"

# Every load is bounded twice: by time and by request count.
MAX_LOAD_SECONDS = 40
MAX_REQUESTS = 20000
CLIENT_TIMEOUT_SECONDS = 30

# User ids of this run: a random base far from other runs, then a count.
# next() on itertools.count is atomic, so threads never share an id.
USER_IDS = itertools.count(
    random.SystemRandom().randrange(10**14, 9 * 10**15, 10**6))


def dev(*arguments, timeout=120):
    """Run scripts/dev on the stack named by FLEETREG_DEV_DIR."""
    result = subprocess.run([str(DEV_SCRIPT), *arguments],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"scripts/dev {' '.join(arguments)} failed:\n"
        f"{result.stdout}{result.stderr}")
    return result.stdout


def dev_background(*arguments):
    """Start scripts/dev without waiting; the caller waits on the result."""
    return subprocess.Popen([str(DEV_SCRIPT), *arguments],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def stack_path(*parts):
    return pathlib.Path(setting("FLEETREG_DEV_DIR"), *parts)


def master_pid(instance=1):
    """Return the pid of an instance's fleetreg master."""
    name = "fleetreg.pid" if instance == 1 else f"fleetreg-{instance}.pid"
    return int(stack_path("run", name).read_text().split()[0])


def worker_pids(instance=1):
    result = subprocess.run(["pgrep", "-P", str(master_pid(instance))],
                            capture_output=True, text=True, check=False)
    return [int(pid) for pid in result.stdout.split()]


class Outcome:
    """One request as the client saw it."""

    __slots__ = ("user_id", "kind", "method", "status", "record_id",
                 "retry_after", "error_code", "from_nginx", "started",
                 "ended", "source")

    def __init__(self, user_id, kind, method, started):
        self.user_id = user_id
        self.kind = kind
        self.method = method
        self.started = started
        self.ended = started
        self.status = 0
        self.record_id = None
        self.retry_after = None
        self.error_code = None
        self.from_nginx = False
        self.source = None

    @property
    def ok(self):
        return self.status in (200, 201)


def _send(kind, method, user_id):
    """Send one API request on its own connection; return an Outcome."""
    outcome = Outcome(user_id, kind, method, time.monotonic())
    path = f"/{kind}/{'register' if method == 'POST' else 'status'}"
    headers = {"Authorization": "Bearer " + make_token(user_id)}
    body = None
    if method == "POST":
        body = b"{}"
        headers["Content-Type"] = "application/json"
    connection = fleetreg_api.connect()
    connection.timeout = CLIENT_TIMEOUT_SECONDS
    try:
        connection.connect()
        address, port = connection.sock.getsockname()[:2]
        outcome.source = f"{address}:{port}"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        outcome.status = response.status
        outcome.retry_after = response.getheader("Retry-After")
        document = json.loads(data) if data else {}
        if outcome.ok:
            outcome.record_id = int(document[ID_FIELDS[kind]])
        else:
            error = document.get("error", {})
            outcome.error_code = error.get("code")
            outcome.from_nginx = error.get("message", "").startswith(
                NGINX_503_MESSAGE)
    except (OSError, ValueError, KeyError) as error:
        outcome.error_code = f"client: {error!r}"
    finally:
        connection.close()
        outcome.ended = time.monotonic()
    return outcome


class Load:
    """Pairs of client threads that race for the same fresh users."""

    def __init__(self, threads=16, max_seconds=MAX_LOAD_SECONDS,
                 max_requests=MAX_REQUESTS):
        assert threads % 2 == 0, "threads come in pairs"
        self.pairs = threads // 2
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.outcomes = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._barriers = []

    def start(self):
        deadline = time.monotonic() + self.max_seconds
        for pair in range(self.pairs):
            shared = {"round": 0}

            def next_round(shared=shared):
                shared["round"] += 1
                shared["user_id"] = next(USER_IDS)
                shared["kind"] = ("fleet-owner", "driver")[
                    shared["round"] % 2]

            barrier = threading.Barrier(2, action=next_round)
            self._barriers.append(barrier)
            for method in ("POST", "GET"):
                thread = threading.Thread(
                    target=self._run, daemon=True,
                    args=(barrier, shared, method, deadline),
                    name=f"load-{pair}-{method}")
                self._threads.append(thread)
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, barrier, shared, method, deadline):
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if len(self.outcomes) >= self.max_requests:
                    return
            try:
                barrier.wait(timeout=CLIENT_TIMEOUT_SECONDS)
            except threading.BrokenBarrierError:
                return
            outcome = _send(shared["kind"], method, shared["user_id"])
            with self._lock:
                self.outcomes.append(outcome)

    def stop(self):
        self._stop.set()
        # A thread whose partner has left must not wait at the barrier.
        for barrier in self._barriers:
            barrier.abort()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT_SECONDS + 5)
        with self._lock:
            return list(self.outcomes)

    def ok_since(self, moment):
        """Return True when a request started at or after moment got 2xx."""
        with self._lock:
            return any(outcome.ok and outcome.started >= moment
                       for outcome in self.outcomes)


def wait_recovered(load, since, limit):
    """Wait until a request started after since succeeds; return seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if load.ok_since(since):
            with load._lock:
                first = min(outcome.ended for outcome in load.outcomes
                            if outcome.ok and outcome.started >= since)
            return first - since
        time.sleep(0.05)
    return None


# nginx writes one line per upstream failure, naming the client address
# (each connection of the load has its own random address). A missing
# unix socket is logged at level crit, other failures at level error.
_UPSTREAM_ERROR = re.compile(
    r"\[(?:error|crit)\] \d+#\d+: \*\d+ (?P<what>.*?) while "
    r"(?P<phase>[a-z ]+?)(?: upstream)?, client: (?P<client>[0-9.]+),")

# The start of the message in nginx's own 503 (nginx/fleetreg-errors.conf).
NGINX_503_MESSAGE = "The registration service is unavailable"


def nginx_upstream_errors(offset):
    """Return {client address: [reason, ...]} logged after offset."""
    path = stack_path("log", "nginx-error.log")
    errors = collections.defaultdict(list)
    with open(path, encoding="utf-8", errors="replace") as log:
        log.seek(offset)
        for line in log:
            match = _UPSTREAM_ERROR.search(line)
            if match:
                errors[match["client"]].append(
                    f"{match['what']} while {match['phase']}")
    return errors


def log_size(name):
    return stack_path("log", name).stat().st_size


def classify_nginx_failure(reasons):
    """Name why nginx failed a request: no_listener, dropped or timeout."""
    text = " ".join(reasons)
    if "timed out" in text:
        return "timeout"
    if re.search(r"No such file|Connection refused|no live upstreams",
                 text):
        return "no_listener"
    return "dropped"


def stored_records(outcomes):
    """Return {(kind, user_id): [record id, ...]} for users of outcomes."""
    users = collections.defaultdict(set)
    for outcome in outcomes:
        users[outcome.kind].add(outcome.user_id)
    records = collections.defaultdict(list)
    for kind, user_ids in users.items():
        id_list = ",".join(str(user_id) for user_id in sorted(user_ids))
        rows = sql(f"SELECT user_id, {ID_FIELDS[kind]} FROM {TABLES[kind]} "
                   f"WHERE user_id = ANY('{{{id_list}}}'::bigint[])")
        for user_id, record_id in rows:
            records[(kind, int(user_id))].append(int(record_id))
    return records


def duplicate_users():
    """Return how many users hold more than one record of a kind."""
    rows = sql("SELECT (SELECT count(*) FROM (SELECT user_id FROM "
               "fleet_owners GROUP BY user_id HAVING count(*) > 1) f) + "
               "(SELECT count(*) FROM (SELECT user_id FROM drivers "
               "GROUP BY user_id HAVING count(*) > 1) d)")
    return int(rows[0][0])


class Verdict:
    """The counts of one fault run and the rules they must keep."""

    def __init__(self, name, outcomes, error_offset, recovery_seconds,
                 allowed_nginx_failures=()):
        self.name = name
        self.outcomes = outcomes
        self.recovery_seconds = recovery_seconds
        self.statuses = collections.Counter(
            outcome.status for outcome in outcomes)
        self.allowed = set(allowed_nginx_failures)
        self.problems = []
        self.nginx_failures = collections.Counter()
        self._judge_failures(nginx_upstream_errors(error_offset))
        self._judge_records()

    def _judge_failures(self, upstream_errors):
        for outcome in self.outcomes:
            if outcome.ok:
                continue
            if outcome.status != 503:
                self.problems.append(
                    f"{outcome.method} {outcome.kind} user "
                    f"{outcome.user_id}: status {outcome.status} "
                    f"{outcome.error_code}")
                continue
            if not outcome.retry_after or \
                    outcome.error_code != "service_unavailable":
                self.problems.append(
                    f"503 without Retry-After or service_unavailable: "
                    f"user {outcome.user_id} {outcome.error_code}")
            if not outcome.from_nginx:
                continue
            reasons = upstream_errors.get(outcome.source.split(":")[0], [])
            cause = classify_nginx_failure(reasons) if reasons else "unknown"
            self.nginx_failures[cause] += 1
            if cause not in self.allowed:
                self.problems.append(
                    f"nginx failed {outcome.method} {outcome.kind} user "
                    f"{outcome.user_id} ({cause}): {reasons}")

    def _judge_records(self):
        records = stored_records(self.outcomes)
        self.duplicates = duplicate_users()
        self.doubled = sum(1 for ids in records.values() if len(ids) > 1)
        self.lost = 0
        self.mismatched = 0
        created = collections.Counter()
        for outcome in self.outcomes:
            if not outcome.ok:
                continue
            ids = records.get((outcome.kind, outcome.user_id), [])
            if not ids:
                self.lost += 1
            elif ids != [outcome.record_id]:
                self.mismatched += 1
            if outcome.status == 201:
                created[(outcome.kind, outcome.user_id)] += 1
        self.created_twice = sum(1 for count in created.values()
                                 if count > 1)
        for name in ("duplicates", "doubled", "lost", "mismatched",
                     "created_twice"):
            if getattr(self, name):
                self.problems.append(f"{name}: {getattr(self, name)}")

    @property
    def max_latency(self):
        return max((outcome.ended - outcome.started
                    for outcome in self.outcomes), default=0.0)

    def row(self):
        ok = self.statuses[200] + self.statuses[201]
        nginx = sum(self.nginx_failures.values())
        other = sum(count for status, count in self.statuses.items()
                    if status not in (200, 201, 503))
        recovery = seconds_text(self.recovery_seconds)
        causes = ",".join(f"{name}={count}" for name, count
                          in sorted(self.nginx_failures.items())) or "-"
        return (self.name, len(self.outcomes), ok, self.statuses[201],
                self.statuses[503] - nginx, nginx, causes, other,
                self.duplicates + self.doubled, self.lost + self.mismatched,
                recovery, f"{self.max_latency:.2f}")


# One row per fault run, printed by conftest.py at the end of the session.
FAULT_ROWS = []
# (change, seconds until /readyz returned 503, then 200 again).
READYZ_ROWS = []

TABLE_HEADER = ("fault", "requests", "2xx", "201", "503 app", "503 nginx",
                "nginx causes", "other", "dup", "lost", "recovery s",
                "max latency s")


def format_table(rows):
    """Format rows as a Markdown table."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |",
             "|" + "|".join(" --- " for _ in TABLE_HEADER) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def seconds_text(seconds):
    return "-" if seconds is None else f"{seconds:.2f}"


def env_int(name, default):
    return int(os.environ.get(name, default))
