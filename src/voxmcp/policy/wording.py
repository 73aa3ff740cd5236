"""The few sentences the turn policy says itself: a failure that repair could not fix, and an unbacked claim."""

from __future__ import annotations

from collections.abc import Sequence

NOT_DONE = "Sorry, I haven't actually done that."
"""Said instead of a claim that something was done, saved, sent or deleted when no call in the turn did it."""


def spoken_failure(errors: Sequence[str]) -> str:
    """The failures as said to the user: "Sorry." and the reasons, which already say what happened.

    Not "that didn't work" in general: after a dropped connection the outcome is unknown, and claiming a failure
    would be as untrue as claiming success. A server's own refusal ("That didn't work: ...") is a definite failure.
    """
    reasons = " ".join(e if e.endswith((".", "!", "?")) else e + "." for e in errors if e) or "The tool failed."
    if reasons.lower().startswith(("that didn't work", "sorry")):
        return reasons if reasons.lower().startswith("sorry") else f"Sorry, t{reasons[1:]}"  # said once, not twice
    return f"Sorry. {reasons}"
