"""Words the speech recognizer should expect, taken from the MCP tools the agent can call.

Whisper mishears words it has no reason to expect ("notes" -> "else", "elicitation" -> "elisitation"). Giving it
the connected tools' vocabulary as decoder context (a prompt) biases recognition toward requests the agent can
act on. Prompt tokens cost decode time and a long glossary makes whisper hear glossary words in chit-chat, so the
vocabulary is short, ordered by value (tool names first) and capped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_MAX_TERMS = 24
DEFAULT_MAX_CHARS = 240
"""About 60 whisper tokens: enough for the tool names of a few servers, cheap to decode."""

# words that carry no sound whisper could mishear in a useful way, or that every request has anyway
_STOPWORDS = frozenset(
    """a an and are as at be by do does e.g eg for from get gets has have how i if in into is it its
    me my no not of on one or set sets the their then this to two use uses was what when where which will with
    you your id ids""".split()
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s_\-./:]+")
_WORD = re.compile(r"^[A-Za-z][A-Za-z']*$")


class ToolLike(Protocol):
    """What the builder reads from a tool: voxmcp's `ToolInfo` and the MCP SDK's `Tool` both fit."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def input_schema(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class ToolText:
    """A tool as plain data (e.g. from a JSON dump of `tools/list`)."""

    name: str
    description: str | None = None
    input_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SpeechVocabulary:
    """Phrases for the recognizer, most valuable first, and the prompt text they make."""

    terms: tuple[str, ...]

    @property
    def prompt(self) -> str | None:
        """The phrases as whisper gets them (its `hotwords`): a comma-separated list; None when there are none."""
        return ", ".join(self.terms) if self.terms else None


def split_identifier(name: str) -> list[str]:
    """`check_package_status`, `get-sum`, `messageType`, `Europe/Paris` -> lowercase words (acronyms kept)."""
    words: list[str] = []
    for chunk in _SEPARATORS.split(name.strip()):
        for word in _CAMEL.split(chunk):
            if not word:
                continue
            words.append(word if word.isupper() and len(word) > 1 else word.lower())
    return words


def _phrase(words: Iterable[str]) -> str:
    """The words worth hearing, in order; a word is kept when it is alphabetic, 3+ letters and not a stopword."""
    kept = [w for w in words if _WORD.match(w) and len(w) >= 3 and w.lower() not in _STOPWORDS]
    return " ".join(kept)


def _schema(tool: ToolLike | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(tool, Mapping):
        schema = tool.get("input_schema") or tool.get("inputSchema") or tool.get("parameters") or {}
    else:
        schema = tool.input_schema or {}
    if not isinstance(schema, Mapping):
        raise TypeError(f"tool input schema must be a JSON object, got {type(schema).__name__}")
    return schema


def _name(tool: ToolLike | Mapping[str, Any]) -> str:
    name = tool.get("name") if isinstance(tool, Mapping) else tool.name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"every tool needs a non-empty name, got {name!r}")
    return name


def _enum_values(schema: Mapping[str, Any], depth: int = 0) -> list[str]:
    """String enum values of the schema's properties (nested objects and arrays included, bounded depth)."""
    if depth > 3:
        return []
    values: list[str] = []
    props = schema.get("properties")
    for prop in props.values() if isinstance(props, Mapping) else ():
        if not isinstance(prop, Mapping):
            continue
        for key in ("enum", "examples"):
            found = prop.get(key)
            if isinstance(found, list):
                values.extend(v for v in found if isinstance(v, str))
        if isinstance(prop.get("const"), str):
            values.append(prop["const"])
        for sub in (prop, prop.get("items")):
            if isinstance(sub, Mapping) and isinstance(sub.get("properties"), Mapping) and sub is not schema:
                values.extend(_enum_values(sub, depth + 1))
    return values


def _parameter_names(schema: Mapping[str, Any]) -> list[str]:
    props = schema.get("properties")
    return [str(k) for k in props] if isinstance(props, Mapping) else []


def tool_terms(
    tools: Iterable[ToolLike | Mapping[str, Any]],
    *,
    parameters: bool = True,
    enums: bool = True,
) -> list[str]:
    """Every candidate phrase, by value: all tool names, then parameter names, then enum values; no duplicates."""
    tool_list = list(tools)
    names = [_phrase(split_identifier(_name(t))) for t in tool_list]
    params = (
        [_phrase(split_identifier(p)) for t in tool_list for p in _parameter_names(_schema(t))] if parameters else []
    )
    values = [_phrase(split_identifier(v)) for t in tool_list for v in _enum_values(_schema(t))] if enums else []
    seen: set[str] = set()
    terms: list[str] = []
    for phrase in (*names, *params, *values):
        key = phrase.lower()
        if phrase and key not in seen:
            seen.add(key)
            terms.append(phrase)
    return _drop_covered(terms)


def _drop_covered(terms: list[str]) -> list[str]:
    """A phrase whose every word is already in an earlier phrase adds nothing to the prompt."""
    heard: set[str] = set()
    out: list[str] = []
    for term in terms:
        words = {w.lower() for w in term.split()}
        if words - heard:
            out.append(term)
            heard |= words
    return out


def build_vocabulary(
    tools: Iterable[ToolLike | Mapping[str, Any]],
    *,
    extra_terms: Sequence[str] = (),
    max_terms: int = DEFAULT_MAX_TERMS,
    max_chars: int = DEFAULT_MAX_CHARS,
    parameters: bool = True,
    enums: bool = True,
) -> SpeechVocabulary:
    """The recognizer vocabulary for these tools: `extra_terms` first (e.g. names the user set), then tool terms,
    cut at `max_terms` phrases and `max_chars` characters of prompt."""
    if max_terms < 0 or max_chars < 0:
        raise ValueError(f"max_terms and max_chars must be >= 0, got {max_terms} and {max_chars}")
    candidates = [t.strip() for t in extra_terms if t.strip()]
    candidates += tool_terms(tools, parameters=parameters, enums=enums)
    chosen: list[str] = []
    seen: set[str] = set()
    length = 0
    for term in candidates:
        if len(chosen) >= max_terms:
            break
        if term.lower() in seen:
            continue
        added = len(term) + (2 if chosen else 0)  # ", " between terms
        if length + added > max_chars:
            continue  # a shorter term further down may still fit
        seen.add(term.lower())
        chosen.append(term)
        length += added
    return SpeechVocabulary(terms=tuple(chosen))
