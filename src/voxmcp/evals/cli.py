"""`voxmcp eval SUITE.yaml`: run spoken scenarios through the whole pipeline and write a JSON + HTML report."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

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
    suite_paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="SUITE.yaml...",
            help="eval suites, e.g. evals/tune.yaml evals/heldout.yaml evals/cross_server.yaml (reported separately)",
        ),
    ],
    only: Annotated[
        list[str] | None, typer.Option("--only", help="scenario name or category (glob); repeatable")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="run at most N scenarios per suite (each under every voice)")
    ] = None,
    voice: Annotated[
        list[str] | None,
        typer.Option(
            "--voice",
            help="user voice, e.g. espeak:en-us, piper:joe, flite:slt, piper:/path/model.onnx; repeatable; "
            "replaces the suites' own",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for report.json, report.html, audio")] = Path("eval-out"),
    config: Annotated[Path | None, typer.Option("--config", "-c", help="voxmcp.toml (models, settings)")] = None,
    rescore_path: Annotated[
        Path | None,
        typer.Option("--rescore", help="score a previous report.json again against these suites; runs nothing"),
    ] = None,
    typed: Annotated[
        bool,
        typer.Option("--typed", help="type each turn's words instead of speaking them (no STT, TTS or audio)"),
    ] = False,
    typed_from: Annotated[
        list[Path] | None,
        typer.Option(
            "--typed-from",
            help="type what the agent heard in a previous report.json, per scenario and voice: the LLM and turn "
            "policy judged on the same transcripts as that voice run, in a fraction of its time; repeatable",
        ),
    ] = None,
) -> None:
    """Run the suites' scenarios (models loaded once), each once per user voice, and report task success, tool-call
    precision/recall, unbacked action claims, user-side WER and tool-answer latency per server, for each suite and
    voice, and per-stage latency."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        suites = [load_suite(p) for p in suite_paths]
        settings = load_settings(config)
    except (SuiteError, ConfigError) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    source = " ".join(str(p) for p in suite_paths)
    if rescore_path is not None:
        _rescore(suites, source, rescore_path, out)
        return
    transcripts: dict[tuple[str, str], list[str]] | None = None
    if typed_from:
        from voxmcp.evals.runner import heard_transcripts

        transcripts = {}
        for path in typed_from:
            try:
                transcripts |= heard_transcripts(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as e:
                console.print(f"[red]error:[/red] cannot read report {path}: {e}")
                raise typer.Exit(2) from None
        if not transcripts:
            console.print(f"[red]error:[/red] {' '.join(map(str, typed_from))} hold no scenario results to type")
            raise typer.Exit(2)
    elif typed:
        transcripts = {}
    chosen = [(suite, select(list(suite.scenarios), only or [], limit)) for suite in suites]
    if transcripts is not None:
        from voxmcp.evals.runner import needs_speech

        spoken = [sc.name for _, scenarios in chosen for sc in scenarios if needs_speech(sc)]
        if spoken:
            console.print(f"typed run: leaving out {len(spoken)} scenario(s) that need speech: {', '.join(spoken)}")
        chosen = [(suite, [sc for sc in scenarios if not needs_speech(sc)]) for suite, scenarios in chosen]
        if typed_from:  # only the scenarios those reports ran
            chosen = [(suite, [sc for sc in scs if any(n == sc.name for n, _ in transcripts)]) for suite, scs in chosen]
    chosen = [(suite, scenarios) for suite, scenarios in chosen if scenarios]
    if not chosen:
        console.print(f"[red]error:[/red] no scenario in {source} matches {only}")
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
        voices = {suite.name: suite_voices(suite, voice or _ran_with(scs, transcripts)) for suite, scs in chosen}
        for suite, _ in chosen:
            check_user_voices([*voices[suite.name], *turn_voices(suite)], settings.models.tts)
    except UserVoiceError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None

    t0 = time.perf_counter()
    with console.status("loading models"):
        models = load_models(settings)
        transcriber = AnswerTranscriber()
    load_s = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    several = len(chosen) > 1
    runners: list[tuple[EvalRunner, list[Scenario]]] = []
    for suite, scenarios in chosen:
        # one work folder per suite: their servers may share names (each suite's `time` is its own)
        workdir = out / suite.name if several else out
        runner = EvalRunner(suite, settings, models, workdir, transcriber, voices[suite.name], typed=transcripts)
        runner.voice_cache = out / "voices"  # one cache: the same sentence in the same voice is synthesized once
        runners.append((runner, scenarios))
    plan = [
        (f"{runner.suite.name}: " if several else "") + runner.display_name(sc, v)
        for runner, scenarios in runners
        for sc, v in runner.plan(scenarios)
    ]
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
        write_json(summarize_results(finished, {"suite": source, "partial": True}), out / "report.partial.json")
        mark = "[green]pass[/green]" if result.success else "[red]FAIL[/red]"
        detail = "" if result.success else f" — {'; '.join(result.failures)[:200]}"
        n = len(finished)
        progress.console.print(f"{mark} {plan[n - 1]} ({result.duration_s:.0f} s){escape(detail)}")
        progress.update(task, advance=1, passed=passed, description=plan[n] if n < len(plan) else "done")

    async def run_all() -> list[ScenarioResult]:
        results: list[ScenarioResult] = []
        for runner, scenarios in runners:
            results += await runner.run(scenarios, on_done=done)
        return results

    with progress:
        task = progress.add_task(plan[0], total=len(plan), passed=0)
        results = asyncio.run(run_all())
    meta = {
        "suite": source,
        "llm": str(settings.models.llm),
        "stt": str(settings.models.stt),
        "tts": str(settings.models.tts),
        "user_voices": sorted({runner.voice_label(v) for runner, _ in runners for v in runner.voices}),
        **({"typed_from": [str(p) for p in typed_from]} if typed_from else {"typed": True} if typed else {}),
        "models_load_s": round(load_s, 2),
        "total_s": round(time.perf_counter() - t0, 1),
    }
    summary = summarize_results(results, meta)
    json_path = write_json(summary, out / "report.json")
    html_path = write_html(summary, out / "report.html")
    _print_headline(summary)
    console.print(f"report: {json_path} and {html_path}")


def _ran_with(scenarios: list[Scenario], transcripts: dict[tuple[str, str], list[str]] | None) -> list[str] | None:
    """The voices a typed-from report ran these scenarios with (None: not a typed-from run, the suite's own)."""
    if not transcripts:
        return None
    names = {sc.name for sc in scenarios}
    return sorted({v for n, v in transcripts if n in names}) or None


def _rescore(suites: list[Suite], source: str, report_path: Path, out: Path) -> None:
    from voxmcp.evals.report import summarize_results, write_html, write_json
    from voxmcp.evals.runner import rescore

    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        console.print(f"[red]error:[/red] cannot read report {report_path}: {e}")
        raise typer.Exit(2) from None
    results = rescore(suites, report)
    meta = dict(report.get("meta", {}), suite=source, rescored_from=str(report_path))
    summary = summarize_results(results, meta)
    json_path = write_json(summary, out / "report.json")
    html_path = write_html(summary, out / "report.html")
    _print_headline(summary)
    console.print(f"report: {json_path} and {html_path}")


def _print_headline(summary: dict[str, Any]) -> None:
    table = Table(title="eval headline")
    table.add_column("metric")
    table.add_column("value")
    for key in ("task_success", "tool_call_precision", "tool_call_recall", "unbacked_claims", "user_wer"):
        table.add_row(key, str(summary.get(key)))
    for suite, sf in summary.get("by_suite", {}).items():
        for voice, f in [("all voices", sf), *sf.get("by_voice", {}).items()]:
            servers = " ".join(f"{k} {v}" for k, v in (f.get("tool_answer_p50_s_by_server") or {}).items())
            table.add_row(
                f"{suite} · {voice}",
                f"{f['passed']}/{f['scenarios']} ({f['task_success']}) · P {f['tool_call_precision']}"
                f" · R {f['tool_call_recall']} · unbacked {f.get('unbacked_claims')} · WER {f['user_wer']}"
                + (f" · tool answer p50 s: {servers}" if servers else ""),
            )
    latency = summary["latency_s"]
    for key, s in latency.items():
        if s["n"]:
            table.add_row(f"{key} p50 / p95", f"{s['p50']} / {s['p95']} (n={s['n']})")
    console.print(table)
