"""Authentication: SigV4 with a 15-minute window, tokens, expiry, and who the caller is."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSRequest
from emulator_support import (
    ALICE,
    READ_ONLY,
    client_error,
    mfa_session,
    raw_sts,
    sts_client,
    sts_for,
    user_client,
)

from stsd.emulator.embedded import EmbeddedEmulator

NS = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
IDENTITY = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}


@pytest.fixture
def emu() -> Iterator[EmbeddedEmulator]:
    with EmbeddedEmulator() as emulator:
        yield emulator


def test_long_term_keys_identify_the_iam_user(emu: EmbeddedEmulator) -> None:
    """GetCallerIdentity with an IAM user's keys names the user, its account and AIDA id."""
    identity = user_client(emu).get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::111111111111:user/alice"
    assert identity["Account"] == "111111111111"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", identity["UserId"])


def test_session_credentials_identify_the_iam_user(emu: EmbeddedEmulator) -> None:
    """GetSessionToken credentials act as the user who got them."""
    session = mfa_session(emu)
    identity = sts_for(emu, session).get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::111111111111:user/alice"
    assert identity["UserId"] == user_client(emu).get_caller_identity()["UserId"]


def test_role_credentials_identify_the_assumed_role_session(emu: EmbeddedEmulator) -> None:
    """Role credentials act as arn:aws:sts::ACCT:assumed-role/ROLE/SESSION, id AROA...:SESSION."""
    role = sts_for(emu, mfa_session(emu)).assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")
    identity = sts_for(emu, role["Credentials"]).get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"
    assert identity["Account"] == "222222222222"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}:alice", identity["UserId"])


def test_requests_signed_for_any_region_are_accepted(emu: EmbeddedEmulator) -> None:
    """Regional STS endpoints: the signature's scope names the client's region."""
    client = boto3.session.Session().client(
        "sts",
        endpoint_url=emu.url,
        region_name="eu-central-1",
        aws_access_key_id=ALICE.access_key_id,
        aws_secret_access_key=ALICE.secret_access_key,
    )
    assert client.get_caller_identity()["Account"] == "111111111111"


def test_unknown_access_key_is_invalid_client_token_id(emu: EmbeddedEmulator) -> None:
    client = sts_client(emu.url, "AKIAUNKNOWNUNKNOWN00", ALICE.secret_access_key)
    code, message, status = client_error(client.get_caller_identity)
    assert (code, status) == ("InvalidClientTokenId", 403)
    assert message == "The security token included in the request is invalid."


def test_wrong_secret_is_signature_does_not_match(emu: EmbeddedEmulator) -> None:
    client = sts_client(emu.url, ALICE.access_key_id, "x" * 40)
    code, message, status = client_error(client.get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")


def test_body_changed_after_signing_is_signature_does_not_match(emu: EmbeddedEmulator) -> None:
    """The signature covers the body: swapping the action after signing is caught."""

    def swap_action(request: AWSRequest) -> None:
        request.data = b"Action=GetSessionToken&Version=2011-06-15"

    status, body = raw_sts(emu.url, IDENTITY, tamper=swap_action)
    assert status == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in body


def test_unsigned_request_is_missing_authentication_token(emu: EmbeddedEmulator) -> None:
    status, body = raw_sts(emu.url, IDENTITY, sign=False)
    assert status == 403
    assert "<Code>MissingAuthenticationToken</Code>" in body


@pytest.mark.parametrize(
    ("server_ahead", "message_start"),
    [
        (timedelta(minutes=16), "Signature expired: "),
        (timedelta(minutes=-16), "Signature not yet current: "),
    ],
)
def test_signature_more_than_15_minutes_off_is_refused(
    server_ahead: timedelta, message_start: str
) -> None:
    """A request signed more than 15 min before or after STS's clock is SignatureDoesNotMatch."""
    with EmbeddedEmulator(clock=lambda: datetime.now(UTC) + server_ahead) as emu:
        code, message, status = client_error(user_client(emu).get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith(message_start)
    assert "15 min." in message


@pytest.mark.parametrize("server_ahead", [timedelta(minutes=14), timedelta(minutes=-14)])
def test_signature_within_15_minutes_is_accepted(server_ahead: timedelta) -> None:
    with EmbeddedEmulator(clock=lambda: datetime.now(UTC) + server_ahead) as emu:
        assert user_client(emu).get_caller_identity()["Account"] == "111111111111"


def test_client_signing_with_a_stale_clock_is_refused(
    emu: EmbeddedEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rule seen from the client: botocore's signer with its clock 20 min behind."""
    stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=20)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: stale)
    code, message, _ = client_error(user_client(emu).get_caller_identity)
    assert code == "SignatureDoesNotMatch"
    assert message.startswith("Signature expired: ")


def test_temporary_key_without_its_token_is_invalid_client_token_id(
    emu: EmbeddedEmulator,
) -> None:
    session = mfa_session(emu)
    client = sts_client(emu.url, session["AccessKeyId"], session["SecretAccessKey"])
    code, _, status = client_error(client.get_caller_identity)
    assert (code, status) == ("InvalidClientTokenId", 403)


def test_temporary_key_with_another_token_is_invalid_client_token_id(
    emu: EmbeddedEmulator,
) -> None:
    first, second = mfa_session(emu), mfa_session(emu)
    client = sts_client(
        emu.url, first["AccessKeyId"], first["SecretAccessKey"], second["SessionToken"]
    )
    code, _, _ = client_error(client.get_caller_identity)
    assert code == "InvalidClientTokenId"


def test_long_term_key_with_a_session_token_is_invalid_client_token_id(
    emu: EmbeddedEmulator,
) -> None:
    session = mfa_session(emu)
    client = sts_client(
        emu.url, ALICE.access_key_id, ALICE.secret_access_key, session["SessionToken"]
    )
    code, _, _ = client_error(client.get_caller_identity)
    assert code == "InvalidClientTokenId"


def test_session_works_until_its_expiration_then_is_expired_token(emu: EmbeddedEmulator) -> None:
    """Expired credentials get ExpiredToken (HTTP 400) with STS's message."""
    client = sts_for(emu, mfa_session(emu, DurationSeconds=900))
    emu.control.advance(899)
    assert client.get_caller_identity()["Account"] == "111111111111"
    emu.control.advance(2)
    code, message, status = client_error(client.get_caller_identity)
    assert (code, status) == ("ExpiredToken", 400)
    assert message == "The security token included in the request is expired"


def test_advancing_the_clock_does_not_make_fresh_signatures_stale(emu: EmbeddedEmulator) -> None:
    """The emulator's clock ages credentials; clients' signatures are judged by real time."""
    emu.control.advance(3 * 3600)
    assert user_client(emu).get_caller_identity()["Account"] == "111111111111"
    assert sts_for(emu, mfa_session(emu)).get_caller_identity()["Account"] == "111111111111"


def test_get_with_query_string_is_accepted_and_answered_in_sts_xml(emu: EmbeddedEmulator) -> None:
    """STS takes GET with the parameters in the query string, signed the same way."""
    status, body = raw_sts(emu.url, IDENTITY, method="GET")
    assert status == 200
    root = ET.fromstring(body)  # noqa: S314 - our own server's reply
    assert root.tag == "{https://sts.amazonaws.com/doc/2011-06-15/}GetCallerIdentityResponse"
    arn = root.find("sts:GetCallerIdentityResult/sts:Arn", NS)
    assert arn is not None and arn.text == "arn:aws:iam::111111111111:user/alice"
    assert root.find("sts:ResponseMetadata/sts:RequestId", NS) is not None


def test_errors_are_sts_error_response_documents(emu: EmbeddedEmulator) -> None:
    """Errors: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>."""
    status, body = raw_sts(
        emu.url, {"Action": "GetSessionToken", "Version": "2011-06-15"}, sign=False
    )
    root = ET.fromstring(body)  # noqa: S314 - our own server's reply
    assert status == 403
    assert root.tag == "{https://sts.amazonaws.com/doc/2011-06-15/}ErrorResponse"
    assert [e.tag.split("}")[1] for e in root] == ["Error", "RequestId"]
    error = root.find("sts:Error", NS)
    assert error is not None
    assert [e.tag.split("}")[1] for e in error] == ["Type", "Code", "Message"]
    kind = error.find("sts:Type", NS)
    assert kind is not None and kind.text == "Sender"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Version": "2011-06-15"}, "MissingAction"),
        ({"Action": "DecodeAuthorizationMessage", "Version": "2011-06-15"}, "InvalidAction"),
        ({"Action": "GetCallerIdentity", "Version": "2010-01-01"}, "InvalidAction"),
    ],
)
def test_missing_or_unknown_action_or_version_is_refused(
    emu: EmbeddedEmulator, params: dict[str, str], code: str
) -> None:
    status, body = raw_sts(emu.url, params)
    assert status == 400
    assert f"<Code>{code}</Code>" in body
