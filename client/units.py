"""What `stsd service install` writes: the systemd user unit and the launchd agent.

Pure: a `ServiceSpec` in, file text out. The repo's `systemd/stsd.service` and
`launchd/io.stsd.agent.plist` are this module's output for a pipx install
(`REFERENCE_*`); a test keeps them equal, so the files people copy by hand and the
files the installer writes never drift apart.

Why the unit looks as it does:
- Type=notify: the daemon sends READY=1 once both endpoints answer, so units ordered
  after it (and `systemctl --user start`) wait for a daemon that really serves.
- Restart=on-failure, except exit 78 (EX_CONFIG, a broken configuration): restarting
  cannot fix a file, and a restart loop would bury the one line that says what's wrong.
- RuntimeDirectoryPreserve=yes: the token file lives in the runtime dir; removing it on
  every restart would invalidate `stsd env` lines in every open shell.
- The sandbox needs PrivateUsers=yes: a user manager can set up file system namespaces
  (ProtectSystem=, PrivateTmp=) only inside a user namespace. ProtectSystem=strict makes
  everything read-only but the runtime dir and the state dir; the state dir must exist
  before the namespace is set up, hence the `mkdir` outside the sandbox (`+`).
- A browser started from inside that sandbox would inherit it (read-only home, no
  netlink): MFA links are opened through `systemd-run --user`, outside it
  (`STSD_OPEN_URL`, the command an MFA driver runs with the URL appended).
"""

import plistlib
from dataclasses import dataclass

__all__ = [
    "LAUNCHD_LABEL",
    "OPEN_URL_ENV",
    "PINNED_ENV",
    "REFERENCE_LAUNCHD",
    "REFERENCE_SYSTEMD",
    "SANDBOXED_OPEN_URL",
    "SYSTEMD_UNIT",
    "ServiceSpec",
    "launchd_plist",
    "systemd_unit",
]

SYSTEMD_UNIT = "stsd.service"
LAUNCHD_LABEL = "io.stsd.agent"
# How the daemon (an MFA driver) opens a URL: this command with the URL appended;
# unset, the platform's opener (xdg-open, open).
OPEN_URL_ENV = "STSD_OPEN_URL"
SANDBOXED_OPEN_URL = "systemd-run --user --collect --quiet -- xdg-open"
# What decides where stsd's files are and how it reaches STS: the installer copies these
# from the installing shell, so the daemon sees what the CLI sees (PATH also finds
# `mfa_process` commands such as ykman).
PINNED_ENV = (
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CA_BUNDLE",
    "HTTPS_PROXY",
    "NO_PROXY",
    "PATH",
)
# Exit code of a broken configuration (errors.ConfigError); systemd must not restart on it.
_EX_CONFIG = 78


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What the service runs and where, for one user."""

    home: str
    command: tuple[str, ...]  # argv of `stsd serve`
    state_dir: str  # the one directory the daemon writes, besides the runtime dir
    log_dir: str = ""  # launchd only: where stdout/stderr go
    environment: tuple[tuple[str, str], ...] = ()


def systemd_unit(spec: ServiceSpec) -> str:
    """The user unit; paths under the home are written with `%h`."""
    program, *arguments = spec.command
    command = " ".join(
        [_exec_word(_path(program, spec.home), program=True)]
        + [_exec_word(_path(word, spec.home)) for word in arguments]
    )
    state = _path(spec.state_dir, spec.home)
    environment = (*spec.environment, (OPEN_URL_ENV, SANDBOXED_OPEN_URL))
    env_lines = "".join(f"Environment={_env(name, value)}\n" for name, value in environment)
    return f"""\
# stsd: role credentials for every AWS SDK, one MFA code a day. A systemd user unit;
# `stsd service install` writes it with your interpreter and paths, or by hand:
#   cp stsd.service ~/.config/systemd/user/ && systemctl --user enable --now stsd
[Unit]
Description=stsd, the AWS credentials agent

[Service]
Type=notify
NotifyAccess=main
ExecStartPre=+mkdir -p -m 0700 {_exec_word(state)}
ExecStart={command}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
# A broken configuration stays broken until someone edits it: no restart loop.
RestartPreventExitStatus={_EX_CONFIG}
TimeoutStopSec=15
RuntimeDirectory=stsd
RuntimeDirectoryMode=0700
# The token file lives there: keep it across restarts so `stsd env` lines stay valid.
RuntimeDirectoryPreserve=yes
UMask=0077
{env_lines}
# Sandbox (a user manager needs PrivateUsers= for the namespaces).
PrivateUsers=yes
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={_list_word(state)}
PrivateTmp=yes
# AF_NETLINK: sock_diag names the uid behind a loopback client in one query (the
# audit log, IMDS's own-user rule); without it, the whole /proc/net/tcp table per lookup.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
LockPersonality=yes
SystemCallArchitectures=native

[Install]
WantedBy=default.target
"""


def launchd_plist(spec: ServiceSpec) -> bytes:
    """The LaunchAgent: started at login, restarted after a crash, logs to a file."""
    agent: dict[str, object] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": list(spec.command),
        "EnvironmentVariables": dict(spec.environment),
        "RunAtLoad": True,
        # Restart after a non-zero exit only. launchd has no RestartPreventExitStatus:
        # a broken configuration is retried every ThrottleInterval (and a fixed file is
        # then picked up without a manual restart).
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 30,
        "Umask": 0o077,
        "StandardOutPath": f"{spec.log_dir}/stsd.log",
        "StandardErrorPath": f"{spec.log_dir}/stsd.log",
    }
    if not spec.environment:
        del agent["EnvironmentVariables"]
    return plistlib.dumps(agent, sort_keys=False)


def _path(value: str, home: str) -> str:
    """`value` as systemd text: `%` escaped, the home directory as `%h`."""
    home = home.rstrip("/")
    if home and (value == home or value.startswith(home + "/")):
        return "%h" + _escape_specifiers(value[len(home) :])
    return _escape_specifiers(value)


def _escape_specifiers(value: str) -> str:
    return value.replace("%", "%%")


def _exec_word(word: str, program: bool = False) -> str:
    """One word of an Exec*= line (already specifier-escaped).

    systemd expands `$VAR` in the arguments only: `$$` there, a bare `$` in the program.
    """
    word = word.replace("\\", "\\\\").replace('"', '\\"')
    if not program:
        word = word.replace("$", "$$")
    return f'"{word}"' if not word or any(c.isspace() for c in word) else word


def _list_word(word: str) -> str:
    return f'"{word}"' if any(c.isspace() for c in word) else word


def _env(name: str, value: str) -> str:
    text = f"{name}={_escape_specifiers(value)}".replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _reference(home: str, path: str) -> ServiceSpec:
    return ServiceSpec(
        home=home,
        command=(f"{home}/.local/bin/stsd", "serve"),
        state_dir=f"{home}/.local/state/stsd",
        log_dir=f"{home}/Library/Logs/stsd",
        environment=(("PATH", path),) if path else (),
    )


# What the repo's files hold: a pipx install (`~/.local/bin/stsd`) with default paths.
REFERENCE_SYSTEMD = systemd_unit(_reference("/home/you", ""))
REFERENCE_LAUNCHD = launchd_plist(
    _reference("/Users/you", "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
)
