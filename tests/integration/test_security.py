"""Hostile input through nginx and straight to the FastCGI socket.

Every case checks the status, the contract's JSON error, that nothing was
created or changed in the database, and that no 5xx came back. Cases
that nginx normalises away are sent to fleetreg's socket with a small
FastCGI client. Token cases for RS256, and for iss and aud, run against
a second fleetreg that this module starts behind its own socket, since
the shared stack uses HS256 without iss or aud.
"""

import base64
import grp
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest

import fastcgi_client
from fleetreg_api import (Response, all_row_counts, connect, fresh_user_id,
                          jwt_secret, make_token, request, row_count,
                          setting, sql, tls_context)

JSON = {"Content-Type": "application/json"}
KINDS = ["fleet-owner", "driver"]
TABLES = {"fleet-owner": "fleet_owners", "driver": "drivers"}
ISSUER = "https://id.example.com/"
AUDIENCE = "fleetreg"


# --- helpers -------------------------------------------------------------

def assert_json_error(response, status, code):
    """Check status, the JSON error shape and code; return the message."""
    assert response.status == status, response
    content_type = response.header("content-type") or ""
    assert content_type.startswith("application/json"), response
    error = response.json()["error"]
    assert error["code"] == code, response
    assert isinstance(error["message"], str) and error["message"], response
    return error["message"]


def assert_unauthorized(response):
    assert_json_error(response, 401, "unauthorized")
    assert (response.header("www-authenticate") or "").startswith("Bearer")


def base64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_part(value):
    """Encode a JWT header or claims object (or raw text) as base64url."""
    if not isinstance(value, (str, bytes)):
        value = json.dumps(value, separators=(",", ":"))
    return base64url(value)


def hs256(signing_input, key):
    return base64url(hmac.new(key, signing_input.encode(),
                              hashlib.sha256).digest())


def signed_token(header, claims, key):
    """Sign header and claims with HMAC-SHA256 under key."""
    signing_input = encode_part(header) + "." + encode_part(claims)
    return signing_input + "." + hs256(signing_input, key)


def claims_for(sub, **extra):
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + 300}
    claims.update(extra)
    return {name: value for name, value in claims.items() if value is not None}


def raw_exchange(data, source_address=None, timeout=15):
    """Send raw bytes over TLS to nginx and parse the HTTP response."""
    url = urllib.parse.urlsplit(setting("FLEETREG_URL"))
    # A random loopback address, as fleetreg_api uses, keeps these
    # requests clear of the per-address rate limit.
    rng = random.SystemRandom()
    source = source_address or (
        f"127.{rng.randrange(1, 250)}.{rng.randrange(0, 256)}."
        f"{rng.randrange(1, 255)}")
    raw = socket.create_connection((url.hostname, url.port), timeout,
                                   source_address=(source, 0))
    with tls_context().wrap_socket(raw, server_hostname=url.hostname) as tls:
        tls.sendall(data)
        response = http.client.HTTPResponse(tls)
        response.begin()
        body = response.read()
    headers = {name.lower(): value for name, value in response.getheaders()}
    return Response(response.status, headers, body)


def send_with_repeated_headers(method, path, headers, body=None):
    """Send one request whose header list may name a header twice."""
    connection = connect()
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
        received = {name.lower(): value
                    for name, value in response.getheaders()}
        return Response(response.status, received, data)
    finally:
        connection.close()


def record_row(kind, user_id):
    """Return the user's record as one JSON text, or None."""
    rows = sql(f"SELECT row_to_json(t)::text FROM {TABLES[kind]} t "
               f"WHERE user_id = {int(user_id)}")
    return rows[0][0] if rows else None


def fleetreg_socket():
    """Return the FastCGI socket path from the stack's configuration."""
    with open(setting("FLEETREG_CONF"), encoding="utf-8") as conf:
        for line in conf:
            match = re.match(r"\s*listen\s*=\s*(\S+)", line)
            if match:
                return match.group(1)
    raise RuntimeError(f"no listen line in {setting('FLEETREG_CONF')}")


def fleetreg_pids():
    """Return the master's pid and the set of its worker pids."""
    pid_file = os.path.join(setting("FLEETREG_DEV_DIR"), "run",
                            "fleetreg.pid")
    with open(pid_file, encoding="ascii") as handle:
        master = int(handle.read().split()[0])
    workers = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            workers.add(int(entry))
    return master, workers


def direct(method, path, sub=None, body=b"", content_length=None,
           content_type="application/json", extra=(), socket_path=None):
    """Send a request straight to fleetreg as nginx would lay it out.

    content_length defaults to the body's length; pass "absent" to send
    no CONTENT_LENGTH at all.
    """
    params = [("REQUEST_METHOD", method), ("DOCUMENT_URI", path),
              ("REQUEST_URI", path), ("REQUEST_ID", uuid.uuid4().hex),
              ("REMOTE_ADDR", "127.0.0.1"), ("SERVER_PROTOCOL", "HTTP/1.1")]
    if content_length is None:
        content_length = str(len(body)) if body else ""
    if content_length != "absent":
        params.append(("CONTENT_LENGTH", content_length))
    if content_type is not None:
        params.append(("CONTENT_TYPE", content_type))
    if sub is not None:
        params.append(("FLEETREG_SUB", sub))
    params.extend(extra)
    return fastcgi_client.request(socket_path or fleetreg_socket(), params,
                                  body)


def direct_auth(authorization, socket_path):
    """Ask a fleetreg's /_auth location to verify an Authorization value."""
    params = [("REQUEST_METHOD", "GET"), ("DOCUMENT_URI", "/_auth"),
              ("CONTENT_LENGTH", ""), ("CONTENT_TYPE", ""),
              ("REQUEST_ID", uuid.uuid4().hex),
              ("HTTP_AUTHORIZATION", authorization)]
    return fastcgi_client.request(socket_path, params)


# --- the trust boundary ----------------------------------------------------

def test_socket_is_0660_for_nginx_group():
    info = os.stat(fleetreg_socket())

    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_gid == grp.getgrnam("www-data").gr_gid
    assert info.st_uid == 0


def _socket_inodes(pid):
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", target)
        if match:
            inodes.add(match.group(1))
    return inodes


def _tcp_listen_inodes():
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    inodes.add(fields[9])
    return inodes


def test_fleetreg_listens_on_no_tcp_port():
    master, workers = fleetreg_pids()
    owned = set()
    for pid in {master} | workers:
        owned |= _socket_inodes(pid)

    assert workers, "the fleetreg master has no workers"
    assert owned, "fleetreg holds no socket at all"
    assert not owned & _tcp_listen_inodes()


# --- identity through nginx ------------------------------------------------

SPOOF_HEADERS = ["X-Fleetreg-Sub", "X-User-Id", "Fleetreg-Sub",
                 "Fleetreg_Sub", "Remote-User", "X-Remote-User"]


@pytest.mark.parametrize("header", SPOOF_HEADERS)
def test_spoof_header_without_token_is_401(header):
    victim = fresh_user_id()

    response = request("POST", "/fleet-owner/register",
                       headers={header: str(victim)})

    assert_unauthorized(response)
    assert row_count("fleet-owner", victim) == 0


@pytest.mark.parametrize("header", SPOOF_HEADERS)
def test_spoof_header_keeps_token_identity(header):
    user_id = fresh_user_id()
    victim = fresh_user_id()

    response = request("POST", "/driver/register", token=make_token(user_id),
                       headers={header: str(victim)})

    assert response.status == 201, response
    assert response.json()["user_id"] == user_id
    assert row_count("driver", victim) == 0


@pytest.mark.parametrize("with_token", [False, True])
def test_spoof_header_sent_twice(with_token):
    user_id = fresh_user_id()
    victims = [fresh_user_id(), fresh_user_id()]
    headers = [("X-Fleetreg-Sub", str(victim)) for victim in victims]
    if with_token:
        headers.append(("Authorization", "Bearer " + make_token(user_id)))

    response = send_with_repeated_headers("GET", "/driver/status", headers)

    if with_token:
        assert response.status == 201, response
        assert response.json()["user_id"] == user_id
    else:
        assert_unauthorized(response)
    assert all(row_count("driver", victim) == 0 for victim in victims)


@pytest.mark.parametrize("with_token", [False, True])
def test_spoof_header_with_empty_value(with_token):
    user_id = fresh_user_id()
    token = make_token(user_id) if with_token else None

    response = request("GET", "/fleet-owner/status", token=token,
                       headers={"X-Fleetreg-Sub": "", "X-User-Id": ""})

    if with_token:
        assert response.status == 201, response
        assert response.json()["user_id"] == user_id
    else:
        assert_unauthorized(response)


@pytest.mark.parametrize("password", ["secret", "token"])
def test_basic_authorization_is_401(password):
    victim = fresh_user_id()
    if password == "token":
        password = make_token(victim)
    credentials = base64.b64encode(f"{victim}:{password}".encode()).decode()
    before = all_row_counts()

    response = request("POST", "/fleet-owner/register",
                       headers={"Authorization": "Basic " + credentials})

    assert_unauthorized(response)
    assert row_count("fleet-owner", victim) == 0
    assert all_row_counts() == before


def test_authorization_sent_twice_is_rejected():
    user_id = fresh_user_id()
    victim = fresh_user_id()
    headers = [("Authorization", "Bearer " + make_token(user_id)),
               ("Authorization", "Bearer " + make_token(victim))]

    response = send_with_repeated_headers("GET", "/driver/status", headers)

    assert_json_error(response, 400, "invalid_request")
    assert row_count("driver", user_id) == 0
    assert row_count("driver", victim) == 0


@pytest.mark.parametrize("value", ["", "Bearer", "Bearer ", "Bearer  ",
                                   "bearer", "Token abc"])
def test_empty_or_bare_authorization_is_401(value):
    before = all_row_counts()

    response = request("GET", "/driver/status",
                       headers={"Authorization": value})

    assert_unauthorized(response)
    assert all_row_counts() == before


# --- tokens through nginx (the shared stack pins HS256) --------------------

def bad_hs256_token(name, user_id):
    """Return a token of the named kind that the HS256 stack must reject."""
    secret = jwt_secret()
    claims = claims_for(str(user_id))
    none_input = (encode_part({"alg": "none", "typ": "JWT"}) + "." +
                  encode_part(claims))
    good = signed_token({"alg": "HS256", "typ": "JWT"}, claims, secret)
    other = signed_token({"alg": "HS256", "typ": "JWT"},
                         claims_for(str(user_id + 1)), secret)
    tokens = {
        "alg_none_trailing_dot": none_input + ".",
        "alg_none_no_dot": none_input,
        "alg_none_signed": none_input + "." + hs256(none_input, secret),
        "alg_None_capital": signed_token({"alg": "None"}, claims, secret),
        "alg_hs512": signed_token({"alg": "HS512"}, claims, secret),
        "alg_rs256_header": signed_token({"alg": "RS256"}, claims, secret),
        "alg_missing": signed_token({"typ": "JWT"}, claims, secret),
        "wrong_key": signed_token({"alg": "HS256"}, claims,
                                  b"0123456789abcdef0123456789abcdef"),
        "empty_signature": good.rsplit(".", 1)[0] + ".",
        "cut_signature": good[:-4],
        "swapped_payload": ".".join([good.split(".")[0],
                                     other.split(".")[1],
                                     good.split(".")[2]]),
        "missing_exp": signed_token({"alg": "HS256"},
                                    claims_for(str(user_id), exp=None),
                                    secret),
        "past_exp": signed_token(
            {"alg": "HS256"},
            claims_for(str(user_id), exp=int(time.time()) - 3600), secret),
        "exp_past_leeway": signed_token(
            {"alg": "HS256"},
            claims_for(str(user_id), exp=int(time.time()) - 90), secret),
        "exp_as_string": signed_token(
            {"alg": "HS256"},
            claims_for(str(user_id), exp=str(int(time.time()) + 300)),
            secret),
        "future_nbf": signed_token(
            {"alg": "HS256"},
            claims_for(str(user_id), nbf=int(time.time()) + 3600), secret),
        "future_iat": signed_token(
            {"alg": "HS256"},
            claims_for(str(user_id), iat=int(time.time()) + 3600), secret),
        "crit_header": signed_token({"alg": "HS256", "crit": ["exp"]},
                                    claims, secret),
        "duplicate_sub": signed_token(
            {"alg": "HS256"},
            '{"sub":"%d","sub":"%d","exp":%d}' % (
                user_id + 1, user_id, int(time.time()) + 300), secret),
        "garbage": "abc.def.ghi",
        "four_parts": good + ".x",
        "padded": good.split(".")[0] + "=." + ".".join(good.split(".")[1:]),
    }
    return tokens[name]


BAD_HS256_TOKENS = ["alg_none_trailing_dot", "alg_none_no_dot",
                    "alg_none_signed", "alg_None_capital", "alg_hs512",
                    "alg_rs256_header", "alg_missing", "wrong_key",
                    "empty_signature", "cut_signature", "swapped_payload",
                    "missing_exp", "past_exp", "exp_past_leeway",
                    "exp_as_string", "future_nbf", "future_iat",
                    "crit_header", "duplicate_sub", "garbage", "four_parts",
                    "padded"]


@pytest.mark.parametrize("name", BAD_HS256_TOKENS)
def test_bad_token_is_401(name):
    user_id = fresh_user_id()
    token = bad_hs256_token(name, user_id)

    response = request("POST", "/fleet-owner/register", token=token)

    assert_unauthorized(response)
    assert row_count("fleet-owner", user_id) == 0
    assert row_count("fleet-owner", user_id + 1) == 0


BAD_SUBS = [0, -5, "0", "-5", "abc", 1.5, "1.5", "01", "", " 14", "14 ",
            "+14", "1e3", 1e3 + 0.5, "9223372036854775808", 2**53,
            "99999999999999999999", None, True, [14], {"id": 14}]


@pytest.mark.parametrize("sub", BAD_SUBS, ids=[repr(s) for s in BAD_SUBS])
def test_bad_sub_is_401(sub):
    claims = claims_for(sub)
    if sub is None:
        claims.pop("sub", None)
    token = signed_token({"alg": "HS256", "typ": "JWT"}, claims, jwt_secret())
    before = all_row_counts()

    response = request("POST", "/driver/register", token=token)

    assert_unauthorized(response)
    assert all_row_counts() == before


def test_oversize_token_is_401():
    user_id = fresh_user_id()
    # Correctly signed, but longer than max_token_bytes (8192 in the
    # dev stack) and shorter than nginx's 16 KiB header buffer.
    claims = claims_for(str(user_id), pad="x" * 9000)
    token = signed_token({"alg": "HS256", "typ": "JWT"}, claims,
                         jwt_secret())

    response = request("POST", "/driver/register", token=token)

    assert len(token) > 8192
    assert_unauthorized(response)
    assert row_count("driver", user_id) == 0


def test_token_over_header_buffer_is_400():
    user_id = fresh_user_id()
    token = make_token(user_id, pad="x" * 20000)

    response = request("POST", "/driver/register", token=token)

    assert_json_error(response, 400, "invalid_request")
    assert row_count("driver", user_id) == 0


def test_number_and_string_sub_are_one_user():
    user_id = fresh_user_id()

    as_number = request("POST", "/fleet-owner/register",
                        token=make_token(user_id))
    as_string = request("POST", "/fleet-owner/register",
                        token=make_token(str(user_id)))

    assert as_number.status == 201, as_number
    assert as_string.status == 200, as_string
    assert as_number.json()["fleet_owner_id"] == \
        as_string.json()["fleet_owner_id"]
    assert as_string.json()["user_id"] == user_id
    assert row_count("fleet-owner", user_id) == 1


# --- tokens against a second fleetreg that pins RS256 ----------------------

def openssl(*arguments, data=None):
    """Run the openssl command line tool and return its output bytes."""
    result = subprocess.run(["openssl", *arguments], input=data,
                            capture_output=True, timeout=60, check=True)
    return result.stdout


def _der_integer(data, offset):
    assert data[offset] == 0x02
    length = data[offset + 1]
    start = offset + 2
    return int.from_bytes(data[start:start + length], "big"), start + length


def es256_signature(der):
    """Convert an ECDSA DER signature to the 64-byte r || s of JWS."""
    offset = 2 if der[1] < 0x80 else 3
    r, offset = _der_integer(der, offset)
    s, _ = _der_integer(der, offset)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class KeySet:
    """Keys made with openssl in a folder: RSA and P-256, ours and others."""

    def __init__(self, folder):
        self.folder = folder
        for name in ("rsa", "rsa_other"):
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", self.path(name + ".pem"))
            openssl("pkey", "-in", self.path(name + ".pem"), "-pubout",
                    "-out", self.path(name + ".pub"))
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", self.path("ec.pem"))
        with open(self.path("rsa.pub"), "rb") as handle:
            self.rsa_public_pem = handle.read()

    def path(self, name):
        return os.path.join(self.folder, name)

    def sign(self, key_name, header, claims):
        """Sign with RS256 (RSA keys) or ES256 (the EC key)."""
        signing_input = encode_part(header) + "." + encode_part(claims)
        signature = openssl("dgst", "-sha256", "-sign",
                            self.path(key_name + ".pem"),
                            data=signing_input.encode())
        if key_name == "ec":
            signature = es256_signature(signature)
        return signing_input + "." + base64url(signature)


class SecondFleetreg:
    """A fleetreg started by this module, pinned to RS256 with iss and aud."""

    def __init__(self, folder, keys):
        self.socket_path = os.path.join(folder, "fleetreg.sock")
        self.log_path = os.path.join(folder, "fleetreg.log")
        conf = os.path.join(folder, "fleetreg.conf")
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(
                f"listen = {self.socket_path}\n"
                "socket_mode = 0660\n"
                "workers = 1\n"
                f"database = {setting('FLEETREG_POOLER_DB')}\n"
                "jwt_algorithm = RS256\n"
                f"jwt_key_file = {keys.path('rsa.pub')}\n"
                f"jwt_issuer = {ISSUER}\n"
                f"jwt_audience = {AUDIENCE}\n"
                "jwt_leeway = 30\n"
                "max_token_bytes = 8192\n"
                "shutdown_timeout = 5\n"
                "log_level = debug\n")
        # FLEETREG_<KEY> variables would override the file.
        environment = {name: value for name, value in os.environ.items()
                       if not name.startswith("FLEETREG_")}
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [setting("FLEETREG_BIN"), "-c", conf], stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, env=environment,
            start_new_session=True)
        self._wait_for_socket()

    def _wait_for_socket(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if os.path.exists(self.socket_path):
                return
            time.sleep(0.1)
        self.stop()
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            raise RuntimeError("the RS256 fleetreg did not open its socket: "
                               + log.read()[-2000:])

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def rs256():
    """Yield (keys, server) for a second fleetreg pinned to RS256."""
    with tempfile.TemporaryDirectory(prefix="fleetreg-rs256-") as folder:
        keys = KeySet(folder)
        server = SecondFleetreg(folder, keys)
        try:
            yield keys, server
        finally:
            server.stop()


def rs_claims(sub, **extra):
    """Return claims with the RS256 fleetreg's iss and aud, unless given."""
    return claims_for(sub, **{"iss": ISSUER, "aud": AUDIENCE, **extra})


def test_rs256_fleetreg_accepts_its_own_token(rs256):
    keys, server = rs256
    user_id = fresh_user_id()
    token = keys.sign("rsa", {"alg": "RS256", "typ": "JWT"},
                      rs_claims(str(user_id)))

    response = direct_auth("Bearer " + token, server.socket_path)

    assert response.status == 204, response
    assert response.header("x-fleetreg-sub") == str(user_id)


def test_rs256_socket_is_0660(rs256):
    _, server = rs256

    info = os.stat(server.socket_path)

    assert stat.S_IMODE(info.st_mode) == 0o660


def test_rs256_audience_array_accepted(rs256):
    keys, server = rs256
    user_id = fresh_user_id()
    token = keys.sign("rsa", {"alg": "RS256"},
                      rs_claims(user_id, aud=["other", AUDIENCE]))

    response = direct_auth("Bearer " + token, server.socket_path)

    assert response.status == 204, response
    assert response.header("x-fleetreg-sub") == str(user_id)


def bad_rs256_token(name, keys, user_id):
    """Return a token of the named kind that the RS256 fleetreg rejects."""
    claims = rs_claims(str(user_id))
    public_pem = keys.rsa_public_pem
    none_input = encode_part({"alg": "none"}) + "." + encode_part(claims)
    cases = {
        "alg_none_trailing_dot": lambda: none_input + ".",
        "alg_none_no_dot": lambda: none_input,
        "alg_none_signed": lambda: none_input + "." + keys.sign(
            "rsa", {"alg": "none"}, claims).rsplit(".", 1)[1],
        # The classic confusion: the public key, known to all, as an
        # HMAC secret, with and without its trailing newline.
        "hs256_public_key": lambda: signed_token(
            {"alg": "HS256", "typ": "JWT"}, claims, public_pem),
        "hs256_public_key_stripped": lambda: signed_token(
            {"alg": "HS256", "typ": "JWT"}, claims, public_pem.rstrip()),
        "hs512_public_key": lambda: _hs512_token(claims, public_pem),
        "es256_other_key": lambda: keys.sign("ec", {"alg": "ES256"}, claims),
        "rs256_other_key": lambda: keys.sign("rsa_other", {"alg": "RS256"},
                                             claims),
        "rs256_embedded_jwk": lambda: keys.sign(
            "rsa_other", {"alg": "RS256", "jwk": {"kty": "RSA"},
                          "jku": "https://127.0.0.1/keys"}, claims),
        "rs256_empty_signature": lambda: keys.sign(
            "rsa", {"alg": "RS256"}, claims).rsplit(".", 1)[0] + ".",
        "wrong_iss": lambda: keys.sign(
            "rsa", {"alg": "RS256"},
            rs_claims(str(user_id), iss="https://evil.example.com/")),
        "missing_iss": lambda: keys.sign(
            "rsa", {"alg": "RS256"}, claims_for(str(user_id), aud=AUDIENCE)),
        "wrong_aud": lambda: keys.sign(
            "rsa", {"alg": "RS256"}, rs_claims(str(user_id), aud="billing")),
        "aud_array_without_ours": lambda: keys.sign(
            "rsa", {"alg": "RS256"},
            rs_claims(str(user_id), aud=["billing", "fleetreg2"])),
        "missing_aud": lambda: keys.sign(
            "rsa", {"alg": "RS256"}, claims_for(str(user_id), iss=ISSUER)),
        "missing_exp": lambda: keys.sign(
            "rsa", {"alg": "RS256"}, rs_claims(str(user_id), exp=None)),
        "past_exp": lambda: keys.sign(
            "rsa", {"alg": "RS256"},
            rs_claims(str(user_id), exp=int(time.time()) - 3600)),
        "future_nbf": lambda: keys.sign(
            "rsa", {"alg": "RS256"},
            rs_claims(str(user_id), nbf=int(time.time()) + 3600)),
        "bad_sub": lambda: keys.sign("rsa", {"alg": "RS256"},
                                     rs_claims("0" + str(user_id))),
    }
    return cases[name]()


def _hs512_token(claims, key):
    signing_input = encode_part({"alg": "HS512"}) + "." + encode_part(claims)
    return signing_input + "." + base64url(
        hmac.new(key, signing_input.encode(), hashlib.sha512).digest())


BAD_RS256_TOKENS = ["alg_none_trailing_dot", "alg_none_no_dot",
                    "alg_none_signed", "hs256_public_key",
                    "hs256_public_key_stripped", "hs512_public_key",
                    "es256_other_key", "rs256_other_key",
                    "rs256_embedded_jwk", "rs256_empty_signature",
                    "wrong_iss", "missing_iss", "wrong_aud",
                    "aud_array_without_ours", "missing_aud", "missing_exp",
                    "past_exp", "future_nbf", "bad_sub"]


@pytest.mark.parametrize("name", BAD_RS256_TOKENS)
def test_rs256_fleetreg_rejects_bad_token(rs256, name):
    keys, server = rs256
    user_id = fresh_user_id()
    token = bad_rs256_token(name, keys, user_id)

    response = direct_auth("Bearer " + token, server.socket_path)

    assert_unauthorized(response)
    assert response.header("x-fleetreg-sub") is None


# --- bodies through nginx ---------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("content_type", [None, "text/plain",
                                          "application/json"])
def test_empty_post_body_means_no_options(kind, content_type):
    user_id = fresh_user_id()
    headers = {"Content-Type": content_type} if content_type else {}

    response = request("POST", f"/{kind}/register",
                       token=make_token(user_id), body=b"", headers=headers)

    assert response.status == 201, response
    assert response.json()["tenant_id"] is None
    if kind == "fleet-owner":
        assert response.json()["business_name"] == ""


LONG_NAME = "x" * 201
BAD_BODIES = [
    # (id, kind, body, status, code, text the message must contain)
    ("truncated", "driver", b'{"tenant_id": 1', 400, "invalid_json", None),
    ("not_json", "driver", b"tenant_id=1", 400, "invalid_json", None),
    ("array", "driver", b"[1]", 400, "invalid_json", None),
    ("string", "driver", b'"x"', 400, "invalid_json", None),
    ("null", "driver", b"null", 400, "invalid_json", None),
    ("number", "driver", b"3", 400, "invalid_json", None),
    ("trailing_text", "driver", b'{"tenant_id": 1} x', 400, "invalid_json",
     None),
    ("two_objects", "driver", b"{} {}", 400, "invalid_json", None),
    ("single_quotes", "driver", b"{'tenant_id': 1}", 400, "invalid_json",
     None),
    ("trailing_comma", "driver", b'{"tenant_id": 1,}', 400, "invalid_json",
     None),
    ("leading_zero", "driver", b'{"tenant_id": 01}', 400, "invalid_json",
     None),
    ("nan", "driver", b'{"tenant_id": NaN}', 400, "invalid_json", None),
    ("byte_order_mark", "driver", b'\xef\xbb\xbf{}', 400, "invalid_json",
     None),
    ("duplicate_key", "driver", b'{"tenant_id": 1, "tenant_id": 2}', 400,
     "invalid_json", "tenant_id"),
    ("duplicate_key_escaped", "driver",
     b'{"tenant_id": 1, "tenant\\u005fid": 2}', 400, "invalid_json", None),
    ("nesting_9", "fleet-owner", b'{"x":[[[[[[[[]]]]]]]]}', 400,
     "invalid_json", "deeper"),
    ("nul_escape", "fleet-owner", b'{"business_name": "a\\u0000b"}', 400,
     "invalid_json", None),
    ("nul_escape_key", "driver", b'{"tenant_id\\u0000x": 1}', 400,
     "invalid_json", None),
    ("lone_surrogate", "fleet-owner", b'{"business_name": "\\ud800"}', 400,
     "invalid_json", "surrogate"),
    ("raw_tab", "fleet-owner", b'{"business_name": "a\tb"}', 400,
     "invalid_json", "control"),
    ("invalid_utf8", "fleet-owner", b'{"business_name": "a\xc0\xafb"}', 400,
     "invalid_json", "UTF-8"),
    ("utf8_surrogate", "fleet-owner", b'{"business_name": "\xed\xa0\x80"}',
     400, "invalid_json", "UTF-8"),
    ("tenant_string", "driver", b'{"tenant_id": "1"}', 422, "invalid_field",
     "tenant_id"),
    ("tenant_fraction", "driver", b'{"tenant_id": 1.5}', 422,
     "invalid_field", "tenant_id"),
    ("tenant_one_point_zero", "driver", b'{"tenant_id": 1.0}', 422,
     "invalid_field", "tenant_id"),
    ("tenant_exponent", "driver", b'{"tenant_id": 1e0}', 422,
     "invalid_field", "tenant_id"),
    ("tenant_negative", "driver", b'{"tenant_id": -1}', 422,
     "invalid_field", "tenant_id"),
    ("tenant_zero", "fleet-owner", b'{"tenant_id": 0}', 422,
     "invalid_field", "tenant_id"),
    ("tenant_over_int4", "driver", b'{"tenant_id": 2147483648}', 422,
     "invalid_field", "tenant_id"),
    ("tenant_huge", "driver", b'{"tenant_id": 99999999999999999999999}',
     422, "invalid_field", "tenant_id"),
    ("tenant_null", "driver", b'{"tenant_id": null}', 422, "invalid_field",
     "tenant_id"),
    ("tenant_bool", "driver", b'{"tenant_id": true}', 422, "invalid_field",
     "tenant_id"),
    ("tenant_array", "driver", b'{"tenant_id": [1]}', 422, "invalid_field",
     "tenant_id"),
    ("name_number", "fleet-owner", b'{"business_name": 7}', 422,
     "invalid_field", "business_name"),
    ("name_null", "fleet-owner", b'{"business_name": null}', 422,
     "invalid_field", "business_name"),
    ("name_object", "fleet-owner", b'{"business_name": {}}', 422,
     "invalid_field", "business_name"),
    ("name_too_long", "fleet-owner",
     b'{"business_name": "' + LONG_NAME.encode() + b'"}', 422,
     "invalid_field", "business_name"),
    ("name_escaped_control", "fleet-owner",
     b'{"business_name": "a\\u0007b"}', 422, "invalid_field",
     "business_name"),
    ("name_newline_escape", "fleet-owner", b'{"business_name": "a\\nb"}',
     422, "invalid_field", "business_name"),
    ("name_c1_control", "fleet-owner", b'{"business_name": "a\xc2\x85b"}',
     422, "invalid_field", "business_name"),
    ("name_for_driver", "driver", b'{"business_name": "Acme"}', 422,
     "invalid_field", "business_name"),
    ("unknown_field", "fleet-owner", b'{"user_id": 1}', 422,
     "invalid_field", "user_id"),
    ("field_case", "driver", b'{"Tenant_ID": 1}', 422, "invalid_field",
     "Tenant_ID"),
    ("status_field", "fleet-owner", b'{"onboarding_status": "approved"}',
     422, "invalid_field", "onboarding_status"),
]


@pytest.mark.parametrize(
    "kind, body, status, code, text", [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES])
def test_bad_json_body_rejected(kind, body, status, code, text):
    user_id = fresh_user_id()

    response = request("POST", f"/{kind}/register",
                       token=make_token(user_id), body=body, headers=JSON)

    message = assert_json_error(response, status, code)
    if text is not None:
        assert text in message, message
    assert row_count(kind, user_id) == 0


def test_bad_bodies_leave_record_unchanged():
    user_id = fresh_user_id()
    created = request("POST", "/fleet-owner/register",
                      token=make_token(user_id),
                      body={"business_name": "Acme", "tenant_id": 1})
    assert created.status == 201, created
    before = record_row("fleet-owner", user_id)

    for case in BAD_BODIES:
        if case[1] != "fleet-owner":
            continue
        # A distinct token per call keeps a per-token rate limit away.
        token = make_token(user_id, jti=uuid.uuid4().hex)
        response = request("POST", "/fleet-owner/register", token=token,
                           body=case[2], headers=JSON)
        assert response.status == case[3], (case[0], response)

    assert record_row("fleet-owner", user_id) == before


def test_unknown_tenant_is_422():
    user_id = fresh_user_id()

    response = request("POST", "/driver/register", token=make_token(user_id),
                       body={"tenant_id": 2147483000})

    assert_json_error(response, 422, "unknown_tenant")
    assert row_count("driver", user_id) == 0


NON_JSON_TYPES = ["text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/xml",
                  "application/json; charset=latin1",
                  "application/json-patch+json", "application/jsonx",
                  "text/json"]


@pytest.mark.parametrize("content_type", NON_JSON_TYPES + [None])
def test_non_json_content_type_is_415(content_type):
    user_id = fresh_user_id()
    connection = connect()
    try:
        connection.putrequest("POST", "/driver/register")
        connection.putheader("Authorization", "Bearer " + make_token(user_id))
        if content_type is not None:
            connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", "16")
        connection.endheaders(b'{"tenant_id": 1}')
        reply = connection.getresponse()
        response = Response(reply.status,
                         {n.lower(): v for n, v in reply.getheaders()},
                         reply.read())
    finally:
        connection.close()

    assert_json_error(response, 415, "unsupported_media_type")
    assert row_count("driver", user_id) == 0


SQL_NAMES = [
    "Robert'); DROP TABLE fleet_owners;--",
    "x' OR '1'='1",
    "a\\'; SELECT pg_sleep(5); --",
    "$1 $2 %s %n {0}",
    "\u00e9\u6771\U0001f69a \"quoted\" \\ backslash",
]


@pytest.mark.parametrize("name", SQL_NAMES)
def test_sql_text_stored_literally(name):
    user_id = fresh_user_id()

    response = request("POST", "/fleet-owner/register",
                       token=make_token(user_id), body={"business_name": name})

    assert response.status == 201, response
    assert response.json()["business_name"] == name
    stored = json.loads(record_row("fleet-owner", user_id))
    assert stored["business_name"] == name
    assert sql("SELECT to_regclass('fleet_owners') IS NOT NULL") == [["t"]]


def chunked_request(path, token, chunks, content_type="application/json",
                    trailer=b"0\r\n\r\n"):
    """Build a raw HTTP/1.1 request whose body is sent in chunks."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                    for chunk in chunks)
    return head.encode() + body + trailer


def test_chunked_body_decoded():
    user_id = fresh_user_id()
    data = chunked_request("/driver/register", make_token(user_id),
                           [b'{"tenant', b'_id"', b": 2}"])

    response = raw_exchange(data)

    assert response.status == 201, response
    assert response.json()["tenant_id"] == 2


def test_chunked_body_over_limit_is_413():
    user_id = fresh_user_id()
    chunks = [b'{"business_name": "'] + [b"x" * 4000] * 5 + [b'"}']
    data = chunked_request("/fleet-owner/register", make_token(user_id),
                           chunks)

    response = raw_exchange(data)

    assert_json_error(response, 413, "payload_too_large")
    assert row_count("fleet-owner", user_id) == 0


def test_chunked_non_json_type_is_415():
    user_id = fresh_user_id()
    data = chunked_request("/driver/register", make_token(user_id),
                           [b'{"tenant_id": 1}'], content_type="text/plain")

    response = raw_exchange(data)

    assert_json_error(response, 415, "unsupported_media_type")
    assert row_count("driver", user_id) == 0


MALFORMED_CHUNK = b"zz\r\n{}\r\n0\r\n\r\n"


def test_malformed_chunk_is_400():
    user_id = fresh_user_id()
    data = chunked_request("/driver/register", make_token(user_id), [],
                           trailer=MALFORMED_CHUNK)

    response = raw_exchange(data)

    assert_json_error(response, 400, "invalid_request")
    assert row_count("driver", user_id) == 0


def test_malformed_chunk_without_token_is_400():
    before = all_row_counts()
    data = chunked_request("/driver/register", "not-a-token", [],
                           trailer=MALFORMED_CHUNK)

    response = raw_exchange(data)

    assert response.status == 400, response
    assert all_row_counts() == before


@pytest.mark.xfail(strict=True, reason=(
    "nginx 1.22 answers with its built-in HTML 400: the 401 error page "
    "must discard the body first, and a malformed chunk fails that"))
def test_malformed_chunk_without_token_is_json():
    data = chunked_request("/driver/register", "not-a-token", [],
                           trailer=MALFORMED_CHUNK)

    response = raw_exchange(data)

    assert_json_error(response, 400, "invalid_request")


def raw_post(path, token, header_lines, body=b""):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n")
    return head.encode() + b"".join(line + b"\r\n" for line in header_lines) \
        + b"\r\n" + body


NGINX_LENGTH_CASES = [
    # (id, header lines, body, status, code)
    ("not_digits", [b"Content-Length: abc"], b"{}", 400, "invalid_request"),
    ("negative", [b"Content-Length: -1"], b"{}", 400, "invalid_request"),
    ("exponent", [b"Content-Length: 1e1"], b"{}", 400, "invalid_request"),
    ("huge", [b"Content-Length: 99999999999999999999"], b"", 400,
     "invalid_request"),
    ("sent_twice", [b"Content-Length: 2", b"Content-Length: 16"],
     b'{"tenant_id": 1}', 400, "invalid_request"),
    ("with_chunked", [b"Content-Length: 2", b"Transfer-Encoding: chunked"],
     b'10\r\n{"tenant_id": 1}\r\n0\r\n\r\n', 400, "invalid_request"),
    ("over_limit", [b"Content-Length: 20000"], b"", 413,
     "payload_too_large"),
    ("unknown_transfer_coding", [b"Transfer-Encoding: gzip, chunked"],
     b"2\r\n{}\r\n0\r\n\r\n", 400, "invalid_request"),
]


@pytest.mark.parametrize(
    "lines, body, status, code", [case[1:] for case in NGINX_LENGTH_CASES],
    ids=[case[0] for case in NGINX_LENGTH_CASES])
def test_bad_content_length_via_nginx(lines, body, status, code):
    user_id = fresh_user_id()

    response = raw_exchange(raw_post("/driver/register", make_token(user_id),
                                     lines, body))

    assert response.status < 500, response
    assert_json_error(response, status, code)
    assert row_count("driver", user_id) == 0


# --- straight to the FastCGI socket -----------------------------------------

def test_direct_request_is_served():
    user_id = fresh_user_id()

    response = direct("POST", "/driver/register", sub=str(user_id),
                      body=b'{"tenant_id": 1}')

    assert response.status == 201, response
    assert response.json()["user_id"] == user_id
    assert response.json()["tenant_id"] == 1


DIRECT_LENGTH_CASES = [
    # (id, CONTENT_LENGTH, body, status, code, text)
    ("not_digits", "abc", b"{}", 400, "invalid_request", "abc"),
    ("negative", "-1", b"{}", 400, "invalid_request", "-1"),
    ("leading_space", " 2", b"{}", 400, "invalid_request", None),
    ("trailing_space", "2 ", b"{}", 400, "invalid_request", None),
    ("hexadecimal", "0x2", b"{}", 400, "invalid_request", None),
    ("wraps_size_t", "18446744073709551618", b"{}", 413,
     "payload_too_large", None),
    ("over_limit", "20000", b"", 413, "payload_too_large", "20000"),
    ("longer_than_body", "20", b'{"tenant_id": 1}', 400, "invalid_request",
     "20 bytes but 16 arrived"),
    ("shorter_than_body", "2", b'{"tenant_id": 1}', 400, "invalid_request",
     "2 bytes but 16 arrived"),
    ("absent_with_body", "absent", b'{"tenant_id": 1}', 400,
     "invalid_request", None),
    ("empty_with_body", "", b'{"tenant_id": 1}', 400, "invalid_request",
     None),
]


@pytest.mark.parametrize(
    "content_length, body, status, code, text",
    [case[1:] for case in DIRECT_LENGTH_CASES],
    ids=[case[0] for case in DIRECT_LENGTH_CASES])
def test_direct_bad_content_length(content_length, body, status, code, text):
    user_id = fresh_user_id()

    response = direct("POST", "/driver/register", sub=str(user_id),
                      body=body, content_length=content_length)

    message = assert_json_error(response, status, code)
    if text is not None:
        assert text in message, message
    assert row_count("driver", user_id) == 0


def test_direct_body_over_limit_is_413():
    user_id = fresh_user_id()
    body = b'{"business_name": "' + b"x" * 17000 + b'"}'

    response = direct("POST", "/fleet-owner/register", sub=str(user_id),
                      body=body)

    assert_json_error(response, 413, "payload_too_large")
    assert row_count("fleet-owner", user_id) == 0


@pytest.mark.parametrize("name", ["FLEETREG_SUB", "CONTENT_LENGTH",
                                  "CONTENT_TYPE", "REQUEST_METHOD",
                                  "DOCUMENT_URI"])
def test_direct_param_sent_twice_is_400(name):
    user_id = fresh_user_id()
    victim = fresh_user_id()
    second = {"FLEETREG_SUB": str(victim), "CONTENT_LENGTH": "2",
              "CONTENT_TYPE": "text/plain", "REQUEST_METHOD": "GET",
              "DOCUMENT_URI": "/driver/status"}[name]

    response = direct("POST", "/driver/register", sub=str(user_id),
                      body=b'{"tenant_id": 1}', extra=[(name, second)])

    message = assert_json_error(response, 400, "invalid_request")
    assert name in message
    assert row_count("driver", user_id) == 0
    assert row_count("driver", victim) == 0


def test_direct_identity_only_from_fleetreg_sub():
    victim = fresh_user_id()
    extra = [("REMOTE_USER", str(victim)),
             ("HTTP_X_FLEETREG_SUB", str(victim)),
             ("HTTP_X_USER_ID", str(victim)),
             ("HTTP_AUTHORIZATION", "Bearer " + make_token(victim))]

    response = direct("GET", "/driver/status", extra=extra)

    assert_unauthorized(response)
    assert row_count("driver", victim) == 0


DIRECT_BAD_SUBS = ["", "0", "-1", "abc", "01", " 14", "14 ", "+14", "1e3",
                   "1.0", "9223372036854775808", "14\n"]


@pytest.mark.parametrize("sub", DIRECT_BAD_SUBS,
                         ids=[repr(s) for s in DIRECT_BAD_SUBS])
def test_direct_bad_fleetreg_sub_is_401(sub):
    before = all_row_counts()

    response = direct("POST", "/driver/register", sub=sub)

    assert_unauthorized(response)
    assert all_row_counts() == before


@pytest.mark.parametrize("count, size", [(129, 10), (5000, 10), (1, 16385),
                                         (1, 1 << 20), (200, 4096)])
def test_direct_params_over_limits_rejected(count, size):
    user_id = fresh_user_id()
    master, workers = fleetreg_pids()
    extra = [(f"HTTP_X_{i}", "v" * size) for i in range(count)]

    response = direct("POST", "/driver/register", sub=str(user_id),
                      body=b'{"tenant_id": 1}', extra=extra)

    assert_json_error(response, 400, "invalid_request")
    assert row_count("driver", user_id) == 0
    assert direct("GET", "/healthz").status == 200
    assert fleetreg_pids() == (master, workers)


# --- nginx hardening --------------------------------------------------------

def _tls_context(version):
    context = tls_context()
    # OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level,
    # so lower it: the server alone must refuse them.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    return context


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1,
                                     ssl.TLSVersion.TLSv1_1])
def test_old_tls_versions_rejected(version):
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        request("GET", "/healthz",
                connection=connect(context=_tls_context(version)))


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2,
                                     ssl.TLSVersion.TLSv1_3])
def test_tls_12_and_13_accepted(version):
    response = request("GET", "/healthz",
                       connection=connect(context=_tls_context(version)))

    assert response.status == 200, response


@pytest.mark.parametrize("method, path, token", [
    ("GET", "/healthz", False), ("GET", "/", False),
    ("GET", "/driver/status", False), ("GET", "/driver/status", True),
    ("GET", "/nope", False)])
def test_hsts_on_every_response(method, path, token):
    user_id = fresh_user_id()

    response = request(method, path,
                       token=make_token(user_id) if token else None)

    value = response.header("strict-transport-security") or ""
    match = re.search(r"max-age=(\d+)", value)
    assert match, f"no Strict-Transport-Security on {path}: {response}"
    assert int(match.group(1)) >= 31536000


@pytest.mark.parametrize("method, path", [
    ("GET", "/healthz"), ("GET", "/driver/status"), ("GET", "/nope"),
    ("GET", "/_error/401"), ("GET", "/static/none.js")])
def test_server_header_hides_version(method, path):
    response = request(method, path)

    assert response.header("server") == "nginx"
    assert b"nginx/" not in response.body
    assert response.header("x-powered-by") is None


@pytest.mark.parametrize("path, expected", [
    ("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})])
def test_health_shows_no_internals(path, expected):
    response = request("GET", path)

    assert response.status == 200, response
    assert response.json() == expected


def _non_loopback_address():
    result = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope",
                             "global"], capture_output=True, text=True,
                            timeout=10, check=False)
    match = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", result.stdout)
    return match.group(1) if match else None


def test_metrics_served_to_loopback():
    response = request("GET", "/metrics")

    assert response.status == 200, response
    assert response.header("content-type").startswith("text/plain")
    assert b"fleetreg_" in response.body


@pytest.mark.parametrize("headers", [
    {}, {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}])
def test_metrics_forbidden_from_other_address(headers):
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this host has no non-loopback IPv4 address to send from")

    # The packets still go to nginx on 127.0.0.1, from this host's own
    # address, which nginx sees as a remote client.
    response = request("GET", "/metrics", headers=headers,
                       connection=connect(source_address=address))

    assert_json_error(response, 403, "forbidden")
    assert b"fleetreg_" not in response.body


# Addresses of their own, apart from test_rate_limit.py's 127.0.0.250.
ADDRESS_LIMIT_SOURCE = "127.0.0.251"
CONCURRENT_SOURCE = "127.0.0.252"
LIMIT_MAX_REQUESTS = 400
LIMIT_MAX_SECONDS = 20


def _until_429(send):
    """Call send() until it returns a 429, within the bounds above."""
    started = time.monotonic()
    for sent in range(1, LIMIT_MAX_REQUESTS + 1):
        response = send()
        assert response.status < 500, response
        if response.status == 429:
            return response, sent
        if time.monotonic() - started > LIMIT_MAX_SECONDS:
            break
    return None, sent


def assert_json_429(response):
    assert_json_error(response, 429, "too_many_requests")
    assert response.header("retry-after"), response


def test_register_limited_per_address():
    connection = connect(source_address=ADDRESS_LIMIT_SOURCE)
    try:
        limited, sent = _until_429(lambda: request(
            "POST", "/driver/register", connection=connection))
    finally:
        connection.close()

    assert limited is not None, f"no 429 after {sent} requests"
    assert_json_429(limited)


def test_register_limited_per_user():
    user_id = fresh_user_id()
    token = make_token(user_id)

    # Each request comes from a new random loopback address, so only a
    # limit keyed on the user can stop them.
    limited, sent = _until_429(lambda: request(
        "POST", "/driver/register", token=token))

    assert limited is not None, f"no 429 after {sent} requests of one user"
    assert_json_429(limited)
    assert row_count("driver", user_id) == 1


def test_sixteen_concurrent_calls_pass():
    user_id = fresh_user_id()
    token = make_token(user_id)
    barrier = threading.Barrier(16)
    responses = [None] * 16

    def call(index):
        connection = connect(source_address=CONCURRENT_SOURCE)
        try:
            barrier.wait(timeout=30)
            path = "/driver/register" if index % 2 else "/driver/status"
            method = "POST" if index % 2 else "GET"
            responses[index] = request(method, path, token=token,
                                       connection=connection)
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(response.status for response in responses)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(200) == 15, statuses
    assert len({response.json()["driver_id"] for response in responses}) == 1
    assert row_count("driver", user_id) == 1
