"""`stsd status`: what the daemon holds, when it refreshes, what it waits for."""

import argparse
import json
from collections.abc import Mapping
from typing import Any

from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.output import fail, until
from stsd.client.paths import Paths

__all__ = ["format_status", "run"]


def format_status(status: dict[str, Any], address: str | None) -> str:
    lines = [
        f"stsd: running since {until(status['started']).split(' ')[0]}"
        + (f", endpoint http://{address}/credentials/<profile>" if address else "")
    ]
    if status.get("degraded"):
        lines.append(
            "DEGRADED: STS is failing; cached credentials are served down to the hard floor"
        )
    for source in status["sources"]:
        lines.append(f"source {source['name']} ({source['mfa_serial']})")
        if source["session_expires"]:
            lines.append(
                f"  session: {source['user_arn']} until {until(source['session_expires'])}"
            )
        else:
            lines.append("  session: none")
        if source["pending_prompt"]:
            lines.append(
                f"  waiting for an MFA code ({source['pending_prompt']}): "
                f"stsd login {source['name']}"
            )
    for role in status["roles"]:
        lines.append(f"profile {role['profile']} -> {role['role_arn']} (source {role['source']})")
        lines.append(
            f"  credentials: until {until(role['expires'])}"
            if role["expires"]
            else "  credentials: none"
        )
        if role["next_refresh"]:
            lines.append(f"  next refresh: {until(role['next_refresh']).split(' ')[0]}")
        if role["last_used"]:
            lines.append(f"  last used: {until(role['last_used']).split(' ')[0]}")
        if role["last_error"]:
            lines.append(f"  last error: {role['last_error']}")
    if status.get("reload_error"):
        lines.append(
            "warning: the last reload was refused, still serving the previous configuration: "
            + status["reload_error"]
        )
    for warning in status.get("warnings", []):
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    paths = Paths.from_env(env)
    try:
        status = Control(paths.control_socket).get("/v1/status")
    except DaemonUnreachable as error:
        return fail(str(error))
    except ControlError as error:
        return fail(error.message, error.exit_code)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    try:
        address: str | None = paths.address_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        address = None
    print(format_status(status, address))
    return 0
