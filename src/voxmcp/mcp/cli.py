"""`voxmcp mcp ...`: inspect and call the configured MCP servers (servers, tools, call, login)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import httpx2

    from voxmcp.mcp.config import MCPServerConfig
    from voxmcp.mcp.toolset import MCPHub

app = typer.Typer(help="Inspect and call the configured MCP servers.", no_args_is_help=True)
logger = logging.getLogger(__name__)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="voxmcp.toml with [mcp.servers.*] (default: ./voxmcp.toml)")
]
McpJsonOption = Annotated[
    Path | None, typer.Option("--mcp-json", help='A desktop-style {"mcpServers": {...}} JSON file')
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Bound on connecting, in seconds", min=0.1)]


ServersLoader = Callable[[Path | None], "dict[str, MCPServerConfig]"]
"""Reads the server table from a voxmcp.toml path (None: the usual one); may raise with a one-line message."""

_settings_loader: ServersLoader | None = None


def use_settings_loader(loader: ServersLoader) -> None:
    """Let `--config` read voxmcp.toml through the app's settings loader.

    The top-level `voxmcp` command sets this when it mounts these commands: the whole Settings model lives above
    the MCP layer, so this module must not import it. Without a loader only `--mcp-json` works.
    """
    global _settings_loader
    _settings_loader = loader


def load_servers(config: Path | None, mcp_json: Path | None) -> dict[str, MCPServerConfig]:
    """The server table from `--mcp-json`, else from voxmcp.toml (via the app's settings loader)."""
    from voxmcp.mcp.config import MCPConfigError, load_mcp_servers_json

    if mcp_json is not None:
        try:
            return load_mcp_servers_json(mcp_json)
        except MCPConfigError as exc:
            raise typer.BadParameter(str(exc), param_hint="--mcp-json") from exc
    if _settings_loader is None:
        raise typer.BadParameter(
            "reading voxmcp.toml needs the voxmcp command (voxmcp mcp ...); use --mcp-json FILE instead",
            param_hint="--config",
        )
    try:
        return _settings_loader(config)
    except Exception as exc:  # ConfigError and friends: their message names the file and the key
        raise typer.BadParameter(str(exc), param_hint="--config") from exc


def _auth_factory() -> Any:
    """`build_auth` from the auth package when present (tokens from `voxmcp mcp login`), else no auth."""
    try:
        from voxmcp.mcp.auth.build import build_auth
    except ImportError:
        return None

    def factory(name: str, config: MCPServerConfig) -> httpx2.Auth | None:
        auth: httpx2.Auth | None = build_auth(name, config)
        return auth

    return factory


def _select(servers: dict[str, MCPServerConfig], server: str) -> dict[str, MCPServerConfig]:
    if server not in servers:
        known = ", ".join(sorted(servers)) or "none configured"
        raise typer.BadParameter(f"no server named {server!r} (known: {known})", param_hint="SERVER")
    return {server: servers[server]}


def _quiet_layer_logs() -> None:
    """These commands print every failure as one sentence themselves; the MCP layer's warnings about the same
    failure would only repeat it on stderr. VOXMCP_LOG_LEVEL, when set, still shows them."""
    if not os.environ.get("VOXMCP_LOG_LEVEL"):
        logging.getLogger("voxmcp.mcp").setLevel(logging.ERROR)


async def _with_hub(servers: dict[str, MCPServerConfig], timeout_s: float, body: Any) -> Any:
    from voxmcp.mcp.toolset import MCPHub

    _quiet_layer_logs()
    hub: MCPHub = MCPHub(servers, auth_factory=_auth_factory(), connect_timeout_s=timeout_s)
    try:
        await hub.start(keep_trying=False)  # one look: a server still connecting after the bound counts as failed
        return await body(hub)
    finally:
        await hub.aclose()


def _fail_if_not_connected(hub: MCPHub, server: str) -> None:
    status = next(s for s in hub.statuses() if s.name == server)
    if status.state != "connected":
        typer.echo(f"{server}: {status.state}: {status.error or 'not connected yet'}", err=True)
        raise typer.Exit(2)


@app.command("servers")
def servers_command(config: ConfigOption = None, mcp_json: McpJsonOption = None, timeout: TimeoutOption = 10.0) -> None:
    """Connect to every configured server and show its state, transport and tool count."""
    servers = load_servers(config, mcp_json)
    if not servers:
        typer.echo("No MCP servers configured.")
        return

    async def show(hub: MCPHub) -> None:
        for status in hub.statuses():
            connection = hub.connection(status.name)
            transport = connection.transport if connection is not None else None
            version = connection.protocol_version if connection is not None else None
            line = f"{status.name}: {status.state}"
            if status.state == "connected":
                line += f" ({transport}, protocol {version}), {status.tool_count} tools"
            if status.error:
                line += f" - {status.error}"
            typer.echo(line)
        typer.echo(f"started in {hub.started_in_s or 0:.2f} s")

    asyncio.run(_with_hub(servers, timeout, show))


@app.command("tools")
def tools_command(
    server: Annotated[str, typer.Argument(help="Server name")],
    config: ConfigOption = None,
    mcp_json: McpJsonOption = None,
    timeout: TimeoutOption = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tools' JSON schemas")] = False,
) -> None:
    """List one server's tools (after allow/deny filtering), with annotations."""
    selected = _select(load_servers(config, mcp_json), server)

    async def show(hub: MCPHub) -> None:
        _fail_if_not_connected(hub, server)
        infos = hub.tool_infos()
        if as_json:
            payload = [
                {
                    "name": info.exposed_name,
                    "description": info.description,
                    "inputSchema": info.input_schema,
                    "annotations": info.annotations.model_dump(by_alias=True, exclude_none=True)
                    if info.annotations
                    else None,
                }
                for info in infos
            ]
            typer.echo(json.dumps(payload, indent=2))
            return
        for info in infos:
            flags = []
            if info.annotations is not None and info.annotations.read_only_hint:
                flags.append("read-only")
            if info.destructive:
                flags.append("destructive")
            marker = f" [{', '.join(flags)}]" if flags else ""
            first_line = next(iter((info.description or "").strip().splitlines()), "")
            typer.echo(f"{info.exposed_name}{marker}: {first_line}")

    asyncio.run(_with_hub(selected, timeout, show))


@app.command("call")
def call_command(
    server: Annotated[str, typer.Argument(help="Server name")],
    tool: Annotated[str, typer.Argument(help="Tool name (as the server names it)")],
    args: Annotated[str, typer.Option("--args", help="Tool arguments as a JSON object")] = "{}",
    config: ConfigOption = None,
    mcp_json: McpJsonOption = None,
    timeout: TimeoutOption = 10.0,
    full: Annotated[bool, typer.Option("--full", help="Print the full result, not the spoken cut")] = False,
) -> None:
    """Call one tool and print what the voice agent would say.

    Exit status: 0 done, 1 the call failed, 2 the server or tool is not there, 3 the connection dropped while a
    tool that is not read-only or idempotent was running: it may or may not have run (it is never repeated).
    """
    try:
        arguments = json.loads(args)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc.msg} at column {exc.colno}", param_hint="--args") from exc
    if not isinstance(arguments, dict):
        raise typer.BadParameter('must be a JSON object, e.g. \'{"city": "Oslo"}\'', param_hint="--args")
    selected = _select(load_servers(config, mcp_json), server)

    async def call(hub: MCPHub) -> int:
        from livekit.agents.llm import ToolError

        from voxmcp.mcp.errors import MCPCallError

        _fail_if_not_connected(hub, server)
        info = next((i for i in hub.tool_infos() if i.name == tool), None)
        if info is None:
            known = ", ".join(sorted(i.name for i in hub.tool_infos())) or "none"
            typer.echo(f"{server} has no (allowed) tool {tool!r}; tools: {known}", err=True)
            return 2
        try:
            result = await hub.call_speakable(info, arguments)
        except ToolError as exc:
            typer.echo(exc.message, err=True)
            cause = exc.__cause__
            return 3 if isinstance(cause, MCPCallError) and cause.kind == "unknown_outcome" else 1
        typer.echo(result.full_text if full else result.text)
        return 1 if result.is_error else 0

    code = asyncio.run(_with_hub(selected, timeout, call))
    if code:
        raise typer.Exit(code)


@app.command("login")
def login_command(
    server: Annotated[str, typer.Argument(help="Name of the configured MCP server to log in to.")],
    config: ConfigOption = None,
    mcp_json: McpJsonOption = None,
    open_browser: Annotated[
        bool, typer.Option("--open-browser/--no-open-browser", help="Also open the URL in a browser.")
    ] = False,
) -> None:
    """Authorize voxmcp for a server: print the URL, catch the redirect on a loopback port, store tokens."""
    from voxmcp.mcp.login import LoginError, login

    try:
        servers = load_servers(config, mcp_json)
    except typer.BadParameter as exc:  # boundary: config errors become one clear line
        typer.echo(f"Cannot read the server configuration: {exc.message}", err=True)
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
