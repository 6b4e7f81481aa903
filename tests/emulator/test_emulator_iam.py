"""IAM's access-key actions in the emulator, with real boto3 IAM clients: what `stsd keys
rotate` relies on, refused exactly where the bastion policy would refuse."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from emulator_support import (
    ALICE,
    READ_ONLY,
    REGION,
    FrozenClock,
    client_error,
    mfa_session,
    raw_sts,
    sts_client,
    sts_for,
    user_client,
)
from mypy_boto3_iam import IAMClient

from stsd.emulator.embedded import EmbeddedEmulator


@pytest.fixture
def emu() -> Iterator[EmbeddedEmulator]:
    with EmbeddedEmulator(clock=FrozenClock()) as emulator:
        yield emulator


def iam_client(
    emu: EmbeddedEmulator, key_id: str, secret: str, token: str | None = None
) -> IAMClient:
    return boto3.session.Session().client(
        "iam",
        endpoint_url=emu.url,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}),
    )


def mfa_iam(emu: EmbeddedEmulator) -> IAMClient:
    session = mfa_session(emu)
    return iam_client(
        emu, session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    )


def test_create_verify_delete_with_an_mfa_session(emu: EmbeddedEmulator) -> None:
    """A new key signs STS calls at once; the deleted old one never again."""
    iam = mfa_iam(emu)
    new = iam.create_access_key()["AccessKey"]
    assert new["UserName"] == "alice" and new["Status"] == "Active"
    assert new["AccessKeyId"].startswith("AKIA") and len(new["SecretAccessKey"]) == 40
    listed = [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]]
    assert listed == [ALICE.access_key_id, new["AccessKeyId"]]
    fresh = sts_client(emu.url, new["AccessKeyId"], new["SecretAccessKey"])
    assert fresh.get_caller_identity()["Arn"] == ALICE.arn
    iam.delete_access_key(AccessKeyId=ALICE.access_key_id)
    code, _, status = client_error(lambda: user_client(emu).get_caller_identity())
    assert (code, status) == ("InvalidClientTokenId", 403)
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [
        new["AccessKeyId"]
    ]
    assert emu.control.calls()["CreateAccessKey"] == 1
    assert emu.control.calls()["DeleteAccessKey"] == 1


def test_long_term_keys_alone_may_not_manage_keys(emu: EmbeddedEmulator) -> None:
    """Without MFA (the user's own keys, or a session without a code): AccessDenied."""
    plain = iam_client(emu, ALICE.access_key_id, ALICE.secret_access_key)
    code, message, status = client_error(plain.create_access_key)
    assert (code, status) == ("AccessDenied", 403)
    assert "iam:CreateAccessKey" in message
    no_mfa = user_client(emu).get_session_token()["Credentials"]
    iam = iam_client(emu, no_mfa["AccessKeyId"], no_mfa["SecretAccessKey"], no_mfa["SessionToken"])
    assert client_error(iam.list_access_keys)[0] == "AccessDenied"


def test_role_sessions_and_other_users_are_refused(emu: EmbeddedEmulator) -> None:
    """A role session is not the user; UserName of someone else is not one's own."""
    session = mfa_session(emu)
    role = sts_for(emu, session).assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")
    creds = role["Credentials"]
    as_role = iam_client(emu, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert client_error(as_role.create_access_key)[0] == "AccessDenied"
    iam = iam_client(
        emu, session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    )
    assert client_error(lambda: iam.create_access_key(UserName="bob"))[0] == "AccessDenied"


def test_at_most_two_keys_and_unknown_ids(emu: EmbeddedEmulator) -> None:
    """IAM's quota of two keys per user; deleting a key that isn't the user's: NoSuchEntity."""
    iam = mfa_iam(emu)
    iam.create_access_key()
    code, _, status = client_error(iam.create_access_key)
    assert (code, status) == ("LimitExceeded", 409)
    code, _, status = client_error(
        lambda: iam.delete_access_key(AccessKeyId="AKIANOSUCHKEY0000000")
    )
    assert (code, status) == ("NoSuchEntity", 404)


def test_iam_actions_need_iam_signatures(emu: EmbeddedEmulator) -> None:
    """An IAM action signed for `sts` is refused; under STS's API version it is unknown."""
    status, body = raw_sts(emu.url, {"Action": "ListAccessKeys", "Version": "2010-05-08"})
    assert status == 403 and "SignatureDoesNotMatch" in body and "'iam'" in body
    status, body = raw_sts(emu.url, {"Action": "ListAccessKeys", "Version": "2011-06-15"})
    assert status == 400 and "InvalidAction" in body
