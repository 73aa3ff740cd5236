"""The baseline voxmcp is measured against: the seed recipe's plain setup on the same local models.

LiveKit defaults everywhere (AgentSession with only vad/stt/llm/tts: its default turn handling and endpointing),
LiveKit's own `MCPServerHTTP` toolset, and a plain llama-cpp-python chat plugin: the model's chat template through
`create_chat_completion` with the tool schemas, a tolerant JSON parser for tool calls, no grammar, no prefill, no
result shaping. Whisper is decoded once per VAD segment (LiveKit's StreamAdapter); the TTS is the same hibari voice.
This is what shared/BASELINE.md measured; it is kept deliberately plain so the comparison stays honest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from livekit.agents import Agent, AgentSession, llm, stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.llm import ChatContext
from livekit.agents.llm.mcp import MCPServerHTTP, MCPToolset
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import AudioBuffer, shortuuid

from voxmcp.models import weights
from voxmcp.models.tts import HibariTTS
from voxmcp.models.vad import build_silero_vad

if TYPE_CHECKING:
    from llama_cpp import Llama

logger = logging.getLogger(__name__)

SEED_INSTRUCTIONS = (
    "You can retrieve data via the MCP server. The interface is voice-based: "
    "accept spoken user queries and respond with synthesized speech. Answer in one or two short sentences."
)
_TOOL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def parse_tool_call_text(text: str, known: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """Tool calls in free model output, tolerantly: <tool_call> tags, ```json fences or bare JSON objects.

    Returns (name, arguments) for every JSON object naming a known tool; [] when there is none.
    """
    candidates = _TOOL_TAG.findall(text) or _FENCE.findall(text) or [text]
    calls: list[tuple[str, dict[str, Any]]] = []
    decoder = json.JSONDecoder()
    for chunk in candidates:
        i = 0
        while (start := chunk.find("{", i)) >= 0:
            try:
                obj, end = decoder.raw_decode(chunk, start)
            except ValueError:
                i = start + 1
                continue
            i = end
            if not isinstance(obj, dict):
                continue
            name = obj.get("name") or (obj.get("function") or {}).get("name")
            args = obj.get("arguments", obj.get("parameters", {}))
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except ValueError:
                    args = {}
            if isinstance(name, str) and name in known:
                calls.append((name, args if isinstance(args, dict) else {}))
    return calls


class PlainLlamaLLM(llm.LLM[Any]):
    """A plain llama-cpp-python chat LLM plugin, as a LiveKit user would write one for a local GGUF."""

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, threads: int = 2, max_tokens: int = 256) -> None:
        super().__init__()
        from llama_cpp import Llama

        self._llama: Llama = Llama(str(model_path), n_ctx=n_ctx, n_threads=threads, verbose=False)
        self._lock = threading.Lock()
        self.max_tokens = max_tokens

    @property
    def model(self) -> str:
        return Path(self._llama.model_path).name

    @property
    def provider(self) -> str:
        return "llama-cpp-python"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> PlainLlamaStream:
        # tool_choice='none' (LiveKit's last step after max_tool_steps) is honoured by not offering the tools
        offered = [] if tool_choice == "none" else tools or []
        return PlainLlamaStream(self, chat_ctx=chat_ctx, tools=offered, conn_options=conn_options)

    def stream_completion(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], stop: threading.Event
    ) -> Iterator[str]:
        with self._lock:
            chunks = self._llama.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                tools=tools or None,  # type: ignore[arg-type]
                max_tokens=self.max_tokens,
                stream=True,
            )
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"]  # type: ignore[index]
                text = delta.get("content") if isinstance(delta, dict) else None
                if text:
                    yield str(text)
                if stop.is_set():
                    break


class PlainLlamaStream(llm.LLMStream):
    def __init__(
        self, llm_: PlainLlamaLLM, *, chat_ctx: ChatContext, tools: list[llm.Tool], conn_options: APIConnectOptions
    ) -> None:
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._plain = llm_
        self._id = shortuuid("plain_")

    async def _run(self) -> None:
        messages, _ = self._chat_ctx.to_provider_format("openai")
        schemas = llm.ToolContext(list(self._tools)).parse_function_tools("openai", strict=False)
        known = {str(s["function"]["name"]) for s in schemas}
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def work() -> None:
            try:
                for piece in self._plain.stream_completion(messages, schemas, stop):
                    loop.call_soon_threadsafe(queue.put_nowait, piece)
            except BaseException as e:
                loop.call_soon_threadsafe(queue.put_nowait, e)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = loop.run_in_executor(None, work)
        held: str | None = None  # output that may be a tool call is held until it is complete
        started = False
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if held is not None:
                    held += item
                    continue
                if not started:
                    stripped = item.lstrip()
                    if not stripped:
                        continue
                    started = True
                    if stripped[0] in "{[<`":
                        held = stripped
                        continue
                    item = stripped
                self._send(content=item)
        finally:
            stop.set()
            await asyncio.shield(worker)
        if held is not None:
            calls = parse_tool_call_text(held, known)
            if calls:
                self._send(
                    tool_calls=[
                        llm.FunctionToolCall(name=n, arguments=json.dumps(a), call_id=shortuuid("call_"))
                        for n, a in calls
                    ]
                )
            else:
                self._send(content=held)  # not a call: spoken as it is (raw JSON included), as the plain recipe does

    def _send(self, *, content: str | None = None, tool_calls: list[llm.FunctionToolCall] | None = None) -> None:
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=self._id, delta=llm.ChoiceDelta(role="assistant", content=content, tool_calls=tool_calls or [])
            )
        )


class PlainWhisperSTT(stt.STT[Literal["metrics_collected", "error"]]):
    """faster-whisper tiny.en (int8, 2 threads, beam 5), one decode per VAD segment: LiveKit's StreamAdapter."""

    def __init__(self, model_path: Path, *, threads: int = 2) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(model_path), device="cpu", compute_type="int8", cpu_threads=threads)
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return "whisper-tiny.en"

    @property
    def provider(self) -> str:
        return "faster-whisper"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = utils.combine_frames(buffer)
        samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0
        if frame.num_channels > 1:
            samples = samples.reshape(-1, frame.num_channels).mean(axis=1)
        if frame.sample_rate != 16000:
            idx = np.linspace(0, len(samples) - 1, int(len(samples) * 16000 / frame.sample_rate))
            samples = np.interp(idx, np.arange(len(samples)), samples).astype(np.float32)

        def decode() -> str:
            with self._lock:
                segments, _ = self._model.transcribe(samples, language="en", beam_size=5)
                return " ".join(s.text.strip() for s in segments).strip()

        text = await asyncio.to_thread(decode)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=shortuuid(),
            alternatives=[stt.SpeechData(language=LanguageCode("en"), text=text)],
        )


class BaselineModels:
    """The baseline's models, loaded once: Silero (LiveKit's defaults), Whisper, plain llama.cpp chat, hibari."""

    def __init__(self, llm_model: str = "qwen2.5-coder-0.5b") -> None:
        self.vad = build_silero_vad()
        self.stt = PlainWhisperSTT(weights.resolve("whisper-tiny.en", progress=False))
        self.llm = PlainLlamaLLM(weights.resolve(llm_model, progress=False))
        self.tts = HibariTTS()


def baseline_session(models: BaselineModels, mcp_url: str) -> tuple[AgentSession[Any], Agent]:
    """The recipe's AgentSession (LiveKit defaults) and an Agent with LiveKit's MCP toolset on `mcp_url`."""
    toolset = MCPToolset(id="mcp", mcp_server=MCPServerHTTP(url=mcp_url))
    session: AgentSession[Any] = AgentSession(vad=models.vad, stt=models.stt, llm=models.llm, tts=models.tts)
    agent = Agent(instructions=SEED_INSTRUCTIONS, tools=[toolset])
    return session, agent
