"""The MCP servers a suite names, started once on first use and stopped at the end of the run."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import voxmcp
from voxmcp.demo.runner import DemoServerProcess, endpoint_answers_async, free_port
from voxmcp.evals.schema import DemoServer, DownServer, EverythingServer, ServerSpec, StdioServer
from voxmcp.mcp.config import MCPServerConfig

logger = logging.getLogger(__name__)

EVERYTHING_ENTRY = Path("tests/mcp/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js")


class ServerStartError(RuntimeError):
    """A suite server could not be started; the message names it and says why."""


def repo_root() -> Path:
    return Path(voxmcp.__file__).resolve().parents[2]


def everything_entry() -> Path:
    """server-everything's entry script: $VOXMCP_EVERYTHING_SERVER, else the copy tests/mcp/node installs."""
    override = os.environ.get("VOXMCP_EVERYTHING_SERVER")
    return Path(override) if override else repo_root() / EVERYTHING_ENTRY


class _NodeServer:
    """server-everything in Streamable HTTP mode on a free loopback port."""

    def __init__(self, entry: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.entry = entry
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout_s: float = 30.0) -> None:
        node = shutil.which("node")
        if node is None:
            raise ServerStartError("server 'everything' needs Node.js (`node` is not on PATH)")
        if not self.entry.is_file():
            raise ServerStartError(
                f"server 'everything': {self.entry} is missing; run tests/mcp/node/install.sh to install it"
            )
        self.process = self._spawn(node)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise ServerStartError(f"server 'everything' exited during startup:\n{tail}")
            if await endpoint_answers_async(self.url, timeout_s=1.0):
                return
            await asyncio.sleep(0.2)
        self.stop()
        raise ServerStartError(f"server 'everything' did not answer at {self.url} within {timeout_s:g} s")

    def _spawn(self, node: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PORT=str(self.port))
        with self.log_path.open("wb") as log:
            return subprocess.Popen(
                [node, str(self.entry), "streamableHttp"], stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def stop(self) -> None:
        p, self.process = self.process, None
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


class ServerPool:
    """Each named server of the suite, started at most once and shared by the scenarios that name it.

    The demo server's notes database therefore persists across scenarios: write scenarios that don't depend on
    another's notes.
    """

    def __init__(self, specs: dict[str, ServerSpec], workdir: Path) -> None:
        self.specs = specs
        self.workdir = workdir
        self._demo: dict[str, DemoServerProcess] = {}
        self._node: dict[str, _NodeServer] = {}
        self._down_ports: dict[str, int] = {}

    async def configs(self, names: list[str]) -> dict[str, MCPServerConfig]:
        """MCP client configs for these servers, starting the ones not running yet."""
        return {name: await self._config(name) for name in names}

    async def _config(self, name: str) -> MCPServerConfig:
        spec = self.specs[name]
        if isinstance(spec, DemoServer):
            server = self._demo.get(name)
            if server is None:
                d = self.workdir / f"server-{name}"
                d.mkdir(parents=True, exist_ok=True)
                server = DemoServerProcess(
                    db_path=d / "notes.sqlite3",
                    audit_log=d / "audit.jsonl",
                    faults=spec.faults,
                    slow_step_s=spec.slow_step_s,
                )
                await server.start_async()
                self._demo[name] = server
            return MCPServerConfig(url=server.url, timeout_s=spec.timeout_s)
        if isinstance(spec, EverythingServer):
            node = self._node.get(name)
            if node is None:
                node = _NodeServer(everything_entry(), self.workdir / f"server-{name}.log")
                await node.start()
                self._node[name] = node
            return MCPServerConfig(url=node.url, timeout_s=spec.timeout_s)
        if isinstance(spec, StdioServer):
            command = sys.executable if spec.command in ("python", "python3") else spec.command
            return MCPServerConfig(command=command, args=spec.args, env=spec.env, timeout_s=spec.timeout_s)
        assert isinstance(spec, DownServer)
        port = self._down_ports.setdefault(name, free_port())
        return MCPServerConfig(url=f"http://127.0.0.1:{port}/mcp", connect_timeout_s=3.0, reconnect=False)

    def audit(self, name: str) -> list[dict[str, object]]:
        """The demo server's recorded calls (server-side truth); [] for other kinds."""
        server = self._demo.get(name)
        return server.calls() if server is not None else []

    async def aclose(self) -> None:
        for server in self._demo.values():
            await server.stop_async()
        for node in self._node.values():
            await asyncio.to_thread(node.stop)
        self._demo.clear()
        self._node.clear()
