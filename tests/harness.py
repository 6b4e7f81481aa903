"""Helpers for tests that drive real processes: HTTP like an SDK, env like a shell."""

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.process import EmulatorProcess

ALICE = DEMO_CONFIG.users[0]


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: dict[str, Any]


def fetch(url: str, token: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    """GET `url` like an SDK's container provider does."""
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310
    if token is not None:
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return Reply(response.status, response.headers["Content-Type"], json.load(response))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers["Content-Type"], json.loads(error.read()))


def login(sandbox: Sandbox, emulator: EmulatorProcess, source: str = "bastion") -> None:
    result = sandbox.stsd(["login", source, "--code", emulator.control.code(ALICE.name)])
    assert result.returncode == 0, result.stderr


def env_for(sandbox: Sandbox, profile: str) -> dict[str, str]:
    """The sandbox's environment after `eval "$(stsd env PROFILE)"`."""
    result = sandbox.stsd(["env", profile, "--json"])
    assert result.returncode == 0, result.stderr
    lines = json.loads(result.stdout)
    env = {**sandbox.env, **lines["set"]}
    for name in lines["unset"]:
        env.pop(name, None)
    return env


def run_python(env: Mapping[str, str], code: str) -> "subprocess.CompletedProcess[str]":
    """Run `code` in a separate Python process with `env`."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


CALLER_ARN = """
import boto3
print(boto3.Session().client("sts").get_caller_identity()["Arn"])
"""


def caller_arn(env: Mapping[str, str]) -> str:
    result = run_python(env, CALLER_ARN)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def kill_hard(daemon: DaemonProcess) -> None:
    """`kill -9` the daemon: no shutdown code runs, what is on disk is all there is.

    It leaves its address file and control socket behind, as a crash does.
    """
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait(10)
