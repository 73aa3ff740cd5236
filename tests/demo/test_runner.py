"""The demo server as a real child process on loopback, driven by the SDK's Streamable HTTP client."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

import anyio
import pytest
from mcp_types import TextContent

from mcp import Client
from voxmcp.demo.runner import DemoServerError, DemoServerProcess, ensure_demo_server, free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_loopback_tools_progress_faults_and_audit() -> None:
    async with DemoServerProcess(faults=True, slow_step_s=0.1) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/mcp")
        seen: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(progress)

        with anyio.fail_after(20):
            async with Client(server.url) as client:
                weather = await client.call_tool("get_weather", {"city": "Cape Town"})
                tracked = await client.call_tool(
                    "check_package_status", {"tracking_id": "QX42"}, progress_callback=on_progress
                )
                failed = await client.call_tool("fail_tool", {})
                with anyio.move_on_after(1.0) as hung:
                    await client.call_tool("hang_tool", {})
                after = await client.call_tool("convert_units", {"value": 3, "from_unit": "ft", "to_unit": "cm"})

        assert isinstance(weather.content[0], TextContent) and "Cape Town" in weather.content[0].text
        assert not tracked.is_error and seen == [1.0, 2.0, 3.0, 4.0]
        assert failed.is_error
        assert hung.cancelled_caught
        assert isinstance(after.content[0], TextContent) and after.content[0].text == "3 feet is 91.44 centimeters."
        calls = await anyio.to_thread.run_sync(server.wait_for_calls, 5)
        assert [(call["tool"], call["ok"]) for call in calls] == [
            ("get_weather", True),
            ("check_package_status", True),
            ("fail_tool", False),
            ("hang_tool", False),
            ("convert_units", True),
        ]
        assert calls[0]["arguments"] == {"city": "Cape Town"}
        assert calls[3]["error"] == "The call was cancelled."
        pid = server.pid
        assert pid is not None
    assert not _alive(pid)


async def _call_text(url: str, tool: str, arguments: Mapping[str, object]) -> str:
    with anyio.fail_after(15):
        async with Client(url) as client:
            result = await client.call_tool(tool, dict(arguments))
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def test_restart_keeps_notes_and_ensure_starts_only_when_needed(tmp_path: Path) -> None:
    db = tmp_path / "notes.sqlite3"
    with DemoServerProcess(db_path=db) as first:
        assert ensure_demo_server(first.url) is None
        assert anyio.run(_call_text, first.url, "add_note", {"text": "water the plants"}) == (
            "Saved note 1: water the plants"
        )
        url = first.url
    second = ensure_demo_server(url, db_path=db)
    assert second is not None
    try:
        assert second.url == url
        text = anyio.run(_call_text, url, "list_notes", {})
        assert text == "You have 1 note. Note 1: water the plants."
    finally:
        second.stop()
    assert not second.is_running()


def test_port_in_use_is_refused_before_spawning() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        server = DemoServerProcess(port=port)
        with pytest.raises(DemoServerError, match=f"Port {port} on 127.0.0.1 is already in use"):
            server.start()
        assert server.pid is None


def test_server_that_cannot_bind_fails_fast_with_its_log() -> None:
    # 192.0.2.1 (TEST-NET-1) is never a local address, so the child's bind fails and it exits
    server = DemoServerProcess(host="192.0.2.1", port=free_port(), startup_timeout_s=15)
    with pytest.raises(DemoServerError, match=r"exited during startup(.|\n)*192\.0\.2\.1"):
        server.start()
    assert not server.is_running()


def test_ensure_refuses_urls_it_cannot_serve() -> None:
    assert ensure_demo_server("https://example.com/mcp") is None
    with pytest.raises(ValueError, match="serves /mcp"):
        ensure_demo_server(f"http://127.0.0.1:{free_port()}/other")
    with pytest.raises(ValueError, match="explicit port"):
        ensure_demo_server("http://127.0.0.1/mcp")


async def test_legacy_handshake_clients_are_served() -> None:
    """Clients that only speak the initialize handshake (older SDKs, LiveKit's toolset) get the same tools."""
    async with DemoServerProcess() as server:
        with anyio.fail_after(15):
            async with Client(server.url, mode="legacy") as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                result = await client.call_tool("get_time", {"timezone": "Asia/Tokyo"})
        assert {"get_weather", "get_time", "convert_units", "add_note"} <= names
        assert "hang_tool" not in names
        block = result.content[0]
        assert isinstance(block, TextContent) and block.text.startswith("In Tokyo it is ")
        assert server.calls()[0]["arguments"] == {"timezone": "Asia/Tokyo"}


def test_server_dies_with_a_killed_parent() -> None:
    """No orphan: a parent killed with SIGKILL (no cleanup runs) still takes its demo server down."""
    import subprocess
    import sys
    import time

    script = (
        "import time\n"
        "from voxmcp.demo.runner import DemoServerProcess\n"
        "server = DemoServerProcess().start()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert _alive(child_pid)
    finally:
        parent.kill()
        parent.wait(timeout=5)
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(child_pid)
    if alive:
        os.kill(child_pid, 9)
    assert not alive
