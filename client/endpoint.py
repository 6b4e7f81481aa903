"""Fetch role credentials from the daemon's endpoint, as an SDK would.

For CLI commands that need the credentials themselves (`console`): they use the
default token and the address the daemon wrote, so they share its session.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from stsd.client.liveness import daemon_listening
from stsd.client.paths import Paths
from stsd.client.tokens import read_token

__all__ = ["EXIT_CODES", "EndpointError", "fetch_role_credentials"]

# The daemon answers within 0.8 s by design; allow for a loaded machine.
_TIMEOUT_SECONDS = 5


class EndpointError(Exception):
    """No credentials: the message says why and what to do; `exit_code` follows."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# The daemon's error codes, as exit codes (README, "Commands"); the ones of
# stsd.daemon.errors (test_compat_credential_process checks they agree), plus the
# endpoint's own UnknownProfile, a usage error.
EXIT_CODES = {
    "NeedsMfa": 3,
    "SessionExpired": 3,
    "MfaCodeRejected": 4,
    "RoleDenied": 5,
    "StsUnavailable": 6,
    "StoreCorrupt": 7,
    "StoreUnavailable": 7,
    "PromptUnavailable": 8,
    "ConfigError": 78,
    "UnknownProfile": 2,
}


def fetch_role_credentials(paths: Paths, profile: str) -> dict[str, Any]:
    """The `{"AccessKeyId", ...}` JSON the daemon serves for `profile`.

    Raises:
        EndpointError: daemon down, or its JSON error (message passed on).
    """
    if not daemon_listening(paths.control_socket):
        raise EndpointError("the stsd daemon is not running: start it with `stsd serve`")
    try:
        address = paths.address_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise EndpointError("the stsd daemon wrote no address file; restart it") from None
    token = read_token(paths.token_file)
    if token is None:
        raise EndpointError(f"no token in {paths.token_file}; restart the daemon")
    request = urllib.request.Request(  # noqa: S310 - http to the loopback address it wrote
        f"http://{address}/credentials/{urllib.parse.quote(profile, safe='')}",
        headers={"Authorization": token},
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
            body: dict[str, Any] = json.load(response)
            return body
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read())
        except ValueError:
            detail = {}
        code = str(detail.get("code", error.code))
        message = str(detail.get("message", f"the daemon answered {error.code}"))
        raise EndpointError(message, EXIT_CODES.get(code, 1)) from None
    except (urllib.error.URLError, OSError) as error:
        raise EndpointError(f"can't reach the stsd daemon at {address}: {error}") from None
