"""`voxmcp bench --runs N --json FILE`: voice-to-voice latency of voxmcp vs the plain recipe, in the same run.

Each side runs in its own child process (its own cold start and peak RSS) against the same demo MCP server with the
same synthesized user speech; they run one after the other so they don't compete for the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    help="Voice-to-voice latency benchmark against the plain recipe.",
    context_settings={"allow_interspersed_args": True},
)
console = Console(stderr=True)

PLAIN_TURN = "How are you doing today?"  # no pause inside: one VAD segment on both sides
TOOL_TURN = "What is the weather in Tokyo?"


def _run_worker(
    side: str,
    runs: int,
    url: str,
    wavs: dict[str, Path],
    out: Path,
    extra: list[str],
    limit_s: float,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "voxmcp.bench.worker", "--side", side, "--runs", str(runs), "--mcp-url", url]
    cmd += ["--plain-wav", str(wavs["plain"]), "--tool-wav", str(wavs["tool"]), "--out", str(out), *extra]
    log = out.with_suffix(".log")
    with log.open("wb") as f:
        try:
            done = subprocess.run(
                cmd, stdout=f, stderr=subprocess.STDOUT, timeout=limit_s, check=False, env={**os.environ, **(env or {})}
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the {side} side did not finish within {limit_s:.0f} s (log: {log})") from None
    if done.returncode != 0 or not out.is_file():
        tail = log.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"the {side} side failed (exit {done.returncode}); its log ends with:\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@app.callback(invoke_without_command=True)
def bench(
    runs: Annotated[int, typer.Option("--runs", min=1, max=100, help="measured runs per kind of turn")] = 5,
    json_path: Annotated[Path, typer.Option("--json", help="where to write the results")] = Path("bench.json"),
    plot_path: Annotated[Path | None, typer.Option("--plot", help="PNG plot (default: next to the JSON)")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="voxmcp.toml for voxmcp's side")] = None,
    baseline: Annotated[bool, typer.Option(help="also run the plain-recipe baseline")] = True,
    turn_timeout: Annotated[float, typer.Option("--turn-timeout", help="seconds to wait for one answer")] = 60.0,
) -> None:
    """Measure voice-to-voice latency (end of user speech -> first audible agent sample) for a turn without a tool
    and a turn with one, over N runs, for voxmcp and the baseline; plus cold start and peak RSS."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from voxmcp.audio.wav import write_wav
    from voxmcp.bench.summary import bench_summary, plot
    from voxmcp.demo.runner import DemoServerProcess
    from voxmcp.evals.voice import UserVoiceError, synthesize

    work = Path(tempfile.mkdtemp(prefix="voxmcp-bench-"))
    try:
        wavs = {
            kind: write_wav(work / f"{kind}.wav", synthesize(text, work / "voices"))
            for kind, text in (("plain", PLAIN_TURN), ("tool", TOOL_TURN))
        }
    except UserVoiceError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    from voxmcp.config import ConfigError, load_settings

    try:
        llm_ref = load_settings(config, dotenv=False).models.llm
    except ConfigError as e:
        from rich.markup import escape

        console.print(f"[red]config error:[/red] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if llm_ref.provider != "local":
        console.print("[red]error:[/red] the bench compares local models; configure a local LLM")
        raise typer.Exit(2)
    limit = (2 * runs + 1) * (turn_timeout + 30) + 600
    extra = ["--timeout-s", str(turn_timeout)]
    ours_extra = [*extra, "--config", str(config)] if config is not None else extra
    base_extra = [*extra, "--llm-model", llm_ref.model]  # the same GGUF on both sides
    t0 = time.perf_counter()
    # an empty KV-state cache: the first start pays the prefill (cold start); a second process finds it (restart)
    kv_env = {"VOXMCP_KV_CACHE_DIR": str(work / "kv")}
    with DemoServerProcess(db_path=work / "notes.sqlite3", audit_log=work / "audit.jsonl") as demo:
        with console.status(f"voxmcp: 1 warm-up + {2 * runs} turns"):
            ours = _run_worker("ours", runs, demo.url, wavs, work / "ours.json", ours_extra, limit, kv_env)
        with console.status("voxmcp: restart with the KV state on disk"):
            restart = _run_worker(
                "ours", runs, demo.url, wavs, work / "restart.json", [*ours_extra, "--start-only"], 600, kv_env
            )
        ours["restart_s"] = restart["cold_start_s"]
        base = None
        if baseline:
            with console.status(f"baseline: 1 warm-up + {2 * runs} turns"):
                base = _run_worker("baseline", runs, demo.url, wavs, work / "baseline.json", base_extra, limit)
    meta = {
        "runs": runs,
        "llm": str(llm_ref),
        "work_dir": str(work),  # per-side logs and raw JSON
        "plain_turn": PLAIN_TURN,
        "tool_turn": TOOL_TURN,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "total_s": round(time.perf_counter() - t0, 1),
        "measured_from": "end of the user's speech to the first audible agent sample (simulated speaker)",
    }
    summary = bench_summary(ours, base, meta)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    png = plot(summary, plot_path or json_path.with_suffix(".png"))
    table = Table(title="voxmcp bench (seconds; p50 / p95)")
    for col in ("metric", "voxmcp", "baseline"):
        table.add_column(col)
    o, b = summary["ours"], summary["baseline"]

    def cell(side: dict[str, Any] | None, kind: str, key: str) -> str:
        if side is None:
            return "–"
        s = side["turns"][kind][key]
        t = side["turns"][kind]
        return f"{s['p50']} / {s['p95']} ({t['answered']}/{t['turns']} answered)"

    table.add_row("no-tool voice-to-voice", cell(o, "plain", "voice_to_voice_s"), cell(b, "plain", "voice_to_voice_s"))
    table.add_row("tool turn first audible", cell(o, "tool", "voice_to_voice_s"), cell(b, "tool", "voice_to_voice_s"))
    table.add_row("tool turn answer", cell(o, "tool", "answer_after_tool_s"), cell(b, "tool", "answer_after_tool_s"))
    table.add_row("cold start", str(o["cold_start_s"]), str(b["cold_start_s"]) if b else "–")
    table.add_row("restart (KV state on disk)", str(o["restart_s"]), "–")
    table.add_row("peak RSS MB", str(o["peak_rss_mb"]), str(b["peak_rss_mb"]) if b else "–")
    console.print(table)
    console.print(f"speedup vs baseline (median voice-to-voice): {summary['speedup_vs_baseline']}")
    console.print(f"wrote {json_path} and {png}")
