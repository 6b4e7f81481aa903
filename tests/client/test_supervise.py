"""The child supervisor of `stsd exec`, both ways of taking signals (sigtimedwait on
Linux, handlers elsewhere), on a real pseudo-terminal where the terminal matters."""

import fcntl
import os
import signal
import subprocess
import sys
import termios
import time

import pytest

DRIVER = """
import os, sys
from stsd.client.supervise import exit_like, supervise
ticks = []
status = supervise(sys.argv[2:], dict(os.environ), lambda: ticks.append(1), 0.05,
                   precise=sys.argv[1] == "precise")
print("ticks", len(ticks), file=sys.stderr, flush=True)
sys.exit(exit_like(status))
"""

# Counts SIGINTs as delivered (one wakeup byte each: Python's handler alone would fold
# two quick ones into one call). It spins while waiting so that the terminal's copy is
# delivered at once, before any second copy could merge with it in the kernel.
COUNT_INTS = """
import os, signal, sys, time
read, write = os.pipe()
os.set_blocking(write, False)
signal.set_wakeup_fd(write)
signal.signal(signal.SIGINT, lambda s, f: None)
print("ready", flush=True)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    os.set_blocking(read, False)
    try:
        first = os.read(read, 64)
        break
    except BlockingIOError:
        pass
time.sleep(1)
try:
    more = os.read(read, 64)
except BlockingIOError:
    more = b""
count = len(first + more)
print("interrupts", count, flush=True)
sys.exit(count)
"""

MODES = ["precise", "portable"]


def driver(mode: str, *argv: str) -> list[str]:
    return [sys.executable, "-c", DRIVER, mode, *argv]


@pytest.mark.parametrize("mode", MODES)
def test_exit_code_and_ticks(mode: str) -> None:
    code = "import time; time.sleep(0.3); raise SystemExit(9)"
    result = subprocess.run(
        driver(mode, sys.executable, "-c", code), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 9
    ticks = int(result.stderr.split()[-1])
    assert ticks >= 3  # renewals happen while the child runs


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP])
def test_signals_are_forwarded_once(mode: str, signum: signal.Signals) -> None:
    code = f"""
import signal, sys, time
got = []
signal.signal({int(signum)}, lambda s, f: got.append(s))
print("ready", flush=True)
while not got:
    time.sleep(0.01)
time.sleep(0.5)
sys.exit(len(got))
"""
    with subprocess.Popen(
        driver(mode, sys.executable, "-c", code), stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signum)
        assert process.wait(30) == 1


@pytest.mark.parametrize("mode", MODES)
def test_death_by_signal_is_passed_on(mode: str) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    result = subprocess.run(driver(mode, sys.executable, "-c", code), timeout=30, check=False)
    assert result.returncode == -signal.SIGTERM


def _on_a_terminal(mode: str) -> tuple["subprocess.Popen[bytes]", int]:
    """The driver as the session leader of a new pseudo-terminal, in its foreground."""
    master, slave = os.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        driver(mode, sys.executable, "-c", COUNT_INTS),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=take_terminal,  # the child must own the terminal
    )
    os.close(slave)
    return process, master


def _read_until(master: int, text: bytes, timeout: float = 20) -> bytes:
    """What the terminal shows until `text` (or the end: then `text` may be missing)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, seen
        try:
            seen += os.read(master, 1024)
        except OSError:  # EIO: the terminal's last user is gone
            break
    return seen


@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_on_the_terminal_reaches_the_command_once(mode: str) -> None:
    """^C goes to the whole foreground group: the command already has it, and a second
    copy (which means "abort now" to terraform) must not follow."""
    process, master = _on_a_terminal(mode)
    try:
        _read_until(master, b"ready")
        os.write(master, b"\x03")
        assert b"interrupts 1\r\n" in _read_until(master, b"interrupts 1\r\n")
        assert process.wait(30) == 1
    finally:
        os.close(master)
        process.kill()
        process.wait()


def test_a_signal_sent_to_stsd_exec_alone_is_forwarded_on_a_terminal_too() -> None:
    """Linux knows who sent a signal: `kill -INT <stsd exec>` from elsewhere is
    forwarded even while stsd exec owns the terminal."""
    if not sys.platform.startswith("linux"):
        pytest.skip("siginfo-based forwarding is Linux's")
    process, master = _on_a_terminal("precise")
    try:
        _read_until(master, b"ready")
        process.send_signal(signal.SIGINT)
        assert b"interrupts 1\r\n" in _read_until(master, b"interrupts 1\r\n")
        assert process.wait(30) == 1
    finally:
        os.close(master)
        process.kill()
        process.wait()
