"""Real AWS clients, each run as its own process, asked who they are.

Every runner returns an `Outcome`: the ARN the client printed (from
`sts get-caller-identity` against the emulator) or None, and what it wrote on stderr,
which is what a user would see. A client that is not installed skips the test locally
and fails it on CI (`CI=true`), where scripts/setup must have installed it.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from stsd.client.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
WHOAMI_JS = Path(__file__).with_name("whoami.mjs")
DEBIAN_AWS = Path("/usr/bin/aws")
ROLE_ARN = "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"
USER_ARN = "arn:aws:iam::111111111111:user/alice"
# The profile that reaches the daemon through credential_process (see with_process_profile).
PROCESS_PROFILE = "readonly-stsd"


@dataclass(frozen=True)
class Outcome:
    arn: str | None
    stderr: str
    returncode: int


def need(path: Path, what: str) -> Path:
    """`path` if it exists; else skip locally, fail on CI."""
    if path.exists():
        return path
    message = f"{what} is missing ({path}): scripts/setup installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def stsd_command() -> Path:
    """The `stsd` console script of this installation, as a user's PATH would find it."""
    return need(VENV_BIN / "stsd", "the stsd console script")


def _run(argv: list[str], env: Mapping[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        argv, env=dict(env), capture_output=True, text=True, timeout=120, check=False
    )


def _from_json(result: "subprocess.CompletedProcess[str]") -> Outcome:
    arn = None
    if result.returncode == 0:
        arn = str(json.loads(result.stdout)["Arn"])
    return Outcome(arn, result.stderr, result.returncode)


def boto3_client(env: Mapping[str, str]) -> Outcome:
    """boto3's default chain, in a Python process of its own."""
    code = (
        "import boto3, json\n"
        "print(json.dumps(boto3.Session().client('sts').get_caller_identity()))\n"
    )
    return _from_json(_run([sys.executable, "-c", code], env))


def aws_cli_v1(env: Mapping[str, str]) -> Outcome:
    """The AWS CLI v1 from PyPI (the test extra), with its vendored botocore."""
    aws = need(VENV_BIN / "aws", "the AWS CLI v1 (pip: awscli)")
    return _from_json(_run([str(aws), "sts", "get-caller-identity", "--output", "json"], env))


def aws_cli_v2(env: Mapping[str, str]) -> Outcome:
    """Debian's AWS CLI v2 (2.9). It predates AWS_ENDPOINT_URL_STS, so the emulator's
    address goes on the command line, as a user of that version would have to."""
    aws = need(DEBIAN_AWS, "Debian's AWS CLI v2 (apt: awscli)")
    argv = [str(aws), "sts", "get-caller-identity", "--output", "json"]
    argv += ["--endpoint-url", env["AWS_ENDPOINT_URL_STS"]]
    return _from_json(_run(argv, {**env, "AWS_PAGER": ""}))


def js_client(provider: str) -> Callable[[Mapping[str, str]], Outcome]:
    """The AWS SDK for JavaScript v3 from node_modules, with `provider`: `default` (the
    client's own chain), `chain` (fromNodeProviderChain), `container`
    (fromContainerMetadata), `http` (fromHttp) or `imds` (fromInstanceMetadata)."""

    def run(env: Mapping[str, str]) -> Outcome:
        node = shutil.which("node", path=env.get("PATH"))
        need(Path(node or "/usr/bin/node"), "Node.js")
        need(ROOT / "node_modules" / "@aws-sdk" / "client-sts", "the JS SDK (npm ci)")
        # --no-warnings: Node's own deprecation notices are not what this test looks at.
        result = _run([node or "node", "--no-warnings", str(WHOAMI_JS), provider], env)
        return _from_json(result)

    return run


# Every client whose default chain reads the environment and the AWS files.
DEFAULT_CHAIN_CLIENTS = {
    "boto3": boto3_client,
    "aws-cli-v1": aws_cli_v1,
    "aws-cli-v2": aws_cli_v2,
    "js-default": js_client("default"),
    "js-chain": js_client("chain"),
}
# JS providers that read only the container variables.
CONTAINER_ONLY_CLIENTS = {
    "js-container": js_client("container"),
    "js-http": js_client("http"),
}
ALL_CLIENTS = {**DEFAULT_CHAIN_CLIENTS, **CONTAINER_ONLY_CLIENTS}


def with_process_profile(sandbox: Sandbox, role_profile: str = "readonly") -> None:
    """Add `[profile readonly-stsd]` with `credential_process = stsd credential-process`."""
    command = stsd_command()
    with sandbox.aws_config.open("a", encoding="utf-8") as config:
        config.write(
            f"\n[profile {PROCESS_PROFILE}]\n"
            f"credential_process = {command} credential-process {role_profile}\n"
            "region = eu-west-1\n"
        )


def env_after(sandbox: Sandbox, profile: str, *flags: str) -> dict[str, str]:
    """The sandbox's environment after `eval "$(stsd env PROFILE FLAGS...)"`."""
    result = sandbox.stsd(["env", profile, "--json", *flags])
    assert result.returncode == 0, result.stderr
    lines = json.loads(result.stdout)
    env = {**sandbox.env, **lines["set"]}
    for name in lines["unset"]:
        env.pop(name, None)
    return env
