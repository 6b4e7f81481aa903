"""How `sts` classifies what STS and the network do, against the real emulator over HTTP.

Every fault the broker must react to differently arrives here as one of our errors:
transient (StsUnavailable: backoff, degraded mode), the session gone (SessionExpired:
drop it, prompt), the role refused (RoleDenied: name the role), the code refused
(MfaCodeRejected). And the expiry the daemon works with is the one STS sent.
"""

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stsd.daemon.errors import (
    MfaCodeRejected,
    RoleDenied,
    SessionExpired,
    StsdError,
    StsUnavailable,
)
from stsd.daemon.model import Credentials, RoleProfile, Session, SourceProfile
from stsd.daemon.sts import Sts
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.embedded import EmbeddedEmulator

ALICE = DEMO_CONFIG.users[0]
SOURCE = SourceProfile(
    name="bastion",
    keys=Credentials(ALICE.access_key_id, ALICE.secret_access_key),
    mfa_serial=ALICE.mfa_serial,
    region="eu-west-1",
    keys_origin="~/.aws/credentials",
)
READONLY = RoleProfile(
    name="readonly",
    role_arn="arn:aws:iam::222222222222:role/ReadOnly",
    parent="bastion",
    source="bastion",
    duration=timedelta(hours=1),
    region="eu-west-1",
)
DEPLOY_FROM_SESSION = RoleProfile(  # Deploy trusts only the ReadOnly role: refused
    name="deploy",
    role_arn="arn:aws:iam::333333333333:role/path/Deploy",
    parent="bastion",
    source="bastion",
    duration=timedelta(hours=1),
    region="eu-west-1",
)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EmbeddedEmulator]:
    # botocore reads the AWS files even when every call brings its own keys.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with EmbeddedEmulator() as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", running.url)
        yield running


async def session_of(emulator: EmbeddedEmulator, sts: Sts) -> Session:
    return await sts.get_session_token(SOURCE, emulator.control.code(ALICE.name), 43200)


async def assume_error(sts: Sts, parent: Credentials, role: RoleProfile = READONLY) -> StsdError:
    with pytest.raises(StsdError) as raised:
        await sts.assume_role(role, parent, "alice", "eu-west-1")
    return raised.value


def no_secret_in(error: StsdError, *secrets: str | None) -> None:
    for secret in (ALICE.secret_access_key, *secrets):
        assert secret is not None and secret not in error.message


async def test_the_expiration_served_is_the_one_sts_sent(emulator: EmbeddedEmulator) -> None:
    """STS issuing shorter than asked (the emulator's lifetime cap): the real Expiration."""
    emulator.control.set_faults(credential_lifetime_seconds=90)
    sts = Sts()
    session = await session_of(emulator, sts)
    role = await sts.assume_role(READONLY, session.credentials, "alice", "eu-west-1")
    now = datetime.now(UTC)
    for expiration in (session.credentials.expiration, role.credentials.expiration):
        assert expiration is not None
        assert timedelta(seconds=80) < expiration - now <= timedelta(seconds=91)
    assert session.user_arn == ALICE.arn
    assert role.credentials.account_id == "222222222222"


@pytest.mark.parametrize(
    ("faults", "code"),
    [
        ({"throttle": 1}, "Throttling"),
        ({"server_error": 1, "server_error_status": 500}, "InternalFailure"),
        ({"server_error": 1, "server_error_status": 503}, "ServiceUnavailable"),
        ({"outage": True}, "ConnectionClosedError"),
    ],
    ids=["throttling", "500", "503", "outage"],
)
async def test_transient_faults_are_sts_unavailable(
    emulator: EmbeddedEmulator, faults: dict[str, object], code: str
) -> None:
    """Throttling, 5xx and dropped connections are transient: retried with backoff."""
    sts = Sts()
    session = await session_of(emulator, sts)
    emulator.control.set_faults(**faults)  # type: ignore[arg-type]
    error = await assume_error(sts, session.credentials)
    assert isinstance(error, StsUnavailable)
    assert code in error.message
    assert "backoff" in error.message
    no_secret_in(error, session.credentials.secret_access_key, session.credentials.session_token)


async def test_a_read_timeout_is_sts_unavailable(emulator: EmbeddedEmulator) -> None:
    """STS that doesn't answer in time is transient too."""
    sts = Sts(read_timeout=0.2)
    session = await session_of(emulator, sts)
    emulator.control.set_faults(latency_ms=1000)
    error = await assume_error(sts, session.credentials)
    assert isinstance(error, StsUnavailable)
    assert "ReadTimeoutError" in error.message


async def test_a_refused_connection_is_sts_unavailable(
    emulator: EmbeddedEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listening where STS should be: transient (the network may come back)."""
    sts = Sts()
    session = await session_of(emulator, sts)
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{port}")
    error = await assume_error(Sts(), session.credentials)
    assert isinstance(error, StsUnavailable)
    assert "EndpointConnectionError" in error.message


async def test_an_expired_session_is_session_expired(emulator: EmbeddedEmulator) -> None:
    """ExpiredToken: the session is gone; the message names `stsd login SOURCE`."""
    sts = Sts()
    session = await session_of(emulator, sts)
    emulator.control.advance(13 * 3600)
    error = await assume_error(sts, session.credentials)
    assert isinstance(error, SessionExpired)
    assert "ExpiredToken" in error.message
    assert "stsd login bastion" in error.message


async def test_unknown_session_keys_are_session_expired(emulator: EmbeddedEmulator) -> None:
    """InvalidClientTokenId (STS forgot the session, or never issued it): drop it."""
    bogus = Credentials(
        "ASIABOGUSBOGUSBOGUS1",
        "bogus-secret-bogus-secret-bogus-secret00",
        "bogus-token",
        datetime.now(UTC) + timedelta(hours=1),
    )
    error = await assume_error(Sts(), bogus)
    assert isinstance(error, SessionExpired)
    assert "InvalidClientTokenId" in error.message
    no_secret_in(error, bogus.secret_access_key, bogus.session_token)


async def test_access_denied_names_the_role_and_profile(emulator: EmbeddedEmulator) -> None:
    """AccessDenied on AssumeRole: RoleDenied naming the role ARN and the profile."""
    sts = Sts()
    session = await session_of(emulator, sts)
    error = await assume_error(sts, session.credentials, DEPLOY_FROM_SESSION)
    assert isinstance(error, RoleDenied)
    assert DEPLOY_FROM_SESSION.role_arn in error.message
    assert "profile deploy" in error.message
    assert "trust policy" in error.message


async def test_a_rejected_code_is_mfa_code_rejected(emulator: EmbeddedEmulator) -> None:
    """A wrong code: MfaCodeRejected that says to wait for the next code; no code echoed."""
    good = emulator.control.code(ALICE.name)
    bad = f"{(int(good) + 500000) % 1000000:06d}"
    with pytest.raises(MfaCodeRejected) as raised:
        await Sts().get_session_token(SOURCE, bad, 43200)
    assert "stsd login" in raised.value.message
    assert bad not in raised.value.message
