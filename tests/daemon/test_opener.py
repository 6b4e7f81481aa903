"""Opening the MFA page: the command the unit sets, or the platform's opener."""

import subprocess
from pathlib import Path

from stsd.client.units import SANDBOXED_OPEN_URL
from stsd.daemon.opener import OPEN_URL_ENV, open_url_argv

URL = "http://127.0.0.1:9925/mfa/one-time?x=1&y=2"


def test_the_units_command_gets_the_url_as_its_last_argument() -> None:
    argv = open_url_argv(URL, {OPEN_URL_ENV: SANDBOXED_OPEN_URL}, "linux")
    assert argv == ["systemd-run", "--user", "--collect", "--quiet", "--", "xdg-open", URL]


def test_without_the_variable_the_platform_opener() -> None:
    assert open_url_argv(URL, {}, "linux") == ["xdg-open", URL]
    assert open_url_argv(URL, {OPEN_URL_ENV: " "}, "darwin") == ["open", URL]


def test_the_url_reaches_the_command_intact(tmp_path: Path) -> None:
    """Run for real: `&` and `?` arrive as one argument, no shell in between."""
    out = tmp_path / "seen"
    argv = open_url_argv(URL, {OPEN_URL_ENV: f"sh -c 'printf %s \"$1\" > {out}' opener"})
    subprocess.run(argv, check=True, timeout=10)
    assert out.read_text() == URL
