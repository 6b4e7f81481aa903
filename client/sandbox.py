"""A throwaway home for stsd: its own XDG dirs and AWS files, and a daemon subprocess.

`stsd demo` runs in one, and so do the end-to-end tests: nothing touches the user's
real home, keyring or AWS files.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from stsd.client.liveness import daemon_listening
from stsd.client.paths import Paths
from stsd.client.tokens import read_token

__all__ = ["DaemonProcess", "Sandbox", "clean_environment"]


# The user's desktop: a sandboxed daemon must not pop prompts up on it.
_DESKTOP = ("DISPLAY", "WAYLAND_DISPLAY", "STSD_OPEN_URL")


def clean_environment(base: Mapping[str, str]) -> dict[str, str]:
    """`base` without AWS_* and XDG_* variables (a sandbox sets its own), and without
    the desktop's display and URL opener."""
    return {
        k: v for k, v in base.items() if not k.startswith(("AWS_", "XDG_")) and k not in _DESKTOP
    }


@dataclass
class Sandbox:
    """Files and environment of an isolated stsd installation under `root`.

    Keep `root` short (e.g. `tempfile.mkdtemp(prefix="stsd-")`): the control socket
    lives below it and Unix socket paths must stay under 100 bytes.
    """

    root: Path
    sts_endpoint: str | None = None
    # The user's own keyring is never touched: keyring's fail backend unless a test
    # brings its own Secret Service (None: keyring looks on the session bus it is given).
    keyring_backend: str | None = "keyring.backends.fail.Keyring"
    # The user's own D-Bus is never reached either: only a bus a test started (it then
    # stands in for both the session and the system bus).
    dbus_address: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. PATH with stand-ins

    @property
    def env(self) -> dict[str, str]:
        env = clean_environment(os.environ)
        env.update(
            HOME=str(self.root / "home"),
            XDG_CONFIG_HOME=str(self.root / "config"),
            XDG_STATE_HOME=str(self.root / "state"),
            XDG_RUNTIME_DIR=str(self.root / "run"),
            AWS_CONFIG_FILE=str(self.aws_config),
            AWS_SHARED_CREDENTIALS_FILE=str(self.aws_credentials),
        )
        if self.sts_endpoint:
            env["AWS_ENDPOINT_URL_STS"] = self.sts_endpoint
            env["AWS_ENDPOINT_URL_IAM"] = self.sts_endpoint  # the emulator speaks both
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        if self.dbus_address:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.dbus_address
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.dbus_address
        env.pop("PYTHON_KEYRING_BACKEND", None)
        if self.keyring_backend:
            env["PYTHON_KEYRING_BACKEND"] = self.keyring_backend
        env.update(self.extra_env)
        return env

    @property
    def paths(self) -> Paths:
        return Paths.from_env(self.env)

    @property
    def aws_config(self) -> Path:
        return self.root / "home" / ".aws" / "config"

    @property
    def aws_credentials(self) -> Path:
        return self.root / "home" / ".aws" / "credentials"

    def write_aws_files(self, config: str, credentials: str) -> None:
        self.aws_config.parent.mkdir(parents=True, exist_ok=True)
        self.aws_config.write_text(config, encoding="utf-8")
        self.aws_credentials.write_text(credentials, encoding="utf-8")
        os.chmod(self.aws_credentials, 0o600)

    def write_settings(self, toml: str) -> None:
        path = self.paths.config_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(toml, encoding="utf-8")

    def stsd(self, args: Sequence[str], stdin: str = "") -> "subprocess.CompletedProcess[str]":
        """Run an `stsd` command in the sandbox and capture its output."""
        return subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "stsd.client", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start_daemon(
        self,
        args: Sequence[str] = ("--listen", "127.0.0.1:0"),
        extra_env: Mapping[str, str] | None = None,
    ) -> "DaemonProcess":
        return DaemonProcess.start(self, args, extra_env)


class DaemonProcess:
    """`stsd serve` running in a sandbox; stderr goes to a log file."""

    def __init__(self, sandbox: Sandbox, process: "subprocess.Popen[bytes]", log: Path) -> None:
        self.sandbox = sandbox
        self.process = process
        self.log_path = log

    @classmethod
    def start(
        cls,
        sandbox: Sandbox,
        args: Sequence[str],
        extra_env: Mapping[str, str] | None = None,
    ) -> "DaemonProcess":
        log = sandbox.root / f"daemon-{time.monotonic_ns()}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "stsd.client", "serve", *args],
                env={**sandbox.env, **(extra_env or {})},
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        return cls(sandbox, process, log)

    def wait_ready(self, timeout: float = 30.0) -> "DaemonProcess":
        """Block until the daemon answers on its control socket and wrote its address.

        Raises:
            RuntimeError: it exited or didn't get ready in time (its log attached).
        """
        paths = self.sandbox.paths
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"stsd serve exited with {self.process.returncode}:\n{self.logs()}"
                )
            if paths.address_file.exists() and daemon_listening(paths.control_socket):
                return self
            time.sleep(0.02)
        raise RuntimeError(f"stsd serve not ready after {timeout} s:\n{self.logs()}")

    @property
    def address(self) -> str:
        return self.sandbox.paths.address_file.read_text(encoding="utf-8").strip()

    @property
    def token(self) -> str:
        token = read_token(self.sandbox.paths.token_file)
        if token is None:
            raise RuntimeError("the daemon wrote no token file")
        return token

    def url(self, profile: str) -> str:
        return f"http://{self.address}/credentials/{profile}"

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> "DaemonProcess":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()
