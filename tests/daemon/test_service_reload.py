"""The service's side of SIGHUP: STS results that a reload made moot never land.

In-process, with a fake at the STS seam that holds each AssumeRole until released, so
the test decides exactly what is in flight when the reload comes.
"""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from profiles_support import AUDIT, BASTION, HOUR, PROD

from stsd.client.settings import Settings
from stsd.daemon.broker import Policy
from stsd.daemon.config import Config
from stsd.daemon.errors import ConfigError
from stsd.daemon.model import Credentials, RoleCredentials, RoleProfile, Session, SourceProfile
from stsd.daemon.service import CredentialService
from stsd.daemon.sts import Sts


class GatedSts(Sts):
    """Answers at once for sessions; each AssumeRole waits for `gate` and is numbered."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.in_flight = asyncio.Event()
        self.calls: list[tuple[str, str]] = []  # (role, access key id of the signer)

    async def get_session_token(
        self, source: SourceProfile, code: str, duration_seconds: int
    ) -> Session:
        now = datetime.now(UTC)
        creds = Credentials("ASIASESSION", "s", "t", now + timedelta(seconds=duration_seconds))
        return Session(source.name, creds, "arn:aws:iam::111111111111:user/alice", now)

    async def assume_role(
        self, role: RoleProfile, parent: Credentials, session_name: str, region: str | None
    ) -> RoleCredentials:
        self.calls.append((role.name, parent.access_key_id))
        self.in_flight.set()
        await self.gate.wait()
        now = datetime.now(UTC)
        key = f"ASIACALL{len(self.calls)}"
        return RoleCredentials(
            role.name, Credentials(key, "r", "t", now + HOUR), role.role_arn, now
        )


def _config(*roles: RoleProfile) -> Config:
    return Config({"bastion": BASTION}, {r.name: r for r in roles}, Settings(), Policy())


async def test_a_flight_signed_by_a_parent_the_reload_changed_does_not_land() -> None:
    """audit is unchanged, but its AssumeRole in flight was signed with prod-ro's old
    credentials: after prod-ro changes, the request is served from a fresh chain."""
    sts = GatedSts()
    service = CredentialService(_config(PROD, AUDIT), sts, request_deadline=5.0)
    await service.login("bastion", "123456")
    sts.gate.set()
    await service.credentials("prod-ro")  # call 1
    sts.gate.clear()
    sts.in_flight.clear()
    request = asyncio.create_task(service.credentials("audit"))
    await sts.in_flight.wait()  # call 2: audit, signed with call 1's credentials
    changed = replace(PROD, role_arn="arn:aws:iam::222222222222:role/Other")
    change = service.reload(_config(changed, AUDIT))
    assert change.reset == ("audit", "prod-ro")
    sts.gate.set()
    served = await request
    assert [role for role, _ in sts.calls] == ["prod-ro", "audit", "prod-ro", "audit"]
    assert sts.calls[3] == ("audit", "ASIACALL3")  # signed by the new prod-ro
    assert served.credentials.access_key_id == "ASIACALL4"
    await service.close()


async def test_a_flight_for_a_profile_the_reload_removed_does_not_land() -> None:
    """The waiting request gets a clear error, not a crash; nothing of it is stored."""
    sts = GatedSts()
    service = CredentialService(_config(PROD, AUDIT), sts, request_deadline=5.0)
    await service.login("bastion", "123456")
    flight = asyncio.create_task(service.credentials("prod-ro"))
    await sts.in_flight.wait()
    service.reload(_config(replace(AUDIT, parent="bastion")))
    sts.gate.set()
    with pytest.raises(ConfigError, match="prod-ro was removed from the configuration"):
        await flight
    assert not service.knows("prod-ro")
    assert [role["profile"] for role in service.status()["roles"]] == ["audit"]
    await service.close()
