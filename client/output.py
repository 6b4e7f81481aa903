"""How the CLI speaks: errors and warnings on stderr, prefixed, never on stdout
(stdout of `stsd env` is eval'd by shells).

datetime is imported where times are shown: `stsd env` only warns and fails.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["fail", "parse_time", "until", "warn"]


def warn(message: str) -> None:
    print(f"stsd: warning: {message}", file=sys.stderr)


def fail(message: str, code: int = 1) -> int:
    print(f"stsd: {message}", file=sys.stderr)
    return code


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    from datetime import UTC, datetime

    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def until(value: str | None, now: datetime | None = None) -> str:
    """`14:32 (1h 05m left)` in local time, or `-`."""
    moment = parse_time(value)
    if moment is None:
        return "-"
    from datetime import UTC, datetime

    now = now or datetime.now(UTC)
    left = int((moment - now).total_seconds())
    local = moment.astimezone().strftime("%H:%M")
    if left <= 0:
        return f"{local} (expired)"
    hours, minutes = divmod(left // 60, 60)
    return f"{local} ({hours}h {minutes:02d}m left)" if hours else f"{local} ({minutes}m left)"
