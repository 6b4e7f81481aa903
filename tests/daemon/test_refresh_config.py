"""config.toml's [refresh] numbers and a profile's duration_seconds, as the daemon reads them.

Floors of seconds are allowed (they make short-lifetime tests possible and harm nobody);
numbers that contradict each other are refused naming the key; a duration_seconds too
short for the refresh rules is raised to 3600 with a warning, never refused.
"""

from datetime import timedelta
from pathlib import Path

import pytest

from stsd.client.awsfiles import AwsFiles
from stsd.client.settings import Settings, SettingsError, load_settings
from stsd.daemon.config import build_config
from stsd.daemon.errors import ConfigError

CREDENTIALS = {
    "bastion": {
        "aws_access_key_id": "AKIAEXAMPLEKEY000001",
        "aws_secret_access_key": "long-term-secret",
    }
}


def files(**role_settings: str) -> AwsFiles:
    config = {
        "bastion": {"mfa_serial": "arn:aws:iam::111111111111:mfa/alice"},
        "prod-ro": {
            "role_arn": "arn:aws:iam::222222222222:role/ReadOnly",
            "source_profile": "bastion",
            **role_settings,
        },
    }
    return AwsFiles(Path("/aws/config"), Path("/aws/credentials"), config, CREDENTIALS)


def settings_from(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path)


def test_refresh_numbers_of_seconds_are_accepted(tmp_path: Path) -> None:
    """Floors of a few seconds work (short-lifetime setups); derived numbers follow."""
    settings = settings_from(
        tmp_path,
        "[refresh]\nfloor_seconds = 4\ntrigger_seconds = 6\nhard_floor_seconds = 1\n"
        "prompt_before_seconds = 7\nreassume_before_seconds = 3\n",
    )
    policy = build_config(files(), settings).policy
    assert (policy.floor, policy.trigger, policy.hard_floor) == (
        timedelta(seconds=4),
        timedelta(seconds=6),
        timedelta(seconds=1),
    )
    assert policy.renew_before == timedelta(seconds=7)
    assert policy.reassume_lead == timedelta(seconds=3)
    assert policy.backoff_cap == timedelta(seconds=1)
    assert policy.problems() == []


def test_defaults_are_designs_numbers() -> None:
    """Without config.toml: floor 20 min, trigger 30, hard floor 5, prompt 30 min ahead."""
    policy = build_config(files(), Settings()).policy
    assert policy.floor == timedelta(minutes=20)
    assert policy.trigger == timedelta(minutes=30)
    assert policy.hard_floor == timedelta(minutes=5)
    assert policy.renew_before == timedelta(minutes=30)
    assert policy.reassume_lead == timedelta(minutes=10)
    assert policy.active_window == timedelta(hours=12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[refresh]\nprompt_before_seconds = 43200", "prompt_before_seconds must be shorter"),
        (
            "session_duration_seconds = 900\n[refresh]\nreassume_before_seconds = 900",
            "reassume_before_seconds must be shorter",
        ),
        ("[refresh]\nprompt_before_seconds = 0", "prompt_before_seconds must be a whole"),
        ("[refresh]\ntrigger_seconds = 3600", "trigger_seconds must be a whole"),
    ],
)
def test_contradicting_numbers_are_refused(tmp_path: Path, text: str, message: str) -> None:
    """A lead longer than the session itself, or out of range: refused naming the key."""
    with pytest.raises(SettingsError, match=message):
        settings_from(tmp_path, text)


def test_default_leads_shrink_to_fit_a_short_session(tmp_path: Path) -> None:
    """A 15 min session (STS's minimum) with default leads: prompt and re-assume fit in."""
    settings = settings_from(tmp_path, "session_duration_seconds = 900\n")
    assert settings.prompt_before == timedelta(seconds=450)
    assert settings.reassume_before == timedelta(seconds=300)
    assert build_config(files(), settings).policy.problems() == []


def test_a_reassume_lead_too_short_to_sign_is_refused(tmp_path: Path) -> None:
    """Re-assuming later than a session can still sign a call would never happen."""
    settings = settings_from(tmp_path, "[refresh]\nreassume_before_seconds = 30\n")
    with pytest.raises(ConfigError, match="reassume_before_seconds"):
        build_config(files(), settings)


@pytest.mark.parametrize("seconds", ["900", "1800", "600"])
def test_duration_too_short_for_the_rules_is_raised_with_a_warning(seconds: str) -> None:
    """duration_seconds at or under the 30 min trigger: raised to 3600, with a warning."""
    config = build_config(files(duration_seconds=seconds), Settings())
    assert config.roles["prod-ro"].duration == timedelta(hours=1)
    (warning,) = config.warnings
    assert f"profile prod-ro: duration_seconds {seconds} raised to 3600" in warning


def test_duration_that_fits_is_kept() -> None:
    """Longer than the trigger and at most 1 h: asked for as it is, no warning."""
    config = build_config(files(duration_seconds="2700"), Settings())
    assert config.roles["prod-ro"].duration == timedelta(seconds=2700)
    assert config.warnings == []


def test_duration_fitting_a_scaled_trigger_is_kept(tmp_path: Path) -> None:
    """The rule follows the configured trigger, not the default one."""
    settings = settings_from(tmp_path, "[refresh]\ntrigger_seconds = 600\nfloor_seconds = 400\n")
    config = build_config(files(duration_seconds="900"), settings)
    assert config.roles["prod-ro"].duration == timedelta(seconds=900)


def test_duration_over_the_chaining_cap_is_lowered_with_a_warning() -> None:
    """STS caps chained roles at 1 h: 7200 becomes 3600, and the warning says why."""
    config = build_config(files(duration_seconds="7200"), Settings())
    assert config.roles["prod-ro"].duration == timedelta(hours=1)
    assert "lowered to 3600" in config.warnings[0]


def test_duration_that_is_no_number_is_refused() -> None:
    with pytest.raises(ConfigError, match="duration_seconds must be a number"):
        build_config(files(duration_seconds="1h"), Settings())
