"""The MCP servers a suite names: HTTP ones started once on first use and stopped at the end of the run; stdio ones
spawned by each scenario's own MCP client, server-memory and server-filesystem on fresh state for every run."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import voxmcp
from voxmcp.demo.runner import DemoServerProcess, endpoint_answers_async, free_port
from voxmcp.evals.schema import (
    DemoServer,
    DownServer,
    EverythingServer,
    FilesystemServer,
    MemoryServer,
    ServerSpec,
    StdioServer,
)
from voxmcp.mcp.config import MCPServerConfig

logger = logging.getLogger(__name__)

NODE_MODULES = Path("tests/mcp/node/node_modules")
EVERYTHING_ENTRY = NODE_MODULES / "@modelcontextprotocol/server-everything/dist/index.js"


class ServerStartError(RuntimeError):
    """A suite server could not be started; the message names it and says why."""


def repo_root() -> Path:
    return Path(voxmcp.__file__).resolve().parents[2]


def everything_entry() -> Path:
    """server-everything's entry script: $VOXMCP_EVERYTHING_SERVER, else the copy tests/mcp/node installs."""
    override = os.environ.get("VOXMCP_EVERYTHING_SERVER")
    return Path(override) if override else repo_root() / EVERYTHING_ENTRY


def node_server_entry(package: str) -> Path:
    """`@modelcontextprotocol/<package>`'s entry script: under $VOXMCP_NODE_MODULES, else tests/mcp/node's copy."""
    root = Path(os.environ.get("VOXMCP_NODE_MODULES") or repo_root() / NODE_MODULES)
    return root / "@modelcontextprotocol" / package / "dist" / "index.js"


def node_command(server: str, entry: Path) -> str:
    """The `node` executable for a reference server, or ServerStartError saying what to install."""
    node = shutil.which("node")
    if node is None:
        raise ServerStartError(f"server {server!r} needs Node.js (`node` is not on PATH)")
    if not entry.is_file():
        raise ServerStartError(f"server {server!r}: {entry} is missing; run tests/mcp/node/install.sh to install it")
    return node


def memory_file_lines(spec: MemoryServer) -> str:
    """server-memory's JSONL file holding the suite's seed graph."""
    rows: list[dict[str, object]] = [
        {"type": "entity", "name": e.name, "entityType": e.entity_type, "observations": list(e.observations)}
        for e in spec.entities
    ]
    rows += [
        {"type": "relation", "from": r.source, "to": r.target, "relationType": r.relation_type} for r in spec.relations
    ]
    return "\n".join(json.dumps(r) for r in rows)


def fill_sandbox(sandbox: Path, files: dict[str, str]) -> None:
    sandbox.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = sandbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


class _NodeServer:
    """server-everything in Streamable HTTP mode on a free loopback port."""

    def __init__(self, entry: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.entry = entry
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout_s: float = 30.0) -> None:
        self.process = self._spawn(node_command("everything", self.entry))
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
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
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
    another's notes. server-memory and server-filesystem instead start from the suite's seed state on every run
    (`state_dir` keeps each run's folder for a look afterwards).
    """

    def __init__(self, specs: dict[str, ServerSpec], workdir: Path) -> None:
        self.specs = specs
        self.workdir = workdir
        self._demo: dict[str, DemoServerProcess] = {}
        self._node: dict[str, _NodeServer] = {}
        self._down_ports: dict[str, int] = {}
        self._runs: dict[str, int] = {}
        self.state_dirs: dict[str, Path] = {}
        """The latest run's state folder of each memory or filesystem server (its memory file or sandbox)."""

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
        if isinstance(spec, MemoryServer):
            entry = node_server_entry("server-memory")
            exe = node_command(name, entry)
            memory = self._fresh_dir(name) / "memory.jsonl"
            memory.write_text(memory_file_lines(spec), encoding="utf-8")
            return MCPServerConfig(
                command=exe, args=[str(entry)], env={"MEMORY_FILE_PATH": str(memory)}, timeout_s=spec.timeout_s
            )
        if isinstance(spec, FilesystemServer):
            entry = node_server_entry("server-filesystem")
            exe = node_command(name, entry)
            sandbox = self._fresh_dir(name) / "sandbox"
            fill_sandbox(sandbox, spec.files)
            return MCPServerConfig(command=exe, args=[str(entry), str(sandbox)], timeout_s=spec.timeout_s)
        if isinstance(spec, StdioServer):
            command = sys.executable if spec.command in ("python", "python3") else spec.command
            return MCPServerConfig(command=command, args=spec.args, env=spec.env, timeout_s=spec.timeout_s)
        assert isinstance(spec, DownServer)
        port = self._down_ports.setdefault(name, free_port())
        return MCPServerConfig(url=f"http://127.0.0.1:{port}/mcp", connect_timeout_s=3.0, reconnect=False)

    def state_text(self, name: str, file: str | None = None) -> str | None:
        """The latest run's memory file (memory server) or sandbox `file` (filesystem server); None if absent."""
        d = self.state_dirs.get(name)
        if d is None:
            return None
        path = d / "memory.jsonl" if file is None else d / "sandbox" / file
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def _fresh_dir(self, name: str) -> Path:
        """A new, empty state folder for one run of a server: no scenario sees another's writes."""
        n = self._runs[name] = self._runs.get(name, 0) + 1
        d = (self.workdir / f"server-{name}" / f"run-{n:03d}").resolve()
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        self.state_dirs[name] = d
        return d

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
