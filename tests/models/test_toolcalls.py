"""Tool-call parsing over real Qwen2.5-Coder-0.5B outputs and hand-made edge cases; stream detection; grammar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voxmcp.models.toolcalls import ParseResult, ToolCallStreamDetector, parse_tool_calls, tool_call_grammar

FIXTURES = Path(__file__).parent / "fixtures"
RECORDS: list[dict[str, Any]] = [
    json.loads(line) for line in (FIXTURES / "qwen_outputs.jsonl").read_text(encoding="utf-8").splitlines() if line
]

TOOLS: dict[str, dict[str, Any]] = {
    "get_weather": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
    "convert_units": {
        "type": "object",
        "properties": {"value": {"type": "number"}, "from_unit": {"type": "string"}, "to_unit": {"type": "string"}},
        "required": ["value", "from_unit", "to_unit"],
    },
    "add_note": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
    "get_time": {
        "type": "object",
        "properties": {"timezone": {"type": "string"}},
        "required": ["timezone"],
    },
}


def _calls(result: ParseResult) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, c.arguments) for c in result.calls]


# --- real model outputs -----------------------------------------------------------------------------------------


def test_fixture_covers_the_formats_small_models_emit() -> None:
    outputs = [r["output"] for r in RECORDS]
    assert len(RECORDS) >= 30
    assert any(o.lstrip().startswith('{"name"') for o in outputs), "bare JSON"
    assert any(o.lstrip().startswith("```json") for o in outputs), "fenced JSON"
    assert any(not r["expected"]["calls"] and not r["expected"]["errors"] for r in RECORDS), "plain text"
    assert any(len(r["expected"]["calls"]) > 1 for r in RECORDS), "several calls"
    assert any(r["expected"]["errors"] for r in RECORDS), "unrepairable output"
    assert any(r["expected"]["stray_json"] for r in RECORDS), "echoed tool result"
    assert any(r["expected"]["calls"] and r["expected"]["text"] for r in RECORDS), "prose around a call"


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_real_output_parses_as_reviewed(record: dict[str, Any]) -> None:
    result = parse_tool_calls(record["output"], TOOLS)
    expected = record["expected"]
    assert [{"name": c.name, "arguments": c.arguments} for c in result.calls] == expected["calls"]
    assert len(result.errors) == expected["errors"], result.errors
    assert result.text == expected["text"]
    assert len(result.stray_json) == expected["stray_json"]
    for call in result.calls:
        assert call.name in TOOLS
        assert set(TOOLS[call.name]["required"]) <= set(call.arguments)
    assert "{" not in result.text or not result.calls, "no JSON left in what would be spoken"


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_stream_detector_on_real_output(record: dict[str, Any]) -> None:
    """Token-sized chunks: plain text flows from the first chunk; calls are held and parse from `held`."""
    output = record["output"]
    detector = ToolCallStreamDetector(TOOLS)
    emitted = [detector.feed(output[i : i + 4]) for i in range(0, len(output), 4)]
    emitted.append(detector.finish())
    spoken = "".join(emitted)
    expected = record["expected"]
    if not expected["calls"] and not expected["errors"] and not expected["stray_json"]:
        assert detector.state == "text"
        assert emitted[0] == output[:4], "plain text must not wait"
        assert spoken == output
        return
    if expected["stray_json"]:
        assert detector.state == "text", "JSON that is no call is released once its first key is known"
        holding = ToolCallStreamDetector(TOOLS, hold_json=True)
        spoken_json = "".join(holding.feed(output[i : i + 4]) for i in range(0, len(output), 4)) + holding.finish()
        assert holding.state == "json" and "{" not in spoken_json
        return
    assert detector.is_tool_call
    assert "{" not in spoken, f"call JSON leaked into speech: {spoken!r}"
    assert output.startswith(spoken) and spoken + detector.held == output
    result = parse_tool_calls(detector.held, TOOLS)
    assert _calls(result) == [(c["name"], c["arguments"]) for c in expected["calls"]]


# --- hand-made edge cases ---------------------------------------------------------------------------------------

PARIS = [("get_weather", {"city": "Paris"})]
CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'


@pytest.mark.parametrize(
    ("text", "calls", "spoken"),
    [
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>', PARIS, ""),
        ('  <tool_call>{"name": "get_weather", "parameters": {"city": "Paris"}}</tool_call>', PARIS, ""),
        ('{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}', PARIS, ""),
        ('{"name": "get_weather", "city": "Paris"}', PARIS, ""),
        ('{"get_weather": {"city": "Paris"}}', PARIS, ""),
        ('{"type": "function", "function": {"name": "get_weather", "arguments": '
         '"{\\"city\\":\\"Paris\\"}"}}', PARIS, ""),
        ('{"tool_calls": [{"id": "c1", "function": {"name": "get_weather", '
         '"arguments": {"city": "Paris"}}}]}', PARIS, ""),
        ('```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```', PARIS, ""),
        ('```\n{"name": "get_weather", "arguments": {"city": "Paris"}}', PARIS, ""),
        ('<tool_call>\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```\n</tool_call>', PARIS, ""),
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}', PARIS, ""),
        ('{"name": "get_weather", "arguments": {"city": "Paris"}', PARIS, ""),
        ('{"name": "get_weather", "arguments": {"city": "Paris",', PARIS, ""),
        ("{'name': 'get_weather', 'arguments': {'city': 'Paris'}}", PARIS, ""),
        (CALL + " Let me check that for you.", PARIS, "Let me check that for you."),
        ("Sure!\n<tool_call>\n" + CALL + "\n</tool_call>\nOne moment.", PARIS, "Sure!\n\nOne moment."),
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "get_time", "arguments": {"timezone": "Europe/Paris"}}\n</tool_call>',
            [*PARIS, ("get_time", {"timezone": "Europe/Paris"})],
            "",
        ),
        (
            "[" + CALL + ', {"name": "get_weather", "arguments": {"city": "Rome"}}]',
            [*PARIS, ("get_weather", {"city": "Rome"})],
            "",
        ),
        (CALL + "\n" + CALL, PARIS, ""),
        (
            "<tool_call>\n" + CALL + '\n{"name": "get_time", "arguments": {"timezone": "UTC"}}\n</tool_call>',
            [*PARIS, ("get_time", {"timezone": "UTC"})],
            "",
        ),
        (CALL + "}", PARIS, ""),
        ("{" + CALL + "}", PARIS, ""),
        ("It is sunny in Paris today.", [], "It is sunny in Paris today."),
        ("Use {curly braces}, and [1] for lists.", [], "Use {curly braces}, and [1] for lists."),
    ],
)  # fmt: skip
def test_formats(text: str, calls: list[tuple[str, dict[str, Any]]], spoken: str) -> None:
    result = parse_tool_calls(text, TOOLS)
    assert result.errors == []
    assert _calls(result) == calls
    assert result.text == spoken


@pytest.mark.parametrize(
    ("name", "resolved"),
    [("getWeather", "get_weather"), ("get-weather", "get_weather"), ("GET_WEATHER", "get_weather"),
     ("functions.get_weather", "get_weather"), ("get_wether", "get_weather"), ("add_notes", "add_note")],
)  # fmt: skip
def test_near_tool_names_are_repaired_when_unambiguous(name: str, resolved: str) -> None:
    args = {"get_weather": {"city": "Paris"}, "add_note": {"text": "x"}}[resolved]
    result = parse_tool_calls(json.dumps({"name": name, "arguments": args}), TOOLS)
    assert _calls(result) == [(resolved, args)]
    assert any("taken as" in r for r in result.calls[0].repairs)


def test_hallucinated_tool_is_an_error_listing_the_real_ones() -> None:
    result = parse_tool_calls(
        '<tool_call>{"name": "get_stock_price", "arguments": {"symbol": "AAPL"}}</tool_call>', TOOLS
    )
    assert result.calls == []
    assert result.errors == [
        'unknown tool "get_stock_price"; available tools: get_weather, convert_units, add_note, get_time'
    ]
    assert result.attempted_call and not result.ok


def test_ambiguous_near_name_is_not_guessed() -> None:
    tools = {"get_item": {"type": "object"}, "get_items": {"type": "object"}}
    result = parse_tool_calls('{"name": "get_itemz", "arguments": {}}', tools)
    assert result.calls == [] and len(result.errors) == 1


@pytest.mark.parametrize(
    ("arguments", "fixed"),
    [
        ({"value": "3", "from_unit": "mi", "to_unit": "km"}, {"value": 3, "from_unit": "mi", "to_unit": "km"}),
        ({"value": "2.5", "from_unit": "m", "to_unit": "ft"}, {"value": 2.5, "from_unit": "m", "to_unit": "ft"}),
        ({"value": "three", "from_unit": "l", "to_unit": "gal"}, {"value": 3, "from_unit": "l", "to_unit": "gal"}),
        ({"value": "1,000", "from_unit": "g", "to_unit": "kg"}, {"value": 1000, "from_unit": "g", "to_unit": "kg"}),
        ({"value": 5, "fromUnit": "mi", "to-unit": "km"}, {"value": 5, "from_unit": "mi", "to_unit": "km"}),
    ],
)  # fmt: skip
def test_argument_types_are_coerced_when_lossless(arguments: dict[str, Any], fixed: dict[str, Any]) -> None:
    result = parse_tool_calls(json.dumps({"name": "convert_units", "arguments": arguments}), TOOLS)
    assert result.errors == []
    assert _calls(result) == [("convert_units", fixed)]
    assert result.calls[0].repairs


def test_schema_repairs_for_enums_nulls_booleans_integers_and_strings() -> None:
    tools = {
        "t": {
            "type": "object",
            "properties": {
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "count": {"type": "integer", "minimum": 1},
                "loud": {"type": "boolean"},
                "zip": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "note": {"type": "string"},
            },
            "required": ["unit"],
            "additionalProperties": False,
        }
    }
    raw = {"unit": "Celsius", "count": 2.0, "loud": "true", "zip": 75001, "tags": "x", "note": None, "extra": 1}
    result = parse_tool_calls(json.dumps({"name": "t", "arguments": raw}), tools)
    assert result.errors == []
    assert _calls(result) == [("t", {"unit": "celsius", "count": 2, "loud": True, "zip": "75001", "tags": ["x"]})]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, 'tool "get_weather": missing required argument "city"'),
        ({"city": None}, 'tool "get_weather": city must be string, got null'),
        ({"city": "Paris", "unit": "kelvin"}, 'tool "get_weather": unit must be one of "celsius", "fahrenheit"'),
        ({"city": {"name": "Paris"}}, 'tool "get_weather": city must be string, got {"name": "Paris"}'),
    ],
)
def test_unrepairable_arguments_become_errors(arguments: dict[str, Any], error: str) -> None:
    result = parse_tool_calls(json.dumps({"name": "get_weather", "arguments": arguments}), TOOLS)
    assert result.calls == []
    assert result.errors == [error]


def test_non_numeric_string_for_a_number_is_an_error() -> None:
    args = {"value": "a few", "from_unit": "mi", "to_unit": "km"}
    result = parse_tool_calls(json.dumps({"name": "convert_units", "arguments": args}), TOOLS)
    assert result.errors == ['tool "convert_units": value must be number, got "a few"']


def test_output_cut_off_mid_value_is_not_guessed() -> None:
    text = '{"name": "convert_units", "arguments": {"value": 2.5, "from_unit": "meters", "to_unit": "fe'
    result = parse_tool_calls(text, TOOLS)
    assert result.calls == []
    assert result.errors == ["tool call to 'convert_units' is incomplete: the output was cut off inside a string"]
    cut_number = parse_tool_calls(
        '{"name": "convert_units", "arguments": {"from_unit": "c", "to_unit": "f", "value": 21', TOOLS
    )
    assert cut_number.calls == [] and "cut off before a value was complete" in cut_number.errors[0]


def test_malformed_tagged_calls_are_errors_not_text() -> None:
    garbage = parse_tool_calls("<tool_call>get the weather please</tool_call>", TOOLS)
    assert garbage.calls == [] and garbage.errors[0].startswith("tool call is not valid JSON")
    assert garbage.text == ""
    wrong_shape = parse_tool_calls('<tool_call>{"city": "Paris"}</tool_call>', TOOLS)
    assert wrong_shape.calls == [] and wrong_shape.errors[0].startswith("tool call must be")
    no_args_object = parse_tool_calls('{"name": "get_weather", "arguments": ["Paris"]}', TOOLS)
    assert no_args_object.errors == ['tool "get_weather": arguments must be a JSON object, got ["Paris"]']


def test_echoed_tool_result_is_kept_out_of_speech() -> None:
    result = parse_tool_calls('{"city": "Paris", "temp_c": 18}\nIt is 18 degrees in Paris.', TOOLS)
    assert result.calls == [] and result.errors == []
    assert result.stray_json == ['{"city": "Paris", "temp_c": 18}']
    assert result.text == "It is 18 degrees in Paris."


def test_tools_may_be_given_as_openai_style_entries() -> None:
    tools = {
        "get_weather": {"type": "function", "function": {"name": "get_weather", "parameters": TOOLS["get_weather"]}}
    }
    assert _calls(parse_tool_calls('{"name": "get_weather", "arguments": {"city": "Paris"}}', tools)) == PARIS
    assert parse_tool_calls('{"name": "get_weather", "arguments": {}}', tools).errors


def test_nested_schemas_and_refs_are_validated() -> None:
    tools = {
        "plan": {
            "type": "object",
            "properties": {
                "stops": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
                },
                "mode": {"anyOf": [{"type": "integer"}, {"type": "string", "enum": ["walk", "bike"]}]},
            },
            "required": ["stops"],
        }
    }  # fmt: skip
    ok = parse_tool_calls('{"name": "plan", "arguments": {"stops": [{"n": "1"}, {"n": 2}], "mode": "Bike"}}', tools)
    assert _calls(ok) == [("plan", {"stops": [{"n": 1}, {"n": 2}], "mode": "bike"})]
    bad = parse_tool_calls('{"name": "plan", "arguments": {"stops": [{"m": 1}]}}', tools)
    assert bad.errors == ['tool "plan": missing required argument "stops[0].n"']


# --- stream detector --------------------------------------------------------------------------------------------


def _stream(text: str, size: int = 3, tools: Any = None) -> tuple[ToolCallStreamDetector, list[str]]:
    detector = ToolCallStreamDetector(tools if tools is not None else TOOLS)
    out = [detector.feed(text[i : i + size]) for i in range(0, len(text), size)]
    out.append(detector.finish())
    return detector, out


@pytest.mark.parametrize(
    "text",
    ["Hello there.", "  It is sunny.", "<b>bold</b> is html", "I think [1] is right", "`code` here",
     '{"city": "Paris", "temp_c": 18}', "Code:\n```python\nprint(1)\n```\nDone.", "Hi\n"],
)  # fmt: skip
def test_plain_output_streams_untouched(text: str) -> None:
    detector, out = _stream(text)
    assert detector.state == "text"
    assert "".join(out) == text


def test_first_token_of_a_sentence_is_released_at_once() -> None:
    detector = ToolCallStreamDetector(TOOLS)
    assert detector.feed("The") == "The"
    assert detector.feed(" weather") == " weather"
    assert detector.state == "text"


@pytest.mark.parametrize(
    ("chunks", "held_after"),
    [(["<tool", "_call>", "\n{"], True), (["{", '"na', 'me"'], True), (["```", "json\n", "{"], True),
     (["[", "{", '"name"'], True), (["  ", "{"], True)],
)  # fmt: skip
def test_possible_call_is_held(chunks: list[str], held_after: bool) -> None:
    detector = ToolCallStreamDetector(TOOLS)
    assert [detector.feed(c) for c in chunks] == [""] * len(chunks)
    assert detector.state in ("undecided", "tool_call")


def test_json_with_a_non_call_first_key_is_released_early() -> None:
    detector = ToolCallStreamDetector(TOOLS)
    assert detector.feed('{"n') == "", '"n" may still become "name"'
    assert detector.feed('ote": "hi"') == '{"note": "hi"'
    assert detector.state == "text"
    other = ToolCallStreamDetector(TOOLS)
    assert other.feed('{"ci') == '{"ci', "no call key starts with ci"


def test_doubled_brace_call_is_held() -> None:
    detector, out = _stream("{" + CALL + "}", size=1)
    assert detector.is_tool_call and "".join(out) == ""
    assert _calls(parse_tool_calls(detector.held, TOOLS)) == PARIS


def test_hold_json_keeps_echoed_results_out_of_speech() -> None:
    detector = ToolCallStreamDetector(TOOLS, hold_json=True)
    assert detector.feed('{"type": "text", "text": "18 C"}') == "", "MCP content imitation: held, as a call"
    detector = ToolCallStreamDetector(TOOLS, hold_json=True)
    assert detector.feed('{"temp_c": 18') == ""
    assert detector.state == "json" and detector.finish() == ""
    assert parse_tool_calls(detector.held + "}", TOOLS).stray_json == ['{"temp_c": 18}']
    prose = ToolCallStreamDetector(TOOLS, hold_json=True)
    assert prose.feed("It is 18 degrees.") == "It is 18 degrees."


def test_tool_name_as_first_key_counts_as_a_call() -> None:
    detector, out = _stream('{"get_weather": {"city": "Paris"}}')
    assert detector.is_tool_call and "".join(out) == ""
    assert _calls(parse_tool_calls(detector.held, TOOLS)) == PARIS


def test_call_after_prose_is_caught_midstream() -> None:
    text = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    detector, out = _stream(text, size=5)
    assert "".join(out) == "Let me check.\n"
    assert detector.held.startswith("<tool_call>")
    assert _calls(parse_tool_calls(detector.held, TOOLS)) == PARIS


def test_json_line_after_prose_is_caught_midstream() -> None:
    text = 'Checking now.\n\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'
    detector, out = _stream(text, size=2)
    assert "".join(out) == "Checking now.\n\n"
    assert _calls(parse_tool_calls(detector.held, TOOLS)) == PARIS


def test_stream_ending_while_undecided() -> None:
    detector = ToolCallStreamDetector(TOOLS)
    assert detector.feed("<tool") == ""
    assert detector.finish() == "", "a cut-off call start is not spoken"
    assert detector.is_tool_call
    detector = ToolCallStreamDetector(TOOLS)
    assert detector.feed("   ") == ""
    assert detector.finish() == "   "


# --- grammar ----------------------------------------------------------------------------------------------------

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"allow_text": True}, {"max_calls": 3}, {"forms": ("tagged", "bare", "fenced"), "allow_text": True}],
)
def test_grammar_compiles(kwargs: dict[str, Any]) -> None:
    grammar = tool_call_grammar(TOOLS, **kwargs)
    assert '"<tool_call>\\n"' in grammar or "tagged" not in kwargs.get("forms", ("tagged",))
    for name in TOOLS:
        assert f'"\\"{name}\\""' in grammar
    llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
    assert ("plain-text ::=" in grammar) == kwargs.get("allow_text", False)


def test_grammar_handles_refs_and_odd_schemas() -> None:
    tools = {
        "book": {
            "type": "object",
            "$defs": {"Slot": {"type": "object", "properties": {"day": {"type": "string", "format": "date"}}}},
            "properties": {"slot": {"$ref": "#/$defs/Slot"}, "seats": {"type": "integer", "minimum": 1, "maximum": 9}},
            "required": ["slot"],
        },
        "ping": {},
        "with.dots and spaces": {"type": "object", "properties": {"q": {"type": ["string", "null"]}}},
    }
    llama_cpp.LlamaGrammar.from_string(tool_call_grammar(tools), verbose=False)


def test_grammar_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one tool"):
        tool_call_grammar({})
    with pytest.raises(ValueError, match="max_calls"):
        tool_call_grammar(TOOLS, max_calls=0)
    with pytest.raises(ValueError, match="forms"):
        tool_call_grammar(TOOLS, forms=("xml",))  # type: ignore[arg-type]


@pytest.mark.e2e
def test_qwen_05b_under_the_grammar_makes_valid_calls() -> None:
    """The real model, constrained: every output parses into one valid call (short prompts, few tokens)."""
    import jinja2.sandbox

    from voxmcp.models.weights import resolve

    llm = llama_cpp.Llama(str(resolve("qwen2.5-coder-0.5b", progress=False)), n_ctx=2048, n_threads=2, verbose=False)
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda value: json.dumps(value, ensure_ascii=False)
    template = env.from_string(str(llm.metadata["tokenizer.chat_template"]))
    openai_tools = [{"type": "function", "function": {"name": n, "parameters": s}} for n, s in TOOLS.items()]
    grammar = llama_cpp.LlamaGrammar.from_string(tool_call_grammar(TOOLS), verbose=False)
    requests = {
        "What's the weather in Paris?": "get_weather",
        "Convert 5 miles to kilometers.": "convert_units",
        "What time is it in Tokyo?": "get_time",
    }
    for request, tool in requests.items():
        messages = [{"role": "system", "content": "You are a voice assistant."}, {"role": "user", "content": request}]
        prompt = template.render(messages=messages, tools=openai_tools, add_generation_prompt=True)
        out = llm.create_completion(prompt, max_tokens=64, temperature=0.0, grammar=grammar, stop=["<|im_end|>"])
        text = out["choices"][0]["text"]
        assert text.startswith("<tool_call>\n{")
        result = parse_tool_calls(text, TOOLS)
        assert result.errors == [], text
        assert [c.name for c in result.calls] == [tool], text
        assert all(not c.repairs for c in result.calls), "the grammar leaves nothing to repair"


def test_json_value_closed_is_string_aware() -> None:
    from voxmcp.models.toolcalls import json_value_closed

    assert json_value_closed('{"city": "Oslo"}')
    assert json_value_closed(' {"a": [1, {"b": 2}]}')
    assert not json_value_closed('{"city": "Os}lo"')  # a brace inside a string does not close it
    assert not json_value_closed('{"a": [1, 2]')
    assert not json_value_closed("")
    assert not json_value_closed('get_weather"')
