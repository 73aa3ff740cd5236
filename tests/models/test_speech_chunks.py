"""The first piece of a reply goes to the TTS at its first clause; later pieces are sentences."""

from __future__ import annotations

import pytest

from voxmcp.models.speech_chunks import FirstClauseTokenizer, split_first_clause, split_sentence


async def _stream_pieces(tokens: list[str], tokenizer: FirstClauseTokenizer) -> list[tuple[int, str]]:
    """Push tokens one by one; return (tokens pushed when the piece came out, piece)."""
    stream = tokenizer.stream()
    out: list[tuple[int, str]] = []
    for i, tok in enumerate(tokens, 1):
        stream.push_text(tok)
        while not stream._event_ch.empty():
            out.append((i, (await stream.__anext__()).token))
    stream.end_input()
    out += [(len(tokens), ev.token) async for ev in stream]
    return out


async def test_first_piece_is_released_at_the_first_comma() -> None:
    tokens = ["The", " weather", " in", " Tokyo", " is", " clear", ",", " 15", " degrees", " Celsius", ",",
              " with", " wind", ".", " Enjoy", " your", " day", "!"]  # fmt: skip
    pieces = await _stream_pieces(tokens, FirstClauseTokenizer())
    # released as soon as the token after the comma shows the clause ended, not at the end of the sentence
    assert pieces[0] == (8, "The weather in Tokyo is clear,")
    assert [p for _, p in pieces[1:]] == ["15 degrees Celsius, with wind.", "Enjoy your day!"]
    assert "".join(p for _, p in pieces).replace(" ", "") == "".join(tokens).replace(" ", "")


async def test_each_reply_starts_with_a_short_piece_again() -> None:
    tok = FirstClauseTokenizer()
    stream = tok.stream()
    stream.push_text("One moment. ")
    stream.flush()
    stream.push_text("Well now, here it is. ")
    stream.end_input()
    assert [ev.token async for ev in stream] == ["One moment.", "Well now,", "here it is."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi, there", None),  # one word before the comma: wait for more
        ("Sure. The weather", ("Sure.", "The weather")),  # a one-word sentence is a piece
        ("Hi there, friend", ("Hi there,", "friend")),
        ("It costs 1,000 dollars", None),  # a thousands separator is not a clause end
        ("It is 2:19 AM now. Yes", ("It is 2:19 AM now.", "Yes")),
        ("6.2 miles is the answer", None),
    ],
)
def test_split_first_clause(text: str, expected: tuple[str, str] | None) -> None:
    assert split_first_clause(text, min_words=2, max_chars=80) == expected


def test_a_long_first_piece_without_punctuation_is_cut_at_a_word() -> None:
    text = "word " * 30
    head, rest = split_first_clause(text, min_words=2, max_chars=40) or ("", "")
    assert 0 < len(head) <= 40 and head.endswith("word") and rest.startswith("word")


def test_split_sentence_waits_for_min_chars_and_splits_long_runs_at_clauses() -> None:
    assert split_sentence("Yes. That is right. More", min_chars=10, max_chars=200) == ("Yes. That is right.", "More")
    long = "a" * 30 + ", " + "b" * 30 + " and on"
    assert split_sentence(long, min_chars=10, max_chars=40) == ("a" * 30 + ",", "b" * 30 + " and on")


def test_tokenize_matches_the_stream() -> None:
    tok = FirstClauseTokenizer()
    assert tok.tokenize("Well, the sum is 42. That was easy!") == ["Well, the sum is 42.", "That was easy!"]
    assert tok.tokenize("Okay then, the sum is 42. That was easy!") == ["Okay then,", "the sum is 42. That was easy!"]


def test_bad_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="chunk lengths"):
        FirstClauseTokenizer(min_chars=50, max_chars=10)
