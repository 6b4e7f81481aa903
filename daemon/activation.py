"""Sockets handed over by the service manager (systemd's LISTEN_FDS protocol).

With `stsd.socket` enabled, systemd owns the listening socket of the credentials
endpoint: it holds the port while the daemon starts or restarts, so an SDK's request in
that moment waits in the backlog instead of being refused. The daemon takes over:

- a loopback TCP stream socket serves the credentials endpoint (one at most: the
  endpoint has one address, the one `stsd env` prints);
- a Unix stream socket, if passed, serves the control API.

The fds start at 3; `LISTEN_PID` must be ours (else they were meant for someone else).
The variables are taken out of the environment so no child inherits them.
"""

import ipaddress
import os
import socket
from collections.abc import MutableMapping
from dataclasses import dataclass

from stsd.daemon.errors import ConfigError

__all__ = ["InheritedSockets"]

_FIRST_FD = 3  # SD_LISTEN_FDS_START


@dataclass(frozen=True, slots=True)
class InheritedSockets:
    credentials: socket.socket | None = None
    control: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> "InheritedSockets":
        """The sockets passed to this process; none when not socket-activated.

        Raises:
            ConfigError: the socket unit passes something stsd can't serve on.
        """
        environ = os.environ if environ is None else environ
        pid = environ.pop("LISTEN_PID", "")
        count = environ.pop("LISTEN_FDS", "")
        environ.pop("LISTEN_FDNAMES", None)
        if pid != str(os.getpid()) or not count.isdigit():
            return cls()
        credentials: socket.socket | None = None
        control: socket.socket | None = None
        for fd in range(_FIRST_FD, _FIRST_FD + int(count)):
            os.set_inheritable(fd, False)
            sock = socket.socket(fileno=fd)
            if sock.type != socket.SOCK_STREAM:
                raise ConfigError(f"stsd.socket passes fd {fd} that is not a stream socket")
            if sock.family == socket.AF_UNIX:
                if control is not None:
                    raise ConfigError("stsd.socket passes more than one Unix socket")
                control = sock
            elif sock.family in (socket.AF_INET, socket.AF_INET6):
                if credentials is not None:
                    raise ConfigError(
                        "stsd.socket passes more than one TCP socket: the endpoint has one "
                        "address (the one `stsd env` prints); keep one ListenStream="
                    )
                _check_loopback(sock)
                credentials = sock
            else:
                raise ConfigError(f"stsd.socket passes fd {fd} of an unsupported family")
        return cls(credentials, control)


def _check_loopback(sock: socket.socket) -> None:
    host = str(sock.getsockname()[0])
    if not ipaddress.ip_address(host).is_loopback:
        raise ConfigError(
            f"stsd.socket listens on {host}, not a loopback address: stsd serves credentials "
            "to this machine only (ListenStream=127.0.0.1:9925)"
        )
