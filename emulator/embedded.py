"""Run the emulator inside this process, on its own thread and event loop.

For tests that call blocking clients (boto3) directly: the emulator's loop runs on a
separate thread, so a blocking call on the test's thread cannot stall it. Same surface
as ``EmulatorProcess``: ``url``, ``control``, ``config``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from aiohttp import web

from stsd.emulator.config import DEMO_CONFIG, EmulatorConfig
from stsd.emulator.control import EmulatorControl
from stsd.emulator.server import create_app
from stsd.emulator.state import STATE
from stsd.emulator.sts import TemporaryCredentials

__all__ = ["EmbeddedEmulator"]

START_TIMEOUT = 10.0


class EmbeddedEmulator:
    """Context manager: the emulator on ``127.0.0.1`` and a free port, in a thread."""

    def __init__(
        self,
        config: EmulatorConfig = DEMO_CONFIG,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.url)

    def issued(self) -> list[TemporaryCredentials]:
        """Every credential set the emulator issued, secrets included (in-process only)."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        return self._runner.app[STATE].sts.all_issued()

    def __enter__(self) -> EmbeddedEmulator:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="stsd-emulator", daemon=True
        )
        self._thread.start()
        try:
            port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(START_TIMEOUT)
        except BaseException:
            self._stop()
            raise
        self._url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    async def _start(self) -> int:
        self._runner = web.AppRunner(create_app(self.config, self._clock), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        return int(address[1])

    def _stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(START_TIMEOUT)
            self._runner = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        self._loop = self._thread = None
        self._url = None
