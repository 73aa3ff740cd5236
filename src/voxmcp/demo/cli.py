"""The `demo-server` command: serve the bundled demo MCP tools on loopback."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from voxmcp.demo.server import DEFAULT_HOST, DEFAULT_PORT, run
from voxmcp.logs import setup_logging

# The server is the app's callback, not a subcommand, so both `python -m voxmcp.demo --port N` and the lead's
# `app.add_typer(demo_app, name="demo-server")` take the options directly.
app = typer.Typer(add_completion=False, help="The bundled demo MCP server.")


@app.callback(invoke_without_command=True)
def demo_server(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = DEFAULT_PORT,
    db: Annotated[Path | None, typer.Option(help="SQLite file for notes (default ~/.local/share/voxmcp/...).")] = None,
    audit_log: Annotated[Path | None, typer.Option(help="Append one JSON line per tool call here.")] = None,
    faults: Annotated[bool, typer.Option(help="Add fail_tool and hang_tool (for tests).")] = False,
    slow_step_s: Annotated[
        float, typer.Option(hidden=True, min=0.0, help="Seconds per check_package_status step (tests).")
    ] = 1.0,
) -> None:
    """Serve notes, weather, time, unit conversion and package tracking over Streamable HTTP at /mcp."""
    setup_logging(logging.INFO, fmt="%(asctime)s %(levelname)s %(name)s: %(message)s")
    typer.echo(f"voxmcp demo MCP server on http://{host}:{port}/mcp", err=True)
    run(host=host, port=port, db_path=db, audit_log=audit_log, faults=faults, slow_step_s=slow_step_s)


def main() -> None:
    """Entry point for `python -m voxmcp.demo`."""
    app()
