"""MCP servers whose tool results are hostile: huge, deep, many-part, built to make regexes backtrack.

Each tool answers one kind of oversized or pathological `CallToolResult`, so a fault test can ask for it through
`MCPHub` (in-process, with `transport_factories`) and check what the user would hear, and how long it took.

The SDK's own server cannot send structured content deeper than pydantic serializes (~250 levels), so the same
tools are also served over stdio by running this file (`python result_servers.py stdio`, standard library
only, so it starts fast): there the JSON is written by hand, as a server in any language could.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server import Server

    from voxmcp.mcp.toolset import MCPHub

BACKTRACK_UNIT = " *a*b"
"""Made the old italic rule scan to the end of the line from every `*`: 60 kB took ~20 s, 300 kB never ended."""
WHITESPACE_UNIT = "\t \t "
"""Made the old table-rule pattern (`^\\s*...{3,}...\\s*$`) cubic on one long line of blanks."""
TOOL_NAMES = (
    "huge_text",
    "huge_blank",
    "huge_json",
    "deep_json",
    "deep_structured",
    "many_parts",
    "huge_image",
    "huge_error",
    "evil_pattern",
)
EVIL_PATTERN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}},
    "patternProperties": {"^(b+)+$": {"type": "string"}},
}
"""An output schema whose regex backtracks exponentially on the server's own output ("aaa...a!")."""


def deep_json_text(depth: int) -> str:
    """`{"level": {"level": ... 0}}` `depth` levels deep, as a string (json.dumps would hit the recursion limit)."""
    return '{"level": ' * depth + "0" + "}" * depth


def deep_object(depth: int) -> dict[str, Any]:
    """The same object as a Python value, built without recursion."""
    value: dict[str, Any] = {"level": 0}
    for _ in range(depth - 1):
        value = {"level": value}
    return value


RECURSIVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {"node": {"type": ["object", "integer"], "properties": {"level": {"$ref": "#/$defs/node"}}}},
    "properties": {"level": {"$ref": "#/$defs/node"}},
}
"""An output schema that follows the data down: validating 10,000 levels against it would recurse 10,000 times."""


def _text(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}]


def result_dict(name: str, size: int) -> dict[str, Any]:
    """The tool's result as JSON-ready data (wire field names); `size` is characters, bytes, levels or parts.

    `deep_structured` carries its structured content separately (see `deep_object` / `deep_json_text`)."""
    if name == "huge_text":
        return {"content": _text((BACKTRACK_UNIT * (size // len(BACKTRACK_UNIT) + 1))[:size])}
    if name == "huge_blank":
        return {"content": _text("Start." + WHITESPACE_UNIT * (size // len(WHITESPACE_UNIT)) + "x")}
    if name == "huge_json":
        items = ", ".join(f'{{"id": {i}, "title": "Item {i}"}}' for i in range(size // 30))
        return {"content": _text(f'{{"items": [{items}]}}')}
    if name in ("deep_json", "deep_structured"):
        return {"content": _text(deep_json_text(size))}
    if name == "many_parts":
        return {"content": [{"type": "text", "text": f"Part {i}."} for i in range(size)]}
    if name == "huge_image":
        data = base64.b64encode(b"\x00" * size).decode()
        return {"content": [{"type": "image", "data": data, "mimeType": "image/png"}]}
    if name == "evil_pattern":
        return {"content": _text("Code checked."), "structuredContent": {"code": "a" * size + "!"}}
    if name == "huge_error":
        return {"content": _text("Error: " + BACKTRACK_UNIT * (size // len(BACKTRACK_UNIT))), "isError": True}
    raise ValueError(name)


def tool_dicts() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "description": f"Return a hostile result ({name.replace('_', ' ')}) of the given size.",
            "inputSchema": {"type": "object", "properties": {"size": {"type": "integer"}}, "required": ["size"]},
            **({"outputSchema": RECURSIVE_SCHEMA} if name == "deep_structured" else {}),
            **({"outputSchema": EVIL_PATTERN_SCHEMA} if name == "evil_pattern" else {}),
            "annotations": {"readOnlyHint": True},
        }
        for name in TOOL_NAMES
    ]


# ---- in-process, through the SDK's low-level server ----------------------------------------------------


def hostile_results_server() -> Server[Any]:
    """A server whose every tool returns one hostile result."""
    import mcp.types as types
    from mcp.server import Server

    tools = [types.Tool.model_validate(tool) for tool in tool_dicts()]

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        size = int((params.arguments or {}).get("size", 0))
        result = types.CallToolResult.model_validate(result_dict(params.name, size))
        if params.name == "deep_structured":
            result.structured_content = deep_object(size)
        return result

    return Server("hostile-results", on_list_tools=list_tools, on_call_tool=call_tool)


def hostile_results_hub() -> MCPHub:
    """A hub over one in-process `hostile_results_server` named "results"."""
    from mcp.client._memory import InMemoryTransport

    from voxmcp.mcp.config import MCPServerConfig
    from voxmcp.mcp.toolset import MCPHub

    config = MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy"})
    server = hostile_results_server()
    return MCPHub({"results": config}, transport_factories={"results": lambda: InMemoryTransport(server)})


# ---- the same tools over stdio, JSON written by hand ---------------------------------------------------


def stdio_server_table() -> dict[str, Any]:
    """A server table entry (voxmcp.toml fields) that runs this file as a stdio server."""
    return {"command": sys.executable, "args": [str(Path(__file__).resolve()), "stdio"]}


def _wire_result(name: str, size: int) -> str:
    """The result's JSON text; deep structured content is written as a string (no recursion anywhere)."""
    encoded = json.dumps(result_dict(name, size))
    if name == "deep_structured":
        return encoded[:-1] + f', "structuredContent": {deep_json_text(size)}}}'
    return encoded


def run_stdio() -> None:
    """Answer initialize, tools/list and tools/call, one JSON-RPC message per line; ignore the rest."""
    for line in sys.stdin:
        message = json.loads(line) if line.strip() else {}
        method, message_id = message.get("method"), message.get("id")
        if message_id is None or method is None:
            continue
        params = message.get("params") or {}
        if method == "initialize":
            result = json.dumps(
                {
                    "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "hostile-results", "version": "0"},
                }
            )
        elif method == "tools/list":
            result = json.dumps({"tools": tool_dicts()})
        elif method == "tools/call":
            result = _wire_result(str(params.get("name")), int((params.get("arguments") or {}).get("size", 0)))
        else:
            result = "{}"
        sys.stdout.write(f'{{"jsonrpc": "2.0", "id": {json.dumps(message_id)}, "result": {result}}}\n')
        sys.stdout.flush()


if __name__ == "__main__" and sys.argv[1:] == ["stdio"]:
    run_stdio()
