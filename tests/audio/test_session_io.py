"""WavAudioInput and RecordingAudioOutput inside a real AgentSession: Silero VAD -> whisper -> an echo
LLM -> hibari. Checks the I/O contract with LiveKit end to end (turn detected from paced audio plus the
silence tail, agent audio captured with playout events) and that the spoken reply is intelligible."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import Agent, AgentSession, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr

from voxmcp.audio.file_io import RecordingAudioOutput, WavAudioInput
from voxmcp.audio.wav import read_wav
from voxmcp.models.providers import build_vad
from voxmcp.models.stt import WhisperSTT
from voxmcp.models.tts import HibariTTS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="apt-get install espeak-ng"),
]


class _EchoStream(llm.LLMStream):
    async def _run(self) -> None:
        said = next((m.text_content for m in reversed(self.chat_ctx.messages()) if m.role == "user"), "")
        reply = f"You said: {said}"
        for word in reply.split(" "):
            self._event_ch.send_nowait(
                llm.ChatChunk(id="echo", delta=llm.ChoiceDelta(role="assistant", content=word + " "))
            )


class _EchoLLM(llm.LLM):
    """Repeats the user's words: the test needs a deterministic reply, not a model."""

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
        return _EchoStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


async def test_spoken_turn_through_a_session(tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    cmd = ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(question), "Please remember to buy bread."]
    await asyncio.to_thread(subprocess.run, cmd, check=True, timeout=30)
    stt = WhisperSTT()
    await asyncio.to_thread(stt.warm_up)
    session: AgentSession[None] = AgentSession(
        vad=build_vad("silero", min_silence_duration=0.4),
        stt=stt,
        llm=_EchoLLM(),
        tts=HibariTTS(),
        turn_handling={"turn_detection": "vad", "endpointing": {"min_delay": 0.2, "max_delay": 3.0}},
        user_away_timeout=None,
        aec_warmup_duration=None,
    )
    audio_in = WavAudioInput(question, sample_rate=16000, leading_silence_s=0.3, max_tail_s=20)
    audio_out = RecordingAudioOutput(sample_rate=24000)
    session.input.audio = audio_in
    session.output.audio = audio_out
    events: list[str] = []
    reply_played = asyncio.Event()
    audio_out.on("playback_finished", lambda _ev: reply_played.set())
    audio_out.on("playback_started", lambda _ev: events.append("started"))
    audio_out.on("playback_finished", lambda ev: events.append("interrupted" if ev.interrupted else "finished"))
    agent_said: list[str] = []
    session.on(
        "conversation_item_added",
        lambda ev: agent_said.append(ev.item.text_content or "") if ev.item.role == "assistant" else None,
    )
    try:
        await session.start(agent=Agent(instructions="echo"))
        await asyncio.wait_for(audio_in.finished.wait(), 15)
        await asyncio.wait_for(reply_played.wait(), 20)
    finally:
        audio_in.stop()
        await session.aclose()
    assert agent_said, "the agent never answered"
    assert "bread" in agent_said[0].lower()
    assert events[:2] == ["started", "finished"]
    seg = audio_out.segments[0]
    assert audio_in.speech_ended_at is not None
    latency = seg.first_frame_at - audio_in.speech_ended_at
    print(f"end of file speech -> first agent audio: {latency:.2f} s")
    assert 0.0 < latency < 8.0
    reply = read_wav(audio_out.write_wav(tmp_path / "answer.wav"), sample_rate=16000)
    heard = (await stt.recognize(reply.frames(20))).alternatives[0].text.lower()
    assert "bread" in heard, heard
