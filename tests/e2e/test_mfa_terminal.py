"""The terminal prompt through a real pseudo-terminal: hidden input, never on stdout."""

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from harness import ALICE, fetch

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess

# The child makes the pty its controlling terminal (so it has a /dev/tty), then runs stsd.
_WITH_TTY = "import os, sys; os.open(os.ttyname(0), os.O_RDWR); os.execv(sys.argv[1], sys.argv[1:])"


class Terminal:
    """`stsd ARGS` on a fresh pseudo-terminal; stdout optionally to a file instead."""

    def __init__(self, sandbox: Sandbox, args: list[str], stdout: Path | None = None) -> None:
        self.master, slave = pty.openpty()
        out = open(stdout, "wb") if stdout else None  # noqa: SIM115 - closed below
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WITH_TTY, sys.executable, "-m", "stsd.client", *args],
            env=sandbox.env,
            stdin=slave,
            stdout=out or slave,
            stderr=slave,
            start_new_session=True,  # a session of its own, so the pty can be its terminal
        )
        os.close(slave)
        if out:
            out.close()
        self.screen = b""

    def read_until(self, text: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; screen: {self.screen!r}"
            if not self._read(left):
                raise AssertionError(f"closed before {text!r}; screen: {self.screen!r}")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self._read(max(0.0, deadline - time.monotonic())):
            pass
        os.close(self.master)
        return self.process.wait(timeout)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the other side closed
            return False
        self.screen += chunk
        return bool(chunk)


def test_stsd_login_hides_the_code(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """`stsd login` asks on the terminal; what is typed is not echoed."""
    terminal = Terminal(sandbox, ["login", "bastion"])
    terminal.read_until(b"MFA code for bastion (arn:aws:iam::111111111111:mfa/alice): ")
    code = emulator.control.code(ALICE.name)
    terminal.type(code + "\n")
    assert terminal.finish() == 0, terminal.screen
    assert b"Logged in: arn:aws:iam::111111111111:user/alice" in terminal.screen
    assert code.encode() not in terminal.screen
    assert fetch(daemon.url("readonly"), daemon.token).status == 200
    assert code not in daemon.logs()


def test_env_login_asks_on_the_terminal_and_keeps_stdout_clean(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """`stsd env --login` with no session: the prompt goes to the terminal, stdout
    carries only the shell lines, and the session exists afterwards."""
    stdout = sandbox.root / "env.out"
    terminal = Terminal(sandbox, ["env", "readonly", "--login", "--shell", "bash"], stdout)
    terminal.read_until(b"stsd: MFA code for bastion")
    code = emulator.control.code(ALICE.name)
    terminal.type(code + "\n")
    assert terminal.finish() == 0, terminal.screen
    lines = stdout.read_text(encoding="utf-8")
    assert "export AWS_CONTAINER_CREDENTIALS_FULL_URI=" in lines
    assert "MFA" not in lines and code not in lines
    assert code.encode() not in terminal.screen
    assert b"logged in as arn:aws:iam::111111111111:user/alice" in terminal.screen
    assert fetch(daemon.url("readonly"), daemon.token).status == 200


def test_env_asks_only_when_asked_to(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    """Without --login, `stsd env` never prompts, terminal or not."""
    terminal = Terminal(sandbox, ["env", "readonly", "--shell", "bash"])
    assert terminal.finish() == 0
    assert b"MFA code" not in terminal.screen
    assert b"export AWS_CONTAINER_CREDENTIALS_FULL_URI=" in terminal.screen


def test_env_login_without_a_terminal_says_so(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    """No terminal to ask on: a warning on stderr, the lines on stdout, exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "stsd.client", "env", "readonly", "--login", "--shell", "bash"],
        env=sandbox.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,  # no controlling terminal: /dev/tty can't be opened
    )
    assert result.returncode == 0, result.stderr
    assert "no terminal to ask for an MFA code on: run `stsd login bastion`" in result.stderr
    assert result.stdout.startswith("export ") or "export AWS_" in result.stdout
    assert "MFA" not in result.stdout


def test_login_reads_a_piped_code_without_a_terminal(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """`ykman ... | stsd login`: without a terminal, one line from stdin."""
    code = emulator.control.code(ALICE.name)
    result = subprocess.run(
        [sys.executable, "-m", "stsd.client", "login"],
        env=sandbox.env,
        input=code + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Logged in" in result.stdout
