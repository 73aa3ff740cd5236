"""Scripted conversations with a real AgentSession: the engine of `voxmcp eval` and `voxmcp bench`.

`ScriptedMicrophone` hears silence plus the utterances queued with `play()`, across turns; `ConversationDriver`
plays a synthetic user's turns into any AgentSession (voxmcp's or the plain recipe's) and records what the agent
said and called, timed from the end of each utterance; `TalkSession` is voxmcp's runtime under such a driver.
This is product code (two commands run it), kept out of `voxmcp talk`, which plays one recording.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
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
)
from livekit.agents.llm import ChatMessage
from livekit.agents.metrics import LLMMetrics
from livekit.agents.voice import io

from livekit import rtc
from voxmcp.app import Models, VoiceAgentRuntime
from voxmcp.audio.file_io import RecordingAudioOutput
from voxmcp.audio.speech import speech_bounds
from voxmcp.audio.wav import MonoAudio, resample
from voxmcp.config import Settings
from voxmcp.mcp.interaction import ElicitFn
from voxmcp.talk import ToolCallRecord, first_audible_at, segment_audio


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

    def __init__(
        self, session: AgentSession[Any], agent: Agent, *, output_sample_rate: int = 24000, speech: bool = True
    ) -> None:
        """`speech=False`: a typed conversation (`type_turn`), answered in text only: no TTS, nothing to hear."""
        self.session = session
        self.agent = agent
        self.mic = ScriptedMicrophone(sample_rate=16000)
        self.speaker = RecordingAudioOutput(sample_rate=output_sample_rate)
        self.sample_rate = output_sample_rate
        session.input.audio = self.mic if speech else None
        session.output.audio = self.speaker if speech else None
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

    async def type_turn(self, text: str, *, settle_s: float = 0.5, timeout_s: float = 90.0) -> TurnResult:
        """Type `text` as the user's turn (LiveKit's text input: no speech, no STT) and wait (bounded) until the agent
        has answered and gone quiet. Timings run from the moment it was typed."""
        if not self._started:
            raise RuntimeError("start() the conversation before the first turn")
        typed_at = time.time()
        self.session.generate_reply(user_input=text)
        completed = await self._wait_for_answer(typed_at, settle_s, timeout_s)
        result = self._collect(typed_at, time.time())
        if not completed:
            result.completed = False
            result.errors.append(f"no complete answer within {timeout_s:.0f} s")
        return result

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
        speech: bool = True,
    ) -> None:
        self.runtime = VoiceAgentRuntime(settings, models, greet=greet)
        self.speech = speech
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
        self.driver = ConversationDriver(session, agent, output_sample_rate=rate, speech=self.speech)
        start_s = await self.driver.start(wait_for_greeting_s=30.0 if self.greet else 0.0)
        self.timings["session_start_s"] = round(start_s, 3)
        return self.driver

    async def __aexit__(self, *exc: object) -> None:
        if self.driver is not None:
            await self.driver.aclose()
        await self.runtime.aclose()
