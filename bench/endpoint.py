"""Endpoint throughput, latency and memory: stsd against the bare aiohttp server.

Both servers run at once on the server core; wrk runs on the load core and alternates
between them in short rounds (ABBA order), so a neighbour's burst of load hits both
alike. Throughput is compared round by round. The same load, topped up to
`memory_requests` per server, then shows how much each one's RSS grew.
"""

from dataclasses import dataclass

from bench.load import LoadResult, wrk_path
from bench.model import Figure, NotAvailable, Row, missing
from bench.rig import PROFILE, Rig
from bench.rounds import Target, alternate
from bench.servers import bare_server, rss_mib
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
    with bare_server(body, token, rig.cores.server) as bare:
        targets = {
            "stsd": Target(rig.url, token, rig.daemon.process.pid),
            BARE: Target(bare.url(PROFILE), token, bare.pid),
        }
        idle = {name: rss_mib(t.pid) for name, t in targets.items()}
        rounds = alternate(
            targets,
            plan.rounds,
            plan.seconds,
            plan.connections,
            rig.cores.load,
            plan.memory_requests,
        )
        after = {name: rss_mib(t.pid) for name, t in targets.items()}
    # The daemon's audit log (one JSON line per request) stays on while measuring.
    audit = rig.sandbox.paths.state_dir / "audit.log"
    notes = {"audit_log": "on" if audit.exists() else "off (not in this build)"}
    results = {name: r.results for name, r in rounds.items()}
    cpu = {name: r.cpu_us for name, r in rounds.items()}
    sent = {name: r.sent for name, r in rounds.items()}
    return _rows(results, cpu, idle, after, sent, plan, notes)


def _rows(
    results: dict[str, list[LoadResult]],
    cpu: dict[str, list[float]],
    idle: dict[str, float],
    after: dict[str, float],
    sent: dict[str, int],
    plan: EndpointPlan,
    notes: dict[str, str],
) -> list[Row]:
    ours, theirs = results["stsd"], results[BARE]

    def figure(rs: list[LoadResult], attr: str, unit: str) -> Figure:
        values = [float(getattr(r, attr)) for r in rs]
        return Figure(median(values), unit, tuple(values))

    rate_ratio = paired_ratio([r.rate for r in ours], [r.rate for r in theirs])
    bad = sum(r.non_2xx + r.errors for r in ours)
    bad_bare = sum(r.non_2xx + r.errors for r in theirs)
    conns = f"{plan.connections} keep-alive connections, audit log {notes['audit_log']}"
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
            extra={"rounds": plan.rounds, "seconds_per_round": plan.seconds, **notes},
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
