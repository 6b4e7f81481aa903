"""Injected faults: what the next STS calls should suffer, and how a call consumes them.

Counted faults (``throttle``, ``server_error``) are used up one per matching call;
``latency_ms``, ``outage`` and ``credential_lifetime_seconds`` last until changed.
``actions``, when set, limits every fault to those actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal

from stsd.emulator.errors import StsError

__all__ = ["ACTIONS", "IAM_ACTIONS", "STS_ACTIONS", "Faults", "FaultsError", "Outage", "take_fault"]

STS_ACTIONS = ("GetSessionToken", "AssumeRole", "GetCallerIdentity")
# IAM's, for `stsd keys rotate` (see iam.py); same endpoint, service `iam`.
IAM_ACTIONS = ("CreateAccessKey", "DeleteAccessKey", "ListAccessKeys")
ACTIONS = STS_ACTIONS + IAM_ACTIONS


class FaultsError(ValueError):
    """A fault setting the control API cannot take."""


@dataclass(frozen=True, slots=True)
class Faults:
    throttle: int = 0
    server_error: int = 0
    server_error_status: Literal[500, 503] = 500
    latency_ms: int = 0
    outage: bool = False
    credential_lifetime_seconds: int | None = None
    actions: tuple[str, ...] | None = None

    def applies_to(self, action: str) -> bool:
        return self.actions is None or action in self.actions

    def lifetime_cap(self, action: str) -> int | None:
        return self.credential_lifetime_seconds if self.applies_to(action) else None

    def to_json(self) -> dict[str, object]:
        return {
            f.name: list(value) if isinstance(value := getattr(self, f.name), tuple) else value
            for f in fields(self)
        }

    def updated(self, changes: Mapping[str, object]) -> Faults:
        """These faults with ``changes`` (a control API body) applied; fields not named stay."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise FaultsError(f"unknown fault {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return replace(
            self,
            throttle=_count(changes, "throttle", self.throttle),
            server_error=_count(changes, "server_error", self.server_error),
            server_error_status=_status(changes, self.server_error_status),
            latency_ms=_count(changes, "latency_ms", self.latency_ms),
            outage=_flag(changes, "outage", self.outage),
            credential_lifetime_seconds=_lifetime(changes, self.credential_lifetime_seconds),
            actions=_actions(changes, self.actions),
        )


class Outage:
    """Marker: drop the connection without an answer."""


def take_fault(faults: Faults, action: str) -> tuple[Faults, StsError | Outage | None]:
    """The fault ``action`` suffers now, and the faults left after it."""
    if not faults.applies_to(action):
        return faults, None
    if faults.outage:
        return faults, Outage()
    if faults.throttle > 0:
        return replace(faults, throttle=faults.throttle - 1), StsError(
            "Throttling", "Rate exceeded", 400
        )
    if faults.server_error > 0:
        error = (
            StsError("ServiceUnavailable", "Service is unable to handle request.", 503)
            if faults.server_error_status == 503
            else StsError("InternalFailure", "An internal error has occurred.", 500)
        )
        return replace(faults, server_error=faults.server_error - 1), error
    return faults, None


# bool is an int in Python, but JSON's true is no count: hence the isinstance(bool) checks.


def _count(changes: Mapping[str, object], name: str, current: int) -> int:
    value = changes.get(name, current)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultsError(f"{name} must be a non-negative integer")
    return value


def _status(changes: Mapping[str, object], current: Literal[500, 503]) -> Literal[500, 503]:
    value = changes.get("server_error_status", current)
    if value == 500:
        return 500
    if value == 503:
        return 503
    raise FaultsError("server_error_status must be 500 or 503")


def _flag(changes: Mapping[str, object], name: str, current: bool) -> bool:
    value = changes.get(name, current)
    if not isinstance(value, bool):
        raise FaultsError(f"{name} must be true or false")
    return value


def _lifetime(changes: Mapping[str, object], current: int | None) -> int | None:
    value = changes.get("credential_lifetime_seconds", current)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FaultsError("credential_lifetime_seconds must be a positive integer or null")
    return value


def _actions(
    changes: Mapping[str, object], current: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    value = changes.get("actions", current)
    if value is None or isinstance(value, tuple):
        return value
    if not isinstance(value, list) or not all(a in ACTIONS for a in value):
        raise FaultsError(f"actions must be null or a list of {', '.join(ACTIONS)}")
    return tuple(value)
