"""The turn policy end to end with an OpenAI-compatible LLM: LiveKit's OpenAI plugin against a scripted endpoint on
loopback, a stock AgentSession, `TurnPolicyMixin` on the Agent and voxmcp.MCPToolset over the real demo server.

The scripted model makes the mistakes the policy exists for (a misspelt city the server refuses, a claim without a
call) and behaves only from what it is sent, so each test shows what the policy put in front of it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from livekit.agents import Agent, AgentSession
from livekit.agents.voice.run_result import ChatMessageEvent, FunctionCallEvent, FunctionCallOutputEvent
from livekit.plugins import openai
from mcp.client._memory import InMemoryTransport

from voxmcp.demo.server import build_server
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.policy import TurnPolicyMixin
from voxmcp.toolset import MCPToolset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "livekit"))
from fake_openai_llm import create_app

pytestmark = pytest.mark.timeout(60)

MEMORY = MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy"})


def _tool_name(body: dict[str, Any], suffix: str) -> str:
    return next(t["function"]["name"] for t in body.get("tools") or [] if t["function"]["name"].endswith(suffix))


def careless_model(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Misspells the city first, fixes it only when told what the server said; claims a saved note without calling
    until a call is required; reads tool results back."""
    messages = body["messages"]
    last = messages[-1]
    if last["role"] == "tool":
        return str(last["content"]), None
    user = str(last.get("content") or "")
    if body.get("tool_choice") == "required":
        call = {"id": "call_note", "name": _tool_name(body, "add_note"), "arguments": json.dumps({"text": "Anna"})}
        return "", call
    if "Attempts that did not work" in user and "no weather for 'Pariss'" in user:
        return "", {"id": "call_fix", "name": _tool_name(body, "get_weather"), "arguments": '{"city": "Paris"}'}
    if "weather" in user.lower():
        return "", {"id": "call_typo", "name": _tool_name(body, "get_weather"), "arguments": '{"city": "Pariss"}'}
    if "remember" in user.lower():
        return "Sure, I've saved that for you.", None
    return "Hello.", None


class PolicyAgent(TurnPolicyMixin, Agent):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def openai_endpoint() -> AsyncIterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(tokens_per_s=400, ttft_s=0.01, reply_for=careless_model),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def session_with(tmp_path: Path) -> AsyncIterator[AgentSession[None]]:
    demo = build_server(db_path=tmp_path / "notes.db")
    toolset = MCPToolset(
        {"demo": MEMORY}, transport_factories={"demo": lambda: InMemoryTransport(demo)}, confirm_destructive=False
    )
    async with openai_endpoint() as base_url:
        model = openai.LLM(model="fake", base_url=base_url, api_key="not-a-secret")
        session: AgentSession[None] = AgentSession(llm=model, tools=[toolset])
        await session.start(PolicyAgent(instructions="You are a voice assistant."))
        try:
            yield session
        finally:
            await session.aclose()


async def test_a_refused_call_is_repaired_from_the_servers_error(tmp_path: Path) -> None:
    async with session_with(tmp_path) as session:
        result = await session.run(user_input="What's the weather in Paris?")
    calls = [e.item for e in result.events if isinstance(e, FunctionCallEvent)]
    outputs = [e.item for e in result.events if isinstance(e, FunctionCallOutputEvent)]
    said = " ".join(e.item.text_content or "" for e in result.events if isinstance(e, ChatMessageEvent))
    assert [json.loads(c.arguments)["city"] for c in calls] == ["Pariss", "Paris"]
    assert outputs[0].is_error and "Pariss" in outputs[0].output and not outputs[1].is_error
    assert said.count("One moment.") == 1  # the preamble once, not again before the repaired call
    assert "The weather in Paris" in said and "Pariss" not in said


async def test_a_claim_without_a_call_becomes_the_call(tmp_path: Path) -> None:
    async with session_with(tmp_path) as session:
        result = await session.run(user_input="Please remember that my sister is Anna")
    said = " ".join(e.item.text_content or "" for e in result.events if isinstance(e, ChatMessageEvent))
    outputs = [e.item for e in result.events if isinstance(e, FunctionCallOutputEvent)]
    assert "I've saved that" not in said.split("Saved")[0]  # never said before the save ran
    assert len(outputs) == 1 and not outputs[0].is_error and "Anna" in outputs[0].output
