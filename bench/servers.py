"""The bare baseline server as a process beside the daemon, and RSS of any process."""

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.rig import pin

__all__ = ["REPO", "BareServer", "bare_server", "cpu_seconds", "rss_mib"]

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class BareServer:
    pid: int
    address: str

    def url(self, profile: str) -> str:
        return f"http://{self.address}/credentials/{profile}"


@contextlib.contextmanager
def bare_server(body: bytes, token: str, where: set[int] | None) -> Iterator[BareServer]:
    """Run bench/bare_server.py serving `body` to whoever presents `token`."""
    with tempfile.TemporaryDirectory(prefix="stsd-bare-") as tmp:
        body_file, token_file = Path(tmp) / "body", Path(tmp) / "token"
        body_file.write_bytes(body)
        token_file.write_text(token, encoding="ascii")
        command = [sys.executable, "-m", "bench.bare_server", "--body-file", str(body_file)]
        command += ["--token-file", str(token_file)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("listening "):
                raise RuntimeError(f"bare server did not start: {line!r}")
            pin(process.pid, where)
            yield BareServer(process.pid, line.removeprefix("listening "))
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def rss_mib(pid: int) -> float:
    """Resident set size from /proc, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of every thread of `pid` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat.rpartition(")")[2].split()  # after "pid (comm)": comm may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS
