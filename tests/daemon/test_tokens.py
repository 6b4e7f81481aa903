"""The token registry: default and scoped tokens, leases on an injected clock."""

import pytest

from stsd.client.tokens import new_token
from stsd.daemon.tokens import DEFAULT_LABEL, Grant, LeaseConflict, TokenRegistry


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(clock: FakeClock) -> TokenRegistry:
    return TokenRegistry("d" * 43, lease_seconds=10, clock=clock)


def test_default_token_is_good_for_every_profile(registry: TokenRegistry) -> None:
    grant = registry.lookup("d" * 43)
    assert grant == Grant(DEFAULT_LABEL)
    assert grant.allows("anything")


@pytest.mark.parametrize("presented", ["", "d" * 42, "d" * 44, "D" * 43, "d" * 42 + "é", "\udcff"])
def test_anything_but_the_exact_token_is_refused(registry: TokenRegistry, presented: str) -> None:
    assert registry.lookup(presented) is None


def test_rotation_retires_the_old_default_at_once(registry: TokenRegistry) -> None:
    new = new_token()
    registry.rotate_default(new)
    assert registry.lookup("d" * 43) is None
    assert registry.lookup(new) == Grant(DEFAULT_LABEL)


def test_scoped_token_allows_its_profile_only(registry: TokenRegistry) -> None:
    lease = registry.issue("readonly", "exec: terraform")
    grant = registry.lookup(lease.token)
    assert grant == Grant("exec: terraform", "readonly")
    assert grant.allows("readonly") and not grant.allows("poweruser")
    assert lease.token not in repr(lease)


def test_a_lease_lapses_unless_renewed(registry: TokenRegistry, clock: FakeClock) -> None:
    lease = registry.issue("readonly", "exec: x")
    clock.now += 9
    assert registry.renew(lease.id, lease.token, "readonly", "exec: x") is False
    clock.now += 9  # 18 s after issue, 9 s after the renewal
    assert registry.lookup(lease.token) is not None
    clock.now += 1
    assert registry.lookup(lease.token) is None
    assert registry.active_leases() == []


def test_a_lapsed_lease_is_restored_by_its_holder(
    registry: TokenRegistry, clock: FakeClock
) -> None:
    """A CLI that was stopped (or a daemon that restarted) renews and gets it back."""
    lease = registry.issue("readonly", "exec: x")
    clock.now += 60
    assert registry.lookup(lease.token) is None
    assert registry.renew(lease.id, lease.token, "readonly", "exec: x") is True
    assert registry.lookup(lease.token) == Grant("exec: x", "readonly")


def test_an_unknown_lease_is_restored_after_a_restart(clock: FakeClock) -> None:
    first = TokenRegistry(new_token(), 10, clock)
    lease = first.issue("readonly", "exec: x")
    second = TokenRegistry(new_token(), 10, clock)
    assert second.renew(lease.id, lease.token, "readonly", "exec: x") is True
    assert second.lookup(lease.token) == Grant("exec: x", "readonly")


def test_revoked_tokens_die_at_once(registry: TokenRegistry) -> None:
    lease = registry.issue("readonly", "exec: x")
    assert registry.revoke(lease.id) is True
    assert registry.lookup(lease.token) is None
    assert registry.revoke(lease.id) is False


@pytest.mark.parametrize(
    "change",
    ["other token", "other profile", "bad id", "weak token", "the default token"],
)
def test_renewals_that_dont_match_are_refused(registry: TokenRegistry, change: str) -> None:
    lease = registry.issue("readonly", "exec: x")
    lease_id, token, profile = lease.id, lease.token, "readonly"
    if change == "other token":
        token = new_token()
    elif change == "other profile":
        profile = "poweruser"
    elif change == "bad id":
        lease_id = "../../v1/status"
    elif change == "weak token":
        lease_id, token = "0" * 16, "short"
    else:
        lease_id, token = "0" * 16, "d" * 43
    with pytest.raises(LeaseConflict):
        registry.renew(lease_id, token, profile, "exec: x")
    assert registry.lookup(lease.token) is not None  # the real lease is untouched
