"""The agent's wiring: greeting, and what happens when an MCP server is down."""

from __future__ import annotations

import asyncio

import pytest
from livekit.agents.llm import ToolError

from voxmcp.app import greeting_text, unreachable_server_tool
from voxmcp.config import load_settings
from voxmcp.demo.runner import free_port
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.toolset import MCPHub, ServerStatus


def test_greeting_is_fixed_and_names_down_servers() -> None:
    settings = load_settings(env={}, dotenv=False)
    up = ServerStatus(name="demo", state="connected", error=None, tool_count=7)
    down = ServerStatus(name="files", state="failed", error="connection refused", tool_count=0)
    assert greeting_text(settings, [up]) == "Hi! What can I do for you?"
    assert "can't reach the files server" in greeting_text(settings, [up, down])


def test_a_down_server_answers_with_the_real_reason() -> None:
    async def main() -> None:
        url = f"http://127.0.0.1:{free_port()}/mcp"
        hub = MCPHub({"demo": MCPServerConfig(url=url)}, connect_timeout_s=5)
        try:
            statuses = await hub.start()
            assert statuses[0].state == "failed"
            tool = unreachable_server_tool(statuses[0], hub)
            assert tool.info.name == "demo_server"
            with pytest.raises(ToolError, match="can't reach the demo server"):
                await tool({"request": "weather in Paris"})
        finally:
            await hub.aclose()

    asyncio.run(asyncio.wait_for(main(), 30))
