"""One-time links to the MFA page: random, single use, 10 minutes, form tokens."""

from datetime import UTC, datetime, timedelta

from stsd.daemon.broker import PromptReason
from stsd.daemon.mfa_links import LINK_LIFETIME, LinkState, MfaLinks

DEVICE = "arn:aws:iam::111111111111:mfa/alice"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_link_is_random_and_taken_once() -> None:
    """Each link has its own unguessable id; a POST with its token takes it, once."""
    links = MfaLinks(FakeClock())
    first = links.issue(DEVICE, "bastion", PromptReason.FIRST_LOGIN, None)
    second = links.issue(DEVICE, "bastion", PromptReason.FIRST_LOGIN, None)
    assert first.id != second.id and len(first.id) >= 22  # 128 bits, base64
    token = links.form_token(first.id)
    assert token is not None
    assert links.take(first.id, token) == (LinkState.OPEN, first)
    assert links.take(first.id, token)[0] is LinkState.USED
    assert links.look(first.id)[0] is LinkState.USED
    assert links.form_token(first.id) is None


def test_a_link_expires_after_ten_minutes_by_the_wall_clock() -> None:
    """Open until 10 min after it was issued; then expired, GET and POST alike."""
    clock = FakeClock()
    links = MfaLinks(clock)
    assert timedelta(minutes=10) == LINK_LIFETIME
    link = links.issue(DEVICE, "bastion", PromptReason.SESSION_ENDING, None)
    token = links.form_token(link.id)
    assert token is not None
    clock.now += timedelta(minutes=9, seconds=59)
    assert links.look(link.id)[0] is LinkState.OPEN
    clock.now += timedelta(seconds=1)
    assert links.look(link.id)[0] is LinkState.EXPIRED
    assert links.take(link.id, token)[0] is LinkState.EXPIRED


def test_a_post_needs_a_token_from_a_get_of_the_same_link() -> None:
    """A made-up token, or another link's, is refused and leaves the link open."""
    links = MfaLinks(FakeClock())
    link = links.issue(DEVICE, "bastion", PromptReason.FIRST_LOGIN, None)
    other = links.issue(DEVICE, "bastion", PromptReason.FIRST_LOGIN, None)
    other_token = links.form_token(other.id)
    assert other_token is not None
    assert links.take(link.id, "made-up")[0] is LinkState.BAD_TOKEN
    assert links.take(link.id, other_token)[0] is LinkState.BAD_TOKEN
    assert links.look(link.id)[0] is LinkState.OPEN
    assert links.take("no-such-link", other_token)[0] is LinkState.UNKNOWN


def test_a_code_accepted_another_way_settles_the_devices_links() -> None:
    """Open links of the device say there is nothing left to do; used ones stay used."""
    links = MfaLinks(FakeClock())
    open_link = links.issue(DEVICE, "bastion", PromptReason.FIRST_LOGIN, None)
    used = links.issue(DEVICE, "bastion", PromptReason.FIRST_LOGIN, None)
    token = links.form_token(used.id)
    assert token is not None
    links.take(used.id, token)
    elsewhere = links.issue(
        "arn:aws:iam::111111111111:mfa/bob", "b", PromptReason.FIRST_LOGIN, None
    )
    links.settle(DEVICE)
    assert links.look(open_link.id)[0] is LinkState.SETTLED
    assert links.look(used.id)[0] is LinkState.USED
    assert links.look(elsewhere.id)[0] is LinkState.OPEN


def test_memory_is_bounded() -> None:
    """A flood of prompts can't grow the link table without bound; the oldest go."""
    links = MfaLinks(FakeClock(), max_links=4)
    issued = [links.issue(DEVICE, "bastion", PromptReason.FIRST_LOGIN, None) for _ in range(6)]
    assert links.look(issued[0].id)[0] is LinkState.UNKNOWN
    assert links.look(issued[-1].id)[0] is LinkState.OPEN
