"""Two-step call decoding: only the name and the arguments are generated; the JSON around them is evaluated."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from voxmcp.models.call_decoding import arguments_grammar, decode_call, gbnf_literal, name_grammar, structure_chars

TOOLS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "fixtures" / "eval_tools.json").read_text())["demo"]


def test_grammars_compile_for_every_demo_tool() -> None:
    from llama_cpp.llama_grammar import LlamaGrammar

    LlamaGrammar.from_string(name_grammar([t["name"] for t in TOOLS] + ["get-sum", 'odd"name']), verbose=False)
    for tool in TOOLS:
        LlamaGrammar.from_string(arguments_grammar(tool["input_schema"]), verbose=False)
    LlamaGrammar.from_string(arguments_grammar({}), verbose=False)


def test_gbnf_literal_escapes() -> None:
    assert gbnf_literal('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(ValueError):
        name_grammar([])


async def test_decode_call_appends_the_fixed_parts_and_asks_only_for_name_and_arguments() -> None:
    seen: list[tuple[str, str]] = []
    replies = iter(['get_weather"', '{"city": "Oslo"}'])

    async def collect(prompt: str, grammar: str, done: Callable[[str], bool]) -> str:
        seen.append((prompt, grammar))
        reply = next(replies)
        assert done(reply) and not done(reply[:-1])  # generation stops right at the end of each part
        return reply

    text = await decode_call("P", {"get_weather": {"type": "object"}, "get_time": {"type": "object"}}, collect)
    assert json.loads(text) == {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert seen[0][0] == 'P{"name": "'
    assert seen[1][0] == 'P{"name": "get_weather", "arguments": '
    assert '"get_time\\""' in seen[0][1]


async def test_a_single_tool_needs_no_name_step() -> None:
    prompts: list[str] = []

    async def collect(prompt: str, grammar: str, done: Callable[[str], bool]) -> str:
        prompts.append(prompt)
        return "{}"

    text = await decode_call("P", {"list_notes": {}}, collect)
    assert json.loads(text) == {"name": "list_notes", "arguments": {}}
    assert prompts == ['P{"name": "list_notes", "arguments": ']


async def test_runaway_arguments_are_cut() -> None:
    seen: list[bool] = []

    async def collect(prompt: str, grammar: str, done: Callable[[str], bool]) -> str:
        if prompt.endswith('"name": "'):
            return 'check_package_status"'
        text = '{"tracking_id": "'
        while not done(text):  # what the worker does: stop as soon as done() says so
            text += "1234567890"
        seen.append(True)
        return text

    text = await decode_call("P", {"check_package_status": {}, "get_weather": {}}, collect, max_argument_chars=80)
    assert seen and len(text) < 140 and not text.endswith('"}}')


async def test_the_cap_is_on_values_so_several_keys_still_fit() -> None:
    """`If it is 3pm in New York, what time is it in London?` (52 characters) -> a convert_time call of 87: its keys
    are 52 characters of structure, so the cap (words + 30) must not count them (it cut "Europe/L" off)."""
    call = '{"source_timezone": "America/New_York", "time": "15:00", "target_timezone": "Europe/London"}'
    schema = {"properties": {"source_timezone": {}, "time": {}, "target_timezone": {}}}
    assert structure_chars(schema) == 2 + 3 * 6 + len('"source_timezone""time""target_timezone"')

    async def collect(prompt: str, grammar: str, done: Callable[[str], bool]) -> str:
        text = ""
        for ch in call:  # stop where the worker would
            text += ch
            if done(text):
                break
        return text

    text = await decode_call("P", {"convert_time": schema}, collect, max_argument_chars=52 + 30)
    assert json.loads(text)["arguments"]["target_timezone"] == "Europe/London"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the weather in Tokyo?", ("get_weather", {"city": "Tokyo"})),
        ("Convert 10 kilometers to miles.", ("convert_units", None)),
        ("What time is it in London?", ("get_time", None)),
        ("Add a note: buy eggs.", ("add_note", None)),
    ],
)
async def test_real_model_makes_the_expected_call_in_two_steps(question: str, expected: tuple[str, Any]) -> None:
    from voxmcp.models import toolcalls, weights
    from voxmcp.models.llm import GenerationStats, LlamaRuntime, _Request, compact_schema, prompt_tools

    schemas: list[dict[str, Any]] = sorted(
        ({"type": "function", "function": {"name": t["name"], "description": t["description"],
                                            "parameters": t["input_schema"]}} for t in TOOLS),
        key=lambda s: s["function"]["name"],
    )  # fmt: skip
    rt = LlamaRuntime.shared(weights.resolve("qwen2.5-coder-0.5b", progress=False), n_ctx=4096, threads=2)
    prompt = rt.render(
        [{"role": "system", "content": "You are a helpful voice assistant."}, {"role": "user", "content": question}],
        prompt_tools(schemas),
    )
    compact = {s["function"]["name"]: compact_schema(s["function"]["parameters"]) for s in schemas}

    def gen(p: str, gbnf: str) -> str:
        req = _Request(prompt=p, max_tokens=120, grammar=rt.grammar(gbnf))
        return "".join(rt.generate(req, GenerationStats(), 0.0))

    async def collect(p: str, gbnf: str, done: Callable[[str], bool]) -> str:
        return gen(p, gbnf)

    two = toolcalls.parse_tool_calls(await decode_call(prompt, compact, collect), compact)
    assert not two.errors and len(two.calls) == 1
    assert two.calls[0].name == expected[0]
    if expected[1] is not None:
        assert two.calls[0].arguments == expected[1]
