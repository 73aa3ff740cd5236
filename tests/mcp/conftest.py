"""Fixtures for the MCP layer: in-process servers, loopback HTTP servers, reference servers from npm/PyPI."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mcp.client._memory import InMemoryTransport

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.connection import MCPConnection
from voxmcp.mcp.interaction import InteractionHandlers

sys.path.insert(0, str(Path(__file__).parent))

from mcp_test_servers import ServerEvents, build_server
from mcp_test_support import EVERYTHING_JS, ServerProcess, free_port

HERE = Path(__file__).parent


@pytest.fixture
def server_events() -> ServerEvents:
    return ServerEvents()


@pytest.fixture
def make_memory_connection(
    server_events: ServerEvents,
) -> Callable[..., MCPConnection]:
    """MCPConnection to an in-process test server (legacy handshake: server-to-client requests work)."""

    def make(handlers: InteractionHandlers | None = None, **config: object) -> MCPConnection:
        server = build_server(events=server_events)
        settings = {"url": "http://in-memory/mcp", "protocol": "legacy", "timeout_s": 5.0, **config}
        return MCPConnection(
            "test",
            MCPServerConfig.model_validate(settings),
            handlers=handlers,
            transport_factory=lambda: InMemoryTransport(server),
        )

    return make


@pytest.fixture
def http_test_server() -> Iterator[ServerProcess]:
    """Our test server over Streamable HTTP in a subprocess (killable, restartable)."""
    port = free_port()
    proc = ServerProcess([sys.executable, str(HERE / "mcp_test_servers.py"), str(port), "streamable-http"], port)
    proc.start()
    yield proc
    proc.stop()


def _everything(kind: str) -> Iterator[ServerProcess]:
    node = shutil.which("node")
    if node is None or not EVERYTHING_JS.exists():
        pytest.skip("server-everything not installed: run tests/mcp/node/install.sh")
    port = free_port()
    proc = ServerProcess([node, str(EVERYTHING_JS), kind], port, env={"PORT": str(port)})
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def everything_http() -> Iterator[ServerProcess]:
    yield from _everything("streamableHttp")


@pytest.fixture(scope="module")
def everything_sse() -> Iterator[ServerProcess]:
    yield from _everything("sse")
