"""`stsd keys import|list|remove|rotate [SOURCE]`: long-term keys in the encrypted store.

The daemon is the store's only writer: each command is one control API call.
"""

import argparse
from collections.abc import Mapping

from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.output import fail
from stsd.client.paths import Paths

__all__ = ["run"]


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    control = Control(Paths.from_env(env).control_socket, timeout=60.0)
    try:
        if args.action == "list":
            return _print_list(control.get("/v1/keys")["keys"])
        reply = control.post(f"/v1/keys/{args.action}", {"source": args.source})
    except DaemonUnreachable as error:
        return fail(str(error))
    except ControlError as error:
        return fail(error.message, error.exit_code)
    if args.action == "import":
        print(
            f"Moved the keys of {reply['source']} ({reply['access_key_id']}) from "
            f"{reply['file']} into stsd's encrypted store."
        )
        if not reply.get("used"):
            print(f"Note: no role profile names {reply['source']} as its source_profile.")
    elif args.action == "remove":
        fallback = reply.get("fallback")
        print(
            f"Removed the keys of {reply['source']} from the store; "
            + (f"the daemon now uses those in {fallback}." if fallback else "it has none now.")
        )
    else:
        print(
            f"Rotated the key of {reply['source']}: {reply['old']} deleted, {reply['new']} in use."
        )
    return 0


def _print_list(keys: list[dict[str, object]]) -> int:
    if not keys:
        print("No source profiles and no stored keys.")
    for entry in keys:
        line = f"{entry['source']}: {entry['access_key_id'] or '-'} in {entry['where']}"
        if entry.get("totp"):
            line += ", TOTP seed stored"
        if entry.get("note"):
            line += f" ({entry['note']})"
        print(line)
    return 0
