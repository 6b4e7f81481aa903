"""Start a child process so that a cancellation can't leave it running or wait on it.

asyncio waits for a child to exit when the coroutine starting it is cancelled
mid-start: a prompt cancelled then (a code came another way) would hang until the
user's dialog or command ended. Starting under a shield and killing on cancel avoids it.
"""

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable

__all__ = ["kill_group", "kill_one", "start"]


async def start(
    spawn: Callable[[], Awaitable[asyncio.subprocess.Process]],
    kill: Callable[[asyncio.subprocess.Process], None],
) -> asyncio.subprocess.Process:
    """The started process; if cancelled meanwhile, it is killed and reaped first."""
    starting = asyncio.ensure_future(spawn())
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        process = await starting
        kill(process)
        await process.wait()
        raise


def kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill a child started with `start_new_session=True`, and everything it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def kill_one(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
