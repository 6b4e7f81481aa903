"""`stsd doctor`: silent on a good setup, one line for each thing that is wrong."""

import os
import subprocess
import sys
from pathlib import Path

from harness import env_for

from stsd.client.sandbox import DaemonProcess, Sandbox


def _doctor(env: dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-m", "stsd.client", "doctor", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _lines(result: "subprocess.CompletedProcess[str]", level: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(level)]


def test_good_setup_has_no_problem(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    """Daemon up, shell pointed at it: exit 0; what remains are warnings with their fix
    (no keyring in the sandbox: the store's master key is in a file)."""
    result = _doctor(env_for(sandbox, "readonly"))
    assert result.returncode == 0, result.stdout
    assert _lines(result, "FAIL") == []
    warnings = _lines(result, "warn")
    assert len(warnings) == 3
    assert "plain text" in warnings[0]
    assert "master key is in a file" in warnings[1]
    assert "stsd service install" in warnings[2]


def test_installed_service_is_recognised(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    unit = Path(sandbox.env["XDG_CONFIG_HOME"]) / "systemd" / "user" / "stsd.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\n")
    result = subprocess.run(
        [sys.executable, "-m", "stsd.client", "doctor"],
        env=env_for(sandbox, "readonly"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert any(
        line.startswith("ok") and "service installed" in line for line in result.stdout.splitlines()
    )


def test_daemon_down_is_a_problem(sandbox: Sandbox) -> None:
    result = _doctor(sandbox.env)
    assert result.returncode == 1
    assert any("daemon" in line and "not running" in line for line in _lines(result, "FAIL"))


def test_broken_config_is_a_problem_naming_the_profile(sandbox: Sandbox) -> None:
    sandbox.write_aws_files("[profile x]\nrole_arn = arn:aws:iam::1:role/R\n", "")
    result = _doctor(sandbox.env)
    assert any(
        "profile x has role_arn but no source_profile" in line
        for line in result.stdout.splitlines()
    )
    assert result.returncode == 1


def test_default_keys_are_a_problem(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    credentials = sandbox.aws_credentials.read_text()
    sandbox.aws_credentials.write_text(
        credentials + "[default]\naws_access_key_id = AKIAX\naws_secret_access_key = y\n"
    )
    result = _doctor(env_for(sandbox, "readonly"))
    assert any("[default]" in line for line in _lines(result, "FAIL"))


def test_too_long_duration_is_a_warning(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    config = sandbox.aws_config.read_text().replace(
        "[profile poweruser]\n", "[profile poweruser]\nduration_seconds = 43200\n"
    )
    sandbox.write_aws_files(config, sandbox.aws_credentials.read_text())
    result = _doctor(env_for(sandbox, "readonly"))
    assert any("lowered to 3600" in line for line in _lines(result, "warn"))


def test_shadowing_variables_are_named(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    env = {**env_for(sandbox, "readonly"), "AWS_PROFILE": "x", "AWS_ACCESS_KEY_ID": "y"}
    warnings = _lines(_doctor(env), "warn")
    assert any("AWS_PROFILE, AWS_ACCESS_KEY_ID set" in line for line in warnings)
    assert not any("role themselves" in line for line in warnings)  # x is no role profile


def test_aws_profile_naming_a_role_profile_is_explained(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    warnings = _lines(_doctor({**env_for(sandbox, "readonly"), "AWS_PROFILE": "poweruser"}), "warn")
    assert any(
        "AWS_PROFILE=poweruser makes SDKs assume poweruser's role themselves" in line
        and 'eval "$(stsd env poweruser)"' in line
        for line in warnings
    ), warnings


def test_token_file_with_newline_or_loose_mode_is_a_problem(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    env = env_for(sandbox, "readonly")  # before breaking it: `stsd env` repairs the file
    token_file = sandbox.paths.token_file
    token_file.write_text(token_file.read_text() + "\n")
    os.chmod(token_file, 0o644)  # noqa: S103 - the mistake under test
    problems = _lines(_doctor(env), "FAIL")
    assert any("chmod 600" in line for line in problems)
    assert any("white space" in line for line in problems)


def test_loose_runtime_dir_is_a_problem(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    env = env_for(sandbox, "readonly")
    os.chmod(sandbox.paths.runtime_dir, 0o755)  # noqa: S103 - the mistake under test
    try:
        problems = _lines(_doctor(env), "FAIL")
    finally:
        os.chmod(sandbox.paths.runtime_dir, 0o700)
    assert any("must be yours and 0700" in line for line in problems)
