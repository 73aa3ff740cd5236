"""A tiny OpenAI-compatible chat endpoint on loopback that streams at a realistic token rate.

It stands in for a remote LLM (vLLM, Ollama, a cloud API) in the load benchmark and room tests: the
first token after `ttft_s`, then `tokens_per_s`. With a weather tool on offer and a user turn last it
calls that tool for Paris; after a tool result it reads the result back; otherwise a fixed sentence.
Run: python tests/livekit/fake_openai_llm.py --port 8900 [--tokens-per-s 40 --ttft-s 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

FIXED_ANSWER = "I can help with the weather, the time, notes and unit conversions. What would you like?"
WORD_RE = re.compile(r"\S+\s*")


def _reply_for(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(text, tool_call) the fake model answers with for this request."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        content = last.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        return (text.strip()[:300] or "The tool returned nothing."), None
    tools = [t.get("function", {}).get("name", "") for t in body.get("tools") or []]
    weather = next((name for name in tools if name.endswith("get_weather")), None)
    if last.get("role") == "user" and weather:
        user_text = str(last.get("content") or "").lower()
        if "weather" in user_text:
            call = {"id": f"call_{uuid.uuid4().hex[:8]}", "name": weather, "arguments": '{"city": "Paris"}'}
            return "", call
    return FIXED_ANSWER, None


ReplyFor = Callable[[dict[str, Any]], tuple[str, dict[str, Any] | None]]


def create_app(*, tokens_per_s: float, ttft_s: float, reply_for: ReplyFor = _reply_for) -> Starlette:
    """`reply_for`: (text, call) for a request body; tests script other models with it."""

    async def completions(request: Request) -> Response:
        body = await request.json()
        text, call = reply_for(body)
        model = str(body.get("model") or "fake")
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        tokens = WORD_RE.findall(text)
        if not body.get("stream"):
            await asyncio.sleep(ttft_s + len(tokens) / tokens_per_s)
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if call:
                message["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                ]
            return JSONResponse(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if call else "stop"}],
                    "usage": {
                        "prompt_tokens": 100,
                        "completion_tokens": len(tokens),
                        "total_tokens": 100 + len(tokens),
                    },
                }
            )

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n"

        async def stream() -> AsyncIterator[str]:
            await asyncio.sleep(ttft_s)
            yield chunk({"role": "assistant", "content": ""})
            if call:
                yield chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["name"], "arguments": call["arguments"]},
                            }
                        ]
                    }
                )
                yield chunk({}, "tool_calls")
            else:
                for token in tokens:
                    yield chunk({"content": token})
                    await asyncio.sleep(1 / tokens_per_s)
                yield chunk({}, "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {
                    "prompt_tokens": 100,
                    "completion_tokens": len(tokens),
                    "total_tokens": 100 + len(tokens),
                }
                yield f"data: {json.dumps({'id': cid, 'object': 'chat.completion.chunk', 'created': created, 'model': model, 'choices': [], 'usage': usage})}\n\n"  # noqa: E501
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "voxmcp"}]})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]), Route("/v1/models", models)])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens-per-s", type=float, default=40.0)
    parser.add_argument("--ttft-s", type=float, default=0.3)
    args = parser.parse_args()
    app = create_app(tokens_per_s=args.tokens_per_s, ttft_s=args.ttft_s)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
