"""The audit log's writer: JSON lines, rotation, file mode, and peers from /proc."""

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stsd.daemon import peer as peer_module
from stsd.daemon.audit import AuditEvent, AuditLog
from stsd.daemon.peer import Address, Peer, resolve_peer, socket_owner


def event(profile: str = "readonly", status: int = 200) -> AuditEvent:
    return AuditEvent(
        time=1_700_000_000.25,
        profile=profile,
        token="exec: terraform",
        status=status,
        code=None if status == 200 else "InvalidToken",
        peer=("127.0.0.1", 40000),
        local=("127.0.0.1", 9925),
    )


def fixed_peer(
    peer: Address | None, local: Address | None, owner: tuple[int, int] | None = None
) -> Peer:
    return Peer(uid=1000, pid=42, exe="/usr/bin/terraform")


def test_one_json_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit.log"
    audit = AuditLog(path, resolver=fixed_peer)
    audit.start()
    audit.record(event())
    audit.record(event("prod\n{injected}", 403))
    audit.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2  # a newline in a profile can't forge a line
    first, second = (json.loads(line) for line in lines)
    assert first == {
        "time": "2023-11-14T22:13:20.250Z",
        "profile": "readonly",
        "token": "exec: terraform",
        "status": 200,
        "code": None,
        "peer": {"uid": 1000, "pid": 42, "exe": "/usr/bin/terraform"},
    }
    assert second["profile"] == "prod\n{injected}" and second["code"] == "InvalidToken"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_rotation_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    audit = AuditLog(path, max_bytes=2000, backups=2, resolver=fixed_peer)
    audit.start()
    for _ in range(200):
        audit.record(event())
        time.sleep(0.0005)  # let the writer flush (and so rotate) now and then
    audit.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit.log", "audit.log.1", "audit.log.2"]
    for name in names:
        file = tmp_path / name
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        for line in file.read_text().splitlines():
            assert json.loads(line)["profile"] == "readonly"
    assert (tmp_path / "audit.log.1").stat().st_size <= 2000 + 400


def test_lines_also_go_to_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="stsd.audit")
    audit = AuditLog(None, resolver=fixed_peer)
    audit.start()
    audit.record(event())
    audit.close()
    assert ['"token": "exec: terraform"' in r.getMessage() for r in caplog.records] == [True]


def test_recording_never_waits_on_a_slow_writer(tmp_path: Path) -> None:
    """The request path only queues: a writer stuck resolving a peer costs it nothing."""
    release = threading.Event()

    def stuck(
        peer: Address | None, local: Address | None, owner: tuple[int, int] | None = None
    ) -> Peer:
        release.wait(timeout=30)  # until the recording is done (a hang would show here)
        return Peer()

    audit = AuditLog(tmp_path / "audit.log", resolver=stuck)
    audit.start()
    for _ in range(1000):
        audit.record(event())
    queued = audit.backlog
    release.set()
    audit.close()
    assert queued == 1000  # all still waiting: record() returned without the writer
    # Past the backlog limit peers are no longer resolved, so the writer caught up.
    assert len((tmp_path / "audit.log").read_text().splitlines()) == 1000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_peer_of_a_loopback_connection(family: socket.AddressFamily) -> None:
    """uid, pid and executable of the process on the other end: here, ourselves."""
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    with socket.socket(family) as server:
        server.bind((host, 0))
        server.listen()
        with socket.create_connection(server.getsockname()[:2]) as client:
            accepted, peer = server.accept()
            with accepted:
                found = resolve_peer(peer[:2], accepted.getsockname()[:2])
            assert client.fileno() >= 0
    assert found == Peer(uid=os.getuid(), pid=os.getpid(), exe=os.path.realpath(sys.executable))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_remembered_process_never_stands_in_for_another() -> None:
    """The processes that held recent client sockets are looked at first; a connection
    from a different process is still that process's."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = server.getsockname()

        def peer_of_next() -> Peer:
            accepted, peer = server.accept()
            with accepted:
                return resolve_peer(peer, accepted.getsockname())

        ours = Peer(uid=os.getuid(), pid=os.getpid(), exe=os.path.realpath(sys.executable))
        with socket.create_connection(address), socket.create_connection(address):
            assert [peer_of_next(), peer_of_next()] == [ours, ours]
        script = (
            "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1]))).recv(1)"
        )
        child = subprocess.Popen([sys.executable, "-c", script, str(address[1])])
        try:
            found = peer_of_next()
        finally:
            child.kill()
            child.wait()
        assert found.pid == child.pid and found.uid == os.getuid()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
@pytest.mark.parametrize("netlink", [True, False], ids=["sock_diag", "proc-net-tcp"])
def test_both_lookups_name_the_same_socket(monkeypatch: pytest.MonkeyPatch, netlink: bool) -> None:
    """Where netlink is blocked (a sandboxed unit), /proc/net/tcp gives the same answer;
    a socket that is closed gives none (not TIME_WAIT's uid 0)."""
    monkeypatch.setattr(peer_module, "_netlink_usable", netlink)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        accepted, peer = server.accept()
        with accepted:
            local = accepted.getsockname()
            owner = socket_owner(peer, local)
            assert owner is not None and owner[0] == os.getuid()
            assert owner[1] == os.fstat(client.fileno()).st_ino
            client.close()
            assert socket_owner(peer, local) is None


def test_no_peer_for_what_is_not_a_connection() -> None:
    assert resolve_peer(None, None) == Peer()
    assert resolve_peer(("127.0.0.1", 1), ("127.0.0.1", 2)) == Peer()
    assert resolve_peer(("not-an-ip", 1), ("127.0.0.1", 2)) == Peer()


def test_an_unwritable_file_never_stops_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A state dir that can't hold the file (read-only, full, or here not a directory):
    a warning, and the lines still reach stderr."""
    caplog.set_level("INFO", logger="stsd.audit")
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    audit = AuditLog(blocker / "audit.log", resolver=fixed_peer)
    audit.start()
    audit.record(event())
    audit.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("can't write" in m and "stderr only" in m for m in messages)
    assert any('"profile": "readonly"' in m for m in messages)
