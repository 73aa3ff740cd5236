"""An in-process MCP server whose tools exercise the voice policies, and a hub connected to it."""

from __future__ import annotations

import asyncio
from typing import Any

import mcp.types as types
from mcp.client._memory import InMemoryTransport
from mcp.server.mcpserver import Context, MCPServer

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.interaction import InteractionHandlers
from voxmcp.mcp.toolset import MCPHub

BOOKING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "guests": {"type": "integer", "title": "number of guests", "minimum": 1, "maximum": 20},
        "seating": {"type": "string", "enum": ["inside", "terrace"], "default": "inside"},
        "note": {"type": "string", "default": "none"},
    },
    "required": ["guests"],
}


class ServerLog:
    """What the server saw: calls, cancellations, elicitation answers."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.deleted: list[int] = []
        self.cancelled = asyncio.Event()
        self.hang_started = asyncio.Event()
        self.elicited: list[tuple[str, dict[str, Any] | None]] = []


def build_voice_server(log: ServerLog, *, slow_s: float = 1.5) -> MCPServer:
    server = MCPServer("voicetest")

    @server.tool(annotations=types.ToolAnnotations(destructive_hint=True))
    async def delete_note(note_id: int) -> str:
        """Delete a note by its number."""
        log.calls.append("delete_note")
        log.deleted.append(note_id)
        return f"Deleted note {note_id}."

    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    async def quick() -> str:
        """Answers at once."""
        log.calls.append("quick")
        return "Quick answer."

    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    async def slow(ctx: Context) -> str:
        """Takes a while and reports progress."""
        log.calls.append("slow")
        steps = 3
        for i in range(steps):
            await ctx.report_progress(i, steps, None)
            await asyncio.sleep(slow_s / steps)
        return "Slow answer."

    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    async def hang() -> str:
        """Never answers until cancelled."""
        log.calls.append("hang")
        log.hang_started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.cancelled.set()
            raise
        return "unreachable"

    @server.tool()
    async def book_table(ctx: Context) -> str:
        """Book a table; asks the user for the details."""
        result = await ctx.request_context.session.elicit_form(
            "How many guests, and inside or on the terrace?", BOOKING_SCHEMA, related_request_id=ctx.request_id
        )
        log.elicited.append((result.action, result.content))
        if result.action != "accept" or result.content is None:
            return f"Booking not made: the user chose {result.action}."
        c = result.content
        return f"Booked for {c['guests']} guests, {c['seating']}, note {c['note']}."

    @server.tool()
    async def sign_in(ctx: Context) -> str:
        """Asks the user to open a sign-in link."""
        result = await ctx.elicit_url("Please sign in to continue", "https://example.com/login?x=1", "elic-1")
        log.elicited.append((result.action, None))
        return f"Sign-in: {result.action}."

    return server


def voice_hub(log: ServerLog, handlers: InteractionHandlers, **server_options: Any) -> MCPHub:
    server = build_voice_server(log, **server_options)
    config = MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy"})
    return MCPHub(
        {"voicetest": config}, handlers=handlers, transport_factories={"voicetest": lambda: InMemoryTransport(server)}
    )
