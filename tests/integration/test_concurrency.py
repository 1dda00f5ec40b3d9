"""Concurrent register and status calls keep one record per user and kind.

This is the failure of the old service: its page called register and
then status at once, and both created a record.
"""

import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fleetreg_api import ID_FIELDS, fresh_user_id, request, make_token, sql

USERS = 100
CALLS_PER_USER = 16
USERS_PER_WAVE = 4
# Each request has its own 30 s socket timeout; the whole test stops
# starting new waves after this many seconds.
DEADLINE_SECONDS = 300

# Call i of a user: even calls are fleet-owner, odd ones driver, and
# register and status alternate in pairs, so each kind of record gets
# four register and four status calls at the same moment.
CALL_PLAN = [("fleet-owner" if i % 2 == 0 else "driver",
              "register" if (i // 2) % 2 == 0 else "status")
             for i in range(CALLS_PER_USER)]


def call(user_id, kind, operation, barrier):
    token = make_token(user_id)
    barrier.wait(timeout=60)
    if operation == "register":
        return request("POST", f"/{kind}/register", token=token)
    return request("GET", f"/{kind}/status", token=token)


def run_wave(pool, user_ids):
    """Start every call of the given users at one barrier; return results."""
    barrier = threading.Barrier(len(user_ids) * CALLS_PER_USER)
    futures = []
    for user_id in user_ids:
        for kind, operation in CALL_PLAN:
            future = pool.submit(call, user_id, kind, operation, barrier)
            futures.append((user_id, kind, future))
    return [(user_id, kind, future.result())
            for user_id, kind, future in futures]


def test_concurrent_calls_one_record_each():
    user_ids = [fresh_user_id() for _ in range(USERS)]
    results = []
    started = time.monotonic()

    with ThreadPoolExecutor(USERS_PER_WAVE * CALLS_PER_USER) as pool:
        for first in range(0, USERS, USERS_PER_WAVE):
            assert time.monotonic() - started < DEADLINE_SECONDS
            results += run_wave(pool, user_ids[first:first + USERS_PER_WAVE])

    statuses = collections.Counter(response.status
                                   for _, _, response in results)
    created = collections.Counter()
    record_ids = collections.defaultdict(set)
    for user_id, kind, response in results:
        if response.status == 201:
            created[(user_id, kind)] += 1
        if response.status in (200, 201):
            record_ids[(user_id, kind)].add(response.json()[ID_FIELDS[kind]])

    assert len(results) == USERS * CALLS_PER_USER
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 201}, statuses
    for kind in ("fleet-owner", "driver"):
        for user_id in user_ids:
            assert created[(user_id, kind)] == 1, (user_id, kind)
            assert len(record_ids[(user_id, kind)]) == 1, (user_id, kind)

    id_list = ",".join(str(user_id) for user_id in user_ids)
    for table in ("fleet_owners", "drivers"):
        rows = sql(f"SELECT user_id, count(*) FROM {table} "
                   f"WHERE user_id IN ({id_list}) GROUP BY user_id")
        counts = {int(user_id): int(count) for user_id, count in rows}
        assert counts == {user_id: 1 for user_id in user_ids}, table


REPEATS = 16
REPEAT_ROUNDS = 5


def repeat_at_once(kind, user_id, body):
    """Send REPEATS identical register calls for one user at one barrier."""
    token = make_token(user_id)
    barrier = threading.Barrier(REPEATS)

    def one_call():
        barrier.wait(timeout=60)
        return request("POST", f"/{kind}/register", token=token, body=body)

    with ThreadPoolExecutor(REPEATS) as pool:
        futures = [pool.submit(one_call) for _ in range(REPEATS)]
        return [future.result() for future in futures]


def test_repeated_tenant_change_is_no_op():
    # A concurrent twin can apply the change first. The others must read
    # the same tenant and return 200, not a conflict with their own value.
    for _ in range(REPEAT_ROUNDS):
        user_id = fresh_user_id()
        assert request("POST", "/driver/register",
                       token=make_token(user_id)).status == 201

        responses = repeat_at_once("driver", user_id, {"tenant_id": 1})

        statuses = collections.Counter(r.status for r in responses)
        assert statuses == {200: REPEATS}, statuses
        for response in responses:
            assert response.json()["tenant_id"] == 1


def test_repeated_business_name_is_no_op():
    for _ in range(REPEAT_ROUNDS):
        user_id = fresh_user_id()
        assert request("POST", "/fleet-owner/register",
                       token=make_token(user_id)).status == 201

        responses = repeat_at_once("fleet-owner", user_id,
                                   {"business_name": "Acme Haulage"})

        statuses = collections.Counter(r.status for r in responses)
        assert statuses == {200: REPEATS}, statuses
        for response in responses:
            assert response.json()["business_name"] == "Acme Haulage"


def test_competing_names_on_draft_never_409():
    # Two names race on a draft. The record ends with one of them, and no
    # caller gets a 409 not_draft about a draft.
    names = ["Acme Haulage", "Northwind Freight"]
    for _ in range(REPEAT_ROUNDS):
        user_id = fresh_user_id()
        assert request("POST", "/fleet-owner/register",
                       token=make_token(user_id)).status == 201
        barrier = threading.Barrier(REPEATS)

        def one_call(index):
            token = make_token(user_id, expires_in=300 + index)
            barrier.wait(timeout=60)
            return request("POST", "/fleet-owner/register", token=token,
                           body={"business_name": names[index % 2]})

        with ThreadPoolExecutor(REPEATS) as pool:
            responses = list(pool.map(one_call, range(REPEATS)))

        statuses = collections.Counter(r.status for r in responses)
        assert set(statuses) <= {200, 503}, statuses
        for response in responses:
            if response.status == 200:
                assert response.json()["business_name"] in names
        stored = sql(f"SELECT business_name FROM fleet_owners "
                     f"WHERE user_id = {user_id}")
        assert stored[0][0] in names
