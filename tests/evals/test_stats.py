"""Bench statistics: percentiles, summaries and ratios on fixed samples."""

from __future__ import annotations

import math

import pytest

from voxmcp.evals.stats import percentile, ratio, summarize


def test_percentile_interpolates_between_ranks() -> None:
    data = [1.0, 2.0, 3.0, 4.0]
    assert percentile(data, 50) == 2.5
    assert percentile(data, 0) == 1.0
    assert percentile(data, 100) == 4.0
    assert percentile(data, 95) == pytest.approx(3.85)
    assert percentile([5.0], 95) == 5.0
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert percentile([1.0, math.nan, 3.0], 50) == 2.0  # NaN ignored


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1.0], 101)


def test_summarize() -> None:
    s = summarize([0.8, 1.2, 1.0, 3.0])
    assert s["n"] == 4
    assert s["p50"] == 1.1
    assert s["p95"] == pytest.approx(2.73, abs=1e-3)
    assert s["min"] == 0.8 and s["max"] == 3.0 and s["mean"] == 1.5
    empty = summarize([])
    assert empty == {"n": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None}


def test_ratio() -> None:
    assert ratio(3.3, 1.1) == 3.0
    assert ratio(None, 1.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None
