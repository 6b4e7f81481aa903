"""A client for the emulator's control API, standard library only (tests, ``stsd demo``)."""

from __future__ import annotations

import enum
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Literal, cast

__all__ = ["UNSET", "EmulatorControl", "EmulatorControlError"]

TIMEOUT = 10.0


class EmulatorControlError(Exception):
    """The control API refused a request or could not be reached."""


class _Unset(enum.Enum):
    UNSET = enum.auto()


# Default of ``set_faults`` arguments: "leave as it is" (None means "clear" for some).
UNSET = _Unset.UNSET


class EmulatorControl:
    """Talks to ``{base_url}/_emulator/``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def calls(self) -> dict[str, int]:
        """STS requests per action since the last reset, whatever their outcome."""
        return cast(dict[str, int], self._request("GET", "calls"))

    def requests(self) -> list[dict[str, object]]:
        """The recent STS requests: action, status, error code, caller, non-secret params."""
        return cast(list[dict[str, object]], self._request("GET", "requests"))

    def reset(self) -> None:
        """Clear call counts, request records and faults."""
        self._request("POST", "reset", {})

    def faults(self) -> dict[str, object]:
        return cast(dict[str, object], self._request("GET", "faults"))

    def set_faults(
        self,
        *,
        throttle: int | _Unset = UNSET,
        server_error: int | _Unset = UNSET,
        server_error_status: Literal[500, 503] | _Unset = UNSET,
        latency_ms: int | _Unset = UNSET,
        outage: bool | _Unset = UNSET,
        credential_lifetime_seconds: int | None | _Unset = UNSET,
        actions: list[str] | None | _Unset = UNSET,
    ) -> dict[str, object]:
        """Change the faults named; the others stay. Returns the faults now in force."""
        given = {
            "throttle": throttle,
            "server_error": server_error,
            "server_error_status": server_error_status,
            "latency_ms": latency_ms,
            "outage": outage,
            "credential_lifetime_seconds": credential_lifetime_seconds,
            "actions": actions,
        }
        body = {name: value for name, value in given.items() if value is not UNSET}
        return cast(dict[str, object], self._request("POST", "faults", body))

    def code(self, user: str) -> str:
        """A code ``user``'s MFA device shows that STS has not accepted yet."""
        reply = cast(
            dict[str, str], self._request("GET", f"code/{urllib.parse.quote(user, safe='')}")
        )
        return reply["code"]

    def advance(self, seconds: float) -> None:
        """Age everything the emulator issued by ``seconds`` (expiry, MFA age)."""
        self._request("POST", "clock", {"advance_seconds": seconds})

    def _request(self, method: str, path: str, body: object = None) -> object:
        url = f"{self.base_url}/_emulator/{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the emulator's, http
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                detail = _error_message(exc.read())
            raise EmulatorControlError(f"{method} {url}: {exc.code} {detail}") from None
        except urllib.error.URLError as exc:
            raise EmulatorControlError(f"{method} {url}: {exc.reason}") from None


def _error_message(body: bytes) -> str:
    try:
        reply = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
    return str(reply.get("error", reply)) if isinstance(reply, dict) else str(reply)
