"""Small scripted models for driving a real AgentSession in tests: no audio, no weights, no timing guesses.

`ScriptedSTT` turns `user_says("...")` into a user turn (start of speech, final transcript, end of speech) on
the live recognition stream, so turn detection runs in "stt" mode. `ScriptedLLM` answers each request with
the next scripted reply (text or a tool call). `RecordingTTS` records every text it is asked to speak and
returns a few milliseconds of silence for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import AgentSession, llm, stt, tts, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.voice.io import AudioInput

from livekit import rtc
from voxmcp.audio.file_io import RecordingAudioOutput

SAMPLE_RATE_IN = 16000
SAMPLE_RATE_OUT = 24000


class SilentAudioInput(AudioInput):
    """A microphone that hears silence: 20 ms frames at real-time pace until closed."""

    def __init__(self) -> None:
        super().__init__(label="SilentAudioInput")
        self._closed = False

    def close(self) -> None:
        self._closed = True

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        await asyncio.sleep(0.02)
        samples = SAMPLE_RATE_IN // 50
        return rtc.AudioFrame(
            data=b"\x00\x00" * samples, sample_rate=SAMPLE_RATE_IN, num_channels=1, samples_per_channel=samples
        )


class _ScriptedStream(stt.RecognizeStream):
    def __init__(self, *, stt_: ScriptedSTT, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=stt_, conn_options=conn_options)
        self._utterances: asyncio.Queue[str] = asyncio.Queue()

    @property
    def live(self) -> bool:
        return not self._task.done()

    def say(self, text: str) -> None:
        self._utterances.put_nowait(text)

    async def _run(self) -> None:
        async def drain_audio() -> None:
            async for _ in self._input_ch:
                pass

        drain = asyncio.create_task(drain_audio())
        try:
            while True:
                nxt = asyncio.ensure_future(self._utterances.get())
                await asyncio.wait([nxt, drain], return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():
                    nxt.cancel()
                    return
                text = nxt.result()
                data = stt.SpeechData(language=LanguageCode("en"), text=text, confidence=1.0)
                self._event_ch.send_nowait(stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH))
                self._event_ch.send_nowait(
                    stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data])
                )
                self._event_ch.send_nowait(stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH))
        finally:
            await utils.aio.cancel_and_wait(drain)


class ScriptedSTT(stt.STT[Any]):
    """Streaming STT whose transcripts come from the test: `user_says(text)` is one complete user turn."""

    def __init__(self) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self._streams: list[_ScriptedStream] = []

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[stt.SpeechData(language=LanguageCode("en"), text="")],
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        stream = _ScriptedStream(stt_=self, conn_options=conn_options)
        self._streams.append(stream)
        return stream

    def user_says(self, text: str) -> None:
        """Deliver one user turn to the newest live recognition stream (the active agent's)."""
        live = [s for s in self._streams if s.live]
        if not live:
            raise RuntimeError("no live STT stream: is the session started with an audio input?")
        live[-1].say(text)


@dataclass
class ToolCallReply:
    """A scripted LLM reply that calls one tool."""

    name: str
    arguments: dict[str, Any]
    preamble: str = ""
    """Text the model says before the call ("One moment."), as a model with a tool preamble does."""


LLMReply = str | ToolCallReply
Responder = Callable[[llm.ChatContext], LLMReply]


@dataclass
class ScriptedLLM(llm.LLM[Any]):
    """Answers each request with the next scripted reply; "Okay." once the script runs out."""

    replies: list[LLMReply | Responder] = field(default_factory=list)
    requests: list[llm.ChatContext] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        self.requests.append(chat_ctx.copy())
        nxt: LLMReply | Responder = self.replies.pop(0) if self.replies else "Okay."
        reply = nxt(chat_ctx) if callable(nxt) else nxt
        return _ScriptedLLMStream(self, reply, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _ScriptedLLMStream(llm.LLMStream):
    def __init__(
        self,
        llm_: ScriptedLLM,
        reply: LLMReply,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._reply = reply

    async def _run(self) -> None:
        reply = self._reply
        if isinstance(reply, ToolCallReply):
            if reply.preamble:
                said = llm.ChoiceDelta(role="assistant", content=reply.preamble)
                self._event_ch.send_nowait(llm.ChatChunk(id=utils.shortuuid("chunk_"), delta=said))
            call = llm.FunctionToolCall(
                name=reply.name, arguments=json.dumps(reply.arguments), call_id=utils.shortuuid("call_")
            )
            delta = llm.ChoiceDelta(role="assistant", tool_calls=[call])
        else:
            delta = llm.ChoiceDelta(role="assistant", content=reply)
        self._event_ch.send_nowait(llm.ChatChunk(id=utils.shortuuid("chunk_"), delta=delta))


class _SilenceStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        assert isinstance(self._tts, RecordingTTS)
        self._tts.spoken.append(self.input_text)
        output_emitter.initialize(
            request_id=utils.shortuuid("tts_"),
            sample_rate=SAMPLE_RATE_OUT,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(b"\x00\x00" * (SAMPLE_RATE_OUT // 20))  # 50 ms
        output_emitter.flush()


class RecordingTTS(tts.TTS[Any]):
    """Records what the agent says; each text becomes 50 ms of silence."""

    def __init__(self) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=SAMPLE_RATE_OUT, num_channels=1)
        self.spoken: list[str] = []

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _SilenceStream(tts=self, input_text=text, conn_options=conn_options)

    def said(self, fragment: str) -> bool:
        return any(fragment.lower() in text.lower() for text in self.spoken)


@dataclass
class FakeVoice:
    """A session wired to the scripted models, and its parts."""

    session: AgentSession[None]
    stt: ScriptedSTT
    llm: ScriptedLLM
    tts: RecordingTTS
    audio_in: SilentAudioInput
    audio_out: RecordingAudioOutput


def fake_voice(replies: list[LLMReply | Responder] | None = None) -> FakeVoice:
    stt_ = ScriptedSTT()
    llm_ = ScriptedLLM(replies=list(replies or []))
    tts_ = RecordingTTS()
    session: AgentSession[None] = AgentSession(
        stt=stt_,
        llm=llm_,
        tts=tts_,
        turn_handling={
            "turn_detection": "stt",
            "endpointing": {"min_delay": 0.05, "max_delay": 0.5},
            "preemptive_generation": {"enabled": False},
        },
        user_away_timeout=None,
        aec_warmup_duration=None,
    )
    audio_in = SilentAudioInput()
    audio_out = RecordingAudioOutput(sample_rate=SAMPLE_RATE_OUT)
    session.input.audio = audio_in
    session.output.audio = audio_out
    return FakeVoice(session=session, stt=stt_, llm=llm_, tts=tts_, audio_in=audio_in, audio_out=audio_out)


async def eventually(check: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Wait (bounded) until `check()` holds; fails the test naming `what` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)
