"""The baseline's tolerant tool-call parser (the plain recipe's), on the output shapes small models produce."""

from __future__ import annotations

from voxmcp.bench.baseline import parse_tool_call_text

KNOWN = {"get_weather", "convert_units"}


def test_tagged_call() -> None:
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Tokyo"}}\n</tool_call>'
    assert parse_tool_call_text(text, KNOWN) == [("get_weather", {"city": "Tokyo"})]


def test_unclosed_tag_fenced_and_bare_json() -> None:
    assert parse_tool_call_text('<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}', KNOWN) == [
        ("get_weather", {"city": "Rome"})
    ]
    fenced = '```json\n{"name": "convert_units", "parameters": {"value": 10}}\n```'
    assert parse_tool_call_text(fenced, KNOWN) == [("convert_units", {"value": 10})]
    bare = '{"function": {"name": "get_weather"}, "arguments": "{\\"city\\": \\"Oslo\\"}"}'
    assert parse_tool_call_text(bare, KNOWN) == [("get_weather", {"city": "Oslo"})]


def test_several_calls_and_unknown_names() -> None:
    text = (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "A"}}</tool_call>'
        '<tool_call>{"name": "made_up", "arguments": {}}</tool_call>'
        '<tool_call>{"name": "get_weather", "arguments": {"city": "B"}}</tool_call>'
    )
    assert parse_tool_call_text(text, KNOWN) == [("get_weather", {"city": "A"}), ("get_weather", {"city": "B"})]


def test_not_a_call() -> None:
    assert parse_tool_call_text('{"type": "text", "text": "It is sunny."}', KNOWN) == []
    assert parse_tool_call_text("{broken json", KNOWN) == []
    assert parse_tool_call_text("Hello there!", KNOWN) == []
