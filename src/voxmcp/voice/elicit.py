"""MCP elicitation by voice: the dialog scripts for form mode and URL mode.

Form mode: say the server's question and the fields it needs, hear the answer, fill the schema
(deterministically, else with the session's LLM), ask once more for missing required fields, apply schema
defaults (SEP-1034), read the form back and ask "Is that right?". Every outcome is reachable by voice:
accept (a yes to the read-back), decline ("no", "don't" to the question or the read-back), cancel ("cancel",
"never mind", or silence).

URL mode: the link is logged and shown (never spoken: it is unreadable aloud); the user is told and asked
whether they will open it: yes -> accept, no -> decline, silence -> cancel.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import mcp.types as types
from livekit.agents import llm

from voxmcp.mcp.interaction import apply_schema_defaults
from voxmcp.voice import answers, forms
from voxmcp.voice.dialog import Asker

logger = logging.getLogger(__name__)

FillFn = Callable[[list[forms.Field], Mapping[str, Any], str, str], Awaitable[dict[str, Any]]]

MAX_FILL_ATTEMPTS = 2
"""Ask for missing required fields at most this many times in all (then cancel: we never guess)."""


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


async def elicit_form(
    asker: Asker, message: str, schema: Mapping[str, Any], *, fill_llm: FillFn | None = None
) -> types.ElicitResult:
    """The form-mode dialog (see module doc); returns the ElicitResult to send to the server."""
    fields = forms.form_fields(schema)
    question = " ".join(p for p in (message.strip(), forms.describe_fields(fields)) if p)
    content: dict[str, Any] = {}
    for attempt in range(MAX_FILL_ATTEMPTS):
        answer = await asker.ask(question)
        if answer is None:
            return _cancelled(asker)
        reply = answers.classify_reply(answer)
        if reply == "cancel":
            return _cancelled(asker)
        if reply == "no" and _is_refusal(fields, answer):
            return _declined(asker)
        wanted = [f for f in fields if f.name not in content]
        found = forms.fill_deterministic(wanted, answer)
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
    content = apply_schema_defaults(content, schema)
    readback = f"I'll send: {forms.describe_content(fields, content)}. Is that right?"
    for _ in range(2):
        confirm = await asker.ask(readback)
        if confirm is None:
            return _cancelled(asker)
        reply = answers.classify_reply(confirm)
        if reply == "yes":
            return types.ElicitResult(action="accept", content=content)
        if reply == "no":
            return _declined(asker)
        if reply == "cancel":
            return _cancelled(asker)
        readback = "Please say yes or no. " + readback
    return _cancelled(asker)


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
