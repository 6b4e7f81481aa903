"""Values the daemon passes around: profiles, credentials, sessions.

All frozen: a credential set handed to a request is one snapshot, never parts of two
refreshes (botocore's `get_frozen_credentials` lesson).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = [
    "CachedRole",
    "CachedSession",
    "Credentials",
    "RoleCredentials",
    "RoleProfile",
    "Session",
    "SourceProfile",
    "mask_key_id",
]


def mask_key_id(access_key_id: str) -> str:
    """Show an access key id the way logs and `status` may: last four characters only."""
    return f"…{access_key_id[-4:]}" if access_key_id else ""


@dataclass(frozen=True, slots=True)
class Credentials:
    """One AWS credential set. Secrets stay out of repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None  # None for long-term keys
    account_id: str | None = None

    def __repr__(self) -> str:
        # The key id masked too: it is half of what a log reader would need.
        return (
            f"Credentials(access_key_id={mask_key_id(self.access_key_id)!r}, "
            f"expiration={self.expiration!r}, account_id={self.account_id!r})"
        )

    def remaining(self, now: datetime) -> timedelta:
        """Time left until expiry; long-term keys never expire."""
        if self.expiration is None:
            return timedelta.max
        return self.expiration - now


@dataclass(frozen=True, slots=True)
class SourceProfile:
    """A profile holding long-term keys of a bastion IAM user and its MFA device."""

    name: str
    keys: Credentials = field(repr=False)
    mfa_serial: str
    region: str | None
    keys_origin: str  # file the keys came from, for messages
    # aws-vault's key: a command printing a code (its own, or its role profiles')
    mfa_process: str | None = None


@dataclass(frozen=True, slots=True)
class RoleProfile:
    """A profile that assumes `role_arn` with the credentials of `parent`.

    `parent` is a source profile's name, or another role profile's (role chaining).
    """

    name: str
    role_arn: str
    parent: str
    source: str  # the source profile at the root of the chain
    duration: timedelta
    region: str | None
    role_session_name: str | None = None
    external_id: str | None = None
    mfa_process: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """An MFA-backed session of a source profile (GetSessionToken)."""

    source: str
    credentials: Credentials
    user_arn: str
    issued_at: datetime

    @property
    def user_name(self) -> str:
        """The IAM user's name, the default RoleSessionName (so CloudTrail shows who)."""
        return self.user_arn.rsplit("/", 1)[-1]


# weakref_slot: the server's encoded bodies live exactly as long as the set they encode.
@dataclass(frozen=True, slots=True, weakref_slot=True)
class RoleCredentials:
    """Credentials of an assumed role, as STS returned them."""

    profile: str
    credentials: Credentials
    assumed_role_arn: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class CachedSession:
    """A session as the encrypted store keeps it across restarts.

    `mfa_serial` is the device that vouched for it: a restored session is used only
    while the source profile still names that device.
    """

    session: Session
    mfa_serial: str


@dataclass(frozen=True, slots=True)
class CachedRole:
    """Role credentials as the store keeps them; used again only for the same role_arn."""

    credentials: RoleCredentials
    role_arn: str
    last_used: datetime | None
