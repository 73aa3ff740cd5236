"""A scripted LiveKit LLM for policy tests: each response is chosen by a function of what the model is shown."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm
from livekit.agents.llm import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import shortuuid


@dataclass
class Reply:
    """What the fake model says: text pieces (streamed in order), then calls (name, arguments)."""

    text: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)


@dataclass
class Seen:
    """One request the fake model got."""

    chat_ctx: ChatContext
    tools: list[str]
    tool_choice: Any
    extra: Any = None

    @property
    def last_user(self) -> str:
        for item in reversed(self.chat_ctx.items):
            if isinstance(item, ChatMessage) and item.role == "user":
                return item.text_content or ""
        return ""

    @property
    def outputs(self) -> list[FunctionCallOutput]:
        return [i for i in self.chat_ctx.items if isinstance(i, FunctionCallOutput)]

    @property
    def calls(self) -> list[FunctionCall]:
        return [i for i in self.chat_ctx.items if isinstance(i, FunctionCall)]


Script = Callable[[Seen], Reply]


class ScriptedLLM(llm.LLM[Any]):
    def __init__(self, *replies: Reply | Script) -> None:
        super().__init__()
        self.replies = list(replies)
        self.seen: list[Seen] = []

    @property
    def model(self) -> str:
        return "scripted"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        names = [t.info.name for t in tools or [] if hasattr(t, "info")]
        seen = Seen(chat_ctx.copy(), names, tool_choice, extra_kwargs)
        self.seen.append(seen)
        if not self.replies:
            raise AssertionError(f"the scripted LLM ran out of replies at request {len(self.seen)}")
        reply = self.replies.pop(0)
        return _Stream(self, reply if isinstance(reply, Reply) else reply(seen), chat_ctx, tools or [], conn_options)


class _Stream(llm.LLMStream):
    def __init__(
        self, owner: ScriptedLLM, reply: Reply, chat_ctx: ChatContext, tools: list[llm.Tool], conn: APIConnectOptions
    ) -> None:
        super().__init__(owner, chat_ctx=chat_ctx, tools=tools, conn_options=conn)
        self._reply = reply

    async def _run(self) -> None:
        for piece in self._reply.text:
            self._event_ch.send_nowait(llm.ChatChunk(id="r", delta=llm.ChoiceDelta(role="assistant", content=piece)))
        if self._reply.calls:
            calls = [
                llm.FunctionToolCall(
                    name=name,
                    arguments=args if isinstance(args, str) else json.dumps(args),
                    call_id=shortuuid("call_"),
                )
                for name, args in self._reply.calls
            ]
            self._event_ch.send_nowait(llm.ChatChunk(id="r", delta=llm.ChoiceDelta(role="assistant", tool_calls=calls)))


async def collect(stream: llm.LLMStream) -> tuple[str, list[llm.FunctionToolCall]]:
    """Everything a stream said and the calls it made."""
    text, calls = [], []
    async with stream:
        async for chunk in stream:
            if chunk.delta is None:
                continue
            if chunk.delta.content:
                text.append(chunk.delta.content)
            calls.extend(chunk.delta.tool_calls or [])
    return "".join(text), calls
