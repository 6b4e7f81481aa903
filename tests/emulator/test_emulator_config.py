"""The emulator's config: TOML in and out, and a clear error for every kind of bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from stsd.emulator.config import (
    DEMO_CONFIG,
    EmulatorConfig,
    EmulatorConfigError,
    Role,
    dump_config,
    load_config,
)

ALICE = DEMO_CONFIG.users[0]

GOOD_USER = """
[[users]]
name = "alice"
account = "111111111111"
access_key_id = "AKIAEMULATORALICE001"
secret_access_key = "emulatorSecretKeyForAliceDoNotUse0000000"
mfa_serial = "arn:aws:iam::111111111111:mfa/alice"
totp_seed = "JBSWY3DPEHPK3PXPALICEEMULATOR234"
"""

GOOD_ROLE = """
[[roles]]
arn = "arn:aws:iam::222222222222:role/ReadOnly"
trusted = ["111111111111"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "emulator.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_config_round_trips_through_toml(tmp_path: Path) -> None:
    """dump_config writes what load_config reads back to an equal config."""
    assert load_config(write(tmp_path, dump_config(DEMO_CONFIG))) == DEMO_CONFIG


def test_optional_role_fields_round_trip(tmp_path: Path) -> None:
    role = Role(
        "arn:aws:iam::222222222222:role/a/b/Strict",
        ("arn:aws:iam::111111111111:root", "arn:aws:iam::111111111111:user/alice"),
        require_mfa=False,
        max_session_duration=43200,
        max_mfa_age=600,
        external_id="ext-1",
    )
    config = EmulatorConfig(users=DEMO_CONFIG.users, roles=(role,))
    assert load_config(write(tmp_path, dump_config(config))) == config


def test_role_defaults_require_mfa_and_one_hour(tmp_path: Path) -> None:
    (role,) = load_config(write(tmp_path, GOOD_USER + GOOD_ROLE)).roles
    assert (role.require_mfa, role.max_session_duration, role.max_mfa_age) == (True, 3600, None)


def test_demo_config_has_alice_and_the_bastion_roles() -> None:
    assert [u.name for u in DEMO_CONFIG.users] == ["alice"]
    assert ALICE.account == "111111111111"
    assert ALICE.mfa_serial == "arn:aws:iam::111111111111:mfa/alice"
    by_arn = {role.arn: role for role in DEMO_CONFIG.roles}
    for arn in (
        "arn:aws:iam::222222222222:role/ReadOnly",
        "arn:aws:iam::222222222222:role/PowerUser",
    ):
        assert by_arn[arn].trusted == ("111111111111",)
        assert by_arn[arn].require_mfa
    deploy = by_arn["arn:aws:iam::333333333333:role/path/Deploy"]
    assert deploy.trusted == ("arn:aws:iam::222222222222:role/ReadOnly",)
    assert not deploy.require_mfa


def test_secrets_stay_out_of_reprs() -> None:
    assert ALICE.secret_access_key not in repr(ALICE)
    assert ALICE.totp_seed not in repr(ALICE)
    assert ALICE.secret_access_key not in repr(DEMO_CONFIG)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("users = [", "not valid TOML"),
        (GOOD_USER.replace('account = "111111111111"\n', ""), "users[0].account: missing"),
        (GOOD_USER.replace('"111111111111"', '"1111"', 1), "users[0].account: '1111' is not"),
        (GOOD_USER.replace("AKIAEMULATORALICE001", "AKIA-short"), "users[0].access_key_id"),
        (GOOD_USER.replace("DoNotUse0000000", "x"), "users[0].secret_access_key: must be 40"),
        (GOOD_USER.replace("JBSWY3DPEHPK3PXPALICEEMULATOR234", "not base32!"), "totp_seed"),
        (GOOD_USER.replace("111111111111:mfa", "999999999999:mfa"), "not in account"),
        (GOOD_USER.replace("name =", "nmae ="), "users[0]: unknown key 'nmae'"),
        (GOOD_USER + GOOD_USER, "duplicate user name 'alice'"),
        (GOOD_USER + GOOD_ROLE.replace("role/ReadOnly", "user/ReadOnly"), "roles[0].arn"),
        (GOOD_USER + GOOD_ROLE.replace('["111111111111"]', "[]"), "roles[0].trusted: must name"),
        (GOOD_USER + GOOD_ROLE.replace('["111111111111"]', '"111111111111"'), "roles[0].trusted"),
        (GOOD_USER + GOOD_ROLE.replace('["111111111111"]', '["everyone"]'), "'everyone' is not"),
        (
            GOOD_USER + GOOD_ROLE + "require_mfa = 1\n",
            "roles[0].require_mfa: must be true or false",
        ),
        (GOOD_USER + GOOD_ROLE + "max_session_duration = 60\n", "outside 3600..43200"),
        (GOOD_USER + GOOD_ROLE + "max_mfa_age = 0\n", "max_mfa_age: 0 must be a positive"),
        (GOOD_USER + GOOD_ROLE + "max_mfa_age = true\n", "max_mfa_age: must be an integer"),
        (GOOD_USER + GOOD_ROLE + GOOD_ROLE, "duplicate role arn"),
        ('users = "alice"\n', "users: must be an array of tables"),
        ("[server]\nport = 1\n", "unknown top-level key 'server'"),
    ],
)
def test_bad_config_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(EmulatorConfigError) as excinfo:
        load_config(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: ")
    assert complaint in message


def test_config_errors_never_echo_secrets(tmp_path: Path) -> None:
    bad_secret = "short-but-secret"
    text = GOOD_USER.replace("emulatorSecretKeyForAliceDoNotUse0000000", bad_secret)
    with pytest.raises(EmulatorConfigError) as excinfo:
        load_config(write(tmp_path, text.replace("JBSWY3DPEHPK3PXPALICEEMULATOR234", "seed!seed")))
    assert bad_secret not in str(excinfo.value)
    assert "seed!seed" not in str(excinfo.value)


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(EmulatorConfigError, match="nope.toml: cannot read"):
        load_config(tmp_path / "nope.toml")


def test_configs_built_in_code_are_checked_too() -> None:
    with pytest.raises(EmulatorConfigError, match="duplicate access_key_id"):
        EmulatorConfig(
            users=(ALICE, replace(ALICE, name="alice2", mfa_serial=ALICE.mfa_serial + "2")),
            roles=(),
        )
