"""Talk to the daemon's control API: HTTP over the Unix socket in the runtime dir."""

import http.client
import json
import socket
from pathlib import Path
from typing import Any

__all__ = ["Control", "ControlError", "DaemonUnreachable"]


class DaemonUnreachable(Exception):
    """Nothing answers on the control socket."""


class ControlError(Exception):
    """The daemon answered with an error."""

    def __init__(self, status: int, code: str, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.exit_code = exit_code


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Control:
    """A client of the control API."""

    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        self._path = socket_path
        self._timeout = timeout

    def get(self, path: str) -> dict[str, Any]:
        return self._request("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", path, body)

    def delete(self, path: str) -> dict[str, Any]:
        return self._request("DELETE", path, None)

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        connection = _UnixConnection(self._path, self._timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            try:
                connection.request(method, path, body=payload, headers=headers)
                response = connection.getresponse()
                raw = response.read()
            except (FileNotFoundError, ConnectionRefusedError):
                raise DaemonUnreachable(
                    f"the stsd daemon is not running (no answer on {self._path}): "
                    "start it with `stsd serve`"
                ) from None
            except OSError as error:
                raise DaemonUnreachable(
                    f"can't talk to the stsd daemon on {self._path}: {error}"
                ) from None
        finally:
            connection.close()
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.status >= 400:
            raise ControlError(
                response.status,
                str(data.get("code", "Error")),
                str(data.get("message", f"the daemon answered {response.status}")),
                int(data.get("exit_code", 1)),
            )
        return data
