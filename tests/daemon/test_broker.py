"""The broker's refresh and prompt rules (DESIGN.md, "Refresh rules"), driven by a fake clock.

Every test builds values directly, feeds the broker events (a request, an STS outcome, a
code, a tick) and checks the decision. Time only moves through `FakeClock.advance()`.
"""

import gc
import weakref
from datetime import UTC, datetime, timedelta

import pytest
from profiles_support import AUDIT, HOUR, PROD
from profiles_support import BASTION as SOURCE

from stsd.daemon.broker import (
    Assume,
    Broker,
    Decision,
    Policy,
    Prompt,
    PromptReason,
    RoleStatus,
    Serve,
    Unavailable,
)
from stsd.daemon.errors import NeedsMfa, RoleDenied, SessionExpired, StsUnavailable
from stsd.daemon.model import Credentials, RoleCredentials, RoleProfile, Session

MIN = timedelta(minutes=1)

CI = RoleProfile(
    name="ci",
    role_arn="arn:aws:iam::222222222222:role/Deploy",
    parent="bastion",
    source="bastion",
    duration=HOUR,
    region="eu-west-1",
    role_session_name="ci-bot",
)
IDLE = RoleProfile(
    name="idle",
    role_arn="arn:aws:iam::222222222222:role/Idle",
    parent="bastion",
    source="bastion",
    duration=HOUR,
    region="eu-west-1",
)


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self) -> None:
        self._now = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def broker(clock: FakeClock) -> Broker:
    return make_broker(clock)


def make_broker(clock: FakeClock, policy: Policy | None = None) -> Broker:
    return Broker([SOURCE], [PROD, AUDIT, CI, IDLE], policy or Policy(), clock.now, lambda: 0.5)


def login(
    broker: Broker, clock: FakeClock, lasts: timedelta = 12 * HOUR, user: str = "alice"
) -> Session:
    """Start an MFA session of `bastion` for IAM user `user`, lasting `lasts` from now."""
    session = Session(
        source="bastion",
        credentials=Credentials(
            "ASIASESSION000000001", "session-secret", "session-token", clock.now() + lasts
        ),
        user_arn=f"arn:aws:iam::111111111111:user/{user}",
        issued_at=clock.now(),
    )
    broker.session_started(session)
    return session


def give(
    broker: Broker, clock: FakeClock, profile: str = "prod-ro", lasts: timedelta = HOUR
) -> RoleCredentials:
    """Report credentials for `profile` issued now, lasting `lasts`."""
    creds = RoleCredentials(
        profile=profile,
        credentials=Credentials(
            f"ASIA{profile.upper():0>16}", "role-secret", "role-token", clock.now() + lasts
        ),
        assumed_role_arn=f"arn:aws:sts::222222222222:assumed-role/{profile}/alice",
        issued_at=clock.now(),
    )
    broker.assumed(creds)
    return creds


def error_of(decision: Decision) -> str:
    assert isinstance(decision, Unavailable), decision
    return decision.error.message


def assumes(broker: Broker) -> list[str]:
    return [a.profile.name for a in broker.due() if isinstance(a, Assume)]


def prompts(broker: Broker) -> list[PromptReason]:
    return [a.reason for a in broker.due() if isinstance(a, Prompt)]


# -- first request, login, assume, serve ------------------------------------------------


def test_first_request_without_session_needs_mfa(broker: Broker) -> None:
    """Without an MFA session a request is refused with NeedsMfa naming `stsd login SOURCE`."""
    decision = broker.request("prod-ro")
    assert isinstance(decision, Unavailable)
    assert isinstance(decision.error, NeedsMfa)
    assert "stsd login bastion" in decision.error.message


def test_first_request_announces_first_login_prompt_once(broker: Broker) -> None:
    """A request without a session raises one FIRST_LOGIN prompt, not one per tick."""
    broker.request("prod-ro")
    assert broker.due() == [Prompt("bastion", PromptReason.FIRST_LOGIN, None)]
    assert broker.due() == []


def test_after_login_request_assumes_with_session_as_user(broker: Broker, clock: FakeClock) -> None:
    """After login a request assumes the role with the session, named after the IAM user."""
    session = login(broker, clock)
    assert broker.request("prod-ro") == Assume(PROD, session.credentials, "alice")


def test_role_session_name_overrides_user_name(broker: Broker, clock: FakeClock) -> None:
    """A profile's role_session_name is used instead of the IAM user's name."""
    login(broker, clock)
    decision = broker.request("ci")
    assert isinstance(decision, Assume)
    assert decision.session_name == "ci-bot"


def test_assumed_credentials_are_served(broker: Broker, clock: FakeClock) -> None:
    """Once STS returned credentials, a request serves them without a refresh."""
    login(broker, clock)
    creds = give(broker, clock)
    assert broker.request("prod-ro") == Serve(creds, None)


def test_short_user_name_padded_to_valid_session_name(broker: Broker, clock: FakeClock) -> None:
    """A one-letter IAM user name still makes a valid RoleSessionName (2 to 64 characters)."""
    login(broker, clock, user="a")
    decision = broker.request("prod-ro")
    assert isinstance(decision, Assume)
    assert decision.session_name == "a-stsd"


# -- floor and trigger ------------------------------------------------------------------


def test_credentials_under_floor_are_not_served(broker: Broker, clock: FakeClock) -> None:
    """Credentials with less than the 20 min floor left are re-assumed, not served."""
    session = login(broker, clock)
    give(broker, clock)
    clock.advance(41 * MIN)
    assert broker.request("prod-ro") == Assume(PROD, session.credentials, "alice")


def test_credentials_under_trigger_served_with_refresh(broker: Broker, clock: FakeClock) -> None:
    """With 25 min left (under the 30 min trigger) they are served and refreshed meanwhile."""
    session = login(broker, clock)
    creds = give(broker, clock)
    clock.advance(35 * MIN)
    assert broker.request("prod-ro") == Serve(creds, Assume(PROD, session.credentials, "alice"))


def test_credentials_over_trigger_served_without_refresh(broker: Broker, clock: FakeClock) -> None:
    """With 40 min left they are served and nothing is refreshed."""
    login(broker, clock)
    creds = give(broker, clock, lasts=40 * MIN)
    assert broker.request("prod-ro") == Serve(creds, None)


# -- wall clock -------------------------------------------------------------------------


def test_slept_through_expiry_serves_no_stale_credentials(broker: Broker, clock: FakeClock) -> None:
    """After the clock jumps hours ahead (laptop slept) expired credentials are not served."""
    login(broker, clock)
    give(broker, clock)
    clock.advance(3 * HOUR)
    assert isinstance(broker.request("prod-ro"), Assume)


def test_slept_through_session_end_needs_mfa(broker: Broker, clock: FakeClock) -> None:
    """A session that ended during sleep is dropped; the request says it has ended."""
    login(broker, clock)
    give(broker, clock)
    clock.advance(13 * HOUR)
    decision = broker.request("prod-ro")
    assert isinstance(decision, Unavailable)
    assert isinstance(decision.error, NeedsMfa)
    assert "session has ended" in decision.error.message
    assert "stsd login bastion" in decision.error.message


# -- degraded mode ----------------------------------------------------------------------


def test_sts_unavailable_makes_role_degraded(broker: Broker, clock: FakeClock) -> None:
    """A transient STS failure marks the role degraded, and status says why."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    status = next(r for r in broker.roles() if r.name == "prod-ro")
    assert status.degraded
    assert status.last_error == "STS is failing (Throttling)"


def test_degraded_serves_between_hard_floor_and_floor(broker: Broker, clock: FakeClock) -> None:
    """While degraded, credentials with 5 to 20 min left are still served."""
    login(broker, clock)
    creds = give(broker, clock)
    clock.advance(45 * MIN)
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    decision = broker.request("prod-ro")
    assert isinstance(decision, Serve)
    assert decision.credentials == creds


def test_degraded_below_hard_floor_unavailable_in_backoff(broker: Broker, clock: FakeClock) -> None:
    """While degraded and backing off, credentials under the 5 min hard floor are refused."""
    login(broker, clock)
    give(broker, clock)
    clock.advance(56 * MIN)
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    decision = broker.request("prod-ro")
    assert isinstance(decision, Unavailable)
    assert isinstance(decision.error, StsUnavailable)
    assert "next try in" in decision.error.message


def test_degraded_retries_once_backoff_passed(broker: Broker, clock: FakeClock) -> None:
    """After the backoff, a request under the hard floor tries STS again."""
    login(broker, clock)
    give(broker, clock)
    clock.advance(56 * MIN)
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    clock.advance(2 * timedelta(seconds=2))
    assert isinstance(broker.request("prod-ro"), Assume)


def test_backoff_grows_exponentially_and_is_capped(broker: Broker, clock: FakeClock) -> None:
    """Retry delays double from 2 s up to the 5 min cap (times 0.75 with jitter 0.5)."""
    login(broker, clock, lasts=36 * HOUR)
    broker.request("prod-ro")
    delays = []
    for _ in range(10):
        broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
        wakeup = broker.next_wakeup()
        assert wakeup is not None
        delays.append((wakeup - clock.now()).total_seconds())
    assert delays == [1.5, 3, 6, 12, 24, 48, 96, 192, 225, 225]


def test_degraded_role_in_backoff_is_not_refreshed(broker: Broker, clock: FakeClock) -> None:
    """During backoff neither requests nor ticks start another AssumeRole."""
    login(broker, clock)
    creds = give(broker, clock)
    clock.advance(45 * MIN)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    assert broker.request("prod-ro") == Serve(creds, None)
    assert assumes(broker) == []


def test_assumed_clears_degraded(broker: Broker, clock: FakeClock) -> None:
    """Fresh credentials end degraded mode: the normal floor applies again."""
    login(broker, clock)
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    give(broker, clock)
    status = next(r for r in broker.roles() if r.name == "prod-ro")
    assert not status.degraded
    assert status.last_error is None
    clock.advance(45 * MIN)
    assert isinstance(broker.request("prod-ro"), Assume)


# -- STS errors -------------------------------------------------------------------------


def test_session_expired_drops_session_and_asks_for_mfa(broker: Broker, clock: FakeClock) -> None:
    """ExpiredToken from STS drops the session; requests need MFA and a prompt goes out."""
    session = login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", SessionExpired("the MFA session of bastion is no longer valid"))
    assert "session has ended" in error_of(broker.request("prod-ro"))
    assert broker.due() == [
        Prompt("bastion", PromptReason.SESSION_EXPIRED, None),
    ]
    assert broker.session("bastion") is None
    assert session.credentials.remaining(clock.now()) > HOUR  # dropped although unexpired


def test_role_denied_names_role_and_waits(broker: Broker, clock: FakeClock) -> None:
    """AccessDenied on AssumeRole is refused naming the role, and not retried at once."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed(
        "prod-ro", RoleDenied(f"STS denied AssumeRole into {PROD.role_arn} for profile prod-ro")
    )
    decision = broker.request("prod-ro")
    assert isinstance(decision, Unavailable)
    assert isinstance(decision.error, RoleDenied)
    assert "prod-ro" in decision.error.message
    assert assumes(broker) == []


def test_role_denied_retried_in_background_after_backoff(broker: Broker, clock: FakeClock) -> None:
    """Once the backoff has passed, the next tick tries the denied role again."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", RoleDenied("STS denied AssumeRole for profile prod-ro"))
    clock.advance(timedelta(seconds=2))
    assert assumes(broker) == ["prod-ro"]


# -- role chaining ----------------------------------------------------------------------


def test_chained_role_assumes_parent_first(broker: Broker, clock: FakeClock) -> None:
    """A role whose parent is a role profile first assumes the parent with the session."""
    session = login(broker, clock)
    assert broker.request("audit") == Assume(PROD, session.credentials, "alice")


def test_chained_role_assumes_with_parent_credentials(broker: Broker, clock: FakeClock) -> None:
    """Once the parent has credentials, the child is assumed with them."""
    login(broker, clock)
    parent = give(broker, clock, "prod-ro")
    assert broker.request("audit") == Assume(AUDIT, parent.credentials, "alice")


def test_chained_request_counts_parent_as_used(broker: Broker, clock: FakeClock) -> None:
    """Requesting a chained role keeps its parent fresh too."""
    login(broker, clock)
    give(broker, clock, "prod-ro")
    give(broker, clock, "audit")
    broker.request("audit")
    clock.advance(35 * MIN)
    assert sorted(assumes(broker)) == ["audit", "prod-ro"]


def test_due_asks_for_shared_parent_once(broker: Broker, clock: FakeClock) -> None:
    """When a parent and its child both need it, the parent's AssumeRole is asked for once."""
    login(broker, clock)
    give(broker, clock, "audit")
    clock.advance(35 * MIN)
    broker.request("audit")
    assert assumes(broker) == ["prod-ro"]


# -- background: due() -----------------------------------------------------------------


def test_due_refreshes_used_role_below_trigger(broker: Broker, clock: FakeClock) -> None:
    """A role in use is re-assumed in the background once under the 30 min trigger."""
    login(broker, clock)
    give(broker, clock)
    broker.request("prod-ro")
    clock.advance(25 * MIN)
    assert assumes(broker) == []
    clock.advance(10 * MIN)
    assert assumes(broker) == ["prod-ro"]


def test_due_ignores_roles_never_requested(broker: Broker, clock: FakeClock) -> None:
    """Credentials nobody asked for are not refreshed."""
    login(broker, clock)
    give(broker, clock, "idle")
    clock.advance(50 * MIN)
    assert assumes(broker) == []


def test_due_ignores_roles_idle_past_active_window(broker: Broker, clock: FakeClock) -> None:
    """A role last used more than 12 h ago is no longer refreshed."""
    login(broker, clock, lasts=36 * HOUR)
    broker.request("prod-ro")
    clock.advance(12 * HOUR + MIN)
    give(broker, clock)
    clock.advance(50 * MIN)
    assert assumes(broker) == []


def test_session_ending_prompts_once(broker: Broker, clock: FakeClock) -> None:
    """Under 30 min left with a role used in the last hour, one SESSION_ENDING prompt."""
    session = login(broker, clock)
    clock.advance(12 * HOUR - 45 * MIN)
    give(broker, clock)
    broker.request("prod-ro")
    clock.advance(16 * MIN)
    ends = session.credentials.expiration
    assert broker.due() == [Prompt("bastion", PromptReason.SESSION_ENDING, ends)]
    clock.advance(MIN)
    broker.request("prod-ro")
    assert broker.due() == []


def test_session_ending_without_recent_use_no_prompt(broker: Broker, clock: FakeClock) -> None:
    """A session ending while no role was used in the last hour does not prompt."""
    login(broker, clock)
    clock.advance(12 * HOUR - 2 * HOUR)
    broker.request("prod-ro")
    clock.advance(2 * HOUR - 29 * MIN)
    assert prompts(broker) == []


def test_active_roles_reassumed_once_before_session_ends(broker: Broker, clock: FakeClock) -> None:
    """10 min before the session ends, active roles are re-assumed once to outlive it."""
    login(broker, clock)
    clock.advance(12 * HOUR - 20 * MIN)
    give(broker, clock)
    broker.request("prod-ro")
    clock.advance(10 * MIN)
    assert assumes(broker) == ["prod-ro"]
    give(broker, clock)
    clock.advance(5 * MIN)
    assert assumes(broker) == []
    assert isinstance(broker.request("prod-ro"), Serve)


def test_role_outlives_session_until_floor(broker: Broker, clock: FakeClock) -> None:
    """After the session ends, role credentials are served until the floor, then NeedsMfa."""
    login(broker, clock)
    clock.advance(12 * HOUR - 10 * MIN)
    creds = give(broker, clock)  # the re-assume before the session's end
    broker.request("prod-ro")
    clock.advance(15 * MIN)  # session over; 45 min left
    assert broker.request("prod-ro") == Serve(creds, None)
    clock.advance(20 * MIN)  # 25 min left: under the trigger, but no session to refresh
    assert broker.request("prod-ro") == Serve(creds, None)
    clock.advance(6 * MIN)  # 19 min left: under the floor
    assert "session has ended" in error_of(broker.request("prod-ro"))


def test_session_ended_unseen_prompts_as_ended(broker: Broker, clock: FakeClock) -> None:
    """A session that ended while nothing ran (laptop slept) is announced as ended."""
    login(broker, clock)
    clock.advance(12 * HOUR - 40 * MIN)
    give(broker, clock)
    broker.request("prod-ro")
    clock.advance(45 * MIN)
    assert prompts(broker) == [PromptReason.SESSION_EXPIRED]


# -- prompts and login ------------------------------------------------------------------


def test_code_rejected_prompts_saying_so(broker: Broker, clock: FakeClock) -> None:
    """A rejected code prompts again with CODE_REJECTED."""
    broker.code_rejected("bastion")
    assert broker.due() == [Prompt("bastion", PromptReason.CODE_REJECTED, None)]


def test_session_started_clears_prompt(broker: Broker, clock: FakeClock) -> None:
    """A new session withdraws the pending prompt."""
    broker.request("prod-ro")
    broker.code_rejected("bastion")
    login(broker, clock)
    assert prompts(broker) == []
    assert [s.prompt for s in broker.sources()] == [None]


def test_session_started_fetches_waiting_roles(broker: Broker, clock: FakeClock) -> None:
    """Roles requested before login are assumed in the background as soon as it succeeds."""
    broker.request("prod-ro")
    session = login(broker, clock)
    assert broker.due() == [Assume(PROD, session.credentials, "alice")]


def test_session_started_clears_backoff(broker: Broker, clock: FakeClock) -> None:
    """A new session lets roles waiting out a backoff try again at once."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", RoleDenied("STS denied AssumeRole for profile prod-ro"))
    session = login(broker, clock)
    assert broker.request("prod-ro") == Assume(PROD, session.credentials, "alice")


def test_session_started_leaves_no_unexplained_degraded(broker: Broker, clock: FakeClock) -> None:
    """After a new session no role is reported degraded without a reason."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    login(broker, clock)
    assert all(r.last_error is not None for r in broker.roles() if r.degraded)


# -- forget -----------------------------------------------------------------------------


def test_forget_drops_session_and_credentials(broker: Broker, clock: FakeClock) -> None:
    """After logout nothing is served and a first login is asked for."""
    login(broker, clock)
    give(broker, clock)
    broker.forget(["bastion"])
    assert "no MFA session yet" in error_of(broker.request("prod-ro"))
    assert [s.session_expires for s in broker.sources()] == [None]
    assert all(r.expires is None for r in broker.roles())


# -- next_wakeup ------------------------------------------------------------------------


def test_next_wakeup_none_when_idle(broker: Broker) -> None:
    """With no session and no role in use there is nothing to wake for."""
    broker.request("prod-ro")
    assert broker.next_wakeup() is None


def test_next_wakeup_is_earliest_refresh(broker: Broker, clock: FakeClock) -> None:
    """With a role in use, the next wakeup is when its credentials reach the trigger."""
    login(broker, clock)
    give(broker, clock)
    broker.request("prod-ro")
    assert broker.next_wakeup() == clock.now() + 30 * MIN


def test_next_wakeup_never_in_the_past(broker: Broker, clock: FakeClock) -> None:
    """Moments already passed are skipped: the next wakeup is in the future."""
    session = login(broker, clock)
    give(broker, clock)
    broker.request("prod-ro")
    clock.advance(12 * HOUR - 20 * MIN)
    assert session.credentials.expiration is not None
    assert broker.next_wakeup() == session.credentials.expiration - 10 * MIN


# -- policy -----------------------------------------------------------------------------


def test_default_policy_is_consistent() -> None:
    """The default numbers have no problems."""
    assert Policy().problems() == []


@pytest.mark.parametrize(
    "policy",
    [
        Policy(floor=35 * MIN),
        Policy(hard_floor=20 * MIN),
        Policy(trigger=HOUR, floor=40 * MIN),
        Policy(parent_margin=10 * MIN),
    ],
    ids=["floor-above-trigger", "hard-floor-at-floor", "trigger-1h", "parent-margin"],
)
def test_policy_flags_inconsistent_numbers(policy: Policy) -> None:
    """Numbers that contradict each other or the 1 h chaining cap are flagged."""
    assert len(policy.problems()) == 1


def test_scaled_policy_with_default_numbers_is_the_default() -> None:
    """config.toml's defaults give exactly DESIGN's numbers, derived ones included."""
    scaled = Policy.scaled(
        floor=20 * MIN,
        trigger=30 * MIN,
        hard_floor=5 * MIN,
        active_window=12 * HOUR,
        renew_before=30 * MIN,
        reassume_lead=10 * MIN,
    )
    assert scaled == Policy()


def test_scaled_policy_shrinks_backoff_and_margin_with_the_floors() -> None:
    """Floors of seconds (tests, short lifetimes) get backoff and margins of seconds."""
    scaled = Policy.scaled(
        floor=timedelta(seconds=4),
        trigger=timedelta(seconds=7),
        hard_floor=timedelta(seconds=1),
        active_window=HOUR,
        renew_before=timedelta(seconds=10),
        reassume_lead=timedelta(seconds=5),
    )
    assert scaled.problems() == []
    assert scaled.backoff_cap == timedelta(seconds=1)  # a third of floor - hard floor
    assert scaled.backoff_base == timedelta(seconds=1) / 8
    assert scaled.parent_margin == timedelta(seconds=0.5)


# -- credentials shorter than asked -----------------------------------------------------


def test_credentials_issued_under_floor_served_degraded_not_refetched(
    broker: Broker, clock: FakeClock
) -> None:
    """Credentials that arrive with less than the floor left are served down to the hard
    floor and retried with backoff, never fetched again on every request."""
    login(broker, clock)
    creds = give(broker, clock, lasts=10 * MIN)
    status = next(r for r in broker.roles() if r.name == "prod-ro")
    assert status.degraded
    assert status.last_error is not None and "last only 10 min" in status.last_error
    assert broker.request("prod-ro") == Serve(creds, None)
    assert broker.request("prod-ro") == Serve(creds, None)
    assert assumes(broker) == []
    clock.advance(timedelta(seconds=2))  # the backoff (1.5 s with jitter 0.5) has passed
    assert assumes(broker) == ["prod-ro"]


# -- wall clock, continued ----------------------------------------------------------------


def test_first_request_after_sleep_recovers(broker: Broker, clock: FakeClock) -> None:
    """After hours asleep the first request fetches, and what it fetched is served."""
    login(broker, clock)
    old = give(broker, clock)
    broker.request("prod-ro")
    clock.advance(3 * HOUR)
    assert isinstance(broker.request("prod-ro"), Assume)
    new = give(broker, clock)
    assert broker.request("prod-ro") == Serve(new, None)
    assert new != old


# -- AccessDenied and the MFA-age hint ----------------------------------------------------


def test_role_denied_right_after_login_has_no_mfa_age_hint(
    broker: Broker, clock: FakeClock
) -> None:
    """A fresh session denied at once: the trust policy is at fault, not MFA age."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", RoleDenied(f"STS denied AssumeRole into {PROD.role_arn}"))
    message = error_of(broker.request("prod-ro"))
    assert PROD.role_arn in message
    assert "MultiFactorAuthAge" not in message


def test_role_denied_after_it_worked_suggests_a_fresh_code(
    broker: Broker, clock: FakeClock
) -> None:
    """The role worked earlier in this session: a denial now may be aws:MultiFactorAuthAge."""
    login(broker, clock)
    give(broker, clock)
    broker.request("prod-ro")
    clock.advance(45 * MIN)  # 15 min left: under the floor
    broker.assume_failed("prod-ro", RoleDenied(f"STS denied AssumeRole into {PROD.role_arn}"))
    message = error_of(broker.request("prod-ro"))
    assert "MultiFactorAuthAge" in message
    assert "45 min old" in message
    assert "stsd login bastion" in message


def test_role_denied_late_in_session_suggests_a_fresh_code(
    broker: Broker, clock: FakeClock
) -> None:
    """A first denial in a session over an hour old carries the hint too."""
    login(broker, clock)
    clock.advance(3 * HOUR)
    broker.request("ci")
    broker.assume_failed("ci", RoleDenied(f"STS denied AssumeRole into {CI.role_arn}"))
    assert "3 h 00 min old" in error_of(broker.request("ci"))


def test_role_denied_is_not_retried_in_a_storm(broker: Broker, clock: FakeClock) -> None:
    """Many requests during the backoff make no AssumeRole; the error says when it retries."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", RoleDenied("denied"))
    decisions = [broker.request("prod-ro") for _ in range(200)]
    assert all(isinstance(d, Unavailable) for d in decisions)
    assert "next try in 2 s" in error_of(decisions[-1])
    assert assumes(broker) == []


# -- why an AssumeRole happens (for the log) ----------------------------------------------


def test_assume_says_why(broker: Broker, clock: FakeClock) -> None:
    """Each AssumeRole carries its reason: none yet, advisory refresh, session ending."""
    login(broker, clock)
    first = broker.request("prod-ro")
    assert isinstance(first, Assume) and first.why == "no credentials yet"
    give(broker, clock)
    clock.advance(36 * MIN)
    served = broker.request("prod-ro")
    assert isinstance(served, Serve) and served.refresh is not None
    assert served.refresh.why == "advisory refresh, 24 min left"


# -- status -------------------------------------------------------------------------------


def role_status(broker: Broker, name: str = "prod-ro") -> RoleStatus:
    return next(r for r in broker.roles() if r.name == name)


def test_status_next_refresh_is_when_the_trigger_is_reached(
    broker: Broker, clock: FakeClock
) -> None:
    """A role in use: next refresh at expiry minus the trigger; served until the floor."""
    login(broker, clock)
    creds = give(broker, clock)
    broker.request("prod-ro")
    status = role_status(broker)
    expires = creds.credentials.expiration
    assert expires is not None
    assert status.next_refresh == expires - 30 * MIN
    assert status.serve_until == expires - 20 * MIN
    assert status.active


def test_status_next_refresh_is_the_reassume_before_session_end(
    broker: Broker, clock: FakeClock
) -> None:
    """Near the session's end the next refresh is the re-assume that outlives it."""
    session = login(broker, clock)
    clock.advance(12 * HOUR - 15 * MIN)
    give(broker, clock)
    broker.request("prod-ro")
    assert session.credentials.expiration is not None
    assert role_status(broker).next_refresh == session.credentials.expiration - 10 * MIN


def test_status_no_next_refresh_for_idle_roles_or_without_session(
    broker: Broker, clock: FakeClock
) -> None:
    """Nobody asked for it, or no session to refresh with: no next refresh."""
    login(broker, clock)
    give(broker, clock, "idle")
    assert role_status(broker, "idle").next_refresh is None
    assert not role_status(broker, "idle").active
    broker.request("prod-ro")
    broker.forget(["bastion"])
    assert role_status(broker).next_refresh is None


def test_status_next_refresh_waits_for_backoff(broker: Broker, clock: FakeClock) -> None:
    """During a backoff the next refresh is the retry, not a moment already past."""
    login(broker, clock)
    give(broker, clock)
    broker.request("prod-ro")
    clock.advance(35 * MIN)
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    status = role_status(broker)
    assert status.next_refresh == clock.now() + timedelta(seconds=1.5)
    expires = status.expires
    assert expires is not None and status.serve_until == expires - 5 * MIN  # hard floor


def test_status_source_degraded_says_why(broker: Broker, clock: FakeClock) -> None:
    """A source with a degraded role is degraded, with the latest STS failure as reason."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.request("ci")
    broker.assume_failed("prod-ro", StsUnavailable("STS is failing (Throttling)"))
    clock.advance(MIN)
    broker.assume_failed("ci", StsUnavailable("can't reach STS (EndpointConnectionError)"))
    (source,) = broker.sources()
    assert source.degraded
    assert source.degraded_reason == "can't reach STS (EndpointConnectionError)"
    assert source.session_started is not None


def test_status_source_not_degraded_for_a_denied_role(broker: Broker, clock: FakeClock) -> None:
    """A trust policy refusal is the role's error, not STS failing: not degraded."""
    login(broker, clock)
    broker.request("prod-ro")
    broker.assume_failed("prod-ro", RoleDenied("denied"))
    (source,) = broker.sources()
    assert not source.degraded and source.degraded_reason is None
    assert role_status(broker).last_error == "denied"


def test_credentials_issued_under_trigger_are_not_refreshed_in_a_loop(
    broker: Broker, clock: FakeClock
) -> None:
    """Credentials above the floor but under the trigger on arrival: the background does
    not re-assume them on every tick, only after a backoff."""
    login(broker, clock)
    broker.request("prod-ro")
    creds = give(broker, clock, lasts=25 * MIN)
    assert broker.request("prod-ro") == Serve(creds, None)
    assert assumes(broker) == []
    clock.advance(timedelta(seconds=2))
    assert assumes(broker) == ["prod-ro"]


def test_a_served_set_is_not_kept_alive_by_the_broker(broker: Broker, clock: FakeClock) -> None:
    """The serve decision is made once per credential set; it must let the set go when
    fresh ones arrive and on logout, so nothing keeps old secrets in memory (the
    encoded bodies' cache relies on it)."""
    login(broker, clock)
    first = weakref.ref(give(broker, clock))
    assert isinstance(broker.request("prod-ro"), Serve)
    assert broker.request("prod-ro") is broker.request("prod-ro")  # made once
    clock.advance(10 * MIN)
    newer = give(broker, clock)
    gc.collect()
    assert first() is None
    served = broker.request("prod-ro")
    assert isinstance(served, Serve) and served.credentials is newer
    second = weakref.ref(newer)
    del newer, served
    broker.forget(["bastion"])
    gc.collect()
    assert second() is None
