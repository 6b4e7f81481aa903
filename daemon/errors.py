"""Errors of stsd, one tree, each with one HTTP status and one exit code.

    StsdError
    ├── ConfigError          the configuration is broken (exit 78, EX_CONFIG)
    ├── NeedsMfa             no MFA session: run `stsd login` (503, exit 3)
    ├── MfaCodeRejected      STS refused the code (403 on the control API, exit 4)
    ├── SessionExpired       STS says the session is gone (503, exit 3)
    ├── RoleDenied           AssumeRole refused: trust policy or MFA age (503, exit 5)
    ├── StsUnavailable       throttling, 5xx, network: retried with backoff (503, exit 6)
    ├── StoreCorrupt         an encrypted state file can't be read (exit 7)
    ├── StoreUnavailable     the encrypted store can't be written or has no key (503, exit 7)
    └── PromptUnavailable    an MFA driver can't run here (exit 8)

Messages say what to do next and never contain a secret.
"""

from typing import ClassVar

__all__ = [
    "ConfigError",
    "MfaCodeRejected",
    "NeedsMfa",
    "PromptUnavailable",
    "RoleDenied",
    "SessionExpired",
    "StoreCorrupt",
    "StoreUnavailable",
    "StsUnavailable",
    "StsdError",
]


class StsdError(Exception):
    """Base of every error stsd raises on purpose."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    @property
    def code(self) -> str:
        return type(self).__name__

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(StsdError):
    http_status = 500
    exit_code = 78  # EX_CONFIG: systemd's RestartPreventExitStatus keys on it


class NeedsMfa(StsdError):
    http_status = 503
    exit_code = 3


class SessionExpired(StsdError):
    http_status = 503
    exit_code = 3


class MfaCodeRejected(StsdError):
    http_status = 403
    exit_code = 4


class RoleDenied(StsdError):
    http_status = 503
    exit_code = 5


class StsUnavailable(StsdError):
    http_status = 503
    exit_code = 6


class StoreCorrupt(StsdError):
    http_status = 500
    exit_code = 7


class StoreUnavailable(StsdError):
    http_status = 503
    exit_code = 7


class PromptUnavailable(StsdError):
    http_status = 503
    exit_code = 8
