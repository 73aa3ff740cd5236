"""The bench JSON from fixed raw runs: headline keys, tool-turn figures, baseline ratio, and the plot file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voxmcp.bench.summary import bench_summary, looks_like_json, plot, side_summary


def _run(kind: str, first: float | None, *, tool: bool = False, answer: float | None = None) -> dict[str, Any]:
    timings: dict[str, float] = {"final_transcript_s": 0.5}
    if first is not None:
        timings["first_audible_s"] = first
    if answer is not None:
        timings["answer_audible_s"] = answer
    return {
        "kind": kind,
        "timings": timings,
        "tool_calls": ["get_weather"] if tool else [],
        "answered": first is not None,
    }


def _raw(plain: list[float], tool: list[tuple[float | None, bool, float | None]], **extra: Any) -> dict[str, Any]:
    runs = [_run("plain", v) for v in plain] + [_run("tool", f, tool=t, answer=a) for f, t, a in tool]
    return {"runs": runs, "cold_start_s": 5.0, "peak_rss_mb": 900.0, **extra}


def test_summary_keys_and_ratio(tmp_path: Path) -> None:
    ours = _raw([1.0, 1.2, 1.1], [(0.9, True, 2.5), (1.0, True, 2.7), (1.1, True, 2.6)], restart_s=1.5)
    base = _raw([3.3, 3.4, 3.2], [(None, True, None), (4.0, False, None), (5.0, True, 6.0)])
    s = bench_summary(ours, base, {"runs": 3})
    assert s["voice_to_voice_p50_s"] == 1.1
    assert s["voice_to_voice_p95_s"] == 1.19
    assert s["tool_turn_first_audio_p50_s"] == 1.0
    assert s["tool_turn_answer_p50_s"] == 2.6
    assert s["baseline_voice_to_voice_p50_s"] == 3.3
    assert s["speedup_vs_baseline"] == 3.0
    # the baseline's silent tool turn has no first audio; a turn without a tool call has no 'answer after tool'
    assert s["baseline"]["turns"]["tool"]["answered"] == 2
    assert s["baseline"]["turns"]["tool"]["called_a_tool"] == 2
    assert s["baseline_tool_turn_answer_p50_s"] == 6.0
    assert s["cold_start_s"] == 5.0 and s["baseline_peak_rss_mb"] == 900.0
    assert s["restart_s"] == 1.5 and s["ours"]["restart_s"] == 1.5
    png = plot(s, tmp_path / "bench.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_without_baseline() -> None:
    s = bench_summary(_raw([1.0], [(1.0, True, 2.0)]), None, {})
    assert s["baseline_voice_to_voice_p50_s"] is None
    assert s["speedup_vs_baseline"] is None
    assert side_summary({"runs": []})["turns"]["plain"]["voice_to_voice_s"]["n"] == 0


def test_raw_json_answers_and_call_counts_are_reported() -> None:
    raw = _raw([1.0], [(2.0, True, 2.0)])
    raw["runs"][1]["agent_text"] = ['{"name": "get_weather", "arguments": "{}"}']
    raw["runs"][1]["tool_calls"] = ["get_weather"] * 4
    tool = side_summary(raw)["turns"]["tool"]
    assert tool["spoke_raw_json"] == 1
    assert tool["tool_calls_per_turn"]["p50"] == 4.0
    assert looks_like_json("<tool_call>{}</tool_call>") and not looks_like_json("It is 15 degrees.")
