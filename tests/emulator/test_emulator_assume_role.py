"""AssumeRole: trust, the MFA conditions, ExternalId, durations and the chaining cap."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from emulator_support import (
    ALICE,
    DEPLOY,
    POWER_USER,
    READ_ONLY,
    FrozenClock,
    client_error,
    mfa_session,
    sts_for,
    user_client,
)
from mypy_boto3_sts.type_defs import CredentialsTypeDef

from stsd.emulator.config import DEMO_CONFIG, EmulatorConfig, Role, User
from stsd.emulator.embedded import EmbeddedEmulator

BOB = User(
    name="bob",
    account="111111111111",
    access_key_id="AKIAEMULATORBOB00001",
    secret_access_key="B" * 40,
    mfa_serial="arn:aws:iam::111111111111:mfa/bob",
    totp_seed="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
)
LONG = "arn:aws:iam::444444444444:role/Long"
BOB_ONLY = "arn:aws:iam::444444444444:role/BobOnly"
ROOT_TRUST = "arn:aws:iam::444444444444:role/RootTrust"
OPEN = "arn:aws:iam::444444444444:role/Open"
STRICT_CHAINED = "arn:aws:iam::444444444444:role/StrictChained"
FRESH_MFA = "arn:aws:iam::444444444444:role/FreshMfa"
PARTNER = "arn:aws:iam::444444444444:role/Partner"

WORLD = EmulatorConfig(
    users=(ALICE, BOB),
    roles=(
        *DEMO_CONFIG.roles,
        Role(LONG, ("111111111111",), max_session_duration=43200),
        Role(BOB_ONLY, ("arn:aws:iam::111111111111:user/bob",)),
        Role(ROOT_TRUST, ("arn:aws:iam::111111111111:root",)),
        Role(OPEN, ("111111111111",), require_mfa=False),
        Role(STRICT_CHAINED, (OPEN,), require_mfa=True),
        Role(FRESH_MFA, ("111111111111",), max_mfa_age=3600),
        Role(PARTNER, ("111111111111",), external_id="partner-4711"),
    ),
)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def emu(clock: FrozenClock) -> Iterator[EmbeddedEmulator]:
    with EmbeddedEmulator(WORLD, clock=clock) as emulator:
        yield emulator


def assume(
    emu: EmbeddedEmulator,
    credentials: CredentialsTypeDef,
    role_arn: str,
    *,
    duration: int = 3600,
    external_id: str | None = None,
) -> CredentialsTypeDef:
    """AssumeRole as session "alice"; botocore's own checks off to reach the emulator's."""
    client = sts_for(emu, credentials, validate=False)
    if external_id is None:
        reply = client.assume_role(
            RoleArn=role_arn, RoleSessionName="alice", DurationSeconds=duration
        )
    else:
        reply = client.assume_role(
            RoleArn=role_arn,
            RoleSessionName="alice",
            DurationSeconds=duration,
            ExternalId=external_id,
        )
    return reply["Credentials"]


def refusal(
    emu: EmbeddedEmulator,
    credentials: CredentialsTypeDef,
    role_arn: str,
    *,
    duration: int = 3600,
    external_id: str | None = None,
) -> tuple[str, str, int]:
    """The error code, message and status of an AssumeRole that must fail."""
    return client_error(
        lambda: assume(emu, credentials, role_arn, duration=duration, external_id=external_id)
    )


def test_mfa_session_assumes_a_trusted_role(emu: EmbeddedEmulator, clock: FrozenClock) -> None:
    """The bastion flow: session with MFA, then the work role for one hour by default."""
    reply = sts_for(emu, mfa_session(emu)).assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")
    user = reply["AssumedRoleUser"]
    assert user["Arn"] == "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}:alice", user["AssumedRoleId"])
    assert reply["Credentials"]["Expiration"] == clock.now + timedelta(hours=1)


def test_assumed_role_arn_drops_the_role_path(emu: EmbeddedEmulator) -> None:
    """Deploy's ARN is role/path/Deploy; its sessions are assumed-role/Deploy/SESSION."""
    read_only = assume(emu, mfa_session(emu), READ_ONLY)
    reply = sts_for(emu, read_only).assume_role(RoleArn=DEPLOY, RoleSessionName="ship-it")
    assert reply["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::333333333333:assumed-role/Deploy/ship-it"
    )


def test_long_term_keys_without_mfa_are_refused_a_role_requiring_mfa(emu: EmbeddedEmulator) -> None:
    client = user_client(emu)
    code, message, status = client_error(
        lambda: client.assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: "
        f"sts:AssumeRole on resource: {READ_ONLY}"
    )


def test_long_term_keys_with_a_code_on_assume_role_have_mfa(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    """AssumeRole may carry SerialNumber and TokenCode itself; that is not role chaining."""
    reply = user_client(emu).assume_role(
        RoleArn=LONG,
        RoleSessionName="alice",
        SerialNumber=ALICE.mfa_serial,
        TokenCode=clock.code(ALICE),
        DurationSeconds=43200,
    )
    assert reply["Credentials"]["Expiration"] == clock.now + timedelta(hours=12)


def test_role_trusting_another_role_refuses_a_user_session(emu: EmbeddedEmulator) -> None:
    """Deploy trusts only ReadOnly's sessions."""
    code, message, _ = refusal(emu, mfa_session(emu), DEPLOY)
    assert code == "AccessDenied"
    assert message.startswith("User: arn:aws:iam::111111111111:user/alice is not authorized")


def test_role_trusting_another_role_refuses_a_different_role(emu: EmbeddedEmulator) -> None:
    power_user = assume(emu, mfa_session(emu), POWER_USER)
    code, message, _ = refusal(emu, power_user, DEPLOY)
    assert code == "AccessDenied"
    assert message.startswith(
        "User: arn:aws:sts::222222222222:assumed-role/PowerUser/alice is not authorized"
    )


def test_role_trusting_a_user_arn_admits_only_that_user(emu: EmbeddedEmulator) -> None:
    assert refusal(emu, mfa_session(emu, ALICE), BOB_ONLY)[0] == "AccessDenied"
    assert assume(emu, mfa_session(emu, BOB), BOB_ONLY)["AccessKeyId"].startswith("ASIA")


def test_role_trusting_the_account_root_admits_its_users(emu: EmbeddedEmulator) -> None:
    assert assume(emu, mfa_session(emu), ROOT_TRUST)["AccessKeyId"].startswith("ASIA")


def test_unknown_role_is_access_denied(emu: EmbeddedEmulator) -> None:
    code, _, _ = refusal(emu, mfa_session(emu), "arn:aws:iam::222222222222:role/Nope")
    assert code == "AccessDenied"


def test_mfa_is_carried_along_a_role_chain(emu: EmbeddedEmulator) -> None:
    """Role credentials assumed with an MFA session keep aws:MultiFactorAuthPresent."""
    with_mfa = assume(emu, mfa_session(emu), OPEN)
    assert assume(emu, with_mfa, STRICT_CHAINED)["AccessKeyId"].startswith("ASIA")
    without_mfa = assume(emu, user_client(emu).get_session_token()["Credentials"], OPEN)
    assert refusal(emu, without_mfa, STRICT_CHAINED)[0] == "AccessDenied"


def test_mfa_older_than_the_roles_limit_is_refused(emu: EmbeddedEmulator) -> None:
    """aws:MultiFactorAuthAge counts from the code, not from the session's renewal."""
    session = mfa_session(emu)
    assume(emu, session, FRESH_MFA)
    emu.control.advance(3599)
    assume(emu, session, FRESH_MFA)
    emu.control.advance(2)
    assert refusal(emu, session, FRESH_MFA)[0] == "AccessDenied"
    assert assume(emu, session, READ_ONLY)["AccessKeyId"].startswith("ASIA")


def test_role_requiring_an_external_id_refuses_a_missing_or_wrong_one(
    emu: EmbeddedEmulator,
) -> None:
    session = mfa_session(emu)
    assert refusal(emu, session, PARTNER)[0] == "AccessDenied"
    assert refusal(emu, session, PARTNER, external_id="partner-0000")[0] == "AccessDenied"
    assert assume(emu, session, PARTNER, external_id="partner-4711")["AccessKeyId"]


def test_external_id_is_accepted_and_recorded(emu: EmbeddedEmulator) -> None:
    assume(emu, mfa_session(emu), READ_ONLY, external_id="ext-123")
    last = emu.control.requests()[-1]
    assert last["action"] == "AssumeRole"
    assert last["params"] == {
        "RoleArn": READ_ONLY,
        "RoleSessionName": "alice",
        "DurationSeconds": "3600",
        "ExternalId": "ext-123",
    }


def test_external_id_must_fit_sts_constraints(emu: EmbeddedEmulator) -> None:
    code, message, _ = refusal(emu, mfa_session(emu), READ_ONLY, external_id="x")
    assert code == "ValidationError"
    assert "externalId" in message


@pytest.mark.parametrize("name", ["a", "x" * 65, "has space", "semi;colon"])
def test_role_session_name_must_match_sts_pattern(emu: EmbeddedEmulator, name: str) -> None:
    client = sts_for(emu, mfa_session(emu), validate=False)
    code, message, status = client_error(
        lambda: client.assume_role(RoleArn=READ_ONLY, RoleSessionName=name)
    )
    assert (code, status) == ("ValidationError", 400)
    assert "roleSessionName" in message


@pytest.mark.parametrize("name", ["ab", "x" * 64, "alice@example.com", "a_b-c=d,e.f+g"])
def test_role_session_names_sts_allows_are_accepted(emu: EmbeddedEmulator, name: str) -> None:
    client = sts_for(emu, mfa_session(emu))
    reply = client.assume_role(RoleArn=READ_ONLY, RoleSessionName=name)
    assert reply["AssumedRoleUser"]["Arn"].endswith(f"/ReadOnly/{name}")


def test_chained_assume_role_is_capped_at_one_hour(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    """With temporary credentials, more than 3600 s is refused even if the role allows 12 h."""
    session = mfa_session(emu)
    code, message, status = refusal(emu, session, LONG, duration=3601)
    assert (code, status) == ("ValidationError", 400)
    assert message == (
        "The requested DurationSeconds exceeds the 1 hour session limit "
        "for roles assumed by role chaining."
    )
    assert assume(emu, session, LONG, duration=3600)["Expiration"] == (
        clock.now + timedelta(hours=1)
    )


def test_duration_beyond_the_roles_maximum_is_refused(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    client = user_client(emu)
    code, message, _ = client_error(
        lambda: client.assume_role(
            RoleArn=READ_ONLY,
            RoleSessionName="alice",
            SerialNumber=ALICE.mfa_serial,
            TokenCode=clock.code(ALICE),
            DurationSeconds=7200,
        )
    )
    assert code == "ValidationError"
    assert (
        message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )


def test_duration_under_15_minutes_is_a_validation_error(emu: EmbeddedEmulator) -> None:
    code, message, _ = refusal(emu, mfa_session(emu), READ_ONLY, duration=899)
    assert code == "ValidationError"
    assert "greater than or equal to 900" in message


def test_role_credentials_outlive_the_session_that_assumed_them(emu: EmbeddedEmulator) -> None:
    """Each set of credentials expires on its own schedule."""
    session = mfa_session(emu, DurationSeconds=900)
    role = assume(emu, session, READ_ONLY)
    emu.control.advance(901)
    assert client_error(sts_for(emu, session).get_caller_identity)[0] == "ExpiredToken"
    assert sts_for(emu, role).get_caller_identity()["Account"] == "222222222222"
    emu.control.advance(3600 - 901)
    assert client_error(sts_for(emu, role).get_caller_identity)[0] == "ExpiredToken"
