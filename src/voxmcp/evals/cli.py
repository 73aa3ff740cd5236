"""`voxmcp eval SUITE.yaml`: run spoken scenarios through the whole pipeline and write a JSON + HTML report."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from voxmcp.config import ConfigError, load_settings
from voxmcp.evals.schema import Scenario, Suite, SuiteError, load_suite

app = typer.Typer(
    add_completion=False,
    help="Spoken-task evals of the whole voice pipeline.",
    context_settings={"allow_interspersed_args": True},  # options may follow the suite path
)
console = Console(stderr=True)


def select(scenarios: list[Scenario], only: list[str], limit: int | None) -> list[Scenario]:
    """Scenarios whose name or category matches any `only` pattern (glob), at most `limit` of them."""
    chosen = [
        s
        for s in scenarios
        if not only or any(fnmatch.fnmatch(s.name, p) or fnmatch.fnmatch(s.category, p) for p in only)
    ]
    return chosen[:limit] if limit is not None else chosen


@app.callback(invoke_without_command=True)
def eval_(
    suite_path: Annotated[Path, typer.Argument(metavar="SUITE.yaml", help="the eval suite, e.g. evals/public.yaml")],
    only: Annotated[
        list[str] | None, typer.Option("--only", help="scenario name or category (glob); repeatable")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="run at most N scenarios (each under every voice)")
    ] = None,
    voice: Annotated[
        list[str] | None,
        typer.Option(
            "--voice",
            help="user voice, e.g. espeak:en-us, piper:joe, piper:/path/model.onnx; repeatable; replaces the suite's",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for report.json, report.html, audio")] = Path("eval-out"),
    config: Annotated[Path | None, typer.Option("--config", "-c", help="voxmcp.toml (models, settings)")] = None,
    rescore_path: Annotated[
        Path | None,
        typer.Option("--rescore", help="score a previous report.json again against this suite; runs nothing"),
    ] = None,
) -> None:
    """Run the suite's scenarios (models loaded once), each once per user voice, and report task success, tool-call
    precision/recall, user-side WER (overall and per voice) and per-stage latency."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        suite = load_suite(suite_path)
        settings = load_settings(config)
    except (SuiteError, ConfigError) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if rescore_path is not None:
        _rescore(suite, suite_path, rescore_path, out)
        return
    scenarios = select(list(suite.scenarios), only or [], limit)
    if not scenarios:
        console.print(f"[red]error:[/red] no scenario in {suite_path} matches {only}")
        raise typer.Exit(2)

    from voxmcp.app import load_models
    from voxmcp.evals.report import summarize_results, write_html, write_json
    from voxmcp.evals.runner import (
        AnswerTranscriber,
        EvalRunner,
        ScenarioResult,
        check_user_voices,
        suite_voices,
        turn_voices,
    )
    from voxmcp.evals.voice import UserVoiceError

    try:  # before any model loads: a bad voice or the agent's own voice as the user's is refused up front
        voices = suite_voices(suite, voice or None)
        check_user_voices([*voices, *turn_voices(suite)], settings.models.tts)
    except UserVoiceError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None

    t0 = time.perf_counter()
    with console.status("loading models"):
        models = load_models(settings)
        transcriber = AnswerTranscriber()
    load_s = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    runner = EvalRunner(suite, settings, models, out, transcriber, voices)
    plan = [runner.display_name(sc, v) for sc, v in runner.plan(scenarios)]
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[passed]} passed"),
        TimeElapsedColumn(),
        console=console,
    )
    passed = 0
    finished: list[ScenarioResult] = []

    def done(result: ScenarioResult) -> None:
        nonlocal passed
        passed += result.success
        finished.append(result)
        # results so far, so an interrupted run still leaves something to read (or --rescore)
        write_json(
            summarize_results(finished, {"suite": str(suite_path), "partial": True}), out / "report.partial.json"
        )
        mark = "[green]pass[/green]" if result.success else "[red]FAIL[/red]"
        detail = "" if result.success else f" — {'; '.join(result.failures)[:200]}"
        progress.console.print(f"{mark} {result.display_name} ({result.duration_s:.0f} s){detail}")
        n = len(finished)
        progress.update(task, advance=1, passed=passed, description=plan[n] if n < len(plan) else "done")

    with progress:
        task = progress.add_task(plan[0], total=len(plan), passed=0)
        results = asyncio.run(runner.run(scenarios, on_done=done))
    meta = {
        "suite": str(suite_path),
        "llm": str(settings.models.llm),
        "stt": str(settings.models.stt),
        "tts": str(settings.models.tts),
        "user_voices": [str(v) for v in voices],
        "models_load_s": round(load_s, 2),
        "total_s": round(time.perf_counter() - t0, 1),
    }
    summary = summarize_results(results, meta)
    json_path = write_json(summary, out / "report.json")
    html_path = write_html(summary, out / "report.html")
    _print_headline(summary)
    console.print(f"report: {json_path} and {html_path}")


def _rescore(suite: Suite, suite_path: Path, report_path: Path, out: Path) -> None:
    import json

    from voxmcp.evals.report import summarize_results, write_html, write_json
    from voxmcp.evals.runner import rescore

    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        console.print(f"[red]error:[/red] cannot read report {report_path}: {e}")
        raise typer.Exit(2) from None
    results = rescore(suite, report)
    meta = dict(report.get("meta", {}), suite=str(suite_path), rescored_from=str(report_path))
    summary = summarize_results(results, meta)
    json_path = write_json(summary, out / "report.json")
    html_path = write_html(summary, out / "report.html")
    _print_headline(summary)
    console.print(f"report: {json_path} and {html_path}")


def _print_headline(summary: dict[str, object]) -> None:
    table = Table(title="eval headline")
    table.add_column("metric")
    table.add_column("value")
    for key in ("task_success", "tool_call_precision", "tool_call_recall", "user_wer"):
        table.add_row(key, str(summary[key]))
    voices = summary.get("by_voice", {})
    assert isinstance(voices, dict)
    for name, f in voices.items():
        table.add_row(
            f"voice {name}",
            f"{f['passed']}/{f['scenarios']} ({f['task_success']}) · P {f['tool_call_precision']}"
            f" · R {f['tool_call_recall']} · WER {f['user_wer']}",
        )
    latency = summary["latency_s"]
    assert isinstance(latency, dict)
    for key, s in latency.items():
        if s["n"]:
            table.add_row(f"{key} p50 / p95", f"{s['p50']} / {s['p95']} (n={s['n']})")
    console.print(table)
