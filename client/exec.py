"""`stsd exec PROFILE -- CMD ...`: run CMD with a token good for PROFILE only.

The daemon issues the token on a lease that this process renews every third of its
length; when CMD exits the token is revoked, and if this process is killed the lease
lapses within seconds. CMD gets the token both in a file of its own (0600, in the
runtime dir) and in the variable, the full URI for PROFILE, PROFILE's region, and none
of the variables that would win over the container provider (`stsd env`'s list).

Run from a terminal, exec first asks for an MFA code there when PROFILE's source has no
session (the terminal driver of DESIGN), so `stsd exec prod -- terraform apply` is the
one command of a morning.

Keys under `[default]` in the credentials file would also win (botocore reads that file
first). `stsd env` can only warn, since it configures a whole shell; exec runs one
command that asked to be PROFILE, so it also points CMD's AWS_SHARED_CREDENTIALS_FILE at
an empty file: CMD runs as the role, no copy of any key is written, and the warning
still tells the user how to fix the layout for good.
"""

import argparse
import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stsd.client.awsfiles import AwsFilesError, load_aws_files
from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.env import (
    ProfileError,
    choose_profile,
    daemon_address,
    default_keys_warning,
    environment_for,
)
from stsd.client.output import fail, warn
from stsd.client.paths import Paths, UnsafeRuntimeDir, ensure_private_dir
from stsd.client.settings import SettingsError, load_settings
from stsd.client.supervise import SpawnError, exit_like, supervise
from stsd.client.terminal import offer_login
from stsd.client.tokens import write_token

__all__ = ["child_environment", "run"]

_EXIT_USAGE = 2
_EXIT_CONFIG = 78
_FILE_PREFIX = "token-exec-"
# Renewals go over a local socket: a daemon that takes this long is as good as gone,
# and the lease (several times this) leaves room for the next try.
_RENEW_TIMEOUT_SECONDS = 2.0


def child_environment(
    env: Mapping[str, str], assign: Mapping[str, str], remove: Sequence[str], hide_keys: bool
) -> dict[str, str]:
    """`env` with `remove` gone and `assign` set; the credentials file hidden if asked."""
    child = {name: value for name, value in env.items() if name not in remove}
    child.update(assign)
    if hide_keys:
        child["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return child


class _Lease:
    """The scoped token's lease: renewed on every tick, revoked at the end."""

    def __init__(self, control: Control, grant: dict[str, Any]) -> None:
        self._control = control
        self.id = str(grant["id"])
        self.token = str(grant["token"])
        self._renewal = {"token": self.token, "profile": grant["profile"], "label": grant["label"]}
        self.interval = float(grant["lease_seconds"]) / 3
        self._unreachable = False

    def renew(self) -> None:
        try:
            self._control.post(f"/v1/tokens/{self.id}", self._renewal)
        except DaemonUnreachable:
            if not self._unreachable:
                warn("can't reach the daemon to renew the command's token; still trying")
            self._unreachable = True
            return
        except ControlError as error:
            warn(f"the daemon refused to renew the command's token: {error.message}")
            return
        self._unreachable = False

    def revoke(self) -> None:
        with contextlib.suppress(DaemonUnreachable, ControlError):
            self._control.delete(f"/v1/tokens/{self.id}")


def _remove_stale_files(runtime_dir: Path) -> None:
    """Token files of `stsd exec` processes that were killed (their leases are dead)."""
    for path in runtime_dir.glob(f"{_FILE_PREFIX}*"):
        pid_text = path.name.removeprefix(_FILE_PREFIX).split("-")[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        except PermissionError:
            pass  # alive, under another uid (can't happen in a 0700 dir, but harmless)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    command = list(args.argv)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        return fail("which command? usage: stsd exec PROFILE -- CMD [ARG ...]", _EXIT_USAGE)
    paths = Paths.from_env(env)
    try:
        settings = load_settings(paths.config_file)
        files = load_aws_files(env)
        profile = choose_profile(args.profile, settings, files)
    except (SettingsError, AwsFilesError) as error:
        return fail(str(error), _EXIT_CONFIG)
    except ProfileError as error:
        return fail(str(error), _EXIT_USAGE)
    try:
        ensure_private_dir(paths.runtime_dir)
    except UnsafeRuntimeDir as error:
        return fail(f"unsafe runtime directory: {error}")
    address, running = daemon_address(paths, settings)
    if not running:
        return fail(
            "the stsd daemon is not running, and `stsd exec` needs it for the command's "
            "token: start it with `stsd serve` (or `stsd service install`)"
        )
    if os.isatty(0):
        # Interactive: a missing session is asked for here, not discovered by CMD.
        offer_login(Control(paths.control_socket), profile)
    control = Control(paths.control_socket, timeout=_RENEW_TIMEOUT_SECONDS)
    label = f"exec: {os.path.basename(command[0])}"[:100]
    try:
        grant = control.post("/v1/tokens", {"profile": profile, "label": label})
    except DaemonUnreachable as error:
        return fail(str(error))
    except ControlError as error:
        return fail(error.message, error.exit_code)
    lease = _Lease(control, grant)
    _remove_stale_files(paths.runtime_dir)
    token_file = paths.runtime_dir / f"{_FILE_PREFIX}{os.getpid()}-{lease.id}"
    try:
        write_token(token_file, lease.token)
        assign, remove = environment_for(profile, address, lease.token, paths, files, token_file)
        warning = default_keys_warning(files)
        if warning is not None:
            warn(
                f"{warning} For this command stsd sets AWS_SHARED_CREDENTIALS_FILE="
                f"{os.devnull}, so it runs as {profile}."
            )
        child_env = child_environment(env, assign, remove, warning is not None)
        try:
            status = supervise(command, child_env, lease.renew, lease.interval)
        except SpawnError as error:
            return fail(str(error), error.exit_code)
    finally:
        lease.revoke()
        with contextlib.suppress(FileNotFoundError):
            token_file.unlink()
    return exit_like(status)
