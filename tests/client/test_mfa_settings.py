"""config.toml's MFA keys: the driver order, per source and for all, and link lifetime."""

from datetime import timedelta
from pathlib import Path

import pytest

from stsd.client.settings import SettingsError, load_settings


def test_driver_order_per_source_overrides_the_default(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[mfa]\ndrivers = ["mfa_process", "terminal"]\nlink_lifetime_seconds = 120\n'
        '[sources.bastion]\nmfa_drivers = ["notify"]\n'
        "[sources.other]\n"
    )
    settings = load_settings(path)
    assert settings.mfa_drivers_for("bastion") == ("notify",)
    assert settings.mfa_drivers_for("other") == ("mfa_process", "terminal")
    assert settings.mfa_link_lifetime == timedelta(minutes=2)


def test_without_mfa_keys_every_driver_in_the_default_order(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    settings = load_settings(path)
    assert settings.mfa_drivers_for("bastion") is None
    assert settings.mfa_link_lifetime == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[sources.bastion]\nmfa_drivers = "notify"', "must be a list of names"),
        ("[sources.bastion]\nmfa_drivers = [1]", "must be a list of names"),
        ("[sources.bastion]\nmfa_drivers = []", "is empty"),
        ('[sources.bastion]\nmfa_drivers = ["notify", "notify"]', "names a driver twice"),
        ('[sources.bastion]\nmfa_driver = ["notify"]', "unknown setting sources.bastion.mfa_"),
        ('[sources]\nbastion = "notify"', "sources.bastion must be a table"),
        ("[mfa]\nlink_lifetime_seconds = 0", "mfa.link_lifetime_seconds must be"),
        ('[mfa]\ndriver = ["notify"]', "unknown setting mfa.driver"),
    ],
)
def test_broken_mfa_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)
