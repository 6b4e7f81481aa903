"""The imperative shell around the broker: runs STS calls, one per key at a time, and
the background loop that refreshes roles and raises prompts.

Every rule lives in the broker; this module only carries out its decisions and reports
outcomes back. Concurrent requests for the same credentials share one flight.
"""

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from stsd.daemon.broker import Action, Assume, Broker, ConfigChange, Prompt, Serve, Unavailable
from stsd.daemon.config import Config
from stsd.daemon.errors import ConfigError, MfaCodeRejected, NeedsMfa, StsdError, StsUnavailable
from stsd.daemon.model import Credentials, RoleCredentials, Session, SourceProfile
from stsd.daemon.sts import Sts
from stsd.daemon.vault import Vault

__all__ = ["CredentialService", "PromptHandler"]

log = logging.getLogger(__name__)

# The JS SDK gives up after 1 s: answer before that, whatever STS does.
REQUEST_DEADLINE_SECONDS = 0.8
# Wake at least this often, so a wall clock that jumped (suspend) is noticed soon.
_MAX_SLEEP_SECONDS = 60.0
_MIN_SLEEP_SECONDS = 0.05


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PromptHandler(Protocol):
    """Who asks the user for MFA codes and takes them back (stsd.daemon.mfa.MfaDesk)."""

    def announce(self, prompt: Prompt) -> None: ...

    async def submit(self, source: str | None, code: str) -> Session: ...

    async def wait_for_session(self, source: str, timeout: float) -> bool: ...

    async def close(self) -> None: ...


class CredentialService:
    """Serves role credentials, logs sources in and keeps everything fresh."""

    def __init__(
        self,
        config: Config,
        sts: Sts,
        clock: Callable[[], datetime] = _utcnow,
        request_deadline: float = REQUEST_DEADLINE_SECONDS,
        vault: Vault | None = None,
    ) -> None:
        self._config = config
        self._sts = sts
        self._clock = clock
        self._broker = Broker(config.sources.values(), config.roles.values(), config.policy, clock)
        self._request_deadline = request_deadline
        self._flights: dict[str, asyncio.Task[None]] = {}
        self._login_locks: dict[str, asyncio.Lock] = {}
        # Bumped by logout: a flight that started before must not bring credentials back.
        self._generation: dict[str, int] = dict.fromkeys(config.sources, 0)
        # Bumped by a reload for each profile it resets or removes, for the same reason.
        self._epoch: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._reload_error: str | None = None
        self._prompts: PromptHandler | None = None
        self.started_at = clock()
        self._vault = vault
        if vault is not None:
            restored = self._broker.restore(*vault.load_cache())
            log.info("restored %d session(s) and role credential set(s) from the store", restored)

    def attach_prompts(self, handler: PromptHandler) -> None:
        """Send prompts to `handler`, and every code through it (coalesced per device)."""
        self._prompts = handler

    @property
    def config(self) -> Config:
        return self._config

    def knows(self, profile: str) -> bool:
        return self._broker.knows(profile)

    # -- credentials ------------------------------------------------------------------

    def serve_now(self, profile: str) -> RoleCredentials | None:
        """`profile`'s credentials if they can be served at once (nearly every request),
        starting a background refresh when one is due; None when `credentials()` has to
        wait or refuse. Synchronous: the endpoint's usual case awaits nothing."""
        if not self._broker.knows(profile):
            return None
        decision = self._broker.request(profile)
        if not isinstance(decision, Serve):
            return None
        if decision.refresh is not None:
            self._flight(decision.refresh)
        return decision.credentials

    async def credentials(self, profile: str) -> RoleCredentials:
        """Fresh credentials for `profile`, within the request deadline.

        Raises:
            StsdError: what stands in the way (NeedsMfa, StsUnavailable, RoleDenied, ...).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._request_deadline
        waited_for_mfa = False
        while True:
            if not self._broker.knows(profile):  # a reload removed it while we waited
                raise ConfigError(f"profile {profile} was removed from the configuration")
            decision = self._broker.request(profile)
            if isinstance(decision, Serve):
                if decision.refresh is not None:
                    self._flight(decision.refresh)
                return decision.credentials
            if isinstance(decision, Unavailable):
                if isinstance(decision.error, NeedsMfa) and not waited_for_mfa:
                    waited_for_mfa = True
                    if await self._await_mfa(profile, deadline - loop.time()):
                        continue
                raise decision.error
            flight = self._flight(decision)
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(asyncio.shield(flight), remaining)
            except TimeoutError:
                raise StsUnavailable(
                    f"STS is slow: still fetching credentials for {profile}; "
                    "they will be ready in a moment, retry"
                ) from None

    async def _await_mfa(self, profile: str, remaining: float) -> bool:
        """Ask for a code now, and wait while a driver may answer within the deadline
        (mfa_process, TOTP); True when a session started meanwhile."""
        self._carry_out(self._broker.due())
        if self._prompts is None or remaining <= 0:
            return False
        return await self._prompts.wait_for_session(self._config.roles[profile].source, remaining)

    def _flight(self, step: Assume) -> asyncio.Task[None]:
        """The one in-flight AssumeRole for this profile, started if there is none."""
        name = step.profile.name
        task = self._flights.get(name)
        if task is None or task.done():
            task = asyncio.create_task(self._assume(step), name=f"assume {name}")
            self._flights[name] = task
        return task

    def _stamp(self, source: str, name: str) -> tuple[int | None, int]:
        """Changes once a logout (of `source`) or a reload (of `name`) makes an STS
        result started before moot."""
        return self._generation.get(source), self._epoch.get(name, 0)

    async def _assume(self, step: Assume) -> None:
        role = step.profile
        stamp = self._stamp(role.source, role.name)
        region = self._config.sources[role.source].region
        log.info("role %s: AssumeRole (%s)", role.name, step.why or "requested")
        try:
            creds = await self._sts.assume_role(role, step.parent, step.session_name, region)
        except Exception as raised:
            error = raised if isinstance(raised, StsdError) else None
            if error is None:
                # A bug, not STS: still a failure the broker must hear of, or every
                # request would start another flight.
                log.exception("role %s: AssumeRole crashed", role.name)
                error = StsUnavailable(
                    f"calling STS failed unexpectedly ({type(raised).__name__}); see the log"
                )
            if self._stamp(role.source, role.name) == stamp:
                self._broker.assume_failed(role.name, error)
                self._persist()
            log.warning("role %s: AssumeRole failed: %s", role.name, error.message)
        else:
            if self._stamp(role.source, role.name) == stamp:
                self._broker.assumed(creds)
                self._persist()
                log.info(
                    "role %s: assumed %s, expires %s",
                    role.name,
                    creds.assumed_role_arn,
                    _hhmm(creds.credentials.expiration),
                )
        finally:
            self._wake.set()

    # -- MFA sessions -----------------------------------------------------------------

    def source_named(self, name: str | None) -> SourceProfile:
        """The source profile called `name`; without a name, the only one there is.

        Raises:
            ConfigError: unknown name, or several sources and no name.
        """
        sources = self._config.sources
        if name is None:
            if len(sources) == 1:
                return next(iter(sources.values()))
            listing = ", ".join(sorted(sources)) or "none (no role profile in ~/.aws/config)"
            raise ConfigError(f"which source profile? name one of: {listing}")
        if name not in sources:
            listing = ", ".join(sorted(sources)) or "none"
            raise ConfigError(f"{name} is not a source profile stsd knows; known: {listing}")
        return sources[name]

    async def login(self, source_name: str | None, code: str) -> Session:
        """Start an MFA session with `code` for a source profile, through the prompt
        handler when there is one (it coalesces codes per MFA device).

        Raises:
            MfaCodeRejected: STS refused the code (the prompt stays pending).
            StsdError: any other failure, classified by sts.
        """
        if self._prompts is not None:
            return await self._prompts.submit(source_name, code)
        return await self.start_session(source_name, code)

    async def start_session(self, source_name: str | None, code: str) -> Session:
        """GetSessionToken with `code`, no questions asked (the prompt handler asks them)."""
        source = self.source_named(source_name)
        if not source.keys.access_key_id:
            raise ConfigError(
                f"{source.name} has no long-term keys any more ({source.keys_origin}): "
                f"`stsd keys import {source.name}` or put them in the credentials file"
            )
        lock = self._login_locks.setdefault(source.name, asyncio.Lock())
        async with lock:
            duration = int(self._config.settings.session_duration.total_seconds())
            stamp = self._stamp(source.name, source.name)
            try:
                session = await self._sts.get_session_token(source, code, duration)
            except MfaCodeRejected:
                if self._stamp(source.name, source.name) == stamp:
                    self._broker.code_rejected(source.name)
                log.warning("source %s: STS rejected the MFA code", source.name)
                raise
            if self._stamp(source.name, source.name) != stamp:
                # A reload changed or removed the source (or a logout came) meanwhile.
                raise StsdError(
                    f"{source.name} was reloaded or logged out while STS checked the code: "
                    f"run `stsd login {source.name}` again"
                )
            self._broker.session_started(session)
            self._persist()
            log.info(
                "source %s: MFA session for %s until %s",
                source.name,
                session.user_arn,
                _hhmm(session.credentials.expiration),
            )
            self._wake.set()
            return session

    def logout(self, source_name: str | None, everything: bool) -> list[str]:
        """Forget sessions and role credentials; returns the sources forgotten."""
        names = list(self._config.sources) if everything else [self.source_named(source_name).name]
        for name in names:
            self._generation[name] += 1
        self._broker.forget(names)
        self._persist()
        log.info("forgot sessions of %s", ", ".join(names) or "nothing")
        return names

    def adopt_session(self, source_name: str, session: Session) -> None:
        """Use `session` for another source profile of the same MFA device (same user)."""
        self._broker.session_started(dataclasses.replace(session, source=source_name))
        self._persist()
        log.info("source %s: shares the MFA session of %s", source_name, session.source)
        self._wake.set()

    def _persist(self) -> None:
        """Write sessions and role credentials to the store (best effort: see status)."""
        if self._vault is not None:
            self._vault.save_cache(*self._broker.cached())

    def live_session(self, source_name: str) -> Session | None:
        """`source_name`'s MFA session if it has one now (key rotation needs it)."""
        return self._broker.session(source_name)

    def replace_keys(self, source_name: str, keys: Credentials, origin: str) -> None:
        """Use `keys` for `source_name` from now on (after rotation or removal)."""
        sources = dict(self._config.sources)
        sources[source_name] = dataclasses.replace(
            sources[source_name], keys=keys, keys_origin=origin
        )
        self._config = dataclasses.replace(self._config, sources=sources)

    # -- configuration ----------------------------------------------------------------

    def reload(self, config: Config) -> ConfigChange:
        """Serve `config` from now on, keeping sessions and credentials it doesn't change.

        Anything else built from the configuration (MFA drivers, ...) is rebuilt here.
        """
        change = self._broker.reconfigure(
            config.sources.values(), config.roles.values(), config.policy
        )
        self._config = config
        for name in change.reset + change.removed:
            # A flight for the old definition (or signed with an old parent) must not land,
            # and a waiting request should not sit behind it.
            self._epoch[name] = self._epoch.get(name, 0) + 1
            self._flights.pop(name, None)
        for name in config.sources:
            self._generation.setdefault(name, 0)
        self._reload_error = None
        self._wake.set()
        return change

    def reload_failed(self, reason: str) -> None:
        """A reload found a broken configuration; the current one stays (status says so)."""
        self._reload_error = reason

    # -- background -------------------------------------------------------------------

    async def run_background(self) -> None:
        """Refresh active roles and raise prompts as the broker says, until cancelled."""
        while True:
            self._carry_out(self._broker.due())
            self._wake.clear()
            wakeup = self._broker.next_wakeup()
            delay = _MAX_SLEEP_SECONDS
            if wakeup is not None:
                delay = (wakeup - self._clock()).total_seconds()
            delay = min(max(delay, _MIN_SLEEP_SECONDS), _MAX_SLEEP_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Assume):
                self._flight(action)
            elif isinstance(action, Prompt):
                self._announce(action)

    def _announce(self, prompt: Prompt) -> None:
        if self._prompts is not None:
            self._prompts.announce(prompt)
            return
        source = self._config.sources[prompt.source]
        log.warning(
            "source %s: MFA code needed for %s (%s): run `stsd login %s`",
            prompt.source,
            source.mfa_serial,
            prompt.reason.value,
            prompt.source,
        )

    async def close(self) -> None:
        """Shut down: cancel flights and prompts still running.

        The daemon calls this once, after both endpoints stopped and in-flight requests
        finished, so the state is final here: the place to persist it.
        """
        if self._prompts is not None:
            await self._prompts.close()
        for task in self._flights.values():
            task.cancel()
        await asyncio.gather(*self._flights.values(), return_exceptions=True)
        self._persist()

    # -- status -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Everything `stsd status` shows; no secrets (key ids masked, no tokens)."""
        policy = self._broker.policy
        sources = self._broker.sources()
        return {
            "now": _iso(self._clock()),
            "started": _iso(self.started_at),
            "sources": [
                {
                    "name": s.name,
                    "mfa_serial": s.mfa_serial,
                    "user_arn": s.user_arn,
                    "session_started": _iso(s.session_started),
                    "session_expires": _iso(s.session_expires),
                    "pending_prompt": s.prompt.value if s.prompt else None,
                    "degraded": s.degraded,
                    "degraded_reason": s.degraded_reason,
                }
                for s in sources
            ],
            "roles": [
                {
                    "profile": r.name,
                    "role_arn": r.role_arn,
                    "source": r.source,
                    "expires": _iso(r.expires),
                    "serve_until": _iso(r.serve_until),
                    "next_refresh": _iso(r.next_refresh),
                    "last_used": _iso(r.last_used),
                    "active": r.active,
                    "degraded": r.degraded,
                    "last_error": r.last_error,
                    "last_error_at": _iso(r.last_error_at),
                }
                for r in self._broker.roles()
            ],
            "degraded": any(s.degraded for s in sources),
            "refresh": {
                "floor_seconds": int(policy.floor.total_seconds()),
                "trigger_seconds": int(policy.trigger.total_seconds()),
                "hard_floor_seconds": int(policy.hard_floor.total_seconds()),
                "active_window_seconds": int(policy.active_window.total_seconds()),
                "prompt_before_seconds": int(policy.renew_before.total_seconds()),
                "reassume_before_seconds": int(policy.reassume_lead.total_seconds()),
            },
            "warnings": list(self._config.warnings)
            + (self._vault.problems() if self._vault is not None else []),
            "store": self._vault.describe() if self._vault is not None else None,
            "reload_error": self._reload_error,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _hhmm(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC") if moment else "never"
