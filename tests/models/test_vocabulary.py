"""The speech vocabulary built from MCP tools: real tool lists of the eval's servers, caps, odd schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest

from voxmcp.mcp.toolset import ToolInfo
from voxmcp.models.vocabulary import SpeechVocabulary, ToolText, build_vocabulary, split_identifier, tool_terms

FIXTURES = Path(__file__).parent / "fixtures"


def eval_tools(server: str) -> list[dict[str, Any]]:
    """`tools/list` of a server the public eval suite uses (demo, time, everything), as dumped from the servers."""
    tools: list[dict[str, Any]] = json.loads((FIXTURES / "eval_tools.json").read_text())[server]
    return tools


def test_identifiers_split_into_words() -> None:
    assert split_identifier("check_package_status") == ["check", "package", "status"]
    assert split_identifier("trigger-elicitation-request") == ["trigger", "elicitation", "request"]
    assert split_identifier("messageType") == ["message", "type"]
    assert split_identifier("getHTTPStatus") == ["get", "HTTP", "status"]
    assert split_identifier("America/New_York") == ["america", "new", "york"]
    assert split_identifier("  ") == []


def test_demo_server_terms_put_tool_names_first() -> None:
    terms = tool_terms(eval_tools("demo"))
    assert terms[:7] == [
        "add note",
        "list notes",
        "delete note",
        "weather",
        "time",
        "convert units",
        "check package status",
    ]
    assert "tracking" in terms and "city" in terms  # parameter names come after every tool name
    assert terms.index("city") > terms.index("check package status")
    assert "get" not in " ".join(terms).split()  # "get_weather" -> "weather": a verb every tool has adds nothing


def test_enum_values_are_terms() -> None:
    terms = tool_terms(eval_tools("everything"))
    assert "trigger elicitation request" in terms
    assert "new york" in terms and "los angeles" in terms  # enum values of get-structured-content's location
    assert "new york" not in tool_terms(eval_tools("everything"), enums=False)


def test_phrases_adding_no_new_word_are_dropped() -> None:
    tools = [
        ToolText("add_note"),
        ToolText("note_add"),
        ToolText("delete_note", input_schema={"properties": {"note": {}}}),
    ]
    assert tool_terms(tools) == ["add note", "delete note"]


def test_caps_bound_the_prompt() -> None:
    everything = eval_tools("everything")
    full = build_vocabulary(everything, max_terms=100, max_chars=10_000)
    capped = build_vocabulary(everything, max_terms=5)
    assert len(full.terms) > 20
    assert capped.terms == full.terms[:5]
    short = build_vocabulary(everything, max_chars=60)
    assert short.prompt is not None and len(short.prompt) <= 60
    assert build_vocabulary(everything).prompt is not None
    assert len(build_vocabulary(everything).prompt or "") <= 240


def test_extra_terms_come_first_and_empty_tools_give_no_prompt() -> None:
    vocab = build_vocabulary(eval_tools("time"), extra_terms=["Ada Lovelace", " ", "timezone"])
    assert vocab.terms[0] == "Ada Lovelace"
    assert vocab.terms.count("timezone") == 1
    assert build_vocabulary([]) == SpeechVocabulary(terms=())
    assert build_vocabulary([]).prompt is None
    assert build_vocabulary(eval_tools("demo"), max_terms=0).prompt is None


def test_tool_objects_of_the_sdk_and_the_hub_are_read() -> None:
    sdk = types.Tool(
        name="get_forecast",
        description="Forecast",
        input_schema={"type": "object", "properties": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}},
    )
    info = ToolInfo(server="s", name="book_table", annotations=None, input_schema={"properties": {"partySize": {}}})
    raw = {"name": "play_song", "parameters": {"properties": {"artist": {}}}}
    camel = {"name": "send_mail", "inputSchema": {"properties": {"recipient": {}}}}
    assert tool_terms([sdk, info, raw, camel]) == [
        "forecast",
        "book table",
        "play song",
        "send mail",
        "unit",
        "party size",
        "artist",
        "recipient",
        "celsius",
        "fahrenheit",
    ]


def test_bad_tools_are_named() -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        tool_terms([{"name": ""}])
    with pytest.raises(TypeError, match="input schema must be a JSON object"):
        tool_terms([{"name": "x", "input_schema": ["not", "a", "schema"]}])
    with pytest.raises(ValueError, match="max_terms"):
        build_vocabulary([], max_terms=-1)
