"""Who holds a TCP port: for the error when the endpoint's port is taken (Linux only).

`/proc/net/tcp` and `tcp6` list listening sockets with their inode and owner uid;
`/proc/PID/fd/*` links to `socket:[INODE]` name the process. Processes of other users
hide their fds, so for them only the uid is known. Elsewhere (macOS) nothing is found
and the error names the port alone.
"""

import contextlib
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PortHolder", "find_port_holder"]

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column


@dataclass(frozen=True, slots=True)
class PortHolder:
    uid: int
    pid: int | None = None
    command: str | None = None

    def describe(self) -> str:
        if self.pid is not None:
            return f"pid {self.pid} ({self.command or '?'})"
        return f"a process of {_user_name(self.uid)} (not yours: its pid is hidden)"


def find_port_holder(port: int, proc: Path = Path("/proc")) -> PortHolder | None:
    """The process listening on TCP `port` (any address), or None if it can't be found."""
    owners = _listening_inodes(port, proc)
    if not owners:
        return None
    wanted = {f"socket:[{inode}]": uid for inode, uid in owners.items()}
    for entry in _pids(proc):
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link in wanted:
                        return PortHolder(wanted[link], int(entry.name), _command(entry))
    return PortHolder(next(iter(owners.values())))


def _listening_inodes(port: int, proc: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                found[fields[9]] = int(fields[7])
    return found


def _pids(proc: Path) -> list[Path]:
    try:
        return [entry for entry in proc.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _command(entry: Path) -> str | None:
    try:
        raw = (entry / "cmdline").read_bytes()
    except OSError:
        return None
    words = [word.decode(errors="replace") for word in raw.split(b"\0") if word]
    text = " ".join(words)
    return text if len(text) <= 120 else text[:117] + "..."


def _user_name(uid: int) -> str:
    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"
