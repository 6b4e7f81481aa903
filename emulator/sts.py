"""The STS actions and the credentials they issue; no HTTP here.

Two clocks, on purpose:

- the *clients'* clock (the injected ``clock``) judges what clients compute from their
  own time: SigV4 timestamps and TOTP codes, and it dates the ``Expiration`` clients are
  told;
- the *emulator's* clock is the clients' clock plus an offset that ``advance`` grows. It
  ages what the emulator has issued: credential expiry and MFA age. Advancing it makes
  every existing credential older, exactly as if that much time had passed, without
  making the clients' signatures stale.

Invariants: issued credentials are never forgotten or changed; role credentials expire
on their own schedule, whatever happens to the credentials that assumed the role.
"""

from __future__ import annotations

import base64
import hmac
import logging
import math
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from stsd.emulator import params
from stsd.emulator.config import EmulatorConfig, Role
from stsd.emulator.errors import (
    StsError,
    access_denied_assume_role,
    expired_token,
    invalid_client_token,
    validation_error,
)
from stsd.emulator.keys import AccessKeys
from stsd.emulator.mfa import MfaDevices, check_mfa_params
from stsd.emulator.principals import Principal, role_session, trusts, user_principal
from stsd.emulator.sigv4 import (
    SignedRequest,
    check_timestamp,
    parse_authorization,
    verify_signature,
)

__all__ = ["Caller", "Sts", "TemporaryCredentials"]

log = logging.getLogger(__name__)

# GetSessionToken: 15 min to 36 h, 12 h by default (IAM users).
SESSION_DEFAULT = 43200
SESSION_MAX = 129600
# AssumeRole: the API takes up to 12 h, 1 h by default; chained sessions at most 1 h.
ROLE_DEFAULT = 3600
ROLE_API_MAX = 43200
CHAINED_MAX = 3600

_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True, slots=True)
class TemporaryCredentials:
    """Credentials the emulator issued, and what they stand for."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime  # as told to the client, on the clients' clock
    expires_at: datetime  # when they expire on the emulator's clock
    principal: Principal
    kind: Literal["session", "role"]
    mfa_at: datetime | None  # emulator's clock: when an MFA code vouched for this chain
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request's identity; ``credentials`` is None for long-term keys."""

    principal: Principal
    credentials: TemporaryCredentials | None = None

    @property
    def mfa_at(self) -> datetime | None:
        return None if self.credentials is None else self.credentials.mfa_at


class Sts:
    """The STS service: authenticates requests and carries out the three actions."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], datetime]) -> None:
        self.config = config
        self._clock = clock
        self._offset = timedelta(0)
        self._issued: dict[str, TemporaryCredentials] = {}
        self.mfa = MfaDevices(config.users, clock)
        # Long-term keys: the configured ones, changed by IAM's Create/DeleteAccessKey.
        self.keys = AccessKeys(config.users, clock)

    def client_now(self) -> datetime:
        return self._clock()

    def now(self) -> datetime:
        return self._clock() + self._offset

    @property
    def offset(self) -> timedelta:
        """How far the emulator's clock is ahead of the clients'."""
        return self._offset

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for everything issued (credential expiry, MFA age)."""
        if seconds < 0:
            raise ValueError("the emulator's clock only moves forward")
        self._offset += timedelta(seconds=seconds)
        log.info("clock advanced by %s s (offset now %s)", seconds, self._offset)

    def authenticate(self, request: SignedRequest, service: str = "sts") -> Caller:
        """Identify the caller from the signed request, or raise STS's error for it."""
        auth = parse_authorization(request, service)
        key = self.keys.lookup(auth.access_key_id)
        if key is not None:
            if auth.security_token is not None:
                raise invalid_client_token()
            caller = Caller(user_principal(key.user))
            secret = key.secret_access_key
        else:
            issued = self._issued.get(auth.access_key_id)
            if (
                issued is None
                or auth.security_token is None
                or not hmac.compare_digest(auth.security_token, issued.session_token)
            ):
                raise invalid_client_token()
            if self.now() >= issued.expires_at:
                raise expired_token()
            caller = Caller(issued.principal, issued)
            secret = issued.secret_access_key
        check_timestamp(auth, self.client_now())
        verify_signature(request, auth, secret)
        return caller

    def all_issued(self) -> list[TemporaryCredentials]:
        """Every credential set issued so far (tests search logs for their secrets)."""
        return list(self._issued.values())

    def issued(self, access_key_id: str, secret: str, token: str) -> TemporaryCredentials | None:
        """The live credentials matching all three parts, or None (the federation check)."""
        issued = self._issued.get(access_key_id)
        if (
            issued is None
            or not hmac.compare_digest(secret, issued.secret_access_key)
            or not hmac.compare_digest(token, issued.session_token)
            or self.now() >= issued.expires_at
        ):
            return None
        return issued

    def get_session_token(
        self, caller: Caller, request: Mapping[str, str], lifetime_cap: int | None = None
    ) -> TemporaryCredentials:
        if caller.credentials is not None:
            raise StsError(
                "AccessDenied", "Cannot call GetSessionToken with session credentials", 403
            )
        duration = params.duration_seconds(request, default=SESSION_DEFAULT, maximum=SESSION_MAX)
        serial, code = request.get("SerialNumber"), request.get("TokenCode")
        check_mfa_params(serial, code)
        mfa_at = None
        if serial is not None and code is not None:
            self.mfa.accept(caller.principal.user, serial, code)
            mfa_at = self.now()
        return self._issue(caller.principal, "session", duration, lifetime_cap, mfa_at)

    def assume_role(
        self, caller: Caller, request: Mapping[str, str], lifetime_cap: int | None = None
    ) -> TemporaryCredentials:
        role_arn = params.role_arn(request)
        session_name = params.role_session_name(request)
        external_id = params.external_id(request)
        duration = params.duration_seconds(request, default=ROLE_DEFAULT, maximum=ROLE_API_MAX)
        serial, code = request.get("SerialNumber"), request.get("TokenCode")
        check_mfa_params(serial, code)
        mfa_at = caller.mfa_at
        if serial is not None and code is not None:
            # AssumeRole may carry its own code (botocore's mfa_serial on a role profile).
            self.mfa.accept(caller.principal.user, serial, code)
            mfa_at = self.now()
        role = self.config.role_by_arn(role_arn)
        refusal = (
            "no such role" if role is None else self._refusal(role, caller, mfa_at, external_id)
        )
        if role is None or refusal is not None:
            log.info("AssumeRole %s by %s refused: %s", role_arn, caller.principal.arn, refusal)
            raise access_denied_assume_role(caller.principal.arn, role_arn)
        if caller.credentials is not None and duration > CHAINED_MAX:
            raise validation_error(
                "The requested DurationSeconds exceeds the 1 hour session limit "
                "for roles assumed by role chaining."
            )
        if duration > role.max_session_duration:
            raise validation_error(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        principal = role_session(role, session_name, caller.principal.user)
        return self._issue(principal, "role", duration, lifetime_cap, mfa_at, external_id)

    def _refusal(
        self, role: Role, caller: Caller, mfa_at: datetime | None, external_id: str | None
    ) -> str | None:
        """Why ``role``'s trust policy refuses ``caller``, or None if it admits them."""
        if not trusts(role, caller.principal):
            return "caller not trusted"
        if role.require_mfa and mfa_at is None:
            return "aws:MultiFactorAuthPresent is not true"
        if role.max_mfa_age is not None:
            age = (self.now() - mfa_at).total_seconds() if mfa_at is not None else math.inf
            if age > role.max_mfa_age:
                return f"aws:MultiFactorAuthAge {age:.0f} s exceeds {role.max_mfa_age} s"
        if role.external_id is not None and (
            external_id is None or not hmac.compare_digest(external_id, role.external_id)
        ):
            return "sts:ExternalId does not match"
        return None

    def _issue(
        self,
        principal: Principal,
        kind: Literal["session", "role"],
        duration: int,
        lifetime_cap: int | None,
        mfa_at: datetime | None,
        external_id: str | None = None,
    ) -> TemporaryCredentials:
        lifetime = duration if lifetime_cap is None else min(duration, lifetime_cap)
        # Whole seconds, rounded up: the Expiration clients read is exactly when it ends.
        end = self.client_now() + timedelta(seconds=lifetime)
        expiration = end.replace(microsecond=0) + timedelta(seconds=1 if end.microsecond else 0)
        credentials = TemporaryCredentials(
            access_key_id="ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            secret_access_key="".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)),
            session_token=base64.b64encode(secrets.token_bytes(330)).decode(),
            expiration=expiration,
            expires_at=expiration + self._offset,
            principal=principal,
            kind=kind,
            mfa_at=mfa_at,
            external_id=external_id,
        )
        self._issued[credentials.access_key_id] = credentials
        log.info(
            "issued %s credentials ...%s for %s, %d s%s",
            kind,
            credentials.access_key_id[-4:],
            principal.arn,
            lifetime,
            ", MFA present" if mfa_at is not None else "",
        )
        return credentials
