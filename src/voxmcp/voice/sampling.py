"""MCP sampling answered by the session's LLM (servers opt in per server: `sampling = true` in their config).

The request's messages become a fresh chat context (never the conversation's: a server must not read what the
user said to the agent), its system prompt the system message. Text is passed through; images and audio are
named, not sent (the local model is text-only). The reply is bounded in time and length.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import mcp.types as types
from livekit.agents import llm

logger = logging.getLogger(__name__)

_PLACEHOLDER = {"image": "[an image]", "audio": "[an audio clip]"}


def _content_text(content: Any) -> str:
    blocks = content if isinstance(content, list) else [content]
    parts: list[str] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(str(block.text))
        elif isinstance(kind, str):
            parts.append(_PLACEHOLDER.get(kind, f"[{kind}]"))
    return "\n".join(p for p in parts if p)


def sampling_chat_context(params: types.CreateMessageRequestParams) -> llm.ChatContext:
    """The server's messages as a chat context of their own; ValueError when there is nothing to answer."""
    chat_ctx = llm.ChatContext.empty()
    if params.system_prompt:
        chat_ctx.add_message(role="system", content=params.system_prompt)
    added = 0
    for message in params.messages:
        text = _content_text(message.content)
        if text:
            chat_ctx.add_message(role="assistant" if message.role == "assistant" else "user", content=text)
            added += 1
    if not added:
        raise ValueError("the sampling request has no text message to answer")
    return chat_ctx


async def sample_with_llm(
    model: llm.LLM[Any], params: types.CreateMessageRequestParams, *, timeout_s: float = 30.0
) -> types.CreateMessageResult:
    """Generate the reply to a sampling request with `model`; the text is cut at roughly `maxTokens` words."""
    chat_ctx = sampling_chat_context(params)
    pieces: list[str] = []
    async with asyncio.timeout(timeout_s):
        async with model.chat(chat_ctx=chat_ctx, tool_choice="none") as stream:
            async for chunk in stream:
                if chunk.delta is not None and chunk.delta.content:
                    pieces.append(chunk.delta.content)
    text = "".join(pieces).strip()
    words = text.split()
    stop: str = "endTurn"
    if params.max_tokens and len(words) > params.max_tokens:
        text, stop = " ".join(words[: params.max_tokens]), "maxTokens"
    logger.info("sampling answered", extra={"chars": len(text), "model": model.model})
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=text), model=model.model, stop_reason=stop
    )
