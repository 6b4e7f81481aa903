"""The table on stdout and the JSON file: same rows, one for people, one for tools."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.model import Row

__all__ = ["markdown", "table", "write_json"]

_HEADERS = ("section", "measure", "stsd", "baseline", "baseline value", "ratio", "target")


def table(rows: Sequence[Row]) -> str:
    lines: list[tuple[str, ...]] = [_HEADERS]
    for row in rows:
        if row.missing:
            lines.append((row.section, row.measure, row.missing))
            continue
        ratio = f"{row.ratio:.2f}x {row.ratio_of}" if row.ratio is not None else ""
        target = row.target
        if row.met is not None:
            target = f"{target} {'met' if row.met else 'MISSED'}"
        lines.append(
            (
                row.section,
                row.measure,
                row.stsd.text() if row.stsd else "",
                row.baseline_name,
                row.baseline.text() if row.baseline else "",
                ratio,
                target,
            )
        )
    full = [line for line in lines if len(line) == len(_HEADERS)]
    widths = [max(len(line[i]) for line in full) for i in range(len(_HEADERS))]
    out = []
    for line in lines:
        if len(line) < len(_HEADERS):  # a missing row: its note spans the figures
            out.append(f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]}")
            continue
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if line is _HEADERS:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown(rows: Sequence[Row]) -> str:
    """The table as Markdown, for docs/benchmarks.md."""
    out = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
    for row in rows:
        if row.missing:
            out.append(f"| {row.section} | {row.measure} | {row.missing} |" + " |" * 4)
            continue
        ratio = f"{row.ratio:.2f}x {row.ratio_of}" if row.ratio is not None else ""
        target = row.target
        if row.met is not None:
            target = f"{target} {'met' if row.met else '**missed**'}"
        cells = (
            row.section,
            row.measure,
            row.stsd.text() if row.stsd else "",
            row.baseline_name,
            row.baseline.text() if row.baseline else "",
            ratio,
            target,
        )
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def write_json(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return path
