"""`voxmcp eval` without models: several suites rescored into one report split by suite; clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from voxmcp.evals.cli import app


def _suite(name: str, scenario: str) -> dict[str, Any]:
    return {
        "name": name,
        "servers": {"demo": {"kind": "demo"}},
        "scenarios": [{"name": scenario, "servers": ["demo"], "turns": ["Hi"], "expect": {"no_tools": True}}],
    }


def _run(scenario: str, suite: str, said: str) -> dict[str, Any]:
    turn = {
        "said": "Hi",
        "heard_by_agent": "Hi",
        "wer": 0.0,
        "agent_text": [said],
        "tool_calls": [],
        "timings": {"first_audible_s": 1.0},
        "interrupted": False,
    }
    return {"name": scenario, "suite": suite, "turns": [turn], "heard_answer": said, "failures": [], "duration_s": 1.0}


def test_rescore_several_suites_reports_each(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump(_suite("tune", "hello")))
    b.write_text(yaml.safe_dump(_suite("heldout", "morning")))
    report = tmp_path / "old.json"
    runs = [_run("hello", "tune", "Hello there!"), _run("morning", "heldout", "Good morning! I've saved that.")]
    report.write_text(json.dumps({"results": runs}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [str(a), str(b), "--rescore", str(report), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "report.json").read_text())
    assert summary["by_suite"]["tune"]["task_success"] == 1.0
    assert summary["by_suite"]["heldout"]["unbacked_claims"] == 1  # a claim with no call at all
    assert summary["unbacked_claims"] == 1 and summary["task_success"] == 0.5
    assert "heldout · all voices" in result.output


def test_errors_name_the_suite(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "none.yaml does not exist" in result.output
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump(_suite("tune", "hello")))
    result = CliRunner().invoke(app, [str(a), "--only", "nothing-like-this"])
    assert result.exit_code == 2 and "no scenario in" in result.output
