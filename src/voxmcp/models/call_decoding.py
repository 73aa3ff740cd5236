"""Generate a tool call in two short constrained steps, with the fixed JSON around them evaluated, not generated.

Under one grammar for the whole call, `{"name": "get_weather", "arguments": {"city": "Tokyo"}}` costs 18 generated
tokens, and about half of them are forced: the grammar allows exactly one token there, yet each still takes a full
decoding step (~50 ms for a 0.5B on 2 cores). Here the fixed parts (`{"name": "` and `", "arguments": `) are appended
to the prompt, where llama.cpp evaluates them as a batch, and only the name and the arguments are generated, each
under its own grammar. The text that comes out is the same shape the one-grammar path produces, so it is parsed and
checked the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from voxmcp.models import toolcalls

logger = logging.getLogger(__name__)

CALL_PREFIX = '{"name": "'
ARGUMENTS_PREFIX = ', "arguments": '

JsonSchema = Mapping[str, Any]
Collect = Callable[[str, str, Callable[[str], bool]], Awaitable[str]]
"""(prompt, GBNF grammar, done) -> the generated text; generation stops as soon as `done(text so far)`."""


def name_done(text: str) -> bool:
    """The name's closing quote has been generated (an escaped quote inside the name doesn't count)."""
    return text.endswith('"') and not text.endswith('\\"')


def gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def name_grammar(names: list[str]) -> str:
    """GBNF for the rest of a `"name": "` value: one of `names`, JSON-escaped, then the closing quote."""
    if not names:
        raise ValueError("name_grammar needs at least one tool name")
    return "root ::= " + " | ".join(gbnf_literal(json.dumps(n)[1:]) for n in names) + "\n"


def arguments_grammar(schema: JsonSchema) -> str:
    """GBNF for a call's arguments object (llama_cpp's JSON-schema converter); any JSON object if it can't convert."""
    from llama_cpp.llama_grammar import SchemaConverter

    params = dict(schema) if schema else {}
    params.setdefault("type", "object")
    if not params.get("properties"):
        params = {"type": "object", "properties": {}, "additionalProperties": False}
    converter: Any = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)  # type: ignore[no-untyped-call]
    try:
        converter.resolve_refs(params, "arguments")
        converter.visit(params, "")
    except Exception as exc:  # an unsupported schema feature: any object
        logger.warning("arguments schema not convertible to a grammar", extra={"error": str(exc)})
        converter = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)  # type: ignore[no-untyped-call]
        converter.visit({"type": "object"}, "")
    return str(converter.format_grammar())


def structure_chars(schema: JsonSchema) -> int:
    """Characters an arguments object spends on structure, not values: braces, and per property its quoted key,
    `": "`, the value's quotes and a separator. A cap on what the user could have said leaves these out
    (`{"source_timezone": ..., "time": ..., "target_timezone": ...}` is 52 of them)."""
    props = schema.get("properties") if isinstance(schema, Mapping) else None
    return 2 + sum(len(json.dumps(str(key))) + 6 for key in (props or {}))


async def decode_call(
    prompt: str, schemas: Mapping[str, JsonSchema], collect: Collect, *, max_argument_chars: int | None = None
) -> str:
    """One call as `{"name": ..., "arguments": {...}}` text, for the tools in `schemas` (name -> compact schema).

    max_argument_chars: stop the arguments once their values could hold this many characters (the tool's keys and
    punctuation come on top: structure_chars); then they don't parse, and the call is retried or dropped. A 0.5B
    that picked a wrong tool can fill a string with digits until max_tokens (160 tokens: ~6 s); arguments much
    longer than what the user said can't have come from it anyway."""
    names = list(schemas)
    if not names:
        raise ValueError("decode_call needs at least one tool")
    head = CALL_PREFIX
    if len(names) == 1:
        name = names[0]
    else:
        tail = await collect(prompt + head, name_grammar(names), name_done)
        try:
            name = json.loads('"' + tail.strip())
        except ValueError:
            return head + tail  # unparsable: the caller's parser reports it
    head += json.dumps(name)[1:] + ARGUMENTS_PREFIX
    if name not in schemas:
        return head + "{}}"

    limit = None if max_argument_chars is None else max_argument_chars + structure_chars(schemas[name])

    def arguments_done(text: str) -> bool:
        return toolcalls.json_value_closed(text) or (limit is not None and len(text) > limit)

    arguments = await collect(prompt + head, arguments_grammar(schemas[name]), arguments_done)
    return head + arguments.strip() + "}"
