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
    Agent,
    AgentSession,
    AgentStateChangedEvent,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    MetricsCollectedEvent,
    UserInputTranscribedEvent,
    UserStateChangedEvent,
)
from livekit.agents.llm import ChatMessage
from livekit.agents.metrics import LLMMetrics
from livekit.agents.voice import io

from livekit import rtc
from voxmcp.app import Models, VoiceAgentRuntime
from voxmcp.audio.file_io import PlayedSegment, RecordingAudioOutput, WavAudioInput
from voxmcp.audio.speech import MAX_RECORDING_S, SILENCE_DBFS, pauses, speech_bounds
from voxmcp.audio.wav import MonoAudio, frames_to_mono, read_wav, resample
from voxmcp.config import Settings
from voxmcp.mcp.interaction import ElicitFn

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
    turn_gap_s = settings.voice.min_silence_s + settings.voice.endpointing_min_s + _TURN_GAP_MARGIN_S
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


class ScriptedMicrophone(io.AudioInput):
    """A microphone that hears silence, paced in real time, and the utterances queued with `play()`.

    Unlike WavAudioInput it stays open across turns, so one AgentSession can hear a whole conversation, and an
    utterance can be played while the agent is still talking (barge-in).
    """

    def __init__(
        self, *, sample_rate: int = 16000, frame_ms: int = 20, max_s: float = 900.0, label: str = "ScriptedMic"
    ) -> None:
        super().__init__(label=label)
        self.sample_rate = sample_rate
        self._frame_s = frame_ms / 1000
        self._silence = rtc.AudioFrame.create(sample_rate, 1, sample_rate * frame_ms // 1000)
        self._frame_ms = frame_ms
        self._max_frames = int(max_s / self._frame_s)
        self._queue: list[tuple[list[rtc.AudioFrame], asyncio.Future[float]]] = []
        self._current: list[rtc.AudioFrame] = []
        self._current_done: asyncio.Future[float] | None = None
        self._current_started: float = 0.0
        self._index = 0
        self._t0: float | None = None
        self._stopped = asyncio.Event()

    def play(self, audio: MonoAudio) -> asyncio.Future[float]:
        """Queue an utterance; the future resolves to the wall-clock time (time.time()) its first frame was heard."""
        if audio.sample_rate != self.sample_rate:
            audio = resample(audio, self.sample_rate)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._queue.append((audio.frames(self._frame_ms), done))
        return done

    @property
    def busy(self) -> bool:
        return bool(self._current or self._queue)

    def stop(self) -> None:
        self._stopped.set()

    async def __anext__(self) -> rtc.AudioFrame:
        if self._stopped.is_set() or self._index >= self._max_frames:
            raise StopAsyncIteration
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        due = self._t0 + self._index * self._frame_s
        if due > now:
            try:
                await asyncio.wait_for(self._stopped.wait(), timeout=due - now)
            except TimeoutError:
                pass
            if self._stopped.is_set():
                raise StopAsyncIteration
        self._index += 1
        if not self._current and self._queue:
            self._current, self._current_done = self._queue.pop(0)
            self._current_started = time.time()
            if not self._current_done.done():
                self._current_done.set_result(self._current_started)
        if self._current:
            return self._current.pop(0)
        return self._silence


@dataclass
class TurnResult:
    """One user utterance and everything the agent did in answer, timed from the end of the user's speech."""

    user_text_heard: list[str] = field(default_factory=list)
    agent_text: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    agent_audio: MonoAudio | None = None
    interrupted: bool = False
    """The agent's speech in this turn was cut by the user's barge-in."""
    speech_end: float = 0.0
    errors: list[str] = field(default_factory=list)
    completed: bool = True


class ConversationDriver:
    """Drives one started-or-not AgentSession with scripted user speech and records what the agent does.

    Works with any AgentSession (voxmcp's or a baseline's): it only swaps the audio I/O for a ScriptedMicrophone
    and a RecordingAudioOutput and listens to the session's events.
    """

    def __init__(self, session: AgentSession[Any], agent: Agent, *, output_sample_rate: int = 24000) -> None:
        self.session = session
        self.agent = agent
        self.mic = ScriptedMicrophone(sample_rate=16000)
        self.speaker = RecordingAudioOutput(sample_rate=output_sample_rate)
        self.sample_rate = output_sample_rate
        session.input.audio = self.mic
        session.output.audio = self.speaker
        self.user_items: list[tuple[float, str]] = []
        self.agent_items: list[tuple[float, str]] = []
        self.finals: list[tuple[float, str]] = []  # what the STT heard, when
        self.tool_calls: list[ToolCallRecord] = []
        self.llm_starts: list[tuple[float, float]] = []  # (request start, first token) wall-clock
        self.errors: list[str] = []
        self.state = "initializing"
        self.last_change = time.time()
        self._started = False
        session.on("user_input_transcribed", self._on_transcript)
        session.on("conversation_item_added", self._on_item)
        session.on("function_tools_executed", self._on_tools)
        session.on("metrics_collected", self._on_metrics)
        session.on("agent_state_changed", self._on_state)
        session.on("error", self._on_error)

    def _on_transcript(self, ev: UserInputTranscribedEvent) -> None:
        if ev.is_final and ev.transcript.strip():
            self.finals.append((time.time(), ev.transcript.strip()))

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, ChatMessage) and item.text_content:
            target = self.user_items if item.role == "user" else self.agent_items if item.role == "assistant" else None
            if target is not None:
                target.append((time.time(), item.text_content))

    def _on_tools(self, ev: FunctionToolsExecutedEvent) -> None:
        now = time.time()
        for call, out in ev.zipped():
            self.tool_calls.append(
                ToolCallRecord(
                    name=call.name,
                    arguments=call.arguments,
                    output=out.output if out is not None else "",
                    is_error=bool(out and out.is_error),
                    finished_at=now,
                )
            )

    def _on_metrics(self, ev: MetricsCollectedEvent) -> None:
        m = ev.metrics
        if isinstance(m, LLMMetrics) and m.ttft >= 0:
            start = m.timestamp - m.duration
            self.llm_starts.append((start, start + m.ttft))

    def _on_state(self, ev: AgentStateChangedEvent) -> None:
        self.state = ev.new_state
        self.last_change = time.time()

    def _on_error(self, ev: Any) -> None:
        self.errors.append(str(getattr(ev, "error", ev)))

    async def start(self, *, wait_for_greeting_s: float = 0.0, lead_in_s: float = 0.5) -> float:
        """Start the session; with `wait_for_greeting_s`, wait (bounded) for a greeting to finish. Returns seconds.

        `lead_in_s` of silence reach the pipeline before the first utterance can, as with a microphone that was open
        before the user spoke (the first words are not played into a pipeline still starting up).
        """
        t0 = time.perf_counter()
        await self.session.start(agent=self.agent)
        self._started = True
        await asyncio.sleep(lead_in_s)
        if wait_for_greeting_s > 0:
            deadline = time.monotonic() + wait_for_greeting_s
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                if self.speaker.segments and not self.speaker.playing and self.state == "listening":
                    break
        return time.perf_counter() - t0

    async def turn(
        self,
        audio: MonoAudio,
        *,
        barge_in: MonoAudio | None = None,
        barge_in_after_s: float = 1.0,
        settle_s: float = 1.5,
        timeout_s: float = 90.0,
        speech_end_s: float | None = None,
        more_to_say: bool = False,
    ) -> list[TurnResult]:
        """Say `audio`, wait (bounded) until the agent has answered and gone quiet.

        With `barge_in`, the user speaks `barge_in` `barge_in_after_s` seconds into the agent's spoken answer;
        the result then holds two turns: the interrupted one and the answer to the barge-in. `speech_end_s`: where
        speech ends in `audio` when its loudness can't tell (speech mixed with noise).
        """
        if not self._started:
            raise RuntimeError("start() the conversation before the first turn")
        speech_end_offset = speech_end_s if speech_end_s is not None else speech_bounds(audio)[1]
        started = await asyncio.wait_for(self.mic.play(audio), timeout=timeout_s)
        speech_end = started + float(speech_end_offset)
        first_end: float | None = None
        barge_started = 0.0
        if barge_in is not None:
            heard = await self._wait_until_audible(speech_end, timeout_s)
            if heard is None:
                first = self._collect(speech_end, time.time())
                first.errors.append(f"the agent said nothing to barge in on within {timeout_s:.0f} s")
                first.completed = False
                return [first]
            await asyncio.sleep(max(0.0, heard + barge_in_after_s - time.time()))
            _, barge_end_offset = speech_bounds(barge_in)
            barge_started = await asyncio.wait_for(self.mic.play(barge_in), timeout=timeout_s)
            first_end, speech_end = speech_end, barge_started + float(barge_end_offset)
        completed = await self._wait_for_answer(speech_end, settle_s, timeout_s, spoken_is_reply=more_to_say)
        turns: list[TurnResult] = []
        if first_end is not None:
            # the interrupted turn: its tool calls and audio came before the barge-in, its (cut) reply is logged
            # once LiveKit notices the interruption, i.e. before the barge-in utterance ends
            turns.append(self._collect(first_end, barge_started, text_until=speech_end))
        last = self._collect(speech_end, time.time())
        if not completed:
            last.completed = False
            last.errors.append(f"no complete answer within {timeout_s:.0f} s")
        turns.append(last)
        return turns

    async def _wait_until_audible(self, after: float, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for seg in self.speaker.segments:
                if seg.first_frame_at > after:
                    at = first_audible_at(seg, self.sample_rate)
                    if at is not None:
                        return at
            await asyncio.sleep(0.05)
        return None

    async def _wait_for_answer(
        self, speech_end: float, settle_s: float, timeout_s: float, *, spoken_is_reply: bool = False
    ) -> bool:
        """`spoken_is_reply`: agent audio counts as the reply (a question asked in the middle of a tool call, such
        as a voice form's, is no chat message); otherwise only the agent's chat message does (the answer)."""
        deadline = time.monotonic() + max(0.0, speech_end - time.time()) + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            replied = any(t > speech_end for t, _ in self.agent_items) or (
                spoken_is_reply and any(s.first_frame_at > speech_end for s in self.speaker.segments)
            )
            quiet_for = time.time() - self.last_change
            if replied and self.state == "listening" and not self.speaker.playing and quiet_for > settle_s:
                return True
        return False

    def _collect(self, speech_end: float, until: float, *, text_until: float | None = None) -> TurnResult:
        """Everything between the end of this turn's speech and `until`, with timings from `speech_end`."""
        r = TurnResult(speech_end=speech_end)
        text_end = until if text_until is None else text_until
        # the STT's final transcripts: also what it heard while a tool listened for an answer (a voice form),
        # which never becomes a chat message
        heard = [t for at, t in self.finals if speech_end - 1 < at <= until]  # not the barge-in's first words
        r.user_text_heard = heard or [t for at, t in self.user_items if speech_end - 1 < at <= text_end]
        r.agent_text = [t for at, t in self.agent_items if speech_end < at <= text_end + 0.5]
        # an interrupted turn's calls may finish while the user is still barging in: they are still its calls
        r.tool_calls = [c for c in self.tool_calls if speech_end < c.finished_at <= text_end]
        r.errors = list(self.errors)
        segments = [s for s in self.speaker.segments if speech_end < s.first_frame_at <= until]
        marks: dict[str, float] = {}
        if finals := [at for at, _ in self.finals if speech_end - 1.0 < at <= until]:
            marks["final_transcript"] = finals[0]
        if firsts := [tok for start, tok in self.llm_starts if start > speech_end - 1.0 and tok <= until]:
            marks["first_llm_token"] = firsts[0]
        if r.tool_calls:
            marks["tool_result"] = r.tool_calls[0].finished_at
        if segments:
            marks["first_audio"] = segments[0].first_frame_at
            audible = [a for a in (first_audible_at(s, self.sample_rate) for s in segments) if a is not None]
            if audible:
                marks["first_audible"] = audible[0]
            answer_from = marks.get("tool_result", speech_end)
            answer = [
                a
                for s in segments
                if s.first_frame_at > answer_from and (a := first_audible_at(s, self.sample_rate)) is not None
            ]
            if answer:
                marks["answer_audible"] = answer[0]
            ends = [s.finished_at for s in segments if s.finished_at is not None]
            if ends:
                marks["agent_done"] = max(ends)
            r.interrupted = any(s.interrupted for s in segments)
            parts = [segment_audio(s, self.sample_rate).samples for s in segments]
            r.agent_audio = MonoAudio(samples=np.concatenate(parts).astype(np.int16), sample_rate=self.sample_rate)
        for key, at in marks.items():
            r.timings[f"{key}_s"] = round(float(at - speech_end), 3)
        return r

    async def aclose(self) -> None:
        self.mic.stop()
        await self.speaker.aclose()


class TalkSession:
    """voxmcp's agent (VoiceAgentRuntime) driven by a script: prepare once, then `turn()` as often as needed.

    `elicit` answers MCP elicitation requests (a scripted user filling the form); without it they are declined.
    """

    def __init__(
        self,
        settings: Settings,
        models: Models,
        *,
        greet: bool = False,
        interruptions: bool = False,
        elicit: ElicitFn | None = None,
    ) -> None:
        self.runtime = VoiceAgentRuntime(settings, models, greet=greet)
        if elicit is not None and self.runtime.hub.handlers.elicit is None:
            # a scripted form-filler only where the runtime doesn't ask the user itself
            self.runtime.hub.handlers.elicit = elicit
        self.greet = greet
        self.interruptions = interruptions
        self.driver: ConversationDriver | None = None
        self.timings: dict[str, float] = {}

    async def __aenter__(self) -> ConversationDriver:
        t0 = time.perf_counter()
        await self.runtime.prepare()
        self.timings.update(self.runtime.timings)
        self.timings["prepare_s"] = round(time.perf_counter() - t0, 3)
        session, agent = self.runtime.new_session(interruptions=self.interruptions)
        rate = int(getattr(self.runtime.models.tts, "sample_rate", 24000))
        self.driver = ConversationDriver(session, agent, output_sample_rate=rate)
        start_s = await self.driver.start(wait_for_greeting_s=30.0 if self.greet else 0.0)
        self.timings["session_start_s"] = round(start_s, 3)
        return self.driver

    async def __aexit__(self, *exc: object) -> None:
        if self.driver is not None:
            await self.driver.aclose()
        await self.runtime.aclose()
