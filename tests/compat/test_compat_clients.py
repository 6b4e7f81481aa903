"""Every client, in its own process, through `stsd env`, ends as the assumed role.

The daemon runs as a subprocess and talks to the STS emulator; each client reads the
lines `stsd env` printed and asks the emulator who it is. The emulator's request log
proves the call reached it (each SDK honoured AWS_ENDPOINT_URL_STS, or the endpoint on
the command line for the one that predates that variable) and was signed with the role.
"""

from collections.abc import Callable, Mapping

import pytest
from compat_clients import ALL_CLIENTS, ROLE_ARN, Outcome, aws_cli_v2, env_after, js_client
from harness import env_for, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess

Client = Callable[[Mapping[str, str]], Outcome]


@pytest.mark.parametrize("client", ALL_CLIENTS.values(), ids=ALL_CLIENTS.keys())
def test_client_ends_as_the_assumed_role(
    client: Client, sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """After one `stsd login`, the client is the role, and the emulator saw it so."""
    login(sandbox, emulator)
    outcome = client(env_for(sandbox, "readonly"))
    assert outcome.arn == ROLE_ARN, outcome.stderr
    last = emulator.control.requests()[-1]
    assert last["action"] == "GetCallerIdentity"
    assert last["status"] == 200
    assert last["caller_arn"] == ROLE_ARN


# What each client prints while the daemon has no MFA session. botocore (boto3, both
# CLIs) quotes the daemon's JSON error, which names the command to run; the JS SDK keeps
# only a status or a generic line, so Node users look at `stsd status`.
BEFORE_LOGIN = {
    "boto3": "run `stsd login bastion`",
    "aws-cli-v1": "run `stsd login bastion`",
    "aws-cli-v2": "run `stsd login bastion`",
    "js-default": "Could not load credentials from any providers",
    "js-chain": "Could not load credentials from any providers",
    "js-container": "Error response received from instance metadata service",
    "js-http": "Server responded with status: 503",
}


@pytest.mark.parametrize("name", ALL_CLIENTS)
def test_what_each_client_says_before_login(
    name: str, sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    """No MFA session yet: every client fails, saying what BEFORE_LOGIN lists."""
    outcome = ALL_CLIENTS[name](env_for(sandbox, "readonly"))
    assert outcome.arn is None
    assert outcome.returncode != 0
    assert BEFORE_LOGIN[name] in outcome.stderr


def test_debian_cli_v2_needs_the_token_variable(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """AWS CLI 2.9 reads AWS_CONTAINER_AUTHORIZATION_TOKEN only, not the token file:
    with `--no-token-env` it sends no token and the daemon's 401 says so."""
    login(sandbox, emulator)
    outcome = aws_cli_v2(env_after(sandbox, "readonly", "--no-token-env"))
    assert outcome.arn is None
    assert "MissingToken" in outcome.stderr


def test_js_sdk_warns_that_both_token_forms_are_set(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """What a Node user sees with `stsd env`'s default lines: the role, plus the SDK's
    two-line notice that the token file wins over the variable. `--no-token-env`
    silences it (the JS SDK reads the file)."""
    login(sandbox, emulator)
    noisy = js_client("default")(env_for(sandbox, "readonly"))
    assert noisy.arn == ROLE_ARN
    assert "awsContainerAuthorizationTokenFile will take precedence" in noisy.stderr
    quiet = js_client("default")(env_after(sandbox, "readonly", "--no-token-env"))
    assert quiet.arn == ROLE_ARN
    assert quiet.stderr == ""
