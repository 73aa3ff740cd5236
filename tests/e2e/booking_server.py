"""A small MCP server over Streamable HTTP whose one tool asks the user for details (form-mode elicitation).

Run as `python booking_server.py --port P --log FILE`; each elicitation's outcome is appended to FILE as a JSON line
({"action": ..., "content": ...}), so a test can assert what the server got from the user's spoken answer.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

BOOKING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "guests": {"type": "integer", "title": "number of guests", "minimum": 1, "maximum": 20},
        "seating": {"type": "string", "enum": ["inside", "terrace"], "default": "inside"},
    },
    "required": ["guests"],
}


def build(log: Path) -> MCPServer:
    server = MCPServer("booking")

    @server.tool(description="Book a table at the restaurant; asks the user how many guests.")
    async def book_table(ctx: Context) -> str:
        result = await ctx.request_context.session.elicit_form(
            "How many guests?", BOOKING_SCHEMA, related_request_id=ctx.request_id
        )
        with log.open("a") as f:
            f.write(json.dumps({"action": result.action, "content": result.content}) + "\n")
        if result.action != "accept" or result.content is None:
            return f"No table was booked: the user chose {result.action}."
        c = result.content
        return f"Booked a table for {c['guests']} guests, {c.get('seating', 'inside')}."

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    build(args.log).run("streamable-http", host="127.0.0.1", port=args.port, streamable_http_path="/mcp")


if __name__ == "__main__":
    main()
