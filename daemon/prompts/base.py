"""The seam every MFA driver implements, and the values that cross it.

A driver class is built once per source profile from a `DriverContext` (its
`create` classmethod picks what it needs: the profile's `mfa_process`, the
encrypted store, the environment). The desk then asks it, once per prompt round:
`unavailable_reason()` (None when it can run here and now), then
`prompt(request)`:

- a code (6 digits) the driver produced itself: a command, a stored TOTP seed, a
  dialog the user typed into; the desk submits it;
- None: the driver reached the user another way (a notification whose action opens
  the MFA web page, a log line pointing to `stsd login`), and the answer comes back
  through the page or the control API;
- an exception (`PromptUnavailable` for failures it understands): the desk logs it
  and falls through to the next driver.

`prompt` may wait as long as the user does; the desk cancels it when a code arrives
another way, so a driver cleans up on `CancelledError` (kills its dialog, closes its
notification). Drivers never log a code.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol

from stsd.daemon.broker import PromptReason
from stsd.daemon.model import SourceProfile

__all__ = ["CODE_PATTERN", "DriverContext", "MfaPrompt", "PromptRequest", "describe", "find_code"]

CODE_PATTERN = re.compile(r"^[0-9]{6}$")
# Six digits standing alone: not part of a longer number (an account id, a serial).
_CODE_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")


@dataclass(frozen=True, slots=True)
class DriverContext:
    """What a driver may need to be built for one source profile."""

    source: SourceProfile
    # The daemon's environment: PATH, DISPLAY, DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR.
    env: Mapping[str, str] = field(repr=False)
    # The encrypted store (stsd.daemon.store), when the daemon has one. Typed loosely
    # so this seam doesn't import the store; the driver that uses it checks its type.
    store: object | None = field(default=None, repr=False)
    platform: str = "linux"  # sys.platform of the daemon; "darwin" picks osascript


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

    @classmethod
    def create(cls, context: DriverContext) -> "MfaPrompt":
        """Build the driver for `context.source`; cheap, no I/O beyond lookups."""
        ...

    def unavailable_reason(self) -> str | None:
        """Why this driver can't run here (no display, no bus, no command), or None."""
        ...

    async def prompt(self, request: PromptRequest) -> str | None:
        """Ask; return a code to submit, or None when the answer comes another way."""
        ...


def describe(request: PromptRequest) -> tuple[str, str]:
    """A prompt's title and text: which profile, which device, and why now."""
    if request.reason is PromptReason.SESSION_ENDING and request.session_ends is not None:
        why = f"The MFA session ends at {request.session_ends.astimezone():%H:%M}."
    else:
        why = {
            PromptReason.FIRST_LOGIN: "No MFA session yet.",
            PromptReason.SESSION_ENDING: "The MFA session ends soon.",
            PromptReason.SESSION_EXPIRED: "The MFA session has ended.",
            PromptReason.CODE_REJECTED: "The last code was rejected.",
        }[request.reason]
    return (
        f"stsd: MFA code for {request.source}",
        f"{why} Enter a code from {request.mfa_serial}.",
    )


def find_code(text: str) -> str | None:
    """The one 6-digit code in `text`, or None when there is none or several differ."""
    found = set(_CODE_IN_TEXT.findall(text))
    return found.pop() if len(found) == 1 else None
