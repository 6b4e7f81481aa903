"""The economy: the lifecycle issue's simulated week (bench/economy.py), run as it is.

That simulator owns the model and its baselines (the AWS CLI with its credential cache,
plain boto3 scripts, each computed on the same workload in the same run); this section
runs it, turns its `--json` totals into rows, and keeps its own table and assumptions
for the report. Until it exists the section says so.
"""

import json
import subprocess
import sys
from typing import Any

from bench.model import Figure, Row, missing
from bench.servers import REPO

__all__ = ["economy_rows"]

SECTION = "economy"
SIMULATOR = REPO / "bench" / "economy.py"
_BASELINES = {"aws_cli_cache": "AWS CLI + ~/.aws/cli/cache", "boto3_scripts": "boto3 scripts"}


def economy_rows() -> tuple[list[Row], str]:
    """Rows for the table, and the simulator's own report (empty if there is none)."""
    if not SIMULATOR.is_file():
        why = "needs the economy simulator bench/economy.py (issue 4)"
        return [missing(SECTION, "MFA prompts and STS calls per simulated week", why)], ""
    numbers = json.loads(_simulate("--json"))
    try:
        rows = _rows(numbers["rows"])
    except (KeyError, TypeError) as error:
        why = f"bench/economy.py --json changed shape ({error!r}): update bench/week.py"
        rows = [missing(SECTION, "MFA prompts and STS calls per simulated week", why)]
    return rows, _simulate()


def _simulate(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SIMULATOR), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench/economy.py failed: {done.stderr.strip()}")
    return done.stdout


def _rows(days: list[dict[str, Any]]) -> list[Row]:
    def total(side: str, what: str) -> float:
        return float(sum(day[side][what] for day in days))

    span = f"{len(days)} simulated working days"
    rows = []
    for what, unit, label in (
        ("prompts", "prompts", "MFA prompts"),
        ("sts_calls", "calls", "STS calls"),
    ):
        ours = total("stsd", what)
        for side, name in _BASELINES.items():
            theirs = total(side, what)
            rows.append(
                Row(
                    SECTION,
                    f"{label}, {span}",
                    Figure(ours, unit),
                    name,
                    Figure(theirs, unit),
                    theirs / ours if ours else None,
                    "them/stsd",
                    extra={"per_day": [day[side][what] for day in days]},
                )
            )
    return rows
