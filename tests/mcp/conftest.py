"""Fixtures for the MCP layer: in-process servers, loopback HTTP servers, reference servers from npm/PyPI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mcp.client._memory import InMemoryTransport

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.connection import MCPConnection
from voxmcp.mcp.interaction import InteractionHandlers

sys.path.insert(0, str(Path(__file__).parent))

from servers import ServerEvents, build_server

HERE = Path(__file__).parent
NODE_DIR = HERE / "node"
EVERYTHING_JS = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


class ServerProcess:
    """A loopback server in a subprocess that a test can kill and restart on the same port."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.argv, self.port, self.env = argv, port, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, env={**os.environ, **(self.env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


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
    proc = ServerProcess([sys.executable, str(HERE / "servers.py"), str(port), "streamable-http"], port)
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
