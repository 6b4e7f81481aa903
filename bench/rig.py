"""The system under test: the STS emulator, a sandboxed home and a logged-in daemon.

Everything the benchmarks measure runs as it does for a user: `stsd serve` as its own
process talking HTTP to the emulator, `stsd login --code` through the control socket.
The daemon is pinned to one core and load generators to another, so they don't take
turns on the same one.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from stsd.client.demo import demo_aws_files
from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.process import EmulatorProcess

__all__ = ["PROFILE", "SOURCE", "Cores", "Rig", "cores", "open_rig", "pin"]

PROFILE = "readonly"
SOURCE = "bastion"


@dataclass(frozen=True, slots=True)
class Cores:
    """Where servers and load generators run; None where there is one core only."""

    server: set[int] | None
    load: set[int] | None


def cores() -> Cores:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return Cores(None, None)
    return Cores({available[0]}, {available[1]})


def pin(pid: int, where: set[int] | None) -> None:
    """What `taskset -apc` does: every thread of `pid`; threads started later inherit it."""
    if where is None:
        return
    tasks = Path(f"/proc/{pid}/task")
    tids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [pid]
    for tid in tids:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(tid, where)


@dataclass
class Rig:
    emulator: EmulatorProcess
    sandbox: Sandbox
    daemon: DaemonProcess
    cores: Cores
    event_loop: str = "asyncio"

    @property
    def url(self) -> str:
        return self.daemon.url(PROFILE)

    def stsd_command(self) -> list[str]:
        """The installed `stsd` entry point, as a user's shell runs it."""
        beside = Path(sys.executable).with_name("stsd")
        if beside.is_file():
            return [str(beside)]
        return [sys.executable, "-m", "stsd.client"]

    def stsd(self, args: Sequence[str]) -> "subprocess.CompletedProcess[str]":
        return self.sandbox.stsd(args)

    def login(self) -> None:
        code = self.emulator.control.code(DEMO_CONFIG.users[0].name)
        result = self.sandbox.stsd(["login", SOURCE, "--code", code])
        if result.returncode != 0:
            raise RuntimeError(f"stsd login failed: {result.stderr.strip()}")

    def shell_env(self) -> dict[str, str]:
        """The sandbox's environment after `eval "$(stsd env readonly)"`."""
        result = self.sandbox.stsd(["env", PROFILE, "--json"])
        if result.returncode != 0:
            raise RuntimeError(f"stsd env failed: {result.stderr.strip()}")
        lines = json.loads(result.stdout)
        env = {**self.sandbox.env, **lines["set"]}
        for name in lines["unset"]:
            env.pop(name, None)
        return env

    def fetch(self) -> tuple[int, bytes]:
        """One request like an SDK's: status and the exact body bytes."""
        headers = {"Authorization": self.daemon.token}
        request = urllib.request.Request(self.url, headers=headers)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def restart_daemon(self, listen: str) -> DaemonProcess:
        """Stop the daemon and start another in the same home (state survives on disk)."""
        self.daemon.stop()
        self.daemon = self.sandbox.start_daemon(_serve_args(listen, self.event_loop))
        pin(self.daemon.process.pid, self.cores.server)
        return self.daemon


def _serve_args(listen: str, event_loop: str) -> list[str]:
    return ["--listen", listen, "--event-loop", event_loop]


@contextlib.contextmanager
def open_rig(event_loop: str = "asyncio") -> Iterator[Rig]:
    """An emulator, a sandbox and a daemon that has an MFA session and role credentials."""
    root = Path(tempfile.mkdtemp(prefix="stsd-b-"))
    try:
        with EmulatorProcess(DEMO_CONFIG) as emulator:
            sandbox = Sandbox(root, sts_endpoint=emulator.url)
            sandbox.write_aws_files(*demo_aws_files(DEMO_CONFIG))
            where = cores()
            daemon = sandbox.start_daemon(_serve_args("127.0.0.1:0", event_loop))
            rig = Rig(emulator, sandbox, daemon, where, event_loop)
            try:
                pin(daemon.process.pid, where.server)
                daemon.wait_ready()
                rig.login()
                status, body = rig.fetch()
                if status != 200:
                    raise RuntimeError(f"the daemon answered {status}: {body[:200]!r}")
                yield rig
            finally:
                rig.daemon.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
