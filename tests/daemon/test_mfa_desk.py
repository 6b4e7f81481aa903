"""The MFA desk in-process: a real service and STS client against the emulator, with
scripted drivers standing in for the user's devices."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pyotp
import pytest
from mfa_support import ALICE, sts_emulator, two_sources_one_device

from stsd.client.awsfiles import load_aws_files
from stsd.client.settings import Settings
from stsd.daemon.broker import Prompt, PromptReason
from stsd.daemon.config import build_config
from stsd.daemon.errors import MfaCodeRejected, NeedsMfa, PromptUnavailable
from stsd.daemon.mfa import CodeRepeated, MfaDesk
from stsd.daemon.prompts import DriverContext, MfaPrompt, PromptRequest
from stsd.daemon.prompts.totp import TotpPrompt
from stsd.daemon.service import CredentialService
from stsd.daemon.vault import TotpSeed, open_vault
from stsd.emulator.embedded import EmbeddedEmulator

Answer = Callable[[PromptRequest], Awaitable[str | None]]


class Script:
    """What the scripted drivers answer, and what they were asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, PromptRequest]] = []
        self.cancelled: list[str] = []

    def driver(self, name: str, answer: Answer, why: str | None = None) -> type[MfaPrompt]:
        script = self
        driver_name = name

        class Scripted:
            name: ClassVar[str] = driver_name

            @classmethod
            def create(cls, context: DriverContext) -> "Scripted":
                return cls()

            def unavailable_reason(self) -> str | None:
                return why

            async def prompt(self, request: PromptRequest) -> str | None:
                script.asked.append((driver_name, request))
                try:
                    return await answer(request)
                except asyncio.CancelledError:
                    script.cancelled.append(driver_name)
                    raise

        return Scripted


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedEmulator]:
    with sts_emulator(monkeypatch) as running:
        yield running


@pytest.fixture
def service(tmp_path: Path, emulator: EmbeddedEmulator) -> CredentialService:
    return two_sources_one_device(tmp_path)


@pytest.fixture
async def background(service: CredentialService) -> AsyncIterator[None]:
    task = asyncio.create_task(service.run_background())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await service.close()


def desk_for(service: CredentialService, *drivers: type[MfaPrompt]) -> MfaDesk:
    desk = MfaDesk(service, {}, drivers=drivers)
    service.attach_prompts(desk)
    return desk


def valid_code(emulator: EmbeddedEmulator) -> Answer:
    async def answer(request: PromptRequest) -> str | None:
        return await asyncio.to_thread(emulator.control.code, ALICE.name)

    return answer


def wrong_codes() -> Answer:
    """Codes the device shows at no step near now."""
    totp = pyotp.TOTP(ALICE.totp_seed)
    counter = iter(range(1, 1000))

    async def answer(request: PromptRequest) -> str | None:
        while True:
            code = f"{next(counter):06d}"
            if not totp.verify(code, valid_window=2):
                return code

    return answer


async def until_rounds_end() -> None:
    rounds = [t for t in asyncio.all_tasks() if t.get_name().startswith("mfa prompt")]
    await asyncio.gather(*rounds, return_exceptions=True)


def gst_calls(emulator: EmbeddedEmulator) -> int:
    return emulator.control.calls().get("GetSessionToken", 0)


async def test_mfa_process_style_driver_answers_within_the_first_request(
    service: CredentialService, emulator: EmbeddedEmulator, background: None
) -> None:
    """A driver that produces a code by itself serves the very first request."""
    script = Script()
    desk_for(service, script.driver("auto", valid_code(emulator)))
    creds = await service.credentials("readonly")
    assert creds.assumed_role_arn.endswith(":assumed-role/ReadOnly/alice")
    assert [name for name, _ in script.asked] == ["auto"]
    assert script.asked[0][1].reason is PromptReason.FIRST_LOGIN


async def test_prompts_for_one_device_coalesce_and_all_resume(
    service: CredentialService, emulator: EmbeddedEmulator, background: None
) -> None:
    """Two source profiles of one device: one prompt, one code, both served."""
    script = Script()
    desk_for(service, script.driver("auto", valid_code(emulator)))
    first, second = await asyncio.gather(
        service.credentials("readonly"), service.credentials("poweruser")
    )
    assert first.assumed_role_arn.endswith("/ReadOnly/alice")
    assert second.assumed_role_arn.endswith("/PowerUser/alice")
    assert len(script.asked) == 1
    assert gst_calls(emulator) == 1


async def test_a_person_reached_means_no_waiting(
    service: CredentialService, emulator: EmbeddedEmulator, background: None
) -> None:
    """A driver that reached a person (None): the request says NeedsMfa right away."""
    script = Script()

    async def reach(request: PromptRequest) -> str | None:
        return None

    desk_for(service, script.driver("person", reach))
    with pytest.raises(NeedsMfa, match="stsd login bastion"):
        await service.credentials("readonly")
    assert len(script.asked) == 1
    with pytest.raises(NeedsMfa):
        await service.credentials("readonly")
    assert len(script.asked) == 1, "the prompt is out: no second one"


async def test_a_failing_driver_falls_through_to_the_next(
    service: CredentialService,
    emulator: EmbeddedEmulator,
    background: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A driver that fails (or can't run) is skipped, said once; the next one asks."""
    caplog.set_level(logging.INFO)
    script = Script()

    async def broken(request: PromptRequest) -> str | None:
        raise PromptUnavailable("the command exited with status 1")

    async def never(request: PromptRequest) -> str | None:
        raise AssertionError("an unavailable driver was asked")

    desk_for(
        service,
        script.driver("broken", broken),
        script.driver("absent", never, why="no such thing here"),
        script.driver("auto", valid_code(emulator)),
    )
    await service.credentials("readonly")
    assert [name for name, _ in script.asked] == ["broken", "auto"]
    assert "MFA driver broken failed: the command exited with status 1" in caplog.text
    assert "MFA driver absent skipped: no such thing here" in caplog.text


async def test_a_code_is_never_sent_twice(
    service: CredentialService, emulator: EmbeddedEmulator
) -> None:
    """The same code again (page and terminal both) is refused before STS."""
    desk = desk_for(service)
    code = emulator.control.code(ALICE.name)
    await desk.submit("bastion", code)
    with pytest.raises(CodeRepeated, match="went to STS already"):
        await desk.submit("bastion", code)
    assert gst_calls(emulator) == 1


async def test_a_code_arriving_while_another_is_accepted_is_not_sent(
    service: CredentialService, emulator: EmbeddedEmulator
) -> None:
    """Two channels answer at once: one code goes to STS, both callers get the session."""
    desk = desk_for(service)
    first = emulator.control.code(ALICE.name)
    emulator.control.advance(30)
    second = emulator.control.code(ALICE.name)
    one, two = await asyncio.gather(desk.submit("bastion", first), desk.submit("bastion", second))
    assert one is two
    assert gst_calls(emulator) == 1


async def test_one_code_serves_every_source_of_the_device(
    service: CredentialService, emulator: EmbeddedEmulator
) -> None:
    """`stsd login bastion` also logs in bastion-b (same MFA device, same user)."""
    desk_for(service)
    await service.login("bastion", emulator.control.code(ALICE.name))
    creds = await service.credentials("poweruser")
    assert creds.assumed_role_arn.endswith("/PowerUser/alice")
    assert gst_calls(emulator) == 1


async def test_rejected_codes_reprompt_three_times_then_wait(
    service: CredentialService, emulator: EmbeddedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A driver's wrong code re-prompts 3 times; then the desk waits for the user, whose
    good code ends the waiting."""
    script = Script()
    desk = desk_for(service, script.driver("wrong", wrong_codes()))
    desk.announce(Prompt("bastion", PromptReason.FIRST_LOGIN, None))
    await until_rounds_end()
    reasons = [request.reason for _, request in script.asked]
    assert reasons == [PromptReason.FIRST_LOGIN] + [PromptReason.CODE_REJECTED] * 3
    assert gst_calls(emulator) == 4
    assert "4 codes were rejected in a row" in caplog.text

    desk.announce(Prompt("bastion", PromptReason.SESSION_EXPIRED, None))
    await until_rounds_end()
    assert len(script.asked) == 4, "waiting for the user: no new round"

    await desk.submit("bastion", emulator.control.code(ALICE.name))
    desk.announce(Prompt("bastion", PromptReason.SESSION_ENDING, None))
    await until_rounds_end()
    # A good code ended the waiting: a new round (1 + 3 re-prompts of a wrong driver).
    assert script.asked[4][1].reason is PromptReason.SESSION_ENDING
    assert len(script.asked) == 8


async def test_a_rejected_code_from_the_user_does_not_reprompt(
    service: CredentialService, emulator: EmbeddedEmulator
) -> None:
    """`stsd login` with a wrong code: the error goes back to the user, no new round."""
    script = Script()
    desk = desk_for(service, script.driver("auto", valid_code(emulator)))
    wrong = await wrong_codes()(_request())
    assert wrong is not None
    with pytest.raises(MfaCodeRejected):
        await desk.submit("bastion", wrong)
    await asyncio.sleep(0)
    await until_rounds_end()
    assert script.asked == []


async def test_a_code_from_elsewhere_stops_the_round(
    service: CredentialService, emulator: EmbeddedEmulator
) -> None:
    """The dialog still open is closed when the code comes through another channel."""
    script = Script()

    async def forever(request: PromptRequest) -> str | None:
        await asyncio.Event().wait()
        return None

    desk = desk_for(service, script.driver("dialog", forever))
    desk.announce(Prompt("bastion", PromptReason.FIRST_LOGIN, None))
    while not script.asked:
        await asyncio.sleep(0)
    await desk.submit("bastion", emulator.control.code(ALICE.name))
    await until_rounds_end()
    assert script.cancelled == ["dialog"]


def _request() -> PromptRequest:
    return PromptRequest("bastion", ALICE.mfa_serial, PromptReason.FIRST_LOGIN, None, None)


async def test_a_reload_rebuilds_the_driver_chains(
    service: CredentialService, emulator: EmbeddedEmulator, tmp_path: Path
) -> None:
    """config.toml reloaded with another driver order: the next round follows it."""
    script = Script()

    async def reach(request: PromptRequest) -> str | None:
        return None

    desk = desk_for(service, script.driver("mfa_process", reach), script.driver("terminal", reach))
    desk.announce(Prompt("bastion", PromptReason.FIRST_LOGIN, None))
    await until_rounds_end()
    files = load_aws_files(
        {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        }
    )
    settings = Settings(source_mfa_drivers={"bastion": ("terminal",)})
    service.reload(build_config(files, settings))
    desk.announce(Prompt("bastion", PromptReason.SESSION_EXPIRED, None))
    await until_rounds_end()
    assert [name for name, _ in script.asked] == ["mfa_process", "terminal"]


async def test_a_stored_totp_seed_answers_the_first_request(
    service: CredentialService, emulator: EmbeddedEmulator, background: None, tmp_path: Path
) -> None:
    """The registry builds the TOTP driver from the daemon's encrypted store: with a
    seed stored for `bastion`, the first request is served without `stsd login`; for
    `bastion-b`, which has none, the driver says so and is skipped."""
    vault = open_vault(tmp_path / "state", "file")
    vault.put_seed("bastion", TotpSeed(ALICE.totp_seed))
    desk = MfaDesk(service, {}, store=vault, drivers=[TotpPrompt])
    service.attach_prompts(desk)
    creds = await service.credentials("readonly")
    assert creds.assumed_role_arn.endswith("/ReadOnly/alice")
    other = TotpPrompt.create(DriverContext(service.config.sources["bastion-b"], {}, vault))
    assert other.unavailable_reason() == (
        "no TOTP seed for bastion-b in the encrypted store (opt-in: `stsd mfa totp add bastion-b`)"
    )
