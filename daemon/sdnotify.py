"""Tell the service manager how we are: systemd's sd_notify protocol in a few lines.

A datagram of `KEY=VALUE` lines to the socket in `$NOTIFY_SOCKET` (a path, or `@name`
for the abstract namespace). Without the variable (a terminal, launchd) every call does
nothing, so the daemon speaks the protocol unconditionally.

The variable is taken out of the environment when read: a child process (an
`mfa_process` command, a browser) must not speak for us.
"""

import logging
import os
import socket
import time
from collections.abc import MutableMapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends READY/RELOADING/STOPPING/STATUS to the service manager, if there is one."""

    def __init__(self, address: str | None) -> None:
        self._address = _socket_address(address) if address else None

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> "Notifier":
        environ = os.environ if environ is None else environ
        return cls(environ.pop("NOTIFY_SOCKET", None))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def reloading(self) -> None:
        # systemd 253+ wants the monotonic time with RELOADING=1 (Type=notify-reload).
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send(RELOADING="1", MONOTONIC_USEC=str(usec), STATUS="Reloading the configuration")

    def stopping(self, status: str) -> None:
        self.send(STOPPING="1", STATUS=status)

    def status(self, status: str) -> None:
        self.send(STATUS=status)

    def send(self, **fields: str) -> bool:
        """Send one datagram; a manager that went away is logged, never fatal."""
        if self._address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(message.encode())
        except OSError as error:
            log.warning("can't notify the service manager: %s", error)
            return False
        return True


def _socket_address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]  # the abstract namespace
    if value.startswith("/"):
        return value
    log.warning("NOTIFY_SOCKET=%s is neither a path nor @name: not notifying", value)
    return None
