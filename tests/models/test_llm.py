"""The local LLM plugin: prompt shaping, the tool-call policy, grounding, and (e2e) the real 0.5B's decisions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from livekit.agents import llm
from livekit.agents.llm import ChatContext, function_tool

from voxmcp.models.llm import (
    ANSWER_NUDGE,
    compact_schema,
    is_grounded,
    spoken_failure,
    to_template_messages,
    trailing_tool_errors,
)

SYSTEM = "You are a voice assistant."


def _ctx(*user: str) -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content=SYSTEM)
    for u in user:
        ctx.add_message(role="user", content=u)
    return ctx


def _with_result(ctx: ChatContext, output: str, *, is_error: bool = False) -> ChatContext:
    ctx.insert(llm.FunctionCall(call_id="c1", name="get_weather", arguments='{"city": "Paris"}'))
    ctx.insert(llm.FunctionCallOutput(call_id="c1", name="get_weather", output=output, is_error=is_error))
    return ctx


def test_user_turn_may_call_tools() -> None:
    messages, mode = to_template_messages(_ctx("What is the weather in Paris?"), default_instructions="x")
    assert mode == "tools"
    assert messages[0] == {"role": "system", "content": SYSTEM}
    assert messages[-1] == {"role": "user", "content": "What is the weather in Paris?"}


def test_greeting_turn_is_answer_only() -> None:
    messages, mode = to_template_messages(_ctx(), default_instructions="x")
    assert mode == "answer"
    assert messages[-1]["role"] == "user"


def test_after_a_result_the_result_is_inlined_with_the_question() -> None:
    ctx = _with_result(_ctx("What is the weather in Paris?"), "Paris: light rain, 14 degrees.")
    messages, mode = to_template_messages(ctx, default_instructions="x")
    assert mode == "answer"
    assert all(m["role"] != "tool" for m in messages)  # no bare <tool_response> for the model to echo
    assert messages[-2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert messages[-1] == {
        "role": "user",
        "content": ANSWER_NUDGE.format(
            result="Paris: light rain, 14 degrees.", question="What is the weather in Paris?"
        ),
    }


def test_earlier_results_stay_in_history() -> None:
    ctx = _with_result(_ctx("What is the weather in Paris?"), "Paris: rain.")
    ctx.add_message(role="assistant", content="It rains in Paris.")
    ctx.add_message(role="user", content="And in Rome?")
    messages, mode = to_template_messages(ctx, default_instructions="x")
    assert mode == "tools"
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user"]


def test_tool_failures_are_spoken_as_they_are() -> None:
    ctx = _with_result(_ctx("Weather in Paris?"), "I can't reach the demo server: connection refused.", is_error=True)
    errors = trailing_tool_errors(ctx)
    assert errors == ["I can't reach the demo server: connection refused."]
    assert spoken_failure(errors) == "Sorry, that didn't work. I can't reach the demo server: connection refused."
    ok = _with_result(_ctx("Weather in Paris?"), "Paris: rain.")
    assert trailing_tool_errors(ok) == []


@pytest.mark.parametrize(
    ("args", "said", "grounded"),
    [
        ({"city": "Paris"}, "what is the weather in paris", True),
        ({"city": "London"}, "tell me a joke", False),
        ({"value": 5, "from_unit": "mi", "to_unit": "km"}, "convert five miles to kilometers", True),
        ({"value": 100, "from_unit": "miles", "to_unit": "kilometers"}, "remember to buy milk", False),
        ({"tracking_id": "1234567890"}, "remember to call mom", False),
        ({"text": "buy milk"}, "add a note buy milk", True),
        ({}, "what notes do I have", True),
        ({"timezone": "Europe/London"}, "what time is it in london", True),
    ],
)
def test_grounding(args: dict[str, Any], said: str, grounded: bool) -> None:
    assert is_grounded(args, said) is grounded


def test_compact_schema_keeps_what_the_model_needs() -> None:
    schema = {
        "type": "object",
        "title": "add_noteArguments",
        "properties": {"text": {"type": "string", "title": "Text", "description": "What", "maxLength": 2000}},
        "required": ["text"],
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "What"}},
        "required": ["text"],
    }


# ---- the real model (slow) -----------------------------------------------------------------------------


@function_tool
async def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"The weather in {city} is clear, 15 degrees Celsius."


@function_tool
async def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a number between units of length, mass, temperature, volume or speed."""
    return "converted"


async def _run(model: Any, ctx: ChatContext) -> tuple[str, list[llm.FunctionToolCall]]:
    text, calls = "", []
    async with model.chat(chat_ctx=ctx, tools=[get_weather, convert_units]) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                text += chunk.delta.content
            if chunk.delta and chunk.delta.tool_calls:
                calls += chunk.delta.tool_calls
    return text, calls


@pytest.fixture(scope="module")
def local_llm() -> Any:
    from voxmcp.models.providers import build_llm

    return build_llm("local/qwen2.5-coder-0.5b", instructions=SYSTEM)


@pytest.mark.e2e
def test_real_model_calls_answers_and_chats(local_llm: Any) -> None:
    async def main() -> None:
        await local_llm.prefill(SYSTEM, [get_weather, convert_units])
        text, calls = await _run(local_llm, _ctx("What is the weather in Tokyo?"))
        assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city": "Tokyo"}')]
        assert local_llm.last_stats.cached_tokens > 0  # the prefilled prefix was reused

        text, calls = await _run(
            local_llm, _with_result(_ctx("What is the weather in Paris?"), "Paris: light rain, 14 degrees Celsius.")
        )
        assert calls == [] and "14" in text and "{" not in text  # answers from the result, no repeated call

        text, calls = await _run(local_llm, _ctx("Who wrote Hamlet?"))
        assert calls == [] and "Shakespeare" in text

        ctx = _with_result(_ctx("What is the weather in Paris?"), "Paris: rain.")
        ctx.add_message(role="assistant", content="It rains in Paris.")
        ctx.add_message(role="user", content="Convert 3 miles to kilometers.")
        text, calls = await _run(local_llm, ctx)  # after a turn of chat the model still calls tools
        assert [c.name for c in calls] == ["convert_units"]

    asyncio.run(main())
