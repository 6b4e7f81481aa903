"""Seeding the broker with what a previous run kept: what is taken, what is pruned."""

import dataclasses
from datetime import UTC, datetime, timedelta

from stsd.daemon.broker import Broker, Policy, Serve
from stsd.daemon.model import (
    CachedRole,
    CachedSession,
    Credentials,
    RoleCredentials,
    RoleProfile,
    Session,
    SourceProfile,
)

NOW = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
SOURCE = SourceProfile(
    name="bastion",
    keys=Credentials("AKIAEXAMPLEKEY000001", "long-term-secret"),
    mfa_serial="arn:aws:iam::111111111111:mfa/alice",
    region="eu-west-1",
    keys_origin="store",
)
PROD = RoleProfile(
    name="prod-ro",
    role_arn="arn:aws:iam::222222222222:role/ReadOnly",
    parent="bastion",
    source="bastion",
    duration=timedelta(hours=1),
    region="eu-west-1",
)


def temporary(left: timedelta) -> Credentials:
    return Credentials("ASIAEXAMPLE", "secret", "token", NOW + left, "111111111111")


def session(left: timedelta, serial: str = SOURCE.mfa_serial) -> CachedSession:
    return CachedSession(
        Session("bastion", temporary(left), "arn:aws:iam::111111111111:user/alice", NOW), serial
    )


def role(left: timedelta, arn: str = PROD.role_arn) -> CachedRole:
    creds = RoleCredentials(
        "prod-ro", temporary(left), "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice", NOW
    )
    return CachedRole(creds, arn, NOW - timedelta(minutes=5))


def broker() -> Broker:
    return Broker([SOURCE], [PROD], Policy(), lambda: NOW)


def test_restored_role_credentials_are_served_without_sts() -> None:
    """A restart with a live session and fresh role credentials: Serve, no Assume."""
    b = broker()
    assert b.restore([session(timedelta(hours=10))], [role(timedelta(minutes=50))]) == 2
    decision = b.request("prod-ro")
    assert isinstance(decision, Serve) and decision.refresh is None
    assert b.due() == []  # no prompt: the session is there
    sessions, roles = b.cached()
    assert [s.session.source for s in sessions] == ["bastion"]
    assert [r.credentials.profile for r in roles] == ["prod-ro"]


def test_expired_entries_are_pruned() -> None:
    """Sessions or roles with (almost) nothing left are dropped, not restored."""
    b = broker()
    assert b.restore([session(timedelta(seconds=30))], [role(timedelta(seconds=-5))]) == 0
    assert b.cached() == ([], [])


def test_changed_configuration_drops_what_no_longer_fits() -> None:
    """Another MFA device, another role_arn, an unknown profile: not restored."""
    b = broker()
    other_profile = role(timedelta(minutes=50))
    other_profile = dataclasses.replace(
        other_profile,
        credentials=dataclasses.replace(other_profile.credentials, profile="gone"),
    )
    taken = b.restore(
        [session(timedelta(hours=10), serial="arn:aws:iam::111111111111:mfa/bob")],
        [role(timedelta(minutes=50), arn="arn:aws:iam::222222222222:role/Other"), other_profile],
    )
    assert taken == 0
    assert b.cached() == ([], [])


def test_cached_leaves_out_what_expired_since() -> None:
    now = [NOW]
    b = Broker([SOURCE], [PROD], Policy(), lambda: now[0])
    b.restore([session(timedelta(hours=1))], [role(timedelta(minutes=50))])
    now[0] = NOW + timedelta(minutes=55)
    sessions, roles = b.cached()
    assert len(sessions) == 1 and roles == []
