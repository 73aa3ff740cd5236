"""Sampling requests answered by the session's LLM, in a context of their own."""

from __future__ import annotations

import mcp.types as types
import pytest
from mcp.client._memory import InMemoryTransport
from mcp.server.mcpserver import Context, MCPServer

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.toolset import MCPHub
from voxmcp.voice import VoicePolicies
from voxmcp.voice.sampling import sample_with_llm, sampling_chat_context

from .fakes import ScriptedLLM

pytestmark = pytest.mark.timeout(30)


def params(*messages: types.SamplingMessage, max_tokens: int = 50) -> types.CreateMessageRequestParams:
    return types.CreateMessageRequestParams(messages=list(messages), max_tokens=max_tokens, system_prompt="Be brief.")


def user(text: str) -> types.SamplingMessage:
    return types.SamplingMessage(role="user", content=types.TextContent(type="text", text=text))


def test_chat_context_is_the_servers_only() -> None:
    image = types.SamplingMessage(
        role="user", content=types.ImageContent(type="image", data="AA==", mime_type="image/png")
    )
    ctx = sampling_chat_context(params(user("Summarize: cats sleep a lot."), image))
    assert [(m.role, m.text_content) for m in ctx.messages()] == [
        ("system", "Be brief."),
        ("user", "Summarize: cats sleep a lot."),
        ("user", "[an image]"),
    ]
    with pytest.raises(ValueError, match="no text message"):
        sampling_chat_context(types.CreateMessageRequestParams(messages=[], max_tokens=5))


async def test_reply_from_the_llm_bounded_by_max_tokens() -> None:
    model = ScriptedLLM(replies=["Cats sleep a lot, mostly in the sun, all day long."])
    result = await sample_with_llm(model, params(user("Summarize"), max_tokens=4))
    assert isinstance(result.content, types.TextContent)
    assert result.content.text == "Cats sleep a lot," and result.stop_reason == "maxTokens"
    assert result.role == "assistant"


async def test_server_sampling_through_the_hub_when_the_server_is_allowed() -> None:
    server = MCPServer("sampler")

    @server.tool()
    async def summarize(text: str, ctx: Context) -> str:
        """Asks the client's LLM."""
        reply = await ctx.request_context.session.create_message(
            [user(text)], max_tokens=20, related_request_id=ctx.request_id
        )
        assert isinstance(reply.content, types.TextContent)
        return f"Summary: {reply.content.text}"

    model = ScriptedLLM(replies=["Short summary."])
    policies = VoicePolicies(lambda: None, llm=model)
    allowed = MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy", "sampling": True})
    async with MCPHub(
        {"s": allowed}, handlers=policies.handlers(), transport_factories={"s": lambda: InMemoryTransport(server)}
    ) as hub:
        assert await hub.call("summarize", {"text": "a long text"}) == "Summary: Short summary."
    prompt = model.requests[0].messages()[-1].text_content
    assert prompt == "a long text"
