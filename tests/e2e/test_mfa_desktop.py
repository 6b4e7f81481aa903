"""The desktop path end to end: a notification on a private D-Bus session, its action
opens the one-time MFA page (a stand-in xdg-open catches the URL), and headless
Chromium fills in the code. Nothing here touches the developer's own session bus or
browser profile: the bus comes from `dbus-run-session`, the browser is a fresh
headless Chromium with a throwaway profile.
"""

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import ALICE, fetch

from stsd.client.demo import demo_aws_files
from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.process import EmulatorProcess

CHROMIUM = "/usr/bin/chromium"
NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


def need(available: bool, what: str) -> None:
    """Skip where a tool is missing; in CI (which installs it), fail instead."""
    if not available:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is missing: scripts/setup should have installed it")
        pytest.skip(f"{what} is not installed")


# -- a private session bus with a notification service the test owns -----------------


@pytest.fixture
def session_bus() -> Iterator[str]:
    """A fresh D-Bus session bus (`dbus-run-session`) alive for the test; its address."""
    need(shutil.which("dbus-run-session") is not None, "dbus-run-session (Debian dbus)")
    keeper = subprocess.Popen(
        [
            "dbus-run-session",
            "--",
            "python3",
            "-c",
            "import os, sys; print(os.environ['DBUS_SESSION_BUS_ADDRESS'], flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert keeper.stdout is not None and keeper.stdin is not None
    address = keeper.stdout.readline().strip()
    assert address.startswith("unix:"), address
    yield address
    keeper.stdin.close()  # the bus ends with the command it runs
    keeper.wait(10)
    keeper.stdout.close()


class Notifications:
    """org.freedesktop.Notifications on the private bus: records, and clicks."""

    def __init__(self) -> None:
        self.shown: list[dict[str, Any]] = []
        self.closed: list[int] = []
        self._arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._bus: Any = None

    async def start(self, address: str) -> None:
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus

        self._bus = await MessageBus(bus_address=address).connect()

        def on_message(message: Message) -> Message | None:
            if message.message_type != MessageType.METHOD_CALL or message.interface != NAME:
                return None
            if message.member == "GetCapabilities":
                return Message.new_method_return(message, "as", [["actions", "body"]])
            if message.member == "GetServerInformation":
                return Message.new_method_return(
                    message, "ssss", ["test", "stsd-tests", "1", "1.2"]
                )
            if message.member == "Notify":
                app, _, icon, summary, body, actions, hints, timeout = message.body
                shown = {
                    "id": len(self.shown) + 1,
                    "app": app,
                    "summary": summary,
                    "body": body,
                    "actions": dict(zip(actions[::2], actions[1::2], strict=True)),
                    "urgency": hints["urgency"].value,
                    "timeout": timeout,
                }
                self.shown.append(shown)
                self._arrived.put_nowait(shown)
                return Message.new_method_return(message, "u", [shown["id"]])
            if message.member == "CloseNotification":
                self.closed.append(message.body[0])
                self._signal("NotificationClosed", "uu", [message.body[0], 3])
                return Message.new_method_return(message)
            return None

        self._bus.add_message_handler(on_message)
        await self._bus.request_name(NAME)

    async def next(self, timeout: float = 20) -> dict[str, Any]:
        return await asyncio.wait_for(self._arrived.get(), timeout)

    def click(self, notification_id: int, action: str = "default") -> None:
        self._signal("ActionInvoked", "us", [notification_id, action])

    def _signal(self, member: str, signature: str, body: list[Any]) -> None:
        from dbus_fast import Message

        self._bus.send(Message.new_signal(PATH, NAME, member, signature, body))

    def stop(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()


@pytest.fixture
async def notifications(session_bus: str) -> AsyncIterator[Notifications]:
    need(_importable("dbus_fast"), "dbus-fast")
    service = Notifications()
    await service.start(session_bus)
    yield service
    service.stop()


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# -- the daemon on that desktop ---------------------------------------------------------


@pytest.fixture
def opened(sandbox: Sandbox) -> Path:
    """Where the stand-in xdg-open writes the URLs it was asked to open."""
    return sandbox.root / "opened"


@pytest.fixture
def desktop(sandbox: Sandbox, session_bus: str, opened: Path) -> Sandbox:
    """The sandbox on the private bus, with a stand-in xdg-open first on PATH."""
    bin_dir = sandbox.root / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> {opened}\n', encoding="utf-8")
    opener.chmod(0o755)
    sandbox.dbus_address = session_bus
    sandbox.extra_env["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    return sandbox


async def start(sandbox: Sandbox) -> DaemonProcess:
    daemon = sandbox.start_daemon()
    await asyncio.to_thread(daemon.wait_ready)
    return daemon


async def ask(daemon: DaemonProcess, profile: str = "readonly") -> int:
    """An SDK's request (off the loop: the notification service must keep answering)."""
    reply = await asyncio.to_thread(fetch, daemon.url(profile), daemon.token)
    return reply.status


async def link_from_click(notifications: Notifications, opened: Path) -> str:
    """Wait for the notification, click it, and return the URL xdg-open was given."""
    shown = await notifications.next()
    notifications.click(shown["id"])
    for _ in range(400):
        if opened.exists() and opened.read_text(encoding="utf-8").strip():
            return opened.read_text(encoding="utf-8").split()[-1]
        await asyncio.sleep(0.05)
    raise AssertionError("xdg-open was never run")


# -- the browser ------------------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    need(Path(CHROMIUM).exists(), "chromium (Debian)")
    need(_importable("playwright"), "playwright")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()


async def fill_code(browser: Any, url: str, code: str) -> str:
    """Open the MFA page, fill the code as a person would, submit; the text shown."""
    page = await browser.new_page()
    response = await page.goto(url)
    assert response is not None and response.status == 200
    field = page.locator("#code")
    assert await field.get_attribute("inputmode") == "numeric"
    assert await field.get_attribute("autocomplete") == "one-time-code"
    assert await page.evaluate("document.activeElement && document.activeElement.id") == "code"
    await field.fill(code)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state()
    text: str = await page.locator("main").inner_text()
    await page.close()
    return text


# -- the tests --------------------------------------------------------------------------


async def test_notification_action_opens_the_page_and_the_code_logs_in(
    desktop: Sandbox,
    emulator: EmulatorProcess,
    notifications: Notifications,
    opened: Path,
    browser: Any,
) -> None:
    """No session: a notification names profile, device and why; its action opens the
    page; the code typed there starts the session, and the SDK is served."""
    daemon = await start(desktop)
    try:
        assert await ask(daemon) == 503
        url = await link_from_click(notifications, opened)
        shown = notifications.shown[0]
        assert shown["app"] == "stsd" and shown["summary"] == "stsd: MFA code for bastion"
        assert ALICE.mfa_serial in shown["body"] and "No MFA session yet" in shown["body"]
        assert "default" in shown["actions"] and shown["urgency"] == 2
        assert url.startswith(f"http://{daemon.address}/mfa/")
        code = await asyncio.to_thread(emulator.control.code, ALICE.name)
        assert "Accepted" in await fill_code(browser, url, code)
        assert await ask(daemon) == 200
        page = await browser.new_page()
        again = await page.goto(url)
        assert again is not None and again.status == 410
        assert "already used" in await page.locator("main").inner_text()
        await page.close()
        logs = daemon.logs()
    finally:
        await asyncio.to_thread(daemon.stop)
    assert code not in logs and url.rsplit("/", 1)[1] not in logs


async def test_a_failing_mfa_process_falls_through_to_the_notification(
    desktop: Sandbox, notifications: Notifications
) -> None:
    """mfa_process fails: the next driver, the desktop notification, asks instead."""
    config, credentials = demo_aws_files(DEMO_CONFIG)
    config = config.replace("[profile bastion]\n", "[profile bastion]\nmfa_process = exit 1\n")
    desktop.write_aws_files(config, credentials)
    daemon = await start(desktop)
    try:
        assert await ask(daemon) == 503
        shown = await notifications.next()
        assert shown["summary"] == "stsd: MFA code for bastion"
        logs = daemon.logs()
    finally:
        await asyncio.to_thread(daemon.stop)
    assert "MFA driver mfa_process failed" in logs


async def test_a_code_from_the_terminal_closes_the_notification(
    desktop: Sandbox, emulator: EmulatorProcess, notifications: Notifications
) -> None:
    """Answered with `stsd login`, the notification still up is withdrawn."""
    daemon = await start(desktop)
    try:
        assert await ask(daemon) == 503
        shown = await notifications.next()
        code = await asyncio.to_thread(emulator.control.code, ALICE.name)
        result = await asyncio.to_thread(desktop.stsd, ["login", "--code", code])
        assert result.returncode == 0, result.stderr
        for _ in range(200):
            if notifications.closed:
                break
            await asyncio.sleep(0.05)
        assert notifications.closed == [shown["id"]]
    finally:
        await asyncio.to_thread(daemon.stop)


async def test_an_expired_link_is_refused(
    desktop: Sandbox,
    notifications: Notifications,
    opened: Path,
    browser: Any,
) -> None:
    """A link past its lifetime (1 s here; 10 min by default) shows "expired"."""
    desktop.write_settings("[mfa]\nlink_lifetime_seconds = 1\n")
    daemon = await start(desktop)
    try:
        assert await ask(daemon) == 503
        url = await link_from_click(notifications, opened)
        await asyncio.sleep(1.2)
        page = await browser.new_page()
        response = await page.goto(url)
        assert response is not None and response.status == 410
        assert "expired" in await page.locator("main").inner_text()
        await page.close()
    finally:
        await asyncio.to_thread(daemon.stop)


async def test_a_cross_origin_post_is_refused(
    desktop: Sandbox,
    emulator: EmulatorProcess,
    notifications: Notifications,
    opened: Path,
    browser: Any,
) -> None:
    """Another site's page posting to the link, even with a real form token, is refused
    by the browser's own Origin; the link still works from stsd's page."""
    daemon = await start(desktop)
    try:
        assert await ask(daemon) == 503
        url = await link_from_click(notifications, opened)
        page = await browser.new_page()
        await page.goto(url)
        token = await page.locator("input[name=token]").get_attribute("value")
        await page.close()
        evil = await browser.new_page()
        attack = (
            f'<form id="f" method="post" action="{url}">'
            f'<input name="token" value="{token}"><input name="code" value="123456"></form>'
            "<script>document.getElementById('f').submit()</script>"
        )
        await evil.route(
            "http://attacker.test/",
            lambda route: route.fulfill(body=attack, content_type="text/html"),
        )
        async with evil.expect_navigation(url=url) as navigation:
            await evil.goto("http://attacker.test/")
        response = await navigation.value
        assert response is not None and response.status == 403
        assert "Refused" in await evil.locator("main").inner_text()
        await evil.close()
        code = await asyncio.to_thread(emulator.control.code, ALICE.name)
        assert "Accepted" in await fill_code(browser, url, code)
        calls = await asyncio.to_thread(emulator.control.calls)
        assert calls["GetSessionToken"] == 1
    finally:
        await asyncio.to_thread(daemon.stop)
