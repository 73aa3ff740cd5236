"""The fault suite: hostile servers, bad audio and bad configs, each asserting the user-facing outcome.

Every test takes the `fault` fixture and fills in what it saw. At the end of the run a table is printed
(faults tried, survived, tracebacks, duplicate effects, max wall time) and written to
`reports/faults.json`, so a run shows at a glance whether anything crashed, hung or ran an effect twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

_RECORDS: list[FaultRecord] = []
_REPORT = Path(__file__).resolve().parents[2] / "reports" / "faults.json"


@dataclass
class FaultRecord:
    """One fault tried: what it was, and what the user (and the server) saw."""

    name: str
    category: str = "other"
    tracebacks: int = 0
    """Python tracebacks that reached the user (stderr of a CLI, the spoken/printed answer)."""
    duplicate_effects: int = 0
    """Effects the server performed more than once for one request."""
    outcome: str = ""
    """The sentence the user got (first 160 characters), for the table."""
    wall_s: float = 0.0
    survived: bool = False
    _start: float = field(default_factory=time.perf_counter, repr=False)

    def saw_output(self, text: str) -> None:
        """Count tracebacks in text the user sees (stderr, stdout, the answer)."""
        self.tracebacks += text.count("Traceback (most recent call last)")


@pytest.fixture
def fault(request: pytest.FixtureRequest) -> Iterator[FaultRecord]:
    """A record for this fault; `category` comes from the test's `fault_category` marker or its module."""
    marker = request.node.get_closest_marker("fault_category")
    category = marker.args[0] if marker else request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    record = FaultRecord(name=request.node.name, category=category)
    yield record
    record.wall_s = time.perf_counter() - record._start
    _RECORDS.append(record)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    report = yield
    if report.when == "call" and "fault" in getattr(item, "funcargs", {}):
        record: FaultRecord = item.funcargs["fault"]  # type: ignore[attr-defined]
        record.survived = report.passed
    return report


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault_category(name): the fault table's category for this test")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RECORDS:
        return
    records = sorted(_RECORDS, key=lambda r: (r.category, r.name))
    tr = terminalreporter
    tr.write_sep("=", "fault suite")
    tr.write_line(f"{'category':<12} {'fault':<58} {'ok':<3} {'tb':>3} {'dup':>3} {'time s':>7}  outcome")
    for r in records:
        tr.write_line(
            f"{r.category[:12]:<12} {r.name[:58]:<58} {'yes' if r.survived else 'NO':<3} "
            f"{r.tracebacks:>3} {r.duplicate_effects:>3} {r.wall_s:>7.2f}  {r.outcome[:80]}"
        )
    survived = sum(r.survived for r in records)
    tr.write_line(
        f"faults tried {len(records)}, survived {survived}, tracebacks {sum(r.tracebacks for r in records)}, "
        f"duplicate effects {sum(r.duplicate_effects for r in records)}, "
        f"max wall time {max(r.wall_s for r in records):.2f} s"
    )
    try:
        _REPORT.parent.mkdir(parents=True, exist_ok=True)
        rows = [{k: v for k, v in asdict(r).items() if not k.startswith("_")} for r in records]
        _REPORT.write_text(json.dumps({"faults": rows}, indent=2))
    except OSError:
        pass
