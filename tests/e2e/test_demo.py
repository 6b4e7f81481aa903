"""`stsd demo`, the README's first command, as a new user runs it."""

import subprocess
import sys

from stsd.client.sandbox import clean_environment


def _demo(*args: str, stdin: str = "") -> "subprocess.CompletedProcess[str]":
    import os

    return subprocess.run(
        [sys.executable, "-m", "stsd.client", "demo", *args],
        input=stdin,
        env=clean_environment(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_auto_mfa_ends_as_the_role() -> None:
    """--auto-mfa answers itself; a boto3 process ends as the assumed role; exit 0."""
    result = _demo("--auto-mfa")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "assumed-role/ReadOnly/alice" in result.stdout
    assert "503 NeedsMfa" in result.stdout


def test_demo_takes_a_typed_code_and_retries_a_wrong_one() -> None:
    """A wrong or malformed code is refused with a message; no code at all fails cleanly."""
    result = _demo(stdin="12\n000000\n")
    assert result.returncode != 0
    assert "6 digits" in result.stdout
    assert "rejected" in result.stdout or "no code" in result.stderr
    assert "Traceback" not in result.stderr
