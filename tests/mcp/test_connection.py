"""MCPConnection: calls, progress, elicitation, sampling, timeouts and cancellation, reconnects, bad servers."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp_test_servers import ServerEvents
from mcp_test_support import ServerProcess, free_port

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.connection import MCPCallError, MCPConnectError, MCPConnection
from voxmcp.mcp.interaction import InteractionHandlers

HERE = Path(__file__).parent
FAKE = str(HERE / "fake_stdio_server.py")
pytestmark = pytest.mark.timeout(60)

MakeConnection = Callable[..., MCPConnection]


def text_of(result: types.CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, types.TextContent))


async def test_call_and_list(make_memory_connection: MakeConnection) -> None:
    async with make_memory_connection() as connection:
        assert connection.state == "connected"
        assert connection.protocol_version is not None
        tools = {tool.name: tool for tool in await connection.list_tools()}
        assert {"echo", "weather", "hang", "ask_name"} <= set(tools)
        assert tools["echo"].annotations is not None and tools["echo"].annotations.read_only_hint
        result = await connection.call_tool("echo", {"message": "hi"})
        assert text_of(result) == "Echo: hi"
        weather = await connection.call_tool("weather", {"city": "Oslo"})
        assert weather.structured_content == {"city": "Oslo", "temperature_c": 21.5, "conditions": "sunny"}
    assert connection.state == "closed"
    with pytest.raises(MCPCallError, match="closed"):
        await connection.call_tool("echo", {"message": "late"})


async def test_progress_reaches_handlers(make_memory_connection: MakeConnection) -> None:
    from_handlers: list[tuple[str, str, float, float | None, str | None]] = []
    direct: list[float] = []
    handlers = InteractionHandlers(progress=lambda *args: from_handlers.append(args))
    async with make_memory_connection(handlers) as connection:
        result = await connection.call_tool("slow_progress", {"steps": 3}, on_progress=lambda p, t, m: direct.append(p))
    assert text_of(result) == "done after 3 steps"
    assert from_handlers == [
        ("test", "slow_progress", 1.0, 3.0, "step 1 of 3"),
        ("test", "slow_progress", 2.0, 3.0, "step 2 of 3"),
        ("test", "slow_progress", 3.0, 3.0, "step 3 of 3"),
    ]
    assert direct == [1.0, 2.0, 3.0]


async def test_elicitation_form_applies_defaults(
    make_memory_connection: MakeConnection, server_events: ServerEvents
) -> None:
    asked: list[dict[str, Any]] = []

    async def elicit(server: str, message: str, schema: dict[str, Any]) -> dict[str, Any]:
        asked.append(schema)
        return {"action": "accept", "content": {"name": "Ada"}}

    async with make_memory_connection(InteractionHandlers(elicit=elicit)) as connection:
        result = await connection.call_tool("ask_name", {})
    assert text_of(result) == "Hello Ada x2"
    assert server_events.elicited == [{"name": "Ada", "greeting": "Hello", "count": 2}]  # SEP-1034
    assert asked[0]["properties"]["greeting"]["default"] == "Hello"


async def test_elicitation_decline_and_url_mode(make_memory_connection: MakeConnection) -> None:
    links: list[str] = []

    async def elicit(server: str, message: str, schema: dict[str, Any]) -> str:
        return "decline"

    async def elicit_url(server: str, message: str, url: str) -> str:
        links.append(url)
        return "accept"

    handlers = InteractionHandlers(elicit=elicit, elicit_url=elicit_url)
    async with make_memory_connection(handlers) as connection:
        assert text_of(await connection.call_tool("ask_name", {})) == "user chose decline"
        assert text_of(await connection.call_tool("open_link", {})) == "url accept"
    assert links == ["https://example.com/login"]


async def test_sampling_follows_per_server_policy(make_memory_connection: MakeConnection) -> None:
    async def sample(server: str, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="short"), model="local"
        )

    handlers = InteractionHandlers(sample=sample)
    async with make_memory_connection(handlers, sampling=True) as connection:
        assert text_of(await connection.call_tool("summarize", {"text": "long"})) == "summary: short"
    async with make_memory_connection(handlers, sampling=False) as connection:
        with pytest.raises(MCPCallError, match="Sampling not supported") as info:
            await connection.call_tool("summarize", {"text": "long"})
    assert info.value.kind == "server"


async def test_progress_restarts_timeout_up_to_cap(make_memory_connection: MakeConnection) -> None:
    async with make_memory_connection(tool_timeouts={"slow_progress": 0.5}) as connection:
        # 1.2 s in total, but progress every 0.2 s: never idle for the 0.5 s timeout.
        result = await connection.call_tool("slow_progress", {"steps": 6, "delay": 0.2})
        assert text_of(result) == "done after 6 steps"
        began = time.monotonic()
        with pytest.raises(MCPCallError) as info:  # 4 s of steady progress passes the 4 x 0.3 s cap
            await connection.call_tool("slow_progress", {"steps": 20, "delay": 0.2}, timeout_s=0.3)
        assert info.value.kind == "timeout"
        assert 1.0 < time.monotonic() - began < 2.5


async def test_time_answering_the_servers_requests_is_not_the_calls_time(
    make_memory_connection: MakeConnection,
) -> None:
    """A spoken form takes longer than the tool's timeout: the user's time must not time the call out."""

    async def slow_user(server: str, message: str, schema: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(1.0)
        return {"action": "accept", "content": {"name": "Ada"}}

    async def slow_model(server: str, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        await asyncio.sleep(1.0)
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="ok"), model="m")

    handlers = InteractionHandlers(elicit=slow_user, sample=slow_model)
    timeouts = {"ask_name": 0.4, "summarize": 0.4}
    async with make_memory_connection(handlers, sampling=True, tool_timeouts=timeouts) as connection:
        assert text_of(await connection.call_tool("ask_name", {})) == "Hello Ada x2"
        assert text_of(await connection.call_tool("summarize", {"text": "long"})) == "summary: ok"


async def test_the_clock_runs_again_after_the_servers_request(
    make_memory_connection: MakeConnection, server_events: ServerEvents
) -> None:
    async def user(server: str, message: str, schema: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.6)
        return {"action": "accept", "content": {"name": "Ada"}}

    async with make_memory_connection(InteractionHandlers(elicit=user), tool_timeouts={"ask_then_hang": 0.4}) as c:
        began = time.monotonic()
        with pytest.raises(MCPCallError, match="took too long") as info:
            await c.call_tool("ask_then_hang", {})
        assert info.value.kind == "timeout"
        assert server_events.hang_started.is_set()  # the server got the answer before the call timed out
        assert 0.9 < time.monotonic() - began < 3.0  # 0.6 s of answering + a fresh 0.4 s for the server
        await asyncio.wait_for(server_events.cancelled.wait(), 3.0)


async def test_timeout_cancels_at_server(make_memory_connection: MakeConnection, server_events: ServerEvents) -> None:
    async with make_memory_connection(tool_timeouts={"hang": 0.3}) as connection:
        began = time.monotonic()
        with pytest.raises(MCPCallError, match="took too long") as info:
            await connection.call_tool("hang", {})
        assert info.value.kind == "timeout"
        assert time.monotonic() - began < 3.0
        await asyncio.wait_for(server_events.cancelled.wait(), 3.0)  # notifications/cancelled arrived
        assert text_of(await connection.call_tool("echo", {"message": "still alive"})) == "Echo: still alive"


async def test_task_cancellation_cancels_at_server(
    make_memory_connection: MakeConnection, server_events: ServerEvents
) -> None:
    async with make_memory_connection() as connection:
        call = asyncio.create_task(connection.call_tool("hang", {}))
        await asyncio.wait_for(server_events.hang_started.wait(), 3.0)
        call.cancel()  # what LiveKit does on barge-in
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(server_events.cancelled.wait(), 3.0)


async def test_refused_connection_has_clear_reason() -> None:
    port = free_port()
    connection = MCPConnection("demo", MCPServerConfig(url=f"http://127.0.0.1:{port}/mcp", connect_timeout_s=3))
    began = time.monotonic()
    with pytest.raises(MCPConnectError) as info:
        await connection.start()
    assert str(info.value) == f"I can't reach the demo server at 127.0.0.1:{port}: connection refused."
    assert time.monotonic() - began < 5.0
    assert connection.state == "failed"


async def test_missing_command_and_env_reasons() -> None:
    missing = MCPConnection("files", MCPServerConfig(command="voxmcp-no-such-command-xyz"))
    with pytest.raises(MCPConnectError, match="the command 'voxmcp-no-such-command-xyz' was not found"):
        await missing.start()
    secret = MCPConnection(
        "remote",
        MCPServerConfig(url="http://127.0.0.1:9/mcp", headers={"Authorization": "Bearer ${VOXMCP_TEST_UNSET}"}),
    )
    with pytest.raises(MCPConnectError, match="needs the environment variable VOXMCP_TEST_UNSET"):
        await secret.start()


async def test_hanging_server_connect_is_bounded() -> None:
    async def accept_and_ignore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    listener = await asyncio.start_server(accept_and_ignore, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        connection = MCPConnection("slow", MCPServerConfig(url=f"http://127.0.0.1:{port}/mcp", connect_timeout_s=1))
        began = time.monotonic()
        with pytest.raises(MCPConnectError, match="did not answer in time"):
            await connection.start()
        assert time.monotonic() - began < 8.0
    finally:
        listener.close()


async def test_http_server_restart_reconnects_and_retries(http_test_server: ServerProcess) -> None:
    config = MCPServerConfig(url=f"http://127.0.0.1:{http_test_server.port}/mcp", timeout_s=5, connect_timeout_s=5)
    async with MCPConnection("restarting", config) as connection:
        assert connection.transport == "streamable-http"
        assert text_of(await connection.call_tool("echo", {"message": "one"})) == "Echo: one"
        http_test_server.stop()
        http_test_server.start()  # same port, new process: our session id is unknown there
        assert text_of(await connection.call_tool("echo", {"message": "two"})) == "Echo: two"
        http_test_server.stop()
        with pytest.raises(MCPCallError, match=r"connection refused|not reachable|lost the connection"):
            await connection.call_tool("echo", {"message": "down"})
        http_test_server.start()
        assert text_of(await connection.call_tool("echo", {"message": "three"})) == "Echo: three"


async def test_auto_falls_back_to_legacy_sse() -> None:
    port = free_port()
    server = ServerProcess([sys.executable, str(HERE / "mcp_test_servers.py"), str(port), "sse-at-mcp"], port)
    server.start()
    try:
        async with MCPConnection("old", MCPServerConfig(url=f"http://127.0.0.1:{port}/mcp")) as connection:
            assert connection.transport == "sse"
            assert text_of(await connection.call_tool("echo", {"message": "sse"})) == "Echo: sse"
    finally:
        server.stop()


def stdio_config(mode: str, **extra: Any) -> MCPServerConfig:
    return MCPServerConfig(command=sys.executable, args=[FAKE, mode], **extra)


async def test_stdio_stderr_goes_to_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="voxmcp.mcp.connection")
    async with MCPConnection("fake", stdio_config("garbage")) as connection:
        assert connection.transport == "stdio"
        # A malformed line before the reply is logged and skipped; the call still succeeds.
        assert text_of(await connection.call_tool("answer", {})) == "All good here."
        for _ in range(50):
            if any("hello from stderr" in record.getMessage() for record in caplog.records):
                break
            await asyncio.sleep(0.05)
    messages = [record.getMessage() for record in caplog.records]
    assert any("server stderr: fake server: hello from stderr" in message for message in messages)
    assert any("unreadable" in message for message in messages)


async def test_stdio_malformed_reply_times_out_bounded() -> None:
    async with MCPConnection("fake", stdio_config("garbage-only", timeout_s=0.5)) as connection:
        began = time.monotonic()
        with pytest.raises(MCPCallError) as info:
            await connection.call_tool("answer", {})
        assert info.value.kind == "timeout"
        assert time.monotonic() - began < 4.0


async def test_stdio_oversized_result() -> None:
    async with MCPConnection("fake", stdio_config("oversized")) as connection:
        result = await connection.call_tool("answer", {})
    assert len(text_of(result)) > 3_000_000


async def test_stdio_server_exit_is_reported() -> None:
    """The server dies on the call: it may have acted first, and `answer` is not annotated as safe to repeat."""
    async with MCPConnection("fake", stdio_config("exit", connect_timeout_s=5)) as connection:
        began = time.monotonic()
        with pytest.raises(MCPCallError) as info:
            await connection.call_tool("answer", {})
        assert info.value.kind == "unknown_outcome"
        assert str(info.value) == (
            "I lost the connection to the fake server while the answer tool was running, so I don't know whether "
            "it finished; please check before asking again."
        )
        assert time.monotonic() - began < 15.0
        # A read-only call is repeated on a fresh process, and fails plainly when that one dies too.
        with pytest.raises(MCPCallError, match="lost the connection to the fake server") as again:
            await connection.call_tool("answer", {}, repeatable=True)
        assert again.value.kind == "disconnected"


class InProcessHTTP:
    """An ASGI app served by uvicorn inside the test's event loop, recording each request's method."""

    def __init__(self, app: Any) -> None:
        self.methods: list[str] = []
        self.port = free_port()

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.methods.append(scope["method"])
            await app(scope, receive, send)

        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(recording, host="127.0.0.1", port=self.port, log_level="error"))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> InProcessHTTP:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(500):  # bounded: 10 s
            if self.server.started:
                return self
            await asyncio.sleep(0.02)
        raise TimeoutError("uvicorn did not start")

    async def __aexit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


async def test_session_deleted_on_close() -> None:
    from mcp_test_servers import build_server

    async with InProcessHTTP(build_server("http").streamable_http_app()) as http:
        config = MCPServerConfig(url=f"http://127.0.0.1:{http.port}/mcp", protocol="legacy")
        async with MCPConnection("s", config) as connection:
            assert text_of(await connection.call_tool("echo", {"message": "x"})) == "Echo: x"
        assert http.methods[-1] == "DELETE"  # the session is terminated, not left to expire


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "refused access (401); log in with: voxmcp mcp login s"), (500, "answered with HTTP error 500")],
)
async def test_http_error_status_is_named(status: int, reason: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"no"})

    async with InProcessHTTP(app) as http:
        connection = MCPConnection("s", MCPServerConfig(url=f"http://127.0.0.1:{http.port}/mcp"))
        with pytest.raises(MCPConnectError) as info:
            await connection.start()
    assert reason in str(info.value)


async def test_stdio_process_stopped_on_close() -> None:
    import psutil

    def fake_servers() -> list[psutil.Process]:
        return [
            child
            for child in psutil.Process().children(recursive=True)
            if any("fake_stdio_server.py" in part for part in child.cmdline())
        ]

    async with MCPConnection("fake", stdio_config("garbage")) as connection:
        assert text_of(await connection.call_tool("answer", {})) == "All good here."
        assert len(fake_servers()) == 1
    assert fake_servers() == []


async def test_sdk_tracebacks_about_server_output_stay_in_the_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    """The SDK logs each unparseable stdout line with a pydantic traceback; users must not see it at WARNING."""
    caplog.set_level(logging.WARNING)
    async with MCPConnection("fake", stdio_config("garbage")) as connection:
        assert text_of(await connection.call_tool("answer", {})) == "All good here."
    assert not [r for r in caplog.records if r.name.startswith("mcp.") and r.levelno >= logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]

    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="mcp.client.stdio")
    async with MCPConnection("fake", stdio_config("garbage")) as connection:
        assert text_of(await connection.call_tool("answer", {})) == "All good here."
    kept = [r for r in caplog.records if r.name == "mcp.client.stdio" and (r.exc_info or r.exc_text)]
    assert kept and all(r.levelno == logging.DEBUG for r in kept)  # the traceback, at debug only


def test_retry_safety_comes_from_annotations_only() -> None:
    from voxmcp.mcp.connection import retry_safe

    assert retry_safe(types.ToolAnnotations(read_only_hint=True))
    assert retry_safe(types.ToolAnnotations(read_only_hint=False, idempotent_hint=True))
    assert not retry_safe(types.ToolAnnotations(destructive_hint=False))
    assert not retry_safe(None)
