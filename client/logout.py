"""`stsd logout` and `stsd lock`: forget sessions and role credentials."""

import argparse
from collections.abc import Mapping

from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.output import fail
from stsd.client.paths import Paths

__all__ = ["run"]


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    everything = args.command == "lock" or bool(getattr(args, "all", False))
    source = None if everything else args.source
    try:
        reply = Control(Paths.from_env(env).control_socket).post(
            "/v1/logout", {"source": source, "all": everything}
        )
    except DaemonUnreachable as error:
        return fail(str(error))
    except ControlError as error:
        return fail(error.message, error.exit_code)
    forgotten = ", ".join(reply.get("forgotten", [])) or "nothing"
    print(f"Forgot the MFA sessions and role credentials of: {forgotten}")
    return 0
