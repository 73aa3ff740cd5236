"""In-process MCP servers for the MCP layer's tests (built on the SDK's `MCPServer`)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import mcp.types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

TINY_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2040).decode()


class Weather(BaseModel):
    city: str
    temperature_c: float
    conditions: str


class ServerEvents:
    """What the test server observed, so tests can assert on the server side."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()
        self.hang_started = asyncio.Event()
        self.elicited: list[dict[str, Any] | None] = []
        self.calls: list[str] = []


def build_server(name: str = "test", events: ServerEvents | None = None, **options: Any) -> MCPServer:
    """A server with one tool per behaviour the client layer must handle (`options` go to MCPServer)."""
    seen = events or ServerEvents()
    server = MCPServer(name, **options)

    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    async def echo(message: str) -> str:
        """Repeat the message."""
        seen.calls.append("echo")
        return f"Echo: {message}"

    @server.tool()
    async def weather(city: str) -> Weather:
        """Weather for a city (structured)."""
        return Weather(city=city, temperature_c=21.5, conditions="sunny")

    @server.tool(annotations=types.ToolAnnotations(destructive_hint=True))
    async def delete_note(note_id: int) -> str:
        """Delete a note."""
        return f"deleted {note_id}"

    @server.tool()
    async def image() -> list[types.ContentBlock]:
        """A small image."""
        return [types.ImageContent(type="image", data=TINY_PNG, mime_type="image/png")]

    @server.tool()
    async def links() -> list[types.ContentBlock]:
        """A resource link and an embedded resource."""
        return [
            types.ResourceLink(
                type="resource_link", uri="file:///docs/readme.txt", name="readme.txt", mime_type="text/plain"
            ),
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(uri="mem://note", mime_type="text/plain", text="Buy milk."),
            ),
        ]

    @server.tool()
    async def fail() -> str:
        """Always fails."""
        raise ToolError("the database is locked. Try again later.")

    @server.tool()
    async def huge(kilobytes: int = 512) -> str:
        """An oversized result."""
        return "This is a long sentence about nothing. " * (kilobytes * 1024 // 40)

    @server.tool()
    async def slow_progress(steps: int, ctx: Context, delay: float = 0.01) -> str:
        """Reports progress."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
            await asyncio.sleep(delay)
        return f"done after {steps} steps"

    async def wait_until_cancelled() -> str:
        seen.hang_started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.cancelled.set()
            raise
        return "unreachable"

    @server.tool()
    async def hang() -> str:
        """Never answers (until cancelled)."""
        return await wait_until_cancelled()

    @server.tool()
    async def ask_name(ctx: Context) -> str:
        """Form elicitation with defaults."""
        result = await ctx.request_context.session.elicit_form(
            "What is your name?",
            {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "greeting": {"type": "string", "default": "Hello"},
                    "count": {"type": "integer", "default": 2},
                },
                "required": ["name"],
            },
            related_request_id=ctx.request_id,
        )
        seen.elicited.append(result.content)
        if result.action != "accept" or result.content is None:
            return f"user chose {result.action}"
        return f"{result.content['greeting']} {result.content['name']} x{result.content['count']}"

    @server.tool()
    async def ask_then_hang(ctx: Context) -> str:
        """Form elicitation, then no answer (until cancelled): the timeout must run again after the user's turn."""
        await ctx.request_context.session.elicit_form(
            "Name?",
            {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            related_request_id=ctx.request_id,
        )
        return await wait_until_cancelled()

    @server.tool()
    async def open_link(ctx: Context) -> str:
        """URL elicitation."""
        result = await ctx.elicit_url("Please sign in", "https://example.com/login", "elic-1")
        return f"url {result.action}"

    @server.tool()
    async def summarize(text: str, ctx: Context) -> str:
        """Asks the client's LLM (sampling)."""
        reply = await ctx.request_context.session.create_message(
            [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=text))],
            max_tokens=20,
            related_request_id=ctx.request_id,
        )
        content = reply.content
        return f"summary: {content.text if isinstance(content, types.TextContent) else '?'}"

    @server.tool()
    async def add_tool(ctx: Context) -> str:
        """Adds a tool and announces tools/list_changed."""

        @server.tool(name="late_tool")
        async def late_tool() -> str:
            """Added at run time."""
            return "late"

        if ctx.protocol_version in ("2026-07-28",):
            await ctx.notify_tools_changed()  # subscriptions/listen subscribers
        else:
            await ctx.request_context.session.send_tool_list_changed()
        return "added"

    @server.resource("mem://note", mime_type="text/plain")
    async def note() -> str:
        """A note."""
        return "Buy milk and bread."

    @server.prompt()
    async def briefing(topic: str) -> str:
        """Instructions for a briefing."""
        return f"Give a two sentence briefing about {topic}."

    return server


def main() -> None:
    """`python tests/mcp/mcp_test_servers.py PORT [streamable-http|sse|sse-at-mcp]`: serve `build_server` locally."""
    import sys

    import uvicorn

    port = int(sys.argv[1])
    kind = sys.argv[2] if len(sys.argv) > 2 else "streamable-http"
    server = build_server("http-test")
    if kind == "sse":
        app = server.sse_app()
    elif kind == "sse-at-mcp":  # legacy SSE on the path a Streamable HTTP client tries first
        app = server.sse_app(sse_path="/mcp", message_path="/messages/")
    else:
        app = server.streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
