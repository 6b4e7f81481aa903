"""`stsd env`: the lines that point a shell (and every SDK in it) at the daemon.

Shells run it at every start (`eval "$(stsd env PROFILE)"` in an rc file): what it
imports is what it costs, so the modules it needs keep their own imports light, and
tests/e2e/test_flow.py checks which ones it loads.
"""

from __future__ import annotations

from stsd.client.awsfiles import AwsFiles, AwsFilesError, load_aws_files
from stsd.client.liveness import daemon_listening
from stsd.client.output import fail, warn
from stsd.client.paths import Paths, UnsafeRuntimeDir, ensure_private_dir
from stsd.client.settings import Settings, SettingsError, load_settings
from stsd.client.shells import detect_shell, render
from stsd.client.tokens import ensure_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from pathlib import Path

__all__ = [
    "SET_BY_ENV",
    "SHADOWING",
    "ProfileError",
    "choose_profile",
    "daemon_address",
    "default_keys_warning",
    "environment_for",
    "run",
]

# Each of these wins over the container provider in some SDK's default chain.
SHADOWING = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)
# Everything environment_for may set: what `--unset` removes, whatever the profile. The
# shadowing variables `stsd env` removed stay removed: putting credentials back into the
# environment is not stsd's to do.
SET_BY_ENV = (
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",  # --imds; NO_PROXY keeps the loopback host it gained
)
_EXIT_CONFIG = 78


class ProfileError(Exception):
    """No usable profile was named."""


def choose_profile(requested: str | None, settings: Settings, files: AwsFiles) -> str:
    profiles = files.role_profiles()
    listing = ", ".join(profiles) or f"none: add a role profile to {files.config_path}"
    profile = requested or settings.default_profile
    if profile is None:
        raise ProfileError(
            f"which profile? name one (or set default_profile in config.toml): {listing}"
        )
    if profile not in profiles:
        raise ProfileError(
            f"{profile} is not a role profile of {files.config_path}; known: {listing}"
        )
    return profile


def daemon_address(paths: Paths, settings: Settings) -> tuple[str, bool]:
    """The endpoint's address and whether a daemon is up (its real address if so)."""
    if daemon_listening(paths.control_socket):
        try:
            return paths.address_file.read_text(encoding="utf-8").strip(), True
        except FileNotFoundError:
            pass
    return settings.listen, False


def environment_for(
    profile: str,
    address: str,
    token: str | None,
    paths: Paths,
    files: AwsFiles,
    token_file: Path | None = None,
    imds: bool = False,
    env_no_proxy: str = "",
) -> tuple[dict[str, str], list[str]]:
    """What to set and what to unset so SDKs fetch `profile` from the daemon.

    `token_file` is the file holding `token` (default: the default token's file).
    """
    assign = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://{address}/credentials/{profile}",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file or paths.token_file),
    }
    remove = list(SHADOWING)
    if token is not None:
        # Older SDKs and the AWS CLI before late 2023 read only the variable.
        assign["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = token
    else:
        remove.append("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    if imds:
        # botocore's IMDS client honours proxy variables: keep loopback off the proxy.
        host = address.rpartition(":")[0]
        current = [h for h in env_no_proxy.split(",") if h.strip()]
        assign["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://{address}/"
        no_proxy = ",".join([*current, host] if host not in current else current)
        assign["NO_PROXY"] = assign["no_proxy"] = no_proxy
        remove.append("AWS_EC2_METADATA_DISABLED")
    region = files.region(profile)
    if region:
        assign["AWS_REGION"] = region
        assign["AWS_DEFAULT_REGION"] = region  # botocore reads only this one
    return assign, remove


def default_keys_warning(files: AwsFiles) -> str | None:
    """What to tell the user when `[default]` keys would shadow stsd, else None."""
    if not files.default_keys_in_credentials_file():
        return None
    return (
        f"[default] in {files.credentials_path} holds access keys; boto3 and the AWS CLI "
        "read them before asking stsd, so they would not use stsd at all. Move them "
        "into stsd's store with `stsd keys import default`, or out of [default]."
    )


def warn_default_keys(files: AwsFiles) -> None:
    message = default_keys_warning(files)
    if message is not None:
        warn(message)


def _print(
    args: argparse.Namespace, env: Mapping[str, str], assign: dict[str, str], remove: list[str]
) -> None:
    if args.json:
        import json

        print(json.dumps({"set": assign, "unset": remove}, indent=2))
    else:
        print(render(args.shell or detect_shell(env), assign, remove), end="")


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if args.unset:
        _print(args, env, {}, list(SET_BY_ENV))
        return 0
    paths = Paths.from_env(env)
    try:
        settings = load_settings(paths.config_file)
        files = load_aws_files(env)
        profile = choose_profile(args.profile, settings, files)
    except (SettingsError, AwsFilesError) as error:
        return fail(str(error), _EXIT_CONFIG)
    except ProfileError as error:
        return fail(str(error), 2)
    try:
        ensure_private_dir(paths.runtime_dir)
    except UnsafeRuntimeDir as error:
        return fail(f"unsafe runtime directory: {error}")
    address, running = daemon_address(paths, settings)
    if args.login and running:
        # Opt-in: the prompt and its outcome go to the terminal, never to stdout. Imported
        # here: the control client's http.client would slow every other `stsd env`.
        from stsd.client.control import Control
        from stsd.client.terminal import offer_login

        offer_login(Control(paths.control_socket), profile)
    if not running:
        warn(
            "the stsd daemon is not running: these lines will work once it is "
            "(`stsd serve`, or `stsd service install` to start it at login)"
        )
    token = None if args.no_token_env else ensure_token(paths.token_file)
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    assign, remove = environment_for(
        profile, address, token, paths, files, imds=args.imds, env_no_proxy=no_proxy
    )
    warn_default_keys(files)
    _print(args, env, assign, remove)
    return 0
