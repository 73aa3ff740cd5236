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


def test_typed_runs_type_the_script_or_what_a_voice_run_heard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--typed answers in text from the script's words; --typed-from types each turn as an earlier voice run heard
    it, so a mishearing in that run reaches the LLM again (Tokyo heard as Osaka: the call is for Osaka)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "typed"
    result = CliRunner().invoke(app, [str(suite), "--typed", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    scenario = report["results"][0]
    assert scenario["voice"] == "typed" and report["task_success"] == 1.0, scenario["failures"]
    assert scenario["turns"][0]["heard_by_agent"] == "What is the weather in Tokyo?"
    assert "degrees" in scenario["heard_answer"]  # the answer's text: nothing was spoken to transcribe
    assert "first_audible_s" not in scenario["turns"][0]["timings"]

    earlier = tmp_path / "earlier.json"
    turn = {**scenario["turns"][0], "heard_by_agent": "What is the weather in Osaka?"}
    earlier.write_text(json.dumps({"results": [{**scenario, "voice": "piper:joe", "turns": [turn]}]}))
    out = tmp_path / "replay"
    result = CliRunner().invoke(app, [str(suite), "--typed-from", str(earlier), "--out", str(out)])
    assert result.exit_code == 0, result.output
    replayed = json.loads((out / "report.json").read_text())["results"][0]
    assert replayed["voice"] == "piper:joe typed"
    assert [c["arguments"] for c in replayed["turns"][0]["tool_calls"]] == ['{"city": "Osaka"}']
    assert "missing call get_weather" in " ".join(replayed["failures"])  # scored against the script: Tokyo
