"""MCPHub: LiveKit tools from several servers, namespacing, filters, failures, list_changed, meta-tools."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from livekit.agents import llm
from livekit.agents.llm.utils import prepare_function_arguments
from mcp.client._memory import InMemoryTransport
from mcp_test_servers import ServerEvents, build_server
from mcp_test_support import free_port

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.toolset import MCPHub, MCPTool

pytestmark = pytest.mark.timeout(60)


def memory_config(**extra: Any) -> MCPServerConfig:
    return MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy", **extra})


def memory_hub(configs: dict[str, MCPServerConfig], **kwargs: Any) -> MCPHub:
    servers = {name: build_server(name, ServerEvents()) for name in configs}
    factories = {name: (lambda server=server: InMemoryTransport(server)) for name, server in servers.items()}
    return MCPHub(configs, transport_factories=factories, **kwargs)


def by_name(tools: list[MCPTool]) -> dict[str, MCPTool]:
    return {tool.info.name: tool for tool in tools}


async def test_tools_are_livekit_raw_tools_returning_speech() -> None:
    async with memory_hub({"notes": memory_config()}) as hub:
        tools = by_name(hub.function_tools())
        assert {"echo", "weather", "delete_note"} <= set(tools)
        llm.ToolContext(list(tools.values()))  # LiveKit accepts them (unique names, valid raw schemas)
        assert tools["echo"].info.raw_schema["parameters"]["properties"]["message"]["type"] == "string"
        assert await tools["echo"]({"message": "hi"}) == "Echo: hi."
        assert await tools["weather"]({"city": "Oslo"}) == "city: Oslo; temperature c: 21.5; conditions: sunny."
        assert await tools["image"]({}) == "An image (image/png, 2 KB)."
        with pytest.raises(llm.ToolError, match=r"That didn.t work: the database is locked\."):
            await tools["fail"]({})
        # The way LiveKit's tool executor calls it: JSON arguments from the LLM -> (args, kwargs).
        args, kwargs = prepare_function_arguments(fnc=tools["echo"], json_arguments='{"message": "from llm"}')
        assert await tools["echo"](*args, **kwargs) == "Echo: from llm."


async def test_collisions_namespaced_and_filters_applied() -> None:
    configs = {
        "alpha": memory_config(allowed_tools=["echo", "weather"]),
        "beta": memory_config(denied_tools=["hang", "huge"]),
    }
    async with memory_hub(configs) as hub:
        names = set(by_name(hub.function_tools()))
        assert {"alpha_echo", "beta_echo", "alpha_weather", "beta_weather"} <= names
        assert "delete_note" in names  # only beta has it: no prefix needed
        assert not {"echo", "hang", "beta_hang", "huge"} & names
        info = hub.tool_info("beta_echo")
        assert (info.server, info.name) == ("beta", "echo")
        assert hub.tool_info("delete_note").destructive and not hub.tool_info("alpha_echo").destructive
        with pytest.raises(KeyError, match="no MCP tool named 'nope'"):
            hub.tool_info("nope")
        statuses = {status.name: status for status in hub.statuses()}
        assert statuses["alpha"].tool_count == 2 and statuses["alpha"].state == "connected"


async def test_failed_and_disabled_servers_are_reported_not_raised() -> None:
    port = free_port()
    configs = {
        "good": memory_config(),
        "down": MCPServerConfig(url=f"http://127.0.0.1:{port}/mcp"),
        "off": MCPServerConfig(url="http://127.0.0.1:9/mcp", enabled=False),
    }
    factories = {"good": lambda: InMemoryTransport(build_server("good"))}
    async with MCPHub(configs, transport_factories=factories) as hub:
        statuses = {status.name: status for status in hub.statuses()}
        assert statuses["good"].state == "connected" and statuses["good"].tool_count > 0
        assert statuses["down"].state == "failed" and statuses["down"].tool_count == 0
        assert statuses["down"].error == f"I can't reach the down server at 127.0.0.1:{port}: connection refused."
        assert statuses["off"].state == "disabled"


async def test_start_is_bounded_and_a_stuck_server_counts_as_failed() -> None:
    """A server that takes the connection and never answers must not stay "connecting" (no stand-in, no warning)."""

    async def accept_and_ignore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    listener = await asyncio.start_server(accept_and_ignore, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        hub = MCPHub(
            {"slow": MCPServerConfig(url=f"http://127.0.0.1:{port}/mcp", connect_timeout_s=10)},
            connect_timeout_s=1.0,
        )
        began = time.monotonic()
        statuses = await hub.start()
        assert time.monotonic() - began < 2.0
        assert statuses[0].state == "failed"
        assert statuses[0].error == f"The slow server at 127.0.0.1:{port} did not answer in time."
        # Asking again does not wait for the handshake still in flight: the reason comes at once.
        began = time.monotonic()
        assert (await hub.retry_failed())[0].error == statuses[0].error
        assert time.monotonic() - began < 0.5
        await asyncio.wait_for(hub.aclose(), 10)
    finally:
        listener.close()


async def test_a_late_server_replaces_its_failure_with_its_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """Down at start, up later: the background retry connects it and announces its tools."""
    import voxmcp.mcp.toolset as toolset

    monkeypatch.setattr(toolset, "_RETRY_FIRST_S", 0.2)
    up = asyncio.Event()

    def late_transport() -> Any:
        if not up.is_set():
            raise ConnectionRefusedError(111, "Connection refused")
        return InMemoryTransport(build_server("late"))

    hub = MCPHub({"late": memory_config()}, transport_factories={"late": late_transport}, connect_timeout_s=2)
    async with hub:
        assert hub.statuses()[0].state == "failed"
        changed = asyncio.Event()
        hub.on_tools_changed = lambda tools: changed.set()
        up.set()
        await asyncio.wait_for(changed.wait(), 10)
        status = hub.statuses()[0]
        assert status.state == "connected" and status.error is None and status.tool_count > 0
        assert await by_name(hub.function_tools())["echo"]({"message": "late"}) == "Echo: late."


async def test_retry_safety_follows_annotations() -> None:
    async with memory_hub({"s": memory_config()}) as hub:
        assert hub.tool_info("echo").retry_safe  # readOnlyHint
        assert not hub.tool_info("delete_note").retry_safe  # destructive
        assert not hub.tool_info("weather").retry_safe  # unannotated: assumed to have an effect


async def test_timeout_becomes_tool_error() -> None:
    async with memory_hub({"s": memory_config(tool_timeouts={"hang": 0.3})}) as hub:
        with pytest.raises(llm.ToolError) as info:
            await by_name(hub.function_tools())["hang"]({})
    # `hang` is not annotated read-only or idempotent: it may have run, so "just ask again" is not the advice.
    assert info.value.message == (
        "The s server took too long with the hang tool; I stopped waiting, but it may have finished, "
        "so please check before asking again."
    )


@pytest.mark.parametrize("protocol", ["legacy", "auto"])  # auto = 2026-07-28: via subscriptions/listen
async def test_list_changed_refreshes_tools(protocol: str) -> None:
    async with memory_hub({"s": memory_config(protocol=protocol)}) as hub:
        changed = asyncio.Event()
        seen: list[set[str]] = []

        def on_changed(tools: list[MCPTool]) -> None:
            seen.append(set(by_name(tools)))
            changed.set()

        hub.on_tools_changed = on_changed
        assert "late_tool" not in by_name(hub.function_tools())
        assert await by_name(hub.function_tools())["add_tool"]({}) == "added."
        await asyncio.wait_for(changed.wait(), 5)
        assert "late_tool" in seen[-1]
        assert await by_name(hub.function_tools())["late_tool"]({}) == "late."


async def test_long_result_cut_with_full_text_kept() -> None:
    async with memory_hub({"s": memory_config()}) as hub:
        spoken = await by_name(hub.function_tools())["huge"]({"kilobytes": 64})
        assert len(spoken) <= 400 and spoken.endswith("ask me for the rest.")
        full = hub.full_result("huge")
        assert full is not None and len(full.full_text) > 60_000


async def test_search_tools_mode_over_threshold() -> None:
    async with memory_hub({"s": memory_config()}, search_tools_threshold_chars=500) as hub:
        tools = by_name(hub.function_tools())
        assert set(tools) == {"search_tools", "call_tool"}
        found = await tools["search_tools"]({"query": "weather for a city"})
        assert found.startswith("Matching tools") and "weather: Weather for a city" in found
        assert "city (string, required)" in found
        assert await tools["call_tool"]({"name": "echo", "arguments": {"message": "x"}}) == "Echo: x."
        with pytest.raises(llm.ToolError, match="use search_tools first"):
            await tools["call_tool"]({"name": "missing"})


async def test_resources_and_prompts_as_tools() -> None:
    async with memory_hub({"s": memory_config(expose_resources=True, expose_prompts=True)}) as hub:
        tools = by_name(hub.function_tools())
        listing = await tools["read_resource"]({})
        assert "mem://note" in listing
        assert await tools["read_resource"]({"uri": "mem://note"}) == "note (text/plain): Buy milk and bread."
        prompt = await tools["get_prompt"]({"name": "briefing", "arguments": {"topic": "rain"}})
        assert "Give a two sentence briefing about rain." in prompt


async def test_tool_list_ttl_is_honoured() -> None:
    from mcp.server.caching import CacheHint

    server = build_server("ttl", cache_hints={"tools/list": CacheHint(ttl_ms=200)})  # 2026-07-28 ttlMs
    hub = MCPHub({"s": memory_config(protocol="auto")}, transport_factories={"s": lambda: InMemoryTransport(server)})
    async with hub:
        connection = hub.connection("s")
        assert connection is not None and connection.tools_ttl_ms == 200
        changed = asyncio.Event()
        hub.on_tools_changed = lambda tools: changed.set()
        hub.function_tools()  # still fresh: no refresh
        await asyncio.sleep(0.05)
        assert not changed.is_set()
        await asyncio.sleep(0.25)
        hub.function_tools()  # stale now: re-listed in the background
        await asyncio.wait_for(changed.wait(), 5)
