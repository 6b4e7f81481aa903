"""Entry point of the `stsd` command: flag wiring here, the work in one module per command.

Command modules are imported only when their command runs, so `stsd env` loads the
standard library and nothing else.
"""

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
stsd keeps your bastion IAM user's keys, asks for an MFA code once, and serves fresh
role credentials to every AWS SDK through the container-credentials endpoint.

Day one:  stsd serve &   stsd login   eval "$(stsd env PROFILE)"   aws sts get-caller-identity
Try it:   stsd demo      (everything against a local STS emulator, nothing touches AWS)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stsd",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the daemon in the foreground (systemd/launchd run this)",
        description="Run the daemon in the foreground. It reads ~/.aws/config (role "
        "profiles), ~/.aws/credentials (the bastion user's keys) and "
        "$XDG_CONFIG_HOME/stsd/config.toml, and serves http://127.0.0.1:PORT/credentials/"
        "<profile>.",
    )
    serve.add_argument(
        "--listen",
        metavar="127.0.0.1:PORT",
        help="loopback address of the credentials endpoint (default: `listen` in "
        "config.toml, else 127.0.0.1:9925); port 0 picks a free one",
    )
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="stsd's settings file (default: config.toml in the XDG dir)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="default: info",
    )

    login = commands.add_parser(
        "login",
        help="give the daemon an MFA code",
        description="Start an MFA session for a source profile (the one holding the "
        "bastion user's keys and mfa_serial). Without --code, asks on the terminal with "
        "hidden input.",
    )
    login.add_argument("source", nargs="?", metavar="SOURCE", help="default: the only source")
    login.add_argument("--code", metavar="CODE", help="the 6-digit code (default: ask)")

    env = commands.add_parser(
        "env",
        help="print the lines that point a shell at the daemon",
        description='Print shell lines for PROFILE; use as: eval "$(stsd env PROFILE)". '
        "Works while the daemon is down (warns on stderr).",
    )
    env.add_argument("profile", nargs="?", metavar="PROFILE", help="default: default_profile")
    env.add_argument("--shell", choices=["bash", "zsh", "fish"], help="default: from $SHELL")
    env.add_argument("--unset", action="store_true", help="print lines that undo it")
    env.add_argument("--json", action="store_true", help="print JSON instead of shell lines")
    env.add_argument(
        "--no-token-env",
        action="store_true",
        help="leave AWS_CONTAINER_AUTHORIZATION_TOKEN out (SDKs read the token file)",
    )

    status = commands.add_parser(
        "status", help="sessions, roles, expiries, refreshes, pending prompts"
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")

    logout = commands.add_parser(
        "logout", help="forget MFA sessions and role credentials (memory and disk)"
    )
    logout.add_argument("source", nargs="?", metavar="SOURCE", help="default: the only source")
    logout.add_argument("--all", action="store_true", help="every source")

    commands.add_parser("lock", help="forget everything until the next MFA code")

    exec_ = commands.add_parser(
        "exec",
        help="run a command with a token good for one profile only",
        usage="stsd exec PROFILE -- CMD [ARG ...]",
        description="Run CMD (no shell) with a token that fetches PROFILE's credentials "
        "and nothing else, revoked when CMD exits (or within `[exec] lease_seconds` of "
        "config.toml, 15 s by default, if stsd exec itself is killed). CMD gets the full "
        "URI, the token (in a 0600 file and the variable) and PROFILE's region; variables "
        "that would override the container provider are removed, and access keys in "
        "[default] of the credentials file are hidden from it. Signals are passed on "
        "(those from the terminal reach CMD directly) and stsd exec ends as CMD ended. "
        "Needs the daemon running.",
    )
    exec_.add_argument("profile", metavar="PROFILE", help="a role profile of ~/.aws/config")
    exec_.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...")

    token = commands.add_parser("token", help="manage the default token")
    token_commands = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    token_commands.add_parser(
        "rotate",
        help="replace the default token; the old one stops working at once",
        description="Write a new token to the token file (0600, atomically). Shells that "
        'exported the old one need `eval "$(stsd env)"` again.',
    )

    policy = commands.add_parser(
        "policy",
        help="print the IAM policies of the bastion-account pattern",
        description="bastion: the policy for the bastion account's user group (MFA session "
        "and role assumption only). trust: a work role's trust policy (bastion account, MFA).",
    )
    policy.add_argument("kind", choices=["bastion", "trust"])
    policy.add_argument(
        "--bastion-account", metavar="ID", help="the bastion account's id (required for trust)"
    )
    policy.add_argument(
        "--role-arn",
        action="append",
        metavar="ARN",
        help="bastion: roles users may assume (repeatable; default: any role, MFA required)",
    )
    policy.add_argument(
        "--max-mfa-age",
        type=int,
        metavar="SECONDS",
        help="trust: also require aws:MultiFactorAuthAge below this (at least the session)",
    )

    console = commands.add_parser(
        "console",
        help="open the AWS console as the role",
        description="Sign in to the AWS console with PROFILE's role credentials through the "
        "federation endpoint (`[console] signin_url` in config.toml).",
    )
    console.add_argument("profile", nargs="?", metavar="PROFILE", help="default: default_profile")
    console.add_argument(
        "--print", action="store_true", help="print the sign-in URL (a secret for 15 min)"
    )
    console.add_argument("--destination", metavar="URL", help="console page to open")

    demo = commands.add_parser(
        "demo",
        help="run the whole flow against a local STS emulator",
        description="Start a local STS emulator and a daemon in a temporary home, log in "
        "with an MFA code, and run a separate boto3 process through `stsd env`. Touches "
        "neither AWS nor your files.",
    )
    demo.add_argument(
        "--auto-mfa", action="store_true", help="answer the MFA prompt with the emulator's code"
    )

    emulator = commands.add_parser(
        "emulator",
        help="run the strict local STS emulator",
        add_help=False,
        description="Run the local STS emulator (see `stsd emulator --help`).",
    )
    emulator.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


_MODULES = {
    "serve": "serve",
    "login": "login",
    "env": "env",
    "status": "status",
    "logout": "logout",
    "lock": "logout",
    "exec": "exec",
    "token": "rotate",
    "policy": "policy",
    "console": "console",
    "demo": "demo",
    "emulator": "emulator",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `stsd` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"stsd {version('stsd')}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(f"stsd.client.{_MODULES[args.command]}")
    try:
        code: int = module.run(args, os.environ)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    return code
