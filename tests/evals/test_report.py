"""Report generation on a synthetic result: headline numbers, latency summaries, JSON and HTML with plots."""

from __future__ import annotations

import json
from pathlib import Path

from voxmcp.evals.report import render_html, summarize_results, write_html, write_json
from voxmcp.evals.runner import ScenarioResult, TurnRecord


def _turn(said: str, heard: str, first: float, *, tool: bool = False) -> TurnRecord:
    calls = [{"name": "get_weather", "arguments": '{"city": "Tokyo"}', "output": "15 degrees", "is_error": False}]
    timings = {"final_transcript_s": 0.6, "first_llm_token_s": 0.8, "first_audible_s": first}
    if tool:
        timings["tool_result_s"] = 1.0
        timings["answer_audible_s"] = first + 0.5
    return TurnRecord(
        said=said,
        heard_by_agent=heard,
        wer=None,
        agent_text=["ok"],
        tool_calls=calls if tool else [],
        timings=timings,
        interrupted=False,
    )


def _results() -> list[ScenarioResult]:
    return [
        ScenarioResult(
            name="weather",
            category="one-tool",
            success=True,
            failures=[],
            turns=[_turn("What is the weather in Tokyo?", "What is the weather in Tokyo?", 1.2, tool=True)],
            heard_answer="It is 15 degrees in Tokyo.",
            duration_s=10.0,
            true_positives=1,
        ),
        ScenarioResult(
            name="chat",
            category="chit-chat",
            success=False,
            failures=["called get_weather but no tool should be called <b>"],
            turns=[_turn("Hello there", "Hello bear", 0.8)],
            heard_answer="Hi!",
            duration_s=5.0,
            false_positives=1,
            false_negatives=1,
        ),
    ]


def test_summary_numbers() -> None:
    s = summarize_results(_results(), {"llm": "local/qwen"})
    assert s["scenarios"] == 2 and s["passed"] == 1 and s["task_success"] == 0.5
    assert s["tool_call_precision"] == 0.5 and s["tool_call_recall"] == 0.5
    assert s["user_wer"] == round(1 / 8, 4)  # 'there' -> 'bear': one error in 6 + 2 reference words
    assert s["latency_s"]["first_audible_s"]["n"] == 2
    assert s["latency_s"]["first_audible_s"]["p50"] == 1.0
    assert s["latency_s"]["tool_result_s"]["n"] == 1
    assert s["voice_to_voice_s"]["tool_turns"]["p50"] == 1.2
    assert s["voice_to_voice_s"]["no_tool_turns"]["p50"] == 0.8
    assert s["by_category"]["chit-chat"] == {"n": 1, "passed": 0, "success_rate": 0.0}
    assert s["meta"] == {"llm": "local/qwen"}
    figures = {"scenarios": 2, "passed": 1, "task_success": 0.5, "tool_call_precision": 0.5, "tool_call_recall": 0.5}
    figures |= {"unbacked_claims": 0, "runs_with_unbacked_claims": 0}
    figures |= {"tool_answer_p50_s_by_server": {"(other)": 1.7}}  # a call no suite server is known to offer
    assert s["by_voice"] == {"espeak:en-us": {**figures, "user_wer": round(1 / 8, 4)}}  # the default voice


def test_json_and_html_written(tmp_path: Path) -> None:
    s = summarize_results(_results())
    data = json.loads(write_json(s, tmp_path / "r" / "report.json").read_text())
    assert data["results"][0]["name"] == "weather"
    page = write_html(s, tmp_path / "r" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "&lt;b&gt;" in page and "<b>" not in page  # failure text is escaped
    assert "FAIL" in page and "weather" in page


def _voice_runs() -> list[ScenarioResult]:
    """The two scenarios under two voices: piper joe heard everything, espeak misheard 'there' and failed."""
    out: list[ScenarioResult] = []
    for voice in ("piper:joe", "espeak:en-us"):
        for r in _results():
            r.voice, r.display_name = voice, f"{r.name}@{voice}"
            if voice == "piper:joe" and r.name == "chat":
                r.success, r.failures, r.false_positives, r.false_negatives = True, [], 0, 0
                r.turns[0].heard_by_agent = r.turns[0].said
            out.append(r)
    return out


def test_figures_per_voice() -> None:
    s = summarize_results(_voice_runs())
    assert s["scenarios"] == 4 and s["passed"] == 3 and s["task_success"] == 0.75  # the headline: every run
    assert list(s["by_voice"]) == ["piper:joe", "espeak:en-us"]
    joe, espeak = s["by_voice"]["piper:joe"], s["by_voice"]["espeak:en-us"]
    assert joe == {"scenarios": 2, "passed": 2, "task_success": 1.0, "tool_call_precision": 1.0,
                   "tool_call_recall": 1.0, "user_wer": 0.0, "unbacked_claims": 0, "runs_with_unbacked_claims": 0,
                   "tool_answer_p50_s_by_server": {"(other)": 1.7}}  # fmt: skip
    assert espeak["task_success"] == 0.5 and espeak["tool_call_precision"] == 0.5 and espeak["tool_call_recall"] == 0.5
    assert espeak["user_wer"] == round(1 / 8, 4)
    assert s["user_wer"] == round(1 / 16, 4)


def test_html_has_voice_table_and_names(tmp_path: Path) -> None:
    s = summarize_results(_voice_runs())
    page = write_html(s, tmp_path / "report.html").read_text()
    assert "By user voice" in page and page.count("data:image/png;base64,") == 2
    assert "chat@piper:joe" in page and "weather@espeak:en-us" in page
    assert "<td>piper:joe</td><td>2/2 (1.000)</td>" in page
    assert json.loads(json.dumps(s))["results"][0]["voice"] == "piper:joe"


def test_a_runs_agent_log_is_on_the_page_folded(tmp_path: Path) -> None:
    runs = _voice_runs()
    runs[0].agent_log = ["llm: tool call not grounded in the user's words {'reason': \"city='Paris' was not said\"}"]
    page = write_html(summarize_results(runs), tmp_path / "report.html").read_text()
    assert "<summary>agent log (1)</summary>" in page
    assert "city=&#x27;Paris&#x27; was not said" in page  # escaped


def test_empty_results_render() -> None:
    s = summarize_results([])
    assert s["task_success"] is None and s["user_wer"] is None and s["by_voice"] == {}
    assert "voxmcp eval report" in render_html(s)


def _suite_runs() -> list[ScenarioResult]:
    """A tune run and two cross-server runs (time: 1.5 s and 2.5 s answers; memory: an unbacked claim)."""
    tune = _results()[0]
    tune.suite = "tune"
    runs = [tune]
    for name, server, answer in (("xs-time", "time", 1.5), ("xs-time-2", "time", 2.5), ("xs-memory", "memory", 3.0)):
        r = _results()[0]
        r.name, r.suite, r.voice = name, "cross-server", "flite:slt"
        r.turns[0].tool_calls[0]["server"] = server
        r.turns[0].timings["answer_audible_s"] = answer
        runs.append(r)
    runs[-1].success, runs[-1].unbacked_claims = False, ["i'll remember that"]
    return runs


def test_figures_per_suite_voice_and_server() -> None:
    s = summarize_results(_suite_runs())
    assert s["unbacked_claims"] == 1 and s["runs_with_unbacked_claims"] == 1
    assert list(s["by_suite"]) == ["tune", "cross-server"]
    cross = s["by_suite"]["cross-server"]
    assert cross["scenarios"] == 3 and cross["passed"] == 2 and cross["unbacked_claims"] == 1
    assert cross["tool_answer_p50_s_by_server"] == {"memory": 3.0, "time": 2.0}
    assert cross["tool_answer_s_by_server"]["time"]["n"] == 2
    assert cross["by_voice"]["flite:slt"]["unbacked_claims"] == 1
    assert s["by_suite"]["tune"]["unbacked_claims"] == 0 and s["by_suite"]["tune"]["task_success"] == 1.0
    assert s["tool_answer_s_by_server"]["time"]["p50"] == 2.0


def test_html_has_suite_table_and_claims(tmp_path: Path) -> None:
    page = write_html(summarize_results(_suite_runs()), tmp_path / "report.html").read_text()
    assert "By suite and user voice" in page
    assert "<tr><th>unbacked action claims</th><td>1</td></tr>" in page
    assert "<td>cross-server</td><td>flite:slt</td><td>2/3 (0.667)</td>" in page
    assert "memory 3.000 · time 2.000" in page
