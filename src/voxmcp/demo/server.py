"""The bundled demo MCP server: offline tools a voice demo can use, over Streamable HTTP on loopback."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from voxmcp.demo.audit import AuditLog
from voxmcp.demo.clock import LocalTime, local_time
from voxmcp.demo.notes import Note, NoteList, NoteStore, default_db_path, speak_note_list
from voxmcp.demo.parcels import PackageStatus, speak_package_status, track_package
from voxmcp.demo.tool_calls import ToolCallMiddleware
from voxmcp.demo.units import Conversion, convert, speak_conversion
from voxmcp.demo.weather import WeatherReport, lookup_weather, speak_weather

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8931
MCP_PATH = "/mcp"
SERVER_NAME = "voxmcp-demo"

_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


def _spoken(text: str, model: BaseModel) -> CallToolResult:
    """A result whose text a voice reads and whose structured content a program parses."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json", by_alias=True),
    )


def build_server(
    db_path: Path | str | None = None,
    faults: bool = False,
    *,
    audit_log: Path | str | None = None,
    slow_step_s: float = 1.0,
) -> MCPServer:
    """The demo server with its tools registered; `faults` adds fail_tool and hang_tool for tests."""
    store = NoteStore(Path(db_path) if db_path is not None else default_db_path())
    server: MCPServer = MCPServer(
        SERVER_NAME,
        title="voxmcp demo",
        instructions=(
            "Offline demo tools: notes, weather, time, unit conversion and package tracking. "
            "Results are short sentences meant to be spoken."
        ),
        version="0.1.0",
        log_level="WARNING",
    )
    server.middleware.append(ToolCallMiddleware(server, AuditLog(Path(audit_log)) if audit_log else None))

    @server.tool(
        description="Save a short note for the user (when they say remember, note or write down).",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False),
    )
    def add_note(
        text: Annotated[str, Field(description="What the note says", min_length=1, max_length=2000)],
    ) -> Annotated[CallToolResult, Note]:
        note = store.add(text)
        return _spoken(f"Saved note {note.id}: {note.text}", note)

    @server.tool(description="List all saved notes with their numbers.", annotations=_READ_ONLY)
    def list_notes() -> Annotated[CallToolResult, NoteList]:
        notes = store.list()
        return _spoken(speak_note_list(notes), notes)

    @server.tool(
        description="Delete one saved note by its number.",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    def delete_note(
        note_id: Annotated[int, Field(description="The note number from list_notes", ge=1)],
    ) -> Annotated[CallToolResult, Note]:
        note = store.delete(note_id)
        return _spoken(f"Deleted note {note.id}: {note.text}", note)

    @server.tool(description="Get the current weather in a city.", annotations=_READ_ONLY)
    def get_weather(
        city: Annotated[str, Field(description="City name, e.g. Paris", min_length=1)],
    ) -> Annotated[CallToolResult, WeatherReport]:
        report = lookup_weather(city)
        return _spoken(speak_weather(report), report)

    @server.tool(description="Get the current time in a city or time zone.", annotations=_READ_ONLY)
    def get_time(
        timezone: Annotated[
            str, Field(description="City name like Tokyo, or time zone like Europe/Paris", min_length=1)
        ],
    ) -> Annotated[CallToolResult, LocalTime]:
        moment = local_time(timezone)
        return _spoken(f"In {moment.place} it is {moment.spoken}.", moment)

    @server.tool(
        description="Convert a number between units of length, mass, temperature, volume or speed.",
        annotations=_READ_ONLY,
    )
    def convert_units(
        value: Annotated[float, Field(description="The number to convert")],
        from_unit: Annotated[str, Field(description="Unit to convert from, e.g. km", min_length=1)],
        to_unit: Annotated[str, Field(description="Unit to convert to, e.g. miles", min_length=1)],
    ) -> Annotated[CallToolResult, Conversion]:
        conversion = convert(value, from_unit, to_unit)
        return _spoken(speak_conversion(conversion), conversion)

    @server.tool(
        description="Check where a package is by its tracking number. Takes a few seconds.",
        annotations=_READ_ONLY,
    )
    async def check_package_status(
        tracking_id: Annotated[str, Field(description="The tracking number, letters and digits", min_length=1)],
        ctx: Context,
    ) -> Annotated[CallToolResult, PackageStatus]:
        async def report(progress: float, total: float, message: str) -> None:
            await ctx.report_progress(progress, total, message)

        status = await track_package(tracking_id, report, slow_step_s)
        return _spoken(speak_package_status(status), status)

    if faults:
        _add_fault_tools(server)
    _drop_schema_titles(server)
    return server


def _drop_schema_titles(server: MCPServer) -> None:
    """Remove pydantic's generated titles ("City", "get_weatherArguments"): they repeat the names and cost
    a small model prompt tokens. Validation uses the pydantic model, not this dict, so nothing else changes."""
    for tool in server._tool_manager.list_tools():
        schema = tool.parameters
        schema.pop("title", None)
        for spec in schema.get("properties", {}).values():
            if isinstance(spec, dict):
                spec.pop("title", None)


def _add_fault_tools(server: MCPServer) -> None:
    """Tools that misbehave on purpose, to test how a client copes."""

    @server.tool(description="Test tool that always fails.", annotations=_READ_ONLY)
    def fail_tool() -> str:
        raise RuntimeError("fail_tool failed on purpose")

    @server.tool(description="Test tool that never answers until cancelled.", annotations=_READ_ONLY)
    async def hang_tool(
        seconds: Annotated[float, Field(description="How long to hang", ge=0)] = 3600.0,
    ) -> str:
        await anyio.sleep(seconds)
        return f"Woke up after {seconds:g} seconds."


def run(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    db_path: Path | str | None = None,
    audit_log: Path | str | None = None,
    faults: bool = False,
    *,
    slow_step_s: float = 1.0,
) -> None:
    """Serve the demo tools on http://host:port/mcp until interrupted (blocking)."""
    server = build_server(db_path, faults, audit_log=audit_log, slow_step_s=slow_step_s)
    logger.info(
        "demo MCP server starting",
        extra={"url": f"http://{host}:{port}{MCP_PATH}", "faults": faults, "audit_log": str(audit_log or "")},
    )
    server.run("streamable-http", host=host, port=port, streamable_http_path=MCP_PATH)
