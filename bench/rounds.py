"""Alternating wrk rounds between servers, with each server's CPU time per request.

Rounds run ABBA (A B, B A, A B, ...), so drift in the neighbours' load hits every
server alike; per-round figures are kept, and ratios are taken round by round.
"""

from dataclasses import dataclass, field

from bench.load import LoadResult, run_wrk
from bench.servers import cpu_seconds

__all__ = ["Rounds", "Target", "alternate"]


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str
    pid: int


@dataclass
class Rounds:
    results: list[LoadResult] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # server CPU µs per request
    sent: int = 0  # every request, warm-up and top-up included


def alternate(
    targets: dict[str, Target],
    rounds: int,
    seconds: float,
    connections: int,
    load_cores: set[int] | None,
    at_least: int = 0,
) -> dict[str, Rounds]:
    """Warm each target up, run `rounds` alternating rounds, then top each up to
    `at_least` requests in total (for memory figures)."""
    out = {name: Rounds() for name in targets}

    def load(name: str, duration: float) -> LoadResult:
        target = targets[name]
        before = cpu_seconds(target.pid)
        result = run_wrk(target.url, target.token, duration, connections, load_cores)
        used = cpu_seconds(target.pid) - before
        out[name].sent += result.requests
        out[name].cpu_us.append(1e6 * used / max(result.requests, 1))
        return result

    names = list(targets)
    for name in names:  # warm-up: connections, caches, the allocator
        load(name, 1)
        out[name].cpu_us.clear()
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            out[name].results.append(load(name, seconds))
    measured = {name: list(out[name].cpu_us) for name in names}
    for name in names:
        while out[name].sent < at_least:
            rate = max(out[name].results[-1].rate, 1000.0)
            left = (at_least - out[name].sent) / rate
            load(name, max(1.0, left + 0.5))
        out[name].cpu_us = measured[name]
    return out
