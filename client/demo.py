"""`stsd demo`: the whole flow, on a local STS emulator, in a throwaway home.

A bastion user with an MFA device, role profiles in ~/.aws/config, `stsd serve`, one
MFA code, `stsd env`, and a separate boto3 process that runs as the role.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from stsd.client.control import Control, ControlError
from stsd.client.output import fail, until
from stsd.client.sandbox import Sandbox

if TYPE_CHECKING:
    from stsd.emulator.config import EmulatorConfig
    from stsd.emulator.process import EmulatorProcess

__all__ = ["demo_aws_files", "run"]

DEMO_SOURCE = "bastion"
DEMO_PROFILE = "readonly"
_ATTEMPTS = 3

# What a user runs in their own shell, shown by the demo and run by a child process.
_CHILD = """
import boto3
session = boto3.Session()
identity = session.client("sts").get_caller_identity()
print(f"  caller:   {identity['Arn']}")
print(f"  provider: {session.get_credentials().method} (AWS_CONTAINER_CREDENTIALS_FULL_URI)")
"""


def demo_aws_files(config: "EmulatorConfig", region: str = "eu-west-1") -> tuple[str, str]:
    """~/.aws/config and ~/.aws/credentials for the emulator's first user and its roles.

    Each role becomes a profile named after the role in lower case; a role trusted only
    by another role's ARN is chained from that role's profile.
    """
    user = config.users[0]
    profile_of = {role.arn: role.arn.rsplit("/", 1)[-1].lower() for role in config.roles}
    lines = [
        f"[profile {DEMO_SOURCE}]",
        f"mfa_serial = {user.mfa_serial}",
        "region = us-east-1",
        "",
    ]
    for role in config.roles:
        parent = next((profile_of[t] for t in role.trusted if t in profile_of), DEMO_SOURCE)
        lines += [
            f"[profile {profile_of[role.arn]}]",
            f"role_arn = {role.arn}",
            f"source_profile = {parent}",
            f"region = {region}",
            "",
        ]
    credentials = (
        f"[{DEMO_SOURCE}]\n"
        f"aws_access_key_id = {user.access_key_id}\n"
        f"aws_secret_access_key = {user.secret_access_key}\n"
    )
    return "\n".join(lines), credentials


def _say(text: str = "") -> None:
    print(text, flush=True)


def _probe(url: str, token: str) -> str:
    """What an SDK would get from `url` right now, in one line."""
    request = urllib.request.Request(url, headers={"Authorization": token})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return f"{response.status} (credentials)"
    except urllib.error.HTTPError as error:
        body = json.loads(error.read() or b"{}")
        return f"{error.code} {body.get('code')}: {body.get('message')}"


def _ask_code(shown: str, auto: bool) -> str | None:
    if auto:
        _say(f"  MFA code: {shown} (--auto-mfa answered with the emulator's current code)")
        return shown
    try:
        answer = input(f"  Type the code your authenticator shows (the emulator's: {shown}): ")
    except EOFError:
        return None
    return answer.strip()


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    del env
    from stsd.emulator.config import DEMO_CONFIG
    from stsd.emulator.process import EmulatorProcess

    root = Path(tempfile.mkdtemp(prefix="stsd-demo-"))
    try:
        with EmulatorProcess(DEMO_CONFIG) as emulator:
            return _walk_through(root, emulator, args.auto_mfa)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _walk_through(root: Path, emulator: "EmulatorProcess", auto: bool) -> int:
    from stsd.emulator.config import DEMO_CONFIG

    sts_url = emulator.url
    sandbox = Sandbox(root, sts_endpoint=sts_url)
    sandbox.write_aws_files(*demo_aws_files(DEMO_CONFIG))
    _say("stsd demo: a bastion IAM user with an MFA device, and role profiles, on a local")
    _say(f"STS emulator at {sts_url}. Nothing here talks to AWS or touches your files.")
    _say()
    _say(f"~/.aws/config (in {root}/home):")
    _say("  " + sandbox.aws_config.read_text().strip().replace("\n", "\n  "))
    _say()
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        _say(f"1. `stsd serve` is up: http://{daemon.address}/credentials/<profile>")
        _say(
            f"2. Before any MFA code an SDK gets: {_probe(daemon.url(DEMO_PROFILE), daemon.token)}"
        )
        control = Control(sandbox.paths.control_socket)
        _say(f"3. `stsd login` asks once for a code of {DEMO_CONFIG.users[0].mfa_serial}:")
        for _ in range(_ATTEMPTS):
            code = _ask_code(emulator.control.code(DEMO_CONFIG.users[0].name), auto)
            if code is None:
                return fail("no code given (stdin closed); run `stsd demo --auto-mfa`")
            if not re.fullmatch(r"[0-9]{6}", code):
                _say("  an MFA code is 6 digits; again")
                continue
            try:
                reply = control.post("/v1/login", {"source": DEMO_SOURCE, "code": code})
            except ControlError as error:
                _say(f"  {error.message}")
                continue
            _say(f"  session for {reply['user_arn']} until {until(reply['session_expires'])}")
            break
        else:
            return fail(f"no code accepted after {_ATTEMPTS} tries")
        shown = sandbox.stsd(["env", DEMO_PROFILE, "--shell", "bash"])
        if shown.returncode != 0:
            return fail(f"`stsd env` failed: {shown.stderr.strip()}")
        _say(f'4. eval "$(stsd env {DEMO_PROFILE})" sets:')
        _say("  " + shown.stdout.strip().replace("\n", "\n  "))
        _say("5. A separate boto3 process with that environment runs as the role:")
        lines = json.loads(sandbox.stsd(["env", DEMO_PROFILE, "--json"]).stdout)
        child_env = {**sandbox.env, **lines["set"]}
        for name in lines["unset"]:
            child_env.pop(name, None)
        child = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", _CHILD], env=child_env, capture_output=True, text=True
        )
        if child.returncode != 0:
            return fail(f"the boto3 process failed:\n{child.stderr}\ndaemon log:\n{daemon.logs()}")
        _say(child.stdout.rstrip())
        status = control.get("/v1/status")
        role = next(r for r in status["roles"] if r["profile"] == DEMO_PROFILE)
        _say(f"  role credentials until {until(role['expires'])}; stsd re-assumes before then")
    _say()
    _say("Done: the daemon and the emulator are stopped and the temporary home removed.")
    _say('For real use: README.md, "Set up".')
    return 0
