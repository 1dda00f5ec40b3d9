"""Bad requests: each gets its JSON error and creates nothing."""

import pytest

from fleetreg_api import (connect, fresh_user_id, make_token, request,
                          row_count, status)

JSON = {"Content-Type": "application/json"}

BAD_BODIES = [
    # (name, kind, raw body, headers, status, code)
    ("truncated", "fleet-owner", b'{"tenant_id": 1', JSON, 400,
     "invalid_json"),
    ("not_json", "driver", b"tenant_id=1", JSON, 400, "invalid_json"),
    ("array", "driver", b"[1]", JSON, 400, "invalid_json"),
    ("duplicate_key", "driver", b'{"tenant_id": 1, "tenant_id": 2}', JSON,
     400, "invalid_json"),
    ("text_plain", "fleet-owner", b'{"tenant_id": 1}',
     {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("form", "driver", b"tenant_id=1",
     {"Content-Type": "application/x-www-form-urlencoded"}, 415,
     "unsupported_media_type"),
    ("tenant_string", "driver", b'{"tenant_id": "1"}', JSON, 422,
     "invalid_field"),
    ("tenant_fraction", "fleet-owner", b'{"tenant_id": 1.5}', JSON, 422,
     "invalid_field"),
    ("tenant_negative", "driver", b'{"tenant_id": -1}', JSON, 422,
     "invalid_field"),
    ("tenant_zero", "driver", b'{"tenant_id": 0}', JSON, 422,
     "invalid_field"),
    ("name_number", "fleet-owner", b'{"business_name": 7}', JSON, 422,
     "invalid_field"),
    ("name_too_long", "fleet-owner",
     b'{"business_name": "' + b"x" * 201 + b'"}', JSON, 422,
     "invalid_field"),
    ("name_control", "fleet-owner", b'{"business_name": "a\\u0007b"}',
     JSON, 422, "invalid_field"),
    ("name_for_driver", "driver", b'{"business_name": "Acme"}', JSON, 422,
     "invalid_field"),
    ("unknown_field", "fleet-owner", b'{"user_id": 1}', JSON, 422,
     "invalid_field"),
]


@pytest.mark.parametrize(
    "kind, body, headers, expected_status, code",
    [case[1:] for case in BAD_BODIES], ids=[case[0] for case in BAD_BODIES])
def test_bad_body_rejected(kind, body, headers, expected_status, code):
    user_id = fresh_user_id()

    response = request("POST", f"/{kind}/register",
                       token=make_token(user_id), body=body, headers=headers)

    assert response.status == expected_status, response
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert row_count(kind, user_id) == 0


def test_body_over_limit_is_413_json():
    user_id = fresh_user_id()
    body = b'{"business_name": "' + b"x" * 20000 + b'"}'

    response = request("POST", "/fleet-owner/register",
                       token=make_token(user_id), body=body, headers=JSON)

    assert response.status == 413, response
    assert response.header("content-type") == "application/json"
    assert response.json()["error"]["code"] == "payload_too_large"
    assert row_count("fleet-owner", user_id) == 0


def test_chunked_body_is_read():
    user_id = fresh_user_id()
    body = b'{"tenant_id": 2}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    headers = {"Content-Type": "application/json",
               "Transfer-Encoding": "chunked"}

    response = request("POST", "/driver/register",
                       token=make_token(user_id), body=chunked,
                       headers=headers)

    assert response.status == 201, response
    assert response.json()["tenant_id"] == 2


@pytest.mark.parametrize("path", ["/nope", "/fleet-owner", "/fleet-owner/",
                                  "/fleet-owner/register/", "/driver/x",
                                  "/index.html", "/_auth", "/_error/401"])
def test_unknown_path_is_json_404(path):
    response = request("GET", path)

    assert response.status == 404, response
    assert response.header("content-type").startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/fleet-owner/register", "POST"),
    ("PUT", "/driver/register", "POST"),
    ("POST", "/fleet-owner/status", "GET"),
    ("DELETE", "/driver/status", "GET"),
])
def test_wrong_method_is_405_with_allow(method, path, allowed):
    user_id = fresh_user_id()

    response = request(method, path, token=make_token(user_id))

    assert response.status == 405, response
    assert allowed in response.header("allow")
    assert response.json()["error"]["code"] == "method_not_allowed"
    kind = path.split("/")[1]
    assert row_count(kind, user_id) == 0


def test_post_to_page_is_json_405():
    response = request("POST", "/", body={})

    assert response.status == 405, response
    assert "GET" in response.header("allow")
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_needs_no_token(path):
    response = request("GET", path)

    assert response.status == 200, response


def test_page_served_at_root():
    page = request("GET", "/")
    script = request("GET", "/static/app.js")

    assert page.status == 200, page
    assert page.header("content-type").startswith("text/html")
    assert b"Register as" in page.body
    assert "default-src 'self'" in page.header("content-security-policy")
    assert script.status == 200, script


def test_server_header_hides_version():
    response = request("GET", "/healthz")

    assert response.header("server") == "nginx"


def test_status_ignores_query_string():
    user_id = fresh_user_id()
    other_user_id = fresh_user_id()

    response = request("GET", f"/driver/status?user_id={other_user_id}",
                       token=make_token(user_id))

    assert response.status == 201, response
    assert response.json()["user_id"] == user_id
    assert row_count("driver", other_user_id) == 0
    assert status("driver", user_id).status == 200


def test_metrics_served_to_loopback():
    response = request("GET", "/metrics")

    assert response.status == 200, response
    assert response.header("content-type").startswith("text/plain")
    assert b"fleetreg_requests_total" in response.body


def test_two_authorization_headers_rejected():
    user_id = fresh_user_id()
    headers = [("Authorization", "Bearer " + make_token(user_id)),
               ("Authorization", "Bearer other")]

    connection = connect()
    try:
        connection.putrequest("GET", "/driver/status")
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()

    assert response.status == 400, body
    assert response.getheader("content-type") == "application/json"
    assert b'"invalid_request"' in body
    assert row_count("driver", user_id) == 0
