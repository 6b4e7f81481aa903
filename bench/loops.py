"""What uvloop would bring: the bare aiohttp server on uvloop and on asyncio's loop.

stsd runs on asyncio's own loop. uvloop is adopted only if it measures better; the
bare server is the upper bound of what it can do for an aiohttp server serving these
bytes, in the same run, alternating rounds. (stsd itself on uvloop, measured once with
a temporary switch, is in docs/benchmarks.md.)
"""

import contextlib
import importlib.util

from bench.load import wrk_path
from bench.model import Figure, Row, missing
from bench.rig import PROFILE, Rig
from bench.rounds import Target, alternate
from bench.servers import bare_server
from bench.stats import median, paired_ratio

__all__ = ["loop_rows"]

SECTION = "event loop"


def loop_rows(rig: Rig, rounds: int, seconds: float) -> list[Row]:
    if importlib.util.find_spec("uvloop") is None:
        return [missing(SECTION, "uvloop vs asyncio", "needs uvloop (pip install '.[bench]')")]
    wrk_path()
    status, body = rig.fetch()
    if status != 200:
        raise RuntimeError(f"stsd answered {status}, not credentials")
    token = rig.daemon.token
    with contextlib.ExitStack() as stack:
        targets = {}
        for loop in ("uvloop", "asyncio"):
            bare = stack.enter_context(bare_server(body, token, rig.cores.server, loop))
            targets[loop] = Target(bare.url(PROFILE), token, bare.pid)
        measured = alternate(targets, rounds, seconds, 50, rig.cores.load)
    uv, aio = measured["uvloop"], measured["asyncio"]
    rows = []
    for label, unit, ours, theirs in (
        ("throughput", "req/s", [r.rate for r in uv.results], [r.rate for r in aio.results]),
        ("server CPU time per request", "µs", uv.cpu_us, aio.cpu_us),
        ("latency p99", "ms", [r.p99_ms for r in uv.results], [r.p99_ms for r in aio.results]),
    ):
        rows.append(
            Row(
                SECTION,
                f"bare server on uvloop: {label}",
                Figure(median(ours), unit, tuple(ours)),
                "bare server on asyncio",
                Figure(median(theirs), unit, tuple(theirs)),
                paired_ratio(ours, theirs),
                "uvloop/asyncio",
            )
        )
    return rows
