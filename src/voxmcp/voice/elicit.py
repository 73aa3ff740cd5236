"""MCP elicitation by voice: the dialog scripts for form mode and URL mode.

Form mode, kept short for the ear: say the server's question and only the fields it requires (optional fields
keep their schema defaults, SEP-1034), hear one open answer and map it to those fields (deterministically, else
with the session's LLM), ask once more for what is still missing, then say in one sentence what will be sent
("I'll send name Ada, with the defaults for the rest; say no if that's wrong."): silence or a yes sends it (the user
heard it and could stop it), a no declines, "cancel" cancels, anything else is asked as a plain yes/no.
Every outcome is reachable by voice: accept, decline ("no", "don't" to the question or the read-back), cancel
("cancel", "never mind", or silence to the question).

URL mode: the link is logged and shown (never spoken: it is unreadable aloud); the user is told and asked
whether they will open it: yes -> accept, no -> decline, silence -> cancel.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import mcp.types as types
from livekit.agents import llm

from voxmcp.mcp import apply_schema_defaults
from voxmcp.voice import answers, forms
from voxmcp.voice.dialog import Asker

logger = logging.getLogger(__name__)

FillFn = Callable[[list[forms.Field], Mapping[str, Any], str, str], Awaitable[dict[str, Any]]]

MAX_FILL_ATTEMPTS = 2
"""Ask for missing required fields at most this many times in all (then cancel: we never guess)."""
CONFIRM_WINDOW_S = 3.0
"""How long the user has, after hearing what will be sent, to stop it (silence sends it)."""


def _cancelled(asker: Asker) -> types.ElicitResult:
    asker.tell("Okay, never mind.")
    return types.ElicitResult(action="cancel")


def _declined(asker: Asker) -> types.ElicitResult:
    asker.tell("Okay, I won't send it.")
    return types.ElicitResult(action="decline")


def llm_filler(model: llm.LLM[Any] | None, *, timeout_s: float = 20.0) -> FillFn | None:
    """The LLM fallback for answers the deterministic parser can't settle (None without an LLM)."""
    if model is None:
        return None

    async def fill(fields: list[forms.Field], schema: Mapping[str, Any], question: str, answer: str) -> dict[str, Any]:
        return await forms.fill_with_llm(model, fields, schema, question, answer, timeout_s=timeout_s)

    return fill


def _is_single_boolean(fields: list[forms.Field]) -> bool:
    return len(fields) == 1 and fields[0].kind == "boolean"


def _is_refusal(fields: list[forms.Field], answer: str) -> bool:
    """A "no" that refuses the question rather than answering it ("no thanks" vs "two guests, no wine")."""
    if _is_single_boolean(fields):
        return False
    typed = [f for f in fields if f.kind != "string"]
    if typed and forms.fill_deterministic(typed, answer):
        return False
    return len(answer.split()) <= 6


def _intro(message: str) -> str:
    """The server's message as a spoken sentence; a trailing colon introduced a field list we say ourselves."""
    text = message.strip()
    return text[:-1].rstrip() + "." if text.endswith(":") else text


async def _confirm(
    asker: Asker, fields: list[forms.Field], given: dict[str, Any], content: dict[str, Any]
) -> types.ElicitResult:
    """Say in one sentence what will be sent (what the user gave; defaults in a word); silence or a yes sends it,
    a no declines, "cancel" cancels."""
    said = forms.describe_content(fields, given) if given else "the form"
    defaults = len(content) > len(given)
    statement = f"I'll send {said}{', with the defaults for the rest' if defaults else ''}; say no if that's wrong."
    heard = await asker.ask(statement, timeout_s=CONFIRM_WINDOW_S)
    if heard is None:
        return types.ElicitResult(action="accept", content=content)
    for attempt in range(2):
        reply = answers.classify_reply(heard)
        if reply == "yes":
            return types.ElicitResult(action="accept", content=content)
        if reply == "no":
            return _declined(asker)
        if reply == "cancel":
            return _cancelled(asker)
        if attempt == 0:
            again = await asker.ask("Should I send it? Please say yes or no.")
            if again is None:
                return _cancelled(asker)  # they spoke up but gave no go-ahead: nothing is sent
            heard = again
    return _cancelled(asker)


async def elicit_form(
    asker: Asker, message: str, schema: Mapping[str, Any], *, fill_llm: FillFn | None = None
) -> types.ElicitResult:
    """The form-mode dialog (see module doc); returns the ElicitResult to send to the server."""
    fields = forms.form_fields(schema)
    asked = forms.asked_fields(fields)
    question = " ".join(p for p in (_intro(message), forms.describe_fields(asked)) if p)
    content: dict[str, Any] = {}
    for attempt in range(MAX_FILL_ATTEMPTS):
        answer = await asker.ask(question)
        if answer is None:
            return _cancelled(asker)
        reply = answers.classify_reply(answer)
        if reply == "cancel":
            return _cancelled(asker)
        if reply == "no" and _is_refusal(asked, answer):
            return _declined(asker)
        wanted = [f for f in asked if f.name not in content]
        found = forms.fill_deterministic(wanted, answer)
        others = [f for f in fields if f not in asked and f.name not in content]
        found.update(forms.named_choices(others, answer))
        still = [f for f in wanted if f.name not in found]
        if still and fill_llm is not None and (len(still) < len(wanted) or any(f.kind != "boolean" for f in still)):
            from_llm = await fill_llm(still, schema, question, answer)
            found.update({k: v for k, v in from_llm.items() if k in {f.name for f in still}})
        content.update(found)
        missing = forms.missing_required(fields, content)
        if not missing:
            break
        logger.info("elicitation answer left required fields empty", extra={"missing": [f.name for f in missing]})
        if attempt + 1 < MAX_FILL_ATTEMPTS:
            question = "Sorry, I still need " + forms._join([forms.describe_field(f) for f in missing]) + "."
    else:
        asker.tell("Sorry, I couldn't get that. I'll leave it.")
        return types.ElicitResult(action="cancel")
    return await _confirm(asker, fields, content, apply_schema_defaults(content, schema))


async def elicit_url(asker: Asker, message: str, url: str) -> types.ElicitResult:
    """The URL-mode dialog: the link was shown already; ask whether the user will open it."""
    intro = message.strip() or "The server needs you to open a link."
    answer = await asker.ask(f"{intro} I've shown the link on your screen. Will you open it?")
    if answer is None:
        return _cancelled(asker)
    reply = answers.classify_reply(answer)
    if reply == "yes":
        asker.tell("Great, I'll wait for it.")
        return types.ElicitResult(action="accept")
    if reply == "no":
        asker.tell("Okay.")
        return types.ElicitResult(action="decline")
    return _cancelled(asker)
