"""A deliberately misbehaving stdio MCP server: `python fake_stdio_server.py MODE`.

Modes: `garbage` (a malformed line before each tools/call reply), `garbage-only` (a malformed line and no
reply), `oversized` (a multi-megabyte result), `exit` (the process dies on tools/call), `stderr` (writes
to stderr, which the client must forward to its log).
"""

from __future__ import annotations

import json
import sys


def reply(message_id: object, result: dict[str, object]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message_id, "result": result}) + "\n")
    sys.stdout.flush()


def main() -> None:
    mode = sys.argv[1]
    for line in sys.stdin:
        message = json.loads(line)
        method, message_id = message.get("method"), message.get("id")
        if message_id is None:
            continue  # notifications
        if method == "initialize":
            sys.stderr.write("fake server: hello from stderr\n")
            sys.stderr.flush()
            reply(
                message_id,
                {
                    "protocolVersion": message["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "fake", "version": "0"},
                },
            )
        elif method == "tools/list":
            tool = {"name": "answer", "description": "Answers.", "inputSchema": {"type": "object"}}
            reply(message_id, {"tools": [tool]})
        elif method == "tools/call":
            if mode == "exit":
                sys.exit(3)
            if mode in ("garbage", "garbage-only"):
                sys.stdout.write('{"jsonrpc": "2.0", "id": \n')
                sys.stdout.flush()
                if mode == "garbage-only":
                    continue
            text = "All good here. " * (250_000 if mode == "oversized" else 1)
            reply(message_id, {"content": [{"type": "text", "text": text.strip()}], "isError": False})
        else:
            sys.stdout.write(
                json.dumps(
                    {"jsonrpc": "2.0", "id": message_id, "error": {"code": -32601, "message": "Method not found"}}
                )
                + "\n"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
