"""The honesty invariant, applied while the answer streams: a clause that says something was done, saved, sent,
deleted or remembered is held back unless a call in this turn did it.

Text goes out a clause at a time (up to `,;:.!?` or a line break) so a claim is caught before the TTS says it; a
held clause is never said: before a call has run, a claim ("I've saved it") can only be a guess. Claims are
recognized by general English wording (`claims.py`), never per tool.
"""

from __future__ import annotations

import re

from voxmcp.policy.claims import action_claims

_OWN_CLAIM = re.compile(r"\b(?:i|we)\b|\b(?:i|we)'|^(?:\w+[\s,!]+)?(?:all\s+)?done\b|\ball set\b|consider it done")
_BOUNDARY = re.compile(r"[,;:.!?](?:\s+|$)|\n")


class ClaimGuard:
    """Feed text as it streams; take out what may be said now. One guard per LLM response."""

    def __init__(self, *, backed: bool, quiet: bool = False, reported: bool = False) -> None:
        self.backed = backed
        self.reported = reported
        """A call that reads things succeeded in this turn: "your meeting is scheduled for 3 PM" reports its result,
        so only the agent's own claims ("I've booked it", "Done.") are held."""
        self.quiet = quiet
        """Say nothing: all text is held."""
        """A call that changes something succeeded in this turn: claims are what it did, so text passes at once."""
        self._sentence = ""
        """The current sentence up to the last clause given out (claims are judged in the sentence's context)."""
        self._pending = ""
        self.held = ""
        """Text kept back from the first claiming clause on (never said)."""
        self.claims: list[str] = []

    def feed(self, text: str) -> str:
        """Text that may be said now (possibly empty)."""
        if self.backed:
            return text
        if self.held or self.quiet:
            self.held += text
            return ""
        self._pending += text
        out = []
        while True:
            match = _BOUNDARY.search(self._pending)
            if match is None:
                break
            clause, self._pending = self._pending[: match.end()], self._pending[match.end() :]
            said = self._judge(clause)
            if said is None:
                self.held = clause + self._pending
                self._pending = ""
                break
            out.append(said)
        return "".join(out)

    def flush(self) -> str:
        """At the end of the response: the last unfinished clause, unless it claims (then it joins `held`)."""
        if self.backed:
            return ""
        if self.held:
            self.held += self._pending
            self._pending = ""
            return ""
        rest, self._pending = self._pending, ""
        said = self._judge(rest) if rest.strip() else rest
        if said is None:
            self.held = rest
            return ""
        return said

    def _judge(self, clause: str) -> str | None:
        before = len(action_claims(self._sentence))
        sentence = self._sentence + clause
        found = action_claims(sentence)
        if self.reported:
            found = [c for c in found if _OWN_CLAIM.search(c)]
            before = len([c for c in action_claims(self._sentence) if _OWN_CLAIM.search(c)])
        if len(found) > before:
            self.claims.extend(found[before:])
            return None
        self._sentence = "" if re.search(r"[.!?\n]\s*$", clause) else sentence
        return clause
