"""Tool calling for small local Qwen2.5-Coder models: parse their output, detect calls early, constrain it.

Small models write tool calls in many shapes: Qwen's `<tool_call>{...}</tool_call>`, bare JSON, ```json
blocks, "parameters" for "arguments", arguments as a JSON string, several calls, trailing chatter, truncated
JSON, tool names slightly off, numbers as strings. parse_tool_calls() turns all of these into validated
calls, repairing only what is unambiguous and reporting the rest as errors the LLM can be retried with.
(The grammar a call is generated under is call_decoding's.)
"""

from __future__ import annotations

import copy
import difflib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from voxmcp.words import SINGLE_NUMBER_WORDS

logger = logging.getLogger(__name__)

JsonSchema = Mapping[str, Any]

_CALL_OPEN = "<tool_call>"
_CALL_CLOSE = "</tool_call>"
_NAME_KEYS = ("name", "tool_name", "tool", "function_name")
_ARGS_KEYS = ("arguments", "parameters", "args", "params", "input", "kwargs")
_WRAPPER_KEYS = frozenset({"type", "id", "index", "call_id"})

_NUMBER_WORDS: dict[str, float] = {**SINGLE_NUMBER_WORDS, "a hundred": 100, "half": 0.5}


@dataclass
class ParsedToolCall:
    """A call to a known tool whose arguments satisfy that tool's schema (after safe repairs)."""

    name: str
    arguments: dict[str, Any]
    raw: str  # the text it was parsed from
    repairs: list[str] = field(default_factory=list)  # what was fixed on the way, for logs


@dataclass
class ParseResult:
    """Everything found in one model output.

    text: the output with tool-call markup and stray JSON removed (what may be spoken).
    calls: valid calls, in order. errors: one message per call that could not be repaired, worded so it can
    be sent back to the model. stray_json: JSON values in the output that were not tool calls (e.g. an echoed
    tool result), removed from text because JSON must not be read aloud.
    """

    text: str
    calls: list[ParsedToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stray_json: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def attempted_call(self) -> bool:
        """The model tried to call a tool (validly or not)."""
        return bool(self.calls or self.errors)


class _SchemaError(Exception):
    """An argument that cannot be repaired; the message is for the model."""


# --- finding JSON in text -----------------------------------------------------------------------------------


@dataclass
class _Segment:
    start: int
    end: int
    body: str  # JSON text (may be truncated or malformed)
    kind: Literal["tagged", "fenced", "bare"]


_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z_]*)[ \t]*\n?(.*?)(?:```|\Z)", re.S)


def _find_segments(text: str) -> list[_Segment]:
    """Spans holding tool-call JSON: <tool_call> blocks, fenced blocks, then bare JSON in what is left."""
    segments: list[_Segment] = []
    pos = 0
    while (start := text.find(_CALL_OPEN, pos)) != -1:
        body_start = start + len(_CALL_OPEN)
        close = text.find(_CALL_CLOSE, body_start)
        nxt = text.find(_CALL_OPEN, body_start)
        if close == -1 or (nxt != -1 and nxt < close):
            end = nxt if nxt != -1 else len(text)  # unclosed: runs to the next call or the end
            segments.append(_Segment(start, end, text[body_start:end], "tagged"))
        else:
            end = close + len(_CALL_CLOSE)
            segments.append(_Segment(start, end, text[body_start:close], "tagged"))
        pos = end
    for match in _FENCE_RE.finditer(text):
        if _inside(match.start(), segments):
            continue
        lang, body = match.group(1).lower(), match.group(2)
        if lang in ("", "json", "tool_call", "tool_code", "javascript", "js") and body.lstrip()[:1] in (
            "{",
            "[",
        ):
            segments.append(_Segment(match.start(), match.end(), body, "fenced"))
    segments.sort(key=lambda s: s.start)
    segments.extend(_find_bare_json(text, segments))
    segments.sort(key=lambda s: s.start)
    return segments


def _inside(index: int, segments: list[_Segment]) -> bool:
    return any(s.start <= index < s.end for s in segments)


def _find_bare_json(text: str, taken: list[_Segment]) -> Iterator[_Segment]:
    """Top level `{...}` / `[{...}]` values outside tagged/fenced blocks; truncated ones run to the end."""
    decoder = json.JSONDecoder()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch not in "{[" or _inside(i, taken):
            i += 1
            continue
        doubled = re.match(r"\{\s*(?=\{\s*[\"'])", text[i:])  # {{"name": ...}} as some models write it
        if doubled is None and not re.match(r"(\[\s*)?\{\s*(\"|'|\}|$)", text[i:]):
            i += 1
            continue
        body_start = i + (doubled.end() if doubled else 0)
        try:
            _, end = decoder.raw_decode(text, body_start)
            while end < len(text) and text[end] in "}]":
                end += 1  # a stray closer the model added: part of the JSON, not speech
        except json.JSONDecodeError:
            end = _balanced_end(text, body_start)
        yield _Segment(i, end, text[body_start:end], "bare")
        i = end


def _bracket_depths(text: str, start: int = 0) -> Iterator[tuple[int, int, bool]]:
    """(index, bracket depth after that character, inside a string) for each character: a string-aware walk."""
    depth = 0
    in_string = False
    escaped = False
    for j in range(start, len(text)):
        c = text[j]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        yield j, depth, in_string


def json_value_closed(text: str) -> bool:
    """Whether `text` starts with a JSON object or array that has closed (string-aware), e.g. to stop generating."""
    start = len(text) - len(text.lstrip())
    if start >= len(text) or text[start] not in "{[":
        return False
    return any(d == 0 and not s and text[j] in "}]" for j, d, s in _bracket_depths(text, start))


def _balanced_end(text: str, start: int) -> int:
    """End of a brace-balanced span (string-aware); the end of text when it never closes (truncated JSON)."""
    for j, depth, in_string in _bracket_depths(text, start):
        if depth == 0 and not in_string and text[j] in "}]":
            return j + 1
    return len(text)


def _truncation_problem(body: str) -> str | None:
    """Why a JSON text that never closes can't be completed safely, or None when only closers are missing.

    Closing brackets can be added without guessing; a string or number cut off mid-way can't ("fe" is not
    "feet"), and neither can a key whose value never came.
    """
    *_, (_, depth, in_string) = [(0, 0, False), *_bracket_depths(body)]  # the state after the last character
    if depth <= 0 and not in_string:
        return None
    if in_string:
        return "the output was cut off inside a string"
    last = body.rstrip()[-1:]
    if last == ":" or last.isalnum() or last in ".-+":
        return "the output was cut off before a value was complete"
    return None


def _strip_fence(body: str) -> str:
    stripped = body.strip()
    if stripped.startswith("```"):
        stripped = _FENCE_RE.sub(lambda m: m.group(2), stripped).strip()
    return stripped


def _call_name(value: Any, tools: Mapping[str, JsonSchema]) -> str | None:
    calls = _extract_calls(value, tools) if value is not None else None
    if calls and isinstance(calls[0].name, str):
        return calls[0].name
    return None


def _decode_sequence(text: str) -> list[Any]:
    """Complete JSON values at the start of text, one after another (separated by whitespace or commas)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = 0
    while pos < len(text):
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        values.append(value)
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
    return values


def _load_json(body: str) -> tuple[Any, bool]:
    """(value, repaired): strict JSON first, then json_repair for truncated or sloppy output."""
    stripped = _strip_fence(body)
    if not stripped:
        return None, False
    try:
        return json.loads(stripped), False
    except json.JSONDecodeError:
        pass
    values = _decode_sequence(stripped)
    if values:
        if len(values) > 1 and all(isinstance(v, dict) for v in values):
            return values, False  # several objects in one block: several calls
        return values[0], True  # trailing garbage after a complete value
    import json_repair

    try:
        repaired = json_repair.loads(stripped)
    except Exception:  # json_repair raises assorted errors on hopeless input
        return None, False
    if repaired in ("", None, [], {}):
        return None, False
    return repaired, True


# --- turning JSON values into (name, arguments) -------------------------------------------------------------


@dataclass
class _RawCall:
    name: Any
    arguments: Any
    notes: list[str]


def _extract_calls(value: Any, tools: Mapping[str, JsonSchema]) -> list[_RawCall] | None:
    """The calls a JSON value describes, or None when it does not look like a tool call at all."""
    if isinstance(value, list):
        found = [_extract_calls(item, tools) for item in value]
        if not value or any(f is None for f in found):
            return None
        return [call for f in found if f is not None for call in f]
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("tool_calls"), list):
        return _extract_calls(value["tool_calls"], tools)
    function = value.get("function")
    if isinstance(function, dict):
        return _extract_calls(function, tools)
    name_key = next((k for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    if name_key is None and isinstance(function, str):
        name_key = "function"
    if name_key is not None:
        notes: list[str] = []
        args_key = next((k for k in _ARGS_KEYS if k in value), None)
        if args_key is not None:
            arguments = value[args_key]
            if args_key != "arguments":
                notes.append(f'read "{args_key}" as "arguments"')
        else:
            arguments = {k: v for k, v in value.items() if k != name_key and k not in _WRAPPER_KEYS}
            if arguments:
                notes.append("arguments given at the top level")
        return [_RawCall(value[name_key], arguments, notes)]
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key in tools and isinstance(inner, dict | str):
            return [_RawCall(key, inner, ['read {"tool": {args}} form'])]
    return None


def _match_tool_name(name: str, tools: Mapping[str, JsonSchema]) -> tuple[str | None, str | None]:
    """(tool, note) for an exact or unambiguous near match; (None, error) otherwise."""
    if name in tools:
        return name, None

    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9]", "", s.lower())

    by_norm: dict[str, list[str]] = {}
    for tool in tools:
        by_norm.setdefault(norm(tool), []).append(tool)
    key = norm(name)
    candidates = by_norm.get(key, [])
    if not candidates:
        # "functions.get_weather", "demo.get_weather", "default_api:get_weather"
        tail = re.split(r"[.:/]", name)[-1]
        candidates = by_norm.get(norm(tail), []) if tail != name else []
    if not candidates:
        close = difflib.get_close_matches(key, list(by_norm), n=2, cutoff=0.8)
        if len(close) == 1 or (len(close) == 2 and _clearly_better(key, close[0], close[1])):
            candidates = by_norm[close[0]]
    if len(candidates) == 1:
        return candidates[0], f"tool name {name!r} taken as {candidates[0]!r}"
    listed = ", ".join(tools) or "(none)"
    if len(candidates) > 1:
        return None, f'tool name "{name}" is ambiguous: {", ".join(candidates)}'
    return None, f'unknown tool "{name}"; available tools: {listed}'


def _clearly_better(key: str, first: str, second: str) -> bool:
    a = difflib.SequenceMatcher(None, key, first).ratio()
    b = difflib.SequenceMatcher(None, key, second).ratio()
    return a - b >= 0.1


# --- schema validation with safe repairs --------------------------------------------------------------------


def _types_of(schema: JsonSchema) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    if "properties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return []


def _matches_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "null":
        return value is None
    return True


def _coerce(value: Any, kind: str) -> tuple[bool, Any]:
    """(ok, value) converting value to kind when the conversion loses nothing."""
    if kind in ("number", "integer"):
        number: Any = None
        if isinstance(value, str):
            text = value.strip().replace(",", "") if re.fullmatch(r"\s*-?[\d,]+(\.\d+)?\s*", value) else value.strip()
            if re.fullmatch(r"-?\d+", text):
                number = int(text)
            elif re.fullmatch(r"-?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?|-?\d+[eE][-+]?\d+", text):
                number = float(text)
            elif text.lower() in _NUMBER_WORDS:
                number = _NUMBER_WORDS[text.lower()]
        elif isinstance(value, float) and kind == "integer" and value.is_integer():
            number = int(value)
        if number is None:
            return False, value
        if kind == "integer":
            if isinstance(number, float):
                if not number.is_integer():
                    return False, value
                number = int(number)
        return True, number
    if kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return True, value.strip().lower() in ("true", "yes")
    if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return True, str(value)
    if kind in ("object", "array") and isinstance(value, str):
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError:
            loaded = None
        if _matches_type(loaded, kind):
            return True, loaded
    if kind == "array" and not isinstance(value, list | dict) and value is not None:
        return True, [value]
    return False, value


def _validate(value: Any, schema: JsonSchema, path: str, repairs: list[str]) -> Any:
    """Value conforming to schema, repaired where safe; raises _SchemaError for the rest."""
    if not isinstance(schema, Mapping) or not schema:
        return value
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            failures = []
            for option in options:
                trial: list[str] = []
                try:
                    result = _validate(copy.deepcopy(value), option, path, trial)
                except _SchemaError as exc:
                    failures.append(str(exc))
                    continue
                repairs.extend(trial)
                return result
            raise _SchemaError(failures[0])
    if isinstance(schema.get("allOf"), list):
        for option in schema["allOf"]:
            value = _validate(value, option, path, repairs)
    if "const" in schema and value != schema["const"]:
        raise _SchemaError(f"{path} must be {json.dumps(schema['const'])}")
    kinds = _types_of(schema)
    if kinds and not any(_matches_type(value, k) for k in kinds):
        for kind in kinds:
            ok, coerced = _coerce(value, kind)
            if ok:
                repairs.append(f"{path}: {json.dumps(value)} -> {json.dumps(coerced)}")
                value = coerced
                break
        else:
            raise _SchemaError(f"{path} must be {' or '.join(kinds)}, got {json.dumps(value)}")
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        folded = [e for e in enum if isinstance(e, str) and isinstance(value, str) and e.lower() == value.lower()]
        if len(folded) == 1:
            repairs.append(f"{path}: {json.dumps(value)} -> {json.dumps(folded[0])}")
            value = folded[0]
        else:
            raise _SchemaError(f"{path} must be one of {', '.join(json.dumps(e) for e in enum)}")
    if isinstance(value, dict):
        value = _validate_object(value, schema, path, repairs)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            value = [_validate(v, items, f"{path}[{i}]", repairs) for i, v in enumerate(value)]
        _check_bounds(len(value), schema.get("minItems"), schema.get("maxItems"), f"{path} item count")
    elif isinstance(value, str):
        _check_bounds(len(value), schema.get("minLength"), schema.get("maxLength"), f"{path} length")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if re.search(pattern, value) is None:
                    raise _SchemaError(f"{path} must match the pattern {pattern}")
            except re.error:
                pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_bounds(value, schema.get("minimum"), schema.get("maximum"), path)
    return value


def _check_bounds(value: float, low: Any, high: Any, what: str) -> None:
    if isinstance(low, int | float) and value < low:
        raise _SchemaError(f"{what} must be at least {low}")
    if isinstance(high, int | float) and value > high:
        raise _SchemaError(f"{what} must be at most {high}")


def _validate_object(value: dict[str, Any], schema: JsonSchema, path: str, repairs: list[str]) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in properties:
            renamed = _unique_close_key(key, properties, value)
            if renamed is not None:
                repairs.append(f'argument "{key}" taken as "{renamed}"')
                key, where = renamed, f"{path}.{renamed}" if path else renamed
            elif schema.get("additionalProperties") is False:
                repairs.append(f'dropped unknown argument "{where}"')
                continue
            else:
                out[key] = item
                continue
        if item is None and key not in required and "null" not in _types_of(properties[key]):
            repairs.append(f'dropped null optional argument "{where}"')
            continue
        out[key] = _validate(item, properties[key], where, repairs)
    missing = [r for r in required if r not in out]
    if missing:
        names = ", ".join(f'"{path}.{m}"' if path else f'"{m}"' for m in missing)
        raise _SchemaError(f"missing required argument{'s' if len(missing) > 1 else ''} {names}")
    return out


def _unique_close_key(key: str, properties: Mapping[str, Any], given: Mapping[str, Any]) -> str | None:
    """A schema property that key is only a spelling variant of (fromUnit/from-unit for from_unit)."""

    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9]", "", s.lower())

    matches = [p for p in properties if norm(p) == norm(key) and p not in given]
    return matches[0] if len(matches) == 1 else None


# --- public parsing API -------------------------------------------------------------------------------------


def _tool_schema(tool: Any) -> JsonSchema:
    """Accepts a bare parameters schema or an OpenAI-style {"type": "function", "function": {...}} entry."""
    if isinstance(tool, Mapping):
        if isinstance(tool.get("function"), Mapping):
            return _tool_schema(tool["function"])
        if isinstance(tool.get("parameters"), Mapping):
            return tool["parameters"]  # type: ignore[no-any-return]
        if isinstance(tool.get("input_schema"), Mapping):
            return tool["input_schema"]  # type: ignore[no-any-return]
        return tool
    return {}


def parse_tool_calls(text: str, tools: Mapping[str, JsonSchema]) -> ParseResult:
    """Find, repair and validate every tool call in a model output.

    tools maps tool name -> JSON schema of its parameters. A call that cannot be made valid is never returned
    in calls; its problem goes to errors instead.
    """
    schemas = {name: _tool_schema(schema) for name, schema in tools.items()}
    result = ParseResult(text="")
    seen: set[str] = set()
    kept: list[tuple[int, int]] = []
    for segment in _find_segments(text):
        raw = text[segment.start : segment.end]
        cut_off = _truncation_problem(_strip_fence(segment.body))
        if cut_off is not None:
            value, _ = _load_json(segment.body)
            if segment.kind == "bare" and _extract_calls(value, schemas) is None:
                continue  # not a call
            name = _call_name(value, schemas)
            result.errors.append(f"tool call{f' to {name!r}' if name else ''} is incomplete: {cut_off}")
            kept.append((segment.start, segment.end))
            continue
        value, repaired_json = _load_json(segment.body)
        calls = _extract_calls(value, schemas) if value is not None else None
        if calls is None:
            if segment.kind == "bare" and value is None:
                continue  # braces in prose, not JSON: leave the text alone
            if value is None:
                result.errors.append(f"tool call is not valid JSON: {segment.body.strip()[:120]!r}")
            elif segment.kind == "tagged":
                result.errors.append(
                    'tool call must be {"name": <tool name>, "arguments": {...}}, got ' + json.dumps(value)[:120]
                )
            else:
                result.stray_json.append(raw.strip())
            kept.append((segment.start, segment.end))
            continue
        kept.append((segment.start, segment.end))
        for call in calls:
            parsed = _validate_call(call, schemas, raw, repaired_json, result.errors)
            if parsed is None:
                continue
            key = json.dumps([parsed.name, parsed.arguments], sort_keys=True)
            if key in seen:
                logger.debug("dropped duplicate tool call", extra={"tool": parsed.name})
                continue
            seen.add(key)
            result.calls.append(parsed)
    result.text = _remaining_text(text, kept)
    if result.errors:
        logger.info("unrepairable tool call output", extra={"errors": result.errors})
    return result


def _validate_call(
    call: _RawCall, schemas: Mapping[str, JsonSchema], raw: str, repaired_json: bool, errors: list[str]
) -> ParsedToolCall | None:
    if not isinstance(call.name, str) or not call.name.strip():
        errors.append(f"tool call has no tool name: {raw.strip()[:120]!r}")
        return None
    name, note = _match_tool_name(call.name.strip(), schemas)
    if name is None:
        errors.append(note or f'unknown tool "{call.name}"')
        return None
    repairs = list(call.notes)
    if repaired_json:
        repairs.append("repaired malformed JSON")
    if note:
        repairs.append(note)
    arguments = call.arguments
    if arguments is None:
        arguments = {}
    if isinstance(arguments, str):
        text = arguments.strip()
        try:
            arguments = json.loads(text) if text else {}
            repairs.append("arguments given as a JSON string")
        except json.JSONDecodeError:
            errors.append(f'tool "{name}": arguments are not a JSON object: {text[:120]!r}')
            return None
    if not isinstance(arguments, dict):
        errors.append(f'tool "{name}": arguments must be a JSON object, got {json.dumps(arguments)[:120]}')
        return None
    schema = schemas[name]
    try:
        checked = _validate(arguments, {**schema, "type": "object"}, "", repairs)
    except _SchemaError as exc:
        errors.append(f'tool "{name}": {exc}')
        return None
    return ParsedToolCall(name=name, arguments=checked, raw=raw.strip(), repairs=repairs)


def _remaining_text(text: str, removed: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    pos = 0
    for start, end in sorted(removed):
        if start >= pos:
            pieces.append(text[pos:start])
            pos = end
    pieces.append(text[pos:])
    joined = "".join(pieces).replace(_CALL_CLOSE, "").replace(_CALL_OPEN, "")
    joined = re.sub(r"[ \t]+\n", "\n", joined)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()
