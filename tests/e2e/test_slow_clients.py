"""Clients that hold connections or dribble bytes can't starve SDKs: requests must
arrive within `connection_timeout_seconds`, and at `max_connections` the longest idle
connection makes room."""

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from harness import fetch, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess

MAX_CONNECTIONS = 8
TIMEOUT_SECONDS = 2


@pytest.fixture
def daemon(sandbox: Sandbox, emulator: EmulatorProcess) -> Iterator[DaemonProcess]:
    sandbox.write_settings(
        f"[endpoint]\nmax_connections = {MAX_CONNECTIONS}\n"
        f"connection_timeout_seconds = {TIMEOUT_SECONDS}\n"
    )
    with sandbox.start_daemon() as process:
        process.wait_ready()
        login(sandbox, emulator)
        yield process


def connect(daemon: DaemonProcess) -> socket.socket:
    host, port = daemon.address.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed `sock` (EOF or reset), without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
    finally:
        sock.setblocking(True)


class Dribbler(threading.Thread):
    """Sends a request line, then one header byte every 0.2 s, until the server hangs up."""

    def __init__(self, daemon: DaemonProcess) -> None:
        super().__init__(daemon=True)
        self.sock = connect(daemon)
        self.sent = 0
        self.cut_off = threading.Event()
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            self.sock.sendall(b"GET /credentials/readonly HTTP/1.1\r\nX-Slow: ")
            while not self._halt.wait(0.2):
                self.sock.sendall(b"a")
                self.sent += 1
                if closed_by_server(self.sock):
                    break
        except OSError:
            pass
        self.cut_off.set()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self.sock.close()


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_silent_and_dribbling_connections_are_cut_off(daemon: DaemonProcess) -> None:
    """Below the cap too: no request within the timeout, the connection is closed."""
    silent = connect(daemon)
    dribbler = Dribbler(daemon)
    dribbler.start()
    try:
        assert not closed_by_server(silent)  # open for now
        assert wait_until(lambda: closed_by_server(silent), TIMEOUT_SECONDS * 3)
        assert dribbler.cut_off.wait(TIMEOUT_SECONDS * 3)
        assert dribbler.sent >= 3  # it was dribbling, not silent, when cut off
    finally:
        dribbler.stop()
        silent.close()


def test_held_connections_cannot_lock_out_sdks(daemon: DaemonProcess) -> None:
    """Three times the cap in silent and dribbling connections: every SDK request is
    still answered at once (well within the timeout: room is made, not waited for)."""
    silent = [connect(daemon) for _ in range(MAX_CONNECTIONS * 2)]
    dribblers = [Dribbler(daemon) for _ in range(MAX_CONNECTIONS)]
    for dribbler in dribblers:
        dribbler.start()
    try:
        time.sleep(1.2)  # all of them connected, holding on, and past the grace of new ones
        for _ in range(10):
            started = time.monotonic()
            reply = fetch(daemon.url("readonly"), daemon.token)
            assert reply.status == 200
            assert time.monotonic() - started < TIMEOUT_SECONDS
        # More connections than the cap were never open at once: the oldest went first.
        assert sum(closed_by_server(s) for s in silent) >= MAX_CONNECTIONS
    finally:
        for dribbler in dribblers:
            dribbler.stop()
        for sock in silent:
            sock.close()
    assert fetch(daemon.url("readonly"), daemon.token).status == 200
