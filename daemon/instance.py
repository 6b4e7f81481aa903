"""One daemon per user: an flock on a file in the runtime dir, held for the process's life.

The kernel drops the lock when the process dies, however it dies, so a crash never
leaves a lock behind; what a crash leaves is the control socket file, which only the
lock's holder may remove (without the lock, removing it would cut off a running
daemon). The lock file holds the holder's pid, so a second daemon can say where the
first one is.
"""

import contextlib
import fcntl
import logging
import os
import stat
from pathlib import Path
from types import TracebackType

from stsd.client.paths import Paths

__all__ = ["AlreadyRunning", "InstanceLock"]

log = logging.getLogger(__name__)


class AlreadyRunning(Exception):
    """Another daemon holds the lock; the message says which and how to reach it."""


class InstanceLock:
    """Held while this daemon runs (`with InstanceLock(paths):`)."""

    def __init__(self, paths: Paths) -> None:
        self._paths = paths
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self._paths.runtime_dir / "lock"

    def acquire(self) -> None:
        """Take the lock or say who has it.

        Raises:
            AlreadyRunning: naming the other daemon's pid, socket and endpoint.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(self._describe_holder()) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        # The file stays: unlinking a lock file races with the next daemon taking it.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove_stale_socket(self) -> bool:
        """Remove a control socket a crashed daemon left; True if there was one."""
        assert self._fd is not None, "only the lock's holder may remove the socket"  # noqa: S101
        socket_path = self._paths.control_socket
        try:
            info = os.lstat(socket_path)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(info.st_mode):
            return False  # not ours to delete; binding will say what is wrong
        socket_path.unlink()
        log.info("removed %s, left by a daemon that did not stop cleanly", socket_path)
        return True

    def _describe_holder(self) -> str:
        try:
            pid = int(self.path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            pid = None
        who = f"pid {pid}" if pid else "its pid unknown"
        try:
            address = self._paths.address_file.read_text(encoding="utf-8").strip()
        except OSError:
            address = "?"
        hint = "stop it first"
        if pid is not None and _under_systemd_unit(pid):
            hint = "systemd runs it: `systemctl --user stop stsd`, or just use it"
        return (
            f"another stsd is already running for this user ({who}, endpoint "
            f"http://{address}/credentials/<profile>, control socket "
            f"{self._paths.control_socket}): {hint}; `stsd status` shows what it holds"
        )

    def __enter__(self) -> "InstanceLock":
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _under_systemd_unit(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return "/stsd.service" in Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8")
    return False
