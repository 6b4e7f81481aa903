"""What one running emulator holds: the STS service, injected faults, and call records."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from aiohttp import web

from stsd.emulator.faults import ACTIONS, Faults
from stsd.emulator.iam import Iam
from stsd.emulator.sts import Sts

__all__ = ["STATE", "CallRecord", "EmulatorState"]

# Parameters worth showing to tests; TokenCode is left out (codes are never echoed).
RECORDED_PARAMS = ("DurationSeconds", "RoleArn", "RoleSessionName", "ExternalId", "SerialNumber")
MAX_RECORDS = 1000


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One STS request that named a known action, and how it ended."""

    action: str
    status: int
    error_code: str | None
    caller_arn: str | None
    params: tuple[tuple[str, str], ...]
    mfa_code_given: bool

    def to_json(self) -> dict[str, object]:
        return {
            "action": self.action,
            "status": self.status,
            "error_code": self.error_code,
            "caller_arn": self.caller_arn,
            "params": dict(self.params),
            "mfa_code_given": self.mfa_code_given,
        }


@dataclass(slots=True)
class EmulatorState:
    sts: Sts
    iam: Iam
    faults: Faults = field(default_factory=Faults)
    calls: Counter[str] = field(default_factory=Counter)
    records: deque[CallRecord] = field(default_factory=lambda: deque(maxlen=MAX_RECORDS))

    def calls_json(self) -> dict[str, int]:
        return {action: self.calls[action] for action in ACTIONS}

    def reset(self) -> None:
        self.faults = Faults()
        self.calls.clear()
        self.records.clear()


STATE = web.AppKey("stsd_emulator_state", EmulatorState)
