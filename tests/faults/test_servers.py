"""Hostile MCP servers against the real surfaces: `voxmcp mcp call|servers` as subprocesses, `MCPHub` in-process.

Each fault asserts the exact sentence the user gets, that no traceback reaches them, that the run is bounded,
and, for servers with effects, that no effect ran twice (the servers in hostile_servers.py count them).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from livekit.agents.llm import ToolError

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.toolset import MCPHub

sys.path.insert(0, str(Path(__file__).parent))

from hostile_servers import HostileHTTP, effects, replies, stdio_server

if TYPE_CHECKING:
    from tests.faults.conftest import FaultRecord

pytestmark = pytest.mark.timeout(120)

PYTHON = sys.executable
CLI_BOUND_S = 60.0
"""Generous bound on one CLI run (start-up imports dominate on a loaded 2-core machine)."""


def unknown_outcome(server: str, tool: str) -> str:
    return (
        f"I lost the connection to the {server} server while the {tool} tool was running, so I don't know whether "
        "it finished; please check before asking again."
    )


def write_config(path: Path, servers: dict[str, dict[str, Any]]) -> Path:
    """A voxmcp.toml with these [mcp.servers.*] tables (JSON literals are valid TOML values here)."""
    lines = []
    for name, table in servers.items():
        lines.append(f"[mcp.servers.{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in table.items())
    path.write_text("\n".join(lines) + "\n")
    return path


def voxmcp(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXMCP_")}
    env["HF_HUB_OFFLINE"] = "1"
    began = time.monotonic()
    done = subprocess.run(
        [PYTHON, "-m", "voxmcp.cli", *args],
        capture_output=True,
        text=True,
        timeout=CLI_BOUND_S,
        cwd=cwd,
        env=env,
    )
    return done, time.monotonic() - began


def saw(fault: FaultRecord, done: subprocess.CompletedProcess[str], outcome: str) -> None:
    fault.outcome = outcome
    fault.saw_output(done.stderr)
    fault.saw_output(done.stdout)


# ---- a call whose server drops after the effect: never repeated, the user is told to check ------------


@pytest.mark.fault_category("at-most-once")
@pytest.mark.parametrize("way", ["http-reset", "http-oversized-sse", "stdio-crash"])
def test_cli_call_dropped_after_effect_runs_once(way: str, tmp_path: Path, fault: FaultRecord) -> None:
    log = tmp_path / "effects.log"
    with _server_for(way, log) as table:
        config = write_config(tmp_path / "voxmcp.toml", {"payments": table})
        done, wall = voxmcp(
            "mcp", "call", "payments", "charge", "--args", '{"amount": 20}', "--config", str(config), cwd=tmp_path
        )
    charged = effects(log, "charge")
    fault.duplicate_effects = max(0, charged - 1)
    saw(fault, done, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
    assert charged == 1
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip() == unknown_outcome("payments", "charge")  # one sentence, nothing else
    assert "Charged" not in done.stdout
    assert fault.tracebacks == 0
    assert wall < CLI_BOUND_S


@pytest.mark.fault_category("at-most-once")
@pytest.mark.parametrize("way", ["http-reset", "http-oversized-sse", "stdio-crash"])
@pytest.mark.parametrize(("tool", "answer"), [("lookup", "The balance is 12 euros."), ("set_flag", "Flag set.")])
async def test_read_only_and_idempotent_calls_are_repeated_transparently(
    way: str, tool: str, answer: str, tmp_path: Path, fault: FaultRecord
) -> None:
    log = tmp_path / "effects.log"
    with _server_for(way, log) as table:
        async with MCPHub({"payments": MCPServerConfig.model_validate(table)}, connect_timeout_s=10) as hub:
            info = hub.tool_info(tool)
            assert info.retry_safe
            result = await asyncio.wait_for(hub.call_speakable(info, {}), 30)
    fault.outcome = result.text
    assert result.text == answer and not result.is_error
    assert effects(log, tool) == 2  # dropped once, sent again once: safe, the server said so


@pytest.mark.fault_category("at-most-once")
async def test_a_call_refused_for_a_forgotten_session_is_sent_again(tmp_path: Path, fault: FaultRecord) -> None:
    """404 for the session (a restarted server): the server did not run it, so even `charge` is sent again."""
    log = tmp_path / "effects.log"
    with HostileHTTP("forget-session", log) as server:
        async with MCPHub({"payments": MCPServerConfig(url=server.url)}, connect_timeout_s=10) as hub:
            result = await asyncio.wait_for(hub.call_speakable(hub.tool_info("charge"), {"amount": 5}), 30)
    fault.outcome = result.text
    fault.duplicate_effects = max(0, effects(log, "charge") - 1)
    assert result.text == "Charged the card."
    assert effects(log, "charge") == 1


@pytest.mark.fault_category("at-most-once")
async def test_a_call_to_a_server_that_died_between_calls_is_sent_to_a_new_one(
    tmp_path: Path, fault: FaultRecord
) -> None:
    """The stdio server exited while idle: the call provably never left, so it goes to a fresh process."""
    log = tmp_path / "effects.log"
    table = stdio_server("die-idle", log, connect_timeout_s=10)
    async with MCPHub({"payments": MCPServerConfig.model_validate(table)}, connect_timeout_s=10) as hub:
        await _until_exited("die-idle")  # 0.3 s after listing its tools
        await asyncio.sleep(0.5)  # and the SDK has seen its stdout close
        result = await asyncio.wait_for(hub.call_speakable(hub.tool_info("charge"), {"amount": 5}), 30)
    fault.outcome = result.text
    fault.duplicate_effects = max(0, effects(log, "charge") - 1)
    assert result.text == "Charged the card."
    assert effects(log, "charge") == 1


@pytest.mark.fault_category("at-most-once")
def test_cli_call_to_a_server_that_exits_on_the_call(tmp_path: Path, fault: FaultRecord) -> None:
    log = tmp_path / "effects.log"
    config = write_config(tmp_path / "voxmcp.toml", {"payments": stdio_server("exit-on-call", log)})
    done, wall = voxmcp("mcp", "call", "payments", "charge", "--config", str(config), cwd=tmp_path)
    saw(fault, done, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
    assert done.returncode == 3
    assert done.stderr.strip() == unknown_outcome("payments", "charge")
    assert fault.tracebacks == 0
    assert wall < CLI_BOUND_S


# ---- servers that are not MCP, or never finish the handshake: `voxmcp mcp servers` says which ---------

HTTP_SERVERS = ("hang-initialize", "malformed-initialize", "html", "tools-500")
STDIO_SERVERS = ("hang-initialize", "malformed-initialize", "banner", "tools-500", "unsolicited")


@pytest.fixture(scope="module")
def servers_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.CompletedProcess[str], dict[str, str], float]]:
    """One `voxmcp mcp servers` run over every connection-level hostile server at once; its lines by server."""
    root = tmp_path_factory.mktemp("servers")
    log = root / "effects.log"
    table: dict[str, dict[str, Any]] = {}
    http = [HostileHTTP(mode, log) for mode in HTTP_SERVERS]
    for server in http:
        server.__enter__()
    try:
        for server in http:
            table[f"http-{server.mode}"] = server.server(connect_timeout_s=2)
        for mode in STDIO_SERVERS:
            table[f"stdio-{mode}"] = stdio_server(mode, log, connect_timeout_s=2)
        config = write_config(root / "voxmcp.toml", table)
        done, wall = voxmcp("mcp", "servers", "--config", str(config), "--timeout", "4", cwd=root)
    finally:
        for server in http:
            server.__exit__()
    lines = {line.split(":", 1)[0]: line for line in done.stdout.splitlines() if ":" in line}
    yield done, lines, wall


@pytest.mark.parametrize(
    ("server", "line"),
    [
        (
            "http-hang-initialize",
            "http-hang-initialize: failed - The http-hang-initialize server at {target} did not answer in time.",
        ),
        (
            "http-malformed-initialize",
            "http-malformed-initialize: failed - The http-malformed-initialize server at {target} sent a malformed "
            "reply to the MCP handshake (not JSON-RPC).",
        ),
        (
            "http-html",
            "http-html: failed - The http-html server at {target} answered with text/html instead of MCP; check that "
            "the URL is the server's MCP endpoint.",
        ),
        ("http-tools-500", "http-tools-500: connected (streamable-http, protocol 2025-11-25), 500 tools"),
        (
            "stdio-hang-initialize",
            "stdio-hang-initialize: failed - The stdio-hang-initialize server ({python}) did not answer in time.",
        ),
        (
            "stdio-malformed-initialize",
            "stdio-malformed-initialize: failed - The stdio-malformed-initialize server ({python}) printed output "
            "that is not MCP and never finished connecting; check that the command starts an MCP server on stdio.",
        ),
        ("stdio-banner", "stdio-banner: connected (stdio, protocol 2025-11-25), 3 tools"),
        ("stdio-tools-500", "stdio-tools-500: connected (stdio, protocol 2025-11-25), 500 tools"),
        ("stdio-unsolicited", "stdio-unsolicited: connected (stdio, protocol 2025-11-25), 3 tools"),
    ],
)
def test_cli_servers_names_each_hostile_server(
    server: str,
    line: str,
    servers_run: tuple[subprocess.CompletedProcess[str], dict[str, str], float],
    fault: FaultRecord,
) -> None:
    done, lines, wall = servers_run
    fault._start -= wall  # the shared run is this fault's time too
    got = lines.get(server, "")
    saw(fault, done, got.partition(" - ")[2] or got)
    fault.tracebacks = min(fault.tracebacks, 1)  # one shared run: count its tracebacks once per fault
    target = next((v for v in [_target(got)] if v), "?")
    assert got == line.format(target=target, python=PYTHON)
    assert done.returncode == 0
    assert "Traceback" not in done.stderr
    assert wall < CLI_BOUND_S


def _target(line: str) -> str:
    """The host:port a line names (ports are free ports, chosen at run time)."""
    marker = " at 127.0.0.1:"
    if marker not in line:
        return ""
    port = line.split(marker, 1)[1].split(" ", 1)[0]
    return f"127.0.0.1:{port}"


def test_cli_call_through_a_banner_on_stdout(tmp_path: Path, fault: FaultRecord) -> None:
    """Text lines before and between the JSON-RPC messages are skipped (debug log), not a traceback."""
    log = tmp_path / "effects.log"
    config = write_config(tmp_path / "voxmcp.toml", {"payments": stdio_server("banner", log)})
    done, wall = voxmcp("mcp", "call", "payments", "lookup", "--config", str(config), cwd=tmp_path)
    saw(fault, done, done.stdout.strip())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "The balance is 12 euros."
    assert done.stderr == ""
    assert fault.tracebacks == 0
    assert wall < CLI_BOUND_S


# ---- in-process: calls that hang, progress forever, server requests nobody asked for ------------------


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_a_call_that_never_answers_is_bounded(transport: str, tmp_path: Path, fault: FaultRecord) -> None:
    log = tmp_path / "effects.log"
    with _mode_server(transport, "hang-call", log, tool_timeouts={"charge": 0.5}) as table:
        async with MCPHub({"payments": MCPServerConfig.model_validate(table)}, connect_timeout_s=10) as hub:
            began = time.monotonic()
            with pytest.raises(ToolError) as info:
                await asyncio.wait_for(hub.call_speakable(hub.tool_info("charge"), {}), 30)
            waited = time.monotonic() - began
    fault.outcome = info.value.message
    fault.saw_output(info.value.message)
    assert info.value.message == (
        "The payments server took too long with the charge tool; I stopped waiting, but it may have finished, "
        "so please check before asking again."
    )
    assert waited < 10.0
    assert effects(log, "charge") == 0


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_progress_forever_is_bounded(transport: str, tmp_path: Path, fault: FaultRecord) -> None:
    """Progress restarts the timeout, but only up to 4x it: a server that reports forever is cut off."""
    log = tmp_path / "effects.log"
    with _mode_server(transport, "progress-forever", log, tool_timeouts={"lookup": 0.5}) as table:
        async with MCPHub({"payments": MCPServerConfig.model_validate(table)}, connect_timeout_s=10) as hub:
            began = time.monotonic()
            with pytest.raises(ToolError) as info:
                await asyncio.wait_for(hub.call_speakable(hub.tool_info("lookup"), {}), 30)
            waited = time.monotonic() - began
    fault.outcome = info.value.message
    assert info.value.message == "The payments server took too long with the lookup tool."
    assert 1.5 < waited < 15.0


async def test_unsolicited_server_requests_are_answered_not_obeyed(tmp_path: Path, fault: FaultRecord) -> None:
    """Sampling, elicitation and roots requests outside any call: each gets an error reply; nothing hangs."""
    log = tmp_path / "effects.log"
    table = stdio_server("unsolicited", log)
    async with MCPHub({"payments": MCPServerConfig.model_validate(table)}, connect_timeout_s=10) as hub:
        result = await asyncio.wait_for(hub.call_speakable(hub.tool_info("lookup"), {}), 30)
        for _ in range(100):  # bounded: 5 s for the three replies to be written
            if len(replies(log)) == 3:
                break
            await asyncio.sleep(0.05)
    fault.outcome = result.text
    assert result.text == "The balance is 12 euros."
    assert sorted(replies(log)) == [
        "reply srv-elicitation/create error",
        "reply srv-roots/list error",
        "reply srv-sampling/createMessage error",
    ]


async def test_five_hundred_tools_connect_and_work(tmp_path: Path, fault: FaultRecord) -> None:
    log = tmp_path / "effects.log"
    with HostileHTTP("tools-500", log) as server:
        began = time.monotonic()
        async with MCPHub({"many": MCPServerConfig(url=server.url)}, connect_timeout_s=10) as hub:
            connected = time.monotonic() - began
            assert hub.statuses()[0].tool_count == 500
            assert len(hub.function_tools()) == 500
            result = await hub.call_speakable(hub.tool_info("tool_499"), {"value": "x"})
    fault.outcome = f"500 tools in {connected:.2f} s; {result.text}"
    assert result.text == "tool_499 done."
    assert connected < 10.0


# ---- helpers ------------------------------------------------------------------------------------------


async def _until_exited(mode: str) -> None:
    """Wait (bounded) until no child process runs the hostile stdio server in `mode`."""
    import psutil

    for _ in range(200):  # 10 s
        if not any(_runs(child, mode) for child in psutil.Process().children(recursive=True)):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the {mode} server did not exit")


def _runs(process: Any, mode: str) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE and mode in process.cmdline()
    except psutil.Error:  # it exited while we looked
        return False


class _Table:
    """A server table for a drop way or a mode, with the HTTP server (if any) running while in use."""

    def __init__(self, transport: str, mode: str, log: Path, **extra: Any) -> None:
        self.transport, self.mode, self.log, self.extra = transport, mode, log, extra
        self.http: HostileHTTP | None = None

    def __enter__(self) -> dict[str, Any]:
        extra = {"connect_timeout_s": 10, **self.extra}
        if self.transport == "stdio":
            return stdio_server(self.mode, self.log, **extra)
        self.http = HostileHTTP(self.mode, self.log).__enter__()
        return self.http.server(**extra)

    def __exit__(self, *exc_info: object) -> None:
        if self.http is not None:
            self.http.__exit__()


def _server_for(way: str, log: Path) -> _Table:
    transport, mode = {
        "http-reset": ("http", "drop-reset"),
        "http-oversized-sse": ("http", "drop-oversized-sse"),
        "stdio-crash": ("stdio", "crash-after-effect"),
    }[way]
    return _Table(transport, mode, log)


def _mode_server(transport: str, mode: str, log: Path, **extra: Any) -> _Table:
    return _Table(transport, mode, log, **extra)
