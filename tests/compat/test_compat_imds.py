"""Clients that speak only instance metadata reach the role through stsd's IMDSv2."""

import json
from collections.abc import Callable, Iterator, Mapping

import pytest
from compat_clients import ROLE_ARN, Outcome, boto3_client, js_client
from harness import env_for, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess

IMDS_CLIENTS: dict[str, Callable[[Mapping[str, str]], Outcome]] = {
    "boto3": boto3_client,
    "js-imds": js_client("imds"),
}


@pytest.fixture
def imds_daemon(sandbox: Sandbox) -> Iterator[DaemonProcess]:
    sandbox.write_settings('[imds]\nprofile = "readonly"\n')
    with sandbox.start_daemon() as process:
        process.wait_ready()
        yield process


@pytest.mark.parametrize("client", IMDS_CLIENTS.values(), ids=IMDS_CLIENTS.keys())
def test_imds_only_client_ends_as_the_role(
    client: Callable[[Mapping[str, str]], Outcome],
    sandbox: Sandbox,
    emulator: EmulatorProcess,
    imds_daemon: DaemonProcess,
) -> None:
    """Container variables removed, only AWS_EC2_METADATA_SERVICE_ENDPOINT: still the role."""
    login(sandbox, emulator)
    lines = json.loads(sandbox.stsd(["env", "readonly", "--imds", "--json"]).stdout)
    env = env_for(sandbox, "readonly")
    for name in [n for n in env if n.startswith("AWS_CONTAINER_")]:
        del env[name]
    env.update(
        {k: v for k, v in lines["set"].items() if k.startswith("AWS_EC2") or "proxy" in k.lower()}
    )
    outcome = client(env)
    assert outcome.arn == ROLE_ARN, outcome.stderr
