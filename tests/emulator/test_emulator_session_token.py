"""GetSessionToken: TOTP codes (±1 step, each used once), durations, who may call it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from emulator_support import (
    ALICE,
    READ_ONLY,
    FrozenClock,
    client_error,
    mfa_session,
    raw_sts,
    sts_for,
    user_client,
)

from stsd.emulator.control import EmulatorControlError
from stsd.emulator.embedded import EmbeddedEmulator

WRONG_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def emu(clock: FrozenClock) -> Iterator[EmbeddedEmulator]:
    with EmbeddedEmulator(clock=clock) as emulator:
        yield emulator


def get_session(emu: EmbeddedEmulator, code: str, serial: str = ALICE.mfa_serial) -> object:
    return user_client(emu, validate=False).get_session_token(SerialNumber=serial, TokenCode=code)


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_code_of_this_step_or_one_either_side_is_accepted(
    emu: EmbeddedEmulator, clock: FrozenClock, steps: int
) -> None:
    client = user_client(emu)
    reply = client.get_session_token(
        SerialNumber=ALICE.mfa_serial, TokenCode=clock.code(ALICE, steps)
    )
    assert reply["Credentials"]["AccessKeyId"].startswith("ASIA")


@pytest.mark.parametrize("steps", [-2, 2])
def test_code_two_steps_away_is_refused(
    emu: EmbeddedEmulator, clock: FrozenClock, steps: int
) -> None:
    code = clock.code(ALICE, steps)
    if code in {clock.code(ALICE, s) for s in (-1, 0, 1)}:
        pytest.skip("this code happens to collide with a valid one")
    error, message, status = client_error(lambda: get_session(emu, code))
    assert (error, message, status) == ("AccessDenied", WRONG_CODE, 403)


def test_wrong_code_is_access_denied_in_sts_words(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    valid = {clock.code(ALICE, s) for s in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    assert client_error(lambda: get_session(emu, wrong)) == ("AccessDenied", WRONG_CODE, 403)


def test_a_code_is_never_accepted_twice(emu: EmbeddedEmulator, clock: FrozenClock) -> None:
    code = clock.code(ALICE)
    get_session(emu, code)
    assert client_error(lambda: get_session(emu, code)) == ("AccessDenied", WRONG_CODE, 403)


def test_a_code_used_by_assume_role_is_not_accepted_by_get_session_token(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    code = clock.code(ALICE)
    user_client(emu).assume_role(
        RoleArn=READ_ONLY, RoleSessionName="alice", SerialNumber=ALICE.mfa_serial, TokenCode=code
    )
    assert client_error(lambda: get_session(emu, code))[0] == "AccessDenied"


def test_a_refused_request_does_not_use_up_the_code(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    """A validation error comes before the MFA check: the code stays good."""
    code = clock.code(ALICE)
    client = user_client(emu, validate=False)
    bad_duration = lambda: client.get_session_token(  # noqa: E731
        SerialNumber=ALICE.mfa_serial, TokenCode=code, DurationSeconds=10
    )
    assert client_error(bad_duration)[0] == "ValidationError"
    get_session(emu, code)


def test_serial_of_another_device_is_access_denied(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    code, message, status = client_error(
        lambda: get_session(emu, clock.code(ALICE), "arn:aws:iam::111111111111:mfa/bob")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith("MultiFactorAuthentication failed, unable to validate MFA code.")


@pytest.mark.parametrize("code", ["12345", "1234567", "12345a", ""])
def test_token_code_must_be_six_digits(emu: EmbeddedEmulator, code: str) -> None:
    error, message, status = client_error(lambda: get_session(emu, code))
    assert (error, status) == ("ValidationError", 400)
    assert "tokenCode" in message


def test_serial_number_without_token_code_is_a_validation_error(emu: EmbeddedEmulator) -> None:
    client = user_client(emu)
    code, _, _ = client_error(lambda: client.get_session_token(SerialNumber=ALICE.mfa_serial))
    assert code == "ValidationError"


def test_without_a_code_the_session_has_no_mfa(emu: EmbeddedEmulator) -> None:
    """A session got without MFA cannot assume a role that requires it."""
    session = user_client(emu).get_session_token()["Credentials"]
    code, message, _ = client_error(
        lambda: sts_for(emu, session).assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")
    )
    assert code == "AccessDenied"
    assert "is not authorized to perform: sts:AssumeRole" in message


def test_default_duration_is_12_hours(emu: EmbeddedEmulator, clock: FrozenClock) -> None:
    expiration = mfa_session(emu)["Expiration"]
    assert expiration == clock.now + timedelta(hours=12)


@pytest.mark.parametrize("seconds", [900, 129600])
def test_duration_from_15_minutes_to_36_hours_is_accepted(
    emu: EmbeddedEmulator, clock: FrozenClock, seconds: int
) -> None:
    expiration = mfa_session(emu, DurationSeconds=seconds)["Expiration"]
    assert expiration == clock.now + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("seconds", "bound"),
    [(899, "greater than or equal to 900"), (129601, "less than or equal to 129600")],
)
def test_duration_outside_15_minutes_to_36_hours_is_a_validation_error(
    emu: EmbeddedEmulator, seconds: int, bound: str
) -> None:
    client = user_client(emu, validate=False)
    code, message, status = client_error(lambda: client.get_session_token(DurationSeconds=seconds))
    assert (code, status) == ("ValidationError", 400)
    assert bound in message


def test_session_credentials_cannot_get_a_session_token(emu: EmbeddedEmulator) -> None:
    client = sts_for(emu, mfa_session(emu))
    code, message, status = client_error(client.get_session_token)
    assert (code, message, status) == (
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
        403,
    )


def test_role_credentials_cannot_get_a_session_token(emu: EmbeddedEmulator) -> None:
    role = sts_for(emu, mfa_session(emu)).assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")
    code, _, _ = client_error(sts_for(emu, role["Credentials"]).get_session_token)
    assert code == "AccessDenied"


def test_issued_credentials_look_like_aws_ones(emu: EmbeddedEmulator) -> None:
    """ASIA + 16 upper-case characters, a 40-character secret, a long token, a Z expiration."""
    status, body = raw_sts(emu.url, {"Action": "GetSessionToken", "Version": "2011-06-15"})
    assert status == 200
    key = re.search(r"<AccessKeyId>(ASIA[A-Z0-9]{16})</AccessKeyId>", body)
    secret = re.search(r"<SecretAccessKey>([A-Za-z0-9+/]{40})</SecretAccessKey>", body)
    token = re.search(r"<SessionToken>([A-Za-z0-9+/=]{300,})</SessionToken>", body)
    expiration = re.search(r"<Expiration>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</Expiration>", body)
    assert key and secret and token and expiration, body


def test_control_code_gives_this_step_then_the_next_then_409(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    """The control API hands out unused codes the emulator accepts, never a used one."""
    first = emu.control.code("alice")
    assert first == clock.code(ALICE)
    get_session(emu, first)
    second = emu.control.code("alice")
    assert second == clock.code(ALICE, 1)
    get_session(emu, second)
    with pytest.raises(EmulatorControlError, match="409"):
        emu.control.code("alice")
    clock.now += timedelta(seconds=30)  # the used "next" step is now the current one
    assert emu.control.code("alice") == clock.code(ALICE, 1)


def test_control_code_for_an_unknown_user_is_404(emu: EmbeddedEmulator) -> None:
    with pytest.raises(EmulatorControlError, match="404"):
        emu.control.code("mallory")
