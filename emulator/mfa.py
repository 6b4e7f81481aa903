"""Virtual MFA devices: TOTP codes checked with pyotp, each accepted at most once.

Invariant: a time step whose code was accepted for a device is never accepted again for
that device, whichever action presented it (AWS rejects a reused code the same way).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime

import pyotp

from stsd.emulator.config import User
from stsd.emulator.errors import mfa_invalid_code, mfa_unknown_device, validation_error

__all__ = ["MfaDevices", "check_mfa_params"]

# STS checks the current 30 s step and one on either side (clock drift on the device).
VALID_WINDOW = 1
TOKEN_CODE_RE = re.compile(r"\d*")
SERIAL_RE = re.compile(r"[\w+=/:,.@-]*")


def check_mfa_params(serial: str | None, code: str | None) -> None:
    """Validate the SerialNumber and TokenCode parameters as STS's API constraints do."""
    if code is not None:
        if not TOKEN_CODE_RE.fullmatch(code):
            raise validation_error(
                f"1 validation error detected: Value '{code}' at 'tokenCode' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\d]*"
            )
        if len(code) != 6:
            bound = "greater than or equal to 6" if len(code) < 6 else "less than or equal to 6"
            raise validation_error(
                f"1 validation error detected: Value '{code}' at 'tokenCode' failed to satisfy "
                f"constraint: Member must have length {bound}"
            )
    if serial is not None:
        if not SERIAL_RE.fullmatch(serial):
            raise validation_error(
                f"1 validation error detected: Value '{serial}' at 'serialNumber' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "[\\w+=/:,.@-]*"
            )
        if not 9 <= len(serial) <= 256:
            raise validation_error(
                f"1 validation error detected: Value '{serial}' at 'serialNumber' failed to "
                "satisfy constraint: Member must have length between 9 and 256"
            )
    if (serial is None) != (code is None):
        # STS wants both or neither; a lone one is a caller bug worth a loud error.
        raise validation_error("SerialNumber and TokenCode must be given together.")


class MfaDevices:
    """The MFA device of each user, judged by the clients' clock (``clock``)."""

    def __init__(self, users: Iterable[User], clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._totp = {user.name: pyotp.TOTP(user.totp_seed) for user in users}
        self._used: dict[str, set[int]] = {name: set() for name in self._totp}

    def accept(self, user: User, serial: str, code: str) -> None:
        """Accept ``code`` from ``user``'s device ``serial`` once, or raise AccessDenied."""
        if serial != user.mfa_serial:
            raise mfa_unknown_device()
        totp = self._totp[user.name]
        now = self._clock()
        if not totp.verify(code, for_time=now, valid_window=VALID_WINDOW):
            raise mfa_invalid_code()
        step = totp.timecode(now)
        fresh = [
            step + offset
            for offset in range(-VALID_WINDOW, VALID_WINDOW + 1)
            if totp.at(now, counter_offset=offset) == code
            and step + offset not in self._used[user.name]
        ]
        if not fresh:
            raise mfa_invalid_code()
        used = self._used[user.name]
        used.add(fresh[0])
        # Steps outside the window can never match again: forget them.
        used.difference_update({s for s in used if s < step - VALID_WINDOW})

    def unused_code(self, user: User) -> str | None:
        """A code the device shows that STS would accept now: this step's, else the next."""
        totp = self._totp[user.name]
        now = self._clock()
        step = totp.timecode(now)
        for offset in (0, 1):
            if step + offset not in self._used[user.name]:
                return str(totp.at(now, counter_offset=offset))
        return None
