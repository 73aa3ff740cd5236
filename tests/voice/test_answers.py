"""Deterministic understanding of short spoken answers."""

from __future__ import annotations

import pytest

from voxmcp.voice.answers import (
    classify_reply,
    clean_free_text,
    find_numbers,
    match_choice,
    parse_boolean,
    parse_number,
    spoken_email,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("Yeah, go ahead.", "yes"),
        ("sure", "yes"),
        ("that's right", "yes"),
        ("no", "no"),
        ("No.", "no"),
        ("don't do that", "no"),
        ("do not", "no"),
        ("nope", "no"),
        ("cancel", "cancel"),
        ("never mind", "cancel"),
        ("Forget it.", "cancel"),
        ("yes, no, wait, don't", "no"),  # the safe reading wins
        ("no, cancel that", "cancel"),
        ("hmm what", None),
        ("", None),
        ("I'm not sure", None),
    ],
)
def test_classify_reply(text: str, expected: str | None) -> None:
    assert classify_reply(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("three", [3]),
        ("twenty five", [25]),
        ("one hundred and two", [102]),
        ("a hundred", [100]),
        ("two point five", [2.5]),
        ("two and a half", [2.5]),
        ("minus 4", [-4]),
        ("negative five", [-5]),
        ("note 3 please", [3]),
        ("3.75 km", [3.75]),
        ("1,200", [1200]),
        ("the third one", [3]),
        ("that one", []),
        ("2 cats and three dogs", [2, 3]),
        ("no numbers here", []),
        ("and", []),
    ],
)
def test_find_numbers(text: str, expected: list[float]) -> None:
    assert find_numbers(text) == expected


def test_parse_number_needs_exactly_one() -> None:
    assert parse_number("four of us") == 4
    assert parse_number("2 or 3") is None
    assert parse_number("nothing") is None
    assert parse_number("2.5", integer=True) is None
    assert parse_number("seven", integer=True) == 7


def test_parse_boolean() -> None:
    assert parse_boolean("yes please") is True
    assert parse_boolean("no") is False
    assert parse_boolean("turn it off") is False
    assert parse_boolean("maybe") is None


def test_match_choice() -> None:
    sizes = [("s", "small"), ("m", "medium"), ("l", "large")]
    assert match_choice("the large one", sizes) == "l"
    assert match_choice("Medium.", sizes) == "m"
    assert match_choice("small or large", sizes) is None  # ambiguous: ask again
    assert match_choice("purple", sizes) is None
    assert match_choice("on the terrace", [("inside", "inside"), ("terrace", "terrace")]) == "terrace"
    assert (
        match_choice("express", [("express_shipping", "Express shipping"), ("std", "Standard")]) == "express_shipping"
    )


def test_free_text_and_email() -> None:
    assert clean_free_text("My name is Anna.") == "Anna"
    assert clean_free_text("um, it's Paris") == "Paris"
    assert clean_free_text("Bob") == "Bob"
    assert spoken_email("it is anna at example dot com") == "anna@example.com"
