"""An elicitation's requested schema, in speech: say which fields are needed, fill them from a spoken answer,
check them, and read the filled form back for confirmation.

MCP form schemas are flat objects of primitives (string with optional format, number/integer, boolean, enum
as `enum`/`enumNames` or `oneOf` const/title, and arrays of enum choices). Simple answers are filled
deterministically (answers.py); anything else goes to the session's LLM as a tool call whose parameters are
the schema, so a grammar-constrained local model or an OpenAI-compatible one can only answer in its shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from livekit.agents import llm
from livekit.agents.llm import function_tool

from voxmcp.voice import answers

logger = logging.getLogger(__name__)

_FILL_TOOL = "record_answer"
_FILL_INSTRUCTIONS = (
    "You fill in a form from what the user said. Call record_answer with the values the user gave. "
    "Leave out any field the user did not mention. Never invent values."
)


@dataclass(frozen=True)
class Field:
    """One form field, as the voice layer needs it."""

    name: str
    kind: str  # string | number | integer | boolean | enum | multi_enum
    label: str
    required: bool
    choices: tuple[tuple[str, str], ...] = ()
    fmt: str | None = None
    spec: Mapping[str, Any] | None = None


_TYPE_WORDS = {"string", "text", "boolean", "integer", "number", "array", "object"}
_MAX_DESCRIPTION_WORDS = 8


def _label(name: str, spec: Mapping[str, Any]) -> str:
    """What to call a field aloud: its title, unless the title only names the type ("String"), then a short
    description ("your full, legal name"), else the property name in words."""
    title = spec.get("title")
    if isinstance(title, str) and title.strip() and title.strip().lower() not in _TYPE_WORDS:
        return title.strip().rstrip(":").lower() if title.isupper() else title.strip().rstrip(":")
    description = spec.get("description")
    if isinstance(description, str):
        text = re.sub(r"\s*\([^)]*\)", "", description).strip().rstrip(".:")
        if text and len(text.split()) <= _MAX_DESCRIPTION_WORDS:
            return text[0].lower() + text[1:] if not text[:2].isupper() else text
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return " ".join(words.split()).lower()


def _choices(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if isinstance(spec.get("enum"), list):
        values = [str(v) for v in spec["enum"]]
        names = spec.get("enumNames")
        labels = [str(n) for n in names] if isinstance(names, list) and len(names) == len(values) else values
        return tuple(zip(values, labels, strict=True))
    for key in ("oneOf", "anyOf"):
        options = spec.get(key)
        if isinstance(options, list) and options and all(isinstance(o, Mapping) and "const" in o for o in options):
            return tuple((str(o["const"]), str(o.get("title") or o["const"])) for o in options)
    return ()


def form_fields(schema: Mapping[str, Any]) -> list[Field]:
    """The fields of a form schema, in order; ValueError naming the problem when it is not an object schema."""
    if not isinstance(schema, Mapping):
        raise ValueError(f"requested schema must be an object schema, got {type(schema).__name__}")
    properties = schema.get("properties")
    properties = {} if properties is None else properties
    if not isinstance(properties, Mapping):
        raise ValueError("requested schema 'properties' must be an object")
    required = set(schema.get("required") or [])
    fields: list[Field] = []
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"requested schema property {name!r} must be an object")
        kind = str(spec.get("type", "string"))
        choices = _choices(spec)
        if kind == "array":
            items = spec.get("items") if isinstance(spec.get("items"), Mapping) else {}
            choices = _choices(items or {})
            kind = "multi_enum"
        elif choices:
            kind = "enum"
        fmt = spec.get("format") if isinstance(spec.get("format"), str) else None
        fields.append(Field(name, kind, _label(name, spec), name in required, choices, fmt, spec))
    return fields


def _join(items: list[str], last: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def describe_field(f: Field) -> str:
    if f.kind in ("enum", "multi_enum") and f.choices:
        options = _join([label for _, label in f.choices], "or")
        return f"{f.label} ({'one or more of ' if f.kind == 'multi_enum' else ''}{options})"
    if f.kind == "boolean":
        return f"{f.label} (yes or no)"
    return f.label


def asked_fields(fields: list[Field]) -> list[Field]:
    """The fields a voice form asks for: the required ones (optional ones keep their defaults), or every field
    of a form that requires none."""
    required = [f for f in fields if f.required and "default" not in (f.spec or {})]
    return required or list(fields)


def describe_fields(fields: list[Field], *, only_required: bool = False) -> str:
    """ "Please tell me number of guests; optionally seating (inside or terrace)." -- empty for no fields."""
    required = [describe_field(f) for f in fields if f.required]
    optional = [] if only_required else [describe_field(f) for f in fields if not f.required]
    if required and optional:
        return f"Please tell me {_join(required)}; optionally {_join(optional)}."
    if required:
        return f"Please tell me {_join(required)}."
    if optional:
        return f"You can tell me {_join(optional)}."
    return ""


def _say_value(f: Field, value: Any) -> str:
    if f.kind == "boolean":
        return "yes" if value else "no"
    if f.kind == "enum":
        return next((label for v, label in f.choices if v == str(value)), str(value))
    if f.kind == "multi_enum" and isinstance(value, list):
        return _join([next((lbl for v, lbl in f.choices if v == str(x)), str(x)) for x in value])
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def describe_content(fields: list[Field], content: Mapping[str, Any]) -> str:
    """The filled form as a phrase: "name Anna, guests 4, vegetarian yes"."""
    parts = [f"{f.label} {_say_value(f, content[f.name])}" for f in fields if f.name in content]
    return ", ".join(parts) if parts else "nothing"


def coerce_value(f: Field, value: Any) -> Any:
    """A value checked (and converted where safe) against its field; ValueError names what is wrong."""
    spec = f.spec or {}
    if f.kind == "boolean":
        if isinstance(value, bool):
            return value
        parsed = answers.parse_boolean(str(value))
        if parsed is None:
            raise ValueError(f"{f.label} must be yes or no")
        return parsed
    if f.kind in ("number", "integer"):
        if isinstance(value, bool):
            raise ValueError(f"{f.label} must be a number")
        number: float | int | None
        if isinstance(value, int | float):
            number = value
        else:
            number = answers.parse_number(str(value), integer=f.kind == "integer")
        if number is None or (f.kind == "integer" and number != int(number)):
            raise ValueError(f"{f.label} must be {'a whole number' if f.kind == 'integer' else 'a number'}")
        number = int(number) if f.kind == "integer" else number
        low, high = spec.get("minimum"), spec.get("maximum")
        if isinstance(low, int | float) and number < low:
            raise ValueError(f"{f.label} must be at least {low:g}")
        if isinstance(high, int | float) and number > high:
            raise ValueError(f"{f.label} must be at most {high:g}")
        return number
    if f.kind == "enum":
        text = str(value)
        if any(text == v for v, _ in f.choices):
            return text
        picked = answers.match_choice(text, f.choices)
        if picked is None:
            raise ValueError(f"{f.label} must be one of {_join([lbl for _, lbl in f.choices], 'or')}")
        return picked
    if f.kind == "multi_enum":
        items = value if isinstance(value, list) else [value]
        out = [coerce_value(Field(f.name, "enum", f.label, f.required, f.choices), item) for item in items]
        return list(dict.fromkeys(out))
    text = str(value).strip()
    if f.fmt == "email":
        text = answers.spoken_email(text) if "@" not in text else text
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
            raise ValueError(f"{f.label} must be an email address")
    min_len, max_len = spec.get("minLength"), spec.get("maxLength")
    if isinstance(min_len, int) and len(text) < min_len:
        raise ValueError(f"{f.label} is too short")
    if isinstance(max_len, int) and len(text) > max_len:
        raise ValueError(f"{f.label} is too long")
    if not text:
        raise ValueError(f"{f.label} is empty")
    return text


def fill_deterministic(fields: list[Field], answer: str) -> dict[str, Any]:
    """Values the answer gives unambiguously, without a model; fields it does not settle are left out.

    One field: the whole answer is its value (number, yes/no, choice, or the cleaned text). Several fields:
    choices named in the answer, and a lone number or yes/no when only one field can take it.
    """
    content: dict[str, Any] = {}
    if len(fields) == 1:
        f = fields[0]
        raw: Any = answers.clean_free_text(answer) if f.kind == "string" else answer
        if f.kind == "multi_enum":
            raw = [v for v, lbl in f.choices if answers.match_choice(answer, [(v, lbl)]) is not None]
        try:
            content[f.name] = coerce_value(f, raw)
        except ValueError:
            pass
        return content
    for f in fields:
        if f.kind == "enum":
            picked = answers.match_choice(answer, f.choices)
            if picked is not None:
                content[f.name] = picked
    numeric = [f for f in fields if f.kind in ("number", "integer")]
    numbers = answers.find_numbers(answer)
    if len(numeric) == 1 and len(numbers) == 1:
        try:
            content[numeric[0].name] = coerce_value(numeric[0], numbers[0])
        except ValueError:
            pass
    booleans = [f for f in fields if f.kind == "boolean"]
    if len(booleans) == 1:
        value = answers.parse_boolean(answer)
        if value is not None:
            content[booleans[0].name] = value
    return content


def named_choices(fields: list[Field], answer: str) -> dict[str, Any]:
    """Values of fields nobody asked for that the answer names outright (a choice: "on the terrace").

    Only explicit choices: a stray number or "yes" in an answer to another question must not fill a field
    (a "yes" is not agreement to terms and conditions).
    """
    content: dict[str, Any] = {}
    for f in fields:
        if f.kind == "enum":
            picked = answers.match_choice(answer, f.choices)
            if picked is not None:
                content[f.name] = picked
        elif f.kind == "multi_enum":
            named = [v for v, lbl in f.choices if answers.match_choice(answer, [(v, lbl)]) is not None]
            if named:
                content[f.name] = named
    return content


def checked_content(fields: list[Field], content: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keep the values that pass their field's checks; return them and the problems with the rest."""
    by_name = {f.name: f for f in fields}
    ok: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in content.items():
        f = by_name.get(name)
        if f is None or value is None:
            continue
        try:
            ok[name] = coerce_value(f, value)
        except ValueError as exc:
            problems.append(str(exc))
    return ok, problems


def missing_required(fields: list[Field], content: Mapping[str, Any]) -> list[Field]:
    return [f for f in fields if f.required and f.name not in content and "default" not in (f.spec or {})]


def _fill_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The form schema as tool parameters: nothing required (the model leaves out what was not said)."""
    properties = dict(schema.get("properties") or {})
    return {"type": "object", "properties": properties}


async def fill_with_llm(
    model: llm.LLM[Any],
    fields: list[Field],
    schema: Mapping[str, Any],
    question: str,
    answer: str,
    *,
    timeout_s: float = 20.0,
) -> dict[str, Any]:
    """Ask the LLM to put the spoken answer into the schema (as one tool call); checked values only.

    Returns {} when the model produced no usable call in time: the caller asks the user again.
    """

    async def record_answer(raw_arguments: dict[str, object]) -> None:
        return None  # never executed: only the call's arguments are read

    tool = function_tool(
        record_answer,
        raw_schema={
            "name": _FILL_TOOL,
            "description": "Record the values the user gave for the form.",
            "parameters": _fill_schema(schema),
        },
    )
    chat_ctx = llm.ChatContext.empty()
    chat_ctx.add_message(role="system", content=_FILL_INSTRUCTIONS)
    chat_ctx.add_message(role="user", content=f"The question was: {question}\nThe user answered: {answer}")
    arguments: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout_s):
            async with model.chat(chat_ctx=chat_ctx, tools=[tool], tool_choice="required") as stream:
                async for chunk in stream:
                    for call in (chunk.delta.tool_calls if chunk.delta else None) or []:
                        if call.name == _FILL_TOOL and not arguments:
                            parsed = json.loads(call.arguments or "{}")
                            if isinstance(parsed, dict):
                                arguments = parsed
    except (TimeoutError, ValueError) as exc:
        logger.info("LLM form fill gave nothing usable", extra={"error": f"{type(exc).__name__}: {exc}"[:200]})
        return {}
    except Exception as exc:  # boundary: any provider failure means "ask again", never a crash
        logger.warning("LLM form fill failed", extra={"error": f"{type(exc).__name__}: {exc}"[:200]})
        return {}
    content, problems = checked_content(fields, arguments)
    if problems:
        logger.info("LLM form fill had invalid values", extra={"problems": problems})
    return content
