"""The MFA web page over real HTTP (aiohttp's test server), with the real desk,
service and STS client against the emulator."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from mfa_support import ALICE, sts_emulator, two_sources_one_device
from pytest_aiohttp import AiohttpClient

from stsd.daemon.broker import PromptReason
from stsd.daemon.mfa import MfaDesk
from stsd.daemon.mfa_page import add_mfa_page
from stsd.daemon.server import create_credentials_app, set_own_hosts
from stsd.daemon.service import CredentialService
from stsd.daemon.tokens import TokenRegistry
from stsd.emulator.embedded import EmbeddedEmulator


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Page:
    """The page's client side: a browser's requests, with its Origin."""

    def __init__(self, client: TestClient[web.Request, web.Application], desk: MfaDesk) -> None:
        self.client = client
        self.desk = desk
        self.origin = f"http://127.0.0.1:{client.server.port}"

    def new_link(self) -> str:
        link = self.desk.issue_link(ALICE.mfa_serial, "bastion", PromptReason.FIRST_LOGIN, None)
        assert link is not None
        return f"/mfa/{link.id}"

    async def form(self, path: str) -> tuple[str, str]:
        """GET the page; its form's action and token."""
        response = await self.client.get(path)
        assert response.status == 200, await response.text()
        return _form(await response.text())

    async def post(
        self, action: str, token: str, code: str, origin: str | None = "own"
    ) -> tuple[int, str]:
        headers = {} if origin is None else {"Origin": self.origin if origin == "own" else origin}
        response = await self.client.post(
            action, data={"token": token, "code": code}, headers=headers
        )
        return response.status, await response.text()


def _form(html: str) -> tuple[str, str]:
    action = re.search(r'<form method="post" action="([^"]+)"', html)
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert action and token, html
    return action.group(1), token.group(1)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedEmulator]:
    with sts_emulator(monkeypatch) as running:
        yield running


@pytest.fixture
def service(tmp_path: Path, emulator: EmbeddedEmulator) -> CredentialService:
    return two_sources_one_device(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def page(service: CredentialService, clock: FakeClock, aiohttp_client: AiohttpClient) -> Page:
    desk = MfaDesk(service, {}, clock=clock, drivers=())
    service.attach_prompts(desk)
    app = create_credentials_app(service, TokenRegistry("token", lease_seconds=15))
    add_mfa_page(app, desk)
    client = await aiohttp_client(app)
    port = client.server.port
    assert port is not None
    set_own_hosts(app, "127.0.0.1", port)
    desk.page_base = f"http://127.0.0.1:{port}"
    return Page(client, desk)


async def test_the_form_is_accessible_and_fill_friendly(page: Page) -> None:
    """A labelled numeric one-time-code field with focus, naming profile, device, why."""
    response = await page.client.get(page.new_link())
    html = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    field = re.search(r'<input id="code"[^>]*>', html)
    assert field is not None
    for attribute in ('inputmode="numeric"', 'autocomplete="one-time-code"', "autofocus"):
        assert attribute in field.group(0)
    assert '<label for="code">' in html and '<html lang="en">' in html
    assert "bastion" in html and ALICE.mfa_serial in html and "No MFA session yet" in html


async def test_every_answer_forbids_framing_scripts_and_cors(page: Page) -> None:
    """X-Frame-Options DENY, a CSP without script, no referrer, no CORS: form, refusals
    and a cross-origin preflight alike."""
    link = page.new_link()
    answers = [
        await page.client.get(link),
        await page.client.post(link, data={"code": "123456"}),
        await page.client.options(
            link, headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"}
        ),
    ]
    for response in answers:
        assert not any(name.lower().startswith("access-control-") for name in response.headers)
    for response in answers[:2]:
        csp = response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"


async def test_a_good_code_is_accepted_and_the_session_starts(
    page: Page, service: CredentialService, emulator: EmbeddedEmulator
) -> None:
    """The right code through the form: "Accepted", and credentials are served."""
    action, token = await page.form(page.new_link())
    status, html = await page.post(action, token, emulator.control.code(ALICE.name))
    assert status == 200 and "Accepted" in html
    creds = await service.credentials("readonly")
    assert creds.assumed_role_arn.endswith("/ReadOnly/alice")


async def test_a_used_link_is_refused(page: Page, emulator: EmbeddedEmulator) -> None:
    """A link takes one code: opening or posting it again says it was used."""
    link = page.new_link()
    action, token = await page.form(link)
    _, token_two = await page.form(link)
    await page.post(action, token, emulator.control.code(ALICE.name))
    again = await page.client.get(link)
    assert again.status == 410 and "already used" in await again.text()
    status, html = await page.post(action, token_two, "123456")
    assert status == 410 and "already used" in html
    assert emulator.control.calls().get("GetSessionToken") == 1


async def test_an_expired_link_is_refused(
    page: Page, clock: FakeClock, emulator: EmbeddedEmulator
) -> None:
    """Ten minutes after it was issued, the link is dead, its open forms too."""
    link = page.new_link()
    action, token = await page.form(link)
    clock.now += timedelta(minutes=10)
    response = await page.client.get(link)
    assert response.status == 410 and "expired" in await response.text()
    status, _ = await page.post(action, token, emulator.control.code(ALICE.name))
    assert status == 410
    assert emulator.control.calls()["GetSessionToken"] == 0


@pytest.mark.parametrize("origin", [None, "http://evil.test", "null", "http://localhost:1"])
async def test_a_post_from_another_origin_is_refused(
    page: Page, emulator: EmbeddedEmulator, origin: str | None
) -> None:
    """Only stsd's own page may post a code; the link stays usable."""
    link = page.new_link()
    action, token = await page.form(link)
    status, html = await page.post(action, token, "123456", origin=origin)
    assert status == 403 and "Refused" in html
    status, html = await page.post(action, token, emulator.control.code(ALICE.name))
    assert status == 200 and "Accepted" in html


async def test_a_cross_site_fetch_is_refused_even_with_our_origin(page: Page) -> None:
    """Sec-Fetch-Site says what the browser knows: cross-site is refused."""
    action, token = await page.form(page.new_link())
    response = await page.client.post(
        action,
        data={"token": token, "code": "123456"},
        headers={"Origin": page.origin, "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status == 403


async def test_a_foreign_host_is_refused(page: Page) -> None:
    """DNS rebinding: a page of evil.test resolving to 127.0.0.1 gets nothing."""
    response = await page.client.get(page.new_link(), headers={"Host": "evil.test:80"})
    assert response.status == 403


async def test_a_forged_or_missing_token_is_refused(page: Page, emulator: EmbeddedEmulator) -> None:
    """A POST needs a token from a GET of this link."""
    link = page.new_link()
    action, _ = await page.form(link)
    other_action, other_token = await page.form(page.new_link())
    status, _ = await page.post(action, "forged", "123456")
    assert status == 403
    status, _ = await page.post(action, other_token, "123456")
    assert status == 403
    no_token = await page.client.post(action, data={"code": "1"}, headers={"Origin": page.origin})
    assert no_token.status == 403
    assert emulator.control.calls()["GetSessionToken"] == 0


async def test_not_a_code_asks_again_without_using_the_link(
    page: Page, emulator: EmbeddedEmulator
) -> None:
    """Five digits: the form again with the problem said; nothing went to STS."""
    action, token = await page.form(page.new_link())
    status, html = await page.post(action, token, "12345")
    assert status == 400 and "6 digits" in html and 'role="alert"' in html
    again, fresh = _form(html)
    assert again == action
    code = emulator.control.code(ALICE.name)
    status, html = await page.post(action, fresh, f" {code[:3]} {code[3:]} ")  # as pasted
    assert status == 200 and "Accepted" in html


async def test_a_rejected_code_offers_a_fresh_form(page: Page, emulator: EmbeddedEmulator) -> None:
    """Rejected: the page says so and carries a new one-time form to try again."""
    action, token = await page.form(page.new_link())
    status, html = await page.post(action, token, "000000")
    assert status == 200 and "Rejected" in html
    retry_action, retry_token = _form(html)
    assert retry_action != action
    status, html = await page.post(retry_action, retry_token, emulator.control.code(ALICE.name))
    assert "Accepted" in html


async def test_a_link_settled_another_way_sends_nothing(
    page: Page, service: CredentialService, emulator: EmbeddedEmulator
) -> None:
    """After `stsd login`, an open link says there is nothing to do, and sends nothing."""
    action, token = await page.form(page.new_link())
    await service.login("bastion", emulator.control.code(ALICE.name))
    status, html = await page.post(action, token, "123456")
    assert status == 410 and "another way" in html
    assert emulator.control.calls().get("GetSessionToken") == 1
