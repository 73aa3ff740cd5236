"""From the two sides' raw runs to the bench JSON (medians, p95, ratio vs the baseline) and its plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voxmcp.evals.stats import Summary, ratio, summarize

STAGE_KEYS = (
    "final_transcript_s",
    "first_llm_token_s",
    "tool_result_s",
    "first_audio_s",
    "first_audible_s",
    "answer_audible_s",
)


def looks_like_json(text: str) -> bool:
    """Spoken text that is really a JSON object or a tagged tool call."""
    t = text.strip()
    return t.startswith(("{", "[", "<tool_call>", "```")) or '"name":' in t or '"arguments"' in t


def _values(runs: list[dict[str, Any]], kind: str, key: str, *, tool_called: bool = False) -> list[float]:
    return [
        float(r["timings"][key])
        for r in runs
        if r["kind"] == kind and key in r["timings"] and (not tool_called or r["tool_calls"])
    ]


def side_summary(raw: dict[str, Any]) -> dict[str, Any]:
    """Per kind of turn: each stage's summary, how many turns were answered out loud, how many called a tool."""
    runs: list[dict[str, Any]] = raw.get("runs", [])
    kinds: dict[str, Any] = {}
    for kind in ("plain", "tool"):
        of_kind = [r for r in runs if r["kind"] == kind]
        stages: dict[str, Summary] = {key: summarize(_values(runs, kind, key)) for key in STAGE_KEYS}
        kinds[kind] = {
            "turns": len(of_kind),
            "answered": sum(bool(r["answered"]) for r in of_kind),
            # an 'answer' that is a tool call read aloud (the plain recipe's failure) still counts as audio above
            "spoke_raw_json": sum(any(looks_like_json(t) for t in r.get("agent_text", [])) for r in of_kind),
            "tool_calls_per_turn": summarize([float(len(r["tool_calls"])) for r in of_kind], digits=2),
            "called_a_tool": sum(bool(r["tool_calls"]) for r in of_kind),
            "voice_to_voice_s": stages["first_audible_s"],
            "answer_after_tool_s": summarize(_values(runs, kind, "answer_audible_s", tool_called=True)),
            "stages_s": stages,
        }
    return {
        "cold_start_s": raw.get("cold_start_s"),
        "restart_s": raw.get("restart_s"),
        "models_load_s": raw.get("models_load_s"),
        "peak_rss_mb": raw.get("peak_rss_mb"),
        "first_turn_voice_to_voice_s": raw.get("first_turn", {}).get("timings", {}).get("first_audible_s"),
        "turns": kinds,
    }


def bench_summary(
    ours_raw: dict[str, Any], baseline_raw: dict[str, Any] | None, meta: dict[str, Any]
) -> dict[str, Any]:
    """The bench JSON: headline keys first, then both sides in full and the raw runs."""
    ours = side_summary(ours_raw)
    base = side_summary(baseline_raw) if baseline_raw is not None else None
    o_plain, o_tool = ours["turns"]["plain"], ours["turns"]["tool"]
    v2v = o_plain["voice_to_voice_s"]
    b_v2v = base["turns"]["plain"]["voice_to_voice_s"] if base else None
    b_tool = base["turns"]["tool"] if base else None
    out: dict[str, Any] = {
        "voice_to_voice_p50_s": v2v["p50"],
        "voice_to_voice_p95_s": v2v["p95"],
        "tool_turn_first_audio_p50_s": o_tool["voice_to_voice_s"]["p50"],
        "tool_turn_first_audio_p95_s": o_tool["voice_to_voice_s"]["p95"],
        "tool_turn_answer_p50_s": o_tool["answer_after_tool_s"]["p50"],
        "tool_turn_answer_p95_s": o_tool["answer_after_tool_s"]["p95"],
        "baseline_voice_to_voice_p50_s": b_v2v["p50"] if b_v2v else None,
        "baseline_voice_to_voice_p95_s": b_v2v["p95"] if b_v2v else None,
        "baseline_tool_turn_first_audio_p50_s": b_tool["voice_to_voice_s"]["p50"] if b_tool else None,
        "baseline_tool_turn_answer_p50_s": b_tool["answer_after_tool_s"]["p50"] if b_tool else None,
        "speedup_vs_baseline": ratio(b_v2v["p50"] if b_v2v else None, v2v["p50"]),
        "tool_turn_speedup_vs_baseline": ratio(
            b_tool["voice_to_voice_s"]["p50"] if b_tool else None, o_tool["voice_to_voice_s"]["p50"]
        ),
        "tool_turn_raw_json_answers": o_tool["spoke_raw_json"],
        "baseline_tool_turn_raw_json_answers": b_tool["spoke_raw_json"] if b_tool else None,
        "cold_start_s": ours["cold_start_s"],
        "baseline_cold_start_s": base["cold_start_s"] if base else None,
        "restart_s": ours["restart_s"],
        "peak_rss_mb": ours["peak_rss_mb"],
        "baseline_peak_rss_mb": base["peak_rss_mb"] if base else None,
        "meta": meta,
        "ours": ours,
        "baseline": base,
        "raw": {"ours": ours_raw, "baseline": baseline_raw},
    }
    return out


def plot(summary: dict[str, Any], path: Path) -> Path:
    """Side-by-side p50 bars (p95 as whiskers) and every run as a dot, ours vs the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [
        ("no-tool turn\nvoice-to-voice", "plain", "first_audible_s", False),
        ("tool turn\nfirst audible", "tool", "first_audible_s", False),
        ("tool turn\nanswer starts", "tool", "answer_audible_s", True),
    ]
    sides = [("voxmcp", "ours", "#2a7"), ("baseline (plain recipe)", "baseline", "#c64")]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.36
    for j, (label, key, color) in enumerate(sides):
        raw = summary["raw"].get(key)
        if raw is None:
            continue
        for i, (_, kind, stage, needs_tool) in enumerate(groups):
            values = _values(raw["runs"], kind, stage, tool_called=needs_tool)
            s = summarize(values)
            x = i + (j - 0.5) * width
            turns = sum(1 for r in raw["runs"] if r["kind"] == kind)
            if s["p50"] is not None and s["p95"] is not None:
                ax.bar(x, s["p50"], width, color=color, alpha=0.75)
                upper: list[float] = [s["p95"] - s["p50"]]
                ax.errorbar(x, s["p50"], yerr=[[0.0], upper], color="#333", capsize=4)
            if len(values) < turns:
                ax.text(x, 0.05, f"{turns - len(values)}/{turns} turns\nwith no answer", ha="center", va="bottom",
                        fontsize=7, rotation=90, color=color)  # fmt: skip
            ax.scatter([x] * len(values), values, s=10, color="#222", zorder=3)
        ax.bar([0], [0], 0, color=color, alpha=0.75, label=label)  # legend entry even when a side never answered
    ax.set_xticks(range(len(groups)), [g[0] for g in groups])
    ax.set_ylabel("seconds after the end of the user's speech")
    ax.set_title("voxmcp vs the plain recipe: median (bar), p95 (whisker), runs (dots)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
