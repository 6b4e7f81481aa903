"""A keep-alive connection stays open while it is used and is closed once it goes quiet:
the guard's one timer per connection follows the last request, whenever that was."""

import http.client
import socket
import time
from collections.abc import Iterator

import pytest
from harness import login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess

TIMEOUT_SECONDS = 2


@pytest.fixture
def daemon(sandbox: Sandbox, emulator: EmulatorProcess) -> Iterator[DaemonProcess]:
    sandbox.write_settings(f"[endpoint]\nconnection_timeout_seconds = {TIMEOUT_SECONDS}\n")
    with sandbox.start_daemon() as process:
        process.wait_ready()
        login(sandbox, emulator)
        yield process


def closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
    finally:
        sock.setblocking(True)


def test_a_used_connection_stays_and_a_quiet_one_goes(daemon: DaemonProcess) -> None:
    host, port = daemon.address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Authorization": daemon.token}
    try:
        # Requests every half timeout for twice the timeout: past the first deadline
        # the connection was set to have, it is still in use and stays open.
        until = time.monotonic() + 2 * TIMEOUT_SECONDS
        while time.monotonic() < until:
            connection.request("GET", "/credentials/readonly", headers=headers)
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            time.sleep(TIMEOUT_SECONDS / 2)
        sock = connection.sock
        assert sock is not None and not closed_by_server(sock)
        quiet_since = time.monotonic()
        while not closed_by_server(sock):
            assert time.monotonic() - quiet_since < 3 * TIMEOUT_SECONDS, "never closed"
            time.sleep(0.05)
        assert time.monotonic() - quiet_since >= TIMEOUT_SECONDS / 2 - 0.1
    finally:
        connection.close()
