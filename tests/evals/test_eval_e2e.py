"""One real scenario through `voxmcp eval`: espeak-ng user, the demo server, the default local models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voxmcp.evals.cli import app

pytestmark = pytest.mark.e2e

SUITE = r"""
name: e2e
servers:
  demo: {kind: demo}
scenarios:
  - name: weather-tokyo
    category: one-tool
    servers: [demo]
    turns: ["What is the weather in Tokyo?"]
    expect:
      calls: [{tool: get_weather, args: {city: Tokyo}}]
      facts: [{from_tool: {tool: get_weather, pattern: '(-?\d+) degrees'}}]
"""


def test_one_spoken_scenario_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make test installs it)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # no stray voxmcp.toml
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [str(suite), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["scenarios"] == 1
    scenario = report["results"][0]
    turn = scenario["turns"][0]
    # the pipeline ran for real: the agent heard the user, timings exist, and the answer was transcribed back
    assert turn["heard_by_agent"], scenario
    assert "final_transcript_s" in turn["timings"]
    assert scenario["heard_answer"], scenario
    assert report["user_wer"] is not None and report["user_wer"] < 0.5
    # what the agent did is scored, not assumed: the tool call and the fact from its result
    assert report["task_success"] == 1.0, scenario["failures"]
    assert report["tool_call_precision"] == 1.0 and report["tool_call_recall"] == 1.0
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 2
