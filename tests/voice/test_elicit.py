"""The elicitation dialog scripts: every outcome reachable by voice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voxmcp.voice import forms
from voxmcp.voice.elicit import elicit_form, elicit_url

from .scripted_asker import ScriptedAsker

BOOKING: dict[str, Any] = {
    "type": "object",
    "properties": {
        "guests": {"type": "integer", "minimum": 1},
        "seating": {"type": "string", "enum": ["inside", "terrace"], "default": "inside"},
    },
    "required": ["guests"],
}
NAME: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "city": {"type": "string"}},
    "required": ["name", "city"],
}


EVERYTHING_FORM: dict[str, Any] = {  # the shape of server-everything's trigger-elicitation-request form
    "type": "object",
    "properties": {
        "name": {"title": "String", "type": "string", "description": "Your full, legal name"},
        "check": {"title": "Boolean", "type": "boolean", "description": "Agree to the terms and conditions"},
        "firstLine": {"title": "String with default", "type": "string", "default": "It was a dark and stormy night."},
        "email": {"title": "String with email format", "type": "string", "format": "email"},
        "integer": {"title": "Integer", "type": "integer", "minimum": 1, "maximum": 100, "default": 42},
        "friend": {"type": "string", "enum": ["Monica", "Rachel", "Joey"], "default": "Monica"},
        "instruments": {
            "type": "array",
            "items": {"type": "string", "enum": ["Guitar", "Piano"]},
            "default": ["Guitar"],
        },
    },
    "required": ["name"],
}


async def test_silence_after_the_one_sentence_readback_sends_it() -> None:
    asker = ScriptedAsker("three", None)
    result = await elicit_form(asker, "How many?", BOOKING)
    assert result.action == "accept" and result.content == {"guests": 3, "seating": "inside"}
    assert asker.asked[0] == "How many? Please tell me guests."  # optional fields keep their defaults
    assert asker.asked[1] == "I'll send guests 3, with the defaults for the rest; say no if that's wrong."


async def test_a_long_form_asks_only_what_it_requires() -> None:
    """server-everything's form: 7 fields read out took 40 s of speech; the voice form asks for one."""
    asker = ScriptedAsker("My name is Ada Lovelace.", "yes")
    result = await elicit_form(asker, "Please provide inputs for the following fields:", EVERYTHING_FORM)
    assert asker.asked == [
        "Please provide inputs for the following fields. Please tell me your full, legal name.",
        "I'll send your full, legal name Ada Lovelace, with the defaults for the rest; say no if that's wrong.",
    ]
    assert result.action == "accept"
    assert result.content == {
        "name": "Ada Lovelace",
        "firstLine": "It was a dark and stormy night.",
        "integer": 42,
        "friend": "Monica",
        "instruments": ["Guitar"],
    }  # no "check": a field without a default that nobody answered is left out, never guessed


async def test_a_named_choice_for_an_optional_field_is_taken() -> None:
    asker = ScriptedAsker("four of us on the terrace", None)
    result = await elicit_form(asker, "Booking?", BOOKING)
    assert result.action == "accept" and result.content == {"guests": 4, "seating": "terrace"}
    assert asker.asked[1] == "I'll send guests 4, seating terrace; say no if that's wrong."


async def test_a_yes_to_another_question_is_not_agreement() -> None:
    asker = ScriptedAsker("Yes, it's Ada Lovelace.", None)
    result = await elicit_form(asker, "Inputs:", EVERYTHING_FORM)
    assert result.content is not None and "check" not in result.content


async def test_missing_required_field_is_asked_again() -> None:
    asker = ScriptedAsker("on the terrace", "five", "yes")
    result = await elicit_form(asker, "Booking?", BOOKING)
    assert result.action == "accept" and result.content == {"guests": 5, "seating": "terrace"}
    assert asker.asked[1] == "Sorry, I still need guests."


async def test_gives_up_rather_than_guess() -> None:
    asker = ScriptedAsker("hmm", "no idea really at all sorry friend")
    result = await elicit_form(asker, "Booking?", BOOKING)
    assert result.action == "cancel" and result.content is None


async def test_decline_and_cancel_by_voice() -> None:
    assert (await elicit_form(ScriptedAsker("no thanks"), "Booking?", BOOKING)).action == "decline"
    assert (await elicit_form(ScriptedAsker("don't"), "Booking?", BOOKING)).action == "decline"
    assert (await elicit_form(ScriptedAsker("never mind"), "Booking?", BOOKING)).action == "cancel"
    assert (await elicit_form(ScriptedAsker(None), "Booking?", BOOKING)).action == "cancel"
    assert (await elicit_form(ScriptedAsker("two", "no"), "Booking?", BOOKING)).action == "decline"
    assert (await elicit_form(ScriptedAsker("two", "stop"), "Booking?", BOOKING)).action == "cancel"
    unclear = ScriptedAsker("two", "hmm", "yes")
    assert (await elicit_form(unclear, "Booking?", BOOKING)).action == "accept"
    assert unclear.asked[2] == "Should I send it? Please say yes or no."
    unclear_twice = ScriptedAsker("two", "hmm", "what")
    assert (await elicit_form(unclear_twice, "Booking?", BOOKING)).action == "cancel"
    unclear_then_silent = ScriptedAsker("two", "hmm", None)  # spoke up, then no go-ahead: nothing is sent
    assert (await elicit_form(unclear_then_silent, "Booking?", BOOKING)).action == "cancel"


async def test_no_is_an_answer_to_a_yes_no_field() -> None:
    schema = {"type": "object", "properties": {"subscribe": {"type": "boolean"}}, "required": ["subscribe"]}
    result = await elicit_form(ScriptedAsker("no", None), "Subscribe?", schema)
    assert result.action == "accept" and result.content == {"subscribe": False}


async def test_llm_fills_what_rules_cannot() -> None:
    seen: list[tuple[list[str], str]] = []

    async def fill(fields: list[forms.Field], schema: Mapping[str, Any], question: str, answer: str) -> dict[str, Any]:
        seen.append(([f.name for f in fields], answer))
        return {"name": "Anna", "city": "Lyon", "ignored": 1}

    result = await elicit_form(ScriptedAsker("I'm Anna from Lyon", "yes"), "Who are you?", NAME, fill_llm=fill)
    assert result.action == "accept" and result.content == {"name": "Anna", "city": "Lyon"}
    assert seen == [(["name", "city"], "I'm Anna from Lyon")]


async def test_without_an_llm_multi_text_forms_are_asked_again_then_cancelled() -> None:
    result = await elicit_form(ScriptedAsker("I'm Anna from Lyon", "Anna from Lyon"), "Who?", NAME)
    assert result.action == "cancel"


async def test_url_mode_outcomes() -> None:
    asker = ScriptedAsker("yes")
    assert (await elicit_url(asker, "Sign in please", "https://x.test/a")).action == "accept"
    assert "https://" not in " ".join(asker.said)
    assert (await elicit_url(ScriptedAsker("no"), "Sign in", "https://x.test")).action == "decline"
    assert (await elicit_url(ScriptedAsker(None), "Sign in", "https://x.test")).action == "cancel"
