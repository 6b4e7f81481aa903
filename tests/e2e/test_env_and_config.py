"""`stsd env` without a daemon, the `[default]` shadowing case, and broken configs."""

import json
import socket
import subprocess
from pathlib import Path

import pytest
from harness import ALICE, caller_arn, env_for, login

from stsd.client.sandbox import Sandbox
from stsd.emulator.process import EmulatorProcess


def test_env_works_while_the_daemon_is_down(sandbox: Sandbox) -> None:
    """Same lines on the configured address, a warning on stderr, and a token file."""
    result = sandbox.stsd(["env", "readonly", "--shell", "bash"])
    assert result.returncode == 0
    assert "not running" in result.stderr
    assert (
        "export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9925/credentials/readonly;"
        in (result.stdout)
    )
    token_file = sandbox.paths.token_file
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert not token_file.read_text().endswith("\n")
    assert f"AWS_CONTAINER_AUTHORIZATION_TOKEN={token_file.read_text()}" in result.stdout


def test_env_lines_set_and_unset_what_design_lists(sandbox: Sandbox) -> None:
    """Full URI, token file and variable, both region variables; shadowing ones unset."""
    data = json.loads(sandbox.stsd(["env", "readonly", "--json"]).stdout)
    assert set(data["set"]) == {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    }
    assert data["set"]["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert set(data["unset"]) == {
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    }


def test_env_lines_evaluate_in_bash(sandbox: Sandbox) -> None:
    """bash runs the printed lines and ends with the variables set and AWS_PROFILE gone."""
    lines = sandbox.stsd(["env", "readonly", "--shell", "bash"]).stdout
    check = 'echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI|${AWS_PROFILE-unset}"'
    script = f"export AWS_PROFILE=oops\n{lines}\n{check}"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "http://127.0.0.1:9925/credentials/readonly|unset"


def test_env_without_profile_lists_the_profiles(sandbox: Sandbox) -> None:
    """No PROFILE and no default_profile: an error that lists what exists."""
    result = sandbox.stsd(["env"])
    assert result.returncode == 2
    assert "readonly" in result.stderr and "deploy" in result.stderr
    assert result.stdout == ""


def test_env_uses_default_profile_from_config_toml(sandbox: Sandbox) -> None:
    sandbox.write_settings('default_profile = "poweruser"\n')
    result = sandbox.stsd(["env", "--json"])
    assert json.loads(result.stdout)["set"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"].endswith(
        "/credentials/poweruser"
    )


def test_keys_in_default_shadow_stsd_and_env_says_so(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """Bastion keys in [default] (the common layout): env warns and names the fix.

    The warning is not idle: boto3 really uses the [default] keys instead of stsd.
    """
    config = sandbox.aws_config.read_text().replace("[profile bastion]", "[default]")
    config = config.replace("source_profile = bastion", "source_profile = default")
    credentials = sandbox.aws_credentials.read_text().replace("[bastion]", "[default]")
    sandbox.write_aws_files(config, credentials)
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        login(sandbox, emulator, source="default")
        result = sandbox.stsd(["env", "readonly"])
        assert "[default]" in result.stderr and "stsd keys import" in result.stderr
        assert caller_arn(env_for(sandbox, "readonly")) == "arn:aws:iam::111111111111:user/alice"


@pytest.mark.parametrize(
    ("config", "credentials", "expected"),
    [
        ("[profile broken\nrole_arn = x\n", "", "config: not a valid INI file"),
        (
            "[profile lost]\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n",
            "",
            "profile lost has role_arn but no source_profile",
        ),
        (
            "[profile bastion]\nmfa_serial = arn:aws:iam::1:mfa/a\n"
            "[profile ro]\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n"
            "source_profile = bastion\n",
            "",
            "credentials: source profile bastion has no aws_access_key_id",
        ),
        (
            "[profile bastion]\n[profile ro]\nrole_arn = arn:aws:iam::2:role/R\n"
            "source_profile = bastion\n",
            f"[bastion]\naws_access_key_id = {ALICE.access_key_id}\naws_secret_access_key = x\n",
            "profile bastion has no mfa_serial",
        ),
    ],
    ids=["malformed", "no-source-profile", "source-without-keys", "no-mfa-serial"],
)
def test_serve_refuses_a_broken_config(
    sandbox: Sandbox, config: str, credentials: str, expected: str
) -> None:
    """`stsd serve` exits 78 with one line naming the file and the profile."""
    sandbox.write_aws_files(config, credentials)
    result = sandbox.stsd(["serve", "--listen", "127.0.0.1:0"])
    assert result.returncode == 78
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_broken_settings_file(sandbox: Sandbox) -> None:
    sandbox.write_settings('listen = "0.0.0.0:9925"\n')
    result = sandbox.stsd(["serve"])
    assert result.returncode == 78
    assert "not a loopback IP" in result.stderr
    assert str(Path("stsd") / "config.toml") in result.stderr


def test_an_ipv6_endpoint_is_named_as_a_url_can_hold_it(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """`listen = "[::1]:PORT"`: the address file, `stsd env` and credential-process use
    the bracketed form, and boto3 gets the role through it."""
    with socket.socket(socket.AF_INET6) as probe:
        try:
            probe.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback (::1) on this machine")
    with sandbox.start_daemon(["--listen", "[::1]:0"]) as daemon:
        daemon.wait_ready()
        login(sandbox, emulator)
        assert daemon.address.startswith("[::1]:")
        env = env_for(sandbox, "readonly")
        assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == (
            f"http://{daemon.address}/credentials/readonly"
        )
        assert caller_arn(env).endswith(f":assumed-role/ReadOnly/{ALICE.name}")
        result = sandbox.stsd(["credential-process", "readonly"])
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["Version"] == 1
