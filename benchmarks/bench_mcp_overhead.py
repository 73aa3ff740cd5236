"""Tool-call round-trip overhead of voxmcp's MCPHub over the raw MCP SDK, on loopback, side by side.

Both clients call the same `echo` tool on the same server process (our test server over Streamable HTTP,
127.0.0.1), interleaved in blocks so drift affects both equally. The hub path includes what the agent
really pays: LiveKit tool wrapper, timeout and retry bookkeeping, and result -> speakable text.
Also measures session start with three servers configured (Streamable HTTP, legacy SSE, stdio).

    .venv/bin/python benchmarks/bench_mcp_overhead.py --calls 300 [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mcp.client import Client

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.toolset import MCPHub

ROOT = Path(__file__).resolve().parent.parent
TEST_SERVER = ROOT / "tests" / "mcp" / "mcp_test_servers.py"
FAKE_STDIO = ROOT / "tests" / "mcp" / "fake_stdio_server.py"
BLOCK = 25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(TEST_SERVER), str(port), kind], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"test server ({kind}) did not start on port {port}")


def summary(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000, "n": len(ordered)}


async def measure_calls(url: str, calls: int, warmup: int) -> dict[str, Any]:
    raw_times: list[float] = []
    hub_times: list[float] = []
    config = MCPServerConfig(url=url, transport="streamable-http")
    async with Client(url) as raw, MCPHub({"bench": config}) as hub:
        tool = {t.info.name: t for t in hub.function_tools()}["echo"]
        for i in range(warmup):
            await raw.call_tool("echo", {"message": f"w{i}"})
            await tool({"message": f"w{i}"})
        done = 0
        while done < calls:
            size = min(BLOCK, calls - done)
            for i in range(size):
                began = time.perf_counter()
                await raw.call_tool("echo", {"message": f"m{done + i}"})
                raw_times.append(time.perf_counter() - began)
            for i in range(size):
                began = time.perf_counter()
                await tool({"message": f"m{done + i}"})
                hub_times.append(time.perf_counter() - began)
            done += size
    raw_summary, hub_summary = summary(raw_times), summary(hub_times)
    return {
        "raw_sdk": raw_summary,
        "mcphub": hub_summary,
        "overhead_median_ms": hub_summary["median_ms"] - raw_summary["median_ms"],
        "overhead_p95_ms": hub_summary["p95_ms"] - raw_summary["p95_ms"],
    }


async def measure_start(http_port: int, sse_port: int, repeats: int) -> dict[str, Any]:
    servers = {
        "http": MCPServerConfig(url=f"http://127.0.0.1:{http_port}/mcp"),
        "sse": MCPServerConfig(url=f"http://127.0.0.1:{sse_port}/sse"),
        "stdio": MCPServerConfig(command=sys.executable, args=[str(FAKE_STDIO), "garbage"]),
    }
    times: list[float] = []
    for _ in range(repeats):
        hub = MCPHub(servers)
        began = time.perf_counter()
        statuses = await hub.start()
        times.append(time.perf_counter() - began)
        states = {status.name: status.state for status in statuses}
        await hub.aclose()
        if set(states.values()) != {"connected"}:
            raise SystemExit(f"a server failed to start: {states}")
    return {"servers": list(servers), **summary(times)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    http_process, http_port = start_server("streamable-http")
    sse_process, sse_port = start_server("sse")
    try:
        calls = await measure_calls(f"http://127.0.0.1:{http_port}/mcp", args.calls, args.warmup)
        start = await measure_start(http_port, sse_port, args.start_repeats)
    finally:
        for process in (http_process, sse_process):
            process.terminate()
            process.wait(10)
    return {"transport": "streamable-http (loopback)", "tool": "echo", "calls": calls, "session_start": start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per client (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per client first (default 20)")
    parser.add_argument("--start-repeats", type=int, default=5, help="hub starts to time (default 5)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.calls < 1 or args.warmup < 0 or args.start_repeats < 1:
        parser.error("--calls and --start-repeats must be >= 1, --warmup >= 0")
    result = asyncio.run(main_async(args))
    calls = result["calls"]
    print(f"tool-call round trip over {result['transport']}, {calls['raw_sdk']['n']} calls each, interleaved:")
    for label, key in (("raw mcp SDK Client", "raw_sdk"), ("voxmcp MCPHub tool", "mcphub")):
        row = calls[key]
        print(f"  {label:<20} median {row['median_ms']:7.2f} ms   p95 {row['p95_ms']:7.2f} ms")
    overhead_median, overhead_p95 = calls["overhead_median_ms"], calls["overhead_p95_ms"]
    print(f"  overhead             median {overhead_median:+7.2f} ms   p95 {overhead_p95:+7.2f} ms")
    start = result["session_start"]
    print(
        f"session start, 3 servers ({', '.join(start['servers'])}): "
        f"median {start['median_ms']:.0f} ms, p95 {start['p95_ms']:.0f} ms over {start['n']} starts"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
