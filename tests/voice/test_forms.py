"""Elicitation schemas in speech: fields, deterministic filling, checks, read-back, LLM filling."""

from __future__ import annotations

from typing import Any

import pytest

from voxmcp.voice.forms import (
    asked_fields,
    checked_content,
    coerce_value,
    describe_content,
    describe_fields,
    fill_deterministic,
    fill_with_llm,
    form_fields,
    missing_required,
)

from .fakes import ScriptedLLM, ToolCallReply

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Your name", "minLength": 2},
        "guests": {"type": "integer", "minimum": 1, "maximum": 12},
        "vegetarian": {"type": "boolean"},
        "size": {"type": "string", "enum": ["s", "l"], "enumNames": ["small", "large"]},
        "room": {"type": "string", "oneOf": [{"const": "a", "title": "Garden room"}, {"const": "b", "title": "Hall"}]},
        "extras": {"type": "array", "items": {"enum": ["wine", "cake"]}},
        "email": {"type": "string", "format": "email"},
        "note": {"type": "string", "default": "none"},
    },
    "required": ["name", "guests"],
}


def test_form_fields_kinds_and_labels() -> None:
    fields = {f.name: f for f in form_fields(SCHEMA)}
    assert [fields[n].kind for n in ("name", "guests", "vegetarian", "size", "room", "extras")] == [
        "string", "integer", "boolean", "enum", "enum", "multi_enum",
    ]  # fmt: skip
    assert fields["name"].label == "Your name" and fields["guests"].label == "guests"
    assert fields["room"].choices == (("a", "Garden room"), ("b", "Hall"))
    assert fields["name"].required and not fields["size"].required


def test_bad_schema_is_named() -> None:
    with pytest.raises(ValueError, match="properties"):
        form_fields({"type": "object", "properties": []})
    with pytest.raises(ValueError, match="'x' must be an object"):
        form_fields({"type": "object", "properties": {"x": 3}})


def test_describe_fields_says_what_is_needed() -> None:
    fields = form_fields(SCHEMA)
    text = describe_fields(fields)
    assert text.startswith(
        "Please tell me Your name and guests; optionally vegetarian (yes or no), size (small or large)"
    )
    assert describe_fields(form_fields({"type": "object", "properties": {}})) == ""


def test_a_title_that_only_names_the_type_is_not_said() -> None:
    spec = {"title": "String", "type": "string", "description": "Your full, legal name"}
    assert form_fields({"type": "object", "properties": {"name": spec}})[0].label == "your full, legal name"
    long = {"title": "Integer", "type": "integer", "description": "Your favorite integer out of all the ones you know"}
    assert form_fields({"type": "object", "properties": {"favoriteInteger": long}})[0].label == "favorite integer"


def test_asked_fields_are_the_required_ones_without_defaults() -> None:
    fields = form_fields(SCHEMA)
    assert [f.name for f in asked_fields(fields)] == [f.name for f in fields if f.required]
    optional = form_fields({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}})
    assert asked_fields(optional) == optional


def test_single_field_answers() -> None:
    def one(spec: dict[str, Any], answer: str) -> dict[str, Any]:
        return fill_deterministic(form_fields({"type": "object", "properties": {"v": spec}}), answer)

    assert one({"type": "integer"}, "twelve please") == {"v": 12}
    assert one({"type": "number"}, "two point five") == {"v": 2.5}
    assert one({"type": "boolean"}, "no") == {"v": False}
    assert one({"type": "string", "enum": ["red", "blue"]}, "blue I think") == {"v": "blue"}
    assert one({"type": "string"}, "My name is Anna.") == {"v": "Anna"}
    assert one({"type": "string", "format": "email"}, "bob at example dot org") == {"v": "bob@example.org"}
    assert one({"type": "array", "items": {"enum": ["wine", "cake"]}}, "cake and wine") == {"v": ["wine", "cake"]}
    assert one({"type": "integer", "maximum": 5}, "nine") == {}  # out of range: not taken
    assert one({"type": "integer"}, "two or three") == {}


def test_several_fields_take_only_what_is_unambiguous() -> None:
    fields = form_fields(SCHEMA)
    content = fill_deterministic(fields, "four of us, large, in the hall, vegetarian yes")
    assert content == {"guests": 4, "size": "l", "room": "b", "vegetarian": True}
    assert [f.name for f in missing_required(fields, content)] == ["name"]


def test_checks_name_the_problem() -> None:
    fields = {f.name: f for f in form_fields(SCHEMA)}
    with pytest.raises(ValueError, match="guests must be at most 12"):
        coerce_value(fields["guests"], 40)
    with pytest.raises(ValueError, match="size must be one of small or large"):
        coerce_value(fields["size"], "medium")
    with pytest.raises(ValueError, match="email address"):
        coerce_value(fields["email"], "not an email")
    ok, problems = checked_content(list(fields.values()), {"guests": "3", "size": "huge", "unknown": 1})
    assert ok == {"guests": 3} and problems == ["size must be one of small or large"]


def test_describe_content_reads_labels() -> None:
    fields = form_fields(SCHEMA)
    text = describe_content(fields, {"name": "Anna", "guests": 4, "vegetarian": False, "size": "l", "extras": ["cake"]})
    assert text == "Your name Anna, guests 4, vegetarian no, size large, extras cake"


async def test_fill_with_llm_keeps_only_valid_values() -> None:
    model = ScriptedLLM(replies=[ToolCallReply("record_answer", {"name": "Anna Lee", "guests": 99, "size": "l"})])
    fields = form_fields(SCHEMA)
    content = await fill_with_llm(model, fields, SCHEMA, "Who is coming?", "Anna Lee with lots of people, large")
    assert content == {"name": "Anna Lee", "size": "l"}  # 99 guests is out of range: dropped
    prompt = model.requests[0].messages()[-1].text_content or ""
    assert "Anna Lee with lots of people" in prompt


async def test_fill_with_llm_text_answer_gives_nothing() -> None:
    model = ScriptedLLM(replies=["I think the name is Anna."])
    assert await fill_with_llm(model, form_fields(SCHEMA), SCHEMA, "Name?", "Anna") == {}
