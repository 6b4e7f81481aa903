"""Start-up on a real `stsd serve`: a taken port, a crash's leftovers, a second daemon,
sockets passed by the service manager, and log lines for a terminal or the journal."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from harness import fetch

from stsd.client.sandbox import DaemonProcess, Sandbox


def test_a_taken_port_is_named_with_its_holder(sandbox: Sandbox) -> None:
    """Exit 1 (so systemd retries: the holder may go away), naming port and process."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = sandbox.stsd(["serve", "--listen", f"127.0.0.1:{port}"])
    assert result.returncode == 1
    assert f"port {port} (127.0.0.1:{port}) is in use by pid {os.getpid()} (" in result.stderr
    assert "--listen" in result.stderr
    assert "Traceback" not in result.stderr
    assert not sandbox.paths.control_socket.exists()


def test_a_second_daemon_refuses_and_says_where_the_first_is(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    """Same user, same runtime dir: the second exits 1 naming the first's pid, endpoint
    and socket, and leaves the first one's socket alone."""
    result = sandbox.stsd(["serve", "--listen", "127.0.0.1:0"])
    assert result.returncode == 1
    assert "another stsd is already running" in result.stderr
    assert f"pid {daemon.process.pid}" in result.stderr
    assert f"http://{daemon.address}/credentials/<profile>" in result.stderr
    assert str(sandbox.paths.control_socket) in result.stderr
    assert sandbox.stsd(["status"]).returncode == 0
    assert fetch(daemon.url("readonly"), daemon.token).status == 503  # still serving


def test_a_crashed_daemons_socket_is_cleaned_up(sandbox: Sandbox) -> None:
    """SIGKILL leaves the control socket behind; the next daemon removes it and runs."""
    with sandbox.start_daemon() as first:
        first.wait_ready()
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    socket_path = sandbox.paths.control_socket
    assert socket_path.exists()  # the crash's leftover
    with sandbox.start_daemon() as second:
        second.wait_ready()
        assert "left by a daemon that did not stop cleanly" in second.logs()
        assert sandbox.stsd(["status"]).returncode == 0
        assert second.stop() == 0
    assert not socket_path.exists()


def test_the_lock_outlives_a_crash_without_blocking_the_next_daemon(sandbox: Sandbox) -> None:
    """The lock file stays, but the kernel released the lock with the dead process."""
    with sandbox.start_daemon() as first:
        first.wait_ready()
        first.process.kill()
        first.process.wait(10)
    assert (sandbox.paths.runtime_dir / "lock").exists()
    with sandbox.start_daemon() as second:
        second.wait_ready()
        lock_pid = (sandbox.paths.runtime_dir / "lock").read_text().strip()
        assert lock_pid == str(second.process.pid)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _socket_activated(sandbox: Sandbox, listen: str) -> "subprocess.Popen[bytes]":
    """`stsd serve` under systemd-socket-activate (systemd's own LISTEN_FDS tool)."""
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-socket-activate is missing: scripts/setup installs systemd")
        pytest.skip("systemd-socket-activate is not installed")
    setenv = [f"--setenv={name}={value}" for name, value in sandbox.env.items()]
    with (sandbox.root / "activated.log").open("wb") as log:
        return subprocess.Popen(
            [tool, f"--listen={listen}", "--fdname=credentials", *setenv]
            + [sys.executable, "-m", "stsd.client", "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def test_socket_activation_serves_the_request_that_started_it(sandbox: Sandbox) -> None:
    """With the port held by the service manager, the first SDK request starts the daemon
    and is answered by it; the daemon then stops like any other."""
    port = _free_port()
    token = sandbox.stsd(["env", "readonly", "--json"])  # the token exists before the daemon
    assert token.returncode == 0
    activator = _socket_activated(sandbox, f"127.0.0.1:{port}")
    try:
        url = f"http://127.0.0.1:{port}/credentials/readonly"
        token_value = sandbox.paths.token_file.read_text()
        deadline = time.monotonic() + 30
        while True:  # until the activator listens; then the request starts the daemon
            try:
                reply = fetch(url, token_value)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        assert reply.status == 503
        assert reply.body["code"] == "NeedsMfa"
        assert sandbox.paths.address_file.read_text() == f"127.0.0.1:{port}"
        activator.send_signal(signal.SIGTERM)  # exec'd: the daemon has the activator's pid
        assert activator.wait(10) == 0
    finally:
        if activator.poll() is None:
            activator.kill()
            activator.wait()
    log = (sandbox.root / "activated.log").read_text()
    assert "stopped" in log


def test_socket_activation_refuses_a_non_loopback_socket(sandbox: Sandbox) -> None:
    """A socket unit listening on all interfaces is a configuration error (exit 78)."""
    port = _free_port()
    activator = _socket_activated(sandbox, f"0.0.0.0:{port}")
    try:
        deadline = time.monotonic() + 30
        while activator.poll() is None:
            assert time.monotonic() < deadline
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.recv(1)
            except OSError:
                time.sleep(0.02)
        assert activator.returncode == 78
    finally:
        if activator.poll() is None:
            activator.kill()
            activator.wait()
    assert "not a loopback address" in (sandbox.root / "activated.log").read_text()


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARNING) stsd", re.MULTILINE)


def test_on_a_terminal_or_in_a_file_lines_carry_their_time(sandbox: Sandbox) -> None:
    """Outside the journal each line has a timestamp, even if JOURNAL_STREAM was
    inherited from a parent whose stderr was the journal."""
    with sandbox.start_daemon(extra_env={"JOURNAL_STREAM": "1:2"}) as daemon:
        daemon.wait_ready()
        assert daemon.stop() == 0
    assert _TIMESTAMP.search(daemon.logs())


def test_in_the_journal_lines_carry_a_priority_and_no_timestamp(sandbox: Sandbox) -> None:
    """stderr is the stream JOURNAL_STREAM names: `<N>` priorities, journald stamps time."""
    log_path = sandbox.root / "journal.log"
    with log_path.open("wb") as sink:
        info = os.fstat(sink.fileno())
        env = {**sandbox.env, "JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        process = subprocess.Popen(
            [sys.executable, "-m", "stsd.client", "serve", "--listen", "127.0.0.1:0"],
            env=env,
            stderr=sink,
            stdout=sink,
        )
    daemon = DaemonProcess(sandbox, process, log_path)
    with daemon:
        daemon.wait_ready()
        assert daemon.stop() == 0
    lines = daemon.logs().splitlines()
    assert any(line.startswith("<6>stsd.daemon: serving 3 role profile(s)") for line in lines)
    assert not _TIMESTAMP.search(daemon.logs())


def test_log_level_warning_keeps_routine_lines_out(sandbox: Sandbox) -> None:
    with sandbox.start_daemon(["--listen", "127.0.0.1:0", "--log-level", "warning"]) as daemon:
        daemon.wait_ready()
        assert daemon.stop() == 0
    assert "serving" not in daemon.logs()
