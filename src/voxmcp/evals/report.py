"""The eval report: headline numbers (task success, tool-call precision/recall, unbacked action claims, WER, stage
latencies, tool-answer latency per server) over every run, per suite (tune / heldout / cross-server) and per user
voice within each suite, as JSON and as an HTML page with matplotlib plots embedded as PNG."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voxmcp.evals.runner import ScenarioResult
from voxmcp.evals.scoring import ScenarioScore, precision_recall, word_errors
from voxmcp.evals.stats import summarize

STAGES = (
    ("final_transcript_s", "final transcript"),
    ("first_llm_token_s", "first LLM token"),
    ("tool_result_s", "tool result"),
    ("first_audio_s", "first audio frame"),
    ("first_audible_s", "first audible sample"),
    ("answer_audible_s", "answer audible"),
)


OTHER_SERVER = "(other)"
"""Where a tool turn's latency goes when its call was no suite server's MCP tool (a stand-in, an old report)."""


def tool_answer_by_server(results: Sequence[ScenarioResult]) -> dict[str, dict[str, Any]]:
    """Tool turns' answer latency (first audible sample of the answer after the tool result, from the end of the
    user's speech) grouped by the server of the turn's first call, sorted by server."""
    per: dict[str, list[float]] = {}
    for r in results:
        for t in r.turns:
            if not t.tool_calls or "answer_audible_s" not in t.timings:
                continue
            server = next((c.get("server") for c in t.tool_calls if c.get("server")), None) or OTHER_SERVER
            per.setdefault(server, []).append(t.timings["answer_audible_s"])
    return {server: dict(summarize(values)) for server, values in sorted(per.items())}


def voice_figures(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    """Task success, tool-call precision/recall, unbacked action claims, user-side WER and tool-answer p50 per
    server of some runs (e.g. one voice's)."""
    scores = [
        ScenarioScore(
            success=r.success,
            true_positives=r.true_positives,
            false_positives=r.false_positives,
            false_negatives=r.false_negatives,
        )
        for r in results
    ]
    precision, recall = precision_recall(scores)
    errors = [word_errors(t.said, t.heard_by_agent) for r in results for t in r.turns]
    ref_words = sum(n for _, n in errors)
    passed = sum(r.success for r in results)
    return {
        "scenarios": len(results),
        "passed": passed,
        "task_success": round(passed / len(results), 4) if results else None,
        "tool_call_precision": None if precision is None else round(precision, 4),
        "tool_call_recall": None if recall is None else round(recall, 4),
        "user_wer": round(sum(e for e, _ in errors) / ref_words, 4) if ref_words else None,
        "unbacked_claims": sum(len(r.unbacked_claims) for r in results),
        "runs_with_unbacked_claims": sum(1 for r in results if r.unbacked_claims),
        "tool_answer_p50_s_by_server": {k: v["p50"] for k, v in tool_answer_by_server(results).items()},
    }


def by_voice(results: Sequence[ScenarioResult]) -> dict[str, dict[str, Any]]:
    """`voice_figures` per user voice, in the order the voices first ran."""
    voices: dict[str, list[ScenarioResult]] = {}
    for r in results:
        voices.setdefault(r.voice, []).append(r)
    return {v: voice_figures(rs) for v, rs in voices.items()}


def by_suite(results: Sequence[ScenarioResult]) -> dict[str, dict[str, Any]]:
    """`voice_figures` per suite (tune, heldout, cross-server...), each also per voice and with its tool-answer
    latency per server: the splits are never pooled into one number."""
    suites: dict[str, list[ScenarioResult]] = {}
    for r in results:
        suites.setdefault(r.suite or "suite", []).append(r)
    return {
        name: {**voice_figures(rs), "by_voice": by_voice(rs), "tool_answer_s_by_server": tool_answer_by_server(rs)}
        for name, rs in suites.items()
    }


def summarize_results(results: Sequence[ScenarioResult], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Headline numbers over every run (scenario x voice) and per voice; latencies over every turn with the stage."""
    categories: dict[str, dict[str, Any]] = {}
    for r in results:
        c = categories.setdefault(r.category, {"n": 0, "passed": 0})
        c["n"] += 1
        c["passed"] += int(r.success)
    for c in categories.values():
        c["success_rate"] = round(c["passed"] / c["n"], 4)
    turns = [t for r in results for t in r.turns]
    latency = {key: summarize([t.timings[key] for t in turns if key in t.timings]) for key, _ in STAGES}
    v2v_plain = [t.timings["first_audible_s"] for t in turns if "first_audible_s" in t.timings and not t.tool_calls]
    v2v_tool = [t.timings["first_audible_s"] for t in turns if "first_audible_s" in t.timings and t.tool_calls]
    headline = voice_figures(results)
    return {
        "meta": meta or {},
        "scenarios": headline["scenarios"],
        "passed": headline["passed"],
        "task_success": headline["task_success"],
        "tool_call_precision": headline["tool_call_precision"],
        "tool_call_recall": headline["tool_call_recall"],
        "tool_calls": {
            "true_positives": sum(r.true_positives for r in results),
            "false_positives": sum(r.false_positives for r in results),
            "false_negatives": sum(r.false_negatives for r in results),
        },
        "user_wer": headline["user_wer"],
        "unbacked_claims": headline["unbacked_claims"],
        "runs_with_unbacked_claims": headline["runs_with_unbacked_claims"],
        "facts": {"checked": sum(r.facts_checked for r in results), "held": sum(r.facts_held for r in results)},
        "latency_s": latency,
        "voice_to_voice_s": {"no_tool_turns": summarize(v2v_plain), "tool_turns": summarize(v2v_tool)},
        "tool_answer_s_by_server": tool_answer_by_server(results),
        "by_category": dict(sorted(categories.items())),
        "by_suite": by_suite(results),
        "by_voice": by_voice(results),
        "results": [r.to_dict() for r in results],
    }


def write_json(summary: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(summary: dict[str, Any]) -> dict[str, str]:
    """Base64 PNGs: stage latencies per turn, success by category."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    turns = [t for r in summary["results"] for t in r["turns"]]
    data = [[t["timings"][k] for t in turns if k in t["timings"]] for k, _ in STAGES]
    labels = [label for (k, label), d in zip(STAGES, data, strict=True) if d]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    if labels:
        ax.boxplot([d for d in data if d], vert=False, tick_labels=labels, showfliers=True)
    ax.set_xlabel("seconds after the end of the user's speech")
    ax.set_title("Per-stage latency (every turn)")
    ax.grid(axis="x", alpha=0.3)
    out["latency"] = _png(fig)
    plt.close(fig)

    cats = summary["by_category"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(cats), 3) + 1))
    names = list(cats)
    rates = [100 * cats[n]["success_rate"] for n in names]
    ax.barh(names, rates, color=["#3a7" if r >= 85 else "#d84" for r in rates])
    for i, n in enumerate(names):
        ax.text(min(rates[i], 92) + 1, i, f"{cats[n]['passed']}/{cats[n]['n']}", va="center", fontsize=8)
    ax.set_xlim(0, 105)
    ax.set_xlabel("task success (%)")
    ax.set_title("Task success by category")
    out["categories"] = _png(fig)
    plt.close(fig)
    return out


def _agent_log_html(lines: Sequence[str], e: Callable[[str], str]) -> str:
    """The agent's decision log, folded: why a call was rejected or retried."""
    if not lines:
        return ""
    items = "".join(f"<li>{e(line)}</li>" for line in lines)
    return f"<details><summary>agent log ({len(lines)})</summary><ul>{items}</ul></details>"


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    return html.escape(str(v))


def _suite_row(suite: str, voice: str, f: dict[str, Any], e: Callable[[str], str]) -> str:
    servers = " · ".join(f"{e(k)} {_fmt(v)}" for k, v in (f.get("tool_answer_p50_s_by_server") or {}).items())
    return (
        f"<tr><td>{e(suite)}</td><td>{e(voice)}</td><td>{f['passed']}/{f['scenarios']} ({_fmt(f['task_success'])})</td>"
        f"<td>{_fmt(f['tool_call_precision'])}</td><td>{_fmt(f['tool_call_recall'])}</td>"
        f"<td>{_fmt(f.get('unbacked_claims'))}</td><td>{_fmt(f['user_wer'])}</td><td>{servers or '–'}</td></tr>"
    )


def render_html(summary: dict[str, Any]) -> str:
    images = plots(summary)
    e = html.escape
    head = [
        ("task success", f"{summary['passed']}/{summary['scenarios']} ({_fmt(summary['task_success'])})"),
        ("tool-call precision", _fmt(summary["tool_call_precision"])),
        ("tool-call recall", _fmt(summary["tool_call_recall"])),
        ("unbacked action claims", _fmt(summary.get("unbacked_claims"))),
        ("user-side WER", _fmt(summary["user_wer"])),
        ("facts held", f"{summary['facts']['held']}/{summary['facts']['checked']}"),
    ]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in head)
    lat_rows = "".join(
        f"<tr><td>{e(label)}</td><td>{s['n']}</td><td>{_fmt(s['p50'])}</td><td>{_fmt(s['p95'])}</td></tr>"
        for key, label in STAGES
        if (s := summary["latency_s"][key])["n"]
    )
    suite_rows = "".join(
        _suite_row(name, voice, f, e)
        for name, sf in summary.get("by_suite", {}).items()
        for voice, f in [("all voices", sf), *sf.get("by_voice", {}).items()]
    )
    voice_rows = "".join(
        f"<tr><td>{e(v)}</td><td>{f['passed']}/{f['scenarios']} ({_fmt(f['task_success'])})</td>"
        f"<td>{_fmt(f['tool_call_precision'])}</td><td>{_fmt(f['tool_call_recall'])}</td><td>{_fmt(f['user_wer'])}</td>"
        "</tr>"
        for v, f in summary.get("by_voice", {}).items()
    )
    sc_rows = []
    for r in summary["results"]:
        calls = "; ".join(
            f"{c['name']}({c['arguments']})" + (" [error]" if c["is_error"] else "")
            for t in r["turns"]
            for c in t["tool_calls"]
        )
        said = " / ".join(t["said"] for t in r["turns"])
        v2v = next((t["timings"].get("first_audible_s") for t in r["turns"] if "first_audible_s" in t["timings"]), None)
        status = "pass" if r["success"] else "FAIL"
        sc_rows.append(
            f"<tr class='{status.lower()}'><td>{e(r.get('display_name') or r['name'])}</td>"
            f"<td>{e(r.get('voice', ''))}</td><td>{e('/'.join(x for x in (r.get('suite'), r['category']) if x))}</td>"
            f"<td>{status}</td>"
            f"<td>{e(said)}</td><td>{e(calls)}</td><td>{e(r['heard_answer'])}</td><td>{_fmt(v2v)}</td>"
            f"<td>{e('; '.join(r['failures']))}{_agent_log_html(r.get('agent_log') or [], e)}</td></tr>"
        )
    meta = " · ".join(f"{e(str(k))}: {e(str(v))}" for k, v in summary.get("meta", {}).items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>voxmcp eval report</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
 tr.fail td {{ background: #fde8e4; }} tr.pass td:nth-child(3) {{ color: #275; }}
.small {{ font-size: 12px; }}
</style></head><body>
<h1>voxmcp eval report</h1><p class="small">{meta}</p>
<table>{rows}</table>
<h2>Latency (seconds from the end of the user's speech)</h2>
<table><tr><th>stage</th><th>turns</th><th>p50</th><th>p95</th></tr>{lat_rows}</table>
<img src="data:image/png;base64,{images["latency"]}" alt="stage latency">
<h2>By suite and user voice</h2>
<table><tr><th>suite</th><th>user voice</th><th>task success</th><th>tool-call precision</th>
<th>tool-call recall</th><th>unbacked claims</th><th>user-side WER</th><th>tool answer p50 per server (s)</th></tr>
{suite_rows}</table>
<h2>By user voice</h2>
<table><tr><th>user voice</th><th>task success</th><th>tool-call precision</th><th>tool-call recall</th>
<th>user-side WER</th></tr>{voice_rows}</table>
<h2>By category</h2><img src="data:image/png;base64,{images["categories"]}" alt="success by category">
<h2>Scenarios</h2>
<table class="small"><tr><th>scenario</th><th>user voice</th><th>suite/category</th><th>result</th>
<th>user said</th><th>tool calls</th>
<th>agent heard saying</th><th>voice-to-voice s</th><th>why it failed</th></tr>{"".join(sc_rows)}</table>
<p class="small">Generated {datetime.now(UTC).isoformat(timespec="seconds")}</p>
</body></html>
"""


def write_html(summary: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(summary), encoding="utf-8")
    return path
