"""nginx's per-address rate limit returns 429 in the JSON error shape."""

import time

from fleetreg_api import connect, request

# One fixed address, unlike the random ones the other tests use, so this
# test alone meets the limit (dev default: 20 r/s, burst 40).
SOURCE_ADDRESS = "127.0.0.250"
MAX_REQUESTS = 1000
MAX_SECONDS = 30


def test_rate_limit_returns_json_429():
    connection = connect(source_address=SOURCE_ADDRESS)
    started = time.monotonic()
    limited = None
    sent = 0
    try:
        while sent < MAX_REQUESTS and time.monotonic() - started < MAX_SECONDS:
            response = request("GET", "/healthz", connection=connection)
            sent += 1
            if response.status == 429:
                limited = response
                break
            assert response.status == 200, response
    finally:
        connection.close()

    assert limited is not None, f"no 429 after {sent} requests"
    assert limited.header("content-type") == "application/json"
    assert limited.json()["error"]["code"] == "too_many_requests"
    assert limited.header("retry-after") == "1"
