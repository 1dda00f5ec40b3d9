"""A small FastCGI client, for tests that talk to fleetreg's socket.

It speaks the responder role of the FastCGI 1.0 specification: one
request per connection, parameters as a list of (name, value) pairs
(repeats allowed, so that a duplicated parameter can be sent), and the
body on the stdin stream.
"""

import re
import socket
import struct

FCGI_VERSION = 1
FCGI_BEGIN_REQUEST = 1
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_RESPONDER = 1
FCGI_MAX_CONTENT = 65535
REQUEST_ID = 1
TIMEOUT_SECONDS = 30


class FastCGIResponse:
    """A parsed responder response: status, headers, body and stderr."""

    def __init__(self, status, headers, body, stderr, app_status):
        self.status = status
        self.headers = headers
        self.body = body
        self.stderr = stderr
        self.app_status = app_status

    def header(self, name):
        """Return a header's value (case-insensitive), or None."""
        return self.headers.get(name.lower())

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return f"<FastCGIResponse {self.status} {self.body[:300]!r}>"


def _as_bytes(value):
    return value if isinstance(value, bytes) else str(value).encode()


def _encode_length(length):
    # Lengths up to 127 take one byte; longer ones four, high bit set.
    if length < 128:
        return bytes([length])
    return struct.pack("!I", length | 0x80000000)


def encode_params(params):
    """Encode (name, value) pairs as a FastCGI name-value stream."""
    data = bytearray()
    for name, value in params:
        name, value = _as_bytes(name), _as_bytes(value)
        data += _encode_length(len(name)) + _encode_length(len(value))
        data += name + value
    return bytes(data)


def _record(record_type, content=b""):
    padding = (8 - len(content) % 8) % 8
    header = struct.pack("!BBHHBx", FCGI_VERSION, record_type, REQUEST_ID,
                         len(content), padding)
    return header + content + b"\0" * padding


def _stream(record_type, data):
    """Split data into records of at most 65535 bytes, then an empty one."""
    records = bytearray()
    for start in range(0, len(data), FCGI_MAX_CONTENT):
        records += _record(record_type, data[start:start + FCGI_MAX_CONTENT])
    records += _record(record_type)
    return bytes(records)


def _read_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(
                f"FastCGI peer closed the connection after {len(data)} of "
                f"{count} bytes of a record")
        data += chunk
    return bytes(data)


def _read_records(sock):
    """Read records until END_REQUEST; return stdout, stderr, app status."""
    stdout, stderr = bytearray(), bytearray()
    while True:
        header = _read_exact(sock, 8)
        _, record_type, _, length, padding = struct.unpack("!BBHHBx", header)
        content = _read_exact(sock, length + padding)[:length]
        if record_type == FCGI_STDOUT:
            stdout += content
        elif record_type == FCGI_STDERR:
            stderr += content
        elif record_type == FCGI_END_REQUEST:
            app_status = struct.unpack("!I", content[:4])[0]
            return bytes(stdout), bytes(stderr), app_status


def _parse_response(stdout, stderr, app_status):
    head, _, body = stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    match = re.match(r"(\d{3})", headers.get("status", "200"))
    return FastCGIResponse(int(match.group(1)), headers, body, stderr,
                           app_status)


def request(socket_path, params, body=b"", timeout=TIMEOUT_SECONDS):
    """Send one responder request and return its FastCGIResponse.

    params is a list of (name, value) pairs. The whole request is sent
    before the response is read. A peer that stops reading early (after
    rejecting the parameters) may reset the send, which is ignored.
    """
    begin = struct.pack("!HB5x", FCGI_RESPONDER, 0)
    message = (_record(FCGI_BEGIN_REQUEST, begin) +
               _stream(FCGI_PARAMS, encode_params(params)) +
               _stream(FCGI_STDIN, body))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        try:
            sock.sendall(message)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _parse_response(*_read_records(sock))
