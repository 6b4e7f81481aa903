"""Entry point of the `stsd` command: flag wiring here, the work in one module per command.

Command modules are imported only when their command runs, so `stsd env` loads the
standard library and nothing else. The forms shells and SDKs run at every start
(`stsd env [PROFILE]`, `stsd credential-process PROFILE`) skip argparse altogether:
importing it and building this parser is a third of their run time (see `_fast_args`).
"""

from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
stsd keeps your bastion IAM user's keys, asks for an MFA code once, and serves fresh
role credentials to every AWS SDK through the container-credentials endpoint.

Day one:  stsd serve &   stsd login   eval "$(stsd env PROFILE)"   aws sts get-caller-identity
Try it:   stsd demo      (everything against a local STS emulator, nothing touches AWS)
"""


def build_parser() -> argparse.ArgumentParser:
    import argparse

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
        "<profile>. One per user (a second one exits 1 naming the first). SIGHUP re-reads "
        "the configuration (a broken one is refused, the running one stays); SIGTERM or "
        "SIGINT stop it cleanly. Exit 78: broken configuration. `stsd service install` "
        "lets systemd or launchd run it.",
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
        help="default: info (lines to stderr: timestamped, or with syslog priorities when "
        "stderr is systemd's journal)",
    )
    serve.add_argument(
        "--event-loop",
        default="asyncio",
        choices=["asyncio", "uvloop"],
        help="uvloop: a tenth less CPU per request; needs pip install 'stsd[uvloop]' "
        "(default: asyncio's own loop)",
    )

    login = commands.add_parser(
        "login",
        help="give the daemon an MFA code",
        description="Start an MFA session for a source profile (the one holding the "
        "bastion user's keys and mfa_serial). Without --code, asks on the terminal with "
        "hidden input (or reads one line from stdin when there is no terminal). One code "
        "serves every source profile with the same MFA device.",
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
    env.add_argument(
        "--unset",
        action="store_true",
        help="print lines that remove what it sets (needs no PROFILE and no daemon)",
    )
    env.add_argument("--json", action="store_true", help="print JSON instead of shell lines")
    env.add_argument(
        "--login",
        action="store_true",
        help="when PROFILE's source has no MFA session, ask for a code on the terminal "
        "(/dev/tty, hidden; never on stdout) before printing the lines",
    )
    env.add_argument(
        "--no-token-env",
        action="store_true",
        help="leave AWS_CONTAINER_AUTHORIZATION_TOKEN out (SDKs read the token file)",
    )
    env.add_argument(
        "--imds",
        action="store_true",
        help="also point IMDS clients at the daemon (needs [imds] profile in config.toml)",
    )

    credential_process = commands.add_parser(
        "credential-process",
        help="print a profile's credentials for `credential_process` in ~/.aws/config",
        description="Print PROFILE's role credentials as credential_process JSON (Version 1), "
        "fetched from the running daemon: tools that only read profiles share its session. "
        "Use it from a profile of its own, e.g. [profile prod-stsd] with "
        "`credential_process = stsd credential-process prod`, then AWS_PROFILE=prod-stsd "
        "or --profile prod-stsd. Not in PROFILE's own section: SDKs would assume its role "
        "themselves. Exits 1 when the daemon is down, 3 when it needs an MFA code "
        "(`stsd login`), 2 for an unknown profile.",
    )
    credential_process.add_argument("profile", metavar="PROFILE", help="a role profile")

    status = commands.add_parser(
        "status",
        help="sessions, roles, expiries, refreshes, pending prompts",
        description="What the daemon holds. Per source: the MFA session's expiry and any "
        "code it waits for (run `stsd login SOURCE`). Per role profile: when its "
        "credentials expire, until when they are served (the floor; the hard floor while "
        "DEGRADED), the next background refresh (none for roles idle longer than "
        "active_window_seconds), and the last STS error; then the running `stsd exec` "
        "commands (label and profile). DEGRADED means STS is failing "
        "(throttling, 5xx, network): cached credentials are served down to the hard floor "
        "while retries back off. Exits 1 when the daemon is not running.",
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
        "Run from a terminal, it first asks for an MFA code when PROFILE's source has no "
        "session. Needs the daemon running.",
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

    keys = commands.add_parser(
        "keys",
        help="long-term keys in stsd's encrypted store",
        description="import: move SOURCE's keys from ~/.aws/credentials (also [default]) "
        "into the encrypted store and delete them from that file, keeping everything else. "
        "list: key ids (masked) and where each lives. remove: delete SOURCE's keys from the "
        "store (the daemon falls back to the credentials file). rotate: create a new key "
        "through IAM with the MFA session, verify it, store it, then delete the old one.",
    )
    keys.add_argument("action", choices=["import", "list", "remove", "rotate"])
    keys.add_argument("source", nargs="?", metavar="SOURCE", help="default: the only source")

    mfa = commands.add_parser(
        "mfa",
        help="opt-in TOTP seed in the encrypted store",
        description="totp add: read a base32 seed or otpauth:// URI from stdin, check it by "
        "logging in with its code, and keep it encrypted; stsd then makes MFA codes itself. "
        "This moves the second factor onto this disk: whoever has the disk (and the store's "
        "master key) has both factors. totp remove: delete it.",
    )
    mfa.add_argument("kind", choices=["totp"])
    mfa.add_argument("action", choices=["add", "remove"])
    mfa.add_argument("source", nargs="?", metavar="SOURCE", help="default: the only source")
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

    doctor = commands.add_parser(
        "doctor",
        help="check the setup and say what is wrong",
        description="Check config, keys, this shell's environment, the runtime dir, the "
        "token file and the daemon; one line each. Exit 1 when something won't work.",
    )
    doctor.add_argument("--quiet", action="store_true", help="print only what is wrong")

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

    service = commands.add_parser(
        "service",
        help="let systemd (Linux) or launchd (macOS) run the daemon at login",
        description="install: write a systemd user unit (~/.config/systemd/user/stsd.service) "
        "or a LaunchAgent (~/Library/LaunchAgents/io.stsd.agent.plist) that runs this "
        "interpreter's `stsd serve`, then enable and start it; run it again after upgrading "
        "or moving stsd. uninstall: stop and remove it. status: is it installed, current, "
        "running, answering? The unit copies PATH, XDG_CONFIG_HOME, XDG_STATE_HOME, "
        "AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL_STS, AWS_CA_BUNDLE, "
        "HTTPS_PROXY and NO_PROXY from this shell, so the daemon sees what the CLI sees.",
    )
    service.add_argument("action", choices=["install", "uninstall", "status"])
    service.add_argument(
        "--dry-run", action="store_true", help="print what would be written and run; change nothing"
    )
    service.add_argument(
        "--platform",
        choices=["systemd", "launchd"],
        help="default: launchd on macOS, systemd elsewhere",
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
    "credential-process": "credential_process",
    "status": "status",
    "logout": "logout",
    "lock": "logout",
    "exec": "exec",
    "token": "rotate",
    "keys": "keys",
    "mfa": "mfa",
    "policy": "policy",
    "console": "console",
    "doctor": "doctor",
    "demo": "demo",
    "service": "service",
    "emulator": "emulator",
}


# What argparse makes of `env [PROFILE]` and `credential-process PROFILE` besides the
# profile: every option at its default. tests/client/test_cli_fast_path.py checks that
# these equal build_parser()'s, so an option added above must be added here too.
_FAST_DEFAULTS = {
    "env": {
        "shell": None,
        "unset": False,
        "json": False,
        "login": False,
        "no_token_env": False,
        "imds": False,
    },
    "credential-process": {},
}


def _fast_args(argv: Sequence[str]) -> SimpleNamespace | None:
    """argparse's result for a bare `env [PROFILE]` or `credential-process PROFILE`, else
    None (anything else, `--help` included, goes through argparse)."""
    if len(argv) == 1 and argv[0] == "env":
        profile = None
    elif len(argv) == 2 and argv[0] in _FAST_DEFAULTS and not argv[1].startswith("-"):
        profile = argv[1]  # an option, `--` or a negative number is argparse's to judge
    else:
        return None
    return SimpleNamespace(
        version=False, command=argv[0], profile=profile, **_FAST_DEFAULTS[argv[0]]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `stsd` command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args: argparse.Namespace | SimpleNamespace | None = _fast_args(argv)
    if args is None:
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
