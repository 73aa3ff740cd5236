"""Grounding of tool calls in the user's words, and which tools a request is about (no model needed)."""

from __future__ import annotations

from typing import Any

import pytest

from voxmcp.models.grounding import (
    RULES,
    check_call,
    closest_tools,
    is_free_text,
    relevant_tools,
    said_numbers,
    spoken_times_to_24h,
    stem,
    value_is_grounded,
)

DEMO = {
    "add_note": "Save a short note for the user (when they say remember, note or write down).",
    "list_notes": "List all saved notes with their numbers.",
    "delete_note": "Delete one saved note by its number.",
    "get_weather": "Get the current weather in a city.",
    "get_time": "Get the current time in a city or time zone.",
    "convert_units": "Convert a number between units of length, mass, temperature, volume or speed.",
    "check_package_status": "Check where a package is by its tracking number. Takes a few seconds.",
}
LONG_OP = {
    "type": "object",
    "properties": {"duration": {"type": "number", "default": 10}, "steps": {"type": "number", "default": 5}},
}


@pytest.mark.parametrize(
    ("value", "said", "grounded"),
    [
        ("Paris", "what is the weather in paris", True),
        ("London", "tell me a joke", False),
        (5, "convert five miles to kilometers", True),
        (100, "remember to buy milk", False),
        (6, "start the long running operation for six seconds", True),
        (3.5, "convert 3.5 miles to kilometers", True),
        (2500, "Convert 2,500 meters to kilometers", True),  # whisper's thousands separator
        (500, "Convert 2,500 meters to kilometers", False),
        # an id spelled with spaces, or written without them, is the same id
        ("B1234", "where is my package? the tracking number is a B1 2 3 4", True),
        ("A B 1 2 3 4", "the tracking number is AB1234", True),
        ("1234567890", "is it hot in cairo today", False),
        # half the content words said is enough for a time zone or a reworded note ...
        ("Europe/London", "what time is it in london", True),
        ("America/New_York", "if it is 3 PM in New York", True),
        ("Meeting moved to Friday at 10 AM.", "make a note that the team meeting moved to friday at 10", True),
        # ... with no figure the user didn't say
        ("Schedule appointment for March 3rd at 10:00 AM.", "add note, then list appointment on March 3rd", False),
        ("Appointment on March 3rd", "add note, then list appointment on March 3rd", True),
        ("Team meeting at 10:00", "note that the team meeting is at 10", True),
        ("Buy 12 eggs", "add a note: buy eggs", False),
        ("Buy 12 eggs", "add a note: buy twelve eggs", True),
        ("Call Maria at 5", "note: call maria at five", True),
        # ... but one shared word in an invented sentence is not
        ("I'm feeling so good today! How about you?", "Good morning.", False),
        ("15:00", "if it is 3 PM in New York, what time is it in London", True),
        ("16:00", "if it is 3 PM in New York, what time is it in London", False),
        ("Lisboa", "what's the weather in lisbon", True),
        # a name the model repaired from a mishearing one edit away is what the user said
        ("Paris", "how is the weather in pairs right now", True),
        ("Berlin", "what's the weather in berlinn", True),
        ("Madrid", "what is the weather in madrd", True),
        ("Madrid", "what is the weather in my grid", False),
        ("Tokyo", "what time is it in kyoto", False),
        ("km", "tell me a joke", True),  # short units are normalised by models, not checked
        ("Dentist appointment on March 3rd.", "add a note, dentist appointment on march 3", True),
    ],
)
def test_value_grounding(value: Any, said: str, grounded: bool) -> None:
    assert value_is_grounded(value, said) is grounded


def test_stem_matches_plural_and_tense() -> None:
    assert stem("notes") == stem("note")
    assert stem("saved") == stem("save")
    assert stem("echoes") == stem("echo")


def test_a_required_value_not_said_rejects_the_call() -> None:
    check = check_call(
        "add_note", {"text": "I'm feeling so good today!"}, {"required": ["text"]}, DEMO, "Good morning."
    )
    assert not check.ok and "text" in check.reason and check.invented


def test_a_call_left_without_arguments_needs_a_word_shared_with_the_tool() -> None:
    assert check_call("list_notes", {}, {}, DEMO, "What notes do I have?").ok
    assert not check_call("list_notes", {}, {}, DEMO, "Tell me a short joke.").ok
    # one word shared ("number") where another tool shares three: not this tool
    assert not check_call("list_notes", {}, {}, DEMO, "Where is my package? The tracking number is a B1 2 3 4").ok
    # an optional value nobody said is no evidence either
    op = {"trigger-long-running-operation": "Demonstrates a long running operation with progress updates."}
    assert not check_call("trigger-long-running-operation", {"steps": 5}, LONG_OP, op, "Good morning.").ok


def test_a_nested_value_shows_the_call_is_about_the_request() -> None:
    """A knowledge-graph tool's `entities` list of objects: a name the user said, deep in it, is the evidence."""
    schema = {"properties": {"entities": {"type": "array"}}, "required": ["entities"]}
    tools = {"create_entities": "Create multiple new entities in the knowledge graph", "read_graph": "Read the graph"}
    said = "Please remember that my friend Carlos has his birthday on June 12"
    entities = [{"name": "Carlos", "entityType": "person", "observations": ["birthday on June 12"]}]
    assert check_call("create_entities", {"entities": entities}, schema, tools, said).ok
    invented = [{"name": "Alice", "entityType": "robot", "observations": ["likes tea"]}]
    assert not check_call("create_entities", {"entities": invented}, schema, tools, said).ok


def test_a_pm_time_is_sent_in_24_hours() -> None:
    said = "If it is 3 PM in New York, what time is it in London?"
    assert spoken_times_to_24h({"time": "3:00", "tz": "Europe/London"}, said) == {
        "time": "15:00",
        "tz": "Europe/London",
    }
    assert spoken_times_to_24h({"time": "3:00"}, "at 3 AM") == {"time": "3:00"}
    # copied as whisper wrote it
    assert spoken_times_to_24h({"time": "3pm"}, "If it is 3pm in New York") == {"time": "15:00"}
    assert spoken_times_to_24h({"time": "9:30 a.m."}, "at 9:30 a.m.") == {"time": "09:30"}
    assert spoken_times_to_24h({"time": "12 AM", "note": "call at 3pm"}, "") == {"time": "00:00", "note": "call at 3pm"}
    check = check_call("convert_time", {"time": "3:00"}, {"required": ["time"]}, {"convert_time": "Convert time"}, said)
    assert check.arguments == {"time": "15:00"}


def test_relevant_tools_share_content_words_not_filler() -> None:
    assert set(relevant_tools("What notes do I have?", DEMO)) == {"add_note", "list_notes", "delete_note"}
    assert set(relevant_tools("Stop. What is the weather in Rome?", DEMO)) == {"get_weather"}
    assert relevant_tools("Tell me a short joke.", DEMO) == {}  # "short" is in add_note's description
    assert relevant_tools("Good morning!", DEMO) == {}
    assert relevant_tools("Hello! How are you today?", DEMO) == {}


def test_after_a_rejected_pick_the_closest_tools_are_tried() -> None:
    everything = {
        "trigger-elicitation-request": "Trigger a Request from the Server for User Elicitation",
        "trigger-sampling-request": "Trigger a Request from the Server for LLM Sampling",
        "toggle-simulated-logging": "Toggles simulated, random-leveled logging on or off.",
    }
    assert closest_tools("Trigger an elicitation request.", everything) == ["trigger-elicitation-request"]
    assert closest_tools("Is it hot in Cairo today?", DEMO) == list(DEMO)  # no word shared: every tool stays


def test_a_call_with_only_flags_and_short_values_needs_a_word_shared_with_the_tool() -> None:
    said = "Trigger an elicitation request."
    schema = {"required": ["topic"]}
    research = "Simulates a deep research operation that gathers, analyzes, and synthesizes information."
    tools = {"simulate-research-query": research, "trigger-elicitation-request": "Trigger a Request for Elicitation"}
    assert not check_call("simulate-research-query", {"topic": "AI", "ambiguous": True}, schema, tools, said).ok
    weather = check_call("get_weather", {"city": "Rome"}, {"required": ["city"]}, DEMO, "And in Rome?")
    assert weather.ok  # a short value the user said is evidence enough


def test_when_no_word_is_shared_the_tools_taking_that_many_numbers_come_next() -> None:
    tools = {"get-sum": "Returns the sum of two numbers", "echo": "Echoes back the input string", "get-env": "Env"}
    schemas: dict[str, dict[str, Any]] = {
        "get-sum": {"properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]},
        "echo": {"properties": {"message": {"type": "string"}}, "required": ["message"]},
        "get-env": {"properties": {}},
    }
    assert closest_tools("At 123 and 456.", tools, schemas) == ["get-sum"]
    assert closest_tools("Is it hot in Cairo?", tools, schemas) == list(tools)
    assert said_numbers("What is the sermon 17 and twenty?") == 2
    assert said_numbers("What is the capital of France?") == 0


def test_the_only_tool_without_parameters_may_be_called_without_a_shared_word() -> None:
    stand_in = {"calendar_server": "Anything about calendar: the calendar server's tools (the server is unreachable)."}
    assert check_call("calendar_server", {}, {"properties": {}}, stand_in, "Do I have any meetings tomorrow?").ok
    assert not check_call("list_notes", {}, {"properties": {}}, DEMO, "Do I have any meetings tomorrow?").ok


NOTE = {"properties": {"text": {"type": "string", "description": "What the note says"}}, "required": ["text"]}


def test_free_text_arguments_are_named_like_text_and_unrestricted() -> None:
    assert is_free_text("text", {"type": "string"}) and is_free_text("noteBody", {"type": "string"})
    assert is_free_text("message", {"description": "Message to echo"})
    assert not is_free_text("city", {"type": "string"}) and not is_free_text("text", {"type": "integer"})
    assert not is_free_text("message", {"type": "string", "enum": ["a", "b"]})
    assert not is_free_text("description", {"type": "string", "format": "uri"})


def test_a_free_text_value_is_evidence_only_when_the_request_names_the_tool() -> None:
    tools = {"echo": "Echoes back the input string", "get-sum": "Returns the sum of two numbers"}
    echo = {"properties": {"message": {"type": "string", "description": "Message to echo"}}, "required": ["message"]}
    chat = "Hi there, how's it going?"
    assert not check_call("echo", {"message": chat}, echo, tools, chat).ok  # chit-chat, copied into a tool
    assert check_call("echo", {"message": "hello world"}, echo, tools, "Echo hello world").ok
    assert check_call("add_note", {"text": "buy eggs"}, NOTE, DEMO, "add note, buy eggs").ok


def test_each_rule_says_when_it_fired_and_can_be_switched_off() -> None:
    said = "If it is 3 PM in New York, what time is it in London?"
    tools = {"convert_time": "Convert time"}
    check = check_call("convert_time", {"time": "3:00"}, {"required": ["time"]}, tools, said)
    assert check.arguments == {"time": "15:00"} and check.fired == ["clock_24h"]
    off = check_call("convert_time", {"time": "3:00"}, {"required": ["time"]}, tools, said, off={"clock_24h"})
    assert off.arguments == {"time": "3:00"} and off.fired == []

    invented = {"text": "I'm feeling so good today!"}
    assert check_call("add_note", invented, {"required": ["text"]}, DEMO, "Good morning.").fired == ["unsaid_required"]
    sent = check_call("add_note", invented, {"required": ["text"]}, DEMO, "Good morning.", off={"unsaid_required"})
    assert not sent.ok and sent.fired == ["evidence"]  # the next rule still holds: nothing in it was said
    assert check_call("add_note", invented, {"required": ["text"]}, DEMO, "Good morning.", off=RULES).ok


def test_every_rule_has_a_name_and_a_reason() -> None:
    assert len(RULES) >= 5 and all(name.isidentifier() and reason for name, reason in RULES.items())
