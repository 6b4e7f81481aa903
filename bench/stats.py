"""Summaries of interleaved rounds: medians, and ratios taken round by round."""

import statistics
from collections.abc import Sequence

__all__ = ["median", "paired_ratio", "spread"]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of per-round ratios: each pair ran back to back under the same load."""
    pairs = [n / d for n, d in zip(numerators, denominators, strict=True) if d > 0]
    return median(pairs) if pairs else float("nan")


def spread(values: Sequence[float]) -> str:
    """min..max of the rounds, for a reader to judge the noise."""
    return f"{min(values):.3g}..{max(values):.3g}" if values else ""
