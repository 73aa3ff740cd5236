"""Integration: voxmcp's MCP layer against the reference servers (server-everything over Streamable HTTP and
SSE, mcp-server-time over stdio). Install them with tests/mcp/node/install.sh and `pip install mcp-server-time`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp_test_support import ServerProcess

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.interaction import InteractionHandlers
from voxmcp.mcp.toolset import MCPHub, MCPTool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


class Recorder:
    """Interaction handlers that answer like a cooperative user and remember what they were asked."""

    def __init__(self) -> None:
        self.progress: list[tuple[float, float | None]] = []
        self.elicited: list[dict[str, Any]] = []
        self.links: list[str] = []
        self.sampled: list[types.CreateMessageRequestParams] = []

    async def elicit(self, server: str, message: str, schema: dict[str, Any]) -> dict[str, Any]:
        self.elicited.append(schema)
        return {"action": "accept", "content": {"name": "Ada Lovelace", "check": True}}

    async def elicit_url(self, server: str, message: str, url: str) -> str:
        self.links.append(url)
        return "accept"

    async def sample(self, server: str, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.sampled.append(params)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="Sunny all week"), model="voxmcp-test"
        )

    def handlers(self) -> InteractionHandlers:
        return InteractionHandlers(
            elicit=self.elicit,
            elicit_url=self.elicit_url,
            sample=self.sample,
            progress=lambda server, tool, progress, total, message: self.progress.append((progress, total)),
        )


def tools_of(hub: MCPHub) -> dict[str, MCPTool]:
    return {tool.info.name: tool for tool in hub.function_tools()}


@pytest.fixture(params=["streamable-http", "sse"])
def everything_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sse":
        server: ServerProcess = request.getfixturevalue("everything_sse")
        return f"http://127.0.0.1:{server.port}/sse"
    server = request.getfixturevalue("everything_http")
    return f"http://127.0.0.1:{server.port}/mcp"


async def test_everything_server_features(everything_url: str) -> None:
    recorder = Recorder()
    config = MCPServerConfig(url=everything_url, sampling=True, timeout_s=20)
    async with MCPHub({"everything": config}, handlers=recorder.handlers()) as hub:
        status = hub.statuses()[0]
        assert status.state == "connected", status.error
        connection = hub.connection("everything")
        assert connection is not None
        assert connection.transport == ("sse" if everything_url.endswith("/sse") else "streamable-http")
        tools = tools_of(hub)
        assert {"trigger-elicitation-request", "trigger-sampling-request", "trigger-url-elicitation"} <= set(tools)

        assert await tools["echo"]({"message": "hello"}) == "Echo: hello."
        structured = await tools["get-structured-content"]({"location": "Chicago"})
        assert structured.startswith("temperature: ") and "conditions: " in structured and "{" not in structured
        image = await tools["get-tiny-image"]({})
        assert "An image (image/png, " in image and "base64" not in image
        links = await tools["get-resource-links"]({"count": 2})
        assert "A link to " in links and "(text/plain)" in links

        progress = await tools["trigger-long-running-operation"]({"duration": 1, "steps": 3})
        assert "completed" in progress.lower()
        assert recorder.progress[-3:] == [(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)]

        sampled = await tools["trigger-sampling-request"]({"prompt": "weather?", "maxTokens": 20})
        assert "Sunny all week" in sampled and len(recorder.sampled) == 1

        elicited = await tools["trigger-elicitation-request"]({})
        assert "Name: Ada Lovelace" in elicited
        # SEP-1034: omitted fields with schema defaults are filled in before answering the server.
        assert "Favorite Integer: 42" in elicited and "Favorite Number: 3.14" in elicited

        url_flow = await tools["trigger-url-elicitation"]({"url": "https://example.com/consent"})
        assert "completed the URL elicitation" in url_flow
        error_path = await tools["trigger-url-elicitation"]({"url": "https://example.com/pay", "errorPath": True})
        assert "completed the URL elicitation" in error_path  # -32042 handled, then the call repeated
        # consent (request path), the -32042 prerequisite link, then pay on the repeated call
        assert len(recorder.links) == 3
        assert recorder.links[0] == "https://example.com/consent" and recorder.links[2] == "https://example.com/pay"


async def test_time_server_over_stdio() -> None:
    command = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("mcp-server-time not installed: pip install mcp-server-time")
    async with MCPHub({"time": MCPServerConfig(command=command, args=["--local-timezone", "UTC"])}) as hub:
        assert hub.statuses()[0].state == "connected", hub.statuses()[0].error
        tools = tools_of(hub)
        now = await tools["get_current_time"]({"timezone": "Europe/Paris"})
        assert now.startswith("timezone: Europe/Paris; datetime: ") and "{" not in now
        converted = await tools["convert_time"](
            {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
        )
        assert "datetime: 9:00 PM on " in converted and "T21:00" not in converted  # ISO date-times are spoken
        assert hub.tool_info("get_current_time").annotations is not None
