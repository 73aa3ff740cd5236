"""Confirmation before a destructive tool call: "Do you want me to delete note 3?" and only a yes proceeds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from voxmcp.voice import answers
from voxmcp.voice.dialog import Asker

Decision = Literal["yes", "no", "cancel", "silence"]

DECLINED_RESULT = "Okay, I won't."
"""The tool result when the user says no: a normal result (the model relays it), not an error."""
NO_ANSWER_RESULT = "I didn't hear a yes, so I haven't done it."
"""The tool result when nobody answered the question in time (or only unclear answers came)."""


def _words(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return " ".join(spaced.split()).lower()


def _say(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(_say(v) for v in value[:5])
    if isinstance(value, Mapping):
        return "the given details"
    text = " ".join(str(value).split())
    return text if len(text) <= 80 else text[:77].rsplit(" ", 1)[0] + "..."


def describe_call(tool_name: str, arguments: Mapping[str, Any]) -> str:
    """A tool call as an action phrase: delete_note {"note_id": 3} -> "delete note 3"."""
    action = _words(tool_name)
    given = {k: v for k, v in arguments.items() if v is not None and v != ""}
    if not given:
        return action
    if len(given) == 1:
        return f"{action} {_say(next(iter(given.values())))}"
    return f"{action} with " + ", ".join(f"{_words(k)} {_say(v)}" for k, v in given.items())


async def ask_confirmation(asker: Asker, action: str) -> Decision:
    """Ask (once more if the answer was unclear); only "yes" proceeds. No answer in time: "silence"."""
    question = f"Do you want me to {action}?"
    for _ in range(2):
        answer = await asker.ask(question)
        if answer is None:
            return "silence"
        reply = answers.classify_reply(answer)
        if reply is not None:
            return reply
        question = f"Sorry, please say yes or no: should I {action}?"
    return "silence"
