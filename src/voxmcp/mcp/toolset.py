"""MCP servers -> LiveKit tools: concurrent start, namespacing, filtering, timeouts, list_changed, meta-tools.

`MCPHub` owns one `MCPConnection` per configured server. It never raises for a single server: a server that
fails is reported in `statuses()` with a speakable error (the app says it aloud once) and offers no tools.
A server still connecting when `start` returns counts as failed too (a stand-in must answer for it, not an
invented reply); the hub keeps trying failed servers in the background, and one that arrives later
announces its real tools through `on_tools_changed`.
Every LiveKit tool returns speakable text (see results.py) and raises `ToolError` with a short spoken
reason on failure, so the LLM never sees protocol JSON and the user never loses a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import httpx2
import mcp.types as types
from livekit.agents.llm import RawFunctionTool, ToolError, function_tool
from mcp.client import Transport

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.connection import MCPConnection, connect_error, not_answering, retry_safe
from voxmcp.mcp.errors import MCPCallError, MCPConnectError
from voxmcp.mcp.interaction import InteractionHandlers
from voxmcp.mcp.results import SpeakableResult, prompt_to_text, resource_to_text, to_speakable

logger = logging.getLogger(__name__)

ServerState = Literal["connected", "failed", "connecting", "disabled"]
AuthFactory = Callable[[str, MCPServerConfig], httpx2.Auth | None]
MCPTool: TypeAlias = RawFunctionTool[..., Any]
"""A LiveKit raw function tool backed by an MCP tool; it returns speakable text."""

_TOOL_NAME_OK = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_TOOL_NAME = 64
_MAX_DESCRIPTION = 600
_META_SEARCH = "search_tools"
_META_CALL = "call_tool"
_READ_RESOURCE = "read_resource"
_GET_PROMPT = "get_prompt"
_RETRY_FIRST_S = 5.0
_RETRY_MAX_S = 60.0
"""Background reconnects of failed servers: first after this many seconds, doubling up to the max."""


@dataclass(frozen=True)
class ServerStatus:
    """One server as the app should report it; `error` is a sentence a voice can say."""

    name: str
    state: ServerState
    error: str | None
    tool_count: int


@dataclass(frozen=True)
class ToolInfo:
    """What the voice layer needs to know about a tool before calling it (e.g. confirm destructive ones)."""

    server: str
    name: str
    annotations: types.ToolAnnotations | None
    input_schema: dict[str, Any]
    exposed_name: str = ""
    description: str | None = None
    tool: types.Tool | None = field(default=None, repr=False, compare=False)

    @property
    def destructive(self) -> bool:
        """Annotated tools follow MCP's defaults (destructive unless read-only or destructiveHint=false).

        Unannotated ones are not flagged: most servers never annotate, and every call would need a yes.
        """
        if self.annotations is None:
            return False
        if self.annotations.read_only_hint:
            return False
        return self.annotations.destructive_hint is not False

    @property
    def retry_safe(self) -> bool:
        """May a call be sent again after the connection dropped mid-call (read-only or idempotent)?"""
        return retry_safe(self.annotations)


@dataclass
class _ServerEntry:
    name: str
    config: MCPServerConfig
    connection: MCPConnection | None = None
    state: ServerState = "connecting"
    error: str | None = None
    tools: list[types.Tool] = field(default_factory=list)
    tools_expire_at: float | None = None
    refresh_task: asyncio.Task[None] | None = None
    start_task: asyncio.Task[None] | None = None
    retry_task: asyncio.Task[None] | None = None


def _sanitize_tool_name(name: str) -> str:
    cleaned = _TOOL_NAME_OK.sub("_", name).strip("_") or "tool"
    return cleaned[:_MAX_TOOL_NAME]


def _short_description(description: str | None) -> str:
    text = " ".join((description or "").split())
    if len(text) <= _MAX_DESCRIPTION:
        return text
    return text[: _MAX_DESCRIPTION - 3].rsplit(" ", 1)[0] + "..."


def _object_schema(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """LLM tool parameters must be an object schema; MCP allows omitting properties."""
    result = dict(schema or {})
    result.setdefault("type", "object")
    result.setdefault("properties", {})
    return result


def _describe_parameters(schema: Mapping[str, Any]) -> str:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    parts = []
    for name, spec in properties.items():
        kind = spec.get("type", "any") if isinstance(spec, Mapping) else "any"
        parts.append(f"{name} ({kind}{', required' if name in required else ''})")
    return ", ".join(parts) or "no parameters"


class MCPHub:
    """All configured MCP servers, as LiveKit tools (see module doc)."""

    def __init__(
        self,
        servers: Mapping[str, MCPServerConfig],
        *,
        handlers: InteractionHandlers | None = None,
        auth_factory: AuthFactory | None = None,
        connect_timeout_s: float = 10.0,
        max_result_chars: int = 400,
        search_tools_threshold_chars: int | None = None,
        transport_factories: Mapping[str, Callable[[], Transport]] | None = None,
    ) -> None:
        """`search_tools_threshold_chars`: when the tool schemas' JSON exceeds this size, offer the LLM only
        `search_tools` + `call_tool` (progressive discovery) instead of every schema; None disables.
        `transport_factories`: per-server transport overrides (in-process servers, tests)."""
        if connect_timeout_s <= 0:
            raise ValueError(f"connect_timeout_s must be > 0, got {connect_timeout_s}")
        self._servers: dict[str, _ServerEntry] = {
            name: _ServerEntry(name=name, config=config, state="connecting" if config.enabled else "disabled")
            for name, config in servers.items()
        }
        self.handlers = handlers or InteractionHandlers()
        self._auth_factory = auth_factory
        self._transport_factories = dict(transport_factories or {})
        self.connect_timeout_s = connect_timeout_s
        self.max_result_chars = max_result_chars
        self.search_tools_threshold_chars = search_tools_threshold_chars
        self.on_tools_changed: Callable[[list[MCPTool]], None] | None = None
        """Set by the app; called with the new tools after a server's list changed or it (re)connected."""
        self._tools_by_exposed: dict[str, ToolInfo] = {}
        self._function_tools: list[MCPTool] = []
        self._full_results: dict[str, SpeakableResult] = {}
        self._closed = False
        self.started_in_s: float | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self, *, keep_trying: bool = True) -> list[ServerStatus]:
        """Connect every enabled server concurrently; wait at most `connect_timeout_s` in total.

        A server still connecting after the bound is reported as failed ("did not answer in time"), like one
        that refused: the app offers a stand-in tool and says so in the greeting. Its attempt goes on in the
        background; with `keep_trying`, failed servers are retried with backoff while the hub is open. One
        that arrives later announces its tools through `on_tools_changed`.
        """
        began = time.monotonic()
        for entry in self._servers.values():
            if entry.config.enabled:
                entry.start_task = asyncio.create_task(self._start_server(entry), name=f"mcp-start-{entry.name}")
        pending = [entry.start_task for entry in self._servers.values() if entry.start_task is not None]
        if pending:
            await asyncio.wait(pending, timeout=self.connect_timeout_s)
        for entry in self._servers.values():
            if entry.state == "connecting":
                reason = entry.connection.stalled_reason() if entry.connection is not None else None
                entry.state, entry.error = "failed", str(reason or not_answering(entry.name, entry.config))
                logger.warning(
                    "MCP server did not finish connecting in time; treating it as down",
                    extra={"mcp_server": entry.name, "seconds": self.connect_timeout_s},
                )
        if keep_trying:
            for entry in self._servers.values():
                if entry.state == "failed" and entry.retry_task is None:
                    entry.retry_task = asyncio.create_task(self._keep_trying(entry), name=f"mcp-retry-{entry.name}")
        self._rebuild_tools()
        self.started_in_s = time.monotonic() - began
        logger.info(
            "MCP hub started",
            extra={"seconds": round(self.started_in_s, 3), "servers": [s.__dict__ for s in self.statuses()]},
        )
        return self.statuses()

    async def _start_server(self, entry: _ServerEntry) -> None:
        try:
            auth = self._auth_factory(entry.name, entry.config) if self._auth_factory is not None else None
        except Exception as exc:  # boundary: one server's auth setup must not stop the others
            entry.state, entry.error = (
                "failed",
                str(connect_error("auth_setup", entry.name, entry.config, detail=str(exc))),
            )
            logger.warning("auth setup failed", extra={"mcp_server": entry.name, "error": str(exc)[:200]})
            return
        connection = MCPConnection(
            entry.name,
            entry.config,
            handlers=self.handlers,
            auth=auth,
            on_tools_changed=lambda: self._schedule_refresh(entry),
            transport_factory=self._transport_factories.get(entry.name),
        )
        entry.connection = connection  # set now, so that aclose() can stop an attempt in flight
        try:
            await connection.start()
            entry.tools = await connection.list_tools()
        except Exception as exc:  # boundary: one server never stops the others; the reason is kept for speech
            if isinstance(exc, MCPConnectError | MCPCallError):
                entry.error = str(exc)
            else:
                logger.debug("unexpected failure starting an MCP server", exc_info=True)
                logger.warning("unexpected failure starting an MCP server", extra={"mcp_server": entry.name})
                entry.error = str(connect_error("start_failed", entry.name, entry.config, detail=type(exc).__name__))
            entry.state = "failed"
            with contextlib.suppress(Exception):
                await connection.aclose()
            entry.connection = None
            return
        self._set_expiry(entry)
        entry.state, entry.error = "connected", None
        if self.started_in_s is not None:
            # Arrived after start() returned: tell the app (its stand-in tool gives way to the real ones).
            logger.info("MCP server arrived", extra={"mcp_server": entry.name, "tools": len(entry.tools)})
            self._rebuild_tools(notify=True)

    async def _attempt(self, entry: _ServerEntry) -> None:
        """One connection attempt for a failed server; joins the one in flight instead of starting a second."""
        if entry.start_task is None or entry.start_task.done():
            entry.start_task = asyncio.create_task(self._start_server(entry), name=f"mcp-start-{entry.name}")
        await asyncio.shield(entry.start_task)

    async def _keep_trying(self, entry: _ServerEntry) -> None:
        """Reconnect a failed server in the background with backoff, until it connects or the hub closes."""
        delay = _RETRY_FIRST_S
        try:
            while not self._closed and entry.state == "failed":
                if entry.start_task is not None and not entry.start_task.done():
                    await asyncio.wait({entry.start_task})  # the first attempt is still going
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX_S)
                    if self._closed or entry.state != "failed":
                        break
                    logger.debug("retrying a failed MCP server", extra={"mcp_server": entry.name})
                    await self._attempt(entry)
        finally:
            entry.retry_task = None

    async def retry_failed(self) -> list[ServerStatus]:
        """Try the failed servers again (e.g. when the user asks), bounded like `start`.

        A server stays "failed" with its last reason until it connects, so its stand-in tool stays too. One
        whose attempt is still in flight (a handshake that never ends) is not waited for again: the answer
        is its reason, at once.
        """
        tasks = [
            asyncio.ensure_future(self._attempt(entry))
            for entry in self._servers.values()
            if entry.state == "failed" and (entry.start_task is None or entry.start_task.done())
        ]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=self.connect_timeout_s)
            for task in pending:
                task.cancel()  # only the wait: the shielded attempt goes on in the background
            for task in done:
                task.exception()  # retrieved (_start_server does not raise)
            if self.started_in_s is None:  # not started: nobody rebuilt the tools on arrival
                self._rebuild_tools()
        return self.statuses()

    async def aclose(self) -> None:
        """Close every connection concurrently (bounded per connection)."""
        self._closed = True
        tasks: list[asyncio.Task[Any]] = []
        for entry in self._servers.values():
            for task in (entry.retry_task, entry.start_task, entry.refresh_task):
                if task is not None and not task.done():
                    task.cancel()
                    tasks.append(task)
        closers = [entry.connection.aclose() for entry in self._servers.values() if entry.connection is not None]
        await asyncio.gather(*tasks, *closers, return_exceptions=True)

    async def __aenter__(self) -> MCPHub:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---- status and lookup --------------------------------------------------------------------------

    def statuses(self) -> list[ServerStatus]:
        result = []
        for entry in self._servers.values():
            state = entry.state
            if state == "connected" and entry.connection is not None and entry.connection.state == "reconnecting":
                state = "connecting"
            count = sum(1 for info in self._tools_by_exposed.values() if info.server == entry.name)
            result.append(ServerStatus(name=entry.name, state=state, error=entry.error, tool_count=count))
        return result

    def connection(self, server: str) -> MCPConnection | None:
        """The live connection to one server (None if it failed or is disabled)."""
        entry = self._servers.get(server)
        return entry.connection if entry is not None else None

    def tool_info(self, tool_name: str) -> ToolInfo:
        """Look up an exposed tool name (as the LLM sees it); KeyError names the known tools."""
        info = self._tools_by_exposed.get(tool_name)
        if info is None:
            known = ", ".join(sorted(self._tools_by_exposed)) or "none"
            raise KeyError(f"no MCP tool named {tool_name!r} (known: {known})")
        return info

    def tool_infos(self) -> list[ToolInfo]:
        return list(self._tools_by_exposed.values())

    def full_result(self, tool_name: str) -> SpeakableResult | None:
        """The last complete result of a tool, for follow-up questions after a cut-short answer."""
        return self._full_results.get(tool_name)

    # ---- tools --------------------------------------------------------------------------------------

    def function_tools(self) -> list[MCPTool]:
        """The LiveKit tools to give the agent now (rebuilt when servers' tool lists change)."""
        self._refresh_stale_in_background()
        return list(self._function_tools)

    def _set_expiry(self, entry: _ServerEntry) -> None:
        ttl_ms = entry.connection.tools_ttl_ms if entry.connection is not None else None
        entry.tools_expire_at = time.monotonic() + ttl_ms / 1000.0 if ttl_ms else None

    def _refresh_stale_in_background(self) -> None:
        now = time.monotonic()
        for entry in self._servers.values():
            if entry.tools_expire_at is not None and now >= entry.tools_expire_at:
                entry.tools_expire_at = None
                self._schedule_refresh(entry)

    def _schedule_refresh(self, entry: _ServerEntry) -> None:
        if self._closed or (entry.refresh_task is not None and not entry.refresh_task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the event loop: the next in-loop call refreshes
            entry.tools_expire_at = time.monotonic()
            return
        entry.refresh_task = loop.create_task(self._refresh_server_tools(entry), name=f"mcp-refresh-{entry.name}")

    async def _refresh_server_tools(self, entry: _ServerEntry) -> None:
        connection = entry.connection
        if connection is None:
            return
        try:
            entry.tools = await connection.list_tools(refresh=True)
        except MCPCallError as exc:
            logger.warning("tool list refresh failed", extra={"mcp_server": entry.name, "error": str(exc)})
            return
        self._set_expiry(entry)
        logger.info("tool list changed", extra={"mcp_server": entry.name, "tools": len(entry.tools)})
        self._rebuild_tools(notify=True)

    def _rebuild_tools(self, *, notify: bool = False) -> None:
        """Filter, namespace on collision, and wrap every server's tools as LiveKit tools."""
        visible: list[tuple[_ServerEntry, types.Tool]] = []
        for entry in self._servers.values():
            if entry.state != "connected":
                continue
            visible.extend((entry, tool) for tool in entry.tools if entry.config.tool_allowed(tool.name))
        counts: dict[str, int] = {}
        for _, tool in visible:
            key = _sanitize_tool_name(tool.name)
            counts[key] = counts.get(key, 0) + 1
        infos: dict[str, ToolInfo] = {}
        for entry, tool in visible:
            base = _sanitize_tool_name(tool.name)
            exposed = base if counts[base] == 1 else _sanitize_tool_name(f"{entry.name}_{tool.name}")
            suffix = 2
            while exposed in infos:
                exposed = f"{exposed[: _MAX_TOOL_NAME - 3]}_{suffix}"
                suffix += 1
            infos[exposed] = ToolInfo(
                server=entry.name,
                name=tool.name,
                annotations=tool.annotations,
                input_schema=_object_schema(tool.input_schema),
                exposed_name=exposed,
                description=tool.description,
                tool=tool,
            )
        self._tools_by_exposed = infos
        tools = [self._make_tool(info) for info in infos.values()]
        tools.extend(self._resource_and_prompt_tools())
        schema_chars = sum(len(json.dumps(tool.info.raw_schema)) for tool in tools)
        threshold = self.search_tools_threshold_chars
        if threshold is not None and schema_chars > threshold and infos:
            logger.info(
                "tool schemas exceed the threshold; offering search_tools instead",
                extra={"schema_chars": schema_chars, "threshold": threshold},
            )
            tools = [self._make_search_tool(), self._make_call_tool(), *self._resource_and_prompt_tools()]
        self._function_tools = tools
        if notify and self.on_tools_changed is not None and not self._closed:
            try:
                self.on_tools_changed(list(tools))
            except Exception:  # boundary: the app's hook must not break the hub
                logger.exception("on_tools_changed hook failed")

    def _make_tool(self, info: ToolInfo) -> MCPTool:
        async def invoke(raw_arguments: dict[str, Any]) -> str:
            return await self.call(info.exposed_name, raw_arguments)

        description = _short_description(info.description)
        return function_tool(
            invoke,
            raw_schema={
                "name": info.exposed_name,
                "description": description,
                "parameters": info.input_schema,
            },
        )

    async def call(self, tool_name: str, arguments: Mapping[str, Any] | None = None) -> str:
        """Call an exposed tool; return speakable text, or raise ToolError with a short spoken reason."""
        info = self._tools_by_exposed.get(tool_name)
        if info is None:
            raise ToolError(f"There is no tool called {tool_name}.")
        result = await self.call_speakable(info, arguments)
        if result.is_error:
            raise ToolError(result.text)
        return result.text

    async def call_speakable(self, info: ToolInfo, arguments: Mapping[str, Any] | None) -> SpeakableResult:
        """Call a tool and convert its result; transport failures raise ToolError (speakable)."""
        entry = self._servers[info.server]
        connection = entry.connection
        if connection is None:
            raise ToolError(
                entry.error or str(MCPCallError("disconnected", server=info.server, reason="not_connected"))
            )
        began = time.monotonic()
        try:
            result = await connection.call_tool(info.name, dict(arguments or {}), repeatable=info.retry_safe)
        except MCPCallError as exc:
            logger.warning(
                "tool call failed",
                extra={"mcp_server": info.server, "tool": info.name, "kind": exc.kind, "error": str(exc)},
            )
            raise ToolError(str(exc)) from exc
        speakable = to_speakable(result, info.tool, max_chars=self.max_result_chars)
        self._full_results[info.exposed_name] = speakable
        logger.info(
            "tool call done",
            extra={
                "mcp_server": info.server,
                "tool": info.name,
                "seconds": round(time.monotonic() - began, 3),
                "is_error": speakable.is_error,
                "chars": len(speakable.full_text),
            },
        )
        return speakable

    # ---- progressive discovery (search_tools mode) --------------------------------------------------

    def search(self, query: str, limit: int = 5) -> list[ToolInfo]:
        """Tools ranked by how many query words appear in their name/description."""
        words = [word for word in re.findall(r"[a-z0-9]+", query.lower()) if len(word) > 1]
        scored = []
        for info in self._tools_by_exposed.values():
            haystack = f"{info.exposed_name.replace('_', ' ').replace('-', ' ')} {info.description or ''}".lower()
            score = sum(3 if word in info.exposed_name.lower() else 1 for word in words if word in haystack)
            if score or not words:
                scored.append((score, info.exposed_name, info))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [info for _, _, info in scored[:limit]]

    def _make_search_tool(self) -> MCPTool:
        async def search_tools(raw_arguments: dict[str, Any]) -> str:
            query = str(raw_arguments.get("query", ""))
            found = self.search(query)
            if not found:
                return f"No tool matches {query!r}."
            lines = [
                f"{info.exposed_name}: {_short_description(info.description)[:160]} "
                f"Parameters: {_describe_parameters(info.input_schema)}."
                for info in found
            ]
            return "Matching tools (use call_tool with one of these names): " + " ".join(lines)

        return function_tool(
            search_tools,
            raw_schema={
                "name": _META_SEARCH,
                "description": "Find tools for a task. Returns tool names and their parameters.",
                "parameters": {
                    "type": "object",
                    "properties": {"query": {"type": "string", "description": "what you want to do"}},
                    "required": ["query"],
                },
            },
        )

    def _make_call_tool(self) -> MCPTool:
        async def call_tool(raw_arguments: dict[str, Any]) -> str:
            name = str(raw_arguments.get("name", ""))
            arguments = raw_arguments.get("arguments") or {}
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except ValueError:
                    raise ToolError("The arguments must be an object of parameter values.") from None
            if not isinstance(arguments, dict):
                raise ToolError("The arguments must be an object of parameter values.")
            if name not in self._tools_by_exposed:
                raise ToolError(f"There is no tool called {name}; use search_tools first.")
            return await self.call(name, arguments)

        return function_tool(
            call_tool,
            raw_schema={
                "name": _META_CALL,
                "description": "Call a tool found with search_tools.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "tool name from search_tools"},
                        "arguments": {"type": "object", "description": "the tool's parameters"},
                    },
                    "required": ["name"],
                },
            },
        )

    # ---- resources and prompts as tools -------------------------------------------------------------

    def _exposing(self, flag: Literal["expose_resources", "expose_prompts"]) -> list[_ServerEntry]:
        return [
            entry
            for entry in self._servers.values()
            if entry.state == "connected" and entry.connection is not None and getattr(entry.config, flag)
        ]

    def _resource_and_prompt_tools(self) -> list[MCPTool]:
        tools = []
        resource_servers = [entry.name for entry in self._exposing("expose_resources")]
        if resource_servers:
            tools.append(self._make_read_resource_tool(resource_servers))
        prompt_servers = [entry.name for entry in self._exposing("expose_prompts")]
        if prompt_servers:
            tools.append(self._make_get_prompt_tool(prompt_servers))
        return tools

    def _server_for(self, requested: Any, allowed: list[str]) -> MCPConnection:
        name = str(requested) if requested else (allowed[0] if len(allowed) == 1 else "")
        if name not in allowed:
            raise ToolError(f"Say which server: {', '.join(allowed)}.")
        connection = self._servers[name].connection
        if connection is None:
            error = MCPCallError("disconnected", server=name, reason="not_connected")
            raise ToolError(str(error)) from error
        return connection

    def _make_read_resource_tool(self, servers: list[str]) -> MCPTool:
        async def read_resource(raw_arguments: dict[str, Any]) -> str:
            connection = self._server_for(raw_arguments.get("server"), servers)
            uri = str(raw_arguments.get("uri", ""))
            try:
                if not uri:
                    listed = await connection.list_resources()
                    names = "; ".join(f"{r.name}: {r.uri}" for r in listed[:20]) or "none"
                    return f"Available resources: {names}."
                result = await connection.read_resource(uri)
            except MCPCallError as exc:
                raise ToolError(str(exc)) from exc
            return resource_to_text(result)

        properties: dict[str, Any] = {
            "uri": {"type": "string", "description": "resource URI; leave empty to list the resources"}
        }
        if len(servers) > 1:
            properties["server"] = {"type": "string", "enum": servers}
        return function_tool(
            read_resource,
            raw_schema={
                "name": _READ_RESOURCE,
                "description": "Read a document or data resource from a server, or list them.",
                "parameters": {"type": "object", "properties": properties},
            },
        )

    def _make_get_prompt_tool(self, servers: list[str]) -> MCPTool:
        async def get_prompt(raw_arguments: dict[str, Any]) -> str:
            connection = self._server_for(raw_arguments.get("server"), servers)
            name = str(raw_arguments.get("name", ""))
            arguments = raw_arguments.get("arguments") or {}
            try:
                if not name:
                    listed = await connection.list_prompts()
                    names = "; ".join(f"{p.name}: {p.description or ''}".strip() for p in listed[:20]) or "none"
                    return f"Available prompts: {names}."
                result = await connection.get_prompt(name, {str(k): str(v) for k, v in dict(arguments).items()})
            except MCPCallError as exc:
                raise ToolError(str(exc)) from exc
            return prompt_to_text(result)

        properties: dict[str, Any] = {
            "name": {"type": "string", "description": "prompt name; leave empty to list the prompts"},
            "arguments": {"type": "object", "description": "the prompt's arguments"},
        }
        if len(servers) > 1:
            properties["server"] = {"type": "string", "enum": servers}
        return function_tool(
            get_prompt,
            raw_schema={
                "name": _GET_PROMPT,
                "description": "Get a prompt (instructions) from a server, or list them.",
                "parameters": {"type": "object", "properties": properties},
            },
        )
