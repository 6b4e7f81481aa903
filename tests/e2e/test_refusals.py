"""Requests no SDK sends are refused on the credentials route: each by status and a
JSON body with no credential in it, against a logged-in daemon that would otherwise
serve the very same request."""

import http.client
import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from harness import login

from stsd.client.demo import demo_aws_files
from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.process import EmulatorProcess

Headers = Sequence[tuple[str, str]]


def raw_get(
    daemon: DaemonProcess,
    headers: Headers,
    path: str = "/credentials/readonly",
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """A request with exactly `headers` (no Host unless given), like a hostile client."""
    host, port = daemon.address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DaemonProcess, Headers]]:
    """A logged-in daemon and the headers of a request it serves (checked); one for the
    module: refusals change nothing in it."""
    root = Path(tempfile.mkdtemp(prefix="stsd-r-"))
    try:
        with EmulatorProcess(DEMO_CONFIG) as emulator:
            sandbox = Sandbox(root, sts_endpoint=emulator.url)
            sandbox.write_aws_files(*demo_aws_files(DEMO_CONFIG))
            with sandbox.start_daemon() as daemon:
                daemon.wait_ready()
                login(sandbox, emulator)
                good = [("Host", daemon.address), ("Authorization", daemon.token)]
                status, _, body = raw_get(daemon, good)
                assert status == 200 and b"SecretAccessKey" in body
                yield daemon, good
    finally:
        shutil.rmtree(root, ignore_errors=True)


def assert_refused(
    reply: tuple[int, dict[str, str], bytes], status: int, code: str
) -> dict[str, str]:
    got, headers, raw = reply
    assert got == status, raw
    assert headers["Content-Type"] == "application/json"
    body: dict[str, str] = json.loads(raw)
    assert body["code"] == body["Code"] == code
    assert body["message"] == body["Message"] and body["message"]
    assert b"SecretAccessKey" not in raw and b"AccessKeyId" not in raw
    assert not [name for name in headers if name.lower().startswith("access-control-")]
    return body


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",  # DNS rebinding: a name that resolved to 127.0.0.1
        "evil.example:{port}",
        "127.0.0.1",  # no port: not the address SDKs are given
        "127.0.0.1:1",
        "localhost.:{port}",
        "127.0.0.1:{port}.evil.example",
    ],
)
def test_a_foreign_host_is_refused(served: tuple[DaemonProcess, Headers], host: str) -> None:
    daemon, good = served
    port = daemon.address.rsplit(":", 1)[1]
    headers = [("Host", host.format(port=port)), good[1]]
    assert_refused(raw_get(daemon, headers), 403, "ForeignHost")


def test_a_missing_or_doubled_host_is_refused(served: tuple[DaemonProcess, Headers]) -> None:
    """HTTP/1.1 requires exactly one Host: aiohttp's parser already answers 400."""
    daemon, good = served
    for headers in ([good[1]], [good[0], ("Host", "evil.example"), good[1]]):
        status, _, raw = raw_get(daemon, headers)
        assert status in {400, 403}
        assert b"SecretAccessKey" not in raw


@pytest.mark.parametrize("host", ["localhost:{port}", "LOCALHOST:{port}"])
def test_localhost_is_our_own_name(served: tuple[DaemonProcess, Headers], host: str) -> None:
    daemon, good = served
    port = daemon.address.rsplit(":", 1)[1]
    status, _, _ = raw_get(daemon, [("Host", host.format(port=port)), good[1]])
    assert status == 200


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("X-Forwarded-For", "203.0.113.7", "ProxiedRequest"),
        ("Forwarded", "for=203.0.113.7", "ProxiedRequest"),
        ("Via", "1.1 squid", "ProxiedRequest"),
        ("X-Forwarded-Host", "evil.example", "ProxiedRequest"),
        ("X-Real-IP", "203.0.113.7", "ProxiedRequest"),
        ("Origin", "https://evil.example", "BrowserRequest"),
        ("Origin", "http://127.0.0.1", "BrowserRequest"),  # even one that looks like ours
        ("Origin", "null", "BrowserRequest"),
        ("Referer", "https://evil.example/", "BrowserRequest"),
        ("Sec-Fetch-Site", "cross-site", "BrowserRequest"),
        ("Sec-Fetch-Mode", "no-cors", "BrowserRequest"),
        ("sec-fetch-dest", "empty", "BrowserRequest"),
    ],
)
def test_proxy_and_browser_headers_are_refused(
    served: tuple[DaemonProcess, Headers], header: str, value: str, code: str
) -> None:
    daemon, good = served
    body = assert_refused(raw_get(daemon, [*good, (header, value)]), 403, code)
    assert header.lower() in body["message"].lower()


def test_a_proxy_request_form_is_refused(served: tuple[DaemonProcess, Headers]) -> None:
    """`GET http://127.0.0.1:PORT/credentials/NAME`: what a client sends to a proxy."""
    daemon, good = served
    path = f"http://{daemon.address}/credentials/readonly"
    body = assert_refused(raw_get(daemon, good, path=path), 403, "ProxiedRequest")
    assert "absolute form" in body["message"]


def test_a_request_body_is_refused(served: tuple[DaemonProcess, Headers]) -> None:
    daemon, good = served
    assert_refused(raw_get(daemon, good, body=b"x" * 10), 400, "BodyNotAllowed")


def test_profiles_outside_the_configuration_are_not_served(
    served: tuple[DaemonProcess, Headers],
) -> None:
    """No route assumes an arbitrary role: only configured profile names exist."""
    daemon, good = served
    for path in (
        "/credentials/bastion",  # the source profile holds keys, it is no role profile
        "/credentials/nope",
        "/credentials/arn:aws:iam::222222222222:role%2FReadOnly",
    ):
        assert_refused(raw_get(daemon, good, path=path), 404, "UnknownProfile")
    for path in (
        "/credentials/arn:aws:iam::222222222222:role/ReadOnly",
        "/role-arn/arn:aws:iam::222222222222:role/ReadOnly",
        "/credentials/",
        "/",
    ):
        assert_refused(raw_get(daemon, good, path=path), 404, "NotFound")


@pytest.mark.parametrize("path", ["/credentials/%72eadonly", "/credentials/readonly?from=sdk"])
def test_the_routed_way_answers_like_the_direct_one(
    served: tuple[DaemonProcess, Headers], path: str
) -> None:
    """SDKs' plain `GET /credentials/NAME` skips aiohttp's router (docs/benchmarks.md);
    the same request written otherwise takes the router and must get the same answers."""
    daemon, good = served
    direct = raw_get(daemon, good)
    routed = raw_get(daemon, good, path=path)
    assert routed[0] == direct[0] == 200
    assert routed[2] == direct[2]
    assert_refused(raw_get(daemon, [*good, ("Origin", "null")], path=path), 403, "BrowserRequest")
    assert_refused(raw_get(daemon, [good[0]], path=path), 401, "MissingToken")
    assert_refused(
        raw_get(daemon, [good[0], ("Authorization", "x")], path=path), 403, "InvalidToken"
    )


@pytest.mark.parametrize("method", ["OPTIONS", "POST", "HEAD", "PUT", "DELETE"])
def test_no_cors_and_no_other_methods(served: tuple[DaemonProcess, Headers], method: str) -> None:
    """A CORS preflight gets no Access-Control-* header: no browser page can read a reply."""
    daemon, good = served
    preflight = [
        *good,
        ("Origin", "https://evil.example"),
        ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "authorization"),
    ]
    status, headers, raw = raw_get(daemon, preflight, method=method)
    assert status == 405
    assert not [name for name in headers if name.lower().startswith("access-control-")]
    assert b"SecretAccessKey" not in raw
    if method != "HEAD":
        assert json.loads(raw)["code"] == "MethodNotAllowed"


def test_oversized_headers_are_refused(served: tuple[DaemonProcess, Headers]) -> None:
    daemon, good = served
    status, _, raw = raw_get(daemon, [*good, ("User-Agent", "x" * 9000)])
    assert status in {400, 431}
    assert b"SecretAccessKey" not in raw


@pytest.mark.parametrize(
    "listen", ["0.0.0.0:0", "[::]:0", "192.0.2.10:0", "localhost:0", "example.com:9925"]
)
def test_serve_refuses_a_non_loopback_listen_address(sandbox: Sandbox, listen: str) -> None:
    result = sandbox.stsd(["serve", "--listen", listen])
    assert result.returncode == 78
    assert "not a loopback IP" in result.stderr or "not HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr
