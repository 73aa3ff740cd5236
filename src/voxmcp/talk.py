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
    UserStateChangedEvent,
)
from livekit.agents.llm import ChatMessage
from livekit.agents.metrics import LLMMetrics

from voxmcp.app import Models, VoiceAgentRuntime
from voxmcp.audio.file_io import PlayedSegment, RecordingAudioOutput, WavAudioInput
from voxmcp.audio.speech import MAX_RECORDING_S, SILENCE_DBFS, pauses, speech_bounds
from voxmcp.audio.wav import MonoAudio, frames_to_mono, read_wav
from voxmcp.config import Settings

logger = logging.getLogger(__name__)

_LEAD_S = 0.3
"""Silence played before the recording, as from a microphone opened before the user speaks."""
_TURN_GAP_MARGIN_S = 0.25
"""A pause this much longer than the session's end of turn (VAD silence + endpointing) is where the user waits."""
_RESUME_LEAD_S = 0.2
"""The held recording goes on this far before the next speech (the VAD needs a little lead-in)."""
_RESUME_QUIET_S = 0.5
_IDLE_END_S = 6.0
"""Nothing pending and no sign of activity (speech detected, a transcript, the agent's state) for this long, plus
the length of the last stretch the VAD took for speech (its decode may still run): a held recording goes on, a
finished one ends (the last utterance was noise, or went unanswered)."""
NOTHING_HEARD = "No speech was heard in the recording: it holds only noise or sounds the recognizer can't use."


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
    conversation: list[tuple[str, str]] = field(default_factory=list)
    """("you" | "agent" | "tool", text) in the order they happened, with a dialog's question and answer."""

    @property
    def agent_text(self) -> str:
        return " ".join(self.agent_transcript)


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
    """Run a recording through the full pipeline and wait (bounded) for the agent's complete answer.

    The recording may hold a whole exchange: at each pause long enough to end a turn the recording is held
    until the agent has answered, or until it asks something (a confirmation, an elicitation's form), so the
    rest of the recording is the user's answer. The whole run ends by the recording's length plus `timeout_s`.
    """
    mono = read_wav(audio, sample_rate=16000, max_seconds=MAX_RECORDING_S) if isinstance(audio, Path) else audio
    _, speech_end_offset = speech_bounds(mono)
    v = settings.voice
    # the longest a turn may wait after the last word: with the end-of-turn model, a pause it hears as mid-sentence
    wait_s = v.model_max_delay_s if v.turn_detection == "model" else v.endpointing_min_s
    turn_gap_s = v.min_silence_s + wait_s + _TURN_GAP_MARGIN_S
    gaps = pauses(mono, min_gap_s=turn_gap_s)
    if gaps:
        speech_end_offset = gaps[0][0]  # timings are measured from the end of the first utterance, the request
    result = TalkResult()
    own_runtime = runtime is None
    rt = runtime or VoiceAgentRuntime(settings, models, greet=greet)
    t_prep = time.perf_counter()
    if own_runtime:
        await rt.prepare()
    result.timings.update(rt.timings)
    result.timings["prepare_s"] = round(time.perf_counter() - t_prep, 3)

    session, agent = rt.new_session(interruptions=False)
    marks: dict[str, float] = {}
    now = time.time()
    state: dict[str, Any] = {"agent": "initializing", "last_change": now, "agent_change": now}
    state.update(heard_at=0.0, reply_at=0.0)
    audio_out = RecordingAudioOutput(sample_rate=getattr(models.tts, "sample_rate", 24000))

    def agent_quiet(for_s: float) -> bool:
        return (
            state["agent"] == "listening"
            and not audio_out.playing
            and not rt.voice.busy
            and time.time() - float(state["last_change"]) > for_s
        )

    def idle_s() -> float:
        return _IDLE_END_S + float(state.get("last_speech_s", 0.0))

    def may_resume() -> bool:
        """The held recording goes on once a dialog waits for its answer, or the agent has answered (or,
        when nothing came of the last utterance, once nothing has happened for a while)."""
        if rt.voice.awaiting_answer:
            return True
        held = audio_in.hold_started_at
        if held is None or not agent_quiet(_RESUME_QUIET_S):
            return False
        answered = float(state["agent_change"]) > held
        return answered or time.time() - float(state["last_change"]) > idle_s()

    audio_in = WavAudioInput(
        mono,
        sample_rate=16000,
        leading_silence_s=_LEAD_S,
        max_tail_s=timeout_s,
        holds=[(start, max(start, end - _RESUME_LEAD_S)) for start, end in gaps],
        may_resume=may_resume,
        max_hold_s=timeout_s,
    )
    session.input.audio = audio_in
    session.output.audio = audio_out

    @session.on("user_input_transcribed")
    def _on_transcript(ev: UserInputTranscribedEvent) -> None:
        state["last_change"] = time.time()
        if ev.is_final and ev.transcript.strip():
            marks.setdefault("final_transcript", time.time())
            state["heard_at"] = time.time()

    @session.on("conversation_item_added")
    def _on_item(ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, ChatMessage) and item.text_content:
            if item.role == "user":
                result.user_transcript.append(item.text_content)
                result.conversation.append(("you", item.text_content))
            elif item.role == "assistant":
                result.agent_transcript.append(item.text_content)
                result.conversation.append(("agent", item.text_content))
                if "final_transcript" in marks:
                    state["reply_at"] = time.time()

    def _on_dialog_line(who: str, text: str) -> None:
        result.conversation.append(("you" if who == "user" else "agent", text))

    rt.voice.on_dialog_line = _on_dialog_line

    @session.on("function_tools_executed")
    def _on_tools(ev: FunctionToolsExecutedEvent) -> None:
        now = time.time()
        marks.setdefault("tool_result", now)
        for call, out in ev.zipped():
            record = ToolCallRecord(
                name=call.name,
                arguments=call.arguments,
                output=out.output if out is not None else "",
                is_error=bool(out and out.is_error),
                finished_at=now,
            )
            result.tool_calls.append(record)
            result.conversation.append(("tool", _tool_line(record)))

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
        state["last_change"] = state["agent_change"] = time.time()

    @session.on("user_state_changed")
    def _on_user_state(ev: UserStateChangedEvent) -> None:
        now = time.time()
        if ev.new_state == "speaking":
            state["speech_from"] = now
        elif ev.old_state == "speaking":
            state["last_speech_s"] = now - float(state.get("speech_from", now))
        state["user"] = ev.new_state
        state["last_change"] = now

    @session.on("error")
    def _on_error(ev: Any) -> None:
        result.errors.append(str(getattr(ev, "error", ev)))

    t_start = time.perf_counter()
    deadline = time.monotonic() + mono.duration + timeout_s
    try:
        await session.start(agent=agent)
        result.timings["session_start_s"] = round(time.perf_counter() - t_start, 3)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if not audio_in.finished.is_set():
                continue
            replied = float(state["reply_at"]) > float(state["heard_at"]) > 0
            if replied and agent_quiet(settle_s):
                break
            if not replied and state.get("user") != "speaking" and agent_quiet(idle_s()):
                # nothing is being said, heard or answered: waiting longer can't change the outcome
                heard = float(state["heard_at"]) > 0
                result.errors.append("The agent did not answer what it heard." if heard else NOTHING_HEARD)
                break
        else:
            result.errors.append(f"No complete answer within {timeout_s:.0f} s after the recording.")
    finally:
        audio_in.stop()
        await rt.aclose() if own_runtime else await session.aclose()
    speech_end = audio_in.wall_time_at(_LEAD_S + speech_end_offset)
    if speech_end is not None:
        marks["speech_end"] = speech_end
        first_audio = next((s.first_frame_at for s in audio_out.segments if s.first_frame_at > speech_end), None)
        if first_audio is not None:
            marks["first_audio"] = first_audio
        rate = audio_out.sample_rate or 24000
        audible = (first_audible_at(s, rate) for s in audio_out.segments if s.first_frame_at > speech_end)
        if (first_audible := next((a for a in audible if a is not None), None)) is not None:
            marks["first_audible"] = first_audible
        for key in ("final_transcript", "first_llm_token", "tool_result", "first_audio", "first_audible"):
            if key in marks:
                result.timings[f"{key}_s"] = round(marks[key] - speech_end, 3)
    if output_wav is not None:
        result.output_wav = audio_out.write_wav(output_wav)
    return result


def _tool_line(call: ToolCallRecord) -> str:
    return f"{call.name}({call.arguments}) -> [{'error' if call.is_error else 'ok'}] {call.output}"


def format_result(result: TalkResult) -> list[str]:
    """Human-readable lines: the conversation in order (both sides, tool calls), then timings."""
    if result.conversation:
        lines = [f"{who + ':':<6} {text}" for who, text in result.conversation]
    else:
        lines = [f"you:   {t}" for t in result.user_transcript]
        lines += [f"tool:  {_tool_line(c)}" for c in result.tool_calls]
        lines += [f"agent: {t}" for t in result.agent_transcript]
    labels = {
        "final_transcript_s": "end of speech -> final transcript",
        "first_llm_token_s": "end of speech -> first LLM token",
        "tool_result_s": "end of speech -> tool result",
        "first_audio_s": "end of speech -> first audio",
        "first_audible_s": "end of speech -> first audible sample",
        "mcp_connect_s": "MCP connect",
        "llm_prefill_s": "LLM prefill (system prompt + tools)",
    }
    for key, label in labels.items():
        if key in result.timings:
            lines.append(f"time:  {label}: {result.timings[key]:.2f} s")
    lines += [f"error: {e}" for e in result.errors]
    return lines


# ---- conversations: several turns, barge-in, first audible sample ------------------------------------------------


def first_audible_offset(
    audio: MonoAudio, *, threshold_dbfs: float = SILENCE_DBFS, window_ms: int = 10
) -> float | None:
    """Seconds into `audio` of its first audible window (None when it is all silence).

    A TTS segment can start with silence; latency to the first frame would then flatter the agent.
    """
    n = max(1, audio.sample_rate * window_ms // 1000)
    samples = audio.samples.astype(np.float32) / 32768.0
    frames = len(samples) // n
    if frames == 0:
        return None
    rms = np.sqrt(np.mean(samples[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms) > threshold_dbfs)[0]
    return None if len(loud) == 0 else float(loud[0] * n / audio.sample_rate)


def segment_audio(segment: PlayedSegment, sample_rate: int) -> MonoAudio:
    """What the simulated speaker played of one segment (cut where an interruption stopped it)."""
    if not segment.frames:
        return MonoAudio(samples=np.zeros(0, np.int16), sample_rate=sample_rate)
    audio = frames_to_mono(segment.frames, sample_rate=sample_rate)
    if segment.finished_at is not None:
        audio = MonoAudio(samples=audio.samples[: round(segment.played_s * sample_rate)], sample_rate=sample_rate)
    return audio


def first_audible_at(segment: PlayedSegment, sample_rate: int) -> float | None:
    """Wall-clock time (time.time()) the speaker played the segment's first audible sample."""
    audio = segment_audio(segment, sample_rate)
    offset = first_audible_offset(audio)
    if offset is None:
        return None
    elapsed = 0.0
    for start, duration in segment._schedule:
        if elapsed + duration > offset:
            return start + (offset - elapsed)
        elapsed += duration
    return None
