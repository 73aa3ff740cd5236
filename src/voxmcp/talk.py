"""`voxmcp talk`: the whole voice pipeline on a recording, no devices, no LiveKit server.

A WAV is played into the AgentSession as the microphone (real-time pace), the agent's speech is recorded with
simulated playout, and everything a user or a test wants to know is collected: both sides' transcript, each tool
call with arguments and result, and per-stage timings measured from the end of the user's speech.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from livekit.agents import (
    AgentStateChangedEvent,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    MetricsCollectedEvent,
    UserInputTranscribedEvent,
)
from livekit.agents.llm import ChatMessage
from livekit.agents.metrics import LLMMetrics

from voxmcp.app import Models, VoiceAgentRuntime
from voxmcp.audio.file_io import RecordingAudioOutput, WavAudioInput
from voxmcp.audio.wav import AudioFileError, MonoAudio, read_wav
from voxmcp.config import Settings

logger = logging.getLogger(__name__)

SILENCE_DBFS = -45.0


@dataclass
class ToolCallRecord:
    name: str
    arguments: str
    output: str
    is_error: bool
    finished_at: float


@dataclass
class TalkResult:
    user_transcript: list[str] = field(default_factory=list)
    agent_transcript: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    output_wav: Path | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def agent_text(self) -> str:
        return " ".join(self.agent_transcript)


def speech_bounds(
    audio: MonoAudio, *, threshold_dbfs: float = SILENCE_DBFS, window_ms: int = 20
) -> tuple[float, float]:
    """(start, end) in seconds of the audible part of a recording; raises AudioFileError when it is all silence."""
    n = max(1, audio.sample_rate * window_ms // 1000)
    samples = audio.samples.astype(np.float32) / 32768.0
    frames = len(samples) // n
    if frames == 0:
        raise AudioFileError("the recording is empty")
    rms = np.sqrt(np.mean(samples[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms) > threshold_dbfs)[0]
    if len(loud) == 0:
        raise AudioFileError("the recording is silent: there is no speech to answer")
    return loud[0] * n / audio.sample_rate, (loud[-1] + 1) * n / audio.sample_rate


async def run_talk(
    settings: Settings,
    models: Models,
    audio: MonoAudio | Path,
    *,
    output_wav: Path | None = None,
    greet: bool = False,
    settle_s: float = 1.5,
    timeout_s: float = 90.0,
    runtime: VoiceAgentRuntime | None = None,
) -> TalkResult:
    """Run one spoken request through the full pipeline and wait for the agent's complete answer (bounded)."""
    mono = read_wav(audio, sample_rate=16000) if isinstance(audio, Path) else audio
    _, speech_end_offset = speech_bounds(mono)
    result = TalkResult()
    own_runtime = runtime is None
    rt = runtime or VoiceAgentRuntime(settings, models, greet=greet)
    t_prep = time.perf_counter()
    if own_runtime:
        await rt.prepare()
    result.timings.update(rt.timings)
    result.timings["prepare_s"] = round(time.perf_counter() - t_prep, 3)

    session, agent = rt.new_session(interruptions=False)
    audio_in = WavAudioInput(mono, sample_rate=16000, leading_silence_s=0.3, max_tail_s=timeout_s)
    audio_out = RecordingAudioOutput(sample_rate=getattr(models.tts, "sample_rate", 24000))
    session.input.audio = audio_in
    session.output.audio = audio_out

    marks: dict[str, float] = {}
    state = {"agent": "initializing", "last_change": time.time(), "replied": False}

    @session.on("user_input_transcribed")
    def _on_transcript(ev: UserInputTranscribedEvent) -> None:
        if ev.is_final and ev.transcript.strip():
            marks.setdefault("final_transcript", time.time())

    @session.on("conversation_item_added")
    def _on_item(ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, ChatMessage) and item.text_content:
            if item.role == "user":
                result.user_transcript.append(item.text_content)
            elif item.role == "assistant":
                result.agent_transcript.append(item.text_content)
                if "final_transcript" in marks:
                    state["replied"] = True

    @session.on("function_tools_executed")
    def _on_tools(ev: FunctionToolsExecutedEvent) -> None:
        now = time.time()
        marks.setdefault("tool_result", now)
        for call, out in ev.zipped():
            result.tool_calls.append(
                ToolCallRecord(
                    name=call.name,
                    arguments=call.arguments,
                    output=out.output if out is not None else "",
                    is_error=bool(out and out.is_error),
                    finished_at=now,
                )
            )

    @session.on("metrics_collected")
    def _on_metrics(ev: MetricsCollectedEvent) -> None:
        m = ev.metrics
        if isinstance(m, LLMMetrics) and m.ttft >= 0 and "final_transcript" in marks:
            if "first_llm_token" not in marks:
                marks["first_llm_token"] = m.timestamp - m.duration + m.ttft
                result.timings["llm_prompt_tokens"] = m.prompt_tokens
                result.timings["llm_cached_tokens"] = m.prompt_cached_tokens

    @session.on("agent_state_changed")
    def _on_state(ev: AgentStateChangedEvent) -> None:
        state["agent"] = ev.new_state
        state["last_change"] = time.time()

    @session.on("error")
    def _on_error(ev: Any) -> None:
        result.errors.append(str(getattr(ev, "error", ev)))

    t_start = time.perf_counter()
    try:
        await session.start(agent=agent)
        result.timings["session_start_s"] = round(time.perf_counter() - t_start, 3)
        deadline = time.monotonic() + mono.duration + timeout_s
        await asyncio.wait_for(audio_in.finished.wait(), timeout=mono.duration + 10)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            quiet_for = time.time() - float(state["last_change"])  # type: ignore[arg-type]
            if state["replied"] and state["agent"] == "listening" and quiet_for > settle_s:
                break
        else:
            result.errors.append(f"no complete answer within {timeout_s:.0f} s")
    finally:
        audio_in.stop()
        await rt.aclose() if own_runtime else await session.aclose()
    if audio_in.started_at is not None:
        speech_end = audio_in.started_at + 0.3 + speech_end_offset
        marks["speech_end"] = speech_end
        first_audio = next(
            (s.first_frame_at for s in audio_out.segments if s.first_frame_at > speech_end), None
        )
        if first_audio is not None:
            marks["first_audio"] = first_audio
        for key in ("final_transcript", "first_llm_token", "tool_result", "first_audio"):
            if key in marks:
                result.timings[f"{key}_s"] = round(marks[key] - speech_end, 3)
    if output_wav is not None:
        result.output_wav = audio_out.write_wav(output_wav)
    return result


def format_result(result: TalkResult) -> list[str]:
    """Human-readable lines: transcript, tool calls, timings."""
    lines = [f"you:   {t}" for t in result.user_transcript]
    for c in result.tool_calls:
        status = "error" if c.is_error else "ok"
        lines.append(f"tool:  {c.name}({c.arguments}) -> [{status}] {c.output}")
    lines += [f"agent: {t}" for t in result.agent_transcript]
    labels = {
        "final_transcript_s": "end of speech -> final transcript",
        "first_llm_token_s": "end of speech -> first LLM token",
        "tool_result_s": "end of speech -> tool result",
        "first_audio_s": "end of speech -> first audio",
        "mcp_connect_s": "MCP connect",
        "llm_prefill_s": "LLM prefill (system prompt + tools)",
    }
    for key, label in labels.items():
        if key in result.timings:
            lines.append(f"time:  {label}: {result.timings[key]:.2f} s")
    lines += [f"error: {e}" for e in result.errors]
    return lines
