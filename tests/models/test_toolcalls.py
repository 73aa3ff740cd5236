"""Tool-call parsing over real Qwen2.5-Coder-0.5B outputs and hand-made edge cases; stream detection; grammar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voxmcp.models.toolcalls import ParseResult, parse_tool_calls

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


def test_json_value_closed_is_string_aware() -> None:
    from voxmcp.models.toolcalls import json_value_closed

    assert json_value_closed('{"city": "Oslo"}')
    assert json_value_closed(' {"a": [1, {"b": 2}]}')
    assert not json_value_closed('{"city": "Os}lo"')  # a brace inside a string does not close it
    assert not json_value_closed('{"a": [1, 2]')
    assert not json_value_closed("")
    assert not json_value_closed('get_weather"')
