"""The rules of asking for MFA codes, per device, on an injected clock."""

from datetime import UTC, datetime, timedelta

from stsd.daemon.mfa_rules import MAX_REPROMPTS, MfaRules

DEVICE = "arn:aws:iam::111111111111:mfa/alice"
OTHER = "arn:aws:iam::111111111111:mfa/bob"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def test_prompts_for_one_device_join_the_round_that_runs() -> None:
    """While a round asks for a device, more prompts for it start nothing new."""
    rules = MfaRules(FakeClock())
    assert rules.want(DEVICE)
    assert not rules.want(DEVICE)
    assert rules.want(OTHER), "another device has its own round"
    rules.round_ended(DEVICE)
    assert rules.want(DEVICE), "after the round, a new prompt starts a new one"


def test_a_code_goes_to_sts_once_per_device() -> None:
    """The same code twice for one device is refused; another device may use it."""
    rules = MfaRules(FakeClock())
    assert rules.first_use(DEVICE, "123456")
    assert not rules.first_use(DEVICE, "123456")
    assert rules.first_use(DEVICE, "654321")
    assert rules.first_use(OTHER, "123456")


def test_codes_are_forgotten_after_code_memory() -> None:
    """Codes live 90 s at STS; the memory of them is kept a while longer, then dropped."""
    clock = FakeClock()
    rules = MfaRules(clock, code_memory=timedelta(minutes=5))
    assert rules.first_use(DEVICE, "123456")
    clock.advance(minutes=4)
    assert not rules.first_use(DEVICE, "123456")
    clock.advance(minutes=6)
    assert rules.first_use(DEVICE, "123456")


def test_rejections_reprompt_three_times_then_wait_for_the_user() -> None:
    """Rejected codes re-prompt at most 3 times in a row; then no round starts."""
    rules = MfaRules(FakeClock())
    assert MAX_REPROMPTS == 3
    for _ in range(3):
        rules.rejected(DEVICE)
        assert rules.may_reprompt(DEVICE)
    rules.rejected(DEVICE)
    assert not rules.may_reprompt(DEVICE)
    assert rules.waiting_for_user(DEVICE)
    assert not rules.want(DEVICE), "a new prompt waits for the user too"
    assert rules.want(OTHER)


def test_an_accepted_code_resets_the_count() -> None:
    """After a code STS accepts, rounds start again as usual."""
    rules = MfaRules(FakeClock())
    for _ in range(4):
        rules.rejected(DEVICE)
    rules.accepted(DEVICE)
    assert rules.rejections(DEVICE) == 0
    assert rules.want(DEVICE)
