"""MCP tool results -> text a voice can say.

The LLM (a small local model) imitates whatever it sees, so it must never see protocol JSON
(`{"type":"text",...}`), JSON braces or base64. Structured content (when valid against the tool's output
schema) becomes short "key: value" phrases; resource links, embedded resources, images and audio are
described; long text is cut at a sentence boundary for speech with the full text kept for follow-ups.

A result comes from a server we do not control, so the work on it is bounded before anything is parsed:
at most `MAX_READ_CHARS` of text and `MAX_BLOCKS` content blocks are read, JSON deeper than
`MAX_JSON_DEPTH` is not parsed, structured content is walked without recursion, and every regular
expression here is linear in its input (no nested or overlapping quantifiers that can backtrack, and
scans that start only where a match can begin).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonschema
import mcp.types as types
from referencing.exceptions import Unresolvable

logger = logging.getLogger(__name__)

MAX_FULL_CHARS = 100_000
"""Bound on `full_text`, so an oversized result cannot flood memory or a later prompt."""
MAX_READ_CHARS = 1_000_000
"""Most characters of text read from one result (all blocks together); the rest is ignored. JSON up to this
size is still parsed (C code, linear), so a large but ordinary JSON answer keeps its first items."""
MAX_BLOCKS = 64
"""Most content blocks (or resource contents, or prompt messages) read from one result."""
MAX_JSON_DEPTH = 64
"""JSON text nested deeper than this is not parsed (Python's parser would raise RecursionError near 1,000)."""
MAX_STRUCTURED_NODES = 20_000
"""Structured content larger than this (values, or deeper than `_MAX_VALIDATE_DEPTH`) is not schema-validated."""
CUT_NOTE = " (cut: the result was too large)"
_MAX_CLEAN_CHARS = 2 * MAX_FULL_CHARS
"""Most characters of prose given to the markdown rules: cleaning only shortens, and `full_text` keeps less."""
_MAX_VALIDATE_DEPTH = 32
_MAX_SCHEMA_NODES = 5_000
_MAX_DEPTH = 4
_MAX_ITEMS = 20
_MAX_KEY_CHARS = 60
_MAX_LABEL_CHARS = 120
_ERROR_CHARS = 160
_ERROR_PREFIX = re.compile(r"^\s*(?:error(?: executing tool [\w.-]+)?|exception|failed)\s*:\s*", re.IGNORECASE)
_TOO_DEEP = "nested too deeply to read out"
_BRACES = str.maketrans({"{": " ", "}": " "})


@dataclass(frozen=True)
class SpeakableResult:
    """`text` is what to say now (<= max_chars); `full_text` keeps everything for follow-up questions."""

    text: str
    full_text: str
    is_error: bool

    @property
    def truncated(self) -> bool:
        return len(self.full_text) > len(self.text)


class _Reader:
    """How much of one result may still be read: bounds the work on a hostile result before any parsing."""

    def __init__(self, limit: int = MAX_READ_CHARS) -> None:
        self.left = limit
        self.cut = False

    def take(self, text: str) -> str:
        if len(text) > self.left:
            if not self.cut:
                logger.debug("tool result text cut before reading", extra={"chars": len(text), "kept": self.left})
            self.cut = True
        taken = text[: self.left]
        self.left -= len(taken)
        return taken


def humanize_key(key: str) -> str:
    """`temperatureC` / `wind_speed` / `max-items` -> "temperature c" / "wind speed" / "max items"."""
    key = key[:_MAX_KEY_CHARS].translate(_BRACES)
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return re.sub(r"[_\-\s]+", " ", spaced).strip().lower() or key


_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_ISO_MAX_CHARS = 40


def spoken_datetime(text: str) -> str | None:
    """An ISO 8601 date-time as a voice says it ("2026-11-30T20:00:00+00:00" -> "8:00 PM on 30 November 2026"),
    None for anything else. The offset is dropped: results that carry one name their time zone, and a small model
    reads "20:00:00+00:00" out digit by digit."""
    if len(text) > _ISO_MAX_CHARS or not _ISO_DATETIME.fullmatch(text.strip()):
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{hour}:{moment.minute:02d} {half} on {moment.day} {moment:%B %Y}"


class _Budget:
    """Characters `render_value` may still produce (`left`) and read from strings (`read_left`): a huge
    structure costs no more work than `full_text` keeps, even when cleaning shrinks what it reads."""

    def __init__(self, limit: int = MAX_FULL_CHARS, read_limit: int = MAX_READ_CHARS) -> None:
        self.left = limit
        self.read_left = read_limit

    @property
    def spent(self) -> bool:
        return self.left <= 0 or self.read_left <= 0

    def spend(self, text: str) -> str:
        self.left -= len(text)
        return text

    def read(self, text: str) -> str:
        taken = text[: max(min(self.left + 1, self.read_left), 0)]
        self.read_left -= max(len(taken), 1)
        return taken


_INT_BITS_SPOKEN = 3_000  # ~900 digits; str() refuses ints past 4,300 digits


def _format_scalar(value: Any, budget: _Budget) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and value.bit_length() > _INT_BITS_SPOKEN:
        return "a very large number"
    text = budget.read(value if isinstance(value, str) else str(value))
    if spoken := spoken_datetime(text):
        return spoken
    return clean_text(text)


def _join_words(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def render_value(value: Any, depth: int = 0) -> str:
    """Render any JSON value as plain phrases: objects as "key: value", lists as "a, b and c".

    Recursion stops at `_MAX_DEPTH` and `_MAX_ITEMS` per level, and output at `MAX_FULL_CHARS`, so any value
    (however deep or large) is rendered in bounded work."""
    return _render(value, depth, _Budget())


def _render(value: Any, depth: int, budget: _Budget) -> str:
    if depth > _MAX_DEPTH:
        return budget.spend("more details")
    if isinstance(value, Mapping):
        phrases = []
        for index, (key, item) in enumerate(value.items()):
            if index >= _MAX_ITEMS:
                phrases.append(budget.spend(f"and {len(value) - _MAX_ITEMS} more fields"))
                break
            if budget.spent:
                phrases.append("and more")
                break
            name = budget.spend(humanize_key(str(key)))
            rendered = _render(item, depth + 1, budget)
            phrases.append(f"{name}: {rendered}" if rendered else name)
        separator = "; " if depth == 0 else ", "
        return separator.join(phrases)
    if isinstance(value, list | tuple):
        if not value:
            return budget.spend("none")
        head = value[:_MAX_ITEMS]
        shown = []
        for item in head:
            if budget.spent:
                shown.append("more")
                break
            shown.append(_render(item, depth + 1, budget))
        if len(value) > _MAX_ITEMS:
            shown.append(f"{len(value) - _MAX_ITEMS} more")
        if any(isinstance(item, Mapping) for item in head):
            return ". ".join(f"{index + 1}: {text}" for index, text in enumerate(shown))
        return _join_words(shown)
    return budget.spend(_format_scalar(value, budget))


# Each rule is linear: character classes that stop at the next delimiter (so a failed attempt never rescans
# what a later attempt scans), no quantifier next to another that can match the same characters, and
# lookbehinds so a run (of spaces, of base64) is scanned from its start only, not from every position in it.
_TARGET = r"\((?:[^()\n]|\([^()\n]*\))*\)"
"""A link's target in parentheses, with one level of balanced parentheses inside (wiki URLs)."""
_MARKDOWN_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"```[a-zA-Z0-9_-]*\n?"), ""),  # code fences
    (re.compile(r"`([^`\n]*)`"), r"\1"),  # inline code
    (re.compile(rf"!\[([^\[\]\n]*)\]{_TARGET}"), r"\1"),  # images
    (re.compile(rf"\[([^\[\]\n]+)\]{_TARGET}"), r"\1"),  # links: keep the words
    (re.compile(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__"), r"\1\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?![\s*])([^*\n]+)(?<!\s)\*(?!\w)"), r"\1"),  # italic
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*", re.MULTILINE), ""),  # headings
    (re.compile(r"^[ \t]*[-*+][ \t]+", re.MULTILINE), ""),  # bullets
    (re.compile(r"^[-:| \t]{3,}$", re.MULTILINE), ""),  # table rules
    (re.compile(r"(?<![ \t])[ \t]*\|[ \t]*"), ", "),  # table cells
    (re.compile(r"data:[\w/+.-]{1,100};base64,[A-Za-z0-9+/=]+"), "(embedded data)"),
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{200,}={0,2}"), "(encoded data)"),  # stray base64 runs
)
_JSON_PUNCTUATION = str.maketrans({"{": None, "[": None, '"': None, "}": " ", "]": " "})


def clean_text(text: str) -> str:
    """Strip markdown, braces and encoded blobs, collapse whitespace; lines become sentences."""
    cleaned = text.replace("\r\n", "\n")
    for pattern, replacement in _MARKDOWN_RULES:
        cleaned = pattern.sub(replacement, cleaned)
    cleaned = cleaned.translate(_BRACES)
    lines = [line.strip(" \t,") for line in cleaned.split("\n")]
    lines = [line for line in lines if line]
    if len(lines) > 1:
        # Separate lines become separate sentences, so TTS pauses between them.
        lines = [line if line[-1] in ".!?:;" else line + "." for line in lines]
    return re.sub(r"\s+", " ", " ".join(lines)).strip()


_JSON_TOKENS = re.compile(r'[\[\]{}"\\]')


def _too_deep_at(text: str, start: int, limit: int) -> int | None:
    """Where the JSON value starting at `text[start]` first nests deeper than `limit`; None if it never does.

    A linear scan (strings and escapes respected) that stops where the value closes, so it costs no more
    than parsing would, and nothing is parsed that could exhaust the stack."""
    depth = 0
    in_string = False
    escaped_at = -1
    for token in _JSON_TOKENS.finditer(text, start):
        at = token.start()
        if at == escaped_at:
            continue
        char = token.group()
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return at
        elif char in "]}":
            depth -= 1
            if depth <= 0:
                return None
    return None


def _without_json_punctuation(text: str) -> str:
    """JSON that cannot be parsed (cut short, malformed, too deep): its words, without braces and quotes."""
    spaced = text[:_MAX_CLEAN_CHARS].replace('":', '": ').replace('",', '", ')
    return _SPACE_BEFORE_PUNCTUATION.sub("", clean_text(spaced.translate(_JSON_PUNCTUATION)))


_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<! ) +(?=[,.;:])")  # starts a run only at its first space: linear


def _describe_json_text(text: str) -> str | None:
    """Text that is one JSON object/array: rendered as phrases (None when it is not JSON after all)."""
    start = len(text) - len(text.lstrip())
    deep_at = _too_deep_at(text, start, MAX_JSON_DEPTH)
    if deep_at is not None:
        logger.debug("JSON tool result too deep to parse", extra={"depth_limit": MAX_JSON_DEPTH, "at": deep_at})
        shallow_end = _too_deep_at(text, start, _MAX_DEPTH + 1) or deep_at
        words = _without_json_punctuation(text[:shallow_end]).rstrip(" ,:;")
        return f"{words}, and more, {_TOO_DEEP}." if words else f"The result is {_TOO_DEEP}."
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return render_value(parsed) if isinstance(parsed, dict | list) else None


def _size_phrase(base64_data: str) -> str:
    size = len(base64_data) * 3 // 4 - base64_data[-2:].count("=")
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _label(text: str) -> str:
    return clean_text(text[:_MAX_LABEL_CHARS])


def _resource_label(uri: str, name: str | None, title: str | None = None) -> str:
    label = title or name
    if label:
        return _label(label)
    tail = uri[-_MAX_LABEL_CHARS * 2 :].rstrip("/").rsplit("/", 1)[-1]
    return _label(tail or uri)


def _mime(mime_type: str | None) -> str:
    return f" ({_label(mime_type)})" if mime_type else ""


_DECODER = json.JSONDecoder()
_MAX_EMBEDDED_JSON = 8


def _render_embedded_json(text: str) -> str:
    """Replace JSON objects/arrays inside prose ("Raw result: {...}") with phrases."""
    pieces: list[str] = []
    position = 0
    for _ in range(_MAX_EMBEDDED_JSON):
        starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        if _too_deep_at(text, start, MAX_JSON_DEPTH) is not None:
            break  # left as words: clean_text drops the braces
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            pieces.append(text[position : start + 1])
            position = start + 1
            continue
        if not isinstance(value, dict | list):
            pieces.append(text[position:end])
        else:
            pieces.append(text[position:start] + render_value(value) + ". ")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _looks_like_json(stripped: str) -> bool:
    """Data rather than prose that happens to start with a bracket ("[Draft] The meeting...")."""
    return stripped[:1] == "{" or stripped[:2].rstrip() in ("[{", "[[", '["') or stripped.rstrip()[-1:] == "]"


def describe_text_or_json(text: str, reader: _Reader | None = None) -> str:
    """Text that is really JSON is rendered as phrases; JSON inside prose too; then cleaned."""
    reader = reader or _Reader()
    text = reader.take(text)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        described = _describe_json_text(text)
        if described is not None:
            return described
        if _looks_like_json(stripped):  # cut short or malformed: still no braces and quotes read out
            return _without_json_punctuation(stripped)
    if len(text) > _MAX_CLEAN_CHARS:
        reader.cut = True
        text = text[:_MAX_CLEAN_CHARS]
    if "{" in text or "[" in text:
        text = _render_embedded_json(text)
    return clean_text(text)


def describe_resource_contents(
    contents: types.TextResourceContents | types.BlobResourceContents, reader: _Reader | None = None
) -> str:
    """One resource's contents: its text (cleaned), or a description of binary data."""
    label = _resource_label(contents.uri, None)
    mime = _mime(contents.mime_type)
    if isinstance(contents, types.TextResourceContents):
        return f"{label}{mime}: {describe_text_or_json(contents.text, reader)}"
    return f"{label}{mime}, binary data of {_size_phrase(contents.blob)}"


def describe_block(block: types.ContentBlock, reader: _Reader | None = None) -> str:
    """One content block as plain words; never base64, never the block's JSON."""
    if isinstance(block, types.TextContent):
        return describe_text_or_json(block.text, reader)
    if isinstance(block, types.ImageContent):
        return f"An image ({_label(block.mime_type)}, {_size_phrase(block.data)})."
    if isinstance(block, types.AudioContent):
        return f"An audio clip ({_label(block.mime_type)}, {_size_phrase(block.data)})."
    if isinstance(block, types.ResourceLink):
        description = block.description
        said = f": {clean_text((reader or _Reader()).take(description)[:_MAX_CLEAN_CHARS])}" if description else ""
        return f"A link to {_resource_label(block.uri, block.name, block.title)}{_mime(block.mime_type)}{said}."
    if isinstance(block, types.EmbeddedResource):
        return f"The resource {describe_resource_contents(block.resource, reader)}"
    return f"A {type(block).__name__} item."  # pragma: no cover - the ContentBlock union is closed


def _describe_blocks(blocks: Sequence[types.ContentBlock], reader: _Reader) -> list[str]:
    """At most `MAX_BLOCKS` blocks described; the count of the rest said, so the user knows there is more."""
    parts = [describe_block(block, reader) for block in blocks[:MAX_BLOCKS]]
    if len(blocks) > MAX_BLOCKS:
        logger.debug("tool result blocks cut", extra={"blocks": len(blocks), "kept": MAX_BLOCKS})
        parts.append(f"And {len(blocks) - MAX_BLOCKS} more parts")
    return parts


def _fits(value: Any, max_depth: int, max_nodes: int) -> bool:
    """Whether a JSON value is at most `max_depth` deep with at most `max_nodes` values (iterative, no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 1
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= max_depth and len(item) > 0:
            return False
        nodes += len(item)
        if nodes > max_nodes:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


_UNCHECKED_KEYWORDS = frozenset({"pattern", "patternProperties"})


def _checkable_schema(schema: Any, depth: int = 0) -> Any:
    """The schema without regex keywords: a server's own pattern could backtrack for ever on its own output,
    and patterns do not decide whether the data can be read out. Depth-bounded (raises ValueError)."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError("output schema nested too deeply")
    if isinstance(schema, Mapping):
        return {k: _checkable_schema(v, depth + 1) for k, v in schema.items() if k not in _UNCHECKED_KEYWORDS}
    if isinstance(schema, list):
        return [_checkable_schema(v, depth + 1) for v in schema]
    return schema


_VALIDATORS: dict[str, Any] = {}
_MAX_VALIDATORS = 256


def _validator_for(schema: Mapping[str, Any]) -> Any:
    """A compiled validator per distinct schema: compiling costs ~100x validating, and calls repeat."""
    if not _fits(schema, MAX_JSON_DEPTH, _MAX_SCHEMA_NODES):
        raise ValueError("output schema too large")
    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _VALIDATORS.get(key)
    if validator is None:
        checkable = _checkable_schema(schema)
        cls = jsonschema.validators.validator_for(checkable)
        cls.check_schema(checkable)
        validator = cls(checkable)
        if len(_VALIDATORS) >= _MAX_VALIDATORS:
            _VALIDATORS.clear()
        _VALIDATORS[key] = validator
    return validator


def structured_if_valid(result: types.CallToolResult, tool: types.Tool | None) -> Any | None:
    """The structured content to prefer: present, and valid against the tool's outputSchema if it has one."""
    structured = result.structured_content
    if structured is None:
        return None
    schema = tool.output_schema if tool is not None else None
    if schema is None:
        return structured  # rendering is bounded in depth and size on its own
    name = tool.name if tool is not None else None
    if not _fits(structured, _MAX_VALIDATE_DEPTH, MAX_STRUCTURED_NODES):
        # Validating would recurse per level (and cost per node); rendering is bounded, so without text it is used.
        has_text = any(isinstance(b, types.TextContent) and b.text.strip() for b in result.content[:MAX_BLOCKS])
        logger.debug("structured content too large or deep to validate", extra={"tool": name, "text": has_text})
        return None if has_text else structured
    try:
        error = jsonschema.exceptions.best_match(_validator_for(schema).iter_errors(structured))
    except (jsonschema.SchemaError, Unresolvable, ValueError, TypeError, RecursionError):
        logger.warning("tool output schema is unusable; using text content", extra={"tool": name})
        return None
    if error is not None:
        logger.warning(
            "structured content does not match the output schema; using text content",
            extra={"tool": name, "error": error.message[:200]},
        )
        return None
    return structured


_WRAPPER_KEYS = frozenset({"result", "value", "output", "data", "content", "text", "response"})


def _unwrap(structured: Any) -> Any:
    """`{"result": x}` (how SDKs wrap a plain return value) says nothing more than `x`."""
    if isinstance(structured, Mapping) and len(structured) == 1:
        key, value = next(iter(structured.items()))
        if str(key).lower() in _WRAPPER_KEYS:
            return value
    return structured


MORE_SUFFIX = " There is more; ask me for the rest."
"""What a result cut for speech ends with."""


def is_complete(text: str) -> bool:
    """Is this speakable text the whole result, not a cut preview? (A preview is no answer to say as it is.)"""
    return MORE_SUFFIX.strip() not in text


def cut_for_speech(text: str, max_chars: int) -> str:
    """At most `max_chars`, ending at a sentence boundary when one is near; says that more is available."""
    if len(text) <= max_chars:
        return text
    suffix = MORE_SUFFIX
    budget = max(max_chars - len(suffix), max_chars // 2)
    window = text[:budget]
    boundary = max(window.rfind(". "), window.rfind("! "), window.rfind("? "), window.rfind("; "))
    if boundary >= budget // 3:
        head = window[: boundary + 1]
    else:
        space = window.rfind(" ")
        head = (window[:space] if space > 0 else window).rstrip(",;:") + "..."
    return (head + suffix)[:max_chars] if len(head) + len(suffix) > max_chars else head + suffix


def _first_sentence(text: str, limit: int) -> str:
    match = re.search(r"(?<=[.!?])\s", text)
    sentence = text[: match.start()] if match else text
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0] + "..."
    return sentence


def _join_parts(parts: Iterable[str]) -> str:
    """Join described parts as sentences (each ends with punctuation, so TTS pauses between them)."""
    sentences = []
    for part in parts:
        text = part.strip() if part else ""
        if text:
            sentences.append(text if text[-1] in ".!?;:" else text + ".")
    return " ".join(sentences)


def _bounded_full(text: str, reader: _Reader) -> str:
    """`full_text` within `MAX_FULL_CHARS`; says so when something was left out for size."""
    if len(text) > MAX_FULL_CHARS:
        return text[:MAX_FULL_CHARS] + CUT_NOTE
    return text + CUT_NOTE if reader.cut else text


_PROSE_PEEK = 1_000


def _has_prose(result: types.CallToolResult) -> bool:
    """Whether the text content is a sentence for people rather than serialized data (JSON, key=value)."""
    for block in result.content[:MAX_BLOCKS]:
        if isinstance(block, types.TextContent):
            head = block.text[:_PROSE_PEEK].strip()
            if head:
                tail = block.text[-_PROSE_PEEK:].rstrip()
                return head[0] not in "{[" and " " in head and not tail.endswith(("}", "]"))
    return False


def to_speakable(result: types.CallToolResult, tool: types.Tool | None = None, max_chars: int = 400) -> SpeakableResult:
    """Turn a tool result into speech-ready text (see module doc); `tool` supplies the outputSchema."""
    if max_chars < 40:
        raise ValueError(f"max_chars must be at least 40, got {max_chars}")
    reader = _Reader()
    if result.is_error:
        detail = _join_parts(_describe_blocks(result.content, reader)) or "no details given"
        full = f"The tool reported an error: {detail}"[:MAX_FULL_CHARS]
        reason = _ERROR_PREFIX.sub("", detail[: _ERROR_CHARS * 4]) or detail
        spoken = f"That didn't work: {_first_sentence(reason, _ERROR_CHARS)}"
        return SpeakableResult(text=cut_for_speech(spoken, max_chars), full_text=full, is_error=True)

    structured = _unwrap(structured_if_valid(result, tool))
    parts: list[str] = []
    if structured is not None and _has_prose(result):
        # The server already wrote a sentence for people ("10 kilometers is 6.214 miles."): a voice (and a small
        # model answering from it) does better with that than with the structured fields read as "key: value".
        parts.extend(_describe_blocks(result.content, reader))
    elif structured is not None:
        rendered = render_value(structured)
        parts.append(rendered if rendered.endswith((".", "!", "?")) else rendered + ".")
        # Text blocks usually repeat the structured data; keep only what it lacks (links, media).
        others = [block for block in result.content if not isinstance(block, types.TextContent)]
        parts.extend(_describe_blocks(others, reader))
    else:
        parts.extend(_describe_blocks(result.content, reader))
    joined = _join_parts(parts)
    if joined:
        full = _bounded_full(joined, reader)
    else:
        full = "The result was too large to read." if reader.cut else "Done; the tool returned nothing."
    return SpeakableResult(text=cut_for_speech(full, max_chars), full_text=full, is_error=False)


def resource_to_text(result: types.ReadResourceResult) -> str:
    """A read resource as plain text (each part described, binary summarized)."""
    reader = _Reader()
    contents = result.contents
    parts = [describe_resource_contents(item, reader) for item in contents[:MAX_BLOCKS]]
    if len(contents) > MAX_BLOCKS:
        parts.append(f"And {len(contents) - MAX_BLOCKS} more parts")
    text = _join_parts(parts)
    return _bounded_full(text, reader) if text else "The resource is empty."


def prompt_to_text(result: types.GetPromptResult) -> str:
    """A prompt's messages as plain "role: text" lines, usable as instructions."""
    reader = _Reader()
    lines = []
    if result.description:
        lines.append(clean_text(reader.take(result.description)[:_MAX_CLEAN_CHARS]))
    for message in result.messages[:MAX_BLOCKS]:
        lines.append(f"{message.role}: {describe_block(message.content, reader)}")
    if len(result.messages) > MAX_BLOCKS:
        lines.append(f"And {len(result.messages) - MAX_BLOCKS} more messages.")
    return "\n".join(lines)[:MAX_FULL_CHARS]
