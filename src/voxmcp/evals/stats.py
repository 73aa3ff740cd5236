"""Summary statistics for latency samples: median, p95, and ratios, with None where there is no data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict


class Summary(TypedDict):
    n: int
    p50: float | None
    p95: float | None
    mean: float | None
    min: float | None
    max: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    data = sorted(v for v in values if not math.isnan(v))
    if not data:
        return None
    pos = (len(data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summarize(values: Sequence[float], digits: int = 3) -> Summary:
    data = [float(v) for v in values if not math.isnan(v)]

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return Summary(
        n=len(data),
        p50=r(percentile(data, 50)),
        p95=r(percentile(data, 95)),
        mean=r(sum(data) / len(data)) if data else None,
        min=r(min(data)) if data else None,
        max=r(max(data)) if data else None,
    )


def ratio(numerator: float | None, denominator: float | None, digits: int = 2) -> float | None:
    """numerator / denominator, None when either is missing or the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, digits)
