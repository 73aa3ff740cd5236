"""Server middleware for tools/call: friendly argument checks, speakable error text, and the audit log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent

from voxmcp.demo.audit import AuditLog

logger = logging.getLogger(__name__)

_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
}


def _error_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _coerce_numbers(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Numeric strings where numbers are expected: the SDK accepts "10" for a number, so this check does."""
    properties = schema.get("properties", {})
    coerced = dict(arguments)
    for key, value in arguments.items():
        expected = properties.get(key, {}).get("type")
        if expected in ("number", "integer") and isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                continue
            coerced[key] = int(number) if expected == "integer" and number.is_integer() else number
    return coerced


def describe_argument_error(tool: str, arguments: Any, schema: Mapping[str, Any]) -> str | None:
    """A sentence naming what is wrong with `arguments`, or None when they fit the schema."""
    if not isinstance(arguments, Mapping):
        return f"The arguments for {tool} must be a JSON object."
    errors = sorted(
        Draft202012Validator(schema).iter_errors(_coerce_numbers(arguments, schema)),
        key=lambda error: (error.validator != "required", list(error.path)),
    )
    if not errors:
        return None
    return _sentence(tool, arguments, schema, errors[0])


def _sentence(tool: str, arguments: Mapping[str, Any], schema: Mapping[str, Any], error: SchemaError) -> str:
    properties: Mapping[str, Any] = schema.get("properties", {})
    if error.validator == "required":
        missing = [name for name in schema.get("required", []) if name not in arguments]
        name = missing[0] if missing else "?"
        hint = properties.get(name, {}).get("description", "")
        explained = f" ({hint.rstrip('.')})" if hint else ""
        given = f" It got: {', '.join(sorted(arguments))}." if arguments else ""
        return f"{tool} needs the argument {name}{explained}.{given}"
    field = str(error.path[0]) if error.path else "arguments"
    spec: Mapping[str, Any] = properties.get(field, {})
    if error.validator == "type":
        wanted = _TYPE_WORDS.get(str(spec.get("type")), str(spec.get("type")))
        return f"The argument {field} for {tool} must be {wanted}, not {error.instance!r}."
    if error.validator == "minLength":
        return f"The argument {field} for {tool} must not be empty."
    if error.validator in ("minimum", "exclusiveMinimum"):
        return f"The argument {field} for {tool} must be at least {error.validator_value}."
    if error.validator in ("maximum", "exclusiveMaximum"):
        return f"The argument {field} for {tool} must be at most {error.validator_value}."
    if error.validator == "maxLength":
        return f"The argument {field} for {tool} must be at most {error.validator_value} characters."
    return f"The argument {field} for {tool} is not valid: {error.message}."


def _speakable_error(tool: str, text: str) -> str:
    """Drop the SDK's 'Error executing tool X: ' prefix; a bare crash becomes a plain sentence."""
    prefix = f"Error executing tool {tool}"
    if text.startswith(prefix + ": "):
        return text[len(prefix) + 2 :]
    if text.startswith(prefix):
        return f"The {tool} tool failed unexpectedly."
    if text.startswith("Unknown tool:"):
        return f"There is no tool named {tool}."
    return text


def _text_of(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


class ToolCallMiddleware:
    """Wraps tools/call on an MCPServer; every other message passes straight through."""

    def __init__(self, server: MCPServer, audit_log: AuditLog | None) -> None:
        self._server = server
        self._audit_log = audit_log
        self._schemas: dict[str, Mapping[str, Any]] | None = None

    async def _schema(self, tool: str) -> Mapping[str, Any] | None:
        if self._schemas is None:
            self._schemas = {info.name: info.input_schema for info in await self._server.list_tools()}
        return self._schemas.get(tool)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call" or ctx.request_id is None:
            return await call_next(ctx)
        params = ctx.params or {}
        tool = str(params.get("name", ""))
        arguments = params.get("arguments") or {}
        schema = await self._schema(tool)
        problem = describe_argument_error(tool, arguments, schema) if schema is not None else None
        if problem is not None:
            logger.info("demo tool call rejected", extra={"tool": tool, "reason": problem})
            self._record(tool, arguments, ok=False, text=problem)
            return _error_result(problem)
        try:
            result = await call_next(ctx)
        except anyio.get_cancelled_exc_class():
            self._record(tool, arguments, ok=False, text="The call was cancelled.")
            raise
        except Exception as exc:
            self._record(tool, arguments, ok=False, text=f"Protocol error: {exc}")
            raise
        if isinstance(result, Mapping):
            result = CallToolResult.model_validate(result)
        if isinstance(result, CallToolResult):
            if result.is_error:
                text = _speakable_error(tool, _text_of(result))
                result = result.model_copy(update={"content": [TextContent(type="text", text=text)]})
            self._record(tool, arguments, ok=not result.is_error, text=_text_of(result))
        return result

    def _record(self, tool: str, arguments: Any, *, ok: bool, text: str) -> None:
        if self._audit_log is not None:
            self._audit_log.record(tool, arguments, ok=ok, text=text)
