"""MCP tool results -> text a voice can say.

The LLM (a small local model) imitates whatever it sees, so it must never see protocol JSON
(`{"type":"text",...}`), JSON braces or base64. Structured content (when valid against the tool's output
schema) becomes short "key: value" phrases; resource links, embedded resources, images and audio are
described; long text is cut at a sentence boundary for speech with the full text kept for follow-ups.
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
_MAX_DEPTH = 4
_MAX_ITEMS = 20
_ERROR_CHARS = 160
_ERROR_PREFIX = re.compile(r"^\s*(?:error(?: executing tool [\w.-]+)?|exception|failed)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class SpeakableResult:
    """`text` is what to say now (<= max_chars); `full_text` keeps everything for follow-up questions."""

    text: str
    full_text: str
    is_error: bool

    @property
    def truncated(self) -> bool:
        return len(self.full_text) > len(self.text)


def humanize_key(key: str) -> str:
    """`temperatureC` / `wind_speed` / `max-items` -> "temperature c" / "wind speed" / "max items"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return re.sub(r"[_\-\s]+", " ", spaced).strip().lower() or key


_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")


def spoken_datetime(text: str) -> str | None:
    """An ISO 8601 date-time as a voice says it ("2026-11-30T20:00:00+00:00" -> "8:00 PM on 30 November 2026"),
    None for anything else. The offset is dropped: results that carry one name their time zone, and a small model
    reads "20:00:00+00:00" out digit by digit."""
    if not _ISO_DATETIME.fullmatch(text.strip()):
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{hour}:{moment.minute:02d} {half} on {moment.day} {moment:%B %Y}"


def _format_scalar(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str) and (spoken := spoken_datetime(value)):
        return spoken
    return clean_text(str(value))


def _join_words(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def render_value(value: Any, depth: int = 0) -> str:
    """Render any JSON value as plain phrases: objects as "key: value", lists as "a, b and c"."""
    if depth > _MAX_DEPTH:
        return "more details"
    if isinstance(value, Mapping):
        phrases = []
        for index, (key, item) in enumerate(value.items()):
            if index >= _MAX_ITEMS:
                phrases.append(f"and {len(value) - _MAX_ITEMS} more fields")
                break
            rendered = render_value(item, depth + 1)
            phrases.append(f"{humanize_key(str(key))}: {rendered}" if rendered else humanize_key(str(key)))
        separator = "; " if depth == 0 else ", "
        return separator.join(phrases)
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        shown = [render_value(item, depth + 1) for item in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            shown.append(f"{len(value) - _MAX_ITEMS} more")
        if any(isinstance(item, Mapping) for item in value):
            return ". ".join(f"{index + 1}: {text}" for index, text in enumerate(shown))
        return _join_words(shown)
    return _format_scalar(value)


_MARKDOWN_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"```[a-zA-Z0-9_-]*\n?"), ""),  # code fences
    (re.compile(r"`([^`]*)`"), r"\1"),  # inline code
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: keep the words
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)"), r"\1"),  # italic
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE), ""),  # headings
    (re.compile(r"^\s*[-*+]\s+", re.MULTILINE), ""),  # bullets
    (re.compile(r"^\s*\|?[-:| ]{3,}\|?\s*$", re.MULTILINE), ""),  # table rules
    (re.compile(r"\s*\|\s*"), ", "),  # table cells
    (re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+"), "(embedded data)"),
    (re.compile(r"[A-Za-z0-9+/]{200,}={0,2}"), "(encoded data)"),  # stray base64 runs
)


def clean_text(text: str) -> str:
    """Strip markdown and encoded blobs, collapse whitespace; lines become sentences."""
    cleaned = text.replace("\r\n", "\n")
    for pattern, replacement in _MARKDOWN_RULES:
        cleaned = pattern.sub(replacement, cleaned)
    lines = [line.strip(" ,") for line in cleaned.split("\n") if line.strip(" ,")]
    if len(lines) > 1:
        # Separate lines become separate sentences, so TTS pauses between them.
        lines = [line if line[-1] in ".!?:;" else line + "." for line in lines]
    return re.sub(r"\s+", " ", " ".join(lines)).strip()


def _maybe_json(text: str) -> Any | None:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def _size_phrase(base64_data: str) -> str:
    size = len(base64_data) * 3 // 4 - base64_data[-2:].count("=")
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _resource_label(uri: str, name: str | None, title: str | None = None) -> str:
    label = title or name
    if label:
        return label
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri


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
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            pieces.append(text[position : start + 1])
            position = start + 1
            continue
        if not isinstance(value, dict | list):
            pieces.append(text[position:end])
        else:
            pieces.append(text[position:start] + render_value(value) + ".")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def describe_text_or_json(text: str) -> str:
    """Text that is really JSON is rendered as phrases; JSON inside prose too; then cleaned."""
    parsed = _maybe_json(text)
    if parsed is not None and isinstance(parsed, dict | list):
        return render_value(parsed)
    if "{" in text or "[" in text:
        text = _render_embedded_json(text)
    return clean_text(text)


def describe_resource_contents(contents: types.TextResourceContents | types.BlobResourceContents) -> str:
    """One resource's contents: its text (cleaned), or a description of binary data."""
    label = _resource_label(contents.uri, None)
    mime = f" ({contents.mime_type})" if contents.mime_type else ""
    if isinstance(contents, types.TextResourceContents):
        return f"{label}{mime}: {describe_text_or_json(contents.text)}"
    return f"{label}{mime}, binary data of {_size_phrase(contents.blob)}"


def describe_block(block: types.ContentBlock) -> str:
    """One content block as plain words; never base64, never the block's JSON."""
    if isinstance(block, types.TextContent):
        return describe_text_or_json(block.text)
    if isinstance(block, types.ImageContent):
        return f"An image ({block.mime_type}, {_size_phrase(block.data)})."
    if isinstance(block, types.AudioContent):
        return f"An audio clip ({block.mime_type}, {_size_phrase(block.data)})."
    if isinstance(block, types.ResourceLink):
        mime = f" ({block.mime_type})" if block.mime_type else ""
        description = f": {clean_text(block.description)}" if block.description else ""
        return f"A link to {_resource_label(block.uri, block.name, block.title)}{mime}{description}."
    if isinstance(block, types.EmbeddedResource):
        return f"The resource {describe_resource_contents(block.resource)}"
    return f"A {type(block).__name__} item."  # pragma: no cover - the ContentBlock union is closed


_VALIDATORS: dict[str, Any] = {}
_MAX_VALIDATORS = 256


def _validator_for(schema: Mapping[str, Any]) -> Any:
    """A compiled validator per distinct schema: compiling costs ~100x validating, and calls repeat."""
    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _VALIDATORS.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = cls(schema)
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
        return structured
    name = tool.name if tool is not None else None
    try:
        error = jsonschema.exceptions.best_match(_validator_for(schema).iter_errors(structured))
    except (jsonschema.SchemaError, Unresolvable, ValueError):
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


def cut_for_speech(text: str, max_chars: int) -> str:
    """At most `max_chars`, ending at a sentence boundary when one is near; says that more is available."""
    if len(text) <= max_chars:
        return text
    suffix = " There is more; ask me for the rest."
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


def _has_prose(result: types.CallToolResult) -> bool:
    """Whether the text content is a sentence for people rather than serialized data (JSON, key=value)."""
    texts = [b.text.strip() for b in result.content if isinstance(b, types.TextContent) and b.text.strip()]
    if not texts:
        return False
    first = texts[0]
    return first[0] not in "{[" and " " in first and not first.endswith(("}", "]"))


def to_speakable(result: types.CallToolResult, tool: types.Tool | None = None, max_chars: int = 400) -> SpeakableResult:
    """Turn a tool result into speech-ready text (see module doc); `tool` supplies the outputSchema."""
    if max_chars < 40:
        raise ValueError(f"max_chars must be at least 40, got {max_chars}")
    if result.is_error:
        detail = _join_parts(describe_block(block) for block in result.content) or "no details given"
        full = f"The tool reported an error: {detail}"[:MAX_FULL_CHARS]
        reason = _ERROR_PREFIX.sub("", detail) or detail
        spoken = f"That didn't work: {_first_sentence(reason, _ERROR_CHARS)}"
        return SpeakableResult(text=cut_for_speech(spoken, max_chars), full_text=full, is_error=True)

    structured = _unwrap(structured_if_valid(result, tool))
    parts: list[str] = []
    if structured is not None and _has_prose(result):
        # The server already wrote a sentence for people ("10 kilometers is 6.214 miles."): a voice (and a small
        # model answering from it) does better with that than with the structured fields read as "key: value".
        parts.extend(describe_block(block) for block in result.content)
    elif structured is not None:
        rendered = render_value(structured)
        parts.append(rendered if rendered.endswith((".", "!", "?")) else rendered + ".")
        # Text blocks usually repeat the structured data; keep only what it lacks (links, media).
        parts.extend(describe_block(block) for block in result.content if not isinstance(block, types.TextContent))
    else:
        parts.extend(describe_block(block) for block in result.content)
    full = _join_parts(parts) or "Done; the tool returned nothing."
    if len(full) > MAX_FULL_CHARS:
        full = full[:MAX_FULL_CHARS] + " (cut: the result was too large)"
    return SpeakableResult(text=cut_for_speech(full, max_chars), full_text=full, is_error=False)


def resource_to_text(result: types.ReadResourceResult) -> str:
    """A read resource as plain text (each part described, binary summarized)."""
    text = _join_parts(describe_resource_contents(contents) for contents in result.contents)
    return text[:MAX_FULL_CHARS] or "The resource is empty."


def prompt_to_text(result: types.GetPromptResult) -> str:
    """A prompt's messages as plain "role: text" lines, usable as instructions."""
    lines = []
    if result.description:
        lines.append(clean_text(result.description))
    for message in result.messages:
        lines.append(f"{message.role}: {describe_block(message.content)}")
    return "\n".join(lines)[:MAX_FULL_CHARS]
