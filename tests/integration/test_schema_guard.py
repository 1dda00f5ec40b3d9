"""A unique constraint dropped under a running service.

ON CONFLICT (user_id) needs the constraint. Without it the insert fails
with SQLSTATE 42P10; the service must return 503 with Retry-After, not
500, create nothing, and recover once the constraint is back.
"""

import time

import pytest

from fleetreg_api import fresh_user_id, register, row_count, sql

RECOVERY_SECONDS = 10


@pytest.fixture
def drivers_without_unique():
    sql("ALTER TABLE drivers DROP CONSTRAINT drivers_user_id_key")
    try:
        yield
    finally:
        sql("ALTER TABLE drivers ADD CONSTRAINT drivers_user_id_key "
            "UNIQUE (user_id)")


def test_missing_constraint_gives_503(drivers_without_unique):
    user_id = fresh_user_id()

    response = register("driver", user_id)

    assert response.status == 503, response
    assert response.header("retry-after"), response
    assert response.json()["error"]["code"] == "service_unavailable"
    assert row_count("driver", user_id) == 0


def test_service_recovers_when_constraint_returns():
    sql("ALTER TABLE drivers DROP CONSTRAINT drivers_user_id_key")
    try:
        assert register("driver", fresh_user_id()).status == 503
    finally:
        sql("ALTER TABLE drivers ADD CONSTRAINT drivers_user_id_key "
            "UNIQUE (user_id)")

    user_id = fresh_user_id()
    deadline = time.monotonic() + RECOVERY_SECONDS
    response = register("driver", user_id)
    while response.status == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
        response = register("driver", user_id)

    assert response.status == 201, response
    assert row_count("driver", user_id) == 1
