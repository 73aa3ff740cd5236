"""MCP progress notifications as short spoken updates ("Still working: 50 percent.").

Rules, so updates help rather than chatter: nothing in the first `first_after_s` of a call (a quick tool
needs no update); then at most one per `min_interval_s` per tool (`ProgressThrottle`); never the final
100 percent (the answer itself says it is done); never while the user is speaking or a question is being
asked; only for a call that is still running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from livekit.agents import AgentSession

from voxmcp.mcp import ProgressThrottle
from voxmcp.voice.calls import ActiveCalls

logger = logging.getLogger(__name__)


def progress_phrase(progress: float, total: float | None, message: str | None) -> str:
    """ "Still working: 50 percent." / "Still working: checking the depot." / "Still working." """
    detail = ""
    if total:
        detail = f"{max(0, min(100, round(100 * progress / total)))} percent"
    elif message and message.strip():
        detail = message.strip().rstrip(".!")
    if message and message.strip() and total:
        detail = f"{message.strip().rstrip('.!')}, {detail}"
    return f"Still working: {detail}." if detail else "Still working."


class SpokenProgress:
    """The `progress` handler for `InteractionHandlers` (see module doc)."""

    def __init__(
        self,
        session_getter: Callable[[], AgentSession[Any] | None],
        calls: ActiveCalls,
        *,
        min_interval_s: float = 4.0,
        first_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if first_after_s < 0:
            raise ValueError(f"first_after_s must be >= 0, got {first_after_s}")
        self._session_getter = session_getter
        self._calls = calls
        self._first_after_s = first_after_s
        self._throttle = ProgressThrottle(self._speak, min_interval_s=min_interval_s, clock=clock)
        self.spoken: list[str] = []

    def __call__(self, server: str, tool: str, progress: float, total: float | None, message: str | None) -> None:
        scope = self._calls.find(server, tool)
        if scope is None or scope.finished:
            return
        if total is not None and progress >= total:
            return  # the answer follows at once
        if scope.elapsed_s < self._first_after_s or scope.in_dialog:
            return
        self._throttle(server, tool, progress, total, message)

    def _speak(self, server: str, tool: str, progress: float, total: float | None, message: str | None) -> None:
        session = self._session_getter()
        scope = self._calls.find(server, tool)
        if session is None or scope is None:
            return
        if session.user_state == "speaking" or session.agent_state == "speaking":
            return  # never over the user, never queued behind our own speech
        text = progress_phrase(progress, total, message)
        scope.spoke = True
        self.spoken.append(text)
        logger.info("spoken progress", extra={"mcp_server": server, "tool": tool, "text": text})
        session.say(text, add_to_chat_ctx=False)
