"""The MCP tool calls running right now, so server-initiated interaction can find the call it belongs to.

An elicitation or a progress notification arrives on the MCP connection's own task, not on the tool call's
task. Each running (wrapped) tool call registers a `ToolCallScope`; a dialog requested from outside the tool's
task is queued on the scope of the matching call and run by that call's task, where LiveKit allows an
inline `AgentTask` (see dialog.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import RunContext

from voxmcp.voice.dialog import DialogScript


@dataclass
class DialogRequest:
    """A dialog to run on a tool call's task; `result` gets the script's outcome (None: not asked)."""

    script: DialogScript[Any]
    label: str
    result: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class ToolCallScope:
    """One running MCP tool call, as the voice layer tracks it."""

    server: str
    tool: str
    exposed_name: str
    context: RunContext[Any]
    task: asyncio.Task[Any] | None = field(default_factory=asyncio.current_task)
    """The tool call's own task: the only one where a dialog may run directly."""
    started_at: float = field(default_factory=time.monotonic)
    requests: asyncio.Queue[DialogRequest] = field(default_factory=asyncio.Queue)
    in_dialog: bool = False
    spoke: bool = False
    """Something (filler or progress) was already said for this call."""
    finished: bool = False

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_at


_current_scope: contextvars.ContextVar[ToolCallScope | None] = contextvars.ContextVar(
    "voxmcp_tool_call_scope", default=None
)


class ActiveCalls:
    """Registry of running tool calls (most recent last)."""

    def __init__(self) -> None:
        self._scopes: list[ToolCallScope] = []

    @contextmanager
    def track(self, scope: ToolCallScope) -> Iterator[ToolCallScope]:
        self._scopes.append(scope)
        token = _current_scope.set(scope)
        try:
            yield scope
        finally:
            scope.finished = True
            _current_scope.reset(token)
            self._scopes.remove(scope)
            while not scope.requests.empty():  # asked too late: the call is over, nobody will answer
                pending = scope.requests.get_nowait()
                if not pending.result.done():
                    pending.result.set_result(None)

    @staticmethod
    def current() -> ToolCallScope | None:
        """The scope of the tool call whose own task is running this code, if any."""
        scope = _current_scope.get()
        if scope is None or scope.task is not asyncio.current_task():
            return None
        return scope

    def find(self, server: str | None = None, tool: str | None = None) -> ToolCallScope | None:
        """The newest running call of `server` (and `tool`), else the newest call of any server."""
        live = [s for s in self._scopes if not s.finished]
        for scope in reversed(live):
            if (server is None or scope.server == server) and (tool is None or scope.tool == tool):
                return scope
        if tool is not None:
            return None
        return live[-1] if live else None

    def __len__(self) -> int:
        return len(self._scopes)
