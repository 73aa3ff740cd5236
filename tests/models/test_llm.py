"""The local LLM plugin: prompt shaping, the tool-call policy, grounding, and (e2e) the real 0.5B's decisions."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import llm
from livekit.agents.llm import ChatContext, ChatMessage, function_tool

from voxmcp.models.grounding import value_is_grounded
from voxmcp.models.llm import (
    ANSWER_NUDGE,
    SURE_TOOL_PROBABILITY,
    compact_schema,
    current_request,
    follows_a_call,
    spoken_failure,
    to_template_messages,
    tool_decision,
    tool_schemas,
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


PREAMBLE = "One moment."


def _tool_turn(ctx: ChatContext, call_id: str, name: str, args: str, output: str, answer: str | None) -> ChatContext:
    """A tool turn as LiveKit records it: the spoken preamble, the call, its output, then the answer."""
    ctx.add_message(role="assistant", content=PREAMBLE)
    ctx.insert(llm.FunctionCall(call_id=call_id, name=name, arguments=args))
    ctx.insert(llm.FunctionCallOutput(call_id=call_id, name=name, output=output, is_error=False))
    if answer is not None:
        ctx.add_message(role="assistant", content=answer)
    return ctx


def test_the_preamble_is_not_in_history() -> None:
    ctx = _tool_turn(_ctx("Add a note: buy eggs."), "c1", "add_note", '{"text": "buy eggs"}', "Saved note 1.", None)
    ctx.add_message(role="assistant", content=f"{PREAMBLE} Saved your note.")
    ctx.add_message(role="user", content="Now read me my notes.")
    messages, mode = to_template_messages(ctx, default_instructions="x", preamble=PREAMBLE)
    assert mode == "tools"
    assert all(PREAMBLE not in str(m.get("content")) for m in messages)
    # each earlier request is followed directly by its call
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert messages[2]["tool_calls"][0]["function"]["name"] == "add_note"
    assert messages[4]["content"] == "Saved your note."
    kept, _ = to_template_messages(ctx, default_instructions="x")  # without a preamble configured nothing changes
    assert any(m.get("content") == PREAMBLE for m in kept)


def test_results_of_every_step_are_restated_with_the_question() -> None:
    question = "What's the weather in Oslo, and what time is it there?"
    ctx = _tool_turn(_ctx(question), "c1", "get_weather", '{"city": "Oslo"}', "Oslo: snow.", None)
    ctx.insert(llm.FunctionCall(call_id="c2", name="get_time", arguments='{"timezone": "Oslo"}'))
    ctx.insert(llm.FunctionCallOutput(call_id="c2", name="get_time", output="It is 4 AM.", is_error=False))
    messages, mode = to_template_messages(ctx, default_instructions="x", preamble=PREAMBLE)
    assert mode == "answer"
    assert [c["function"]["name"] for c in messages[-2]["tool_calls"]] == ["get_weather", "get_time"]
    assert messages[-1]["content"] == ANSWER_NUDGE.format(result="Oslo: snow. It is 4 AM.", question=question)
    assert current_request(ctx) == (question, ["get_weather", "get_time"])
    native, _ = to_template_messages(ctx, default_instructions="x", preamble=PREAMBLE, nudge=False)
    assert [m["role"] for m in native][-2:] == ["assistant", "tool"]


def test_a_request_after_a_tool_turn_is_a_possible_follow_up() -> None:
    ctx = _tool_turn(
        _ctx("Weather in Berlin?"), "c1", "get_weather", '{"city": "Berlin"}', "Berlin: cloudy.", "Cloudy."
    )
    ctx.add_message(role="user", content="And in Rome?")
    messages, _ = to_template_messages(ctx, default_instructions="x", preamble=PREAMBLE)
    assert follows_a_call(messages)
    chat = _ctx("Tell me a story.")
    chat.add_message(role="assistant", content="Once upon a time.")
    chat.add_message(role="user", content="And then?")
    assert not follows_a_call(to_template_messages(chat, default_instructions="x")[0])


@pytest.mark.parametrize(
    ("p_tool", "relevant", "follow_up", "decision"),
    [
        (0.9, False, False, "call"),  # sure: "Add 123 and 456" shares no word with get-sum
        (0.4, True, False, "call"),  # "What notes do I have?"
        (0.3, False, True, "call"),  # "And in Rome?" after a weather call
        (0.05, False, True, "try"),  # "Thank you, that's all for now." after a weather call
        (0.43, False, False, "try"),  # "What is the capital of France?", or "The summer 17 and 25" (misheard)
        (0.0001, True, False, "check_alone"),  # "Stop. What is the weather in Rome?" after a long story
        (0.01, False, False, "speak"),
    ],
)
def test_tool_decision(p_tool: float, relevant: bool, follow_up: bool, decision: str) -> None:
    assert p_tool < SURE_TOOL_PROBABILITY or decision == "call"
    assert tool_decision(p_tool, threshold=0.03, relevant=relevant, follow_up=follow_up) == decision


def test_tool_failures_are_spoken_as_they_are() -> None:
    ctx = _with_result(_ctx("Weather in Paris?"), "I can't reach the demo server: connection refused.", is_error=True)
    errors = trailing_tool_errors(ctx)
    assert errors == ["I can't reach the demo server: connection refused."]
    assert spoken_failure(errors) == "Sorry. I can't reach the demo server: connection refused."
    unknown = "I lost the connection to the pay server while the charge tool ran, so I don't know if it finished."
    assert spoken_failure([unknown]) == f"Sorry. {unknown}"  # never "that didn't work": it may have worked
    said_twice = spoken_failure(["That didn't work: I have no weather for 'Atlantis'."])
    assert said_twice == "Sorry, that didn't work: I have no weather for 'Atlantis'."
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
        ({"text": "I'm feeling so good today! How about you?"}, "good morning", False),
        ({"tracking_id": "B1234"}, "the tracking number is a B1 2 3 4", True),
    ],
)
def test_grounding(args: dict[str, Any], said: str, grounded: bool) -> None:
    assert all(value_is_grounded(v, said) for v in args.values()) is grounded


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
async def get_time(timezone: str) -> str:
    """Get the current time in a city or time zone."""
    return f"In {timezone} it is 4:37 AM on Monday."


@function_tool
async def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a number between units of length, mass, temperature, volume or speed."""
    return "converted"


async def _run(
    model: Any, ctx: ChatContext, tools: list[llm.Tool] | None = None
) -> tuple[str, list[llm.FunctionToolCall]]:
    text, calls = "", []
    async with model.chat(chat_ctx=ctx, tools=tools or [get_weather, convert_units]) as stream:
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


@pytest.mark.e2e
def test_real_model_calls_after_chat(local_llm: Any) -> None:
    async def main() -> None:
        tools: list[llm.Tool] = [get_weather, get_time, convert_units]
        ctx = _ctx("Tell me a long story about a dragon.")
        ctx.add_message(role="assistant", content="Once upon a time a dragon named Ember guarded a mountain of gold.")
        ctx.add_message(role="user", content="Stop. What is the weather in Rome?")
        _, calls = await _run(local_llm, ctx, tools)  # the model's own signal is ~0 here: the request alone decides
        assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city": "Rome"}')]

        _, calls = await _run(local_llm, _ctx("Good morning!"), tools)
        assert calls == []

    asyncio.run(main())


def _demo_tools() -> list[llm.Tool]:
    """The bundled demo server's tools as the agent gets them (names, descriptions and schemas from tools/list)."""
    dump = json.loads((Path(__file__).parent / "fixtures" / "eval_tools.json").read_text())

    def tool(spec: dict[str, Any]) -> llm.Tool:
        async def call(raw_arguments: dict[str, object]) -> str:
            return "unused"

        schema = {"name": spec["name"], "description": spec["description"], "parameters": spec["input_schema"]}
        return function_tool(call, raw_schema=schema)

    return [tool(spec) for spec in dump["demo"]]


@pytest.mark.e2e
def test_real_model_leaves_a_tool_whose_value_it_invents(local_llm: Any) -> None:
    """Among the demo server's tools the 0.5B's first pick for a hot-weather question is the parcel tool, writing a
    tracking number nobody said until the length cap cuts it off: that tool is left out of the next attempt, not
    retried (it was retried under its own grammar until the attempts ran out, then the model answered unaided)."""

    async def main() -> None:
        _, calls = await _run(local_llm, _ctx("Is it hot in Cairo today?"), _demo_tools())
        assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city": "Cairo"}')]

    asyncio.run(main())


class _ScriptedRuntime:
    """Stands in for llama.cpp: a sure wish to call a tool; what the calls say comes from the script."""

    n_ctx = 4096

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        return "prompt"

    def grammar(self, gbnf: str) -> None:
        return None

    def tool_start_probability(self, prompt: str) -> float:
        return 0.9

    def generate(self, req: Any, stats: Any, temperature: float) -> Iterator[str]:
        yield "Sorry."


def _scripted_llm(monkeypatch: pytest.MonkeyPatch, outputs: list[str]) -> tuple[Any, list[dict[str, Any]]]:
    """A LocalLLM whose call decoding returns `outputs` in turn; also the tool schemas each attempt was given."""
    from voxmcp.models import llm as llm_module

    seen: list[dict[str, Any]] = []

    async def decode_call(prompt: str, schemas: dict[str, Any], collect: Any, **kwargs: Any) -> str:
        seen.append(schemas)
        return outputs[len(seen) - 1]

    monkeypatch.setattr(llm_module.LlamaRuntime, "shared", classmethod(lambda cls, *a, **k: _ScriptedRuntime()))
    monkeypatch.setattr(llm_module.call_decoding, "decode_call", decode_call)
    return llm_module.LocalLLM(Path("scripted.gguf")), seen


async def test_an_invented_value_for_a_tool_the_request_doesnt_name_moves_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "Good morning" shares no word with add_note: its invented note is a wrong tool, not a wrong text."""
    model, seen = _scripted_llm(
        monkeypatch,
        ['{"name": "add_note", "arguments": {"text": "Remember the test."}}',
         '{"name": "list_notes", "arguments": {}}', '{"name": "get_weather", "arguments": {"city": "Paris"}}'],
    )  # fmt: skip
    _, calls = await _run(model, _ctx("Good morning! Any news?"), _demo_tools())
    assert calls == [] and "add_note" not in seen[1]
    assert all("enum" not in (p or {}) for s in seen for t in s.values() for p in (t.get("properties") or {}).values())


def test_a_short_prose_result_is_the_answer() -> None:
    from livekit.agents.llm import FunctionCall, FunctionCallOutput

    from voxmcp.models.llm import prose_answer, request_results

    def out(text: str, *, error: bool = False) -> FunctionCallOutput:
        return FunctionCallOutput(call_id="c", name="t", output=text, is_error=error)

    assert prose_answer([out("Saved note 1: buy milk.")]) == "Saved note 1: buy milk."
    assert prose_answer([out("The weather in Paris is cloudy,\n13 degrees Celsius.")]) == (
        "The weather in Paris is cloudy, 13 degrees Celsius."
    )
    assert prose_answer([out("Name: Ada. Age: 36.")]) is None  # key: value fields need phrasing
    assert prose_answer([out('{"temp": 13}')]) is None
    assert prose_answer([out("no final punctuation")]) is None
    assert prose_answer([out("One. Two. Three. Four.")]) is None
    assert prose_answer([out("x" * 300 + ".")]) is None
    assert prose_answer([out("It failed.", error=True)]) is None
    assert prose_answer([out("A."), out("B.")]) is None  # several results: the model combines them
    cut = "Notes: one, two... There is more; ask me for the rest."
    assert prose_answer([out(cut)]) == cut  # the model layer can't know that a text was cut ...
    assert prose_answer([out(cut)], says_as_is=lambda text: "more" not in text) is None  # ... whoever cut it can

    ctx = ChatContext.empty()
    ctx.add_message(role="user", content="weather in Oslo?")
    ctx.insert(FunctionCall(call_id="a", name="w", arguments="{}"))
    ctx.insert(FunctionCallOutput(call_id="a", name="w", output="old.", is_error=False))
    ctx.add_message(role="user", content="and the time there?")
    ctx.add_message(role="assistant", content="One moment.")
    ctx.insert(FunctionCall(call_id="b", name="t", arguments="{}"))
    ctx.insert(FunctionCallOutput(call_id="b", name="t", output="It is 5 AM.", is_error=False))
    assert [o.output for o in request_results(ctx)] == ["It is 5 AM."]  # only this request's results


# ---- any number of tools, any length of conversation ----------------------------------------------------------


class _CountingRuntime(_ScriptedRuntime):
    """Renders prompts as JSON and counts ~4 characters a token, like a tokenizer would against a context; the
    prompts it saw are kept. `fail` makes the decision pass raise (a decode failure, an overflow)."""

    def __init__(self, n_ctx: int = 4096, fail: BaseException | None = None) -> None:
        self.n_ctx = n_ctx
        self.fail = fail
        self.prompts: list[str] = []

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        listed = "".join(f"\n{json.dumps(t)}" for t in tools or [])
        system = f"{messages[0]['content']}\n<tools>{listed}\n</tools><|im_end|>\n" if tools else messages[0]["content"]
        return system + "".join(f"{m['role']}: {json.dumps(m)}<|im_end|>\n" for m in messages[1:])

    def prefill(self, prompt: str) -> int:
        assert self.count_tokens(prompt) < self.n_ctx
        self.prefilled = prompt
        return self.count_tokens(prompt)

    def tool_start_probability(self, prompt: str) -> float:
        self.prompts.append(prompt)
        if self.fail is not None:
            raise self.fail
        assert self.count_tokens(prompt) <= self.n_ctx
        return 0.9


def _many_tools(n: int) -> list[llm.Tool]:
    """`n` tools shaped like a big server's: variants of a few domains, ~140 tokens each in full."""
    domains = [("weather", "Get the current weather in a city", "city"), ("parcel", "Track a parcel", "code"),
               ("invoice", "Create an invoice for a customer", "customer")]  # fmt: skip

    def tool(i: int) -> llm.Tool:
        topic, description, key = domains[i % len(domains)]

        async def call(raw_arguments: dict[str, object]) -> str:
            return "unused"

        name = f"get_{topic}" if i < len(domains) else f"archive_{topic}_{i}"
        properties = {
            key: {"type": "string", "description": f"The {key} to use"},
            "limit": {"type": "integer", "description": "How many results at most"},
        }
        params = {"type": "object", "properties": properties, "required": [key]}
        text = f"{description} (variant {i}). Returns a summary with timestamps and identifiers."
        return function_tool(call, raw_schema={"name": name, "description": text, "parameters": params})

    return [tool(i) for i in range(n)]


def _counting_llm(
    monkeypatch: pytest.MonkeyPatch, runtime: _CountingRuntime, output: str = ""
) -> tuple[Any, list[dict[str, Any]]]:
    from voxmcp.models import llm as llm_module

    seen: list[dict[str, Any]] = []

    async def decode_call(prompt: str, schemas: dict[str, Any], collect: Any, **kwargs: Any) -> str:
        seen.append(schemas)
        return output

    monkeypatch.setattr(llm_module.LlamaRuntime, "shared", classmethod(lambda cls, *a, **k: runtime))
    monkeypatch.setattr(llm_module.call_decoding, "decode_call", decode_call)
    return llm_module.LocalLLM(Path("counted.gguf"), instructions=SYSTEM), seen


async def test_past_the_context_the_model_searches_the_tools_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = _CountingRuntime()
    model, seen = _counting_llm(monkeypatch, runtime, '{"name": "get_weather", "arguments": {"city": "Paris"}}')
    tools = _many_tools(500)
    with caplog.at_level("INFO", logger="voxmcp.models.llm"):
        assert await model.prefill(SYSTEM, tools, servers=3) < 100  # the system prompt only
        assert runtime.prefilled == f"{SYSTEM}\n<tools>\n"  # where each turn's tools go
        _, calls = await _run(model, _ctx("What is the weather in Paris?"), tools)
        await _run(model, _ctx("Where is my parcel AB12?"), tools)
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city": "Paris"}')]
    # the call was decoded among the request's matches only, and the prompt showed just those
    assert 0 < len(seen[0]) <= 5 and "get_weather" in seen[0] and all("weather" in name for name in seen[0])
    assert '"name": "archive_parcel_' not in runtime.prompts[0] and '"name": "get_weather"' in runtime.prompts[0]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith("500 tools from 3 servers need ")
    assert "4096-token context" in warnings[0] and "tool search on" in warnings[0]


async def test_tools_that_fit_only_compacted_are_all_shown_compact(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = _CountingRuntime()
    model, _ = _counting_llm(monkeypatch, runtime, '{"name": "get_weather", "arguments": {"city": "Oslo"}}')
    tools = _many_tools(40)
    chosen = model.tool_catalogue(SYSTEM, tool_schemas(tools))
    assert chosen.mode == "compact" and chosen.full_tokens > model.prefix_budget >= chosen.tokens
    _, calls = await _run(model, _ctx("What is the weather in Oslo?"), tools)
    assert [c.name for c in calls] == ["get_weather"]
    assert runtime.prompts[0].count('"name": ') == 40 and '"description": "The city to use"' not in runtime.prompts[0]


async def test_a_long_conversation_drops_its_oldest_turns_to_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = _CountingRuntime(n_ctx=2048)
    model, _ = _counting_llm(monkeypatch, runtime, '{"name": "get_weather", "arguments": {"city": "Rome"}}')
    ctx = _ctx()
    for i in range(200):
        ctx.add_message(role="user", content=f"Tell me something about the number {i}.")
        ctx.add_message(role="assistant", content=f"The number {i} is a fine number, with a long story to it.")
    ctx.add_message(role="user", content="What is the weather in Rome?")
    _, calls = await _run(model, ctx, [get_weather, convert_units])
    assert [c.name for c in calls] == ["get_weather"]
    prompt = runtime.prompts[0]
    assert runtime.count_tokens(prompt) <= model.turn_limit
    assert "What is the weather in Rome?" in prompt and "number 199" in prompt and "number 0." not in prompt


@pytest.mark.parametrize(
    ("failure", "sentence"),
    [
        ("ContextFull", "Sorry, that was more than I can take in at once."),
        ("DecodeFailed", "Sorry, something went wrong while I was thinking."),
    ],
)
async def test_a_turn_that_cannot_be_evaluated_fails_with_a_sentence(
    monkeypatch: pytest.MonkeyPatch, failure: str, sentence: str
) -> None:
    from voxmcp.models import llm as llm_module

    runtime = _CountingRuntime(fail=getattr(llm_module, failure)("llama_decode returned 1"))
    model, _ = _counting_llm(monkeypatch, runtime)
    text, calls = await _run(model, _ctx("What is the weather in Paris?"))
    assert calls == [] and text.startswith(sentence)


async def test_a_request_longer_than_the_context_fails_with_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = _CountingRuntime(n_ctx=1024)
    model, _ = _counting_llm(monkeypatch, runtime)
    system = "You are a voice assistant. " + "Always be kind. " * 400  # the system prompt alone overflows
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content=system)
    ctx.add_message(role="user", content="What is the weather in Paris?")
    text, calls = await _run(model, ctx)
    assert calls == [] and text == "Sorry, that was more than I can take in at once. Could you say it more briefly?"
    assert runtime.prompts == []  # nothing reached the model


def test_an_unknown_rule_is_refused() -> None:
    from voxmcp.models import llm as llm_module

    with pytest.raises(ValueError, match="unknown grounding rules"):
        llm_module.LocalLLM(Path("missing.gguf"), rules_off=["no_such_rule"])


async def test_a_wrong_pick_moves_to_the_closest_tools_unless_that_rule_is_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """ "Good morning, what is the weather in Paris?" -> add_note(invented): the retry offers the tools sharing the
    most words with the request (get_weather), and the log names the rules that changed the turn; with
    closest_tools off, every other tool is offered again."""
    invented = '{"name": "add_note", "arguments": {"text": "Remember the test."}}'
    weather = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    model, seen = _scripted_llm(monkeypatch, [invented, weather])
    with caplog.at_level(logging.INFO, logger="voxmcp.models.llm"):
        _, calls = await _run(model, _ctx("Good morning, what is the weather in Paris?"), _demo_tools())
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", '{"city": "Paris"}')]
    assert list(seen[1]) == ["get_weather"]
    fired = [r.__dict__.get("rules") for r in caplog.records if r.getMessage() == "grounding rule fired"]
    assert ["unsaid_required"] in fired and ["closest_tools"] in fired

    model, seen = _scripted_llm(monkeypatch, [invented, weather])
    model.rules_off = frozenset({"closest_tools"})
    await _run(model, _ctx("Good morning, what is the weather in Paris?"), _demo_tools())
    assert "add_note" not in seen[1] and len(seen[1]) > 1


class _SpeakingRuntime(_ScriptedRuntime):
    """Also renders and speaks: records the last user message of each prompt, says "Sorry." to every one."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        self.asked.append(str(messages[-1]["content"]))
        return "prompt"


@pytest.mark.parametrize(
    ("confidence", "again", "unclear"),
    [(0.9, "say it again", "didn't catch"), (None, "put it another way", "put it another way")],
)
async def test_an_unclear_request_is_never_didnt_catch_that_when_typed(
    monkeypatch: pytest.MonkeyPatch, confidence: float | None, again: str, unclear: str
) -> None:
    """Every call the model offers invents its values: one plain sentence, "didn't catch" only for speech (typed
    words arrived as written), no generation (a 0.5B asked to answer anyway echoes the request). A call rejected
    for another reason: the model answers, told how to ask for the request again."""
    from voxmcp.models import llm as llm_module

    runtime = _SpeakingRuntime()
    offered: list[str] = []

    async def decode_call(prompt: str, schemas: dict[str, Any], collect: Any, **kwargs: Any) -> str:
        return offered[0]

    monkeypatch.setattr(llm_module.LlamaRuntime, "shared", classmethod(lambda cls, *a, **k: runtime))
    monkeypatch.setattr(llm_module.call_decoding, "decode_call", decode_call)
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content=SYSTEM)
    ctx.insert(ChatMessage(role="user", content=["Blorp the flimflam, quickly."], transcript_confidence=confidence))

    offered[:] = ['{"name": "add_note", "arguments": {"text": "Springfield is a lovely place to visit"}}']
    text, calls = await _run(llm_module.LocalLLM(Path("speaking.gguf")), ctx, _demo_tools())
    assert calls == [] and unclear in text and text.endswith("?")

    offered[:] = ['{"name": "list_notes", "arguments": {}}']  # nothing invented, nothing from the request either
    text, calls = await _run(llm_module.LocalLLM(Path("speaking.gguf")), ctx, _demo_tools())
    assert calls == [] and text == "Sorry."
    assert f"ask me to {again}" in runtime.asked[-1]
