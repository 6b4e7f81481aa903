"""MFA prompt drivers: how stsd reaches the user when it needs a code.

Each driver lives in its own module and implements `MfaPrompt`. `DRIVERS` is the
explicit registry, in the default order (DESIGN.md, "MFA prompt drivers"):
mfa_process, TOTP from the encrypted store, desktop notification, terminal. A driver
that can't run here says why (`unavailable_reason`) and is skipped.

A driver either produces a code itself (a command, a stored TOTP seed, a dialog) and
returns it, or reaches the user and returns None: the answer then arrives through the
MFA web page or `stsd login`.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from stsd.daemon.broker import PromptReason

__all__ = ["DRIVERS", "MfaPrompt", "PromptRequest"]


@dataclass(frozen=True, slots=True)
class PromptRequest:
    """What a driver needs to ask for a code, and to tell the user why."""

    source: str
    mfa_serial: str
    reason: PromptReason
    session_ends: datetime | None
    mfa_page_url: str | None  # a one-time link to the MFA web page, when there is one


class MfaPrompt(Protocol):
    """One way of getting an MFA code from the user."""

    name: ClassVar[str]

    def unavailable_reason(self) -> str | None:
        """Why this driver can't run here (no display, no bus, no command), or None."""
        ...

    async def prompt(self, request: PromptRequest) -> str | None:
        """Ask; return a code to submit, or None when the answer comes another way."""
        ...


DRIVERS: list[type[MfaPrompt]] = []
