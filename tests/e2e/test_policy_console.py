"""`stsd policy` prints IAM JSON that enforces the pattern; `stsd console` signs in."""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from harness import login

from stsd.client.policy import bastion_policy, trust_policy
from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    assert policy["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = policy["Statement"]
    assert len({s["Sid"] for s in statements}) == len(statements)
    return statements


def _actions(statement: dict[str, Any], key: str = "Action") -> list[str]:
    value = statement.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def _needs_mfa(statement: dict[str, Any]) -> bool:
    condition: dict[str, Any] = statement.get("Condition", {})
    return condition.get("Bool") == {"aws:MultiFactorAuthPresent": "true"}


def test_bastion_policy_allows_assume_role_only_with_mfa() -> None:
    """Every Allow of sts:AssumeRole and of key management carries the MFA condition."""
    statements = _statements(bastion_policy("*", ["arn:aws:iam::*:role/*"]))
    sensitive = {"sts:AssumeRole", "iam:CreateAccessKey", "iam:DeleteAccessKey"}
    for statement in statements:
        if statement["Effect"] == "Allow" and sensitive & set(_actions(statement)):
            assert _needs_mfa(statement), statement["Sid"]


def test_bastion_policy_denies_everything_else_without_mfa() -> None:
    """A Deny on everything but MFA setup and GetSessionToken while MFA is absent."""
    deny = [s for s in _statements(bastion_policy("*", ["*"])) if s["Effect"] == "Deny"]
    assert len(deny) == 1
    assert deny[0]["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    allowed_without_mfa = set(_actions(deny[0], "NotAction"))
    assert "sts:GetSessionToken" in allowed_without_mfa
    assert not {"sts:AssumeRole", "iam:CreateAccessKey"} & allowed_without_mfa
    assert all(a.startswith(("iam:", "sts:GetSessionToken")) for a in allowed_without_mfa)


def test_bastion_policy_grants_no_wildcard_action() -> None:
    for statement in _statements(bastion_policy("111111111111", ["*"])):
        assert "*" not in _actions(statement)
        assert not any(a.endswith(":*") for a in _actions(statement))


def test_trust_policy_requires_mfa_and_optionally_its_age() -> None:
    plain = _statements(trust_policy("111111111111", None))[0]
    assert plain["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert _needs_mfa(plain) and "NumericLessThan" not in plain["Condition"]
    aged = _statements(trust_policy("111111111111", 43200))[0]
    assert aged["Condition"]["NumericLessThan"] == {"aws:MultiFactorAuthAge": "43200"}


def test_policy_cli_prints_valid_json(sandbox: Sandbox) -> None:
    bastion = sandbox.stsd(["policy", "bastion", "--bastion-account", "111111111111"])
    assert bastion.returncode == 0
    assert json.loads(bastion.stdout)["Statement"]
    trust = sandbox.stsd(["policy", "trust", "--bastion-account", "111111111111"])
    assert json.loads(trust.stdout)["Statement"][0]["Action"] == "sts:AssumeRole"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["policy", "trust"], "needs --bastion-account"),
        (["policy", "trust", "--bastion-account", "12"], "12-digit"),
        (
            ["policy", "trust", "--bastion-account", "111111111111", "--max-mfa-age", "3600"],
            "shorter than the MFA session",
        ),
    ],
)
def test_policy_cli_refuses_bad_input(sandbox: Sandbox, args: list[str], message: str) -> None:
    result = sandbox.stsd(args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def _console_settings(sandbox: Sandbox, emulator: EmulatorProcess) -> None:
    sandbox.write_settings(f'[console]\nsignin_url = "{emulator.url}/federation"\n')


def test_console_url_signs_in_as_the_role(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """--print gives a login URL whose token the sign-in endpoint accepts once."""
    _console_settings(sandbox, emulator)
    login(sandbox, emulator)
    result = sandbox.stsd(["console", "readonly", "--print"])
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["Action"] == ["login"]
    assert query["Destination"] == [
        "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
    ]

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as first:
        opener.open(url)
    first.value.close()
    assert first.value.code == 302
    with pytest.raises(urllib.error.HTTPError) as again:
        opener.open(url)
    again.value.close()
    assert again.value.code == 400  # a sign-in token works once


def test_console_without_a_session_says_run_stsd_login(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    _console_settings(sandbox, emulator)
    result = sandbox.stsd(["console", "readonly", "--print"])
    assert result.returncode == 3
    assert "stsd login" in result.stderr
    assert result.stdout == ""


def test_console_with_the_daemon_down(sandbox: Sandbox) -> None:
    result = sandbox.stsd(["console", "readonly", "--print"])
    assert result.returncode == 1
    assert "not running" in result.stderr
