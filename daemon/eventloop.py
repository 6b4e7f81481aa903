"""The event loop under `stsd serve`: asyncio's own, or uvloop on request.

uvloop (`pip install 'stsd[uvloop]'`, then `stsd serve --event-loop uvloop`) takes about
a tenth off the CPU time of each request and adds a few percent of throughput
(docs/benchmarks.md). It is opt-in: the default stays the loop every install has and
the test suite runs on, and nothing in stsd depends on which one runs.
"""

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from stsd.daemon.errors import ConfigError

__all__ = ["check_loop", "run_on"]

T = TypeVar("T")


def check_loop(choice: str) -> None:
    """Raises ConfigError when `choice` can't run here (uvloop not installed)."""
    if choice == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ConfigError(
            "--event-loop uvloop: uvloop is not installed (pip install 'stsd[uvloop]')"
        )


def run_on(choice: str, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `main()` to completion on a new event loop of kind `choice`."""
    if choice == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main())
    return asyncio.run(main())
