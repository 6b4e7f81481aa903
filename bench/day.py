"""A simulated working day through the real broker, for the timeline in the docs.

The broker is pure and takes a clock, so a day runs in milliseconds: a virtual clock
steps through it, the loop carries out what `due()` asks for as the daemon's
background task would (AssumeRole answered at once with 1 h credentials, prompts
answered by the user a few minutes later), and processes ask for credentials on a
schedule. Every STS call, prompt and request is recorded for the picture.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stsd.daemon.broker import Assume, Broker, Policy, Prompt, Serve
from stsd.daemon.model import Credentials, RoleCredentials, RoleProfile, Session, SourceProfile

__all__ = ["Day", "Grant", "simulate_day"]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday
END = START + timedelta(hours=14)
STEP = timedelta(seconds=30)
SESSION = timedelta(hours=12)
ROLE_LIFETIME = timedelta(hours=1)  # role chaining caps it at 1 h
ANSWER_DELAY = timedelta(minutes=4)  # from a prompt to the user typing the code
SOURCE = "bastion"
ROLES = ("readonly", "poweruser")


@dataclass(frozen=True, slots=True)
class Grant:
    """One credential set: who, from when to when, and why it was fetched."""

    name: str  # "session" or a role profile
    issued: datetime
    expires: datetime
    why: str  # "login", "background", "on request"


@dataclass
class Day:
    grants: list[Grant] = field(default_factory=list)
    prompts: list[tuple[datetime, str]] = field(default_factory=list)
    requests: list[tuple[datetime, str, bool]] = field(default_factory=list)  # served?
    policy: Policy = field(default_factory=Policy)

    @property
    def sts_calls(self) -> int:
        return len(self.grants)

    @property
    def failures(self) -> int:
        return sum(1 for _, _, ok in self.requests if not ok)


def _schedule() -> Iterator[tuple[datetime, str]]:
    """Who asks when: scripts and shells all day, a terraform run in the afternoon."""

    def every(profile: str, first: str, last: str, minutes: int) -> Iterator[tuple[datetime, str]]:
        at = _at(first)
        while at <= _at(last):
            yield at, profile
            at += timedelta(minutes=minutes)

    yield from every("readonly", "08:30", "12:30", 7)
    yield from every("readonly", "13:30", "21:10", 7)
    yield from every("poweruser", "15:00", "16:10", 2)


def _at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return START.replace(hour=int(hours), minute=int(minutes))


def simulate_day(login_at: str = "08:25") -> Day:
    now = START
    day = Day()
    source = SourceProfile(
        SOURCE,
        Credentials("AKIAEXAMPLEEXAMPLE00", "secret"),
        "arn:aws:iam::111111111111:mfa/alice",
        "eu-west-1",
        "~/.aws/credentials",
    )
    roles = [
        RoleProfile(
            name,
            f"arn:aws:iam::222222222222:role/{name}",
            SOURCE,
            SOURCE,
            ROLE_LIFETIME,
            "eu-west-1",
        )
        for name in ROLES
    ]
    broker = Broker([source], roles, day.policy, lambda: now, jitter=lambda: 0.5)
    answers = [(_at(login_at), "first login")]
    day.prompts.append((_at(login_at), "first login"))
    pending = sorted(_schedule())

    def assume(step: Assume, why: str) -> None:
        expires = now + ROLE_LIFETIME
        creds = Credentials("ASIA" + "X" * 16, "s", "t", expires, "222222222222")
        broker.assumed(RoleCredentials(step.profile.name, creds, step.profile.role_arn, now))
        day.grants.append(Grant(step.profile.name, now, expires, why))

    while now <= END:
        for at, why in [a for a in answers if a[0] <= now]:
            answers.remove((at, why))
            creds = Credentials("ASIA" + "S" * 16, "s", "t", now + SESSION)
            broker.session_started(Session(SOURCE, creds, "arn:aws:iam::111:user/alice", now))
            day.grants.append(Grant("session", now, now + SESSION, "login"))
        while pending and pending[0][0] <= now:
            _, profile = pending.pop(0)
            decision = broker.request(profile)
            if isinstance(decision, Assume):  # the request waits for this one call
                assume(decision, "on request")
                decision = broker.request(profile)
            if isinstance(decision, Serve) and decision.refresh is not None:
                assume(decision.refresh, "background")
            day.requests.append((now, profile, isinstance(decision, Serve)))
        for action in broker.due():
            if isinstance(action, Assume):
                assume(action, "background")
            elif isinstance(action, Prompt):
                day.prompts.append((now, action.reason.value))
                answers.append((now + ANSWER_DELAY, action.reason.value))
        now += STEP
    return day
