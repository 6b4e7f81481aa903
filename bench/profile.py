"""Profile the daemon's request path: py-spy samples `stsd serve` while wrk loads it.

    python -m bench.profile [--seconds 10] [--out FILE.txt]

Writes py-spy's collapsed stacks (FILE.txt, for flamegraph tools or speedscope) and
prints where the time goes: the share of samples under each stsd function (inclusive)
and the hottest frames of all (self).
"""

import argparse
import collections
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from bench.load import run_wrk
from bench.rig import open_rig
from bench.servers import REPO

__all__ = ["main", "summarise"]


def summarise(collapsed: str, top: int = 25) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if not frames[0].startswith("_run_module_as_main"):
            continue  # other threads (executor, audit writer): mostly waiting on a queue
        total += count
        own[_short(frames[-1])] += count
        for frame in set(frames):
            if "(daemon/" in frame or "(client/" in frame or "/stsd/" in frame:
                inclusive[_short(frame)] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples of the event loop's thread", "", "stsd functions, inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "hottest frames, self:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # py-spy frames look like "function (path/to/file.py:123)"; keep file:function.
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{Path(path).name}:{name}" if path else name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "profile.txt")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open_rig() as rig:
        pid = rig.daemon.process.pid
        record = [py_spy, "record", "--format", "raw", "--rate", "200", "--pid", str(pid)]
        record += ["--duration", str(int(args.seconds)), "--output", str(args.out)]
        load = threading.Thread(
            target=run_wrk,
            args=(rig.url, rig.daemon.token, args.seconds + 2, 50, rig.cores.load),
        )
        load.start()
        subprocess.run(record, check=True, capture_output=True)
        load.join()
    print(summarise(args.out.read_text(encoding="utf-8")))
    print(f"\ncollapsed stacks: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
