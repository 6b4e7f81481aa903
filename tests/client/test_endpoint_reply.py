"""The credentials fetch of `credential-process` and `console` reads HTTP by hand
(client/endpoint.py): each way a reply can be framed is read, and whatever is not the
daemon's answer is a clear EndpointError, never a traceback or a hang."""

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stsd.client.endpoint import EndpointError, fetch_role_credentials
from stsd.client.paths import Paths

TOKEN = "t0ken"
BODY = json.dumps(
    {"AccessKeyId": "A", "SecretAccessKey": "S", "Token": "T", "Expiration": "E"}
).encode()


class CannedServer:
    """A loopback TCP server that answers one connection with `reply`, then closes it;
    it keeps the request it read."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.request = b""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            while b"\r\n\r\n" not in self.request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                self.request += chunk
            conn.sendall(self.reply)

    def close(self) -> None:
        self._thread.join(timeout=10)
        self._listener.close()


@pytest.fixture
def runtime(short_tmp: Path) -> Iterator[Paths]:
    """A runtime dir as a daemon leaves it: a listening control socket and the token."""
    paths = Paths.from_env({"HOME": str(short_tmp), "XDG_RUNTIME_DIR": str(short_tmp)})
    paths.runtime_dir.mkdir(mode=0o700)
    paths.token_file.write_text(TOKEN)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.bind(str(paths.control_socket))
    control.listen()
    yield paths
    control.close()


def fetch_from(paths: Paths, reply: bytes, profile: str = "readonly") -> dict[str, object]:
    server = CannedServer(reply)
    try:
        paths.address_file.write_text(f"127.0.0.1:{server.port}\n")
        return fetch_role_credentials(paths, profile)
    finally:
        server.close()


def head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    "reply",
    [
        head("200 OK", "Content-Type: application/json", f"Content-Length: {len(BODY)}") + BODY,
        head("200 OK", "Transfer-Encoding: chunked")
        + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BODY[:10], BODY[10:]) if part)
        + b"0\r\n\r\n",
        head("200 OK", "Connection: close") + BODY,  # no length: the body ends with the stream
    ],
    ids=["content-length", "chunked", "read-to-close"],
)
def test_each_framing_of_the_answer_is_read(runtime: Paths, reply: bytes) -> None:
    assert fetch_from(runtime, reply) == json.loads(BODY)


def test_the_request_is_what_an_sdk_sends(runtime: Paths) -> None:
    """GET with the token and the daemon's own address as Host (it refuses others); the
    profile is percent-encoded, so it cannot reach another route or inject a header."""
    server = CannedServer(head("200 OK", f"Content-Length: {len(BODY)}") + BODY)
    try:
        runtime.address_file.write_text(f"127.0.0.1:{server.port}")
        fetch_role_credentials(runtime, "../mfa\r\nX-Evil: 1")
    finally:
        server.close()
    lines = server.request.decode("latin-1").split("\r\n")
    assert lines[0] == "GET /credentials/..%2Fmfa%0D%0AX-Evil%3A%201 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}" in lines
    assert f"Authorization: {TOKEN}" in lines
    assert not any(line.startswith("X-Evil") for line in lines)


def test_the_daemons_json_error_gives_its_message_and_exit_code(runtime: Paths) -> None:
    error_body = json.dumps({"code": "NeedsMfa", "message": "run `stsd login bastion`"})
    reply = head("503 Service Unavailable", f"Content-Length: {len(error_body)}")
    with pytest.raises(EndpointError) as caught:
        fetch_from(runtime, reply + error_body.encode())
    assert str(caught.value) == "run `stsd login bastion`"
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "is not the stsd daemon"),
        (b"", "can't reach the stsd daemon"),  # closed without a word
        (head("200 OK", "Content-Length: 100") + b"{}", "can't reach the stsd daemon"),
        (head("200 OK", "Content-Length: 9") + b"<html/>..", "is not JSON"),
        (head("200 OK", "Content-Length: 2") + b"[]", "is not JSON"),
        (head("200 OK", "Content-Length: -1"), "is not the stsd daemon"),
        (head("500 Internal Server Error", "Content-Length: 4") + b"oops", "answered 500"),
    ],
    ids=["not-http", "closed", "short-body", "html", "json-list", "bad-length", "text-error"],
)
def test_what_is_not_the_daemons_answer_is_a_clear_error(
    runtime: Paths, reply: bytes, says: str
) -> None:
    with pytest.raises(EndpointError) as caught:
        fetch_from(runtime, reply)
    assert says in str(caught.value)
    assert caught.value.exit_code == 1
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("address", ["", "nonsense", "127.0.0.1:", "127.0.0.1:http"])
def test_a_broken_address_file_is_a_clear_error(runtime: Paths, address: str) -> None:
    runtime.address_file.write_text(address)
    with pytest.raises(EndpointError, match="address file holds"):
        fetch_role_credentials(runtime, "readonly")
