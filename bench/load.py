"""Load with wrk: keep-alive connections, one thread on the load core, JSON out of Lua.

The token goes in through the environment (not argv, where `ps` shows it), and wrk's
`done` hook prints the figures as JSON, so no human-oriented output is parsed.
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.model import NotAvailable
from bench.rig import pin

__all__ = ["LoadResult", "run_wrk", "wrk_path"]

_SCRIPT = """
wrk.headers["Authorization"] = os.getenv("BENCH_TOKEN")
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int  # socket errors and timeouts
    non_2xx: int  # wrk counts status >= 400 here; stsd sends no 3xx
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise NotAvailable("needs wrk (`apt-get install wrk`; scripts/setup installs it)")
    return path


def run_wrk(
    url: str,
    token: str,
    seconds: float,
    connections: int,
    load_cores: set[int] | None,
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="stsd-wrk-") as tmp:
        script = Path(tmp) / "report.lua"
        script.write_text(_SCRIPT, encoding="utf-8")
        command = [
            wrk_path(),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "2s",
            "-s",
            str(script),
            url,
        ]
        process = subprocess.Popen(
            command,
            env={**os.environ, "BENCH_TOKEN": token},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        pin(process.pid, load_cores)
        out, err = process.communicate(timeout=seconds + 60)
    line = next((x for x in out.splitlines() if x.startswith("BENCH-JSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.strip() or out.strip()}")
    data = json.loads(line.removeprefix("BENCH-JSON "))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        non_2xx=data["status"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )
