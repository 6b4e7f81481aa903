"""Fetch role credentials from the daemon's endpoint, as an SDK would.

For CLI commands that need the credentials themselves (`credential-process`,
`console`): they use the default token and the address the daemon wrote, so they share
its session.

One HTTP/1.1 GET over a plain socket, read by hand: SDKs run `stsd credential-process`
at every refresh, and urllib.request (http.client, email, ssl) would triple its start-up
time. The daemon is ours and on loopback: the reply is read up to its Content-Length
(chunked and read-to-close are understood too, for any HTTP/1.1 server).
"""

from __future__ import annotations

import _socket  # socket.py turns its constants into enums at import: ~3 ms per run
import json

from stsd.client.liveness import daemon_listening
from stsd.client.tokens import read_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from stsd.client.paths import Paths

__all__ = ["EXIT_CODES", "EndpointError", "fetch_role_credentials"]

# The daemon answers within 0.8 s by design; allow for a loaded machine.
_TIMEOUT_SECONDS = 5
# A credentials answer is about 1.5 KiB; anything far bigger is not the daemon.
_MAX_REPLY_BYTES = 1 << 20
# RFC 3986 unreserved characters: what urllib.parse.quote(..., safe="") keeps as is.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


class EndpointError(Exception):
    """No credentials: the message says why and what to do; `exit_code` follows."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# The daemon's error codes, as exit codes (README, "Commands"); the ones of
# stsd.daemon.errors (test_compat_credential_process checks they agree), plus the
# endpoint's own UnknownProfile, a usage error.
EXIT_CODES = {
    "NeedsMfa": 3,
    "SessionExpired": 3,
    "MfaCodeRejected": 4,
    "RoleDenied": 5,
    "StsUnavailable": 6,
    "StoreCorrupt": 7,
    "StoreUnavailable": 7,
    "PromptUnavailable": 8,
    "ConfigError": 78,
    "UnknownProfile": 2,
}


class _NotHttp(Exception):
    """The reply is not an HTTP/1.x response we can read."""


def fetch_role_credentials(paths: Paths, profile: str) -> dict[str, Any]:
    """The `{"AccessKeyId", ...}` JSON the daemon serves for `profile`.

    Raises:
        EndpointError: daemon down, or its JSON error (message passed on).
    """
    if not daemon_listening(paths.control_socket):
        raise EndpointError("the stsd daemon is not running: start it with `stsd serve`")
    try:
        address = paths.address_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise EndpointError("the stsd daemon wrote no address file; restart it") from None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise EndpointError(f"the daemon's address file holds {address!r}; restart the daemon")
    token = read_token(paths.token_file)
    if token is None:
        raise EndpointError(f"no token in {paths.token_file}; restart the daemon")
    try:
        status, body = _get(address, f"/credentials/{_quote(profile)}", token)
    except _NotHttp as error:
        raise EndpointError(
            f"the program at {address} is not the stsd daemon ({error}); restart the daemon"
        ) from None
    except OSError as error:
        raise EndpointError(f"can't reach the stsd daemon at {address}: {error}") from None
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if status != 200:
        detail = document if isinstance(document, dict) else {}
        code = str(detail.get("code", status))
        message = str(detail.get("message", f"the daemon answered {status}"))
        raise EndpointError(message, EXIT_CODES.get(code, 1))
    if not isinstance(document, dict):
        raise EndpointError(f"the answer from {address} is not JSON (another program on its port?)")
    return document


def _quote(text: str) -> str:
    """`urllib.parse.quote(text, safe="")` without importing urllib.parse."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode())


def _get(address: str, path: str, token: str) -> tuple[int, bytes]:
    """GET `path` from `address` (`HOST:PORT`, as the daemon writes it): status, body.

    Raises:
        OSError: no connection, a timeout, or the connection broke.
        _NotHttp: the reply is not an HTTP/1.x response.
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: {token}\r\n"
        "User-Agent: stsd-cli\r\nConnection: close\r\n\r\n"
    )
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        sock.settimeout(_TIMEOUT_SECONDS)
        sock.connect((host, int(port)))
        sock.sendall(request.encode("latin-1"))
        return _read_reply(sock)
    finally:
        sock.close()


def _read_reply(sock: _socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += _receive(sock, len(data))
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise _NotHttp(f"its reply starts {status_line[:40]!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return int(code), _dechunk(sock, body)
    length = headers.get("content-length")
    if length is None:  # read to the end: we asked for Connection: close
        while chunk := _receive(sock, len(body), allow_end=True):
            body += chunk
        return int(code), body
    if not length.isdigit() or int(length) > _MAX_REPLY_BYTES:
        raise _NotHttp(f"Content-Length {length[:20]!r}")
    while len(body) < int(length):
        body += _receive(sock, len(body))
    return int(code), body[: int(length)]


def _dechunk(sock: _socket.socket, data: bytes) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in data:
            data += _receive(sock, len(data))
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            raise _NotHttp(f"chunk size {size_line[:20]!r}") from None
        if size == 0:
            return body
        while len(data) < size + 2:
            data += _receive(sock, len(data))
        body += data[:size]
        data = data[size + 2 :]
        if len(body) > _MAX_REPLY_BYTES:
            raise _NotHttp("a reply of over 1 MiB")


def _receive(sock: _socket.socket, have: int, allow_end: bool = False) -> bytes:
    if have > _MAX_REPLY_BYTES:
        raise _NotHttp("a reply of over 1 MiB")
    chunk = sock.recv(65536)
    if not chunk and not allow_end:
        raise ConnectionResetError("the daemon closed the connection mid-reply")
    return chunk
