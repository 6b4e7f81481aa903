"""The daemon's configuration: role and source profiles from the AWS files, plus
stsd's own settings, validated into the values the broker works with.

Role profiles (those with `role_arn`) are what stsd serves; each must reach, through
`source_profile` links (possibly via other role profiles: chaining), a source profile
holding long-term keys. Keys come from stsd's encrypted store when it has them for a
source (`stsd keys import`), else from the AWS files, as botocore reads them. The MFA
device is the source's `mfa_serial`, or the one the role profiles of that source name
(the AWS CLI's convention puts it there).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from stsd.client.awsfiles import AwsFiles, AwsFilesError, load_aws_files
from stsd.client.settings import Settings, SettingsError, load_settings
from stsd.daemon.broker import Policy
from stsd.daemon.errors import ConfigError
from stsd.daemon.model import Credentials, RoleProfile, SourceProfile
from stsd.daemon.prompts import check_names

__all__ = ["STORE_ORIGIN", "Config", "build_config", "load_config"]

# Where keys came from, for messages: a file's path, or this.
STORE_ORIGIN = "stsd's encrypted store (`stsd keys list`)"

# STS caps role chaining (AssumeRole with temporary credentials) at 1 h.
_CHAINED_MAX = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Config:
    sources: Mapping[str, SourceProfile]
    roles: Mapping[str, RoleProfile]
    settings: Settings
    policy: Policy
    warnings: list[str] = field(default_factory=list)


def load_config(
    settings_file: Path,
    env: Mapping[str, str] | None = None,
    stored_keys: Mapping[str, Credentials] | None = None,
) -> Config:
    """Read every file the daemon depends on: config.toml and the AWS files.

    `stored_keys` are the long-term keys of the encrypted store, by source profile.

    Raises:
        ConfigError: naming the file and the profile or key at fault.
    """
    try:
        settings = load_settings(settings_file)
        files = load_aws_files(env)
    except (SettingsError, AwsFilesError) as error:
        raise ConfigError(str(error)) from None
    return build_config(files, settings, stored_keys)


def build_config(
    files: AwsFiles, settings: Settings, stored_keys: Mapping[str, Credentials] | None = None
) -> Config:
    """Validate the AWS files against stsd's rules (pure: no I/O).

    A source's keys come from `stored_keys` when it has them, else from the files.
    """
    stored = stored_keys or {}
    warnings: list[str] = []
    policy = Policy.scaled(
        floor=settings.floor,
        trigger=settings.trigger,
        hard_floor=settings.hard_floor,
        active_window=settings.active_window,
        renew_before=settings.prompt_before,
        reassume_lead=settings.reassume_before,
    )
    problems = policy.problems()
    if problems:
        raise ConfigError(f"config.toml [refresh]: {'; '.join(problems)}")
    roles: dict[str, RoleProfile] = {}
    serials: dict[str, set[str]] = {}
    processes: dict[str, set[str]] = {}
    for name in files.role_profiles():
        settings_of = files.profile(name)
        if "source_profile" not in settings_of:
            if "credential_source" in settings_of or "web_identity_token_file" in settings_of:
                warnings.append(f"profile {name}: not served (it has no source_profile)")
                continue
            raise ConfigError(
                f"{files.config_path}: profile {name} has role_arn but no source_profile: "
                "name the profile holding the bastion user's keys"
            )
        source = _root_source(files, name, stored)
        parent = settings_of["source_profile"]
        duration = _duration(files, name, settings_of, policy, warnings)
        roles[name] = RoleProfile(
            name=name,
            role_arn=settings_of["role_arn"],
            parent=parent,
            source=source,
            duration=duration,
            region=files.region(name),
            role_session_name=settings_of.get("role_session_name") or None,
            external_id=settings_of.get("external_id") or None,
            mfa_process=settings_of.get("mfa_process") or None,
        )
        if settings_of.get("mfa_serial"):
            serials.setdefault(source, set()).add(settings_of["mfa_serial"])
        if settings_of.get("mfa_process"):
            processes.setdefault(source, set()).add(settings_of["mfa_process"])

    sources: dict[str, SourceProfile] = {}
    for source in sorted({role.source for role in roles.values()}):
        sources[source] = _source(
            files,
            source,
            serials.get(source, set()),
            processes.get(source, set()),
            stored.get(source),
        )
    _check_mfa_drivers(settings, sources)
    if settings.default_profile is not None and settings.default_profile not in roles:
        raise ConfigError(
            f"default_profile {settings.default_profile!r} in config.toml is not a role "
            f"profile of {files.config_path}; known: {', '.join(sorted(roles)) or 'none'}"
        )
    if settings.imds_profile is not None and settings.imds_profile not in roles:
        raise ConfigError(
            f"[imds] profile {settings.imds_profile!r} in config.toml is not a role profile "
            f"of {files.config_path}; known: {', '.join(sorted(roles)) or 'none'}"
        )
    return Config(sources, roles, settings, policy, warnings)


def _check_mfa_drivers(settings: Settings, sources: Mapping[str, SourceProfile]) -> None:
    if settings.mfa_drivers is not None:
        check_names(settings.mfa_drivers, "config.toml: mfa.drivers")
    for name, drivers in settings.source_mfa_drivers.items():
        if name not in sources:
            raise ConfigError(
                f"config.toml: [sources.{name}]: {name} is not a source profile; "
                f"known: {', '.join(sorted(sources)) or 'none'}"
            )
        check_names(drivers, f"config.toml: sources.{name}.mfa_drivers")


def _root_source(files: AwsFiles, name: str, stored: Mapping[str, Credentials]) -> str:
    chain = [name]
    current = name
    while True:
        parent = files.profile(current).get("source_profile", "")
        if not parent:
            raise ConfigError(f"{files.config_path}: profile {current} has no source_profile")
        if parent in chain:
            loop = " -> ".join([*chain, parent])
            raise ConfigError(f"{files.config_path}: source_profile loop {loop}")
        if parent not in files.config and parent not in files.credentials and parent not in stored:
            raise ConfigError(
                f"{files.config_path}: profile {current} names source_profile {parent}, "
                "which exists in neither the config nor the credentials file"
            )
        if "role_arn" not in files.profile(parent):
            return parent
        chain.append(parent)
        current = parent


def _duration(
    files: AwsFiles,
    name: str,
    settings_of: dict[str, str],
    policy: Policy,
    warnings: list[str],
) -> timedelta:
    raw = settings_of.get("duration_seconds")
    if raw is None:
        return _CHAINED_MAX
    if not raw.strip().isdigit():
        raise ConfigError(
            f"{files.config_path}: profile {name}: duration_seconds must be a number, not {raw!r}"
        )
    duration = timedelta(seconds=int(raw))
    if duration > _CHAINED_MAX:
        warnings.append(
            f"profile {name}: duration_seconds {raw} lowered to 3600: STS caps roles assumed "
            "with MFA session credentials (role chaining) at 1 h"
        )
        return _CHAINED_MAX
    if duration <= policy.trigger or duration < timedelta(seconds=900):
        warnings.append(
            f"profile {name}: duration_seconds {raw} raised to 3600: it must outlast the "
            f"refresh trigger ({int(policy.trigger.total_seconds())} s)"
        )
        return _CHAINED_MAX
    return duration


def _source(
    files: AwsFiles,
    name: str,
    role_serials: set[str],
    role_processes: set[str],
    stored: Credentials | None,
) -> SourceProfile:
    settings_of = files.profile(name)
    key_id = settings_of.get("aws_access_key_id", "").strip()
    secret = settings_of.get("aws_secret_access_key", "").strip()
    if stored is not None:
        key_id, secret = stored.access_key_id, stored.secret_access_key
        origin = STORE_ORIGIN
    elif "aws_access_key_id" in files.credentials.get(name, {}):
        origin = str(files.credentials_path)
    else:
        origin = str(files.config_path)
    if not key_id or not secret:
        raise ConfigError(
            f"{files.credentials_path}: source profile {name} has no aws_access_key_id and "
            "aws_secret_access_key: put the bastion user's keys there"
        )
    serial = settings_of.get("mfa_serial", "").strip()
    candidates = {serial} if serial else role_serials
    if len(candidates) > 1:
        raise ConfigError(
            f"{files.config_path}: the role profiles of {name} name different mfa_serial "
            f"values ({', '.join(sorted(candidates))}); set mfa_serial on {name} itself"
        )
    if not candidates:
        raise ConfigError(
            f"{files.config_path}: profile {name} has no mfa_serial: stsd needs the bastion "
            "user's MFA device (arn:aws:iam::ACCOUNT:mfa/NAME)"
        )
    process = settings_of.get("mfa_process", "").strip()
    processes = {process} if process else role_processes
    if len(processes) > 1:
        raise ConfigError(
            f"{files.config_path}: the role profiles of {name} name different mfa_process "
            f"commands; one MFA device needs one: set mfa_process on {name} itself"
        )
    return SourceProfile(
        name=name,
        keys=Credentials(access_key_id=key_id, secret_access_key=secret),
        mfa_serial=candidates.pop(),
        mfa_process=processes.pop() if processes else None,
        region=settings_of.get("region") or None,
        keys_origin=origin,
    )
