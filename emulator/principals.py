"""Who is calling: an IAM user or a role session, and whether a role's trust admits them."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass

from stsd.emulator.config import Role, User

__all__ = ["Principal", "role_session", "trusts", "user_principal"]

_ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity credentials act as.

    ``user`` is the IAM user at the root of the chain: it owns the MFA device and its name
    is what CloudTrail would trace the call back to. ``role`` is set for role sessions.
    """

    account: str
    arn: str
    user_id: str
    user: User
    role: Role | None = None
    session_name: str | None = None


def user_principal(user: User) -> Principal:
    return Principal(
        account=user.account, arn=user.arn, user_id=_unique_id("AIDA", user.arn), user=user
    )


def role_session(role: Role, session_name: str, user: User) -> Principal:
    """The principal of a session of ``role``; its ARN drops the role's path, as STS does."""
    return Principal(
        account=role.account,
        arn=f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session_name}",
        user_id=f"{_unique_id('AROA', role.arn)}:{session_name}",
        user=user,
        role=role,
        session_name=session_name,
    )


def trusts(role: Role, caller: Principal) -> bool:
    """Whether ``role``'s trust policy names ``caller`` (conditions are checked elsewhere)."""
    own_arn = caller.role.arn if caller.role is not None else caller.user.arn
    return any(
        principal in (caller.account, f"arn:aws:iam::{caller.account}:root", own_arn)
        for principal in role.trusted
    )


def _unique_id(prefix: str, arn: str) -> str:
    # IAM's unique ids: a type prefix and 17 upper-case characters, stable per entity.
    digest = hashlib.sha256(arn.encode()).digest()
    return prefix + "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:17])
