"""Identity comes only from a valid bearer token, never from the client."""

import base64

import pytest

from fleetreg_api import (all_row_counts, fresh_user_id, make_token,
                          register, request, row_count)

KINDS = ["fleet-owner", "driver"]
PATHS = [("POST", "/fleet-owner/register"), ("GET", "/fleet-owner/status"),
         ("POST", "/driver/register"), ("GET", "/driver/status")]


def assert_unauthorized(response):
    assert response.status == 401, response
    assert response.header("content-type") == "application/json"
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.header("www-authenticate").startswith("Bearer")


@pytest.mark.parametrize("method, path", PATHS)
def test_missing_token_is_401(method, path):
    before = all_row_counts()

    response = request(method, path)

    assert_unauthorized(response)
    assert all_row_counts() == before


def bad_authorization(name, user_id):
    """Return an Authorization value of the named kind that must fail."""
    good = make_token(user_id)
    header, _, signature = good.split(".")
    other_payload = make_token(user_id + 1).split(".")[1]
    basic = base64.b64encode(f"{user_id}:x".encode()).decode()
    values = {
        "expired": make_token(user_id, expires_in=-3600),
        "wrong_key": make_token(user_id, key=b"not the key"),
        "alg_none": make_token(user_id, algorithm="none"),
        "alg_none_signed": make_token(
            user_id, header={"alg": "none", "typ": "JWT"}),
        "alg_hs512_header": make_token(
            user_id, header={"alg": "HS512", "typ": "JWT"}),
        "swapped_payload": f"{header}.{other_payload}.{signature}",
        "no_exp": make_token(user_id, exp=None),
        "not_yet_valid": make_token(user_id, nbf=2**31 - 1),
        "garbage": "abc.def.ghi",
        "empty": "",
    }
    if name == "wrong_scheme":
        return "Token " + good
    if name == "basic":
        return "Basic " + basic
    return "Bearer " + values[name]


BAD_AUTHORIZATION = ["expired", "wrong_key", "alg_none", "alg_none_signed",
                     "alg_hs512_header", "swapped_payload", "no_exp",
                     "not_yet_valid", "garbage", "empty", "wrong_scheme",
                     "basic"]


@pytest.mark.parametrize("name", BAD_AUTHORIZATION)
def test_bad_token_is_401_and_creates_nothing(name):
    user_id = fresh_user_id()
    authorization = bad_authorization(name, user_id)

    response = request("POST", "/fleet-owner/register",
                       headers={"Authorization": authorization})

    assert_unauthorized(response)
    assert row_count("fleet-owner", user_id) == 0


@pytest.mark.parametrize("sub", ["0", "-5", "abc", "1.5", "01",
                                 "99999999999999999999", ""])
def test_bad_subject_is_401(sub):
    response = request("GET", "/driver/status", token=make_token(sub))

    assert_unauthorized(response)


def test_numeric_and_string_subject_accepted():
    user_id = fresh_user_id()

    as_number = request("GET", "/driver/status", token=make_token(user_id))
    as_string = request("GET", "/driver/status",
                        token=make_token(str(user_id)))

    assert as_number.status == 201, as_number
    assert as_string.status == 200, as_string
    assert as_number.json() == as_string.json()


SPOOF_HEADERS = ["X-Fleetreg-Sub", "Fleetreg-Sub", "X-User-Id",
                 "X-Remote-User", "Remote-User", "X-Forwarded-User"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("header", SPOOF_HEADERS)
def test_identity_header_ignored_with_token(kind, header):
    user_id = fresh_user_id()
    victim_id = fresh_user_id()

    response = register(kind, user_id, headers={header: str(victim_id)})

    assert response.status == 201, response
    assert response.json()["user_id"] == user_id
    assert row_count(kind, victim_id) == 0


@pytest.mark.parametrize("header", SPOOF_HEADERS)
def test_identity_header_without_token_is_401(header):
    victim_id = fresh_user_id()

    response = request("POST", "/fleet-owner/register",
                       headers={header: str(victim_id)})

    assert_unauthorized(response)
    assert row_count("fleet-owner", victim_id) == 0


def test_basic_auth_never_becomes_user():
    victim_id = fresh_user_id()
    credentials = base64.b64encode(f"{victim_id}:secret".encode()).decode()

    response = request("GET", "/fleet-owner/status",
                       headers={"Authorization": "Basic " + credentials})

    assert_unauthorized(response)
    assert row_count("fleet-owner", victim_id) == 0


def test_token_in_query_string_ignored():
    user_id = fresh_user_id()

    response = request("GET",
                       f"/driver/status?access_token={make_token(user_id)}")

    assert_unauthorized(response)
    assert row_count("driver", user_id) == 0
