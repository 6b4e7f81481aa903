"""`stsd doctor`: check the setup and say what is wrong, one line each.

Each check is a function from the environment to findings; a finding is ok, a warning
(works, but weaker than it should be) or a problem (something won't work). The exit
code is non-zero when there is a problem.
"""

import argparse
import enum
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version

from stsd.client.awsfiles import AwsFilesError, load_aws_files
from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.env import SHADOWING
from stsd.client.paths import Paths
from stsd.client.settings import SettingsError, load_settings

__all__ = ["CHECKS", "Finding", "Level", "run"]


class Level(enum.Enum):
    OK = "ok"
    WARN = "warn"
    PROBLEM = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    topic: str
    message: str


Check = Callable[[Mapping[str, str], Paths], list[Finding]]


def _ok(topic: str, message: str) -> Finding:
    return Finding(Level.OK, topic, message)


def _warn(topic: str, message: str) -> Finding:
    return Finding(Level.WARN, topic, message)


def _problem(topic: str, message: str) -> Finding:
    return Finding(Level.PROBLEM, topic, message)


def check_configuration(env: Mapping[str, str], paths: Paths) -> list[Finding]:
    """config.toml and the AWS files parse, and every role reaches keys and an MFA device."""
    # The daemon's own validation (pure, standard library only), so doctor and
    # `stsd serve` never disagree about what is broken.
    from stsd.daemon.config import build_config
    from stsd.daemon.errors import ConfigError
    from stsd.daemon.model import Credentials

    # Keys moved into the store: names only, from the daemon (it alone holds the key).
    stored = dict.fromkeys(_stored_key_sources(paths), Credentials("(in the store)", "-"))
    try:
        settings = load_settings(paths.config_file)
        files = load_aws_files(env)
        config = build_config(files, settings, stored)
    except (SettingsError, AwsFilesError, ConfigError) as error:
        return [_problem("config", str(error))]
    findings = [_warn("config", warning) for warning in config.warnings]
    if not config.roles:
        findings.append(
            _problem(
                "config", f"no role profile (role_arn + source_profile) in {files.config_path}"
            )
        )
        return findings
    findings.append(
        _ok(
            "config",
            f"{len(config.roles)} role profile(s) from {len(config.sources)} source(s) "
            f"({', '.join(sorted(config.sources))})",
        )
    )
    for source in config.sources.values():
        if source.keys_origin == str(files.credentials_path):
            findings.append(
                _warn(
                    "keys",
                    f"the keys of {source.name} are in plain text in {source.keys_origin}: "
                    f"whoever copies that file holds them (`stsd keys import {source.name}`)",
                )
            )
    if files.default_keys_in_credentials_file():
        findings.append(
            _problem(
                "keys",
                f"[default] in {files.credentials_path} holds keys: boto3 and the AWS CLI use "
                "them before stsd; `stsd keys import default` moves them into stsd's store",
            )
        )
    return findings


def check_environment(env: Mapping[str, str], paths: Paths) -> list[Finding]:
    """Variables in this shell that would make SDKs skip stsd."""
    shadowing = [name for name in SHADOWING if env.get(name)]
    if shadowing:
        return [
            _warn(
                "environment",
                f"{', '.join(shadowing)} set in this shell: SDKs use them instead of stsd; "
                '`eval "$(stsd env PROFILE)"` unsets them',
            ),
            *_role_profile_selected(env),
        ]
    if not env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return [_warn("environment", 'this shell is not pointed at stsd: eval "$(stsd env)"')]
    return [_ok("environment", "this shell points SDKs at stsd")]


def _role_profile_selected(env: Mapping[str, str]) -> list[Finding]:
    """AWS_PROFILE naming one of stsd's role profiles: the likeliest mix-up of all, and
    the costliest (SDKs then assume the role themselves, with the bastion user's keys)."""
    try:
        roles = load_aws_files(env).role_profiles()
    except AwsFilesError:
        return []  # check_configuration reports it
    findings = []
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        profile = env.get(name)
        if profile and profile in roles:
            findings.append(
                _warn(
                    "environment",
                    f"{name}={profile} makes SDKs assume {profile}'s role themselves with "
                    "the bastion keys (asking for an MFA code per process, or failing), not "
                    f'through stsd: unset it and use `eval "$(stsd env {profile})"`',
                )
            )
    return findings


def check_runtime_dir(env: Mapping[str, str], paths: Paths) -> list[Finding]:
    """The runtime dir is ours alone, and the socket path fits."""
    findings = []
    problem = paths.socket_path_problem()
    if problem:
        findings.append(_problem("runtime dir", problem))
    try:
        info = os.lstat(paths.runtime_dir)
    except FileNotFoundError:
        return [*findings, _ok("runtime dir", f"{paths.runtime_dir} not created yet")]
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        findings.append(_problem("runtime dir", f"{paths.runtime_dir} is not a directory"))
    elif info.st_uid != os.getuid() or info.st_mode & 0o077:
        findings.append(
            _problem(
                "runtime dir",
                f"{paths.runtime_dir} is mode {stat.S_IMODE(info.st_mode):o}, uid "
                f"{info.st_uid}: it must be yours and 0700",
            )
        )
    else:
        findings.append(_ok("runtime dir", f"{paths.runtime_dir} is private"))
    return findings


def check_token_file(env: Mapping[str, str], paths: Paths) -> list[Finding]:
    """Token file 0600 without a trailing newline (botocore raises on one)."""
    path = paths.token_file
    try:
        info = os.stat(path)
        content = path.read_bytes()
    except FileNotFoundError:
        return [_ok("token", f"{path} not created yet (stsd env or stsd serve create it)")]
    findings = []
    if stat.S_IMODE(info.st_mode) & 0o077:
        findings.append(
            _problem("token", f"{path} is mode {stat.S_IMODE(info.st_mode):o}: chmod 600 it")
        )
    if content.endswith(b"\n") or content != content.strip():
        findings.append(
            _problem(
                "token",
                f"{path} ends in white space: botocore then raises; delete it and restart stsd",
            )
        )
    return findings or [_ok("token", f"{path} is 0600, no newline")]


def check_daemon(env: Mapping[str, str], paths: Paths) -> list[Finding]:
    """The daemon answers, runs this version, and is not degraded."""
    try:
        status = Control(paths.control_socket, timeout=5).get("/v1/status")
    except (DaemonUnreachable, ControlError) as error:
        return [_problem("daemon", f"{error} (or `stsd service install`)")]
    findings = []
    ours = version("stsd")
    if status.get("version") != ours:
        findings.append(
            _warn(
                "daemon",
                f"the daemon runs stsd {status.get('version')}, this CLI is {ours}: restart it",
            )
        )
    if status.get("degraded"):
        findings.append(_warn("daemon", "degraded: STS is failing (see `stsd status`)"))
    waiting = [s["name"] for s in status.get("sources", []) if s.get("pending_prompt")]
    if waiting:
        findings.append(_warn("daemon", f"waiting for an MFA code: stsd login {waiting[0]}"))
    return findings or [_ok("daemon", f"running stsd {ours}")]


def _stored_key_sources(paths: Paths) -> list[str]:
    try:
        status = Control(paths.control_socket, timeout=5).get("/v1/status")
    except (DaemonUnreachable, ControlError):
        return []
    store = status.get("store") or {}
    return [str(name) for name in store.get("keys", [])]


def check_store(env: Mapping[str, str], paths: Paths) -> list[Finding]:
    """Where the encrypted state's master key is, and whether the store works."""
    try:
        status = Control(paths.control_socket, timeout=5).get("/v1/status")
    except (DaemonUnreachable, ControlError):
        if (paths.state_dir / "master.key").exists():
            return [_warn("store", f"master key in a file: {paths.state_dir / 'master.key'}")]
        return [_ok("store", "the daemon is down; nothing more to tell")]
    store = status.get("store")
    if not store:
        return []
    findings = [_warn("store", problem) for problem in store.get("problems", [])]
    if str(store.get("key", "")).startswith("file"):
        findings.append(
            _warn(
                "store",
                f"no OS keyring: the state's master key is in a {store['key']}, beside the "
                "state it encrypts",
            )
        )
    return findings or [_ok("store", f"encrypted state, master key in the {store['key']}")]


def check_service(env: Mapping[str, str], paths: Paths) -> list[Finding]:
    """A systemd user unit or launchd agent starts the daemon at login."""
    from stsd.client.service import Target, default_platform

    target = Target.of(default_platform(), paths, env)
    if not target.file.exists():
        return [
            _warn(
                "service",
                f"no {target.platform} service: `stsd service install` starts stsd at login",
            )
        ]
    return [_ok("service", f"{target.platform} service installed: {target.file}")]


CHECKS: list[Check] = [
    check_configuration,
    check_environment,
    check_runtime_dir,
    check_token_file,
    check_daemon,
    check_store,
    check_service,
]


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    paths = Paths.from_env(env)
    findings = [finding for check in CHECKS for finding in check(env, paths)]
    width = max(len(f.topic) for f in findings)
    for finding in findings:
        if finding.level is Level.OK and args.quiet:
            continue
        print(f"{finding.level.value:<4}  {finding.topic:<{width}}  {finding.message}")
    problems = sum(f.level is Level.PROBLEM for f in findings)
    warnings = sum(f.level is Level.WARN for f in findings)
    print(f"{problems} problem(s), {warnings} warning(s)")
    return 1 if problems else 0
