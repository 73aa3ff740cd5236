"""A tool's JSON Schema as the policy uses it: validate a call before it is sent, tell the model what each parameter
wants when it has to correct a call, and word a question for a value only the user can give.

Everything here comes from the schema the server published (types, enums, required fields, patterns, formats,
descriptions), never from knowledge of a particular tool.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import jsonschema
from jsonschema import exceptions as schema_errors
from livekit.agents import llm

_MAX_HINT_CHARS = 600
_MAX_ERRORS = 3
_FILLERS = {"a", "an", "the", "for", "of", "to", "in", "on", "with", "and", "or", "by", "from"}


def tool_parameters(tools: Sequence[llm.Tool | llm.Toolset]) -> dict[str, dict[str, Any]]:
    """Tool name -> its parameters' JSON Schema (OpenAI function format, as the LLM is shown it)."""
    ctx = llm.ToolContext(list(tools))  # toolsets are flattened
    out: dict[str, dict[str, Any]] = {}
    for schema in ctx.parse_function_tools("openai", strict=False):
        function = schema.get("function", schema)
        params = function.get("parameters")
        out[str(function["name"])] = params if isinstance(params, dict) else {"type": "object", "properties": {}}
    return out


def validation_errors(arguments: Any, schema: dict[str, Any]) -> list[str]:
    """Why `arguments` don't satisfy `schema`, as short sentences naming the parameter ([] when they do).

    A schema that is itself invalid (servers publish some) can't reject anything: [] then, and the server decides."""
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(arguments), key=lambda e: (len(e.path), str(e.path)))
    except (schema_errors.SchemaError, schema_errors.UnknownType, schema_errors.RefResolutionError, TypeError):
        return []
    except RecursionError:
        return []
    return [_sentence(e) for e in errors[:_MAX_ERRORS]]


def _sentence(error: schema_errors.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.validator_value, list):
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [k for k in error.validator_value if k not in instance]
        name = f"{where}.{missing[0]}" if where and missing else (missing[0] if missing else where)
        return f"{name} is required but missing"
    if error.validator == "additionalProperties":
        return f"{error.message} ({where or 'arguments'})"
    message = error.message
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{where}: {message}" if where else message


def missing_required(arguments: Any, schema: dict[str, Any]) -> list[str]:
    """Top-level required parameters absent from `arguments`."""
    required = schema.get("required")
    if not isinstance(required, list):
        return []
    present = arguments if isinstance(arguments, dict) else {}
    return [str(k) for k in required if k not in present]


def parameter_hints(schema: dict[str, Any]) -> str:
    """One line per parameter: name, type, required, allowed values, pattern, format, description — what a model
    needs to correct a call ("time (string, required, format HH:MM in 24-hour time): Time to convert")."""
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        return ""
    required = set(schema.get("required") or [])
    lines = []
    for name, prop in props.items():
        if not isinstance(prop, dict):
            continue
        facts = [str(prop.get("type") or "any")]
        if name in required:
            facts.append("required")
        if isinstance(prop.get("enum"), list):
            facts.append("one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in prop["enum"][:12]))
        for key in ("pattern", "format", "minimum", "maximum"):
            if key in prop:
                facts.append(f"{key} {prop[key]}")
        items = prop.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            facts.append("items with " + ", ".join(items["properties"])[:120])
        description = " ".join(str(prop.get("description") or "").split())
        lines.append(f"- {name} ({'; '.join(facts)})" + (f": {description}" if description else ""))
    text = "\n".join(lines)
    return text if len(text) <= _MAX_HINT_CHARS else text[: _MAX_HINT_CHARS - 3] + "..."


def question_for(parameter: str, schema: dict[str, Any]) -> str:
    """One short spoken question for a value only the user can give ("What city should I use?").

    Worded from the parameter's name, or its description's first words when the name is a code ("q", "id")."""
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    prop = props.get(parameter, {}) if isinstance(props, dict) else {}
    words = _words(parameter)
    if len(" ".join(words)) <= 2 or words in (["id"], ["q"], ["query"]):
        described = _words(str(prop.get("description") or "") if isinstance(prop, dict) else "")[:4]
        while described and described[-1] in _FILLERS:
            described.pop()
        words = described or words
    phrase = " ".join(words) or "value"
    if isinstance(prop, dict) and isinstance(prop.get("enum"), list) and 1 < len(prop["enum"]) <= 4:
        options = [str(v) for v in prop["enum"]]
        return f"Which {phrase}: {', '.join(options[:-1])} or {options[-1]}?"
    return f"What {phrase} should I use?"


def _words(text: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [w.lower() for w in re.findall(r"[A-Za-z]+", spaced)]
