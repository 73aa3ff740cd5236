"""An MCP server with any number of tools shaped like real ones, for the tool-count faults.

Each tool has a realistic name, a two-sentence description and three described parameters (~140 prompt tokens in
full), so a few hundred of them are what several connected servers bring. The first tools are ones a request can
name (weather, parcels, ...); the rest are variants of the same domains, as large servers have. Calls are counted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import mcp.types as types
from mcp.client._memory import InMemoryTransport
from mcp.server import Server

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.toolset import MCPHub

DOMAINS = [
    ("weather", "Get the current weather in a city", "city", "The weather in {} is clear, 15 degrees Celsius."),
    ("parcel", "Check the delivery status of a parcel by its tracking number", "tracking_number",
     "Parcel {} is out for delivery."),
    ("invoice", "Create an invoice for a customer", "customer", "Created invoice 7 for {}."),
    ("calendar", "List the events in a calendar on a day", "day", "On {} you have a dentist appointment at 9."),
    ("ticket", "Open a support ticket about a problem", "summary", "Opened ticket 12: {}."),
    ("stock", "Get the latest price of a stock by its ticker symbol", "symbol", "{} trades at 101 dollars."),
    ("flight", "Look up the status of a flight by its number", "flight_number", "Flight {} is on time."),
    ("recipe", "Find a recipe that uses an ingredient", "ingredient", "Try a {} soup."),
]  # fmt: skip
VERBS = ["get", "list", "search", "update", "archive", "export", "summarize", "sync", "watch", "compare"]


def tool_list(n: int) -> list[types.Tool]:
    """`n` tools: one plain `get_<domain>` per domain first, then variants (`<verb>_<domain>_<i>`)."""
    tools = []
    for i in range(n):
        domain, description, key, _ = DOMAINS[i % len(DOMAINS)]
        verb = VERBS[(i // len(DOMAINS)) % len(VERBS)]
        name = f"get_{domain}" if i < len(DOMAINS) else f"{verb}_{domain}_{i}"
        tools.append(
            types.Tool(
                name=name,
                description=(
                    f"{description}{'' if i < len(DOMAINS) else f' ({verb}, variant {i})'}. Returns a short "
                    "summary with what the service knows, including timestamps and identifiers."
                ),
                input_schema={
                    "type": "object",
                    "title": f"{name}Arguments",
                    "properties": {
                        key: {"type": "string", "title": key, "description": f"The {key.replace('_', ' ')}"},
                        "limit": {
                            "type": "integer",
                            "title": "Limit",
                            "default": 5,
                            "description": "How many results to return at most",
                        },
                        "verbose": {
                            "type": "boolean",
                            "title": "Verbose",
                            "default": False,
                            "description": "Whether to include every detail",
                        },
                    },
                    "required": [key],
                },
                annotations=types.ToolAnnotations(read_only_hint=True),
            )
        )
    return tools


def many_tools_server(n: int, calls: Counter[str] | None = None) -> Server[Any]:
    """A server offering `n` tools; each call is counted in `calls` and answers with one sentence."""
    tools = tool_list(n)
    by_name = {t.name: (i, t) for i, t in enumerate(tools)}
    seen = calls if calls is not None else Counter()

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        seen[params.name] += 1
        i, _ = by_name[params.name]
        _, _, key, answer = DOMAINS[i % len(DOMAINS)]
        value = str((params.arguments or {}).get(key, ""))
        return types.CallToolResult(content=[types.TextContent(type="text", text=answer.format(value))])

    return Server("many-tools", on_list_tools=list_tools, on_call_tool=call_tool)


def many_tools_hub(sizes: dict[str, int], calls: Counter[str] | None = None) -> MCPHub:
    """A hub over in-process servers named like `sizes`' keys, each with that many tools."""
    config = MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy"})
    servers = {name: many_tools_server(n, calls) for name, n in sizes.items()}
    factories = {name: (lambda s=s: InMemoryTransport(s)) for name, s in servers.items()}
    return MCPHub({name: config for name in sizes}, transport_factories=factories)
