"""`python -m bench`: every benchmark, a table on stdout, the same as JSON on disk.

Each figure stands beside a baseline measured in the same run, in alternating rounds;
ratios carry the targets, since absolute numbers on a shared machine move with the
neighbours' load. Benchmarks report: a missed target prints MISSED and still exits 0.
The exit code is 1 only when a benchmark could not run at all.
"""

import argparse
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import machine
from bench.cli import cli_rows
from bench.coldstart import coldstart_rows
from bench.day import simulate_day
from bench.endpoint import EndpointPlan, endpoint_rows
from bench.loops import loop_rows
from bench.model import NotAvailable, Row, missing
from bench.plot import draw_day
from bench.report import markdown, table, write_json
from bench.rig import Rig, open_rig
from bench.sdk import sdk_rows
from bench.servers import REPO
from bench.week import economy_rows

__all__ = ["SECTIONS", "main"]

SECTIONS = ("day", "economy", "sdk", "cli", "endpoint", "coldstart", "loop")
_TITLES = {"coldstart": "cold start", "loop": "event loop"}  # as the rows name them


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark stsd against baselines measured in the same run: endpoint "
        "throughput and latency (wrk) against a bare aiohttp server, memory, the cost to "
        "boto3, CLI wall time against the AWS CLI, cold start, and a simulated day.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one short round of everything (smoke test)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        metavar="SECTION",
        help=f"run only these sections (repeatable): {', '.join(SECTIONS)}",
    )
    parser.add_argument("--rounds", type=int, help="wrk rounds per server (default 8)")
    parser.add_argument("--seconds", type=float, help="seconds per wrk round (default 5)")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "bench" / "results",
        help="where the JSON goes (default bench/results/, not in git)",
    )
    parser.add_argument(
        "--png", type=Path, help="where the simulated day's PNG goes (default: beside the JSON)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    wanted = set(args.only or SECTIONS)
    quick = args.quick
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document: dict[str, Any] = {
        "command": ["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])],
        "started": stamp,
        "machine": machine.describe(),
    }
    rows: list[Row] = []
    failed: list[str] = []

    def section(name: str, work: Callable[[], list[Row]]) -> None:
        if name not in wanted:
            return
        began = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(work())
        except NotAvailable as error:
            rows.append(missing(_TITLES.get(name, name), "everything", str(error)))
        except Exception as error:  # a broken benchmark must not hide the others
            failed.append(name)
            traceback.print_exc()
            rows.append(missing(_TITLES.get(name, name), "everything", f"failed: {error}"))
        print(f"bench: {name} took {time.monotonic() - began:.0f} s", file=sys.stderr)

    png = args.png or args.out / f"day-{stamp}.png"

    def day() -> list[Row]:
        simulated = simulate_day()
        document["day"] = {
            "prompts": [(at.isoformat(), why) for at, why in simulated.prompts],
            "sts_calls": simulated.sts_calls,
            "requests": len(simulated.requests),
            "refused": simulated.failures,
            "png": str(draw_day(simulated, png)),
        }
        return []

    def economy() -> list[Row]:
        found, report = economy_rows()
        document["economy_report"] = report
        return found

    section("day", day)
    section("economy", economy)
    if wanted & {"sdk", "cli", "endpoint", "loop", "coldstart"}:
        with open_rig() as rig:
            _rig_sections(rig, quick, args, section)
    document["load_average_after"] = machine.load_average()
    document["rows"] = [row.as_json() for row in rows]
    print()
    print(f"machine: {machine.summary(document['machine'])}")
    print(table(rows))
    if document.get("economy_report"):
        print("\neconomy (bench/economy.py):\n" + document["economy_report"].rstrip())
    if "day" in document:
        print(f"\nsimulated day: {document['day']['png']}")
    path = write_json(args.out / f"bench-{stamp}.json", document)
    shutil.copyfile(path, args.out / "latest.json")
    (args.out / "latest.md").write_text(markdown(rows), encoding="utf-8")
    print(f"results: {path}")
    before = document["machine"]["load_average"][0]
    print(
        f"load average (1 min): {before:.2f} before, {document['load_average_after'][0]:.2f} after"
    )
    return 1 if failed else 0


def _rig_sections(
    rig: Rig,
    quick: bool,
    args: argparse.Namespace,
    section: Callable[[str, Callable[[], list[Row]]], None],
) -> None:
    plan = EndpointPlan(
        rounds=args.rounds or (1 if quick else 8),
        seconds=args.seconds or (1.0 if quick else 5.0),
        memory_requests=2_000 if quick else 100_000,
    )
    section("sdk", lambda: sdk_rows(rig, 1 if quick else 7, 5 if quick else 50, 1 if quick else 10))
    section("cli", lambda: cli_rows(rig, 1 if quick else 10))
    section("endpoint", lambda: endpoint_rows(rig, plan))
    section("loop", lambda: loop_rows(rig, max(1, plan.rounds // 2), plan.seconds))
    section("coldstart", lambda: coldstart_rows(rig, 1 if quick else 7))
