"""`stsd status`: what the daemon holds, when it refreshes, what it waits for."""

import argparse
import json
from collections.abc import Mapping
from typing import Any

from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.output import fail, parse_time, until
from stsd.client.paths import Paths

__all__ = ["format_status", "run"]


def format_status(status: dict[str, Any], address: str | None) -> str:
    """`stsd status` for people: one block per source, one per role profile."""
    lines = [
        f"stsd: running since {_clock(status['started'])}"
        + (f", endpoint http://{address}/credentials/<profile>" if address else "")
    ]
    hard_floor = status.get("refresh", {}).get("hard_floor_seconds")
    for source in status["sources"]:
        if source.get("degraded"):
            floor = f" ({_seconds(hard_floor)} left)" if hard_floor else ""
            lines.append(
                f"DEGRADED ({source['name']}): {source.get('degraded_reason') or 'STS is failing'}"
                f"; cached credentials are served down to the hard floor{floor}"
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
        if role["expires"]:
            served = (
                f", served until {_clock(role['serve_until'])}" if role.get("serve_until") else ""
            )
            lines.append(f"  credentials: until {until(role['expires'])}{served}")
        else:
            lines.append("  credentials: none")
        if role["next_refresh"]:
            lines.append(f"  next refresh: {_clock(role['next_refresh'])}")
        elif role.get("active") is False and role["last_used"]:
            lines.append("  idle: not refreshed in the background until used again")
        if role["last_used"]:
            lines.append(f"  last used: {_clock(role['last_used'])}")
        if role["last_error"]:
            at = f" (at {_clock(role['last_error_at'])})" if role.get("last_error_at") else ""
            lines.append(f"  last error{at}: {role['last_error']}")
    leases = status.get("exec_leases") or []
    if leases:
        lines.append(f"stsd exec: {len(leases)} running")
        for lease in leases:
            lines.append(f"  {lease['label']} (profile {lease['profile']})")
    store = status.get("store")
    if store:
        lines.append(f"state: encrypted in {store['dir']}, master key in {store['key']}")
    if status.get("reload_error"):
        lines.append(
            "warning: the last reload was refused, still serving the previous configuration: "
            + status["reload_error"]
        )
    for warning in status.get("warnings", []):
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def _clock(value: str | None) -> str:
    """Local wall-clock time of an ISO UTC moment, to the second (lifetimes can be short)."""
    moment = parse_time(value)
    return moment.astimezone().strftime("%H:%M:%S") if moment else "-"


def _seconds(value: float) -> str:
    return f"{value / 60:g} min" if value >= 120 else f"{value:g} s"


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
