"""One-time links to the MFA web page, and the form tokens that go with them.

Invariants:
- A link id is random (128 bits), taken at most once (the POST that carries a code),
  and dead `lifetime` (10 min) after it was issued, by the wall clock: a laptop that
  slept through the expiry doesn't wake up to a live link.
- A form POST must carry a token issued by a GET of the same link; tokens are
  compared in constant time and kept only as digests.
- Once a code for the device was accepted another way, its open links are settled:
  the page says so instead of sending a needless code.
- At most `max_links` are remembered; the oldest go first.
"""

import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stsd.daemon.broker import PromptReason

__all__ = ["LinkState", "MfaLink", "MfaLinks"]

LINK_LIFETIME = timedelta(minutes=10)
_MAX_TOKENS_PER_LINK = 8  # a few tabs or reloads of one link


class LinkState(enum.Enum):
    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"
    SETTLED = "settled"  # the device got a code another way
    UNKNOWN = "unknown"
    BAD_TOKEN = "bad token"  # noqa: S105 - a state, not a secret


@dataclass(frozen=True, slots=True)
class MfaLink:
    """A prompt the MFA page answers: which device, for which source, and why."""

    id: str = field(repr=False)
    device: str
    source: str
    reason: PromptReason
    session_ends: datetime | None
    expires: datetime


@dataclass(slots=True)
class _Entry:
    link: MfaLink
    state: LinkState = LinkState.OPEN
    tokens: list[bytes] = field(default_factory=list)


class MfaLinks:
    """The links issued and what became of them."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        lifetime: timedelta = LINK_LIFETIME,
        max_links: int = 64,
    ) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._max_links = max_links
        self._entries: dict[str, _Entry] = {}

    @property
    def lifetime(self) -> timedelta:
        return self._lifetime

    @lifetime.setter
    def lifetime(self, lifetime: timedelta) -> None:
        """For links issued from now on (a reload of config.toml)."""
        self._lifetime = lifetime

    def issue(
        self, device: str, source: str, reason: PromptReason, session_ends: datetime | None
    ) -> MfaLink:
        self._forget_old()
        link = MfaLink(
            id=secrets.token_urlsafe(16),
            device=device,
            source=source,
            reason=reason,
            session_ends=session_ends,
            expires=self._clock() + self._lifetime,
        )
        self._entries[link.id] = _Entry(link)
        while len(self._entries) > self._max_links:
            del self._entries[next(iter(self._entries))]
        return link

    def look(self, link_id: str) -> tuple[LinkState, MfaLink | None]:
        """What `link_id` is now; the link itself whatever its state, if known."""
        entry = self._entries.get(link_id)
        if entry is None:
            return LinkState.UNKNOWN, None
        if entry.state is LinkState.OPEN and self._clock() >= entry.link.expires:
            entry.state = LinkState.EXPIRED
        return entry.state, entry.link

    def form_token(self, link_id: str) -> str | None:
        """A fresh token for a form of an open link; None if the link isn't open."""
        state, _ = self.look(link_id)
        if state is not LinkState.OPEN:
            return None
        entry = self._entries[link_id]
        token = secrets.token_urlsafe(24)
        entry.tokens = [*entry.tokens, _digest(token)][-_MAX_TOKENS_PER_LINK:]
        return token

    def take(self, link_id: str, token: str) -> tuple[LinkState, MfaLink | None]:
        """Use an open link once, with a token its GET issued.

        Returns OPEN and the link when it was taken now (it is USED from then on);
        otherwise the state that stands in the way.
        """
        state, link = self.look(link_id)
        if state is not LinkState.OPEN:
            return state, link
        entry = self._entries[link_id]
        presented = _digest(token)
        # Compare with every token, always: the time taken says nothing about which.
        matches = [hmac.compare_digest(presented, known) for known in entry.tokens]
        if not any(matches):
            return LinkState.BAD_TOKEN, link
        entry.state = LinkState.USED
        return LinkState.OPEN, link

    def settle(self, device: str) -> None:
        """A code for `device` was accepted: its open links have nothing left to do."""
        for entry in self._entries.values():
            if entry.link.device == device and entry.state is LinkState.OPEN:
                entry.state = LinkState.SETTLED

    def _forget_old(self) -> None:
        # Kept a lifetime past expiry, so a late click still hears "expired", not "unknown".
        horizon = self._clock() - self._lifetime
        for link_id, entry in list(self._entries.items()):
            if entry.link.expires < horizon:
                del self._entries[link_id]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
