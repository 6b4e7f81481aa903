"""Is a daemon there? One connect on the control socket, nothing else imported.

Kept apart from `control` (which needs http.client, and through it email and ssl) so
that `stsd env` answers without paying for an HTTP client it doesn't use. It uses
`_socket`, the C module under `socket`: socket.py turns its constants into enums when
imported, about 3 ms of every `stsd env`.
"""

from __future__ import annotations

import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["daemon_listening"]


def daemon_listening(socket_path: Path) -> bool:
    """True when a daemon accepts connections on `socket_path` (no request sent)."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(0.5)
    try:
        sock.connect(str(socket_path))
    except OSError:
        return False
    finally:
        sock.close()
    return True
