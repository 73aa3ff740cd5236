"""policy/schema.py: validation with jsonschema, parameter hints and questions, all from the schema alone."""

from __future__ import annotations

from typing import Any

from voxmcp.policy.schema import missing_required, parameter_hints, question_for, validation_errors

ENTITIES = {
    "type": "object",
    "properties": {
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "entityType": {"type": "string"},
                    "observations": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["name", "entityType", "observations"],
            },
        }
    },
    "required": ["entities"],
}


def test_nested_required_fields_are_checked_and_named() -> None:
    ok = {"entities": [{"name": "Carlos", "entityType": "person", "observations": ["birthday June 12"]}]}
    assert validation_errors(ok, ENTITIES) == []
    errors = validation_errors({"entities": [{"name": "Carlos", "observations": "June 12"}]}, ENTITIES)
    assert "entities.0.entityType is required but missing" in errors
    assert any(e.startswith("entities.0.observations: 'June 12' is not of type 'array'") for e in errors)


def test_patterns_formats_and_enums() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
            "day": {"type": "string", "format": "date"},
            "unit": {"enum": ["c", "f"]},
        },
    }
    assert validation_errors({"time": "15:00", "day": "2026-12-04", "unit": "c"}, schema) == []
    errors = validation_errors({"time": "3 PM", "unit": "k"}, schema)
    assert errors == ["time: '3 PM' does not match '^[0-2][0-9]:[0-5][0-9]$'", "unit: 'k' is not one of ['c', 'f']"]


def test_a_broken_schema_rejects_nothing() -> None:
    assert validation_errors({"a": 1}, {"type": "no-such-type"}) == []
    assert validation_errors({"a": 1}, {"properties": {"a": {"pattern": "("}}}) == []


def test_hints_give_each_parameters_type_requirement_and_description() -> None:
    schema = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Path inside an allowed directory"},
            "sortBy": {"type": "string", "enum": ["name", "size"]},
        },
        "required": ["path"],
    }
    assert parameter_hints(schema) == (
        '- path (string; required): Path inside an allowed directory\n- sortBy (string; one of "name", "size")'
    )
    assert "items with name, entityType, observations" in parameter_hints(ENTITIES)
    assert parameter_hints({"type": "object"}) == ""


def test_questions_come_from_the_parameters_name_or_description() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "targetTimezone": {"type": "string"},
            "q": {"type": "string", "description": "Search words for the note"},
            "units": {"enum": ["metric", "imperial"]},
        },
        "required": ["city"],
    }
    assert question_for("city", schema) == "What city should I use?"
    assert question_for("targetTimezone", schema) == "What target timezone should I use?"
    assert question_for("q", schema) == "What search words should I use?"
    assert question_for("units", schema) == "Which units: metric or imperial?"
    assert missing_required({}, schema) == ["city"] and missing_required({"city": "Oslo"}, schema) == []
