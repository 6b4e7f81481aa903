"""`stsd credential-process PROFILE`: the format, the failures, and real clients using it.

A profile `[profile readonly-stsd]` with `credential_process = stsd credential-process
readonly` lets tools that only read profiles (or `AWS_PROFILE` users) share the daemon's
session: no `stsd env` lines are involved in these tests.
"""

import json
import time
from collections.abc import Callable, Mapping

import pytest
from compat_clients import (
    PROCESS_PROFILE,
    ROLE_ARN,
    Outcome,
    aws_cli_v1,
    aws_cli_v2,
    boto3_client,
    js_client,
    stsd_command,
    with_process_profile,
)
from harness import ALICE, fetch, login, run_python

from stsd.client.credential_process import process_json
from stsd.client.endpoint import EXIT_CODES
from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.daemon import errors
from stsd.emulator.process import EmulatorProcess

Client = Callable[[Mapping[str, str]], Outcome]
PROCESS_CLIENTS: dict[str, Client] = {
    "boto3": boto3_client,
    "aws-cli-v1": aws_cli_v1,
    "aws-cli-v2": aws_cli_v2,
    "js-default": js_client("default"),
}


def test_prints_version_1_json_of_the_daemons_credentials(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """The same credentials the endpoint serves, renamed to the credential_process form."""
    login(sandbox, emulator)
    result = sandbox.stsd(["credential-process", "readonly"])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    served = fetch(daemon.url("readonly"), daemon.token).body
    assert document == {
        "Version": 1,
        "AccessKeyId": served["AccessKeyId"],
        "SecretAccessKey": served["SecretAccessKey"],
        "SessionToken": served["Token"],
        "Expiration": served["Expiration"],
        "AccountId": "222222222222",
    }
    time.strptime(document["Expiration"], "%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("name", PROCESS_CLIENTS)
def test_clients_share_the_daemons_session_through_credential_process(
    name: str, sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """AWS_PROFILE=readonly-stsd, no `stsd env`: the client is the role, and STS saw no
    call beyond the daemon's one session and one AssumeRole."""
    with_process_profile(sandbox)
    login(sandbox, emulator)
    outcome = PROCESS_CLIENTS[name]({**sandbox.env, "AWS_PROFILE": PROCESS_PROFILE})
    assert outcome.arn == ROLE_ARN, outcome.stderr
    calls = emulator.control.calls()
    assert calls.get("GetSessionToken") == 1
    assert calls.get("AssumeRole") == 1


@pytest.mark.parametrize("name", ["boto3", "aws-cli-v1", "aws-cli-v2"])
def test_what_the_user_sees_when_the_daemon_needs_mfa(
    name: str, sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    """botocore shows the command's stderr: the daemon's own words, naming `stsd login`."""
    with_process_profile(sandbox)
    outcome = PROCESS_CLIENTS[name]({**sandbox.env, "AWS_PROFILE": PROCESS_PROFILE})
    assert outcome.arn is None
    assert "no MFA session yet for bastion: run `stsd login bastion`" in outcome.stderr


def test_needs_mfa_exits_3_with_nothing_on_stdout(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    result = sandbox.stsd(["credential-process", "readonly"])
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == "stsd: no MFA session yet for bastion: run `stsd login bastion`\n"


def test_daemon_down_exits_1_and_says_start_it(sandbox: Sandbox) -> None:
    """No daemon: one line naming `stsd serve`, nothing an SDK would try to parse."""
    result = sandbox.stsd(["credential-process", "readonly"])
    assert result.returncode == 1
    assert result.stdout == ""
    assert "not running" in result.stderr and "stsd serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_daemon_gone_after_it_ran_exits_1(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """The daemon stopped (its token file and address left behind): same clear line."""
    login(sandbox, emulator)
    daemon.stop()
    result = sandbox.stsd(["credential-process", "readonly"])
    assert result.returncode == 1
    assert "not running" in result.stderr


def test_unknown_profile_exits_2_and_lists_the_known_ones(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    result = sandbox.stsd(["credential-process", "nope"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "readonly" in result.stderr


def test_a_profile_name_cannot_reach_another_route(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """The name is one path segment: `../x` asks for the profile `../x`, which is unknown."""
    login(sandbox, emulator)
    result = sandbox.stsd(["credential-process", "../credentials/readonly"])
    assert result.returncode == 2
    assert result.stdout == ""


def test_credential_process_in_the_role_profile_itself_is_ignored(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """Why the README puts credential_process in a profile of its own: beside role_arn,
    boto3 assumes the role itself with the bastion keys and no MFA, and STS refuses."""
    config = sandbox.aws_config.read_text().replace(
        "[profile readonly]\n",
        f"[profile readonly]\ncredential_process = {stsd_command()} credential-process readonly\n",
    )
    sandbox.write_aws_files(config, sandbox.aws_credentials.read_text())
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        login(sandbox, emulator)
        outcome = boto3_client({**sandbox.env, "AWS_PROFILE": "readonly"})
    assert outcome.arn is None
    assert "AccessDenied" in outcome.stderr and "AssumeRole" in outcome.stderr


def test_no_secret_on_stderr_and_no_heavy_imports(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """The command stays on the standard library (SDKs run it at every refresh) and its
    failures never echo the token or a key."""
    login(sandbox, emulator)
    probe = """
import sys
from stsd.client.main import main
code = main(["credential-process", "readonly"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"boto3", "botocore", "aiohttp"})
print("HEAVY", heavy, file=sys.stderr)
sys.exit(1 if heavy or code else 0)
"""
    result = run_python(sandbox.env, probe)
    assert result.returncode == 0, result.stderr
    failures = [
        sandbox.stsd(["credential-process", "nope"]),
        sandbox.stsd(["credential-process", ""]),
    ]
    for failure in failures:
        assert failure.returncode != 0
        for secret in (daemon.token, ALICE.secret_access_key):
            assert secret not in failure.stderr


def test_exit_codes_agree_with_the_daemons_errors() -> None:
    """Each daemon error class maps to its own exit code; nothing is left unmapped."""
    for name in errors.__all__:
        error_class = getattr(errors, name)
        if error_class is errors.StsdError:
            continue
        assert EXIT_CODES[name] == error_class.exit_code, name


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"AccessKeyId": "A", "SecretAccessKey": "S", "Token": "T"},
        {"AccessKeyId": "A", "SecretAccessKey": "", "Token": "T", "Expiration": "E"},
        {"AccessKeyId": 1, "SecretAccessKey": "S", "Token": "T", "Expiration": "E"},
    ],
)
def test_an_incomplete_answer_is_no_credentials(body: dict[str, object]) -> None:
    assert process_json(body) is None


def test_an_empty_account_id_is_left_out() -> None:
    body = {"AccessKeyId": "A", "SecretAccessKey": "S", "Token": "T", "Expiration": "E"}
    assert process_json({**body, "AccountId": ""}) == {
        "Version": 1,
        "AccessKeyId": "A",
        "SecretAccessKey": "S",
        "SessionToken": "T",
        "Expiration": "E",
    }
