"""`stsd mfa totp add|remove [SOURCE]`: an opt-in TOTP seed in the encrypted store.

The seed (base32, or an otpauth:// URI) is read from stdin, hidden when stdin is a
terminal, and handed to the daemon, which checks it by logging in with its current code
and only then stores it encrypted. It never appears in argv (visible in `ps`).
"""

import argparse
import getpass
import sys
from collections.abc import Mapping

from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.output import fail, until
from stsd.client.paths import Paths

__all__ = ["run"]

# A seed or URI is short; anything longer is not one (and is not kept in memory).
_MAX_INPUT = 4096


def _read_seed() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("TOTP seed (base32) or otpauth:// URI: ")
    return sys.stdin.read(_MAX_INPUT + 1)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    control = Control(Paths.from_env(env).control_socket, timeout=90.0)
    try:
        if args.action == "remove":
            reply = control.post("/v1/mfa/totp/remove", {"source": args.source})
            print(f"Removed the TOTP seed of {reply['source']} from the store.")
            return 0
        seed = _read_seed()
        if len(seed) > _MAX_INPUT:
            return fail("that is not a TOTP seed (too long)", 2)
        reply = control.post("/v1/mfa/totp/add", {"source": args.source, "seed": seed})
    except DaemonUnreachable as error:
        return fail(str(error))
    except ControlError as error:
        return fail(error.message, error.exit_code)
    print(
        f"Stored the TOTP seed of {reply['source']} ({reply['mfa_serial']}) encrypted; its "
        f"code logged in, session until {until(reply['session_expires'])}. This disk now "
        "holds the second factor too."
    )
    return 0
