"""A scripted human in a LiveKit room: speaks a WAV, records the agent, collects its transcript and events.

It uses only what a real client would: the `livekit` rtc SDK, a token, the agent's audio track, the
`lk.transcription` text streams, the `lk.agent.state` attribute and the `lk.agent.session` event stream.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import wave
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from livekit.protocol.agent_pb import agent_session as agent_pb

from livekit import api, rtc

logger = logging.getLogger(__name__)

TOPIC_TRANSCRIPTION = "lk.transcription"
TOPIC_SESSION_EVENTS = "lk.agent.session"
ATTRIBUTE_AGENT_STATE = "lk.agent.state"
ATTRIBUTE_SEGMENT_ID = "lk.segment_id"
ATTRIBUTE_FINAL = "lk.transcription_final"
RECORD_RATE = 24000
FRAME_MS = 20
SPEECH_RMS = 300.0  # int16 RMS above which a 10 ms frame counts as sound, not line noise


def mint_token(
    api_key: str,
    api_secret: str,
    *,
    room: str,
    identity: str,
    ttl: timedelta = timedelta(minutes=10),
) -> str:
    """A participant token for one room, like the web token server gives a browser."""
    grants = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True, can_publish_data=True)
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(identity)
        .with_grants(grants)
        .with_ttl(ttl)
        .to_jwt()
    )


@dataclass
class TranscriptSegment:
    identity: str
    segment_id: str
    text: str = ""
    final: bool = False
    first_at: float = 0.0
    last_at: float = 0.0


@dataclass
class ToolCallEvent:
    name: str
    arguments: str
    output: str | None
    is_error: bool
    at: float


@dataclass
class ParticipantTimeline:
    """Monotonic timestamps (time.monotonic()) of what this participant saw."""

    connected_at: float | None = None
    agent_joined_at: float | None = None
    agent_track_at: float | None = None
    first_agent_sound_at: float | None = None
    question_started_at: float | None = None
    question_ended_at: float | None = None
    states: list[tuple[float, str]] = field(default_factory=list)


class TestParticipant:
    """Joins a room as a human would; use as `async with TestParticipant(url, token) as p:`."""

    __test__ = False  # not a pytest class

    def __init__(self, url: str, token: str, *, connect_timeout_s: float = 15.0) -> None:
        self.url = url
        self._token = token
        self._connect_timeout_s = connect_timeout_s
        self.room = rtc.Room()
        self.timeline = ParticipantTimeline()
        self.segments: dict[str, TranscriptSegment] = {}
        self.tool_calls: list[ToolCallEvent] = []
        self.agent: rtc.RemoteParticipant | None = None
        self._frames: list[tuple[float, np.ndarray]] = []
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._source: rtc.AudioSource | None = None
        self._mic_rate = 0

    async def __aenter__(self) -> TestParticipant:
        self.room.on("participant_connected", self._on_participant)
        self.room.on("track_subscribed", self._on_track_subscribed)
        self.room.on("participant_attributes_changed", self._on_attributes_changed)
        self.room.register_text_stream_handler(TOPIC_TRANSCRIPTION, self._on_text_stream)
        self.room.register_byte_stream_handler(TOPIC_SESSION_EVENTS, self._on_byte_stream)
        await asyncio.wait_for(self.room.connect(self.url, self._token), self._connect_timeout_s)
        self.timeline.connected_at = time.monotonic()
        for participant in self.room.remote_participants.values():
            self._on_participant(participant)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.room.disconnect(), 10)

    # ---- events -------------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notify(self) -> None:
        self._changed.set()

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT and self.agent is None:
            self.agent = participant
            self.timeline.agent_joined_at = time.monotonic()
            state = participant.attributes.get(ATTRIBUTE_AGENT_STATE)
            if state:
                self.timeline.states.append((time.monotonic(), state))
            self._notify()

    def _on_attributes_changed(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        if ATTRIBUTE_AGENT_STATE in changed and participant.identity != self.room.local_participant.identity:
            self.timeline.states.append((time.monotonic(), changed[ATTRIBUTE_AGENT_STATE]))
            self._notify()

    def _on_track_subscribed(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO and participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            self.timeline.agent_track_at = time.monotonic()
            self._spawn(self._record(track))
            self._notify()

    async def _record(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=RECORD_RATE, num_channels=1)
        try:
            async for event in stream:
                now = time.monotonic()
                samples = np.frombuffer(event.frame.data, dtype=np.int16).copy()
                self._frames.append((now, samples))
                if self.timeline.first_agent_sound_at is None and _rms(samples) > SPEECH_RMS:
                    self.timeline.first_agent_sound_at = now
                    self._notify()
        finally:
            await stream.aclose()

    def _on_text_stream(self, reader: rtc.TextStreamReader, identity: str) -> None:
        self._spawn(self._read_text(reader, identity))

    async def _read_text(self, reader: rtc.TextStreamReader, identity: str) -> None:
        attrs = reader.info.attributes or {}
        segment_id = attrs.get(ATTRIBUTE_SEGMENT_ID) or reader.info.stream_id
        seg = self.segments.get(segment_id)
        if seg is None:
            seg = self.segments[segment_id] = TranscriptSegment(identity, segment_id, first_at=time.monotonic())
        # a segment arrives either as one delta stream (agent) or as repeated streams each carrying the
        # full text so far (user); either way the text of the latest stream is the segment's text
        parts: list[str] = []
        async for chunk in reader:
            parts.append(chunk)
            seg.text = "".join(parts)
            seg.last_at = time.monotonic()
            self._notify()
        if attrs.get(ATTRIBUTE_FINAL) == "true":
            seg.final = True
        seg.last_at = time.monotonic()
        self._notify()

    def _on_byte_stream(self, reader: rtc.ByteStreamReader, identity: str) -> None:
        self._spawn(self._read_session_event(reader))

    async def _read_session_event(self, reader: rtc.ByteStreamReader) -> None:
        data = b"".join([chunk async for chunk in reader])
        msg = agent_pb.AgentSessionMessage()
        msg.ParseFromString(data)
        if not msg.HasField("event") or not msg.event.HasField("function_tools_executed"):
            return
        executed = msg.event.function_tools_executed
        outputs = {o.call_id: o for o in executed.function_call_outputs}
        for call in executed.function_calls:
            out = outputs.get(call.call_id)
            self.tool_calls.append(
                ToolCallEvent(
                    name=call.name,
                    arguments=call.arguments,
                    output=out.output if out else None,
                    is_error=bool(out and out.is_error),
                    at=time.monotonic(),
                )
            )
        self._notify()

    # ---- waits ---------------------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
        """Wait for `predicate()` to hold, re-checked on every event; TimeoutError names `what`."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    async def wait_for_agent(self, timeout_s: float = 60.0) -> rtc.RemoteParticipant:
        await self.wait_until(lambda: self.agent is not None, timeout_s=timeout_s, what="the agent to join")
        assert self.agent is not None
        return self.agent

    async def wait_for_agent_state(self, state: str, *, after: float = 0.0, timeout_s: float) -> float:
        """Time the agent entered `state` (at or after `after`)."""

        def seen() -> float | None:
            return next((t for t, s in self.timeline.states if s == state and t >= after), None)

        t0 = self.timeline.connected_at or 0.0
        history = lambda: [(round(t - t0, 2), s) for t, s in self.timeline.states]  # noqa: E731
        await self.wait_until(
            lambda: seen() is not None,
            timeout_s=timeout_s,
            what=f"agent state {state!r} after {after - t0:.2f}s (states seen: {history()})",
        )
        found = seen()
        assert found is not None
        return found

    async def wait_for_agent_idle(self, *, after: float, timeout_s: float) -> float:
        """Time the agent went back to listening after having spoken since `after`."""
        spoke = await self.wait_for_agent_state("speaking", after=after, timeout_s=timeout_s)
        return await self.wait_for_agent_state("listening", after=spoke, timeout_s=timeout_s)

    def agent_text(self, *, after: float = 0.0) -> str:
        """The agent's transcript, segment by segment, for segments that began at or after `after`."""
        agent_id = self.agent.identity if self.agent else None
        segs = [s for s in self.segments.values() if s.identity == agent_id and s.first_at >= after]
        return " ".join(s.text.strip() for s in sorted(segs, key=lambda s: s.first_at) if s.text.strip())

    def user_text(self) -> str:
        mine = self.room.local_participant.identity
        segs = [s for s in self.segments.values() if s.identity == mine]
        return " ".join(s.text.strip() for s in sorted(segs, key=lambda s: s.first_at))

    # ---- audio ---------------------------------------------------------------------------------------

    async def publish_microphone(self, sample_rate: int = 48000) -> None:
        self._mic_rate = sample_rate
        self._source = rtc.AudioSource(sample_rate, 1)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self._source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await asyncio.wait_for(self.room.local_participant.publish_track(track, options), 10)

    async def speak_wav(self, path: Path, *, trailing_silence_s: float = 1.5) -> None:
        """Play a WAV into the room in real time (mono 16-bit), then silence so VAD sees the end of speech."""
        if self._source is None:
            raise RuntimeError("call publish_microphone() first")
        samples = _read_wav_mono(path, self._mic_rate)
        silence = np.zeros(int(self._mic_rate * trailing_silence_s), dtype=np.int16)
        self.timeline.question_started_at = time.monotonic()
        # the question ends with its last sound, not with the file: the WAV's own trailing silence is
        # already end-of-turn silence, and a fast agent answers before the file is over
        await self._play(samples, mark_after_sample=_last_sound_sample(samples, self._mic_rate))
        await self._play(silence)

    async def play_silence(self, seconds: float) -> None:
        if self._source is None:
            raise RuntimeError("call publish_microphone() first")
        await self._play(np.zeros(int(self._mic_rate * seconds), dtype=np.int16))

    async def _play(self, samples: np.ndarray, *, mark_after_sample: int | None = None) -> None:
        """Play in real time; with `mark_after_sample`, the moment that sample has been sent is the question's end."""
        assert self._source is not None
        step = self._mic_rate * FRAME_MS // 1000
        start = time.monotonic()
        for i, offset in enumerate(range(0, len(samples), step)):
            chunk = samples[offset : offset + step]
            if len(chunk) < step:
                chunk = np.pad(chunk, (0, step - len(chunk)))
            frame = rtc.AudioFrame(chunk.tobytes(), self._mic_rate, 1, step)
            await self._source.capture_frame(frame)
            if mark_after_sample is not None and offset + step > mark_after_sample:
                self.timeline.question_ended_at = time.monotonic()
                mark_after_sample = None
            # real-time pacing: never run ahead of the wall clock by more than one frame
            ahead = start + (i + 1) * FRAME_MS / 1000 - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)

    def recording(self, *, after: float = 0.0) -> np.ndarray:
        """The agent's audio (int16, RECORD_RATE) received at or after `after`."""
        chunks = [s for t, s in self._frames if t >= after]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def first_sound_after(self, after: float) -> float | None:
        return next((t for t, s in self._frames if t >= after and _rms(s) > SPEECH_RMS), None)

    def save_recording(self, path: Path, *, after: float = 0.0) -> Path:
        samples = self.recording(after=after)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RECORD_RATE)
            out.writeframes(samples.tobytes())
        return path


def _last_sound_sample(samples: np.ndarray, rate: int) -> int:
    """Index of the end of the last 10 ms window that is sound (RMS above SPEECH_RMS); 0 for silence."""
    window = max(1, rate // 100)
    for end in range(len(samples), 0, -window):
        if _rms(samples[max(0, end - window) : end]) > SPEECH_RMS:
            return end
    return 0


def _rms(samples: np.ndarray) -> float:
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def _read_wav_mono(path: Path, rate: int) -> np.ndarray:
    """A 16-bit PCM WAV as mono int16 at `rate` (linear resampling is enough for a test voice)."""
    with wave.open(str(path), "rb") as src:
        if src.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * src.getsampwidth()}-bit")
        channels, src_rate = src.getnchannels(), src.getframerate()
        data = np.frombuffer(src.readframes(src.getnframes()), dtype=np.int16)
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if src_rate != rate and data.size:
        positions = np.linspace(0, data.size - 1, int(data.size * rate / src_rate))
        data = np.interp(positions, np.arange(data.size), data.astype(np.float64)).astype(np.int16)
    return data
