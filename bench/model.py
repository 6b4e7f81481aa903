"""What a benchmark reports: rows of a figure beside its baseline, and why one is missing."""

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Figure", "NotAvailable", "Row", "missing"]


class NotAvailable(Exception):
    """A measurement can't be made here (a tool or a feature is missing): say what."""


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number; `samples` are the per-round values it summarises."""

    value: float
    unit: str
    samples: tuple[float, ...] = ()

    def text(self) -> str:
        if self.unit in {"req/s", "responses", "calls", "prompts"}:
            return f"{self.value:,.0f} {self.unit}"
        if self.value >= 100:
            return f"{self.value:,.0f} {self.unit}"
        if self.value >= 10:
            return f"{self.value:.1f} {self.unit}"
        return f"{self.value:.2f} {self.unit}"


@dataclass(frozen=True, slots=True)
class Row:
    """A line of the table.

    `ratio` compares the two the way its target is stated (`ratio_of`, e.g. "stsd/bare"
    for throughput, "aws/stsd" for a speed-up); `met` says whether the target holds,
    None where a row has no target. A row with `missing` set has no figures.
    """

    section: str
    measure: str
    stsd: Figure | None = None
    baseline_name: str = ""
    baseline: Figure | None = None
    ratio: float | None = None
    ratio_of: str = ""
    target: str = ""
    met: bool | None = None
    missing: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        def figure(f: Figure | None) -> dict[str, Any] | None:
            if f is None:
                return None
            return {"value": f.value, "unit": f.unit, "samples": list(f.samples)}

        return {
            "section": self.section,
            "measure": self.measure,
            "stsd": figure(self.stsd),
            "baseline_name": self.baseline_name,
            "baseline": figure(self.baseline),
            "ratio": self.ratio,
            "ratio_of": self.ratio_of,
            "target": self.target,
            "met": self.met,
            "missing": self.missing,
            "extra": self.extra,
        }


def missing(section: str, measure: str, why: str) -> Row:
    """A row that says plainly what is needed instead of printing a number."""
    return Row(section, measure, missing=f"n/a: {why}")
