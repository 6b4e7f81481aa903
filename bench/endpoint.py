"""Endpoint throughput, latency and memory: stsd against the bare aiohttp server.

Both servers run at once on the server core; wrk runs on the load core and alternates
between them in short rounds (ABBA order), so a neighbour's burst of load hits both
alike. Throughput is compared round by round. The same load, topped up to
`memory_requests` per server, then shows how much each one's RSS grew.
"""

from dataclasses import dataclass

from bench.load import LoadResult, run_wrk, wrk_path
from bench.model import Figure, NotAvailable, Row, missing
from bench.rig import PROFILE, Rig
from bench.servers import bare_server, cpu_seconds, rss_mib
from bench.stats import median, paired_ratio

__all__ = ["EndpointPlan", "endpoint_rows"]

SECTION = "endpoint"
MEMORY = "memory"
BARE = "bare aiohttp"


@dataclass(frozen=True, slots=True)
class EndpointPlan:
    rounds: int = 8
    seconds: float = 5.0
    connections: int = 50
    memory_requests: int = 100_000
    loop: str = "asyncio"


def endpoint_rows(rig: Rig, plan: EndpointPlan) -> list[Row]:
    try:
        wrk_path()
    except NotAvailable as error:
        why = str(error)
        return [missing(SECTION, "throughput at 50 connections", why), missing(MEMORY, "RSS", why)]
    status, body = rig.fetch()
    if status != 200:
        raise RuntimeError(f"stsd answered {status}, not credentials")
    token = rig.daemon.token
    daemon_pid = rig.daemon.process.pid
    with bare_server(body, token, rig.cores.server, plan.loop) as bare:
        targets = {"stsd": rig.url, BARE: bare.url(PROFILE)}
        pids = {"stsd": daemon_pid, BARE: bare.pid}

        def load(name: str, seconds: float) -> LoadResult:
            return run_wrk(targets[name], token, seconds, plan.connections, rig.cores.load)

        idle = {name: rss_mib(pid) for name, pid in pids.items()}
        sent = dict.fromkeys(targets, 0)
        for name in targets:  # warm-up: first connections, caches, allocator
            sent[name] += load(name, 1).requests
        results: dict[str, list[LoadResult]] = {name: [] for name in targets}
        cpu: dict[str, list[float]] = {name: [] for name in targets}  # µs per request
        for i in range(plan.rounds):
            order = ["stsd", BARE] if i % 2 == 0 else [BARE, "stsd"]
            for name in order:
                before = cpu_seconds(pids[name])
                result = load(name, plan.seconds)
                used = cpu_seconds(pids[name]) - before
                cpu[name].append(1e6 * used / max(result.requests, 1))
                results[name].append(result)
                sent[name] += result.requests
        for name in targets:
            while sent[name] < plan.memory_requests:
                rate = max(results[name][-1].rate, 1000.0)
                left = (plan.memory_requests - sent[name]) / rate
                sent[name] += load(name, max(1.0, left + 0.5)).requests
        after = {name: rss_mib(pid) for name, pid in pids.items()}
    return _rows(results, cpu, idle, after, sent, plan)


def _rows(
    results: dict[str, list[LoadResult]],
    cpu: dict[str, list[float]],
    idle: dict[str, float],
    after: dict[str, float],
    sent: dict[str, int],
    plan: EndpointPlan,
) -> list[Row]:
    ours, theirs = results["stsd"], results[BARE]

    def figure(rs: list[LoadResult], attr: str, unit: str) -> Figure:
        values = [float(getattr(r, attr)) for r in rs]
        return Figure(median(values), unit, tuple(values))

    rate_ratio = paired_ratio([r.rate for r in ours], [r.rate for r in theirs])
    bad = sum(r.non_2xx + r.errors for r in ours)
    bad_bare = sum(r.non_2xx + r.errors for r in theirs)
    conns = f"{plan.connections} keep-alive connections"
    rows = [
        Row(
            SECTION,
            f"throughput, {conns}",
            figure(ours, "rate", "req/s"),
            BARE,
            figure(theirs, "rate", "req/s"),
            rate_ratio,
            "stsd/bare",
            ">= 0.8x",
            rate_ratio >= 0.8,
            extra={"rounds": plan.rounds, "seconds_per_round": plan.seconds, "loop": plan.loop},
        ),
    ]
    # CPU time per request barely moves with the neighbours' load, unlike req/s.
    rows.append(
        Row(
            SECTION,
            "server CPU time per request",
            Figure(median(cpu["stsd"]), "µs", tuple(cpu["stsd"])),
            BARE,
            Figure(median(cpu[BARE]), "µs", tuple(cpu[BARE])),
            paired_ratio(cpu["stsd"], cpu[BARE]),
            "stsd/bare",
            "<= 1.25x",
            paired_ratio(cpu["stsd"], cpu[BARE]) <= 1.25,
        )
    )
    for attr, label in (("p50_ms", "latency p50"), ("p99_ms", "latency p99")):
        a, b = figure(ours, attr, "ms"), figure(theirs, attr, "ms")
        ratio = paired_ratio(list(a.samples), list(b.samples))
        rows.append(Row(SECTION, label, a, BARE, b, ratio, "stsd/bare"))
    rows.append(
        Row(
            SECTION,
            "non-2xx responses and socket errors",
            Figure(bad, "responses"),
            BARE,
            Figure(bad_bare, "responses"),
            target="0",
            met=bad == 0,
        )
    )
    growth = after["stsd"] - idle["stsd"]
    rows += [
        Row(
            MEMORY,
            "RSS idle (logged in, warm)",
            Figure(idle["stsd"], "MiB"),
            BARE,
            Figure(idle[BARE], "MiB"),
            idle["stsd"] / idle[BARE],
            "stsd/bare",
            "<= 80 MiB",
            idle["stsd"] <= 80,
        ),
        Row(
            MEMORY,
            f"RSS growth after {sent['stsd']:,} requests",
            Figure(growth, "MiB"),
            BARE,
            Figure(after[BARE] - idle[BARE], "MiB"),
            target="< 5 MiB",
            met=growth < 5,
            extra={"rss_after_mib": after, "requests": sent},
        ),
    ]
    return rows
