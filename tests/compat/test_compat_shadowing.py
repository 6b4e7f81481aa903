"""What wins over stsd in each client's default chain, and what the user sees.

Two layouts shadow the container endpoint in every SDK that reads the AWS files first:
a profile chosen with AWS_PROFILE (set after `stsd env`, which unsets it) and access
keys under `[default]` in ~/.aws/credentials. The JS SDK's container-only providers
(fromContainerMetadata, fromHttp) read no file and are never shadowed. A
credential_process profile picked with AWS_PROFILE is the way out of both.
"""

from collections.abc import Iterator

import pytest
from compat_clients import (
    ALL_CLIENTS,
    CONTAINER_ONLY_CLIENTS,
    DEFAULT_CHAIN_CLIENTS,
    PROCESS_PROFILE,
    ROLE_ARN,
    USER_ARN,
    env_after,
    with_process_profile,
)
from harness import login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess


@pytest.fixture
def keys_in_default(sandbox: Sandbox, emulator: EmulatorProcess) -> Iterator[Sandbox]:
    """The common layout: the bastion keys under [default], a daemon logged in with them."""
    config = sandbox.aws_config.read_text().replace("[profile bastion]", "[default]")
    config = config.replace("source_profile = bastion", "source_profile = default")
    credentials = sandbox.aws_credentials.read_text().replace("[bastion]", "[default]")
    sandbox.write_aws_files(config, credentials)
    with_process_profile(sandbox)
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        login(sandbox, emulator, source="default")
        yield sandbox


@pytest.mark.parametrize("name", ALL_CLIENTS)
def test_keys_in_default_shadow_every_chain_that_reads_the_files(
    name: str, keys_in_default: Sandbox
) -> None:
    """After `stsd env`, file-reading chains are the bastion user, not the role; the
    container-only JS providers still get the role."""
    outcome = ALL_CLIENTS[name](env_after(keys_in_default, "readonly"))
    expected = ROLE_ARN if name in CONTAINER_ONLY_CLIENTS else USER_ARN
    assert outcome.arn == expected, outcome.stderr


def test_stsd_env_says_so_when_default_holds_keys(keys_in_default: Sandbox) -> None:
    """What the user sees: a warning on stderr naming the file and the fix; the shell
    lines on stdout are unchanged."""
    result = keys_in_default.stsd(["env", "readonly", "--shell", "bash"])
    assert result.returncode == 0
    assert f"[default] in {keys_in_default.aws_credentials} holds access keys" in result.stderr
    assert "stsd keys import" in result.stderr
    assert "[default]" not in result.stdout


@pytest.mark.parametrize("name", DEFAULT_CHAIN_CLIENTS)
def test_a_credential_process_profile_gets_past_default_keys(
    name: str, keys_in_default: Sandbox
) -> None:
    """AWS_PROFILE=readonly-stsd skips [default]: the role again, keys left in place."""
    env = {**keys_in_default.env, "AWS_PROFILE": PROCESS_PROFILE}
    outcome = DEFAULT_CHAIN_CLIENTS[name](env)
    assert outcome.arn == ROLE_ARN, outcome.stderr


@pytest.mark.parametrize("name", ALL_CLIENTS)
def test_aws_profile_of_the_source_wins_over_stsd(
    name: str, sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """AWS_PROFILE=bastion exported after `stsd env`: file-reading chains use the bastion
    keys (the bastion user, and no MFA); container-only providers ignore it."""
    login(sandbox, emulator)
    env = {**env_after(sandbox, "readonly"), "AWS_PROFILE": "bastion"}
    outcome = ALL_CLIENTS[name](env)
    expected = ROLE_ARN if name in CONTAINER_ONLY_CLIENTS else USER_ARN
    assert outcome.arn == expected, outcome.stderr


# Debian's CLI 2.9 is left out: it would send the AssumeRole it attempts to the real
# STS, since it predates AWS_ENDPOINT_URL_STS (the command-line endpoint covers only the
# command's own client).
ROLE_PROFILE_CLIENTS = [name for name in DEFAULT_CHAIN_CLIENTS if name != "aws-cli-v2"]


@pytest.mark.parametrize("name", ROLE_PROFILE_CLIENTS)
def test_aws_profile_of_a_role_makes_the_sdk_assume_it_without_mfa(
    name: str, sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """AWS_PROFILE=readonly (the role profile itself): the SDK assumes the role with the
    bastion keys and no MFA code, and the user sees STS's AccessDenied."""
    login(sandbox, emulator)
    env = {**env_after(sandbox, "readonly"), "AWS_PROFILE": "readonly"}
    outcome = DEFAULT_CHAIN_CLIENTS[name](env)
    assert outcome.arn is None
    assert "AccessDenied" in outcome.stderr
    assert "not authorized to perform: sts:AssumeRole" in outcome.stderr
