"""The TOTP driver: seeds parsed strictly, codes from pyotp, never one code twice."""

import asyncio
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from stsd.daemon.broker import PromptReason
from stsd.daemon.errors import PromptUnavailable
from stsd.daemon.prompts import PromptRequest
from stsd.daemon.prompts.totp import SeedError, TotpPrompt, parse_seed
from stsd.daemon.vault import TotpSeed

SEED = "JBSWY3DPEHPK3PXPALICEEMULATOR234"


def request(source: str = "bastion") -> PromptRequest:
    return PromptRequest(source, "arn:aws:iam::1:mfa/a", PromptReason.FIRST_LOGIN, None, None)


@pytest.mark.parametrize(
    "text",
    [
        SEED,
        f"  {SEED.lower()}\n",
        "JBSW Y3DP EHPK 3PXP ALIC EEMU LATO R234",
        f"otpauth://totp/Amazon%20Web%20Services:alice@111111111111?secret={SEED}&issuer=Amazon",
        f"otpauth://totp/x?secret={SEED}&digits=6&period=30&algorithm=SHA1",
    ],
)
def test_seeds_and_uris_that_parse(text: str) -> None:
    assert parse_seed(text) == TotpSeed(SEED)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no seed given"),
        ("not base32 at all!", "not base32"),
        ("JBSWY3DP", "too short"),
        (f"otpauth://hotp/x?secret={SEED}&counter=1", "HOTP"),
        (f"otpauth://totp/x?secret={SEED}&digits=8", "6 digits"),
        (f"otpauth://totp/x?secret={SEED}&algorithm=SHA256", "SHA1"),
        ("otpauth://totp/x?issuer=none", "no seed given"),
    ],
)
def test_seeds_that_are_refused_without_quoting_them(text: str, problem: str) -> None:
    with pytest.raises(SeedError, match=problem) as raised:
        parse_seed(text)
    assert SEED not in str(raised.value)


class SteppingClock:
    """A clock that `sleep` moves forward: waiting costs no real time."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 6, 8, 0, 10, tzinfo=UTC)
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


async def test_codes_are_pyotp_codes_and_never_repeat() -> None:
    """The second code in one 30 s step waits for the next step (STS rejects reuse)."""
    clock = SteppingClock()
    driver = TotpPrompt(lambda: {"bastion": TotpSeed(SEED)}, clock, clock.sleep)
    first = await driver.prompt(request())
    assert first == pyotp.TOTP(SEED).at(clock.now)
    second = await driver.prompt(request())
    assert clock.slept == [20.0]  # 08:00:10 -> 08:00:30
    assert second == pyotp.TOTP(SEED).at(clock.now) and second != first


async def test_concurrent_prompts_get_different_steps() -> None:
    clock = SteppingClock()
    driver = TotpPrompt(lambda: {"bastion": TotpSeed(SEED)}, clock, clock.sleep)
    codes = await asyncio.gather(driver.prompt(request()), driver.prompt(request()))
    assert len(set(codes)) == 2


async def test_no_seed_no_code() -> None:
    """No seed: the driver says so, and asked anyway it fails (None would mean it had
    reached the user, and the desk would stop asking)."""
    driver = TotpPrompt(lambda: {}, SteppingClock())
    assert driver.unavailable_reason() is not None
    with pytest.raises(PromptUnavailable, match="no TOTP seed for other"):
        await driver.prompt(request("other"))


async def test_built_for_one_source_it_needs_that_sources_seed() -> None:
    """Built per source by the registry: another source's seed doesn't make it available."""
    seed = TotpSeed("JBSWY3DPEHPK3PXPALICEEMULATOR234")
    driver = TotpPrompt(lambda: {"bastion": seed}, SteppingClock(), source="other")
    why = driver.unavailable_reason()
    assert why is not None and "stsd mfa totp add other" in why
    assert (
        TotpPrompt(lambda: {"other": seed}, SteppingClock(), source="other").unavailable_reason()
        is None
    )
