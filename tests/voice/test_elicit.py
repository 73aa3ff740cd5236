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


async def test_accept_with_defaults_after_readback() -> None:
    asker = ScriptedAsker("three", "yes")
    result = await elicit_form(asker, "How many?", BOOKING)
    assert result.action == "accept" and result.content == {"guests": 3, "seating": "inside"}
    assert asker.asked[0].startswith("How many? Please tell me guests")
    assert asker.asked[1] == "I'll send: guests 3, seating inside. Is that right?"


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
    assert (await elicit_form(ScriptedAsker("two", None), "Booking?", BOOKING)).action == "cancel"
    unclear_twice = ScriptedAsker("two", "hmm", "what")
    assert (await elicit_form(unclear_twice, "Booking?", BOOKING)).action == "cancel"
    assert unclear_twice.asked[2].startswith("Please say yes or no.")


async def test_no_is_an_answer_to_a_yes_no_field() -> None:
    schema = {"type": "object", "properties": {"subscribe": {"type": "boolean"}}, "required": ["subscribe"]}
    result = await elicit_form(ScriptedAsker("no", "yes"), "Subscribe?", schema)
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
