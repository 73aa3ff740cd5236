"""Hostile MCP servers for the fault suite: small, dependency-free, misbehaving on purpose.

Run as a script:

    python hostile_servers.py stdio MODE EFFECTS_FILE
    python hostile_servers.py http MODE PORT EFFECTS_FILE

Every server offers three tools, so one server tests both sides of the retry policy:
`charge` (no annotations: it has an effect, and repeating it repeats the effect), `lookup` (readOnlyHint) and
`set_flag` (idempotentHint). Each executed call appends one line `<tool>` to EFFECTS_FILE before anything else
happens, so a test counts how often the effect really ran. The "drop" modes drop the connection right after
the effect of the first call of each tool (the file tells a restarted process what already ran); later calls
of that tool are answered normally.

stdio modes: ok, banner (text lines on stdout before and between messages), malformed-initialize,
hang-initialize, hang-call, progress-forever, exit-on-call, crash-after-effect, die-idle (exits 0.3 s after
its first tools/list, between calls), tools-500, unsolicited (the server sends sampling, elicitation and
roots requests of its own after the handshake).

http modes (Streamable HTTP, JSON responses, raw HTTP/1.1): ok, hang-initialize (accepts, reads, never
answers), malformed-initialize, html, hang-call, progress-forever, drop-reset (a TCP reset after the
effect), drop-oversized-sse (a 2 MiB SSE event after the effect), forget-session (the first call of each
tool gets 404 for its session, unprocessed, as from a restarted server), tools-500.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
TOOLS: list[dict[str, Any]] = [
    {
        "name": "charge",
        "description": "Charge the card (an effect: every call charges again).",
        "inputSchema": {"type": "object", "properties": {"amount": {"type": "number"}}},
    },
    {
        "name": "lookup",
        "description": "Look up the balance (read-only).",
        "inputSchema": {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "set_flag",
        "description": "Set the flag (idempotent: a repeat changes nothing).",
        "inputSchema": {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": False, "idempotentHint": True, "destructiveHint": False},
    },
]
MANY_TOOLS: list[dict[str, Any]] = [
    {
        "name": f"tool_{i:03d}",
        "description": f"Tool number {i}, which does thing {i}.",
        "inputSchema": {"type": "object", "properties": {"value": {"type": "string"}}},
        "annotations": {"readOnlyHint": True},
    }
    for i in range(500)
]


# ---- helpers the tests use ---------------------------------------------------------------------------


def effects(path: Path, tool: str | None = None) -> int:
    """How many effects the server performed (of one tool, or of all)."""
    if not path.exists():
        return 0
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("reply ")]
    return len(lines) if tool is None else lines.count(tool)


def replies(path: Path) -> list[str]:
    """The `reply <method> <result|error>` lines of the `unsolicited` mode: what the client answered."""
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line.startswith("reply ")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stdio_server(mode: str, effects_file: Path, **extra: Any) -> dict[str, Any]:
    """A server table entry (voxmcp.toml / MCPServerConfig fields) that runs this file over stdio."""
    return {
        "command": sys.executable,
        "args": [str(Path(__file__).resolve()), "stdio", mode, str(effects_file)],
        **extra,
    }


class HostileHTTP:
    """This file's HTTP server in a subprocess on a free loopback port: `with HostileHTTP(mode, effects) as s`."""

    def __init__(self, mode: str, effects_file: Path) -> None:
        self.mode, self.effects_file, self.port = mode, effects_file, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def server(self, **extra: Any) -> dict[str, Any]:
        return {"url": self.url, **extra}

    def __enter__(self) -> HostileHTTP:
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "http",
            self.mode,
            str(self.port),
            str(self.effects_file),
        ]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:  # bounded
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"the hostile {self.mode} server did not start on port {self.port}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None


# ---- the protocol, shared by both transports ---------------------------------------------------------


def _record(effects_file: Path, line: str) -> None:
    with effects_file.open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _initialize_result(message: dict[str, Any]) -> dict[str, Any]:
    asked = str((message.get("params") or {}).get("protocolVersion", ""))
    return {
        "protocolVersion": asked if asked in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[0],
        "capabilities": {"tools": {}},
        "serverInfo": {"name": "hostile", "version": "0"},
    }


def _result(message_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "result": result}


def _error(message_id: Any, code: int, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": text}}


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": False}


def _tool_reply(name: str) -> dict[str, Any]:
    return _text(
        {"charge": "Charged the card.", "lookup": "The balance is 12 euros.", "set_flag": "Flag set."}.get(
            name, f"{name} done."
        )
    )


def _effect_and_first(effects_file: Path, name: str) -> bool:
    """Perform the call's effect; True when it is the first call of this tool (the one a drop mode drops)."""
    first = effects(effects_file, name) == 0
    _record(effects_file, name)
    return first


# ---- stdio -------------------------------------------------------------------------------------------


def run_stdio(mode: str, effects_file: Path) -> None:
    out = sys.stdout

    def send(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    if mode == "banner":
        out.write("Starting Hostile MCP server v1.2.3\n")
        out.write("Listening on stdio... (press Ctrl+C to quit)\n")
        out.flush()
    server_ids = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        method, message_id = message.get("method"), message.get("id")
        if method is None:  # a reply to one of our own requests
            outcome = "error" if "error" in message else "result"
            _record(effects_file, f"reply {message_id} {outcome}")
            continue
        if message_id is None:  # a notification
            if method == "notifications/initialized" and mode == "unsolicited":
                requests = [
                    ("sampling/createMessage", {"messages": [], "maxTokens": 10}),
                    ("elicitation/create", {"message": "Your PIN?", "requestedSchema": {"type": "object"}}),
                    ("roots/list", {}),
                ]
                for request, params in requests:
                    server_ids += 1
                    send({"jsonrpc": "2.0", "id": f"srv-{request}", "method": request, "params": params})
            continue
        if method == "initialize":
            if mode == "hang-initialize":
                continue
            if mode == "malformed-initialize":
                out.write('{"jsonrpc": "2.0", "id": ' + json.dumps(message_id) + ', "result": {"protocolVer\n')
                out.flush()
                continue
            send(_result(message_id, _initialize_result(message)))
        elif method == "tools/list":
            if mode == "banner":
                out.write("[info] listing tools\n")
                out.flush()
            send(_result(message_id, {"tools": MANY_TOOLS if mode == "tools-500" else TOOLS}))
            if mode == "die-idle":
                time.sleep(0.3)
                sys.exit(0)
        elif method == "tools/call":
            name = str((message.get("params") or {}).get("name", ""))
            if mode == "exit-on-call":
                sys.exit(3)
            if mode == "hang-call":
                continue
            first = _effect_and_first(effects_file, name)
            if mode == "crash-after-effect" and first:
                os._exit(1)
            if mode == "progress-forever":
                token = ((message.get("params") or {}).get("_meta") or {}).get("progressToken")
                for step in range(1, 100_000):  # bounded: the client gives up long before
                    send(
                        {
                            "jsonrpc": "2.0",
                            "method": "notifications/progress",
                            "params": {"progressToken": token, "progress": step, "message": f"step {step}"},
                        }
                    )
                    time.sleep(0.02)
                continue
            send(_result(message_id, _tool_reply(name)))
        else:
            send(_error(message_id, -32601, "Method not found"))


# ---- Streamable HTTP (raw HTTP/1.1, so that it can misbehave below the protocol) ---------------------


class _Request:
    def __init__(self, method: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.headers, self.body = method, headers, body


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method = lines[0].split(" ", 1)[0]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return _Request(method, headers, body)


def _response(status: str, body: bytes = b"", content_type: str = "application/json", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), the way a crashed proxy or a killed worker drops a connection."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def make_http_handler(mode: str, effects_file: Path) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
    forgotten: set[str] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if mode == "hang-initialize":
                    await asyncio.sleep(3600)
                    return
                if request.method == "GET":
                    writer.write(_response("405 Method Not Allowed", extra="allow: POST, DELETE\r\n"))
                    await writer.drain()
                    continue
                if request.method == "DELETE":
                    writer.write(_response("200 OK"))
                    await writer.drain()
                    continue
                if mode == "html":
                    page = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"
                    writer.write(_response("200 OK", page, "text/html"))
                    await writer.drain()
                    continue
                message = json.loads(request.body)
                method, message_id = message.get("method"), message.get("id")
                if method is None or message_id is None:
                    writer.write(_response("202 Accepted"))
                    await writer.drain()
                    continue
                if method == "initialize":
                    if mode == "malformed-initialize":
                        body = b'{"jsonrpc": "2.0", "id": ' + json.dumps(message_id).encode() + b', "result": {"pro'
                        writer.write(_response("200 OK", body))
                    else:
                        body = json.dumps(_result(message_id, _initialize_result(message))).encode()
                        writer.write(_response("200 OK", body, extra="mcp-session-id: hostile-session-1\r\n"))
                    await writer.drain()
                    continue
                if method == "tools/list":
                    tools = MANY_TOOLS if mode == "tools-500" else TOOLS
                    writer.write(_response("200 OK", json.dumps(_result(message_id, {"tools": tools})).encode()))
                    await writer.drain()
                    continue
                if method != "tools/call":
                    writer.write(
                        _response("200 OK", json.dumps(_error(message_id, -32601, "Method not found")).encode())
                    )
                    await writer.drain()
                    continue
                name = str((message.get("params") or {}).get("name", ""))
                if mode == "hang-call":
                    await asyncio.sleep(3600)
                    return
                if mode == "forget-session" and name not in forgotten:
                    forgotten.add(name)
                    writer.write(_response("404 Not Found", b"unknown session", "text/plain"))
                    await writer.drain()
                    continue
                first = _effect_and_first(effects_file, name)
                if mode == "drop-reset" and first:
                    _reset(writer)
                    return
                if mode in ("drop-oversized-sse", "progress-forever"):
                    await _sse_reply(writer, mode, message, first)
                    return
                writer.write(_response("200 OK", json.dumps(_result(message_id, _tool_reply(name))).encode()))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if not writer.transport.is_closing():
                writer.close()

    return handle


async def _sse_reply(writer: asyncio.StreamWriter, mode: str, message: dict[str, Any], first: bool) -> None:
    """Answer a call on an SSE stream (close-delimited): one oversized event, or progress without end."""
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
    )
    message_id = message.get("id")
    name = str((message.get("params") or {}).get("name", ""))
    if mode == "drop-oversized-sse":
        if first:
            huge = _result(message_id, _text("x" * (2 * 1024 * 1024)))
            writer.write(b"event: message\ndata: " + json.dumps(huge).encode() + b"\n\n")
        else:
            writer.write(
                b"event: message\ndata: " + json.dumps(_result(message_id, _tool_reply(name))).encode() + b"\n\n"
            )
        await writer.drain()
        writer.close()
        return
    token = ((message.get("params") or {}).get("_meta") or {}).get("progressToken")
    for step in range(1, 100_000):  # bounded: the client gives up long before
        note = {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": token, "progress": step, "message": f"step {step}"},
        }
        writer.write(b"event: message\ndata: " + json.dumps(note).encode() + b"\n\n")
        await writer.drain()
        await asyncio.sleep(0.02)


async def run_http(mode: str, port: int, effects_file: Path) -> None:
    server = await asyncio.start_server(make_http_handler(mode, effects_file), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    kind, mode = sys.argv[1], sys.argv[2]
    if kind == "stdio":
        run_stdio(mode, Path(sys.argv[3]))
    elif kind == "http":
        try:
            asyncio.run(run_http(mode, int(sys.argv[3]), Path(sys.argv[4])))
        except KeyboardInterrupt:
            pass
    else:
        raise SystemExit(f"unknown kind {kind!r}: stdio or http")


if __name__ == "__main__":
    main()
