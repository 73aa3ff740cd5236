"""Barge-in against the real demo server over Streamable HTTP (`--faults`: hang_tool): the user's new turn
cancels the running tool, the client sends notifications/cancelled, and the server records the cancellation."""

from __future__ import annotations

import asyncio

import pytest

from voxmcp.demo.runner import DemoServerProcess
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.interaction import InteractionHandlers
from voxmcp.mcp.toolset import MCPHub
from voxmcp.voice.policies import INTERRUPTED_RESULT

from .fakes import ToolCallReply, eventually
from .harness import conversation

pytestmark = pytest.mark.timeout(90)


async def test_barge_in_cancels_hang_tool_on_the_demo_server() -> None:
    async with DemoServerProcess(faults=True) as demo:

        def hub(handlers: InteractionHandlers) -> MCPHub:
            return MCPHub({"demo": MCPServerConfig.model_validate({"url": demo.url})}, handlers=handlers)

        async with conversation([ToolCallReply("hang_tool", {}), "Okay, I stopped."], hub_factory=hub) as c:
            c.user_says("run the hang tool")
            await eventually(lambda: len(c.policies.calls) == 1, what="the tool call to start")
            await asyncio.sleep(0.3)  # the request is on the wire
            c.user_says("stop, that's taking too long")
            out = await c.wait_output(timeout_s=15)
            assert out.is_error and INTERRUPTED_RESULT in out.output
            assert c.policies.cancelled_by_user == 1
            calls = await asyncio.to_thread(demo.wait_for_calls, 1, 10.0)
            assert [(e["tool"], e["ok"]) for e in calls] == [("hang_tool", False)]
            assert "cancelled" in str(calls[0].get("error", "")).lower()
            await c.wait_said("Okay, I stopped.")
