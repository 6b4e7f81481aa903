"""How asking for MFA codes goes, per MFA device: the rules, and no I/O.

The broker decides *that* a source profile needs a code. These rules decide how the
asking goes (DESIGN.md: one MFA code per MFA device per session; a code is used once;
prompts for the same device coalesce):

- While a round of drivers asks for a device, more prompts for it join that round;
  none starts a second one.
- A code goes to STS at most once per device: STS rejects reuse, and a code it
  rejected stays wrong. A repeat is refused here, before STS.
- A rejected code re-prompts automatically at most `max_reprompts` times in a row;
  after that no round starts until the user gives a code that STS accepts
  (`stsd login`, the MFA page): a wrong `mfa_process` must not hammer STS.
- An accepted code resets the count.

Invariants: time comes from `clock`; codes are kept only as keyed digests, and only
for `code_memory` (longer than the 90 s STS accepts a code for).
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

__all__ = ["MfaRules"]

MAX_REPROMPTS = 3


class MfaRules:
    """Per-device bookkeeping of prompt rounds, rejections and codes sent."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        max_reprompts: int = MAX_REPROMPTS,
        code_memory: timedelta = timedelta(minutes=5),
    ) -> None:
        self._clock = clock
        self._max_reprompts = max_reprompts
        self._code_memory = code_memory
        self._key = secrets.token_bytes(32)  # digests of 6 digits are useless without it
        self._asking: set[str] = set()
        self._rejections: dict[str, int] = {}
        self._sent: dict[str, dict[bytes, datetime]] = {}

    def want(self, device: str) -> bool:
        """A source of `device` needs a code: True means start a round now.

        False while a round for the device runs (the prompt joins it) and while the
        rules wait for the user after too many rejected codes.
        """
        if device in self._asking or self.waiting_for_user(device):
            return False
        self._asking.add(device)
        return True

    def round_ended(self, device: str) -> None:
        self._asking.discard(device)

    def asking(self, device: str) -> bool:
        return device in self._asking

    def first_use(self, device: str, code: str) -> bool:
        """Record that `code` goes to STS for `device`; False if it went before."""
        now = self._clock()
        sent = self._sent.setdefault(device, {})
        for digest, when in list(sent.items()):
            if now - when > self._code_memory:
                del sent[digest]
        digest = hmac.new(self._key, f"{device}\0{code}".encode(), hashlib.sha256).digest()
        if digest in sent:
            return False
        sent[digest] = now
        return True

    def rejected(self, device: str) -> None:
        """STS refused a code for `device`, whichever way it came."""
        self._rejections[device] = self._rejections.get(device, 0) + 1

    def may_reprompt(self, device: str) -> bool:
        """After a rejection: may a round ask again by itself?"""
        return self._rejections.get(device, 0) <= self._max_reprompts

    def waiting_for_user(self, device: str) -> bool:
        return not self.may_reprompt(device)

    def rejections(self, device: str) -> int:
        return self._rejections.get(device, 0)

    def accepted(self, device: str) -> None:
        """STS accepted a code for `device`: the asking is over."""
        self._rejections.pop(device, None)
