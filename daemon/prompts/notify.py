"""The desktop: an input dialog where one exists, else a notification.

- macOS: osascript shows a notification and a dialog with hidden answer.
- Linux with a display and zenity or kdialog: a dialog with hidden input.
- Linux with a D-Bus session bus: a freedesktop notification whose action opens the
  one-time MFA web page (xdg-open); the code comes back through the page.

The text names the source profile, the MFA device and why a code is wanted now.
"""

import asyncio
import logging
import os
import shutil
from collections.abc import Mapping
from typing import ClassVar

from stsd.daemon.broker import PromptReason
from stsd.daemon.errors import PromptUnavailable
from stsd.daemon.opener import open_url_argv
from stsd.daemon.prompts._dbus import (
    Notification,
    dbus_available,
    session_bus_address,
    show_and_wait,
)
from stsd.daemon.prompts._dialog import find_dialog, run_dialog
from stsd.daemon.prompts._spawn import kill_one, start
from stsd.daemon.prompts.base import DriverContext, PromptRequest, describe

__all__ = ["DesktopPrompt"]

log = logging.getLogger(__name__)

_OPENER_TIMEOUT_SECONDS = 10.0
# Keep a reference to openers still running (a browser started by xdg-open), so they
# are reaped when they exit instead of being collected mid-flight.
_openers: set["asyncio.Task[int]"] = set()


class DesktopPrompt:
    """A dialog or a notification on the user's desktop."""

    name: ClassVar[str] = "notify"

    def __init__(self, env: Mapping[str, str], platform: str) -> None:
        self._env = env
        self._platform = platform

    @classmethod
    def create(cls, context: DriverContext) -> "DesktopPrompt":
        return cls(context.env, context.platform)

    def unavailable_reason(self) -> str | None:
        if find_dialog(self._env, self._platform) is not None:
            return None
        if self._platform == "darwin":
            return "osascript not found"
        if session_bus_address(self._env) is None:
            return "no D-Bus session bus, and no display with zenity or kdialog"
        if not dbus_available():
            return "the dbus-fast package is not installed"
        return None

    async def prompt(self, request: PromptRequest) -> str | None:
        title, text = describe(request)
        dialog = find_dialog(self._env, self._platform)
        if dialog is not None:
            return await run_dialog(dialog.argv(title, text), self._env)
        address = session_bus_address(self._env)
        if address is None:
            raise PromptUnavailable("no D-Bus session bus")
        link = request.mfa_page_url
        if link is None:
            text = f"{text} Run `stsd login {request.source}`."
        actions = (("default", "Enter code"), ("enter", "Enter code")) if link else ()
        urgency = 1 if request.reason is PromptReason.SESSION_ENDING else 2
        action = await show_and_wait(address, Notification(title, text, actions, urgency, link))
        if action is not None and link is not None:
            await self._open(link)
        return None

    async def _open(self, link: str) -> None:
        # The platform's opener, or $STSD_OPEN_URL (the systemd unit's way out of its
        # sandbox); the URL is one argument, no shell.
        program, *args = open_url_argv(link, self._env, self._platform)
        opener = shutil.which(program, path=self._env.get("PATH") or os.defpath)
        if opener is None:
            log.warning("%s not found: can't open the MFA page; use `stsd login`", program)
            return
        process = await start(
            lambda: asyncio.create_subprocess_exec(
                opener,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=dict(self._env),
            ),
            kill_one,
        )
        # Some openers stay with the browser they started: let it be, reap it later.
        waiting = asyncio.create_task(process.wait())
        _openers.add(waiting)
        waiting.add_done_callback(_openers.discard)
        done, _ = await asyncio.wait({waiting}, timeout=_OPENER_TIMEOUT_SECONDS)
        if done and process.returncode:
            log.warning(
                "%s exited with status %s: open the MFA page by hand",
                program,
                process.returncode,
            )
