"""The audit log of a real daemon: a line per credential request, who asked (peer uid,
pid and executable from /proc), which token (by label), and no secret."""

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from harness import fetch, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess

LINUX = sys.platform.startswith("linux")


def audit_lines(path: Path, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The first `count` lines, once the writer (a thread, buffered) has written them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == count, lines
    return [json.loads(line) for line in lines]


FETCH = """
import os, urllib.request
request = urllib.request.Request(
    os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
    headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]},
)
print(os.getpid(), urllib.request.urlopen(request).status, flush=True)
"""


def test_every_credential_request_is_audited(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    login(sandbox, emulator)
    url = daemon.url("readonly")
    assert fetch(url, daemon.token).status == 200
    assert fetch(url).status == 401
    assert fetch(url, "not-the-token").status == 403
    assert fetch(url, daemon.token, {"Origin": "https://evil.example"}).status == 403
    assert fetch(daemon.url("nope"), daemon.token).status == 404
    child = subprocess.run(
        [sys.executable, "-m", "stsd.client", "exec", "deploy", "--"]
        + [sys.executable, "-c", FETCH],
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    child_pid, child_status = child.stdout.split()
    assert child_status == "200"

    path = sandbox.paths.state_dir / "audit.log"
    lines = audit_lines(path, 6)
    summary = [(x["profile"], x["token"], x["status"], x["code"]) for x in lines]
    label = f"exec: {os.path.basename(sys.executable)}"
    assert summary == [
        ("readonly", "default", 200, None),
        ("readonly", "missing", 401, "MissingToken"),
        ("readonly", "invalid", 403, "InvalidToken"),
        ("readonly", "default", 403, "BrowserRequest"),  # the valid token, from a page
        ("nope", "default", 404, "UnknownProfile"),
        ("deploy", label, 200, None),
    ]
    for line in lines:
        assert set(line) == {"time", "profile", "token", "status", "code", "peer"}
        time.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    if LINUX:
        # The uid always (looked up as the connection opened); the process only when it
        # still held the connection when looked for (urllib closes at once: maybe not).
        exe = os.path.realpath(sys.executable)
        for line, pid in zip(lines, [os.getpid()] * 5 + [int(child_pid)], strict=True):
            assert line["peer"]["uid"] == os.getuid()
            assert line["peer"]["pid"] in {pid, None}
            assert line["peer"]["exe"] in {exe, None}
    assert os.stat(path).st_mode & 0o777 == 0o600

    # The same lines on stderr, for journald.
    logs = daemon.logs()
    assert sum('"token": "default"' in line for line in logs.splitlines()) == 3
    text = path.read_text()
    assert daemon.token not in text and daemon.token not in logs


@pytest.mark.skipif(not LINUX, reason="peers are resolved from /proc and netlink")
def test_a_client_holding_its_connection_is_named(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    """An SDK keeps its connection in a pool: the line names its pid and executable."""
    host, port = daemon.address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for _ in range(2):  # two requests on one connection: two lines, one lookup
            connection.request("GET", "/credentials/readonly", headers={"Authorization": "x"})
            assert connection.getresponse().read()
        lines = audit_lines(sandbox.paths.state_dir / "audit.log", 2)
    finally:
        connection.close()
    exe = os.path.realpath(sys.executable)
    for line in lines:
        assert line["peer"] == {"uid": os.getuid(), "pid": os.getpid(), "exe": exe}


@pytest.mark.skipif(not LINUX, reason="peers are resolved from /proc and netlink")
def test_a_client_that_closes_at_once_is_still_identified_by_uid(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    """Short-lived clients close right after the reply, before /proc could be scanned
    for their process; their uid was looked up when the connection opened."""
    code = f"""
import urllib.request
request = urllib.request.Request({daemon.url("readonly")!r}, headers={{"Authorization": "x"}})
try:
    urllib.request.urlopen(request)
except Exception:
    pass
"""
    for _ in range(5):
        subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    lines = audit_lines(sandbox.paths.state_dir / "audit.log", 5)
    assert [line["peer"]["uid"] for line in lines] == [os.getuid()] * 5


@pytest.mark.skipif(not LINUX, reason="peers are resolved from /proc and netlink")
@pytest.mark.skipif(os.geteuid() != 0, reason="running a client as another user needs root")
def test_a_client_of_another_user_is_named_by_its_uid(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    """Another local user's process (here `nobody`) shows up with its own uid, pid and
    executable (Debian's python: the venv's may sit in a home `nobody` can't read)."""
    code = f"""
import http.client, os, sys, time
connection = http.client.HTTPConnection({daemon.address!r}.rsplit(":", 1)[0],
                                        int({daemon.address!r}.rsplit(":", 1)[1]))
connection.request("GET", "/credentials/readonly", headers={{"Authorization": "x"}})
print(connection.getresponse().status, os.getpid(), flush=True)
time.sleep(float(sys.argv[1]))
"""
    nobody = 65534
    argv = ["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups"]
    with subprocess.Popen(
        [*argv, "/usr/bin/python3", "-c", code, "30"], stdout=subprocess.PIPE, text=True
    ) as client:
        assert client.stdout is not None
        status, pid = client.stdout.readline().split()
        try:
            (line,) = audit_lines(sandbox.paths.state_dir / "audit.log", 1)
        finally:
            client.kill()
    assert status == "403"
    assert line["peer"] == {
        "uid": nobody,
        "pid": int(pid),
        "exe": os.path.realpath("/usr/bin/python3"),
    }


def test_imds_credential_requests_are_audited(sandbox: Sandbox, emulator: EmulatorProcess) -> None:
    """IMDS reads of the role's credentials get a line too, labelled `imds`."""
    sandbox.write_settings('[imds]\nprofile = "readonly"\n')
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        login(sandbox, emulator)
        host, port = daemon.address.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            ttl = {"X-aws-ec2-metadata-token-ttl-seconds": "60"}
            connection.request("PUT", "/latest/api/token", headers=ttl)
            token = connection.getresponse().read().decode()
            path = "/latest/meta-data/iam/security-credentials/ReadOnly"
            statuses = []
            for headers in ({"X-aws-ec2-metadata-token": token}, {}):  # then IMDSv1: refused
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                statuses.append(response.status)
            assert statuses == [200, 401]
            lines = audit_lines(sandbox.paths.state_dir / "audit.log", 2)
        finally:
            connection.close()
    assert [(x["profile"], x["token"], x["status"]) for x in lines] == [
        ("readonly", "imds", 200),
        ("readonly", "imds", 401),
    ]
    assert token not in (sandbox.paths.state_dir / "audit.log").read_text()
