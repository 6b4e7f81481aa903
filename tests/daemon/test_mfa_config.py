"""The daemon's checks of MFA configuration: driver names, sources, mfa_process."""

from pathlib import Path

import pytest

from stsd.client.awsfiles import AwsFiles, load_aws_files
from stsd.client.settings import Settings
from stsd.daemon.config import build_config
from stsd.daemon.errors import ConfigError

CREDENTIALS = "[bastion]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n"


def files(tmp_path: Path, config: str) -> AwsFiles:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(CREDENTIALS)
    return load_aws_files(
        {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        }
    )


ROLES = """
[profile bastion]
mfa_serial = arn:aws:iam::111111111111:mfa/alice
[profile ro]
role_arn = arn:aws:iam::222222222222:role/ReadOnly
source_profile = bastion
[profile rw]
role_arn = arn:aws:iam::222222222222:role/PowerUser
source_profile = bastion
"""


def test_mfa_process_on_a_role_profile_belongs_to_its_source(tmp_path: Path) -> None:
    """aws-vault puts mfa_process beside mfa_serial, often on the role profiles."""
    config = ROLES.replace(
        "source_profile = bastion\n",
        "source_profile = bastion\nmfa_process = ykman oath accounts code --single alice\n",
        1,
    )
    built = build_config(files(tmp_path, config), Settings())
    assert built.sources["bastion"].mfa_process == "ykman oath accounts code --single alice"


def test_different_mfa_process_for_one_source_is_refused(tmp_path: Path) -> None:
    """One device, one command: two different ones is a mistake to point out."""
    config = ROLES.replace(
        "source_profile = bastion\n", "source_profile = bastion\nmfa_process = a\n", 1
    )
    config = config.rstrip() + "\nmfa_process = b\n"
    with pytest.raises(ConfigError, match="different mfa_process commands"):
        build_config(files(tmp_path, config), Settings())


def test_unknown_driver_names_the_available_ones(tmp_path: Path) -> None:
    settings = Settings(source_mfa_drivers={"bastion": ("mfa_process", "yubikey")})
    with pytest.raises(ConfigError) as caught:
        build_config(files(tmp_path, ROLES), settings)
    assert "sources.bastion.mfa_drivers" in caught.value.message
    assert "'yubikey'" in caught.value.message
    assert "available: mfa_process" in caught.value.message
    with pytest.raises(ConfigError, match="mfa.drivers: unknown MFA driver 'dialog'"):
        build_config(files(tmp_path, ROLES), Settings(mfa_drivers=("dialog",)))


def test_drivers_for_an_unknown_source_are_refused(tmp_path: Path) -> None:
    """A typo in [sources.NAME] would silently change nothing: it is an error."""
    settings = Settings(source_mfa_drivers={"bastoin": ("terminal",)})
    with pytest.raises(
        ConfigError, match=r"\[sources.bastoin\]: bastoin is not a source profile; known: bastion"
    ):
        build_config(files(tmp_path, ROLES), settings)
