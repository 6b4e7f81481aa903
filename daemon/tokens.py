"""The tokens the credentials endpoint accepts: the default one and scoped leases.

- The default token (the token file) is good for every configured profile.
- A scoped token (`stsd exec`) is good for one profile and lives only while its lease is
  renewed: the CLI renews it every third of the lease, so a killed CLI's token dies
  within one lease. Leases run on the monotonic clock, which stops while the machine
  sleeps, so a suspended laptop doesn't wake up to dead tokens.

Lookup is O(1) whatever the number of tokens: entries are keyed by the SHA-256 of the
token, so the dict's (not constant-time) comparison only ever sees digests, and the
token itself is then compared with `hmac.compare_digest`.
"""

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_LABEL", "Grant", "Lease", "LeaseConflict", "TokenRegistry"]

DEFAULT_LABEL = "default"
# What `new_token()` produces (32 random bytes, URL-safe base64); a restored lease's
# token must look the same, so nobody registers a guessable one.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43,128}")
_LEASE_ID_SHAPE = re.compile(r"[0-9a-f]{16}")


class LeaseConflict(Exception):
    """A renewal whose token or profile doesn't match the lease it names."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token may fetch and how the audit log names it."""

    label: str  # "default", or e.g. "exec: terraform"
    profile: str | None = None  # None: every configured profile

    def allows(self, profile: str) -> bool:
        return self.profile is None or self.profile == profile


@dataclass(frozen=True, slots=True)
class Lease:
    """A scoped token as the control API hands it out."""

    id: str
    token: str = field(repr=False)
    grant: Grant
    seconds: float


@dataclass(slots=True)
class _Entry:
    token: bytes = field(repr=False)
    grant: Grant
    lease_id: str | None = None
    expires: float = float("inf")  # monotonic seconds


@dataclass(frozen=True, slots=True)
class _Default:
    """The default token as text (for the comparison without a hash), kept out of reprs."""

    token: str = field(repr=False)


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def _encode(token: str) -> bytes:
    # Header values may carry anything; what can't be a token simply won't match.
    return token.encode("utf-8", "replace")


class TokenRegistry:
    """Every accepted token, with its grant and (for scoped ones) its lease."""

    def __init__(
        self,
        default_token: str,
        lease_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._by_digest: dict[bytes, _Entry] = {}
        self._leases: dict[str, bytes] = {}  # lease id -> digest
        self._default_digest = b""
        self._default = _Default("")
        self._default_grant = Grant(DEFAULT_LABEL)
        self.rotate_default(default_token)

    @property
    def lease_seconds(self) -> float:
        return self._lease_seconds

    def lookup(self, presented: str) -> Grant | None:
        """The grant of a presented token, or None if it is not (or no longer) valid."""
        # Nearly every request carries the default token: one constant-time comparison
        # finds it, without hashing (compare_digest takes ASCII-only strings).
        if presented.isascii() and hmac.compare_digest(presented, self._default.token):
            return self._default_grant
        raw = _encode(presented)
        digest = _digest(raw)
        entry = self._by_digest.get(digest)
        if entry is None or not hmac.compare_digest(entry.token, raw):
            return None
        if entry.expires <= self._clock():
            self._drop(digest)
            return None
        return entry.grant

    def rotate_default(self, token: str) -> None:
        """Make `token` the default token; the previous one stops working at once."""
        self._by_digest.pop(self._default_digest, None)
        raw = token.encode("ascii")
        self._default = _Default(token)
        self._default_digest = _digest(raw)
        self._by_digest[self._default_digest] = _Entry(raw, self._default_grant)

    def issue(self, profile: str, label: str) -> Lease:
        """A new scoped token for `profile`, leased for `lease_seconds`."""
        self._sweep()
        lease_id = secrets.token_hex(8)
        token = secrets.token_urlsafe(32)
        return self._register(lease_id, token, Grant(label, profile))

    def renew(self, lease_id: str, token: str, profile: str, label: str) -> bool:
        """Extend a lease; returns True when it had lapsed or was unknown and is restored.

        A lease is unknown after a daemon restart, lapsed after the CLI was stopped
        (Ctrl-Z) for longer than the lease: in both cases the CLI that holds it is alive
        and renewing, which is all a lease stands for, so it comes back as it was.

        Raises:
            LeaseConflict: the lease exists with another token or profile, or the id or
                token is not of the shape this registry hands out.
        """
        self._sweep()
        if not _LEASE_ID_SHAPE.fullmatch(lease_id) or not _TOKEN_SHAPE.fullmatch(token):
            raise LeaseConflict("not a lease id and token stsd issued")
        raw = token.encode("ascii")
        digest = self._leases.get(lease_id)
        if digest is not None:
            entry = self._by_digest[digest]
            if not hmac.compare_digest(entry.token, raw) or entry.grant.profile != profile:
                raise LeaseConflict(f"lease {lease_id} belongs to another token")
            entry.expires = self._clock() + self._lease_seconds
            return False
        if _digest(raw) in self._by_digest:
            raise LeaseConflict("this token is already registered")
        self._register(lease_id, token, Grant(label, profile))
        return True

    def revoke(self, lease_id: str) -> bool:
        """End a lease now; False if there was none (already lapsed or revoked)."""
        digest = self._leases.get(lease_id)
        if digest is None:
            return False
        self._drop(digest)
        return True

    def active_leases(self) -> list[Grant]:
        """The grants of the leases still running (for `status`)."""
        self._sweep()
        return [self._by_digest[digest].grant for digest in self._leases.values()]

    def _register(self, lease_id: str, token: str, grant: Grant) -> Lease:
        raw = token.encode("ascii")
        digest = _digest(raw)
        expires = self._clock() + self._lease_seconds
        self._by_digest[digest] = _Entry(raw, grant, lease_id, expires)
        self._leases[lease_id] = digest
        return Lease(lease_id, token, grant, self._lease_seconds)

    def _drop(self, digest: bytes) -> None:
        entry = self._by_digest.pop(digest, None)
        if entry is not None and entry.lease_id is not None:
            self._leases.pop(entry.lease_id, None)

    def _sweep(self) -> None:
        # O(leases), on the control path only: the request path checks expiry per lookup.
        now = self._clock()
        for digest in list(self._leases.values()):
            if self._by_digest[digest].expires <= now:
                self._drop(digest)
