"""Every MFA driver in `prompts.DRIVERS` keeps the same promises (the seam's contract)."""

import asyncio
import logging
import re

import pytest

from stsd.daemon.broker import PromptReason
from stsd.daemon.errors import ConfigError, PromptUnavailable
from stsd.daemon.model import Credentials, SourceProfile
from stsd.daemon.prompts import (
    DRIVERS,
    DriverContext,
    MfaPrompt,
    PromptRequest,
    check_names,
    driver_names,
    resolve,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SOURCE = SourceProfile(
    name="bastion",
    keys=Credentials(access_key_id="AKIAEXAMPLE", secret_access_key=SECRET),
    mfa_serial="arn:aws:iam::111111111111:mfa/alice",
    region="eu-west-1",
    keys_origin="credentials",
)
REQUEST = PromptRequest(
    source="bastion",
    mfa_serial=SOURCE.mfa_serial,
    reason=PromptReason.FIRST_LOGIN,
    session_ends=None,
    mfa_page_url=None,
)
# Nothing to reach: no PATH, no display, no D-Bus session bus, no store.
BARE = DriverContext(source=SOURCE, env={}, store=None, platform="linux")


@pytest.fixture(params=DRIVERS, ids=lambda driver: driver.name)
def driver_class(request: pytest.FixtureRequest) -> type[MfaPrompt]:
    driver: type[MfaPrompt] = request.param
    return driver


def test_names_are_unique_config_words() -> None:
    """config.toml names drivers: each name is a distinct lower-case word."""
    names = driver_names()
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z_]*", name) for name in names)
    assert names == ["mfa_process", "totp", "notify", "terminal"], "DESIGN's default order"


def test_an_unknown_name_lists_the_available_drivers() -> None:
    """A typo in config.toml gets an error naming every driver there is."""
    with pytest.raises(ConfigError) as caught:
        check_names(["mfa_process", "yubikey"], "sources.bastion.mfa_drivers")
    message = caught.value.message
    assert "'yubikey'" in message and "sources.bastion.mfa_drivers" in message
    for name in driver_names():
        assert name in message


def test_resolve_keeps_the_configured_order() -> None:
    """The chain follows the configured names, in their order; None means all."""
    chain = resolve(["terminal", "mfa_process"], BARE)
    assert [driver.name for driver in chain] == ["terminal", "mfa_process"]
    assert [driver.name for driver in resolve(None, BARE)] == driver_names()


def test_create_builds_the_named_driver(driver_class: type[MfaPrompt]) -> None:
    """`create` takes the context and returns a driver of that name."""
    driver = driver_class.create(BARE)
    assert driver.name == driver_class.name


def test_says_why_it_cannot_run_in_words(driver_class: type[MfaPrompt]) -> None:
    """With nothing to reach, a driver either can run anyway or says why, in words."""
    why = driver_class.create(BARE).unavailable_reason()
    assert why is None or (len(why) > 10 and SECRET not in why)


async def test_asked_anyway_it_fails_cleanly_or_reaches_the_user(
    driver_class: type[MfaPrompt], caplog: pytest.LogCaptureFixture
) -> None:
    """Asked where it can't run, a driver raises PromptUnavailable; one that can run
    returns None or a 6-digit code. Never another exception, never a secret in logs."""
    caplog.set_level(logging.DEBUG)
    driver = driver_class.create(BARE)
    unavailable = driver.unavailable_reason() is not None
    try:
        answer = await asyncio.wait_for(driver.prompt(REQUEST), 10)
    except PromptUnavailable as error:
        assert unavailable, "it said it could run"
        assert SECRET not in error.message
    else:
        assert not unavailable, "None would mean it reached the user; it can't run here"
        assert answer is None or re.fullmatch(r"[0-9]{6}", answer)
    assert SECRET not in caplog.text


def test_keeps_the_context_secrets_out_of_its_repr(driver_class: type[MfaPrompt]) -> None:
    """A driver printed in a log or a traceback shows no key."""
    context = DriverContext(source=SOURCE, env={"AWS_SECRET_ACCESS_KEY": SECRET}, store=None)
    assert SECRET not in repr(driver_class.create(context))
    assert SECRET not in repr(context)
