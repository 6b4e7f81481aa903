"""How the daemon opens a URL in the user's browser (the MFA page, from a notification).

`$STSD_OPEN_URL`, when set, is the command to run with the URL appended (shell words).
The systemd unit sets it to `systemd-run --user ... -- xdg-open`: a browser started
from inside the unit's sandbox would inherit it (a read-only home, no netlink), so it
is started by the user manager instead, outside. Unset: the platform's own opener.
"""

import os
import shlex
import sys
from collections.abc import Mapping

from stsd.client.units import OPEN_URL_ENV

__all__ = ["OPEN_URL_ENV", "open_url_argv"]


def open_url_argv(
    url: str, env: Mapping[str, str] | None = None, platform: str = sys.platform
) -> list[str]:
    """The argv that opens `url` (run it without a shell: the URL is one argument)."""
    env = os.environ if env is None else env
    custom = env.get(OPEN_URL_ENV, "").strip()
    if custom:
        return [*shlex.split(custom), url]
    return ["open", url] if platform == "darwin" else ["xdg-open", url]
