"""`keys import` edits ~/.aws/credentials: keys out, every other byte kept."""

import os
import stat
from pathlib import Path

import pytest

from stsd.daemon.credentials_file import read_keys, remove_keys
from stsd.daemon.errors import ConfigError

BEFORE = """\
# Managed by hand. Do not share.
[default]
; the bastion user, alice
aws_access_key_id = AKIAEXAMPLEDEFAULT01
aws_secret_access_key = defaultSecret0000000000000000000000000000

[bastion]
aws_access_key_id=AKIAEXAMPLEBASTION01
aws_secret_access_key=bastionSecret000000000000000000000000000
region = eu-west-1   # kept

# a profile for another tool
[other]
aws_access_key_id = AKIAEXAMPLEOTHER0001
aws_secret_access_key = otherSecret00000000000000000000000000000
"""


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    path = tmp_path / "credentials"
    path.write_text(BEFORE)
    os.chmod(path, 0o600)
    return path


def test_read_keys_of_a_section(credentials: Path) -> None:
    keys = read_keys(credentials, "bastion")
    assert keys is not None and keys.access_key_id == "AKIAEXAMPLEBASTION01"
    assert read_keys(credentials, "missing") is None


def test_removing_default_keeps_every_other_section_and_comment(credentials: Path) -> None:
    """[default] keeps its comment (so it stays, without keys); all else is unchanged."""
    remove_keys(credentials, "default")
    after = credentials.read_text()
    assert after == BEFORE.replace(
        "aws_access_key_id = AKIAEXAMPLEDEFAULT01\n"
        "aws_secret_access_key = defaultSecret0000000000000000000000000000\n",
        "",
    )
    assert read_keys(credentials, "default") is None
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_a_section_left_empty_goes_away(credentials: Path) -> None:
    remove_keys(credentials, "other")
    after = credentials.read_text()
    assert "[other]" not in after and "otherSecret" not in after
    assert "# a profile for another tool" in after  # the comment above it belongs to [bastion]
    assert after.startswith(BEFORE[: BEFORE.index("[other]")])


def test_options_beside_the_keys_stay(credentials: Path) -> None:
    remove_keys(credentials, "bastion")
    after = credentials.read_text()
    assert "[bastion]\nregion = eu-west-1   # kept\n" in after
    assert "bastionSecret" not in after and "defaultSecret" in after


def test_a_symlinked_file_is_edited_where_it_points(tmp_path: Path, credentials: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(credentials)
    remove_keys(link, "bastion")
    assert link.is_symlink()
    assert "bastionSecret" not in credentials.read_text()


def test_temporary_credentials_and_half_pairs_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[t]\naws_access_key_id = A\naws_secret_access_key = B\naws_session_token = C\n"
    )
    with pytest.raises(ConfigError, match="temporary credentials"):
        read_keys(path, "t")
    path.write_text("[h]\naws_access_key_id = A\n")
    with pytest.raises(ConfigError, match="half a key pair"):
        read_keys(path, "h")
