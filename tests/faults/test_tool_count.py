"""Tool count and context faults on the real local model: any number of tools connects, any conversation fits.

Before: 80 tools made the system prompt + schemas 11,500 tokens; the prefill ran 4,096 of them (~4 minutes on 2 busy
cores) and then crashed with `RuntimeError: llama_decode returned 1`, and every turn failed after it. Now the
catalogue is reduced to what the context holds (compact, then tool search) with one warning in the log, and a turn
that still doesn't fit drops its oldest history or cuts a long text instead of overflowing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from livekit.agents import llm
from livekit.agents.llm import ChatContext

from voxmcp.config import DEFAULT_INSTRUCTIONS
from voxmcp.mcp.toolset import MCPHub
from voxmcp.models.kv_state import KVStateCache

sys.path.insert(0, str(Path(__file__).parent))
from many_tools import many_tools_hub

if TYPE_CHECKING:
    from tests.faults.conftest import FaultRecord

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
MAX_TOOL_STEPS = 3


@pytest.fixture(scope="module")
def local_llm() -> Any:
    from voxmcp.models.providers import build_llm

    return build_llm("local/qwen2.5-coder-0.5b", instructions=DEFAULT_INSTRUCTIONS)


@pytest.fixture
def own_kv_cache(local_llm: Any, tmp_path: Path) -> Iterator[None]:
    """The model's prefix states go to a fresh folder: each test pays (and measures) its own prefill."""
    runtime = local_llm.runtime
    saved = runtime.kv_cache
    runtime.kv_cache = KVStateCache(tmp_path)
    yield
    runtime.kv_cache = saved


async def _generate(model: Any, ctx: ChatContext, tools: list[Any]) -> tuple[str, list[llm.FunctionToolCall]]:
    text, calls = "", []
    async with model.chat(chat_ctx=ctx, tools=tools) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                text += chunk.delta.content
            if chunk.delta and chunk.delta.tool_calls:
                calls += chunk.delta.tool_calls
    return text, calls


async def _turn(model: Any, hub: MCPHub, ctx: ChatContext, tools: list[Any]) -> tuple[str, list[str]]:
    """One user turn as the agent runs it: model steps, each call run on the hub, until the model speaks."""
    made: list[str] = []
    text = ""
    for _ in range(MAX_TOOL_STEPS + 1):
        text, calls = await _generate(model, ctx, tools)
        if not calls:
            break
        for call in calls:
            made.append(call.name)
            try:
                output, is_error = await hub.call(call.name, json.loads(call.arguments)), False
            except llm.ToolError as e:
                output, is_error = e.message, True
            ctx.insert(llm.FunctionCall(call_id=call.call_id, name=call.name, arguments=call.arguments))
            ctx.insert(llm.FunctionCallOutput(call_id=call.call_id, name=call.name, output=output, is_error=is_error))
    return text, made


def test_500_tools_connect_and_a_turn_calls_one_through_tool_search(
    local_llm: Any, own_kv_cache: None, fault: FaultRecord, caplog: pytest.LogCaptureFixture
) -> None:
    calls: Counter[str] = Counter()

    async def main() -> tuple[str, list[str], dict[str, float]]:
        times: dict[str, float] = {}
        async with many_tools_hub({"crm": 300, "ops": 200}, calls) as hub:
            tools = hub.function_tools()
            assert len(tools) == 500
            t0 = time.perf_counter()
            await local_llm.prefill(DEFAULT_INSTRUCTIONS, tools, servers=2)
            times["prefill_s"] = time.perf_counter() - t0
            ctx = ChatContext.empty()
            ctx.add_message(role="system", content=DEFAULT_INSTRUCTIONS)
            ctx.add_message(role="user", content="What is the weather in Paris?")
            t1 = time.perf_counter()
            text, made = await _turn(local_llm, hub, ctx, tools)
            times["turn_s"] = time.perf_counter() - t1
            return text, made, times

    with caplog.at_level(logging.INFO, logger="voxmcp.models.llm"):
        answer, made, times = asyncio.run(main())
    fault.outcome = answer
    fault.saw_output(answer)
    print(f"500 tools: prefill {times['prefill_s']:.1f} s, first turn {times['turn_s']:.1f} s: {made} -> {answer!r}")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith("500 tools from 2 servers need ")
    assert "tool search on" in warnings[0]
    assert len(made) == 1 and "weather" in made[0] and sum(calls.values()) == 1  # one call, to a weather tool
    assert answer == "The weather in Paris is clear, 15 degrees Celsius."


def test_a_long_conversation_and_a_huge_result_fit_a_small_context(fault: FaultRecord, tmp_path: Path) -> None:
    """A 1,024-token context, 150 earlier exchanges and a 30 kB tool result: the turn still ends in a sentence."""
    from voxmcp.models.llm import LlamaRuntime, LocalLLM
    from voxmcp.models.weights import resolve

    path = resolve("qwen2.5-coder-0.5b", progress=False)
    model = LocalLLM(path, n_ctx=1024, instructions=DEFAULT_INSTRUCTIONS, speak_prose_results=False)
    runtime: LlamaRuntime = model.runtime
    runtime.kv_cache = KVStateCache(tmp_path)

    @llm.function_tool
    async def read_report(name: str) -> str:
        """Read a report by its name."""
        return "unused"

    ctx = ChatContext.empty()
    ctx.add_message(role="system", content=DEFAULT_INSTRUCTIONS)
    for i in range(150):
        ctx.add_message(role="user", content=f"Remember the number {i}, please.")
        ctx.add_message(role="assistant", content=f"I will remember the number {i}.")
    ctx.add_message(role="user", content="Read the sales report.")
    ctx.insert(llm.FunctionCall(call_id="c1", name="read_report", arguments='{"name": "sales"}'))
    huge = "Sales rose in every region this quarter. " * 750
    ctx.insert(llm.FunctionCallOutput(call_id="c1", name="read_report", output=huge, is_error=False))

    answer, calls = asyncio.run(_generate(model, ctx, [read_report]))
    fault.outcome = answer
    fault.saw_output(answer)
    assert calls == [] and model.last_stats is not None
    assert model.last_stats.prompt_tokens + model.max_tokens <= 1024
    assert answer.strip() and "{" not in answer and "sorry" not in answer.lower()
