"""Clients for the integration tests: HTTPS to nginx, tokens, and psql.

Settings come from the environment that `scripts/dev env` prints:
FLEETREG_URL, FLEETREG_CA_FILE, FLEETREG_JWT_SECRET_FILE and FLEETREG_DB.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import ssl
import subprocess
import time
import urllib.parse

TIMEOUT_SECONDS = 30

# A random offset keeps the user ids of one run apart from earlier runs
# against the same database. Ids stay far below the bigint maximum.
_USER_ID_BASE = random.SystemRandom().randrange(10**12, 9 * 10**15)
_user_id_counter = 0


def setting(name):
    """Return an environment setting, failing with the fix when unset."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set; start a stack with scripts/dev up and "
            'run: eval "$(scripts/dev env)"')
    return value


def fresh_user_id():
    """Return a user id that no earlier test used."""
    global _user_id_counter
    _user_id_counter += 1
    return _USER_ID_BASE + _user_id_counter


def _base64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_secret():
    """Return the HS256 key: the secret file's bytes less one newline."""
    with open(setting("FLEETREG_JWT_SECRET_FILE"), "rb") as key_file:
        secret = key_file.read()
    if secret.endswith(b"\n"):
        secret = secret[:-1]
    return secret


def make_token(sub, expires_in=300, key=None, algorithm="HS256",
               header=None, **claims):
    """Sign a JWT for sub with HS256 (or leave it unsigned for "none")."""
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + expires_in}
    payload.update(claims)
    payload = {name: value for name, value in payload.items()
               if value is not None}
    header = header or {"alg": algorithm, "typ": "JWT"}
    signing_input = (_base64url(json.dumps(header).encode()) + "." +
                     _base64url(json.dumps(payload).encode()))
    if algorithm == "none":
        return signing_input + "."
    digest = hmac.new(key if key is not None else jwt_secret(),
                      signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _base64url(digest)


class Response:
    """One HTTP response, read completely."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        """Return a header's value (case-insensitive), or None."""
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


def _random_loopback_address():
    # nginx limits requests per client address. Each connection comes
    # from its own loopback address, as separate clients would, so only
    # the rate-limit test, which uses one address, meets the limit.
    rng = random.SystemRandom()
    return (f"127.{rng.randrange(1, 255)}.{rng.randrange(0, 256)}."
            f"{rng.randrange(1, 255)}")


def tls_context():
    """Return a client context that trusts only the stack's certificate."""
    return ssl.create_default_context(cafile=setting("FLEETREG_CA_FILE"))


def connect(source_address=None, context=None):
    """Open an HTTPS connection to nginx."""
    url = urllib.parse.urlsplit(setting("FLEETREG_URL"))
    source = source_address or _random_loopback_address()
    return http.client.HTTPSConnection(
        url.hostname, url.port, timeout=TIMEOUT_SECONDS,
        context=context or tls_context(), source_address=(source, 0))


def request(method, path, token=None, body=None, headers=None,
            connection=None):
    """Send one request and return its Response.

    body may be bytes (sent as is) or any other value (sent as JSON with
    Content-Type application/json unless headers names another type).
    """
    all_headers = {}
    if token is not None:
        all_headers["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})

    own_connection = connection is None
    connection = connection or connect()
    try:
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        received = {name.lower(): value
                    for name, value in response.getheaders()}
        return Response(response.status, received, data)
    finally:
        if own_connection:
            connection.close()


def register(kind, user_id, body=None, **options):
    """POST /<kind>/register as user_id with a fresh token."""
    return request("POST", f"/{kind}/register", token=make_token(user_id),
                   body=body, **options)


def status(kind, user_id, **options):
    """GET /<kind>/status as user_id with a fresh token."""
    return request("GET", f"/{kind}/status", token=make_token(user_id),
                   **options)


def sql(query):
    """Run a query with psql as the schema owner; return rows of strings."""
    result = subprocess.run(
        ["psql", setting("FLEETREG_DB"), "-X", "-A", "-t", "-q",
         "-v", "ON_ERROR_STOP=1", "-F", "\t", "-c", query],
        capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=True)
    return [line.split("\t") for line in result.stdout.splitlines() if line]


TABLES = {"fleet-owner": "fleet_owners", "driver": "drivers"}
ID_FIELDS = {"fleet-owner": "fleet_owner_id", "driver": "driver_id"}


def row_count(kind, user_id):
    """Return how many records of kind the database holds for user_id."""
    rows = sql(f"SELECT count(*) FROM {TABLES[kind]} "
               f"WHERE user_id = {int(user_id)}")
    return int(rows[0][0])


def all_row_counts():
    """Return the total rows of both record tables."""
    rows = sql("SELECT (SELECT count(*) FROM fleet_owners), "
               "(SELECT count(*) FROM drivers)")
    return tuple(int(value) for value in rows[0])
