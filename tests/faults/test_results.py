"""Hostile tool results through the real client path: huge, deep, many-part results, and text built to backtrack.

In-process through `MCPHub` (what `talk` and the tools the LLM calls use), and over stdio through `voxmcp mcp call`
(where the JSON really crosses a pipe). Each asserts the sentence the user gets and a generous bound on time: a
hang guard, since the old result shaping took minutes or never finished on the same inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from livekit.agents.llm import ToolError

from voxmcp.mcp.results import CUT_NOTE, MAX_FULL_CHARS

sys.path.insert(0, str(Path(__file__).parent))

from result_servers import BACKTRACK_UNIT, hostile_results_hub, stdio_server_table

if TYPE_CHECKING:
    from tests.faults.conftest import FaultRecord

pytestmark = [pytest.mark.timeout(120), pytest.mark.fault_category("results")]

BOUND_S = 30.0
"""Generous bound on one hostile call in-process (a loaded 2-core machine; the real figure is well under 1 s)."""
CLI_BOUND_S = 60.0
SHORT_TIMEOUT_S = 5
MORE = " There is more; ask me for the rest."
TOO_DEEP = "level: level: level: level: level, and more, nested too deeply to read out."


async def call(name: str, size: int) -> tuple[str, str, float]:
    """(what the user hears, the full text kept for follow-ups, seconds) for one call of a hostile tool."""
    async with hostile_results_hub() as hub:
        tool = next(t for t in hub.function_tools() if t.info.name == name)
        began = time.monotonic()
        try:
            spoken = await tool({"size": size})
        except ToolError as exc:
            spoken = exc.message
        wall = time.monotonic() - began
        full = hub.full_result(name)
        return spoken, full.full_text if full else "", wall


def record(fault: FaultRecord, spoken: str) -> None:
    fault.outcome = spoken
    fault.saw_output(spoken)


@pytest.mark.parametrize("size", [1_000_000, 10_000_000], ids=["1MB", "10MB"])
async def test_huge_text_built_to_backtrack(size: int, fault: FaultRecord) -> None:
    spoken, full, wall = await call("huge_text", size)
    record(fault, spoken)
    head = (BACKTRACK_UNIT * 80).strip()
    assert spoken == head[: head.rfind(" ", 0, 360)] + "..." + MORE
    assert full.endswith(CUT_NOTE) and len(full) <= MAX_FULL_CHARS + len(CUT_NOTE)
    assert fault.tracebacks == 0 and wall < BOUND_S


async def test_huge_blank_line_after_a_sentence(fault: FaultRecord) -> None:
    spoken, _, wall = await call("huge_blank", 1_000_000)
    record(fault, spoken)
    assert spoken == "Start." + CUT_NOTE
    assert wall < BOUND_S


async def test_huge_json_is_read_as_phrases(fault: FaultRecord) -> None:
    spoken, full, wall = await call("huge_json", 1_000_000)
    record(fault, spoken)
    assert spoken.startswith("items: id: 0, title: Item 0, id: 1, title: Item 1, id: 2, title: Item 2")
    assert spoken.endswith(MORE) and len(spoken) <= 400
    assert "{" not in full and '"' not in full
    assert wall < BOUND_S


async def test_json_text_10000_levels_deep(fault: FaultRecord) -> None:
    spoken, _, wall = await call("deep_json", 10_000)
    record(fault, spoken)
    assert spoken == TOO_DEEP
    assert fault.tracebacks == 0 and wall < BOUND_S


async def test_structured_content_deeper_than_can_be_checked(fault: FaultRecord) -> None:
    """200 levels (about what the SDK's own server still serializes), with a schema that recurses with the data:
    not validated (that would recurse per level), so the text content is read instead."""
    spoken, _, wall = await call("deep_structured", 200)
    record(fault, spoken)
    assert spoken == TOO_DEEP
    assert wall < BOUND_S


async def test_ten_thousand_parts(fault: FaultRecord) -> None:
    spoken, full, wall = await call("many_parts", 10_000)
    record(fault, spoken)
    assert spoken.startswith("Part 0. Part 1. Part 2.") and spoken.endswith(MORE)
    assert full.endswith("Part 63. And 9936 more parts.")
    assert wall < BOUND_S


async def test_ten_megabyte_image(fault: FaultRecord) -> None:
    spoken, _, wall = await call("huge_image", 10_000_000)
    record(fault, spoken)
    assert spoken == "An image (image/png, 9.5 MB)."
    assert wall < BOUND_S


async def test_huge_error_message_built_to_backtrack(fault: FaultRecord) -> None:
    spoken, _, wall = await call("huge_error", 1_000_000)
    record(fault, spoken)
    assert spoken.startswith("That didn't work: *a*b *a*b") and spoken.endswith("...")
    assert len(spoken) <= 400
    assert wall < BOUND_S


async def test_output_schema_pattern_built_to_backtrack(fault: FaultRecord) -> None:
    """`^(a+)+$` over 40 'a's and a '!' is ~2^40 steps in Python's re: the SDK's own check would never end."""
    spoken, _, wall = await call("evil_pattern", 40)
    record(fault, spoken)
    assert spoken == "Code checked."
    assert wall < BOUND_S


# ---- over stdio, through the CLI: the JSON really crosses a pipe ------------------------------------------


def voxmcp_call(tmp_path: Path, tool: str, size: int) -> tuple[subprocess.CompletedProcess[str], float]:
    config = tmp_path / "voxmcp.toml"
    table = stdio_server_table()
    lines = [
        "[mcp.servers.results]",
        f"command = {json.dumps(table['command'])}",
        f"args = {json.dumps(table['args'])}",
    ]
    config.write_text("\n".join([*lines, f"tool_timeouts = {{ {tool} = {SHORT_TIMEOUT_S} }}", ""]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXMCP_")}
    env["HF_HUB_OFFLINE"] = "1"
    began = time.monotonic()
    args = ["mcp", "call", "results", tool, "--args", json.dumps({"size": size}), "--config", str(config)]
    done = subprocess.run(
        [sys.executable, "-m", "voxmcp.cli", *args],
        capture_output=True,
        text=True,
        timeout=CLI_BOUND_S,
        cwd=tmp_path,
        env=env,
    )
    return done, time.monotonic() - began


def test_cli_json_text_10000_levels_deep(tmp_path: Path, fault: FaultRecord) -> None:
    """The issue's case: this printed a RecursionError traceback."""
    done, wall = voxmcp_call(tmp_path, "deep_json", 10_000)
    fault.outcome = done.stdout.strip()
    fault.saw_output(done.stdout)
    fault.saw_output(done.stderr)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, TOO_DEEP, "")
    assert wall < CLI_BOUND_S


def test_cli_text_built_to_backtrack(tmp_path: Path, fault: FaultRecord) -> None:
    done, wall = voxmcp_call(tmp_path, "huge_text", 1_000_000)
    fault.outcome = done.stdout.strip()
    fault.saw_output(done.stdout)
    fault.saw_output(done.stderr)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.strip().startswith("*a*b *a*b") and done.stdout.strip().endswith(MORE)
    assert wall < CLI_BOUND_S


def test_cli_structured_content_10000_levels_deep(tmp_path: Path, fault: FaultRecord) -> None:
    """Deeper than the SDK's JSON parser goes (~200 levels): the reply is dropped as unreadable before it reaches
    result shaping, so the call ends at its timeout. One sentence naming server and tool, no traceback."""
    done, wall = voxmcp_call(tmp_path, "deep_structured", 10_000)
    fault.outcome = done.stderr.strip()
    fault.saw_output(done.stdout)
    fault.saw_output(done.stderr)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "The results server took too long with the deep_structured tool."
    assert fault.tracebacks == 0 and wall < CLI_BOUND_S
