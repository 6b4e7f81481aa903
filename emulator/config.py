"""The emulator's world: IAM users with keys and an MFA device, and roles with trust rules.

Loaded from TOML (``load_config``), written back with ``dump_config`` so tests and
``stsd demo`` can hand a file to the emulator's process. Every value is checked on load:
a typo in a test fixture should fail loudly, not turn into a confusing STS refusal later.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEMO_CONFIG",
    "EmulatorConfig",
    "EmulatorConfigError",
    "Role",
    "User",
    "dump_config",
    "load_config",
]

ACCOUNT_RE = re.compile(r"\d{12}")
ACCESS_KEY_RE = re.compile(r"AKIA[A-Z0-9]{16}")
USER_NAME_RE = re.compile(r"[\w+=,.@-]{1,64}")
MFA_SERIAL_RE = re.compile(r"arn:aws:iam::(\d{12}):mfa/[\w+=,.@/-]{1,512}")
ROLE_ARN_RE = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})")
USER_ARN_RE = re.compile(r"arn:aws:iam::(\d{12}):user/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
ROOT_ARN_RE = re.compile(r"arn:aws:iam::(\d{12}):root")

# IAM's limits on a role's MaxSessionDuration.
MIN_ROLE_DURATION = 3600
MAX_ROLE_DURATION = 43200


class EmulatorConfigError(Exception):
    """The emulator's configuration is unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class User:
    """An IAM user in a bastion account, with one access key and one virtual MFA device."""

    name: str
    account: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    mfa_serial: str
    totp_seed: str = field(repr=False)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.name}"


@dataclass(frozen=True, slots=True)
class Role:
    """An IAM role and the parts of its trust policy the emulator enforces.

    ``trusted`` holds principals: an account id or ``arn:aws:iam::ACCT:root`` (anyone in
    that account), a user ARN, or a role ARN (sessions of that role: role chaining).
    ``require_mfa`` is the ``aws:MultiFactorAuthPresent`` condition, ``max_mfa_age`` the
    ``aws:MultiFactorAuthAge`` one, ``external_id`` the ``sts:ExternalId`` one.
    """

    arn: str
    trusted: tuple[str, ...]
    require_mfa: bool = True
    max_session_duration: int = 3600
    max_mfa_age: int | None = None
    external_id: str | None = None

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def name(self) -> str:
        """The role's name without its path: assumed-role ARNs drop the path."""
        return self.arn.rsplit("/", 1)[1]


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    users: tuple[User, ...]
    roles: tuple[Role, ...]

    def __post_init__(self) -> None:
        # Constructed in code (tests, DEMO_CONFIG) or from a file: the same checks apply.
        problems = _problems(self)
        if problems:
            raise EmulatorConfigError("; ".join(problems))

    def user_by_key(self, access_key_id: str) -> User | None:
        return next((u for u in self.users if u.access_key_id == access_key_id), None)

    def user_by_name(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)

    def role_by_arn(self, arn: str) -> Role | None:
        return next((r for r in self.roles if r.arn == arn), None)


def load_config(path: str | Path) -> EmulatorConfig:
    """Read and check an emulator config file; errors name the file and the bad field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EmulatorConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise EmulatorConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise EmulatorConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return _parse(data)
    except EmulatorConfigError as exc:
        raise EmulatorConfigError(f"{path}: {exc}") from None


def dump_config(config: EmulatorConfig) -> str:
    """Return ``config`` as TOML text that ``load_config`` reads back to an equal config."""
    lines: list[str] = []
    for user in config.users:
        lines.append("[[users]]")
        lines += [
            f"name = {_toml_str(user.name)}",
            f"account = {_toml_str(user.account)}",
            f"access_key_id = {_toml_str(user.access_key_id)}",
            f"secret_access_key = {_toml_str(user.secret_access_key)}",
            f"mfa_serial = {_toml_str(user.mfa_serial)}",
            f"totp_seed = {_toml_str(user.totp_seed)}",
            "",
        ]
    for role in config.roles:
        lines.append("[[roles]]")
        lines.append(f"arn = {_toml_str(role.arn)}")
        lines.append(f"trusted = [{', '.join(_toml_str(t) for t in role.trusted)}]")
        lines.append(f"require_mfa = {'true' if role.require_mfa else 'false'}")
        lines.append(f"max_session_duration = {role.max_session_duration}")
        if role.max_mfa_age is not None:
            lines.append(f"max_mfa_age = {role.max_mfa_age}")
        if role.external_id is not None:
            lines.append(f"external_id = {_toml_str(role.external_id)}")
        lines.append("")
    return "\n".join(lines)


def _toml_str(value: str) -> str:
    # A JSON string with non-ASCII escaped is also a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


_USER_FIELDS = ("name", "account", "access_key_id", "secret_access_key", "mfa_serial", "totp_seed")
_ROLE_FIELDS = (
    "arn",
    "trusted",
    "require_mfa",
    "max_session_duration",
    "max_mfa_age",
    "external_id",
)


def _parse(data: Mapping[str, Any]) -> EmulatorConfig:
    unknown = sorted(set(data) - {"users", "roles"})
    if unknown:
        raise EmulatorConfigError(f"unknown top-level key {unknown[0]!r} (expected users, roles)")
    users = tuple(
        _parse_user(f"users[{i}]", entry) for i, entry in enumerate(_tables(data, "users"))
    )
    roles = tuple(
        _parse_role(f"roles[{i}]", entry) for i, entry in enumerate(_tables(data, "roles"))
    )
    return EmulatorConfig(users=users, roles=roles)


def _tables(data: Mapping[str, Any], key: str) -> Sequence[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise EmulatorConfigError(f"{key}: must be an array of tables ([[{key}]])")
    return value


def _check_keys(where: str, entry: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise EmulatorConfigError(
            f"{where}: unknown key {unknown[0]!r} (expected {', '.join(allowed)})"
        )


def _string(where: str, entry: Mapping[str, Any], key: str) -> str:
    if key not in entry:
        raise EmulatorConfigError(f"{where}.{key}: missing")
    value = entry[key]
    if not isinstance(value, str):
        raise EmulatorConfigError(f"{where}.{key}: must be a string")
    return value


def _optional_int(where: str, entry: Mapping[str, Any], key: str) -> int | None:
    value = entry.get(key)
    # bool is an int in Python; TOML's true is not a duration.
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise EmulatorConfigError(f"{where}.{key}: must be an integer")
    return value


def _parse_user(where: str, entry: Mapping[str, Any]) -> User:
    _check_keys(where, entry, _USER_FIELDS)
    return User(**{key: _string(where, entry, key) for key in _USER_FIELDS})


def _parse_role(where: str, entry: Mapping[str, Any]) -> Role:
    _check_keys(where, entry, _ROLE_FIELDS)
    trusted = entry.get("trusted")
    if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
        raise EmulatorConfigError(f"{where}.trusted: must be an array of strings")
    require_mfa = entry.get("require_mfa", True)
    if not isinstance(require_mfa, bool):
        raise EmulatorConfigError(f"{where}.require_mfa: must be true or false")
    external_id = entry.get("external_id")
    if external_id is not None and not isinstance(external_id, str):
        raise EmulatorConfigError(f"{where}.external_id: must be a string")
    max_duration = _optional_int(where, entry, "max_session_duration")
    return Role(
        arn=_string(where, entry, "arn"),
        trusted=tuple(trusted),
        require_mfa=require_mfa,
        max_session_duration=3600 if max_duration is None else max_duration,
        max_mfa_age=_optional_int(where, entry, "max_mfa_age"),
        external_id=external_id,
    )


def _problems(config: EmulatorConfig) -> list[str]:
    """Every inconsistency in ``config``, each naming the entry and field at fault."""
    problems: list[str] = []
    for i, user in enumerate(config.users):
        problems += [f"users[{i}].{p}" for p in _user_problems(user)]
    for i, role in enumerate(config.roles):
        problems += [f"roles[{i}].{p}" for p in _role_problems(role)]
    for what, values in (
        ("user name", [u.name for u in config.users]),
        ("access_key_id", [u.access_key_id for u in config.users]),
        ("mfa_serial", [u.mfa_serial for u in config.users]),
        ("role arn", [r.arn for r in config.roles]),
    ):
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            problems.append(f"duplicate {what} {duplicates[0]!r}")
    return problems


def _user_problems(user: User) -> list[str]:
    problems: list[str] = []
    if not USER_NAME_RE.fullmatch(user.name):
        problems.append(f"name: {user.name!r} is not a valid IAM user name")
    if not ACCOUNT_RE.fullmatch(user.account):
        problems.append(f"account: {user.account!r} is not a 12-digit account id")
    if not ACCESS_KEY_RE.fullmatch(user.access_key_id):
        problems.append("access_key_id: must be AKIA followed by 16 upper-case letters or digits")
    if len(user.secret_access_key) != 40:
        # The secret is never echoed, only its shape is described.
        problems.append("secret_access_key: must be 40 characters long")
    serial = MFA_SERIAL_RE.fullmatch(user.mfa_serial)
    if serial is None:
        problems.append(f"mfa_serial: {user.mfa_serial!r} is not arn:aws:iam::ACCOUNT:mfa/NAME")
    elif serial.group(1) != user.account:
        problems.append(f"mfa_serial: {user.mfa_serial!r} is not in account {user.account}")
    if not _is_base32(user.totp_seed):
        problems.append("totp_seed: must be a base32 string (A-Z, 2-7), at least 16 characters")
    return problems


def _role_problems(role: Role) -> list[str]:
    problems: list[str] = []
    if not ROLE_ARN_RE.fullmatch(role.arn):
        problems.append(f"arn: {role.arn!r} is not arn:aws:iam::ACCOUNT:role/[PATH/]NAME")
    if not role.trusted:
        problems.append("trusted: must name at least one principal")
    for principal in role.trusted:
        if not _is_principal(principal):
            problems.append(
                f"trusted: {principal!r} is not an account id, account root, user or role ARN"
            )
    if not MIN_ROLE_DURATION <= role.max_session_duration <= MAX_ROLE_DURATION:
        problems.append(
            f"max_session_duration: {role.max_session_duration} is outside "
            f"{MIN_ROLE_DURATION}..{MAX_ROLE_DURATION} seconds"
        )
    if role.max_mfa_age is not None and role.max_mfa_age <= 0:
        problems.append(f"max_mfa_age: {role.max_mfa_age} must be a positive number of seconds")
    if role.external_id is not None and not 2 <= len(role.external_id) <= 1224:
        problems.append("external_id: must be 2 to 1224 characters long")
    return problems


def _is_principal(value: str) -> bool:
    return any(
        pattern.fullmatch(value) for pattern in (ACCOUNT_RE, ROOT_ARN_RE, USER_ARN_RE, ROLE_ARN_RE)
    )


def _is_base32(seed: str) -> bool:
    if len(seed) < 16 or not re.fullmatch(r"[A-Z2-7]+=*", seed):
        return False
    try:
        base64.b32decode(seed + "=" * (-len(seed) % 8))
    except binascii.Error:
        return False
    return True


# The demo world: alice in the bastion account, two work roles that require MFA, and a
# deploy role in a third account reachable only by chaining from ReadOnly. These keys and
# the seed are public test fixtures, valid nowhere but in the emulator.
DEMO_CONFIG = EmulatorConfig(
    users=(
        User(
            name="alice",
            account="111111111111",
            access_key_id="AKIAEMULATORALICE001",
            secret_access_key="emulatorSecretKeyForAliceDoNotUse0000000",  # noqa: S106
            mfa_serial="arn:aws:iam::111111111111:mfa/alice",
            totp_seed="JBSWY3DPEHPK3PXPALICEEMULATOR234",
        ),
    ),
    roles=(
        Role(
            arn="arn:aws:iam::222222222222:role/ReadOnly",
            trusted=("111111111111",),
        ),
        Role(
            arn="arn:aws:iam::222222222222:role/PowerUser",
            trusted=("111111111111",),
        ),
        Role(
            arn="arn:aws:iam::333333333333:role/path/Deploy",
            trusted=("arn:aws:iam::222222222222:role/ReadOnly",),
            require_mfa=False,
        ),
    ),
)
