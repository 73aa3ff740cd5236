"""Asking the user something in the middle of a tool call, and hearing the answer.

LiveKit routes a user's turn to the active agent's LLM, and a user turn during a running tool would
interrupt that tool. A short `AgentTask` (LiveKit's inline task) solves both: awaited from inside the tool's
task, it takes the floor (the tool's speech holds its interruptions), says our question, and receives the
user's next turn in `on_user_turn_completed`, where `StopResponse` keeps the LLM out of it. Typed input (the
console's text mode goes straight to the LLM) is caught in `llm_node` the same way.

A script (`DialogScript`) runs inside one task, so a multi-step exchange (question, follow-up, "Is that
right?") costs one hand-over. `DialogTask` completes with the script's result, or None when the script
failed; when the session closes mid-dialog LiveKit cancels it (awaiting it raises ToolError), which
VoicePolicies takes as no answer. `awaiting_answer` tells a scripted user (`voxmcp talk`) when to speak.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from livekit.agents import AgentTask, llm
from livekit.agents.llm import StopResponse
from livekit.agents.voice import ModelSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SPEAKING_GRACE_S = 6.0
"""How much longer to wait past the answer timeout while the user is still mid-sentence."""


class Asker(Protocol):
    """What a dialog script can do: say something, or ask and wait (bounded) for the next utterance."""

    def tell(self, text: str) -> None: ...

    async def ask(self, text: str, *, timeout_s: float | None = None) -> str | None:
        """Say `text`, then return the user's next utterance, or None when none came within the timeout
        (counted from the end of the question's playout)."""
        ...


DialogScript = Callable[[Asker], Awaitable[T]]


class DialogTask(AgentTask[T | None], Generic[T]):
    """Runs one dialog script while it holds the conversation (see module doc); await it in a tool."""

    def __init__(
        self,
        script: DialogScript[T],
        *,
        answer_timeout_s: float = 8.0,
        label: str = "dialog",
        on_line: Callable[[str, str], None] | None = None,
    ) -> None:
        """on_line: called with ("agent" | "user", text) for each line of the exchange as it happens."""
        if answer_timeout_s <= 0:
            raise ValueError(f"answer_timeout_s must be > 0, got {answer_timeout_s}")
        # never a preemptive generation here: it would run llm_node on a transcript the user may still go on
        # from ("yes... no, wait"), and take it as the answer to a confirmation before the turn ends
        super().__init__(
            instructions="Listen to the user's answer to the question you asked.",
            turn_handling={"preemptive_generation": {"enabled": False}},
        )
        self._script = script
        self._answer_timeout_s = answer_timeout_s
        self._label = label
        self._answers: asyncio.Queue[str] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self.transcript: list[tuple[str, str]] = []
        """("agent" | "user", text) in order, for logs and tests."""
        self._on_line = on_line
        self.awaiting_answer = False
        """A question has been heard and its answer is awaited (a scripted user speaks now)."""

    # -- Asker ----------------------------------------------------------------------------------------

    def tell(self, text: str) -> None:
        self._line("agent", text)
        self.session.say(text, add_to_chat_ctx=False)

    async def ask(self, text: str, *, timeout_s: float | None = None) -> str | None:
        limit = self._answer_timeout_s if timeout_s is None else timeout_s
        while not self._answers.empty():  # an utterance before the question is not its answer
            self._answers.get_nowait()
        self._line("agent", text)
        handle = self.session.say(text, add_to_chat_ctx=False)
        answer = asyncio.ensure_future(self._answers.get())
        try:
            # the clock starts when the question has been heard; an answer given over it counts too
            playout = asyncio.ensure_future(handle.wait_for_playout())
            await asyncio.wait({answer, playout}, timeout=limit + 30.0, return_when=asyncio.FIRST_COMPLETED)
            playout.cancel()
            self.awaiting_answer = True
            if not answer.done():
                await asyncio.wait({answer}, timeout=limit)
            if not answer.done() and self.session.user_state == "speaking":
                await asyncio.wait({answer}, timeout=_SPEAKING_GRACE_S)
            if not answer.done():
                logger.info("no answer in time", extra={"dialog": self._label, "timeout_s": limit})
                return None
            return answer.result()
        finally:
            self.awaiting_answer = False
            answer.cancel()

    def _line(self, who: str, text: str) -> None:
        self.transcript.append((who, text))
        if self._on_line is not None:
            self._on_line(who, text)

    # -- AgentTask hooks ------------------------------------------------------------------------------

    async def on_enter(self) -> None:
        self._runner = asyncio.create_task(self._run_script(), name=f"voxmcp-dialog-{self._label}")

    async def on_exit(self) -> None:
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()

    async def _run_script(self) -> None:
        result: T | None = None
        try:
            result = await self._script(self)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # boundary: a failed script must still hand the conversation back
            logger.warning("dialog script failed: %s", e, extra={"dialog": self._label})
            logger.debug("dialog script failure", exc_info=True, extra={"dialog": self._label})
        finally:
            if not self.done():
                self.complete(result)

    def _heard(self, text: str) -> None:
        text = text.strip()
        if text:
            self._line("user", text)
            self._answers.put_nowait(text)

    async def on_user_turn_completed(self, turn_ctx: llm.ChatContext, new_message: llm.ChatMessage) -> None:
        self._heard(new_message.text_content or "")
        raise StopResponse()

    async def llm_node(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings) -> None:
        """Typed input reaches the LLM directly: take it as the answer and generate nothing."""
        last = next((m for m in reversed(chat_ctx.messages()) if m.role == "user"), None)
        if last is not None:
            self._heard(last.text_content or "")
        return None
