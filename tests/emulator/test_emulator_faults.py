"""The control API: call counts, injected faults, short lifetimes, the clock."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
from emulator_support import READ_ONLY, FrozenClock, client_error, mfa_session, sts_for, user_client

from stsd.emulator.control import EmulatorControlError
from stsd.emulator.embedded import EmbeddedEmulator
from stsd.emulator.faults import ACTIONS

# Every action is counted, the IAM ones too.
NO_CALLS = dict.fromkeys(ACTIONS, 0)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def emu(clock: FrozenClock) -> Iterator[EmbeddedEmulator]:
    with EmbeddedEmulator(clock=clock) as emulator:
        yield emulator


def test_calls_count_each_request_per_action_whatever_its_outcome(emu: EmbeddedEmulator) -> None:
    assert emu.control.calls() == NO_CALLS
    session = mfa_session(emu)
    client = user_client(emu)
    client_error(lambda: client.assume_role(RoleArn=READ_ONLY, RoleSessionName="xx"))
    sts_for(emu, session).assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")
    user_client(emu).get_caller_identity()
    assert emu.control.calls() == {
        **NO_CALLS,
        "GetSessionToken": 1,
        "AssumeRole": 2,
        "GetCallerIdentity": 1,
    }
    outcomes = [(r["action"], r["status"], r["error_code"]) for r in emu.control.requests()]
    assert outcomes == [
        ("GetSessionToken", 200, None),
        ("AssumeRole", 403, "AccessDenied"),
        ("AssumeRole", 200, None),
        ("GetCallerIdentity", 200, None),
    ]


def test_request_records_never_hold_the_mfa_code(emu: EmbeddedEmulator) -> None:
    code = emu.control.code("alice")
    user_client(emu).get_session_token(
        SerialNumber="arn:aws:iam::111111111111:mfa/alice", TokenCode=code
    )
    (record,) = emu.control.requests()
    assert record["mfa_code_given"] is True
    assert code not in str(record)


def test_throttle_answers_the_next_n_calls_with_throttling(emu: EmbeddedEmulator) -> None:
    """Throttling: HTTP 400, code Throttling, "Rate exceeded"; then calls succeed again."""
    emu.control.set_faults(throttle=2)
    client = user_client(emu)
    for _ in range(2):
        assert client_error(client.get_caller_identity) == ("Throttling", "Rate exceeded", 400)
    assert client.get_caller_identity()["Account"] == "111111111111"
    assert emu.control.calls()["GetCallerIdentity"] == 3


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalFailure"), (503, "ServiceUnavailable")]
)
def test_server_error_answers_the_next_n_calls_with_5xx(
    emu: EmbeddedEmulator, status: int, code: str
) -> None:
    emu.control.set_faults(server_error=1, server_error_status=status)  # type: ignore[arg-type]
    client = user_client(emu)
    assert client_error(client.get_caller_identity)[::2] == (code, status)
    assert client.get_caller_identity()["Account"] == "111111111111"


def test_faults_can_be_limited_to_some_actions(emu: EmbeddedEmulator) -> None:
    session = sts_for(emu, mfa_session(emu))
    emu.control.set_faults(throttle=1, actions=["AssumeRole"])
    assert session.get_caller_identity()["Account"] == "111111111111"
    throttled = client_error(lambda: session.assume_role(RoleArn=READ_ONLY, RoleSessionName="aa"))
    assert throttled[0] == "Throttling"
    assert session.assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")["Credentials"]


def test_latency_is_added_to_every_sts_call(emu: EmbeddedEmulator) -> None:
    client = user_client(emu)
    emu.control.set_faults(latency_ms=300)
    started = time.monotonic()
    client.get_caller_identity()
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 3
    emu.control.set_faults(latency_ms=0)
    started = time.monotonic()
    client.get_caller_identity()
    assert time.monotonic() - started < 0.3


def test_outage_closes_connections_without_an_answer_until_cleared(emu: EmbeddedEmulator) -> None:
    client = user_client(emu)
    emu.control.set_faults(outage=True)
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client.get_caller_identity()
    assert emu.control.faults()["outage"] is True  # the control API stays up
    emu.control.set_faults(outage=False)
    assert client.get_caller_identity()["Account"] == "111111111111"


def test_credential_lifetime_caps_what_is_issued_whatever_was_asked(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    """botocore refuses DurationSeconds under 900, so short lifetimes come from the emulator."""
    emu.control.set_faults(credential_lifetime_seconds=60)
    session = mfa_session(emu)
    assert session["Expiration"] == clock.now + timedelta(seconds=60)
    role = sts_for(emu, session).assume_role(RoleArn=READ_ONLY, RoleSessionName="alice")
    assert role["Credentials"]["Expiration"] == clock.now + timedelta(seconds=60)
    emu.control.advance(61)
    assert client_error(sts_for(emu, session).get_caller_identity)[0] == "ExpiredToken"


def test_credential_lifetime_longer_than_asked_changes_nothing(
    emu: EmbeddedEmulator, clock: FrozenClock
) -> None:
    emu.control.set_faults(credential_lifetime_seconds=7200)
    session = mfa_session(emu, DurationSeconds=900)
    assert session["Expiration"] == clock.now + timedelta(seconds=900)


def test_reset_clears_counts_records_and_faults(emu: EmbeddedEmulator) -> None:
    emu.control.set_faults(throttle=5, latency_ms=10, credential_lifetime_seconds=60)
    client_error(user_client(emu).get_caller_identity)
    emu.control.reset()
    assert emu.control.calls() == NO_CALLS
    assert emu.control.requests() == []
    assert emu.control.faults() == {
        "throttle": 0,
        "server_error": 0,
        "server_error_status": 500,
        "latency_ms": 0,
        "outage": False,
        "credential_lifetime_seconds": None,
        "actions": None,
    }
    assert user_client(emu).get_caller_identity()["Account"] == "111111111111"


def test_fault_settings_change_only_the_fields_given(emu: EmbeddedEmulator) -> None:
    emu.control.set_faults(latency_ms=5, credential_lifetime_seconds=60)
    faults = emu.control.set_faults(throttle=1)
    assert (faults["latency_ms"], faults["credential_lifetime_seconds"]) == (5, 60)
    faults = emu.control.set_faults(credential_lifetime_seconds=None)
    assert faults["credential_lifetime_seconds"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"throttle": -1},
        {"throttle": True},
        {"server_error_status": 502},
        {"outage": "yes"},
        {"credential_lifetime_seconds": 0},
        {"actions": ["DeleteEverything"]},
        {"explode": 1},
    ],
)
def test_bad_fault_settings_are_refused_and_change_nothing(
    emu: EmbeddedEmulator, body: dict[str, object]
) -> None:
    request = urllib.request.Request(  # noqa: S310 - the emulator on loopback
        f"{emu.url}/_emulator/faults", data=json.dumps(body).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    with excinfo.value as error:
        assert error.code == 400
        assert "error" in json.loads(error.read())
    assert emu.control.faults()["throttle"] == 0


def test_the_clock_only_moves_forward(emu: EmbeddedEmulator) -> None:
    with pytest.raises(EmulatorControlError, match="400"):
        emu.control.advance(-1)
