"""Request parameters checked against STS's API constraints, with STS's wording."""

from __future__ import annotations

import re
from collections.abc import Mapping

from stsd.emulator.errors import validation_error

__all__ = ["duration_seconds", "external_id", "required", "role_arn", "role_session_name"]

ROLE_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]*")
EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]*")


def _constraint(value: object, member: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return (
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        member = name[0].lower() + name[1:]
        raise validation_error(_constraint(None, member, "Member must not be null"))
    return value


def duration_seconds(params: Mapping[str, str], *, default: int, maximum: int) -> int:
    """``DurationSeconds`` within the API's bounds (900..``maximum``), else ValidationError."""
    raw = params.get("DurationSeconds")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(
            _constraint(raw, "durationSeconds", "Member must be an integer")
        ) from None
    if value < 900:
        raise validation_error(
            _constraint(
                value, "durationSeconds", "Member must have value greater than or equal to 900"
            )
        )
    if value > maximum:
        raise validation_error(
            _constraint(
                value, "durationSeconds", f"Member must have value less than or equal to {maximum}"
            )
        )
    return value


def role_session_name(params: Mapping[str, str]) -> str:
    name = required(params, "RoleSessionName")
    if not 2 <= len(name) <= 64:
        raise validation_error(
            _constraint(name, "roleSessionName", "Member must have length between 2 and 64")
        )
    if not ROLE_SESSION_NAME_RE.fullmatch(name):
        raise validation_error(
            _constraint(
                name,
                "roleSessionName",
                "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
            )
        )
    return name


def role_arn(params: Mapping[str, str]) -> str:
    arn = required(params, "RoleArn")
    if not 20 <= len(arn) <= 2048:
        raise validation_error(
            _constraint(arn, "roleArn", "Member must have length between 20 and 2048")
        )
    if not arn.startswith("arn:"):
        raise validation_error(f"{arn} is invalid")
    return arn


def external_id(params: Mapping[str, str]) -> str | None:
    value = params.get("ExternalId")
    if value is None:
        return None
    if not 2 <= len(value) <= 1224:
        raise validation_error(
            _constraint(value, "externalId", "Member must have length between 2 and 1224")
        )
    if not EXTERNAL_ID_RE.fullmatch(value):
        raise validation_error(
            _constraint(
                value,
                "externalId",
                "Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*",
            )
        )
    return value
