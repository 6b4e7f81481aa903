"""MFA prompt drivers: how stsd reaches the user when it needs a code.

Each driver lives in its own module and implements `MfaPrompt` (see `base`).
`DRIVERS` is the explicit registry, in the default order (DESIGN.md, "MFA prompt
drivers"): mfa_process, TOTP from the encrypted store, desktop notification,
terminal. config.toml may choose another order per source profile
(`[sources.NAME] mfa_drivers = [...]`, or `[mfa] drivers` for all); `resolve` builds
the chain for one source. A driver that can't run here says why
(`unavailable_reason`) and is skipped.
"""

from collections.abc import Sequence

from stsd.daemon.errors import ConfigError
from stsd.daemon.prompts.base import (
    CODE_PATTERN,
    DriverContext,
    MfaPrompt,
    PromptRequest,
    describe,
    find_code,
)
from stsd.daemon.prompts.notify import DesktopPrompt
from stsd.daemon.prompts.process import MfaProcessPrompt
from stsd.daemon.prompts.terminal import TerminalPrompt
from stsd.daemon.prompts.totp import TotpPrompt

__all__ = [
    "CODE_PATTERN",
    "DRIVERS",
    "DriverContext",
    "MfaPrompt",
    "PromptRequest",
    "check_names",
    "describe",
    "driver_names",
    "find_code",
    "resolve",
]

DRIVERS: list[type[MfaPrompt]] = [
    MfaProcessPrompt,
    TotpPrompt,  # opt-in: a seed in the encrypted store
    DesktopPrompt,
    TerminalPrompt,
]


def driver_names(drivers: Sequence[type[MfaPrompt]] = DRIVERS) -> list[str]:
    return [driver.name for driver in drivers]


def check_names(
    names: Sequence[str], where: str, drivers: Sequence[type[MfaPrompt]] = DRIVERS
) -> None:
    """Refuse driver names stsd doesn't have, listing those it does.

    Raises:
        ConfigError: naming `where` (the config key) and the unknown names.
    """
    known = driver_names(drivers)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"{where}: unknown MFA driver {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(known)}"
        )


def resolve(
    names: Sequence[str] | None,
    context: DriverContext,
    drivers: Sequence[type[MfaPrompt]] = DRIVERS,
) -> list[MfaPrompt]:
    """The drivers `names` (default: all of `drivers`, in order) built for one source.

    Raises:
        ConfigError: an unknown name.
    """
    if names is None:
        return [driver.create(context) for driver in drivers]
    check_names(names, f"mfa_drivers of {context.source.name}", drivers)
    by_name = {driver.name: driver for driver in drivers}
    return [by_name[name].create(context) for name in names]
