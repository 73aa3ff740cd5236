"""How streamed LLM text is cut into pieces for a non-streaming TTS: the first piece at the first clause.

LiveKit's default (blingfire, 20-character minimum, and a sentence is only released once the next one has started)
holds the first audio back until the whole first sentence and a bit of the second are generated: about a second of
0.5B tokens for "The weather in Tokyo is clear, 15 degrees Celsius, with ...". A local TTS synthesizes a clause in
~10 ms, so speaking can start at the first comma. Later pieces are whole sentences (better prosody); the LLM writes
faster than the voice speaks, so they are ready before the first piece has finished playing.
"""

from __future__ import annotations

import re

from livekit.agents import tokenize
from livekit.agents.tokenize.tokenizer import SentenceStream
from livekit.agents.utils import shortuuid

# a clause or sentence end: punctuation (plus closing quotes/brackets) followed by whitespace
_CLAUSE_END = re.compile(r"[,;:.!?…]['\")\]]*\s+")
_SENTENCE_END = re.compile(r"[.!?…]['\")\]]*\s+")


def split_first_clause(text: str, *, min_words: int, max_chars: int) -> tuple[str, str] | None:
    """(first piece, rest) once `text` holds a sentence end, or a clause end after `min_words` words, or runs past
    `max_chars` without one."""
    for m in _CLAUSE_END.finditer(text):
        head = text[: m.end()].strip()
        # a whole sentence may be a single word ("Sure."); a clause needs min_words ("Hi, there" would sound cut)
        needed = 1 if _SENTENCE_END.fullmatch(text[m.start() : m.end()]) else min_words
        if len(head.split()) >= needed:
            return head, text[m.end() :]
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        if cut > 0:
            return text[:cut].strip(), text[cut + 1 :]
    return None


def split_sentence(text: str, *, min_chars: int, max_chars: int) -> tuple[str, str] | None:
    """(a sentence of at least `min_chars`, rest), or a clause once the text runs past `max_chars`."""
    for m in _SENTENCE_END.finditer(text):
        if m.end() >= min_chars:
            return text[: m.end()].strip(), text[m.end() :]
    if len(text) > max_chars:
        ends = [m for m in _CLAUSE_END.finditer(text) if m.end() >= min_chars]
        if ends:
            return text[: ends[0].end()].strip(), text[ends[0].end() :]
    return None


class FirstClauseTokenizer(tokenize.SentenceTokenizer):
    """A SentenceTokenizer for `tts.StreamAdapter`: first piece of each reply at a clause end, then sentences."""

    def __init__(
        self, *, first_min_words: int = 2, first_max_chars: int = 80, min_chars: int = 20, max_chars: int = 200
    ) -> None:
        if first_min_words < 1 or min_chars < 1 or first_max_chars < 1 or max_chars < min_chars:
            raise ValueError("chunk lengths must be positive, and max_chars >= min_chars")
        self.first_min_words = first_min_words
        self.first_max_chars = first_max_chars
        self.min_chars = min_chars
        self.max_chars = max_chars

    def tokenize(self, text: str, *, language: str | None = None) -> list[str]:
        pieces: list[str] = []
        rest = text
        while True:
            cut = self._split(rest, first=not pieces)
            if cut is None:
                break
            piece, rest = cut
            pieces.append(piece)
        if rest.strip():
            pieces.append(rest.strip())
        return pieces

    def stream(self, *, language: str | None = None) -> SentenceStream:
        return FirstClauseStream(self)

    def _split(self, text: str, *, first: bool) -> tuple[str, str] | None:
        if first:
            return split_first_clause(text, min_words=self.first_min_words, max_chars=self.first_max_chars)
        return split_sentence(text, min_chars=self.min_chars, max_chars=self.max_chars)


class FirstClauseStream(SentenceStream):
    def __init__(self, tokenizer: FirstClauseTokenizer) -> None:
        super().__init__()
        self._tokenizer = tokenizer
        self._buf = ""
        self._first = True
        self._segment_id = shortuuid()

    def push_text(self, text: str) -> None:
        self._check_not_closed()
        self._buf += text
        while True:
            cut = self._tokenizer._split(self._buf, first=self._first)
            if cut is None:
                return
            piece, self._buf = cut
            self._first = False
            if piece:
                self._event_ch.send_nowait(tokenize.TokenData(segment_id=self._segment_id, token=piece))

    def flush(self) -> None:
        self._check_not_closed()
        rest = self._buf.strip()
        if rest:
            self._event_ch.send_nowait(tokenize.TokenData(segment_id=self._segment_id, token=rest))
        self._buf = ""
        self._first = True
        self._segment_id = shortuuid()

    def end_input(self) -> None:
        self.flush()
        self._do_close()

    async def aclose(self) -> None:
        self._do_close()
