"""`stsd login`: hand the daemon an MFA code for a source profile."""

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.output import fail, until
from stsd.client.paths import Paths
from stsd.client.terminal import CODE, ask_code

__all__ = ["run"]

_EXIT_USAGE = 2


def _pick_source(status: dict[str, Any], requested: str | None) -> dict[str, Any]:
    sources: list[dict[str, Any]] = status.get("sources", [])
    names = ", ".join(s["name"] for s in sources) or "none"
    if requested is None:
        if len(sources) == 1:
            return sources[0]
        # Several sources, but only one is waiting for a code: that's the one.
        pending = [s for s in sources if s.get("pending_prompt")]
        if len(pending) == 1:
            return pending[0]
        raise ValueError(f"which source profile? name one of: {names}")
    for source in sources:
        if source["name"] == requested:
            return source
    raise ValueError(f"{requested} is not a source profile the daemon knows; known: {names}")


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    paths = Paths.from_env(env)
    control = Control(paths.control_socket)
    if args.code is not None and not CODE.match(args.code):
        return fail("an MFA code is 6 digits", _EXIT_USAGE)
    try:
        source = _pick_source(control.get("/v1/status"), args.source)
    except DaemonUnreachable as error:
        return fail(str(error))
    except ValueError as error:
        return fail(str(error), _EXIT_USAGE)
    code = args.code
    if code is None:
        # Hidden input on /dev/tty; without a terminal, one line from stdin (a pipe).
        prompt = f"MFA code for {source['name']} ({source['mfa_serial']}): "
        code = ask_code(prompt)
        if code is None:
            code = "".join(sys.stdin.readline().split())
        if not CODE.match(code):
            return fail("an MFA code is 6 digits", _EXIT_USAGE)
    try:
        reply = control.post("/v1/login", {"source": source["name"], "code": code})
    except DaemonUnreachable as error:
        return fail(str(error))
    except ControlError as error:
        return fail(error.message, error.exit_code)
    print(
        f"Logged in: {reply['user_arn']} (source {reply['source']}), "
        f"session until {until(reply['session_expires'])}"
    )
    return 0
