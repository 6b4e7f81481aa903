"""Is a daemon there? One connect on the control socket, nothing else imported.

Kept apart from `control` (which needs http.client, and through it email and ssl) so
that `stsd env` answers without paying for an HTTP client it doesn't use.
"""

import socket
from pathlib import Path

__all__ = ["daemon_listening"]


def daemon_listening(socket_path: Path) -> bool:
    """True when a daemon accepts connections on `socket_path` (no request sent)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(0.5)
    try:
        sock.connect(str(socket_path))
    except OSError:
        return False
    finally:
        sock.close()
    return True
