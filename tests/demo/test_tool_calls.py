"""Argument checks phrased as sentences."""

from voxmcp.demo.tool_calls import describe_argument_error

SCHEMA = {
    "type": "object",
    "properties": {
        "value": {"type": "number", "description": "The number"},
        "count": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "minLength": 1, "maxLength": 5},
    },
    "required": ["value"],
}


def test_valid_arguments_pass() -> None:
    assert describe_argument_error("t", {"value": 1.5, "count": 2, "name": "ab"}, SCHEMA) is None
    assert describe_argument_error("t", {"value": "1.5", "count": "2"}, SCHEMA) is None


def test_each_problem_gets_a_sentence() -> None:
    assert describe_argument_error("t", {}, SCHEMA) == "t needs the argument value (The number)."
    assert describe_argument_error("t", [], SCHEMA) == "The arguments for t must be a JSON object."
    assert describe_argument_error("t", {"value": 1, "count": 0}, SCHEMA) == (
        "The argument count for t must be at least 1."
    )
    assert describe_argument_error("t", {"value": 1, "count": 1.5}, SCHEMA) == (
        "The argument count for t must be a whole number, not 1.5."
    )
    assert describe_argument_error("t", {"value": 1, "name": "toolong"}, SCHEMA) == (
        "The argument name for t must be at most 5 characters."
    )
