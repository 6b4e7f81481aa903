"""uvloop or asyncio's own loop: the same daemon on each, in the same run.

`stsd serve --event-loop uvloop` is opt-in (the `uvloop` extra). This section keeps the
evidence current: a second daemon, logged in to its own emulator, runs on uvloop beside
the rig's daemon on asyncio; both share the server core and wrk alternates between
them. Ratios above 1 (throughput) and below 1 (CPU, latency) favour uvloop.
"""

import importlib.util

from bench.load import wrk_path
from bench.model import Figure, Row, missing
from bench.rig import Rig, open_rig
from bench.rounds import Target, alternate
from bench.stats import median, paired_ratio

__all__ = ["loop_rows"]

SECTION = "event loop"


def loop_rows(rig: Rig, rounds: int, seconds: float) -> list[Row]:
    if importlib.util.find_spec("uvloop") is None:
        return [missing(SECTION, "uvloop vs asyncio", "needs uvloop (pip install '.[bench]')")]
    wrk_path()
    with open_rig("uvloop") as uv_rig:
        targets = {
            name: Target(r.url, r.daemon.token, r.daemon.process.pid)
            for name, r in (("uvloop", uv_rig), ("asyncio", rig))
        }
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
                f"stsd --event-loop uvloop: {label}",
                Figure(median(ours), unit, tuple(ours)),
                "stsd on asyncio",
                Figure(median(theirs), unit, tuple(theirs)),
                paired_ratio(ours, theirs),
                "uvloop/asyncio",
            )
        )
    return rows
