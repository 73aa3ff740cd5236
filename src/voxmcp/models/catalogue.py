"""Which tools the local model sees, and how much of each, so that any number of tools fits its context.

Every tool schema in the prompt is prefilled into a context of a fixed size (4,096 tokens by default). A few servers
easily bring 80+ tools (~100 tokens each), and a prompt larger than the context crashed llama.cpp. So the catalogue
degrades in steps, measured in the model's own tokens against the context, leaving room for a turn and its answer:

- `full`: every tool with its compacted JSON schema (the default, when it fits);
- `compact`: every tool's name, first sentence and parameter names (the call's grammar still enforces the full
  schema, so the model needs the names, not the details);
- `search`: only the tools whose names and descriptions share words with the request (and those called earlier in
  the conversation), chosen per turn and shown compact; the stable prefix is the system prompt alone. Unlike the
  hub's `search_tools` + `call_tool` meta-tools, this costs the model no extra round trip (a 0.5B rarely manages
  one) and the call names the real tool, so the voice layer's confirmation of destructive tools still applies.

A turn whose history or tool result doesn't fit is trimmed: the oldest exchanges go first, then long texts are cut.
Nothing here loads a model: token counts come from a function the caller passes (the model's tokenizer).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from voxmcp.models import grounding

logger = logging.getLogger(__name__)

CatalogueMode = Literal["full", "compact", "search"]
MODES: tuple[CatalogueMode, ...] = ("full", "compact", "search")
TURN_RESERVE_TOKENS = 512
"""Room kept free after the system prompt + tools for a turn: history, the request, a tool result (the answer's
max_tokens come on top)."""
SEARCH_LIMIT = 5
"""Tools shown per turn in search mode: a 0.5B picks well among a handful, and each costs ~100 tokens a turn."""
MAX_ONE_LINE = 120
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_PROMPT_SCHEMA_KEYS = {"type", "description", "properties", "required", "enum", "items", "default", "anyOf"}

Schema = dict[str, Any]
"""An OpenAI-style function tool: {"type": "function", "function": {"name", "description", "parameters"}}."""
TokenCount = Callable[[Sequence[Schema] | None], int]
"""Tokens of the prompt prefix (system prompt + these tools); None: no tools at all."""


def compact_schema(value: Any) -> Any:
    """A schema with only what helps the model choose and fill a call: every token of it is prefilled, and a
    small model copies noise such as `title` into its arguments. Validation still uses the full schema."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "properties" and isinstance(v, dict):
                out[k] = {name: compact_schema(spec) for name, spec in v.items()}
            elif k in _PROMPT_SCHEMA_KEYS:
                out[k] = compact_schema(v)
        return out
    if isinstance(value, list):
        return [compact_schema(v) for v in value]
    return value


def prompt_tools(schemas: Sequence[Schema]) -> list[Schema]:
    """The `full` catalogue: every tool with its compacted parameters."""
    return [
        {"type": "function", "function": {
            "name": s["function"]["name"],
            "description": s["function"].get("description", ""),
            "parameters": compact_schema(s["function"].get("parameters") or {"type": "object", "properties": {}}),
        }}
        for s in schemas
    ]  # fmt: skip


def one_line(description: str | None) -> str:
    """The first sentence of a description, at most MAX_ONE_LINE characters (cut at a word)."""
    text = " ".join((description or "").split())
    text = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(text) > MAX_ONE_LINE:
        text = text[: MAX_ONE_LINE - 3].rsplit(" ", 1)[0] + "..."
    return text


def compact_tools(schemas: Sequence[Schema]) -> list[Schema]:
    """The `compact` catalogue: a tool's name, first sentence and required parameters as `{name: type}`, without
    the function wrapper (~35 tokens a tool instead of ~140). The call's grammar still comes from the full schema,
    so the model is held to every key and type; optional parameters left out are ones it won't invent."""
    out: list[Schema] = []
    for s in schemas:
        fn = s["function"]
        params = fn.get("parameters") or {}
        props = params.get("properties") if isinstance(params, Mapping) else None
        required = params.get("required") if isinstance(params, Mapping) else None
        brief: dict[str, str] = {}
        for key in required or []:
            spec = (props or {}).get(key)
            kind = spec.get("type") if isinstance(spec, Mapping) else None
            brief[str(key)] = kind if isinstance(kind, str) else "any"
        out.append({"name": fn["name"], "description": one_line(fn.get("description")), "parameters": brief})
    return out


def tool_name(tool: Schema) -> str:
    """The name of a tool in any of the catalogue's shapes (OpenAI-style or compact)."""
    return str(tool.get("function", tool)["name"])


def descriptions(schemas: Sequence[Schema]) -> dict[str, str]:
    return {str(s["function"]["name"]): str(s["function"].get("description") or "") for s in schemas}


@dataclass(frozen=True)
class Catalogue:
    """The mode chosen for one tool set, and what it costs against the context."""

    mode: CatalogueMode
    schemas: list[Schema]
    """Every tool (OpenAI-style, full schemas): what calls are parsed and validated against."""
    prompt: list[Schema] = field(default_factory=list)
    """The tools every prompt shows (full and compact modes); search mode chooses per turn."""
    tokens: int = 0
    """Tokens of the stable prefix (system prompt + `prompt`) in this mode."""
    full_tokens: int = 0
    """Tokens the full catalogue would need."""
    budget: int = 0
    """The most tokens the prefix may take: the context less room for a turn and its answer."""

    def shown(self, request: str, called: Sequence[str], count: TokenCount) -> list[Schema]:
        """The tools this turn's prompt shows. Search mode: the request's matches, compact (every token of them is
        evaluated again each turn: five full schemas cost ~700 tokens, several seconds on 2 cores), as many of the
        best as fit the budget."""
        if self.mode != "search":
            return self.prompt
        found = compact_tools(search(self.schemas, request, called))
        for n in range(len(found), 0, -1):
            if count(found[:n]) <= self.budget:
                return found[:n]
        return []

    def callable_schemas(self, shown: Sequence[Schema]) -> list[Schema]:
        """The schemas a call may be generated for: the ones the model saw (all of them unless searching)."""
        if self.mode != "search":
            return self.schemas
        names = {tool_name(t) for t in shown}
        return [s for s in self.schemas if s["function"]["name"] in names]


def choose(schemas: Sequence[Schema], count: TokenCount, budget: int) -> Catalogue:
    """The first mode whose stable prefix fits `budget` tokens: full, then compact, then search."""
    schemas = list(schemas)
    full = prompt_tools(schemas)
    full_tokens = count(full or None)
    if full_tokens <= budget or not schemas:
        return Catalogue("full", schemas, full, full_tokens, full_tokens, budget)
    compact = compact_tools(schemas)
    compact_tokens = count(compact)
    if compact_tokens <= budget:
        return Catalogue("compact", schemas, compact, compact_tokens, full_tokens, budget)
    return Catalogue("search", schemas, [], count(None), full_tokens, budget)


def search(
    schemas: Sequence[Schema], request: str, called: Sequence[str] = (), limit: int = SEARCH_LIMIT
) -> list[Schema]:
    """The tools for one request, best first: up to two called earlier in the conversation (latest first: a
    follow-up such as "And in Rome?" shares no word with its tool), then those sharing the most content words with
    the request, those whose names share them first, then those whose names say least else ("What's the weather?"
    -> get_weather before archive_weather_history). [] when nothing matches (the model then answers in speech)."""
    by_name = {str(s["function"]["name"]): s for s in schemas}
    picked: list[str] = []
    for name in reversed(called):
        if name in by_name and name not in picked and len(picked) < min(2, limit):
            picked.append(name)
    asked = grounding.terms(request)
    shared = grounding.relevant_tools(request, descriptions(schemas))

    def rank(name: str) -> tuple[int, int, int, str]:
        in_name = grounding.terms(re.sub(r"[_\-.]+", " ", name))
        return (-len(shared[name]), -len(in_name & asked), len(in_name - asked), name)

    for name in sorted(shared, key=rank):
        if len(picked) >= limit:
            break
        if name not in picked:
            picked.append(name)
    return [by_name[n] for n in picked]


def fit_messages(
    messages: Sequence[dict[str, Any]], count: Callable[[list[dict[str, Any]]], int], limit: int
) -> list[dict[str, Any]] | None:
    """`messages` (system first) shortened until `count(messages) <= limit`, or None when even the system prompt
    and a shortened last request don't fit.

    The oldest exchanges go first, a whole user turn at a time (the system prompt and the last request with what
    follows it stay); then the longest texts kept are cut (a huge tool result, a very long request)."""
    out = list(messages)
    if count(out) <= limit:
        return out
    users = [i for i, m in enumerate(out) if i > 0 and m.get("role") == "user"]
    for start in users[1:]:
        trial = [out[0], *out[start:]]
        if count(trial) <= limit:
            logger.info("conversation history trimmed to fit the context", extra={"dropped": start - 1})
            return trial
    tail = [dict(m) for m in out[users[-1] if users else 1 :]]
    longest = max((len(str(m.get("content") or "")) for m in tail), default=0)
    cap = longest // 2
    while cap >= 80:
        trial = [out[0], *[_cut(m, cap) for m in tail]]
        if count(trial) <= limit:
            logger.warning(
                "a long request or tool result was cut to fit the context", extra={"chars": longest, "kept": cap}
            )
            return trial
        cap //= 2
    return None


def _cut(message: dict[str, Any], cap: int) -> dict[str, Any]:
    text = message.get("content")
    if not isinstance(text, str) or len(text) <= cap:
        return message
    return {**message, "content": text[:cap].rsplit(" ", 1)[0] + " ..."}


def stable_header(render: Callable[[list[Schema] | None], str]) -> str:
    """The part of the system turn before the first tool (search mode's stable prefix): where two renders with
    different tools part, cut back to the last line break (so it tokenizes as it does inside a full prompt)."""
    a = render([_probe("a")])
    b = render([_probe("b")])
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    cut = a.rfind("\n", 0, n)
    return a[: cut + 1] if cut >= 0 else ""


def _probe(name: str) -> Schema:
    return {"type": "function", "function": {"name": name, "description": "", "parameters": {"type": "object"}}}


def summary(catalogue: Catalogue, *, n_ctx: int, servers: int | None) -> str:
    """The one log line that says the catalogue was reduced, and why."""
    where = f"{len(catalogue.schemas)} tools" + (
        f" from {servers} server{'s' if servers > 1 else ''}" if servers else ""
    )
    head = (
        f"{where} need {catalogue.full_tokens} prompt tokens, more than the model's {n_ctx}-token context holds "
        f"with room for a turn ({catalogue.budget})"
    )
    if catalogue.mode == "compact":
        return f"{head}: showing a compact catalogue (names, one-line descriptions; {catalogue.tokens} tokens)"
    return (
        f"{head}: tool search on, each turn shows the model only the tools matching the request "
        f"(up to {SEARCH_LIMIT}); the system prompt alone is {catalogue.tokens} tokens"
    )


def key(instructions: str, schemas: Sequence[Schema]) -> str:
    """Identifies a (system prompt, tool set) pair, for caching the mode chosen for it."""
    return json.dumps([instructions, schemas], sort_keys=True, default=str)
