"""A spoken conversation in-process: scripted STT/LLM/TTS around a real AgentSession, the voice policies, and
an in-memory MCP server behind a real MCPHub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import Agent, FunctionToolsExecutedEvent, llm

from voxmcp.mcp.interaction import InteractionHandlers
from voxmcp.mcp.toolset import MCPHub
from voxmcp.voice import VoicePolicies

from .fakes import FakeVoice, LLMReply, Responder, eventually, fake_voice
from .voice_servers import ServerLog, voice_hub


@dataclass
class Conversation:
    voice: FakeVoice
    policies: VoicePolicies
    hub: MCPHub
    server: ServerLog
    links: list[tuple[str, str, str]]
    outputs: list[llm.FunctionCallOutput] = field(default_factory=list)

    def user_says(self, text: str) -> None:
        self.voice.stt.user_says(text)

    async def answer(self, text: str, timeout_s: float = 10.0) -> None:
        """Answer once the agent's question has played out (as users do)."""
        session, out = self.voice.session, self.voice.audio_out
        await eventually(
            lambda: session.agent_state != "speaking" and not out.playing, timeout_s=timeout_s, what="playout"
        )
        self.user_says(text)

    def said(self, fragment: str) -> bool:
        return self.voice.tts.said(fragment)

    async def wait_said(self, fragment: str, timeout_s: float = 10.0) -> None:
        await eventually(lambda: self.said(fragment), timeout_s=timeout_s, what=f"the agent to say {fragment!r}")

    async def wait_output(self, timeout_s: float = 10.0) -> llm.FunctionCallOutput:
        await eventually(lambda: bool(self.outputs), timeout_s=timeout_s, what="a tool result")
        return self.outputs[0]


@asynccontextmanager
async def conversation(
    replies: list[LLMReply | Responder],
    *,
    server_options: dict[str, Any] | None = None,
    hub_factory: Callable[[InteractionHandlers], MCPHub] | None = None,
    **options: Any,
) -> AsyncIterator[Conversation]:
    """A started session whose agent has the hub's tools wrapped by VoicePolicies(**options); closed on exit.

    The hub is the in-memory voice test server unless `hub_factory` builds another one."""
    voice = fake_voice(replies)
    links: list[tuple[str, str, str]] = []
    options.setdefault("answer_timeout_s", 5.0)
    policies = VoicePolicies(lambda: voice.session, llm=voice.llm, show_link=lambda *a: links.append(a), **options)
    server = ServerLog()
    if hub_factory is not None:
        hub = hub_factory(policies.handlers())
    else:
        hub = voice_hub(server, policies.handlers(), **(server_options or {}))
    await hub.start()
    convo = Conversation(voice, policies, hub, server, links)

    def on_tools(ev: FunctionToolsExecutedEvent) -> None:
        convo.outputs.extend(out for out in ev.function_call_outputs if out is not None)

    voice.session.on("function_tools_executed", on_tools)
    agent = Agent(instructions="You are a test agent.", tools=policies.wrap_tools(hub.function_tools(), hub))
    await voice.session.start(agent)
    try:
        yield convo
    finally:
        voice.audio_in.close()
        await voice.session.aclose()
        await hub.aclose()
