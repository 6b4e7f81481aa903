"""`stsd service install|uninstall|status`: let systemd (Linux) or launchd (macOS) run the
daemon at login and restart it when it fails.

The unit or agent runs this very interpreter (`sys.executable`, as launched: a venv's or
pipx's `bin/python` stays the venv's, never resolved to the base Python it links to)
with `-m stsd.client serve`. Every step is a value first (`Step`), so `--dry-run` prints
exactly what a real run would do.
"""

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stsd.client.liveness import daemon_listening
from stsd.client.output import fail
from stsd.client.paths import Paths
from stsd.client.units import (
    LAUNCHD_LABEL,
    PINNED_ENV,
    SYSTEMD_UNIT,
    ServiceSpec,
    launchd_plist,
    systemd_unit,
)

__all__ = [
    "PLATFORMS",
    "Mkdir",
    "Remove",
    "Run",
    "Step",
    "Target",
    "Write",
    "default_platform",
    "install_steps",
    "interpreter_problem",
    "run",
    "uninstall_steps",
]

PLATFORMS = ("systemd", "launchd")


@dataclass(frozen=True, slots=True)
class Mkdir:
    path: Path
    mode: int = 0o700


@dataclass(frozen=True, slots=True)
class Write:
    path: Path
    content: bytes
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class Remove:
    path: Path


@dataclass(frozen=True, slots=True)
class Run:
    argv: tuple[str, ...]
    may_fail: bool = False  # e.g. unloading what isn't loaded


Step = Mkdir | Write | Remove | Run


def default_platform(platform: str = sys.platform) -> str:
    return "launchd" if platform == "darwin" else "systemd"


def interpreter_problem(executable: str, prefix: str) -> str | None:
    """Why `executable` can't run a service that outlives this command, or None."""
    if not os.path.isabs(executable):
        return f"the interpreter path {executable!r} is not absolute"
    if "/.cache/pipx/" in prefix or "/pipx/.cache/" in prefix:
        return (
            f"this stsd runs from pipx's temporary cache ({prefix}), which pipx may delete; "
            "install it first (`pipx install stsd`), then run `stsd service install`"
        )
    return None


def _environment_kind(prefix: str, base_prefix: str) -> str:
    if "/pipx/venvs/" in prefix:
        return "pipx's venv"
    if prefix != base_prefix:
        return "a virtualenv"
    return "the system Python"


def _spec(paths: Paths, home: Path, env: Mapping[str, str], log_dir: Path) -> ServiceSpec:
    return ServiceSpec(
        home=str(home),
        command=(sys.executable, "-m", "stsd.client", "serve"),
        state_dir=str(paths.state_dir),
        log_dir=str(log_dir),
        environment=tuple((name, env[name]) for name in PINNED_ENV if env.get(name)),
    )


@dataclass(frozen=True, slots=True)
class Target:
    """Where the service definition goes and how the service manager is driven."""

    platform: str
    file: Path
    home: Path
    log_dir: Path

    @classmethod
    def of(cls, platform: str, paths: Paths, env: Mapping[str, str]) -> "Target":
        home = Path(env.get("HOME") or Path.home())
        log_dir = home / "Library" / "Logs" / "stsd"  # launchd's; journald needs none
        if platform == "launchd":
            file = home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        else:
            # The user manager reads $XDG_CONFIG_HOME/systemd/user (else ~/.config/...).
            file = paths.config_dir.parent / "systemd" / "user" / SYSTEMD_UNIT
        return cls(platform, file, home, log_dir)

    @property
    def domain(self) -> str:
        return f"gui/{os.getuid()}"


def install_steps(target: Target, spec: ServiceSpec) -> list[Step]:
    if target.platform == "launchd":
        service = f"{target.domain}/{LAUNCHD_LABEL}"
        return [
            Mkdir(target.log_dir),
            Mkdir(target.file.parent, 0o755),
            Write(target.file, launchd_plist(spec)),
            Run(("launchctl", "bootout", service), may_fail=True),  # an older version
            Run(("launchctl", "enable", service)),
            Run(("launchctl", "bootstrap", target.domain, str(target.file))),
        ]
    return [
        Mkdir(Path(spec.state_dir)),  # ReadWritePaths= needs it before the first start
        Mkdir(target.file.parent, 0o755),
        Write(target.file, systemd_unit(spec).encode()),
        Run(("systemctl", "--user", "daemon-reload")),
        Run(("systemctl", "--user", "enable", SYSTEMD_UNIT)),
        # restart, not start: a running daemon must pick up the new unit.
        Run(("systemctl", "--user", "restart", SYSTEMD_UNIT)),
    ]


def uninstall_steps(target: Target) -> list[Step]:
    if target.platform == "launchd":
        return [
            Run(("launchctl", "bootout", f"{target.domain}/{LAUNCHD_LABEL}"), may_fail=True),
            Remove(target.file),
        ]
    return [
        Run(("systemctl", "--user", "disable", "--now", SYSTEMD_UNIT), may_fail=True),
        Remove(target.file),
        Run(("systemctl", "--user", "daemon-reload")),
    ]


def _status_steps(target: Target) -> list[Run]:
    if target.platform == "launchd":
        return [Run(("launchctl", "print", f"{target.domain}/{LAUNCHD_LABEL}"), may_fail=True)]
    return [
        Run(("systemctl", "--user", "is-enabled", SYSTEMD_UNIT), may_fail=True),
        Run(("systemctl", "--user", "is-active", SYSTEMD_UNIT), may_fail=True),
    ]


class _StepFailed(Exception):
    pass


def _describe(step: Step) -> str:
    if isinstance(step, Mkdir):
        return f"create {step.path} (mode {step.mode:04o})"
    if isinstance(step, Write):
        return f"write {step.path} (mode {step.mode:04o}):\n{step.content.decode()}"
    if isinstance(step, Remove):
        return f"remove {step.path}"
    return f"run: {shlex.join(step.argv)}"


def _execute(step: Step, env: Mapping[str, str]) -> str:
    """Carry out one step; returns the command's output for Run steps.

    Raises:
        _StepFailed: saying which step and why.
    """
    try:
        if isinstance(step, Mkdir):
            step.path.mkdir(mode=step.mode, parents=True, exist_ok=True)
            return ""
        if isinstance(step, Write):
            temp = step.path.with_name(f".{step.path.name}.{os.getpid()}")
            temp.write_bytes(step.content)
            os.chmod(temp, step.mode)
            os.replace(temp, step.path)
            return ""
        if isinstance(step, Remove):
            step.path.unlink(missing_ok=True)
            return ""
    except OSError as error:
        raise _StepFailed(f"can't {_describe(step).split(':')[0]}: {error.strerror}") from None
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command of the service manager
            step.argv, env=dict(env), capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        if step.may_fail:
            return ""
        raise _StepFailed(f"{step.argv[0]} is not installed here") from None
    if done.returncode != 0 and not step.may_fail:
        detail = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise _StepFailed(f"`{shlex.join(step.argv)}` failed: {detail}")
    return done.stdout


def _carry_out(steps: Sequence[Step], env: Mapping[str, str], dry_run: bool) -> None:
    for step in steps:
        if dry_run:
            print(f"would {_describe(step)}")
        else:
            _execute(step, env)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    paths = Paths.from_env(env)
    platform = args.platform or default_platform()
    target = Target.of(platform, paths, env)
    if args.action == "status":
        return _status(target, paths, env, args.dry_run)
    if args.action == "uninstall":
        if not target.file.exists() and not args.dry_run:
            print(f"stsd: no {platform} service installed ({target.file} does not exist)")
            return 0
        try:
            _carry_out(uninstall_steps(target), env, args.dry_run)
        except _StepFailed as error:
            return fail(f"{error}; {target.file} is removed, the daemon may still run")
        if not args.dry_run:
            print(f"stsd: uninstalled {target.file}; the daemon no longer starts at login")
        return 0
    problem = interpreter_problem(sys.executable, sys.prefix)
    if problem:
        return fail(problem)
    spec = _spec(paths, target.home, env, target.log_dir)
    kind = _environment_kind(sys.prefix, sys.base_prefix)
    print(f"stsd: the service runs {sys.executable} ({kind}) with -m stsd.client serve")
    try:
        _carry_out(install_steps(target, spec), env, args.dry_run)
    except _StepFailed as error:
        if not target.file.exists():
            return fail(f"install stopped: {error}")
        manager = "a systemd user session" if platform == "systemd" else "launchd"
        return fail(
            f"{target.file} is written, but {error}; is {manager} running? "
            "Run `stsd service install` again once it is"
        )
    if not args.dry_run:
        logs = (
            "journalctl --user -u stsd" if platform == "systemd" else f"{target.log_dir}/stsd.log"
        )
        print(f"stsd: installed {target.file}; the daemon runs now and at every login")
        print(f"stsd: its log: {logs}; `stsd service status` checks on it")
    return 0


def _status(target: Target, paths: Paths, env: Mapping[str, str], dry_run: bool) -> int:
    steps = _status_steps(target)
    if dry_run:
        _carry_out(steps, env, dry_run=True)
        return 0
    installed = target.file.exists()
    print(f"{target.platform} service: {target.file}" + ("" if installed else " (not installed)"))
    if installed:
        spec = _spec(paths, target.home, env, target.log_dir)
        want = launchd_plist(spec) if target.platform == "launchd" else systemd_unit(spec).encode()
        if target.file.read_bytes() != want:
            print("  differs from what `stsd service install` writes now: run it again")
        for step in steps:
            try:
                output = _execute(step, env).strip()
            except _StepFailed as error:
                output = str(error)
            if target.platform == "launchd":
                print(f"  loaded: {'yes' if output else 'no'}")
            else:
                label = step.argv[2].removeprefix("is-")
                print(f"  {label}: {output or 'unknown'}")
    answering = daemon_listening(paths.control_socket)
    print(f"daemon: {'answering' if answering else 'not answering'} on {paths.control_socket}")
    return 0 if answering else 1
