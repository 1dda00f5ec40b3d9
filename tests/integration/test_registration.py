"""Get-or-create through nginx: one record per user and kind."""

import pytest

from fleetreg_api import (ID_FIELDS, fresh_user_id, register, row_count,
                          status)

KINDS = ["fleet-owner", "driver"]


@pytest.mark.parametrize("kind", KINDS)
def test_register_twice_same_record(kind):
    user_id = fresh_user_id()

    first = register(kind, user_id)
    second = register(kind, user_id)

    assert first.status == 201, first
    assert second.status == 200, second
    assert first.json()[ID_FIELDS[kind]] == second.json()[ID_FIELDS[kind]]
    assert row_count(kind, user_id) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_register_returns_draft_record(kind):
    user_id = fresh_user_id()

    response = register(kind, user_id)
    record = response.json()

    assert response.status == 201, response
    assert response.header("content-type").startswith("application/json")
    assert isinstance(record[ID_FIELDS[kind]], int)
    assert record["user_id"] == user_id
    assert record["tenant_id"] is None
    assert record["onboarding_status"] == "draft"
    assert record["created_at"]
    assert record["updated_at"]
    assert ("business_name" in record) == (kind == "fleet-owner")


@pytest.mark.parametrize("kind", KINDS)
def test_status_creates_draft_for_new_user(kind):
    user_id = fresh_user_id()

    first = status(kind, user_id)
    second = status(kind, user_id)

    assert first.status == 201, first
    assert first.json()["onboarding_status"] == "draft"
    assert second.status == 200, second
    assert first.json()[ID_FIELDS[kind]] == second.json()[ID_FIELDS[kind]]
    assert row_count(kind, user_id) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_register_then_status_like_old_frontend(kind):
    user_id = fresh_user_id()

    registered = register(kind, user_id)
    checked = status(kind, user_id)

    assert registered.status == 201, registered
    assert checked.status == 200, checked
    assert checked.json() == registered.json()
    assert row_count(kind, user_id) == 1


def test_owner_and_driver_are_separate():
    user_id = fresh_user_id()

    owner = register("fleet-owner", user_id)
    driver = register("driver", user_id)

    assert owner.status == 201, owner
    assert driver.status == 201, driver
    assert row_count("fleet-owner", user_id) == 1
    assert row_count("driver", user_id) == 1


def test_register_stores_business_name():
    user_id = fresh_user_id()

    created = register("fleet-owner", user_id,
                       body={"business_name": "Fjord Haulage AS"})
    checked = status("fleet-owner", user_id)

    assert created.status == 201, created
    assert created.json()["business_name"] == "Fjord Haulage AS"
    assert checked.json()["business_name"] == "Fjord Haulage AS"


def test_register_accepts_empty_object():
    user_id = fresh_user_id()

    response = register("driver", user_id, body={})

    assert response.status == 201, response
    assert row_count("driver", user_id) == 1
