"""Run the emulator as a subprocess: what the end-to-end tests and ``stsd demo`` use."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from stsd.emulator.cli import READY_PREFIX
from stsd.emulator.config import DEMO_CONFIG, EmulatorConfig, dump_config, load_config
from stsd.emulator.control import EmulatorControl

__all__ = ["EmulatorProcess", "EmulatorStartError"]

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


class EmulatorStartError(Exception):
    """The emulator's process exited or stayed silent instead of getting ready."""


class EmulatorProcess:
    """Context manager: ``python -m stsd.emulator`` on ``127.0.0.1`` and a free port.

    Give either ``config`` (written to a temporary file) or ``config_path``. The process's
    stderr (its log) goes to ``log_path`` (a temporary file unless given), so tests can
    search it for leaked secrets.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        config_path: str | os.PathLike[str] | None = None,
        listen: str = "127.0.0.1:0",
        log_level: str = "info",
        env: dict[str, str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if config is not None and config_path is not None:
            raise ValueError("give config or config_path, not both")
        self._config_path = None if config_path is None else Path(config_path)
        if config is None:
            config = DEMO_CONFIG if self._config_path is None else load_config(self._config_path)
        self.config = config
        self._listen = listen
        self._log_level = log_level
        self._env = env
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._url: str | None = None
        self._given_log_path = None if log_path is None else Path(log_path)
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.url)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def read_log(self) -> str:
        return "" if self.log_path is None else self.log_path.read_text(errors="replace")

    def __enter__(self) -> EmulatorProcess:
        self._tmp = tempfile.TemporaryDirectory(prefix="stsd-emulator-")
        try:
            self._start(Path(self._tmp.name))
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _start(self, tmp: Path) -> None:
        config_path = self._config_path
        if config_path is None:
            config_path = tmp / "emulator.toml"
            config_path.write_text(dump_config(self.config), encoding="utf-8")
            config_path.chmod(0o600)
        self.log_path = self._given_log_path or tmp / "emulator.log"
        command = [
            sys.executable,
            "-m",
            "stsd.emulator",
            "--config",
            str(config_path),
            "--listen",
            self._listen,
            "--log-level",
            self._log_level,
        ]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=self._env
            )
        self._url = self._wait_ready(self._proc)

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> str:
        if proc.stdout is None:
            raise RuntimeError("the emulator's stdout is not a pipe")
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + START_TIMEOUT
        buffer = b""
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EmulatorStartError(
                    f"emulator not ready after {START_TIMEOUT:.0f} s{self._log_tail()}"
                )
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = proc.wait(STOP_TIMEOUT)
                raise EmulatorStartError(f"emulator exited with code {code}{self._log_tail()}")
            buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode(errors="replace").strip()
        if not line.startswith(READY_PREFIX):
            raise EmulatorStartError(f"unexpected first line from the emulator: {line!r}")
        return line.removeprefix(READY_PREFIX)

    def _log_tail(self) -> str:
        lines = self.read_log().strip().splitlines()
        return f": {lines[-1]}" if lines else ""

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._url = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
