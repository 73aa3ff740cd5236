"""`voxmcp.MCPToolset`: voxmcp's MCP client as a LiveKit toolset, for any `AgentSession` or `Agent`.

The drop-in for `livekit.agents.mcp.MCPToolset`, over every configured server at once:

    session = AgentSession(..., tools=[voxmcp.MCPToolset.from_config("voxmcp.toml")])

It has LiveKit's toolset shape (an `AsyncToolset`: `id`, `tools`, `setup(reload=...)`, `filter_tools`, `aclose`)
and what `MCPHub` adds underneath: servers started concurrently under one time bound, reconnection, list_changed,
namespacing on name collisions, per-tool timeouts, results turned into speakable text, a stand-in tool that gives
the real reason when a server is down. Each call goes through the voice policies: a destructive tool is confirmed
by voice, a slow one gets a filler, a server's elicitation is asked by voice, and when the user barges in the MCP
request is cancelled.

LiveKit reads a toolset's `tools` at every turn, so when a server's tool list changes (or a server that was down
arrives) the next turn of the running session sees the new tools, as after LiveKit's `setup(reload=True)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

from livekit.agents import RunContext, llm
from livekit.agents.llm import RawFunctionTool, ToolError, function_tool
from livekit.agents.llm.async_toolset import AsyncToolset
from mcp.client import Transport

from voxmcp.mcp.config import MCPServerConfig, load_mcp_servers_json, parse_mcp_servers
from voxmcp.mcp.errors import MCPCallError
from voxmcp.mcp.toolset import MCPHub, ServerStatus
from voxmcp.policy import Outcome
from voxmcp.voice import VoicePolicies

logger = logging.getLogger(__name__)

MCPTool = RawFunctionTool[..., Any]
ToolFilter = Callable[[MCPTool], bool]


def unreachable_server_tool(status: ServerStatus, hub: MCPHub) -> MCPTool:
    """A stand-in tool for a server that is down, so a request for it is answered with the real reason.

    Without it the model sees no tool and invents an answer (BASELINE failure 4). "Down" includes a server
    still stuck in its handshake when the hub's start bound ran out. Calling it retries the connection once
    (a handshake still in flight is not waited for again); when the server is back its real tools replace
    this one.
    """
    name = f"{status.name}_server"

    async def call(raw_arguments: dict[str, object]) -> str:
        statuses = await hub.retry_failed()
        now = next((s for s in statuses if s.name == status.name), None)
        if now is not None and now.state == "connected":
            return f"The {status.name} server is reachable again. Please ask once more."
        reason = (now.error if now is not None else None) or status.error or "it is not responding"
        # caused by a connection error, so the turn policy says it instead of trying the call again
        raise ToolError(reason) from MCPCallError("disconnected", server=status.name, reason="unreachable")

    # no arguments: there is nothing for the model to fill in (an invented argument would fail the grounding check)
    description = (
        f"The '{status.name}' tool server, which is unreachable right now. "
        f"Call this for any request that needs the {status.name} server's tools."
    )
    schema = {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": {}, "required": []},
    }
    return function_tool(call, raw_schema=schema)


def stand_in_tools(hub: MCPHub) -> list[MCPTool]:
    """One stand-in per server that is down now (failed, or never finished connecting within the bound)."""
    return [unreachable_server_tool(s, hub) for s in hub.statuses() if s.state == "failed"]


class MCPToolset(AsyncToolset):
    """Tools of one or more MCP servers for a LiveKit agent (see module doc).

    Build it from voxmcp's configuration (`from_config`), a `{"mcpServers": {...}}` document (`from_dict`,
    `from_mcp_json`) or `MCPServerConfig`s. Nothing connects until LiveKit calls `setup()` when the agent starts
    (or you do); a server that fails is reported in `statuses()` and answered for by a stand-in tool, never raised.
    """

    def __init__(
        self,
        servers: Mapping[str, MCPServerConfig],
        *,
        id: str = "voxmcp",
        connect_timeout_s: float = 8.0,
        max_result_chars: int = 400,
        search_tools_threshold_chars: int | None = None,
        confirm_destructive: bool = True,
        filler: bool = True,
        progress_interval_s: float = 4.0,
        stand_ins: bool = True,
        oauth: bool = True,
        sampling_llm: llm.LLM[Any] | None = None,
        transport_factories: Mapping[str, Callable[[], Transport]] | None = None,
    ) -> None:
        """`servers`: name -> server. `connect_timeout_s`: the most `setup()` waits for all servers together.
        `max_result_chars`: a result longer than this is cut for speech (the whole one stays for follow-ups).
        `search_tools_threshold_chars`: above this much schema JSON the model gets `search_tools` + `call_tool`
        instead of every tool. `confirm_destructive`, `filler`, `progress_interval_s`: the voice policies.
        `stand_ins`: offer a tool per down server that says why. `oauth`: sign in to servers with `auth = "oauth"`.
        `sampling_llm`: answers servers' sampling requests (each server must allow it); None refuses them.
        `transport_factories`: per-server MCP transports instead of the configured one (a server in this process)."""
        super().__init__(id=id)
        if connect_timeout_s <= 0:
            raise ValueError(f"connect_timeout_s must be > 0, got {connect_timeout_s}")
        self._servers = dict(servers)
        self._hub_options: dict[str, Any] = {
            "connect_timeout_s": connect_timeout_s,
            "max_result_chars": max_result_chars,
            "search_tools_threshold_chars": search_tools_threshold_chars,
            "transport_factories": dict(transport_factories or {}),
        }
        self._oauth = oauth
        self._stand_ins = stand_ins
        self._session: Any = None
        self.policies = VoicePolicies(
            lambda: self._session,
            llm=sampling_llm,
            confirm_destructive=confirm_destructive,
            filler=filler,
            progress_interval_s=progress_interval_s,
        )
        """The voice policies around every call (their counters, e.g. `cancelled_by_user`, are public)."""
        self._filters: list[ToolFilter] = []
        self._hub: MCPHub | None = None
        self._lock = asyncio.Lock()
        self.on_tools_changed: Callable[[list[MCPTool]], None] | None = None
        """Called with the new tools after a server's tool list changed or a server arrived (e.g. to re-bias STT)."""

    # ---- construction -------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, path: str | Path | None = None, **options: Any) -> MCPToolset:
        """The servers and settings of a `voxmcp.toml` (None: ./voxmcp.toml if present, else the defaults, which
        mean the bundled demo server); `.env` and `VOXMCP_*` variables apply as for `voxmcp` itself.
        Raises `voxmcp.config.ConfigError` naming the file and the bad key."""
        from voxmcp.config import load_settings

        settings = load_settings(path)
        defaults: dict[str, Any] = {
            "connect_timeout_s": settings.mcp.connect_timeout_s,
            "confirm_destructive": settings.voice.confirm_destructive,
            "filler": settings.voice.filler,
            "progress_interval_s": settings.voice.progress_interval_s,
        }
        return cls(settings.mcp_servers(), **{**defaults, **options})

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], **options: Any) -> MCPToolset:
        """Servers from the common `{"mcpServers": {name: {"url": ...} | {"command": ..., "args": [...]}}}` shape
        (a bare `{name: entry}` mapping too). Raises `voxmcp.mcp.config.MCPConfigError` naming the bad key."""
        return cls(parse_mcp_servers(dict(document)), **options)

    @classmethod
    def from_mcp_json(cls, path: str | Path, **options: Any) -> MCPToolset:
        """Servers from an `mcp.json` / `claude_desktop_config.json` style file."""
        return cls(load_mcp_servers_json(path), **options)

    # ---- LiveKit's toolset lifecycle ----------------------------------------------------------------

    @property
    def hub(self) -> MCPHub | None:
        """The MCP hub under the tools (None before `setup()`): statuses, tool infos, direct calls."""
        return self._hub

    @property
    def servers(self) -> dict[str, MCPServerConfig]:
        return dict(self._servers)

    def statuses(self) -> list[ServerStatus]:
        """Each server's state and, when it is down, a sentence saying why (empty before `setup()`)."""
        return self._hub.statuses() if self._hub is not None else []

    async def setup(self, *, reload: bool = False) -> Self:
        """Connect the servers (bounded by `connect_timeout_s`) and publish their tools.

        Called by LiveKit when the agent starts; later calls are no-ops unless `reload`, which tries the servers
        that are down again and rebuilds the tool list.
        """
        await super().setup()
        async with self._lock:
            if self._hub is None:
                self._hub = self._new_hub()
                await self._hub.start()
                self._hub.on_tools_changed = self._tools_changed
            elif reload:
                await self._hub.retry_failed()
            else:
                return self  # the same tool objects: LiveKit compares tool contexts by identity
            self._tools = self._build_tools()
        return self

    def filter_tools(self, filter_fn: ToolFilter) -> Self:
        """Keep only the tools the predicate accepts, now and after every tool-list change."""
        self._filters.append(filter_fn)
        self._tools = [tool for tool in self._tools if isinstance(tool, RawFunctionTool) and filter_fn(tool)]
        return self

    async def aclose(self) -> None:
        """Close every server connection; a later `setup()` connects again (LiveKit re-enters agents)."""
        hub, self._hub = self._hub, None
        try:
            await super().aclose()
        finally:
            self._tools = []
            if hub is not None:
                hub.on_tools_changed = None
                await hub.aclose()

    # ---- internals ----------------------------------------------------------------------------------

    def outcome_of(self, call: llm.FunctionCall, output: llm.FunctionCallOutput) -> Outcome | None:
        """How one of this toolset's calls ended (declined, refused, lost), for the turn policy."""
        return self.policies.outcome_of(call, output)

    def may_change_things(self, tool: str) -> bool | None:
        """False for a tool its server annotates read-only; None for a tool this toolset doesn't have."""
        if self._hub is None:
            return None
        try:
            annotations = self._hub.tool_info(tool).annotations
        except KeyError:
            return None
        return not (annotations is not None and annotations.read_only_hint)

    def _new_hub(self) -> MCPHub:
        auth_factory = None
        if self._oauth:
            from voxmcp.mcp.auth import build_auth

            auth_factory = build_auth
        return MCPHub(self._servers, handlers=self.policies.handlers(), auth_factory=auth_factory, **self._hub_options)

    def _build_tools(self) -> list[llm.Tool | llm.Toolset]:
        hub = self._hub
        if hub is None:
            return []
        base: list[llm.Tool | llm.Toolset] = list(hub.function_tools())
        if self._stand_ins:
            base += stand_in_tools(hub)
        tools: list[llm.Tool | llm.Toolset] = []
        for tool in self.policies.wrap_tools(base, hub):
            if isinstance(tool, RawFunctionTool):
                wrapped = self._with_session(tool)
                if all(keep(wrapped) for keep in self._filters):
                    tools.append(wrapped)
        return tools

    def _with_session(self, tool: MCPTool) -> MCPTool:
        """Remember the session a call runs in: the voice policies speak progress and ask questions there."""

        async def call(raw_arguments: dict[str, object], context: RunContext[Any]) -> Any:
            self._session = context.session
            return await tool(raw_arguments, context)

        return function_tool(call, raw_schema=dict(tool.info.raw_schema), flags=tool.info.flags)

    def _tools_changed(self, _tools: list[MCPTool]) -> None:
        self._tools = self._build_tools()
        names = [tool.info.name for tool in self._tools if isinstance(tool, RawFunctionTool)]
        logger.info("toolset tools changed", extra={"toolset": self.id, "tools": names})
        if self.on_tools_changed is not None:
            try:
                self.on_tools_changed([tool for tool in self._tools if isinstance(tool, RawFunctionTool)])
            except Exception:  # boundary: the user's hook must not break the hub's notification
                logger.exception("MCPToolset.on_tools_changed hook failed")
