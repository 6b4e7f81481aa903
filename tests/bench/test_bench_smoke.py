"""`python -m bench --quick` runs end to end, so the benchmarks can't rot unnoticed.

It asserts what the harness produced, never how fast anything was: timings belong to
the benchmark's own report.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECTIONS = {"sdk", "cli", "endpoint", "memory", "event loop", "cold start", "economy"}


@pytest.mark.timeout(300)
def test_quick_run_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    png = tmp_path / "day.png"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path), "--png", str(png)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "baseline" in done.stdout and "results:" in done.stdout

    document = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    rows = document["rows"]
    assert {row["section"] for row in rows} == SECTIONS
    for row in rows:
        # A row carries a figure beside its baseline, or says plainly what it needs.
        if row["missing"]:
            assert row["missing"].startswith("n/a: "), row
            assert row["stsd"] is None, row
        else:
            assert row["stsd"] is not None and row["baseline"] is not None, row
            assert row["baseline_name"], row
    assert document["machine"]["nproc"] >= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert document["day"]["refused"] == 0

    if os.environ.get("CI") == "true":
        # scripts/setup installs wrk and the AWS CLI: CI must measure, not skip.
        measured = {row["section"] for row in rows if not row["missing"]}
        assert {"endpoint", "memory", "cli", "sdk"} <= measured, rows
