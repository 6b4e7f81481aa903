"""The MFA desk: carries prompts to the user and codes back to STS, once per device.

The broker says a source profile needs a code (a `Prompt`); the desk runs a *round*:
the source's drivers in order (config.toml's `mfa_drivers`, else `prompts.DRIVERS`)
until one produces a code or reaches the user. Every code, from a driver, the MFA
web page or `stsd login`, comes in through `submit`, which applies `MfaRules`:

- one round per MFA device at a time; more prompts for it join the round;
- a code is sent to STS at most once; a code arriving while another one for the same
  device was being accepted isn't sent at all;
- an accepted code serves every source profile of that device (one code per device
  per session), settles the device's open MFA links and stops its round (closing a
  dialog or notification);
- a code from a driver that STS rejects starts the round again, at most 3 times in a
  row; then the desk waits for the user.
"""

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from stsd.daemon.broker import Prompt, PromptReason
from stsd.daemon.config import Config
from stsd.daemon.errors import MfaCodeRejected, PromptUnavailable, StsdError
from stsd.daemon.mfa_links import MfaLink, MfaLinks
from stsd.daemon.mfa_rules import MfaRules
from stsd.daemon.model import Session, SourceProfile
from stsd.daemon.prompts import (
    CODE_PATTERN,
    DRIVERS,
    DriverContext,
    MfaPrompt,
    PromptRequest,
    resolve,
)
from stsd.daemon.service import CredentialService

__all__ = ["CodeRepeated", "MfaDesk"]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CodeRepeated(MfaCodeRejected):
    """A code that went to STS before: refused here, without asking STS again."""

    @property
    def code(self) -> str:
        return "MfaCodeRejected"  # the same error on the wire: the code is no good


class MfaDesk:
    """Runs prompt rounds, owns the MFA page's links, and takes every code."""

    def __init__(
        self,
        service: CredentialService,
        env: Mapping[str, str],
        *,
        store: object | None = None,
        clock: Callable[[], datetime] = _utcnow,
        platform: str = sys.platform,
        drivers: Sequence[type[MfaPrompt]] = DRIVERS,
    ) -> None:
        self._service = service
        self._env = env
        self._store = store
        self._platform = platform
        self._drivers = drivers
        self._rules = MfaRules(clock)
        self.links = MfaLinks(clock, service.config.settings.mfa_link_lifetime)
        self._config: Config | None = None
        self._sources: Mapping[str, SourceProfile] = {}
        self._chains: dict[str, list[MfaPrompt]] = {}
        self._follow_config()
        self._rounds: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Per device, resolved once the round has a code or has reached the user:
        # a request may wait for an automatic driver, never for a person.
        self._quick: dict[str, asyncio.Future[bool]] = {}
        self._said: dict[tuple[str, str], str] = {}
        self._accepted: dict[str, int] = {}  # codes accepted per device, to spot a race
        self.page_base: str | None = None  # http://127.0.0.1:PORT once the daemon listens

    def _follow_config(self) -> None:
        """Build the driver chains for the service's configuration, again after a reload
        (a round already running keeps the chain it started with)."""
        config = self._service.config
        if config is self._config:
            return
        self._chains = {
            name: resolve(
                config.settings.mfa_drivers_for(name),
                DriverContext(
                    source=source, env=self._env, store=self._store, platform=self._platform
                ),
                self._drivers,
            )
            for name, source in config.sources.items()
        }
        self._sources = config.sources
        self.links.lifetime = config.settings.mfa_link_lifetime
        self._config = config

    # -- prompts ----------------------------------------------------------------------

    def announce(self, prompt: Prompt) -> None:
        """The broker wants a code for `prompt.source`: start a round, or join one."""
        self._follow_config()
        source = self._sources[prompt.source]
        device = source.mfa_serial
        if prompt.reason is PromptReason.CODE_REJECTED:
            return  # every rejection passed through `submit`, which decided already
        log.warning(
            "source %s: MFA code needed for %s (%s)",
            prompt.source,
            device,
            prompt.reason.value,
        )
        if not self._rules.want(device):
            if self._rules.waiting_for_user(device):
                log.warning(
                    "source %s: %d codes were rejected in a row; waiting for "
                    "`stsd login %s` or the MFA page",
                    prompt.source,
                    self._rules.rejections(device),
                    prompt.source,
                )
            return
        self._quick[device] = asyncio.get_running_loop().create_future()
        self._rounds[device] = asyncio.create_task(
            self._round(prompt.source, device, prompt.reason, prompt.session_ends),
            name=f"mfa prompt {prompt.source}",
        )

    async def wait_for_session(self, source: str, timeout: float) -> bool:
        """Wait up to `timeout` s while a round may produce a code by itself.

        True when a session started meanwhile; False as soon as the round reached a
        person (their answer takes longer than any request may wait) or had nothing.
        A round gets one such wait: once it timed out, later requests don't wait (a
        dialog or a notification is up, or the command is slow).
        """
        self._follow_config()
        device = self._sources[source].mfa_serial
        quick = self._quick.get(device)
        if quick is None:
            return False
        try:
            return await asyncio.wait_for(asyncio.shield(quick), timeout)
        except TimeoutError:
            self._resolve_quick(device, False)
            return False

    async def _round(
        self,
        source: str,
        device: str,
        reason: PromptReason,
        session_ends: datetime | None,
    ) -> None:
        try:
            while True:
                outcome = await self._ask(source, device, reason, session_ends)
                if outcome != "rejected":
                    return
                if not self._rules.may_reprompt(device):
                    log.warning(
                        "source %s: %d codes were rejected in a row; waiting for "
                        "`stsd login %s` or the MFA page",
                        source,
                        self._rules.rejections(device),
                        source,
                    )
                    return
                reason = PromptReason.CODE_REJECTED
        finally:
            self._rules.round_ended(device)
            self._resolve_quick(device, False)
            if self._rounds.get(device) is asyncio.current_task():
                del self._rounds[device]

    async def _ask(
        self,
        source: str,
        device: str,
        reason: PromptReason,
        session_ends: datetime | None,
    ) -> str:
        """One pass over the drivers: "accepted", "rejected", "reached" or "nobody"."""
        request = PromptRequest(
            source=source,
            mfa_serial=device,
            reason=reason,
            session_ends=session_ends,
            mfa_page_url=self._page_url(self.issue_link(device, source, reason, session_ends)),
        )
        for driver in self._chains.get(source, []):
            why = driver.unavailable_reason()
            if why is not None:
                self._say_once(source, driver.name, why)
                continue
            self._said.pop((source, driver.name), None)
            outcome = await self._ask_one(driver, request, device)
            if outcome != "failed":
                return outcome
        log.warning(
            "source %s: no MFA driver could ask for a code; run `stsd login %s`", source, source
        )
        return "nobody"

    async def _ask_one(self, driver: MfaPrompt, request: PromptRequest, device: str) -> str:
        """One driver: "accepted", "rejected", "reached", or "failed" (try the next).

        A driver whose code went to STS already is asked once more: a TOTP generator
        then waits for the next 30 s step instead of repeating this one.
        """
        source = request.source
        for _ in range(2):
            try:
                code = await driver.prompt(request)
            except PromptUnavailable as error:
                log.warning("source %s: MFA driver %s failed: %s", source, driver.name, error)
                return "failed"
            except Exception as error:  # a driver's bug must not end the round
                log.warning(
                    "source %s: MFA driver %s failed: %s: %s",
                    source,
                    driver.name,
                    type(error).__name__,
                    error,
                )
                return "failed"
            if code is None:
                log.info("source %s: MFA driver %s reached the user", source, driver.name)
                self._resolve_quick(device, False)
                return "reached"
            if not CODE_PATTERN.match(code):
                log.warning("source %s: MFA driver %s gave no 6-digit code", source, driver.name)
                return "failed"
            try:
                await self.submit(source, code)
            except CodeRepeated:
                log.warning(
                    "source %s: MFA driver %s gave a code that went to STS already",
                    source,
                    driver.name,
                )
                continue
            except MfaCodeRejected:
                return "rejected"
            except StsdError as error:
                log.warning(
                    "source %s: the code from %s went nowhere: %s", source, driver.name, error
                )
                return "failed"
            log.info("source %s: MFA code from driver %s accepted", source, driver.name)
            return "accepted"
        return "failed"

    def _say_once(self, source: str, driver: str, why: str) -> None:
        if self._said.get((source, driver)) != why:
            self._said[(source, driver)] = why
            log.info("source %s: MFA driver %s skipped: %s", source, driver, why)

    # -- links ------------------------------------------------------------------------

    def issue_link(
        self, device: str, source: str, reason: PromptReason, session_ends: datetime | None
    ) -> MfaLink | None:
        """A one-time MFA page link, once the daemon knows its own address."""
        if self.page_base is None:
            return None
        return self.links.issue(device, source, reason, session_ends)

    def url_of(self, link: MfaLink) -> str:
        return f"{self.page_base}/mfa/{link.id}"

    def _page_url(self, link: MfaLink | None) -> str | None:
        return None if link is None else self.url_of(link)

    # -- codes ------------------------------------------------------------------------

    async def submit(self, source_name: str | None, code: str) -> Session:
        """Give STS a code for a source profile's device, by the rules above.

        Raises:
            CodeRepeated: the code went to STS before (not sent again).
            MfaCodeRejected: STS refused it.
            StsdError: anything else (unknown source, STS unavailable, ...).
        """
        self._follow_config()
        source = self._service.source_named(source_name)
        device = source.mfa_serial
        before = self._accepted.get(device, 0)
        async with self._locks.setdefault(device, asyncio.Lock()):
            if self._accepted.get(device, 0) != before:
                current = self._service.live_session(source.name)
                if current is not None:
                    log.info(
                        "source %s: a code was accepted meanwhile; this one isn't sent",
                        source.name,
                    )
                    return current
            if not self._rules.first_use(device, code):
                raise CodeRepeated(
                    f"this code for {source.name} went to STS already; "
                    "wait for the next one (codes change every 30 s)"
                )
            try:
                session = await self._service.start_session(source.name, code)
            except MfaCodeRejected:
                self._rules.rejected(device)
                raise
            for other in self._sources.values():
                if other.mfa_serial == device and other.name != source.name:
                    self._service.adopt_session(other.name, session)
            self._settle(device)
            return session

    def _settle(self, device: str) -> None:
        self._accepted[device] = self._accepted.get(device, 0) + 1
        self._rules.accepted(device)
        self.links.settle(device)
        self._resolve_quick(device, True)
        task = self._rounds.get(device)
        if task is not None and task is not asyncio.current_task():
            task.cancel()  # the dialog or notification still open has nothing left to ask

    def _resolve_quick(self, device: str, value: bool) -> None:
        quick = self._quick.get(device)
        if quick is not None and not quick.done():
            quick.set_result(value)

    async def close(self) -> None:
        """Stop every round (shutdown): dialogs killed, notifications closed."""
        rounds = list(self._rounds.values())
        for task in rounds:
            task.cancel()
        for task in rounds:
            with contextlib.suppress(asyncio.CancelledError):
                await task
