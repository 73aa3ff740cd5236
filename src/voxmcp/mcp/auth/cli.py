"""`voxmcp mcp login <server>` as a typer command function the MCP CLI mounts.

Mount with: `app.command("login")(voxmcp.mcp.auth.cli.login_command)`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from voxmcp.mcp.auth.login import LoginError, login

if TYPE_CHECKING:
    from voxmcp.mcp.config import MCPServerConfig


def _load_servers(config: Path | None, mcp_json: Path | None) -> dict[str, MCPServerConfig]:
    if mcp_json is not None:
        from voxmcp.mcp.config import load_mcp_servers_json

        return load_mcp_servers_json(mcp_json)
    from voxmcp.config import load_settings

    return load_settings(config).mcp_servers()


def login_command(
    server: Annotated[str, typer.Argument(help="Name of the configured MCP server to log in to.")],
    config: Annotated[
        Path | None,
        typer.Option("--config", help="voxmcp.toml with the server table (default: the usual one)."),
    ] = None,
    mcp_json: Annotated[
        Path | None, typer.Option("--mcp-json", help="Read servers from an mcpServers JSON file instead.")
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open-browser/--no-open-browser", help="Also open the URL in a browser.")
    ] = False,
) -> None:
    """Authorize voxmcp for a server: print the URL, catch the redirect on a loopback port, store tokens."""
    try:
        servers = _load_servers(config, mcp_json)
    except Exception as exc:  # boundary: config errors become one clear line
        typer.echo(f"Cannot read the server configuration: {exc}", err=True)
        raise typer.Exit(2) from exc
    if server not in servers:
        known = ", ".join(sorted(servers)) or "none"
        typer.echo(f"No MCP server named {server!r} is configured (configured: {known}).", err=True)
        raise typer.Exit(2)
    try:
        result = asyncio.run(login(server, servers[server], announce=typer.echo, open_browser=open_browser))
    except LoginError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        typer.echo("Login cancelled.", err=True)
        raise typer.Exit(130) from None
    typer.echo(f"Logged in to {result.server}: {result.tool_count} tools; tokens saved to {result.token_file}")
