"""A real NOTIFY_SOCKET for tests: a datagram socket that plays systemd's side."""

import socket
from pathlib import Path
from types import TracebackType


class NotifyListener:
    """Receives the daemon's sd_notify datagrams as dicts of their `KEY=VALUE` lines."""

    def __init__(self, address: str, bind_to: str | bytes) -> None:
        self.address = address  # what goes into NOTIFY_SOCKET
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(bind_to)
        self._sock.settimeout(30)
        self.received: list[dict[str, str]] = []

    @classmethod
    def at_path(cls, path: Path) -> "NotifyListener":
        return cls(str(path), str(path))

    @classmethod
    def abstract(cls, name: str) -> "NotifyListener":
        return cls(f"@{name}", f"\0{name}")

    def next(self) -> dict[str, str]:
        """The next datagram (raises TimeoutError after 30 s without one)."""
        data = self._sock.recv(4096).decode()
        fields = dict(line.split("=", 1) for line in data.splitlines() if line)
        self.received.append(fields)
        return fields

    def until(self, key: str) -> dict[str, str]:
        """Read datagrams until one carries `key`; returns that one."""
        while True:
            fields = self.next()
            if key in fields:
                return fields

    @property
    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.address}

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "NotifyListener":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
