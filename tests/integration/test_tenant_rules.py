"""Tenant selection: set when null, same is a no-op, others are errors."""

import pytest

from fleetreg_api import (ID_FIELDS, fresh_user_id, register, row_count,
                          status)

KINDS = ["fleet-owner", "driver"]
UNKNOWN_TENANT = 987654321


@pytest.mark.parametrize("kind", KINDS)
def test_tenant_set_on_create(kind):
    user_id = fresh_user_id()

    response = register(kind, user_id, body={"tenant_id": 2})

    assert response.status == 201, response
    assert response.json()["tenant_id"] == 2


@pytest.mark.parametrize("kind", KINDS)
def test_tenant_set_when_null(kind):
    user_id = fresh_user_id()
    created = register(kind, user_id)

    updated = register(kind, user_id, body={"tenant_id": 1})

    assert created.json()["tenant_id"] is None
    assert updated.status == 200, updated
    assert updated.json()["tenant_id"] == 1
    assert updated.json()[ID_FIELDS[kind]] == created.json()[ID_FIELDS[kind]]
    assert status(kind, user_id).json()["tenant_id"] == 1
    assert row_count(kind, user_id) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_same_tenant_is_noop(kind):
    user_id = fresh_user_id()
    created = register(kind, user_id, body={"tenant_id": 1})

    again = register(kind, user_id, body={"tenant_id": 1})

    assert again.status == 200, again
    assert again.json() == created.json()
    assert row_count(kind, user_id) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_other_tenant_conflicts(kind):
    user_id = fresh_user_id()
    register(kind, user_id, body={"tenant_id": 1})

    conflict = register(kind, user_id, body={"tenant_id": 2})

    assert conflict.status == 409, conflict
    assert conflict.json()["error"]["code"] == "tenant_conflict"
    assert status(kind, user_id).json()["tenant_id"] == 1
    assert row_count(kind, user_id) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_tenant_creates_nothing(kind):
    user_id = fresh_user_id()

    response = register(kind, user_id, body={"tenant_id": UNKNOWN_TENANT})

    assert response.status == 422, response
    assert response.json()["error"]["code"] == "unknown_tenant"
    assert row_count(kind, user_id) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_tenant_keeps_existing_null(kind):
    user_id = fresh_user_id()
    register(kind, user_id)

    response = register(kind, user_id, body={"tenant_id": UNKNOWN_TENANT})

    assert response.status == 422, response
    assert response.json()["error"]["code"] == "unknown_tenant"
    assert status(kind, user_id).json()["tenant_id"] is None
    assert row_count(kind, user_id) == 1


def test_driver_tenant_independent_of_owner():
    user_id = fresh_user_id()
    register("fleet-owner", user_id, body={"tenant_id": 1})

    driver = register("driver", user_id, body={"tenant_id": 2})

    assert driver.status == 201, driver
    assert driver.json()["tenant_id"] == 2
    assert status("fleet-owner", user_id).json()["tenant_id"] == 1
