"""The functional core: given sessions, role credentials and the time, decide.

Rules (DESIGN.md, "Refresh rules"), all of them here and nowhere else:

- Role credentials are served only with at least `floor` left; while STS is failing
  for a profile (degraded), down to `hard_floor`.
- A role used within `active_window` is re-assumed in the background once it has less
  than `trigger` left, so requests don't wait on STS.
- Expiry is judged by the clock at every call, not by timers alone: a laptop that slept
  through an expiry never gets stale credentials.
- A session with less than `renew_before` left, while one of its roles was used within
  `prompt_window`, asks for a new MFA code while everything still works.
- Shortly before a session ends (`reassume_lead`), its active roles are re-assumed once:
  role credentials outlive the session that assumed them.
- A failed STS call backs off exponentially with jitter; a transient failure (throttling,
  5xx, network) puts the profile in degraded mode, an expired session asks for MFA.
  Credentials STS issued with less than `trigger` left count as a transient failure
  too: served down to `hard_floor`, retried with backoff, never re-fetched in a loop.
- AccessDenied on AssumeRole late in a session (the role worked earlier in it, or the
  session is over an hour old) may be a trust policy's `aws:MultiFactorAuthAge`: the
  error suggests a fresh code.

Invariants: no I/O, no asyncio, no boto3. All time comes from `clock` (aware UTC), all
randomness from `jitter`. The service carries out what the broker decides and reports
the outcome back; the broker never assumes an outcome.
"""

import enum
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stsd.daemon.errors import (
    NeedsMfa,
    RoleDenied,
    SessionExpired,
    StsdError,
    StsUnavailable,
)
from stsd.daemon.model import (
    CachedRole,
    CachedSession,
    Credentials,
    RoleCredentials,
    RoleProfile,
    Session,
    SourceProfile,
)

__all__ = [
    "Action",
    "Assume",
    "Broker",
    "ConfigChange",
    "Decision",
    "Policy",
    "Prompt",
    "PromptReason",
    "RoleStatus",
    "Serve",
    "SourceStatus",
    "Unavailable",
]

Clock = Callable[[], datetime]

# A denial after this much session age may be an aws:MultiFactorAuthAge limit (policies
# that use it rarely allow less than an hour).
_MFA_AGE_HINT_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Policy:
    """The numbers behind the rules; DESIGN.md says where each default comes from."""

    floor: timedelta = timedelta(minutes=20)  # botocore refreshes inside 15 min: stay above
    trigger: timedelta = timedelta(minutes=30)
    hard_floor: timedelta = timedelta(minutes=5)  # JS/Go/Java refresh inside 5 min
    renew_before: timedelta = timedelta(minutes=30)
    prompt_window: timedelta = timedelta(hours=1)
    active_window: timedelta = timedelta(hours=12)
    reassume_lead: timedelta = timedelta(minutes=10)
    # A parent credential must have this much left to sign an AssumeRole call.
    parent_margin: timedelta = timedelta(minutes=1)
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_cap: timedelta = timedelta(minutes=5)

    @classmethod
    def scaled(
        cls,
        floor: timedelta,
        trigger: timedelta,
        hard_floor: timedelta,
        active_window: timedelta,
        renew_before: timedelta,
        reassume_lead: timedelta,
    ) -> "Policy":
        """A policy from config.toml's numbers; the rest derived so any scale works.

        The backoff cap is a third of the degraded window (floor minus hard floor), so at
        least three retries happen before cached credentials run out; 5 min at most (the
        default window of 15 min gives exactly that). A parent credential needs half the
        hard floor left to sign a call, 1 min at most.
        """
        cap = min(timedelta(minutes=5), (floor - hard_floor) / 3)
        return cls(
            floor=floor,
            trigger=trigger,
            hard_floor=hard_floor,
            renew_before=renew_before,
            active_window=active_window,
            reassume_lead=reassume_lead,
            parent_margin=min(timedelta(minutes=1), hard_floor / 2),
            backoff_base=min(timedelta(seconds=2), cap / 8),
            backoff_cap=cap,
        )

    def problems(self) -> list[str]:
        """What is inconsistent about these numbers, in words a config error can use."""
        # Names in parentheses are config.toml's, for the ConfigError that quotes these.
        found = []
        if not self.hard_floor < self.floor < self.trigger:
            found.append("need hard_floor < floor < trigger (the *_seconds keys)")
        if self.trigger >= timedelta(hours=1):
            found.append(
                "trigger (trigger_seconds) must be under 1 h: chained role credentials "
                "last 1 h at most"
            )
        if self.parent_margin >= self.reassume_lead:
            found.append(
                "reassume_lead (reassume_before_seconds) must be longer than the margin a "
                f"session needs to sign a call ({self.parent_margin.total_seconds():g} s: "
                "half the hard floor, 1 min at most)"
            )
        if self.backoff_base <= timedelta(0) or self.backoff_base > self.backoff_cap:
            found.append("need 0 < backoff_base <= backoff_cap")
        return found


class PromptReason(enum.Enum):
    """Why an MFA code is wanted; prompts tell the user."""

    FIRST_LOGIN = "no MFA session yet"
    SESSION_ENDING = "the MFA session ends soon"
    SESSION_EXPIRED = "the MFA session has ended"
    CODE_REJECTED = "the last code was rejected"


@dataclass(frozen=True, slots=True)
class Serve:
    """Serve these credentials now; `refresh`, if set, runs in the background."""

    credentials: RoleCredentials
    refresh: "Assume | None"


@dataclass(frozen=True, slots=True)
class Assume:
    """Call AssumeRole for `profile` with `parent` credentials, then report back.

    `why` is for the log only, e.g. "advisory refresh, 24 min left".
    """

    profile: RoleProfile
    parent: Credentials
    session_name: str
    why: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Nothing can be served now; the error says why and what to do."""

    error: StsdError


@dataclass(frozen=True, slots=True)
class Prompt:
    """Ask the user for a code of `source`'s MFA device."""

    source: str
    reason: PromptReason
    session_ends: datetime | None


Decision = Serve | Assume | Unavailable
Action = Assume | Prompt


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """What a new configuration changed; names sorted.

    `reset` lists the sources and role profiles still configured whose session or
    credentials were dropped because they, or a link of their chain, changed.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reset: tuple[str, ...] = ()

    def summary(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed, so forgotten:", self.reset),
            )
            if names
        ]
        return "; ".join(parts) or "no profile changed"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    mfa_serial: str
    user_arn: str | None
    session_started: datetime | None
    session_expires: datetime | None
    prompt: PromptReason | None
    degraded: bool  # some role of this source is degraded
    degraded_reason: str | None  # the latest STS failure behind it


@dataclass(frozen=True, slots=True)
class RoleStatus:
    name: str
    role_arn: str
    source: str
    expires: datetime | None
    serve_until: datetime | None  # when they fall below the (hard) floor
    next_refresh: datetime | None
    last_used: datetime | None
    active: bool  # used within the active window: refreshed in the background
    degraded: bool
    last_error: str | None
    last_error_at: datetime | None


@dataclass(slots=True)
class _RoleState:
    credentials: RoleCredentials | None = None
    last_used: datetime | None = None
    failures: int = 0
    retry_at: datetime | None = None
    error: StsdError | None = None
    error_at: datetime | None = None
    degraded: bool = False
    # The decision to serve `credentials` with nothing to refresh: the same for every
    # request until they change, so made once (a request is a few microseconds).
    serve: "Serve | None" = None


@dataclass(slots=True)
class _SourceState:
    session: Session | None = None
    prompt: PromptReason | None = None
    prompt_announced: bool = False


class Broker:
    """Decides what to serve, what to refresh and when to ask for MFA."""

    def __init__(
        self,
        sources: Iterable[SourceProfile],
        roles: Iterable[RoleProfile],
        policy: Policy,
        clock: Clock,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._sources: Mapping[str, SourceProfile] = {s.name: s for s in sources}
        self._profiles: Mapping[str, RoleProfile] = {r.name: r for r in roles}
        self._policy = policy
        self._clock = clock
        self._jitter = jitter
        self._source_state = {name: _SourceState() for name in self._sources}
        self._role_state = {name: _RoleState() for name in self._profiles}

    @property
    def policy(self) -> Policy:
        return self._policy

    def knows(self, profile: str) -> bool:
        return profile in self._profiles

    # -- requests ---------------------------------------------------------------------

    def request(self, profile: str) -> Decision:
        """A client asks for `profile`'s credentials: serve, fetch first, or refuse."""
        now = self._clock()
        self._mark_used(profile, now)
        state = self._role_state[profile]
        creds = state.credentials
        if creds is not None and creds.credentials.remaining(now) >= self._serving_floor(state):
            why = self._refresh_reason(profile, now)
            refresh = self._next_assume(profile, now, why) if why else None
            if isinstance(refresh, Assume):
                return Serve(creds, refresh)
            if state.serve is None or state.serve.credentials is not creds:
                state.serve = Serve(creds, None)
            return state.serve
        left = creds.credentials.remaining(now) if creds else None
        if left is None:
            why = "no credentials yet"
        elif left <= timedelta(0):
            why = "credentials expired"
        else:
            why = f"{_human(left)} left, under the floor"
        return self._next_assume(profile, now, why)

    def _serving_floor(self, state: _RoleState) -> timedelta:
        return self._policy.hard_floor if state.degraded else self._policy.floor

    def _mark_used(self, profile: str, now: datetime) -> None:
        # Parents of a chained role are in use too: keep them fresh for the child.
        name = profile
        while name in self._profiles:
            self._role_state[name].last_used = now
            name = self._profiles[name].parent

    def _next_assume(self, profile: str, now: datetime, why: str) -> Assume | Unavailable:
        """The next AssumeRole that brings `profile` closer to fresh credentials."""
        role = self._profiles[profile]
        state = self._role_state[profile]
        if state.retry_at is not None and now < state.retry_at:
            error = state.error or StsUnavailable("STS failed")
            wait = int((state.retry_at - now).total_seconds()) + 1
            return Unavailable(type(error)(f"{error.message} (next try in {wait} s)"))
        if role.parent in self._profiles:
            parent_creds = self._role_state[role.parent].credentials
            if (
                parent_creds is None
                or parent_creds.credentials.remaining(now) < self._policy.parent_margin
            ):
                return self._next_assume(role.parent, now, f"parent of {profile}")
            return Assume(role, parent_creds.credentials, self._session_name(role), why)
        session = self._live_session(role.source, now)
        if session is None:
            return Unavailable(self._needs_mfa(role.source))
        return Assume(role, session.credentials, self._session_name(role), why)

    def _live_session(self, source: str, now: datetime) -> Session | None:
        state = self._source_state[source]
        session = state.session
        if session is None:
            if state.prompt is None:
                self._want_prompt(source, PromptReason.FIRST_LOGIN)
            return None
        if session.credentials.remaining(now) < self._policy.parent_margin:
            state.session = None
            self._want_prompt(source, PromptReason.SESSION_EXPIRED)
            return None
        return session

    def _needs_mfa(self, source: str) -> NeedsMfa:
        reason = self._source_state[source].prompt or PromptReason.FIRST_LOGIN
        return NeedsMfa(f"{reason.value} for {source}: run `stsd login {source}`")

    def _session_name(self, role: RoleProfile) -> str:
        if role.role_session_name:
            return role.role_session_name
        session = self._source_state[role.source].session
        return _valid_session_name(session.user_name if session else "stsd")

    def _usable_session(self, profile: str, now: datetime) -> Session | None:
        """The session at the root of `profile`'s chain, if it can still sign a call."""
        session = self._source_state[self._profiles[profile].source].session
        if session is None or session.credentials.remaining(now) < self._policy.parent_margin:
            return None
        return session

    def _reassume_from(self, session: Session) -> datetime:
        assert session.credentials.expiration is not None  # noqa: S101 - sessions expire
        return session.credentials.expiration - self._policy.reassume_lead

    def _refresh_reason(self, profile: str, now: datetime) -> str | None:
        """Why `profile` should be re-assumed in the background now, or None."""
        state = self._role_state[profile]
        if state.retry_at is not None and now < state.retry_at:
            return None
        session = self._usable_session(profile, now)
        if session is None:
            return None
        creds = state.credentials
        if creds is None:
            return "no credentials yet"
        left = creds.credentials.remaining(now)
        if left < self._policy.trigger:
            return f"advisory refresh, {_human(left)} left"
        # Re-assume once shortly before the session ends, so the role outlives it.
        lead_start = self._reassume_from(session)
        if now >= lead_start and creds.issued_at < lead_start:
            return "re-assume before the MFA session ends"
        return None

    def _refresh_at(self, profile: str, now: datetime) -> datetime | None:
        """When `profile` will next be re-assumed if it stays in use (for `status`)."""
        session = self._usable_session(profile, now)
        if session is None:
            return None
        state = self._role_state[profile]
        creds = state.credentials
        at = now
        if creds is not None and creds.credentials.expiration is not None:
            at = creds.credentials.expiration - self._policy.trigger
            lead_start = self._reassume_from(session)
            if creds.issued_at < lead_start:
                at = min(at, lead_start)
        if state.retry_at is not None:
            at = max(at, state.retry_at)
        return max(at, now)

    # -- outcomes ---------------------------------------------------------------------

    def assumed(self, role_credentials: RoleCredentials) -> None:
        """STS returned fresh credentials for a role."""
        now = self._clock()
        state = self._role_state[role_credentials.profile]
        state.credentials = role_credentials
        state.serve = None  # it held the old set: let that go now
        left = role_credentials.credentials.remaining(now)
        if left < self._policy.trigger:
            # Shorter than asked for (or a clock far off): serve them as in degraded mode
            # and back off, rather than fetch again on every request or every tick.
            self._failed(
                state,
                StsUnavailable(
                    f"STS issued credentials for {role_credentials.profile} that last only "
                    f"{_human(left)}, under the {_human(self._policy.trigger)} refresh "
                    "trigger; serving them down to the hard floor"
                ),
                now,
            )
            return
        state.failures = 0
        state.retry_at = None
        state.error = None
        state.error_at = None
        state.degraded = False

    def assume_failed(self, profile: str, error: StsdError) -> None:
        """An AssumeRole for `profile` failed with `error` (already classified by sts)."""
        now = self._clock()
        state = self._role_state[profile]
        source = self._profiles[profile].source
        if isinstance(error, SessionExpired):
            self._source_state[source].session = None
            self._want_prompt(source, PromptReason.SESSION_EXPIRED)
            state.error = error
            state.error_at = now
            return
        if isinstance(error, RoleDenied):
            error = self._with_mfa_age_hint(profile, error, now)
        self._failed(state, error, now)

    def _failed(self, state: _RoleState, error: StsdError, now: datetime) -> None:
        state.failures += 1
        state.error = error
        state.error_at = now
        state.degraded = isinstance(error, StsUnavailable)
        state.retry_at = now + self._backoff(state.failures)

    def _with_mfa_age_hint(self, profile: str, error: RoleDenied, now: datetime) -> RoleDenied:
        """A denial late in a session may be the trust policy's aws:MultiFactorAuthAge."""
        session = self._source_state[self._profiles[profile].source].session
        if session is None:
            return error
        creds = self._role_state[profile].credentials
        worked_before = creds is not None and creds.issued_at >= session.issued_at
        age = now - session.issued_at
        if not worked_before and age < _MFA_AGE_HINT_AFTER:
            return error
        return RoleDenied(
            f"{error.message}; the MFA session is {_human(age)} old: if the trust policy "
            f"limits aws:MultiFactorAuthAge, a fresh code helps: `stsd login {session.source}`"
        )

    def _backoff(self, failures: int) -> timedelta:
        exponential = self._policy.backoff_base * (2 ** min(failures - 1, 16))
        capped: timedelta = min(self._policy.backoff_cap, exponential)
        return capped * (0.5 + 0.5 * self._jitter())  # equal jitter: never zero, never sync

    def session_started(self, session: Session) -> None:
        """A new MFA session: everything waiting on it may go again."""
        state = self._source_state[session.source]
        state.session = session
        state.prompt = None
        state.prompt_announced = False
        for name, role in self._profiles.items():
            if role.source == session.source:
                role_state = self._role_state[name]
                role_state.retry_at = None
                role_state.failures = 0
                role_state.error = None
                role_state.error_at = None
                # STS just answered; a degraded flag without its error would be a
                # `status` that says degraded but not why.
                role_state.degraded = False

    def code_rejected(self, source: str) -> None:
        """STS refused a code for `source`: ask again, saying so."""
        self._want_prompt(source, PromptReason.CODE_REJECTED)

    def forget(self, sources: Iterable[str]) -> None:
        """Drop sessions and role credentials of `sources` (logout, lock)."""
        for source in sources:
            self._source_state[source] = _SourceState()
            for name, role in self._profiles.items():
                if role.source == source:
                    last_used = self._role_state[name].last_used
                    self._role_state[name] = _RoleState(last_used=last_used)

    def reconfigure(
        self, sources: Iterable[SourceProfile], roles: Iterable[RoleProfile], policy: Policy
    ) -> ConfigChange:
        """Take a new configuration (SIGHUP), keeping what it leaves unchanged.

        A source keeps its session while its profile (keys, MFA device, region) is
        unchanged; a role keeps its credentials while it and every link of its chain up to
        the source are unchanged. Whatever changed starts over, as if new: credentials
        obtained under the old definition must not be served under the new one.
        """
        new_sources = {s.name: s for s in sources}
        new_profiles = {r.name: r for r in roles}
        same_sources = {n for n, s in new_sources.items() if self._sources.get(n) == s}

        def same_chain(name: str) -> bool:
            role = new_profiles[name]
            if self._profiles.get(name) != role:
                return False
            if role.parent in new_profiles:
                return same_chain(role.parent)  # build_config refuses loops
            return role.parent in same_sources

        reset: set[str] = set()
        source_state = {}
        for name in new_sources:
            if name in same_sources:
                source_state[name] = self._source_state[name]
            else:
                source_state[name] = _SourceState()
                if name in self._sources:
                    reset.add(name)
        role_state = {}
        for name in new_profiles:
            old = self._role_state.get(name)
            if old is not None and same_chain(name):
                role_state[name] = old
            else:
                # A profile in use stays in use: keep it fresh under its new definition.
                role_state[name] = _RoleState(last_used=old.last_used if old else None)
                if old is not None:
                    reset.add(name)
        before = set(self._sources) | set(self._profiles)
        after = set(new_sources) | set(new_profiles)
        self._sources, self._profiles, self._policy = new_sources, new_profiles, policy
        self._source_state, self._role_state = source_state, role_state
        return ConfigChange(
            added=tuple(sorted(after - before)),
            removed=tuple(sorted(before - after)),
            reset=tuple(sorted(reset)),
        )

    def _want_prompt(self, source: str, reason: PromptReason) -> None:
        state = self._source_state[source]
        if state.prompt != reason:
            state.prompt = reason
            state.prompt_announced = False

    # -- persistence ------------------------------------------------------------------

    def restore(self, sessions: Iterable[CachedSession], roles: Iterable[CachedRole]) -> int:
        """Seed the broker with what a previous run held; returns how many were taken.

        Taken only where they still fit: a known source whose MFA device is unchanged,
        a known profile with the same role_arn, and enough time left to be of use
        (`parent_margin`). Everything else is dropped: that is the pruning.
        """
        now = self._clock()
        taken = 0
        for cached in sessions:
            session = cached.session
            source = self._sources.get(session.source)
            if (
                source is None
                or source.mfa_serial != cached.mfa_serial
                or session.credentials.remaining(now) < self._policy.parent_margin
            ):
                continue
            state = self._source_state[session.source]
            if state.session is None or state.session.issued_at < session.issued_at:
                state.session = session
                state.prompt = None
                state.prompt_announced = False
                taken += 1
        for cached_role in roles:
            creds = cached_role.credentials
            role = self._profiles.get(creds.profile)
            if (
                role is None
                or role.role_arn != cached_role.role_arn
                or creds.credentials.remaining(now) < self._policy.parent_margin
            ):
                continue
            role_state = self._role_state[creds.profile]
            if role_state.credentials is None:
                role_state.credentials = creds
                taken += 1
            if cached_role.last_used is not None and (
                role_state.last_used is None or role_state.last_used < cached_role.last_used
            ):
                role_state.last_used = min(cached_role.last_used, now)
        return taken

    def cached(self) -> tuple[list[CachedSession], list[CachedRole]]:
        """What is worth keeping across a restart: live sessions and role credentials."""
        now = self._clock()
        sessions = [
            CachedSession(state.session, self._sources[name].mfa_serial)
            for name, state in self._source_state.items()
            if state.session is not None and state.session.credentials.remaining(now) > timedelta(0)
        ]
        roles = [
            CachedRole(state.credentials, self._profiles[name].role_arn, state.last_used)
            for name, state in self._role_state.items()
            if state.credentials is not None
            and state.credentials.credentials.remaining(now) > timedelta(0)
        ]
        return sessions, roles

    # -- background -------------------------------------------------------------------

    def due(self) -> list[Action]:
        """What should happen now without a request: refreshes and MFA prompts."""
        now = self._clock()
        actions: list[Action] = []
        seen: set[str] = set()
        for name, state in self._role_state.items():
            if not self._active(state, now, self._policy.active_window):
                continue
            why = self._refresh_reason(name, now)
            if why is None:
                continue
            step = self._next_assume(name, now, why)
            if isinstance(step, Assume) and step.profile.name not in seen:
                seen.add(step.profile.name)
                actions.append(step)
        for source, source_state in self._source_state.items():
            self._check_session_ending(source, now)
            if source_state.prompt is not None and not source_state.prompt_announced:
                source_state.prompt_announced = True
                session = source_state.session
                ends = session.credentials.expiration if session else None
                actions.append(Prompt(source, source_state.prompt, ends))
        return actions

    def _check_session_ending(self, source: str, now: datetime) -> None:
        session = self._source_state[source].session
        if session is None:
            return
        if session.credentials.remaining(now) >= self._policy.renew_before:
            return
        if (
            any(
                role.source == source
                and self._active(self._role_state[name], now, self._policy.prompt_window)
                for name, role in self._profiles.items()
            )
            and self._source_state[source].prompt is None
        ):
            # A session that ended unseen (the laptop slept) has ended, not "ends soon".
            ended = session.credentials.remaining(now) < self._policy.parent_margin
            reason = PromptReason.SESSION_EXPIRED if ended else PromptReason.SESSION_ENDING
            self._want_prompt(source, reason)

    @staticmethod
    def _active(state: _RoleState, now: datetime, window: timedelta) -> bool:
        return state.last_used is not None and now - state.last_used <= window

    def next_wakeup(self) -> datetime | None:
        """The earliest time `due()` may return something new."""
        now = self._clock()
        times: list[datetime] = []
        for name, state in self._role_state.items():
            if not self._active(state, now, self._policy.active_window):
                continue
            if state.retry_at is not None:
                times.append(state.retry_at)
            if state.credentials and state.credentials.credentials.expiration:
                times.append(state.credentials.credentials.expiration - self._policy.trigger)
            session = self._source_state[self._profiles[name].source].session
            if session and session.credentials.expiration:
                times.append(self._reassume_from(session))
        for source_state in self._source_state.values():
            session = source_state.session
            if session and session.credentials.expiration:
                times.append(session.credentials.expiration - self._policy.renew_before)
        # Past moments were handled by the `due()` that ran at them.
        return min((t for t in times if t > now), default=None)

    # -- inspection -------------------------------------------------------------------

    def sources(self) -> list[SourceStatus]:
        now = self._clock()
        result = []
        for name, source in self._sources.items():
            state = self._source_state[name]
            session = state.session
            if session is not None and session.credentials.remaining(now) <= timedelta(0):
                session = None
            degraded = [
                role_state
                for role_name, role_state in self._role_state.items()
                if self._profiles[role_name].source == name and role_state.degraded
            ]
            latest = max(degraded, key=lambda r: r.error_at or now, default=None)
            result.append(
                SourceStatus(
                    name=name,
                    mfa_serial=source.mfa_serial,
                    user_arn=session.user_arn if session else None,
                    session_started=session.issued_at if session else None,
                    session_expires=session.credentials.expiration if session else None,
                    prompt=state.prompt,
                    degraded=bool(degraded),
                    degraded_reason=(
                        latest.error.message if latest is not None and latest.error else None
                    ),
                )
            )
        return result

    def roles(self) -> list[RoleStatus]:
        now = self._clock()
        result = []
        for name, role in self._profiles.items():
            state = self._role_state[name]
            creds = state.credentials
            expires = creds.credentials.expiration if creds else None
            if expires is not None and expires <= now:
                expires = None
            active = self._active(state, now, self._policy.active_window)
            result.append(
                RoleStatus(
                    name=name,
                    role_arn=role.role_arn,
                    source=role.source,
                    expires=expires,
                    serve_until=expires - self._serving_floor(state) if expires else None,
                    next_refresh=self._refresh_at(name, now) if active else None,
                    last_used=state.last_used,
                    active=active,
                    degraded=state.degraded,
                    last_error=state.error.message if state.error else None,
                    last_error_at=state.error_at if state.error else None,
                )
            )
        return result

    def session(self, source: str) -> Session | None:
        """The live session of `source`, if any (for calls that need it, e.g. keys)."""
        return self._live_session(source, self._clock())


def _human(delta: timedelta) -> str:
    """`45 s`, `24 min`, `2 h 05 min`: durations as messages and logs show them."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _valid_session_name(name: str) -> str:
    # RoleSessionName is [\w+=,.@-]{2,64}; IAM user names are [\w+=,.@-]{1,64}.
    return name if len(name) >= 2 else f"{name}-stsd"
